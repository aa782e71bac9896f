/**
 * Dataset generator (SPEC.md "colour key-value pairs"): seeded, byte-identical on every machine.
 */
import { Rng } from "../rng";
import { PALETTE, PATTERNS, QUADRANTS } from "./palette";

export interface DatasetOptions {
  /** Number of images (SPEC: 2048). */
  size: number;
  /** Seed of the generator (SPEC default 0). */
  seed: number;
}

export const DEFAULT_DATASET: DatasetOptions = { size: 2048, seed: 0 };

export interface Dataset {
  options: DatasetOptions;
  /** Pattern type (0..2) of each image, [N]. */
  patterns: Uint8Array;
  /** Chosen pair (0 or 1 within the pattern) of each quadrant, [N, 4]. */
  pairs: Uint8Array;
  /** Colour id of each pixel, [N, 4, 4] row-major. */
  colours: Uint8Array;
}

/** Draw the dataset: per image a pattern, then per quadrant one of the pattern's two pairs. */
export function generateDataset(options: DatasetOptions = DEFAULT_DATASET): Dataset {
  const { size, seed } = options;
  if (!Number.isInteger(size) || size < 1) throw new Error(`dataset size must be a positive integer, got ${size}`);
  const rng = new Rng(seed).split("dataset");
  const patterns = new Uint8Array(size);
  const pairs = new Uint8Array(size * QUADRANTS);
  const colours = new Uint8Array(size * 16);
  for (let i = 0; i < size; i++) {
    const p = rng.int(PATTERNS.length);
    patterns[i] = p;
    for (let q = 0; q < QUADRANTS; q++) {
      const choice = rng.int(2);
      pairs[i * 4 + q] = choice;
      const [key, value] = PATTERNS[p][choice];
      const row = 2 * (q >> 1);
      const col = 2 * (q & 1);
      for (let dy = 0; dy < 2; dy++) {
        colours[i * 16 + (row + dy) * 4 + col] = key;
        colours[i * 16 + (row + dy) * 4 + col + 1] = value;
      }
    }
  }
  return { options: { ...options }, patterns, pairs, colours };
}

/** Images as NHWC float32 [N, 4, 4, 3], in [0, 1] or, with `scaled`, in [-1, 1] (2x - 1). */
export function datasetImages(ds: Dataset, scaled = true): Float32Array {
  const n = ds.patterns.length;
  const out = new Float32Array(n * 48);
  for (let i = 0; i < n * 16; i++) {
    const rgb = PALETTE[ds.colours[i]];
    for (let c = 0; c < 3; c++) out[i * 3 + c] = scaled ? 2 * rgb[c] - 1 : rgb[c];
  }
  return out;
}

/** A canonical key for an image given by its 16 pixel colour ids. */
export function imageKey(colours: ArrayLike<number>, offset = 0): string {
  let s = "";
  for (let j = 0; j < 16; j++) s += colours[offset + j];
  return s;
}

export interface Census {
  images: number;
  /** Distinct images that appear (at most 3 x 2^4 = 48). */
  distinct: number;
  possible: number;
  /** Count per distinct image key, most frequent first. */
  counts: { key: string; pattern: number; count: number }[];
  perPattern: number[];
}

/** How many of the 48 possible images appear, and how often. */
export function census(ds: Dataset): Census {
  const counts = new Map<string, { pattern: number; count: number }>();
  const perPattern = [0, 0, 0];
  for (let i = 0; i < ds.patterns.length; i++) {
    const key = imageKey(ds.colours, i * 16);
    const e = counts.get(key) ?? { pattern: ds.patterns[i], count: 0 };
    e.count++;
    counts.set(key, e);
    perPattern[ds.patterns[i]]++;
  }
  const list = [...counts.entries()].map(([key, e]) => ({ key, ...e })).sort((a, b) => b.count - a.count || (a.key < b.key ? -1 : 1));
  return { images: ds.patterns.length, distinct: counts.size, possible: 48, counts: list, perPattern };
}

/** Every image the pattern rule allows (3 patterns x 2^4 quadrant choices), as colour keys. */
export function allTrainingImageKeys(): Set<string> {
  const keys = new Set<string>();
  for (let p = 0; p < 3; p++) {
    for (let m = 0; m < 16; m++) {
      const c = new Uint8Array(16);
      for (let q = 0; q < 4; q++) {
        const [key, value] = PATTERNS[p][(m >> q) & 1];
        const row = 2 * (q >> 1);
        const col = 2 * (q & 1);
        for (let dy = 0; dy < 2; dy++) {
          c[(row + dy) * 4 + col] = key;
          c[(row + dy) * 4 + col + 1] = value;
        }
      }
      keys.add(imageKey(c));
    }
  }
  return keys;
}

/** The set of distinct images in a dataset, as colour keys (for the `novel` metric). */
export function datasetImageKeys(ds: Dataset): Set<string> {
  const keys = new Set<string>();
  for (let i = 0; i < ds.patterns.length; i++) keys.add(imageKey(ds.colours, i * 16));
  return keys;
}
