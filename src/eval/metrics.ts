/**
 * Consistency metrics of SPEC.md "Evaluation". Samples are decoded to the nearest palette colour
 * per pixel; a quadrant's key is its left column, its value its right column.
 */
import { imageKey } from "../data/dataset";
import { pixelIndex } from "../data/layout";
import { PAIR_PATTERN, PALETTE } from "../data/palette";

/** Per-image verdicts under every rule. */
export interface ImageVerdict {
  /** Quadrants that are one of the six valid pairs (0..4). */
  validQuadrants: number;
  strict: boolean;
  functional: boolean;
  bijective: boolean;
  functionalLoose: boolean;
}

export const METRIC_NAMES = ["strict", "functional", "bijective", "functionalLoose", "validQuadrants", "novel", "novelBijective"] as const;
export type MetricName = (typeof METRIC_NAMES)[number];
/** Fractions in [0, 1] for one set of samples. */
export type MetricValues = Record<MetricName, number>;

/** Colour id of a pixel with a non-finite channel: no colour, so its image fails every rule. */
export const NO_COLOUR = 255;

/**
 * Nearest palette colour of every pixel: tokens [N, 4, 12] in [-1, 1] -> colour ids [N, 16]
 * (row-major pixels); a pixel with a NaN or infinite channel gets `NO_COLOUR`.
 */
export function decodeColours(tokens: Float32Array): Uint8Array {
  const n = tokens.length / 48;
  const out = new Uint8Array(n * 16);
  for (let i = 0; i < n; i++) {
    for (let q = 0; q < 4; q++) {
      for (let px = 0; px < 4; px++) {
        const base = i * 48 + q * 12 + px * 3;
        let best: number = NO_COLOUR;
        let bestD = Infinity;
        for (let c = 0; c < PALETTE.length; c++) {
          let d = 0;
          for (let ch = 0; ch < 3; ch++) {
            const diff = (tokens[base + ch] + 1) / 2 - PALETTE[c][ch];
            d += diff * diff;
          }
          if (d < bestD) {
            bestD = d;
            best = c;
          }
        }
        out[i * 16 + pixelIndex(q, px * 3) / 3] = best;
      }
    }
  }
  return out;
}

const FAILED: ImageVerdict = { validQuadrants: 0, strict: false, functional: false, bijective: false, functionalLoose: false };

/** Judge one decoded image (16 colour ids, row-major) under every rule; an image with a `NO_COLOUR` pixel fails all. */
export function judgeImage(colours: ArrayLike<number>, offset = 0): ImageVerdict {
  for (let i = 0; i < 16; i++) if (colours[offset + i] === NO_COLOUR) return FAILED;
  const keys = [0, 0, 0, 0];
  const values = [0, 0, 0, 0];
  let wellFormed = 0;
  let valid = 0;
  const patterns = new Set<number>();
  for (let q = 0; q < 4; q++) {
    const r = 2 * (q >> 1);
    const c = 2 * (q & 1);
    const k0 = colours[offset + r * 4 + c];
    const k1 = colours[offset + (r + 1) * 4 + c];
    const v0 = colours[offset + r * 4 + c + 1];
    const v1 = colours[offset + (r + 1) * 4 + c + 1];
    keys[q] = k0;
    values[q] = v0;
    if (k0 === k1 && v0 === v1 && k0 !== v0) {
      wellFormed++;
      const p = PAIR_PATTERN[k0 * 4 + v0];
      if (p >= 0) {
        valid++;
        patterns.add(p);
      }
    }
  }
  let keyToOneValue = true;
  let valueToOneKey = true;
  for (let a = 0; a < 4; a++) {
    for (let b = a + 1; b < 4; b++) {
      if (keys[a] === keys[b] && values[a] !== values[b]) keyToOneValue = false;
      if (values[a] === values[b] && keys[a] !== keys[b]) valueToOneKey = false;
    }
  }
  const allValid = valid === 4;
  const functional = allValid && keyToOneValue;
  return {
    validQuadrants: valid,
    strict: allValid && patterns.size === 1,
    functional,
    bijective: functional && valueToOneKey,
    functionalLoose: wellFormed === 4 && keyToOneValue,
  };
}

/**
 * All metrics for decoded images [N, 16]. `trainingKeys` is the set of training images
 * (`datasetImageKeys`); `novel` counts functional images outside it.
 */
export function evaluateColours(colours: Uint8Array, trainingKeys: Set<string>): MetricValues {
  const n = colours.length / 16;
  if (n === 0) throw new Error("cannot evaluate an empty set of samples");
  const sum: MetricValues = { strict: 0, functional: 0, bijective: 0, functionalLoose: 0, validQuadrants: 0, novel: 0, novelBijective: 0 };
  for (let i = 0; i < n; i++) {
    const v = judgeImage(colours, i * 16);
    sum.strict += +v.strict;
    sum.functional += +v.functional;
    sum.bijective += +v.bijective;
    sum.functionalLoose += +v.functionalLoose;
    sum.validQuadrants += v.validQuadrants / 4;
    if (v.functional && !trainingKeys.has(imageKey(colours, i * 16))) {
      sum.novel++;
      if (v.bijective) sum.novelBijective++;
    }
  }
  for (const k of METRIC_NAMES) sum[k] /= n;
  return sum;
}

/** Decode and evaluate samples given as tokens [N, 4, 12] in [-1, 1]. */
export function evaluateTokens(tokens: Float32Array, trainingKeys: Set<string>): MetricValues {
  return evaluateColours(decodeColours(tokens), trainingKeys);
}
