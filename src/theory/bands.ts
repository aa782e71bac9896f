/**
 * r^2 of eps on the forward process, per timestep band, with every predictor side by side.
 *
 * Why bands. The loss-weighted r^2 pooled over t (weights w_t = 1 - aBar_t, as in training) is
 * dominated by large t, where x_t is nearly pure noise and every predictor, even eps = sqrt(1 - aBar)
 * x_t, is close to the truth; so it barely separates predictors. Per band, r^2 shows where they
 * differ, and `weightShare` shows how much of the pooled number each band carries.
 *
 * One pass draws n training images x0 and one z ~ N(0, I) per image (fixed over t), forms
 * x_t = sqrt(aBar_t) x0 + sqrt(1 - aBar_t) z at every t, and accumulates, per band:
 *  - `vsNetwork`:  r^2 of each predictor's eps with the network's eps as reference;
 *  - `vsNoise`:    r^2 of each predictor's (and the network's) eps with the true noise z as reference
 *                  (how well each denoises: the training objective, unweighted within the band);
 *  - `pairwise`:   r^2 of predictor B with predictor A as reference (machine vs machine: how far apart
 *                  two predictors are at all; a network cannot separate two predictors in a band where
 *                  they agree with each other).
 * r^2 over a band is 1 - SSE / SST with both sums over the band's timesteps, samples and values (SST
 * about the reference's mean at each t). Pooled values use the training weights w_t.
 */
import { Schedule } from "../ddpm/schedule";
import { Rng } from "../rng";
import { FlatEps, ScoreMachine } from "./score-machine";

/** Timesteps lo <= t < hi. */
export interface Band {
  lo: number;
  hi: number;
}

/** Default band edges as fractions of T: [0, 50), [50, 150), [150, 300), [300, 500), [500, 1000) at T = 1000. */
export const DEFAULT_BAND_EDGES: readonly number[] = [0, 0.05, 0.15, 0.3, 0.5, 1];

/** Bands from edges given as fractions of T (first 0, last 1, increasing). */
export function bandsFor(T: number, edges: readonly number[] = DEFAULT_BAND_EDGES): Band[] {
  if (edges.length < 2 || edges[0] !== 0 || edges[edges.length - 1] !== 1 || edges.some((e, i) => i > 0 && !(e > edges[i - 1]))) {
    throw new Error(`band edges must increase from 0 to 1, got [${edges.join(", ")}]`);
  }
  const cut = edges.map((e) => Math.round(e * T));
  if (cut.some((c, i) => i > 0 && c <= cut[i - 1])) throw new Error(`band edges [${edges.join(", ")}] give an empty band at T = ${T}`);
  return cut.slice(0, -1).map((lo, i) => ({ lo, hi: cut[i + 1] }));
}

/** Banded and pooled r^2 of several predictors against one reference. */
export interface BandedR2 {
  /** r^2 per band, per predictor name. */
  r2: Record<string, number[]>;
  /** Loss-weighted r^2 over all t, per predictor. */
  pooled: Record<string, number>;
  /** Share of the loss-weighted SST (the pooled r^2's denominator) in each band. */
  weightShare: number[];
}

export interface ForwardBands {
  bands: Band[];
  n: number;
  /** Predictors vs the network (null when no network was given). */
  vsNetwork: BandedR2 | null;
  /** Predictors (and "network") vs the true noise. */
  vsNoise: BandedR2;
  /** pairwise[A].r2[B]: predictor B with predictor A as reference. */
  pairwise: Record<string, BandedR2>;
}

/** Running sums for r^2 of `other` against `ref` at one t. */
interface Sums { n: number; sa: number; saa: number; sse: number }
const zero = (): Sums => ({ n: 0, sa: 0, saa: 0, sse: 0 });

function add(s: Sums, ref: ArrayLike<number>, other: ArrayLike<number>): void {
  for (let i = 0; i < ref.length; i++) {
    const a = ref[i], d = a - other[i];
    s.sa += a; s.saa += a * a; s.sse += d * d;
  }
  s.n += ref.length;
}

const sst = (s: Sums) => s.saa - (s.sa * s.sa) / s.n;

/** Band and pooled r^2 from per-t sums [T]. */
function summarise(perT: Sums[], bands: Band[], w: Float64Array): { r2: number[]; pooled: number; share: number[] } {
  const r2 = bands.map(({ lo, hi }) => {
    let e = 0, v = 0;
    for (let t = lo; t < hi; t++) { e += perT[t].sse; v += sst(perT[t]); }
    return 1 - e / v;
  });
  let e = 0, v = 0;
  const bandV = bands.map(() => 0);
  perT.forEach((s, t) => {
    e += w[t] * s.sse;
    v += w[t] * sst(s);
    const b = bands.findIndex((x) => t >= x.lo && t < x.hi);
    bandV[b] += w[t] * sst(s);
  });
  return { r2, pooled: 1 - e / v, share: bandV.map((x) => x / v) };
}

function banded(sums: Record<string, Sums[]>, bands: Band[], w: Float64Array): BandedR2 {
  const r2: Record<string, number[]> = {}, pooled: Record<string, number> = {};
  let weightShare: number[] = [];
  for (const [name, perT] of Object.entries(sums)) {
    const s = summarise(perT, bands, w);
    r2[name] = s.r2;
    pooled[name] = s.pooled;
    weightShare = s.share; // the reference's SST: the same for every predictor
  }
  return { r2, pooled, weightShare };
}

/**
 * Banded r^2 on the forward process of `tokens` (training tokens [N, 4, 12]) for `predictors`, against
 * `model` (if given), against the true noise, and pairwise among `pairwiseRefs` (default: every
 * predictor as reference). The network's name in `vsNoise` is "network".
 */
export function forwardBands(o: {
  model: FlatEps | null; predictors: readonly ScoreMachine[]; schedule: Schedule; tokens: ArrayLike<number>;
  n: number; rng: Rng; bands: Band[]; pairwiseRefs?: readonly string[]; onStep?: (done: number, total: number) => void;
}): ForwardBands {
  const { model, predictors, schedule: s, tokens, n, rng, bands } = o;
  const T = s.options.steps;
  if (bands.length === 0 || bands[0].lo !== 0 || bands[bands.length - 1].hi !== T || bands.some((b, i) => i > 0 && b.lo !== bands[i - 1].hi)) {
    throw new Error(`bands must tile 0..${T}, got ${JSON.stringify(bands)}`);
  }
  const names = predictors.map((p) => p.name as string);
  const refs = o.pairwiseRefs ?? names;
  for (const r of refs) if (!names.includes(r)) throw new Error(`pairwise reference '${r}' is not among the predictors (${names.join(", ")})`);
  // 1. the forward data: x0 from the training set, one z per image
  const N = tokens.length / 48;
  const x0 = new Float64Array(n * 48), z = new Float64Array(n * 48);
  for (let b = 0; b < n; b++) {
    const i = rng.int(N);
    for (let j = 0; j < 48; j++) { x0[b * 48 + j] = tokens[i * 48 + j]; z[b * 48 + j] = rng.normal(); }
  }
  const perT = () => Array.from({ length: T }, zero);
  const vsNet: Record<string, Sums[]> = {};
  const vsNoise: Record<string, Sums[]> = {};
  const pair: Record<string, Record<string, Sums[]>> = {};
  for (const a of names) {
    if (model) vsNet[a] = perT();
    vsNoise[a] = perT();
  }
  if (model) vsNoise.network = perT();
  for (const a of refs) {
    pair[a] = {};
    for (const b of names) if (b !== a) pair[a][b] = perT();
  }
  // 2. every t: all predictors (and the network) on the same x_t
  const xt = new Float32Array(n * 48);
  for (let t = 0; t < T; t++) {
    const a = s.sqrtAlphaBars[t], sg = s.sqrtOneMinusAlphaBars[t];
    for (let j = 0; j < xt.length; j++) xt[j] = a * x0[j] + sg * z[j];
    const eps: Record<string, ArrayLike<number>> = {};
    for (const p of predictors) eps[p.name] = p.eps(xt, t);
    if (model) {
      const net = model(xt, t);
      for (const p of names) add(vsNet[p][t], net, eps[p]);
      add(vsNoise.network[t], z, net);
    }
    for (const p of names) add(vsNoise[p][t], z, eps[p]);
    for (const r of refs) for (const b of names) if (b !== r) add(pair[r][b][t], eps[r], eps[b]);
    o.onStep?.(t + 1, T);
  }
  const w = s.lossWeights;
  return {
    bands, n,
    vsNetwork: model ? banded(vsNet, bands, w) : null,
    vsNoise: banded(vsNoise, bands, w),
    pairwise: Object.fromEntries(refs.map((r) => [r, banded(pair[r], bands, w)])),
  };
}
