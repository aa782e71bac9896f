/**
 * Finite toy problems for checking the paper's stationary conditions exactly: a patch alphabet of
 * K values, images of P patch positions, a discrete image distribution pi (so E_phi is a finite
 * sum) and a fixed target "score" s[phi](x) in R^d per (image, position). With g a lookup table
 * (one d-vector per patch value), the functional derivative dL/dg(Phi) of the paper (Eq. 3, 14)
 * becomes an ordinary gradient with respect to row Phi of the table, and delta(phi_x - Phi)
 * becomes the indicator [phi_x == Phi].
 */
import { Rng } from "../rng";

/** A discrete distribution over images made of P patches with values in [0, K). */
export interface PatchDistribution {
  /** Alphabet size K (number of distinct patch values Phi). */
  nValues: number;
  /** Patch positions per image P (the x, y of the paper). */
  nPositions: number;
  /** images[i][x] = patch value phi_x of image i. */
  images: number[][];
  /** pi(image i); positive, sums to 1. */
  probs: Float64Array;
}

/** A toy score-matching problem: a distribution and one target s[phi](x) per image. */
export interface ToyProblem {
  dist: PatchDistribution;
  /** Embedding dimension d. */
  dim: number;
  /** scores[i] = s[phi_i] as a flat [P, d] array. */
  scores: Float64Array[];
}

function allImages(K: number, P: number): number[][] {
  const out: number[][] = [];
  const n = K ** P;
  for (let c = 0; c < n; c++) {
    const img: number[] = [];
    for (let x = 0, r = c; x < P; x++, r = Math.floor(r / K)) img.push(r % K);
    out.push(img);
  }
  return out;
}

function normalise(w: Float64Array): Float64Array {
  let s = 0;
  for (const v of w) s += v;
  if (!(s > 0)) throw new Error(`cannot normalise weights with sum ${s}`);
  return w.map((v) => v / s);
}

/**
 * All K^P images with log-normal weights exp(spread * N(0,1)): a generic distribution in which
 * patches are correlated (pi does not factorise over positions).
 */
export function correlatedDistribution(rng: Rng, K: number, P: number, spread = 1.5): PatchDistribution {
  const images = allImages(K, P);
  const w = new Float64Array(images.length).map(() => Math.exp(spread * rng.normal()));
  return { nValues: K, nPositions: P, images, probs: normalise(w) };
}

/** Patches i.i.d. across positions with the given marginal over K values (patch independence). */
export function independentDistribution(marginal: readonly number[], P: number): PatchDistribution {
  const K = marginal.length;
  if (marginal.some((p) => !(p > 0))) throw new Error(`marginal must be positive, got ${marginal}`);
  const m = normalise(Float64Array.from(marginal));
  const images = allImages(K, P);
  const w = new Float64Array(images.map((img) => img.reduce((acc, v) => acc * m[v], 1)));
  return { nValues: K, nPositions: P, images, probs: normalise(w) };
}

/**
 * The SPEC dataset at patch level: patch value = one of the 6 valid (key, value) colour pairs,
 * numbered so that pattern type t owns values 2t and 2t+1; 4 quadrants. An image draws a pattern
 * uniformly, then each quadrant one of that pattern's two pairs: 3 * 2^4 = 48 images, equally likely.
 * Knowing one quadrant fixes the pattern, so the other quadrants are strongly dependent on it.
 */
export function pairPatternDistribution(): PatchDistribution {
  const images: number[][] = [];
  for (let t = 0; t < 3; t++) {
    for (let c = 0; c < 16; c++) images.push([0, 1, 2, 3].map((q) => 2 * t + ((c >> q) & 1)));
  }
  return { nValues: 6, nPositions: 4, images, probs: new Float64Array(48).fill(1 / 48) };
}

/** pi(phi_x = Phi) for every Phi: the marginal of position x. */
export function positionMarginal(dist: PatchDistribution, x: number): Float64Array {
  const m = new Float64Array(dist.nValues);
  dist.images.forEach((img, i) => (m[img[x]] += dist.probs[i]));
  return m;
}

/** Options for `randomScores`. */
export interface ScoreOptions {
  /** Subtract E_pi[s(x)] at every position x, so the scores have mean zero (as true scores do). */
  centre: boolean;
  /** Constant added to every component after centring (0 keeps them centred). */
  offset: number;
}

/** Random targets s[phi](x) ~ N(0, 1) per (image, position, component), optionally centred. */
export function randomScores(rng: Rng, dist: PatchDistribution, dim: number, opts: ScoreOptions): Float64Array[] {
  const P = dist.nPositions;
  const scores = dist.images.map(() => new Float64Array(P * dim).map(() => rng.normal()));
  if (opts.centre) {
    const mean = new Float64Array(P * dim);
    scores.forEach((s, i) => s.forEach((v, j) => (mean[j] += dist.probs[i] * v)));
    for (const s of scores) for (let j = 0; j < s.length; j++) s[j] -= mean[j];
  }
  for (const s of scores) for (let j = 0; j < s.length; j++) s[j] += opts.offset;
  return scores;
}

/** Random lookup table g: [K, d] (flat, row Phi = g(Phi)), entries N(0, std^2). */
export function randomTable(rng: Rng, K: number, dim: number, std = 1): Float64Array {
  return new Float64Array(K * dim).map(() => std * rng.normal());
}
