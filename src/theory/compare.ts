/**
 * Machines vs trained networks (Kamb & Ganguli 2024, Sec. 5): along the network's own sampling
 * trajectories, how much of the network's eps does a machine explain at each timestep (r^2), and
 * how close are the final images that network and machine produce from the same noise (Pearson r
 * per sample, median over samples).
 *
 * r^2 at timestep t is the coefficient of determination with the network as reference, pooled over
 * samples, quadrants and features:  r^2 = 1 - sum (eps_net - eps_mach)^2 / sum (eps_net - mean eps_net)^2.
 * It is 1 only for identical outputs and can be negative. The squared Pearson correlation rho^2 is
 * reported beside it (it ignores offsets and scale).
 */
import * as tf from "@tensorflow/tfjs-core";
import { EpsModel } from "../ddpm/sampler";
import { kernelStepTable, SamplerForm, samplerForm } from "../ddpm/sampler-forms";
import { Schedule } from "../ddpm/schedule";
import { WasmNoise } from "../kernels/machine-kernel";
import { Rng } from "../rng";
import { FlatEps, ScoreMachine } from "./score-machine";

export type { FlatEps } from "./score-machine";

/** A tfjs noise predictor as a FlatEps (tokens in, eps out, no tensors at the caller). */
export function flatFromTensorModel(model: EpsModel): FlatEps {
  return (x, t) => {
    const xt = tf.tensor3d(x, [x.length / 48, 4, 12]);
    const e = model(xt, t);
    const out = e.dataSync().slice() as Float32Array;
    xt.dispose();
    e.dispose();
    return out;
  };
}

/** Per-timestep agreement of machines with a network; arrays indexed by timestep t = 0 .. T-1. */
export interface TrajectoryComparison {
  /** Number of trajectories (samples). */
  n: number;
  /** Coefficient of determination per machine name, [T]. */
  r2: Record<string, number[]>;
  /** Squared Pearson correlation per machine name, [T]. */
  rho2: Record<string, number[]>;
  /** r^2 of the clean-image estimates x0 = (x_t - sqrt(1 - aBar) eps) / sqrt(aBar), per machine, [T]. */
  r2X0: Record<string, number[]>;
  /** One number per machine: 1 - sum_t w_t SSE_t / sum_t w_t SST_t with the training loss weights w_t = 1 - aBar_t. */
  r2Pooled: Record<string, number>;
  /** The network's final samples, tokens [n, 4, 12]; the fused sampler's chain for the same seed and n. */
  finalTokens: Float32Array;
}

interface Sums {
  n: number;
  sa: number; saa: number; sb: number; sbb: number; sab: number; sse: number;
}

const zeroSums = (): Sums => ({ n: 0, sa: 0, saa: 0, sb: 0, sbb: 0, sab: 0, sse: 0 });

function accumulate(s: Sums, ref: ArrayLike<number>, other: ArrayLike<number>): void {
  for (let i = 0; i < ref.length; i++) {
    const a = ref[i];
    const b = other[i];
    s.sa += a; s.saa += a * a; s.sb += b; s.sbb += b * b; s.sab += a * b; s.sse += (a - b) * (a - b);
  }
  s.n += ref.length;
}

function r2Of(s: Sums): number {
  const sst = s.saa - (s.sa * s.sa) / s.n;
  return 1 - s.sse / sst;
}

/** Loss-weighted r^2 over all timesteps: 1 - sum_t w_t SSE_t / sum_t w_t SST_t, w_t = 1 - aBar_t (SPEC loss weight). */
function pooledR2(perT: Sums[], s: Schedule): number {
  let sse = 0, sst = 0;
  perT.forEach((x, t) => {
    sse += s.lossWeights[t] * x.sse;
    sst += s.lossWeights[t] * (x.saa - (x.sa * x.sa) / x.n);
  });
  return 1 - sse / sst;
}

function rho2Of(s: Sums): number {
  const cov = s.sab - (s.sa * s.sb) / s.n;
  const va = s.saa - (s.sa * s.sa) / s.n;
  const vb = s.sbb - (s.sb * s.sb) / s.n;
  return (cov * cov) / (va * vb);
}

export interface TrajectoryOptions {
  n: number;
  /** Seeds the fused samplers' noise ("wasm" mode): the chain is the one `wasmSampleTokens` / a kernel machine's `sample` draws from this seed with batch n. */
  rng: Rng;
  form?: SamplerForm;
  onStep?: (done: number, total: number) => void;
}

/**
 * One reverse step in float32, operation for operation as the fused kernels do it (so that with the
 * same eps and noise the chain is bit for bit the fused sampler's): coefficient row c [8] of
 * `kernelStepTable`, x and eps tokens, z the step's noise (unused at sigma = 0).
 */
export function kernelStep(c: Float32Array, rule: SamplerForm["kernelRule"], x: Float32Array, eps: ArrayLike<number>, z: Float32Array): Float32Array {
  const f = Math.fround;
  const out = new Float32Array(x.length);
  const [c1, c2, sigma, ka, kb, kx0, kxt] = c;
  for (let i = 0; i < x.length; i++) {
    if (rule === "clamp-x0") {
      const x0 = Math.max(Math.min(f(f(x[i] - f(eps[i] * kb)) * ka), 1), -1);
      let next = f(f(x0 * kx0) + f(x[i] * kxt));
      if (sigma !== 0) next = f(next + f(z[i] * sigma));
      out[i] = next;
    } else {
      const mean = f(f(x[i] - f(eps[i] * c2)) * c1);
      out[i] = sigma !== 0 ? f(mean + f(z[i] * sigma)) : mean;
    }
  }
  return out;
}

/**
 * Sample with `model` as the fused sampler does from `rng` (the same noise, `WasmNoise`; the same
 * float32 step) and, at every step, evaluate every machine on the network's own x_t and compare its
 * eps with the network's.
 */
export function compareAlongTrajectory(model: FlatEps, machines: readonly ScoreMachine[], s: Schedule, o: TrajectoryOptions): TrajectoryComparison {
  const T = s.options.steps;
  const form = o.form ?? samplerForm("ddpm");
  const coef = kernelStepTable(s, form);
  const noise = new WasmNoise(o.n, o.rng, T, (t) => coef[t * 8 + 2] === 0);
  const sums = machines.map(() => Array.from({ length: T }, zeroSums));
  // x0 = (x_t - s eps) / a, so x0_net - x0_machine = (s / a) (eps_machine - eps_net): the x0 SSE is the
  // eps SSE times (s / a)^2, and only the network's x0 spread (SST) needs its own sums.
  const netX0 = Array.from({ length: T }, zeroSums);
  let x = noise.xT();
  for (let t = T - 1; t >= 0; t--) {
    const es = model(x, t);
    const x0 = x0FromEps(x, es, s.alphaBars[t]);
    accumulate(netX0[t], x0, x0);
    machines.forEach((m, i) => accumulate(sums[i][t], es, m.eps(x, t)));
    const z = t > 0 ? noise.z(t) : new Float32Array(x.length);
    x = kernelStep(coef.subarray(t * 8, t * 8 + 8), form.kernelRule, x, es, z);
    o.onStep?.(T - t, T);
  }
  const r2: Record<string, number[]> = {};
  const rho2: Record<string, number[]> = {};
  const r2X0: Record<string, number[]> = {};
  const r2Pooled: Record<string, number> = {};
  machines.forEach((m, i) => {
    r2[m.name] = sums[i].map(r2Of);
    rho2[m.name] = sums[i].map(rho2Of);
    r2X0[m.name] = sums[i].map((e, t) => {
      const ratio = (1 - s.alphaBars[t]) / s.alphaBars[t];
      const x0 = netX0[t];
      return 1 - (ratio * e.sse) / (x0.saa - (x0.sa * x0.sa) / x0.n);
    });
    r2Pooled[m.name] = pooledR2(sums[i], s);
  });
  return { n: o.n, r2, rho2, r2X0, r2Pooled, finalTokens: x };
}

/** x0 = (x_t - sqrt(1 - aBar) eps) / sqrt(aBar) (DDPM Eq. 15 of Ho et al.), float64. */
function x0FromEps(x: ArrayLike<number>, eps: ArrayLike<number>, alphaBar: number): Float64Array {
  const a = Math.sqrt(alphaBar), sg = Math.sqrt(1 - alphaBar);
  const out = new Float64Array(x.length);
  for (let i = 0; i < out.length; i++) out[i] = (x[i] - sg * eps[i]) / a;
  return out;
}

/**
 * r^2 of eps on the forward process instead of the network's trajectories: x_t = sqrt(aBar) x0 +
 * sqrt(1 - aBar) z with x0 drawn from the training tokens [N, 4, 12] (the distribution the network
 * was trained on), for every timestep: r^2 per machine [T], and the loss-weighted pooled r^2. Uses
 * `n` images and one z per image.
 */
export function compareOnForwardProcess(
  model: FlatEps, machines: readonly ScoreMachine[], s: Schedule, tokens: ArrayLike<number>, o: { n: number; rng: Rng },
): { r2: Record<string, number[]>; r2Pooled: Record<string, number> } {
  const N = tokens.length / 48;
  const x0 = new Float64Array(o.n * 48);
  const z = new Float64Array(o.n * 48);
  for (let b = 0; b < o.n; b++) {
    const i = o.rng.int(N);
    for (let j = 0; j < 48; j++) { x0[b * 48 + j] = tokens[i * 48 + j]; z[b * 48 + j] = o.rng.normal(); }
  }
  const T = s.options.steps;
  const perT = machines.map(() => Array.from({ length: T }, zeroSums));
  const xt = new Float32Array(o.n * 48);
  for (let t = 0; t < T; t++) {
    const a = s.sqrtAlphaBars[t], sg = s.sqrtOneMinusAlphaBars[t];
    for (let j = 0; j < xt.length; j++) xt[j] = a * x0[j] + sg * z[j];
    const es = model(xt, t);
    machines.forEach((m, i) => accumulate(perT[i][t], es, m.eps(xt, t)));
  }
  return {
    r2: Object.fromEntries(machines.map((m, i) => [m.name, perT[i].map(r2Of)])),
    r2Pooled: Object.fromEntries(machines.map((m, i) => [m.name, pooledR2(perT[i], s)])),
  };
}

/** Pearson correlation of two equal-length vectors (NaN when either is constant). */
export function pearson(a: ArrayLike<number>, b: ArrayLike<number>, ao = 0, bo = 0, len = a.length): number {
  let sa = 0, sb = 0;
  for (let i = 0; i < len; i++) { sa += a[ao + i]; sb += b[bo + i]; }
  const ma = sa / len, mb = sb / len;
  let cov = 0, va = 0, vb = 0;
  for (let i = 0; i < len; i++) {
    const da = a[ao + i] - ma, db = b[bo + i] - mb;
    cov += da * db; va += da * da; vb += db * db;
  }
  return cov / Math.sqrt(va * vb);
}

/** Pearson r between corresponding images of two sample sets (tokens [n, 4, 12] each): [n]. */
export function perSamplePearson(a: ArrayLike<number>, b: ArrayLike<number>): Float64Array {
  if (a.length !== b.length || a.length % 48 !== 0) throw new Error(`perSamplePearson: sizes ${a.length} and ${b.length} differ or are not [n, 4, 12]`);
  const n = a.length / 48;
  return Float64Array.from({ length: n }, (_, i) => pearson(a, b, i * 48, i * 48, 48));
}

/**
 * Quantile (linear interpolation between the order statistics, as R type 7 / numpy's default) of
 * the finite values; NaN when there are none. By selection, not sorting: the bootstrap takes ~10^6
 * medians of 200 values.
 */
export function quantile(xs: ArrayLike<number>, p: number): number {
  const v = new Float64Array(xs.length);
  let n = 0;
  for (let i = 0; i < xs.length; i++) if (Number.isFinite(xs[i])) v[n++] = xs[i];
  if (n === 0) return NaN;
  const pos = p * (n - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, n - 1);
  const a = select(v, n, lo); // now v[0 .. lo) <= v[lo] <= v(lo .. n)
  let b = a;
  if (hi !== lo) {
    b = Infinity;
    for (let i = lo + 1; i < n; i++) if (v[i] < b) b = v[i];
  }
  return a + (pos - lo) * (b - a);
}

/** The k-th smallest of v[0 .. n) (Wirth's selection), leaving v partitioned around index k. */
function select(v: Float64Array, n: number, k: number): number {
  let l = 0, m = n - 1;
  while (l < m) {
    const x = v[k];
    let i = l, j = m;
    do {
      while (v[i] < x) i++;
      while (x < v[j]) j--;
      if (i <= j) {
        const t = v[i]; v[i] = v[j]; v[j] = t;
        i++; j--;
      }
    } while (i <= j);
    if (j < k) l = i;
    if (k < i) m = j;
  }
  return v[k];
}

/** Timesteps at which r^2 is quoted in summaries (0-based, of T = 1000 by default). */
export function quoteTimesteps(T: number): number[] {
  return [0, 10, 50, 100, 250, 500, 750, T - 1].filter((t, i, a) => t < T && a.indexOf(t) === i);
}

/** Per-image r^2 = 1 - ||a - b||^2 / ||a - mean a||^2 with `a` (the network's image) as reference: [n]. */
export function perSampleR2(a: ArrayLike<number>, b: ArrayLike<number>): Float64Array {
  if (a.length !== b.length || a.length % 48 !== 0) throw new Error(`perSampleR2: sizes ${a.length} and ${b.length} differ or are not [n, 4, 12]`);
  return Float64Array.from({ length: a.length / 48 }, (_, i) => {
    const s = zeroSums();
    accumulate(s, Array.prototype.slice.call(a, i * 48, i * 48 + 48), Array.prototype.slice.call(b, i * 48, i * 48 + 48));
    return r2Of(s);
  });
}
