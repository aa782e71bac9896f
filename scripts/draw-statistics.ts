/**
 * Statistics of each KIND of random draw our library makes, the same statistics that
 * `bench/torch_population.py draws` computes for PyTorch's draws (docs/results/torch-population/):
 *
 * - initial weights per layer (initTrainState: `new Rng(seed).split("init")`, uniform +-1/sqrt(fanIn)),
 *   pooled over model seeds, and the mean correlation of one layer between consecutive seeds;
 * - timesteps, training noise and Gumbel draws exactly as training consumes them (`drawStepNoise`
 *   on the state's "noise" and "gumbel" streams, 64 per step), and the batch order (the "data"
 *   stream's permutation per epoch, as `trainEpoch` draws it);
 * - sampling noise: the wasm sampler's own generator (`wasmNormals`, seeded like sampling run r of
 *   the study: `new Rng(sampleSeed + r).split("sample")`), the first normals being x_T;
 * - the census of each dataset draw (`generateDataset`), read from the pixels.
 *
 * Per kind: n, mean, variance, min, max, the lag-1 autocorrelation, and the one-sample KS statistic
 * and asymptotic p-value against the intended distribution (on at most 1e6 evenly strided values);
 * integer draws a chi-square against uniform.
 *
 *   npx ts-node --transpile-only scripts/draw-statistics.ts [--out FILE] [--models 34] [--draws 17]
 *       [--steps 1600] [--sample-normals 480000]
 */
import * as fs from "fs";
import * as path from "path";
import { DEFAULT_CONFIG } from "../src/config";
import { datasetImages, generateDataset } from "../src/data/dataset";
import { imagesToTokens } from "../src/data/layout";
import { PAIR_PATTERN, PATTERNS } from "../src/data/palette";
import { writeJsonAtomic } from "../src/io/atomic";
import { wasmNormals } from "../src/kernels/sample-kernel";
import { Variant } from "../src/model/variants";
import { Rng } from "../src/rng";
import { drawStepNoise, initTrainState, makeContext } from "../src/train/state";
import { libraryVersion } from "../src/version";

// ---------------------------------------------------------------- statistics (as bench/torch_population.py)
/** erf(x), |error| < 1.2e-7 (Numerical Recipes' erfc Chebyshev fit). */
function erf(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r = t * Math.exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 +
    t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
  return x >= 0 ? 1 - r : r - 1;
}
const normalCdf = (x: number) => 0.5 * (1 + erf(x / Math.SQRT2));
const gumbelCdf = (x: number) => Math.exp(-Math.exp(-x));
const uniformCdf = (a: number, b: number) => (x: number) => Math.min(1, Math.max(0, (x - a) / (b - a)));

/** P(D_n >= d), asymptotic Kolmogorov distribution with Stephens' correction. */
function kolmogorovP(d: number, n: number): number {
  const lam = (Math.sqrt(n) + 0.12 + 0.11 / Math.sqrt(n)) * d;
  if (lam < 0.2) return 1;
  let s = 0;
  for (let k = 1; k <= 100; k++) s += (k % 2 ? 1 : -1) * Math.exp(-2 * k * k * lam * lam);
  return Math.min(1, Math.max(0, 2 * s));
}

interface Described { n: number; mean: number; var: number; min: number; max: number; lag1: number; ksN?: number; ksD?: number; ksP?: number }

function describe(a: ArrayLike<number>, cdf?: (x: number) => number, maxKs = 1_000_000): Described {
  const n = a.length;
  let s = 0, mn = Infinity, mx = -Infinity;
  for (let i = 0; i < n; i++) {
    s += a[i];
    if (a[i] < mn) mn = a[i];
    if (a[i] > mx) mx = a[i];
  }
  const mean = s / n;
  let ss = 0, lag = 0;
  for (let i = 0; i < n; i++) {
    const d = a[i] - mean;
    ss += d * d;
    if (i > 0) lag += d * (a[i - 1] - mean);
  }
  const out: Described = { n, mean, var: ss / (n - 1), min: mn, max: mx, lag1: lag / ss };
  if (cdf) {
    const stride = Math.max(1, Math.floor(n / maxKs));
    const sub = new Float64Array(Math.ceil(n / stride));
    for (let i = 0, j = 0; i < n; i += stride) sub[j++] = a[i];
    sub.sort();
    const m = sub.length;
    let d = 0;
    for (let i = 0; i < m; i++) {
      const c = cdf(sub[i]);
      d = Math.max(d, (i + 1) / m - c, c - i / m);
    }
    Object.assign(out, { ksN: m, ksD: d, ksP: kolmogorovP(d, m) });
  }
  return out;
}

function chi2Uniform(counts: ArrayLike<number>): { chi2: number; df: number } {
  let total = 0;
  for (let i = 0; i < counts.length; i++) total += counts[i];
  const e = total / counts.length;
  let chi2 = 0;
  for (let i = 0; i < counts.length; i++) chi2 += (counts[i] - e) ** 2 / e;
  return { chi2, df: counts.length - 1 };
}

function corr(a: Float32Array, b: Float32Array): number {
  const n = a.length;
  let ma = 0, mb = 0;
  for (let i = 0; i < n; i++) { ma += a[i]; mb += b[i]; }
  ma /= n; mb /= n;
  let sab = 0, saa = 0, sbb = 0;
  for (let i = 0; i < n; i++) { sab += (a[i] - ma) * (b[i] - mb); saa += (a[i] - ma) ** 2; sbb += (b[i] - mb) ** 2; }
  return sab / Math.sqrt(saa * sbb);
}

function concat(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

// ---------------------------------------------------------------- dataset census, from the pixels
function censusFromPixels(colours: Uint8Array, n: number) {
  const perPattern = [0, 0, 0];
  const pairCounts = [[0, 0], [0, 0], [0, 0], [0, 0]];
  let columns = 0, valid = 0, onePattern = 0;
  const keys = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const c = colours.subarray(i * 16, i * 16 + 16);
    const quads: { pattern: number; index: number; wf: boolean }[] = [];
    for (let q = 0; q < 4; q++) {
      const r = 2 * (q >> 1), col = 2 * (q & 1);
      const k0 = c[r * 4 + col], k1 = c[(r + 1) * 4 + col], v0 = c[r * 4 + col + 1], v1 = c[(r + 1) * 4 + col + 1];
      const wf = k0 === k1 && v0 === v1 && k0 !== v0;
      const pattern = wf ? PAIR_PATTERN[k0 * 4 + v0] : -1;
      const index = pattern >= 0 ? (PATTERNS[pattern][0][0] === k0 && PATTERNS[pattern][0][1] === v0 ? 0 : 1) : -1;
      quads.push({ pattern, index, wf });
    }
    if (quads.every((x) => x.wf)) columns++;
    if (quads.every((x) => x.pattern >= 0)) {
      valid++;
      if (quads.every((x) => x.pattern === quads[0].pattern)) {
        onePattern++;
        perPattern[quads[0].pattern]++;
        quads.forEach((x, q) => pairCounts[q][x.index]++);
      }
    }
    const key = Array.from(c).join("");
    keys.set(key, (keys.get(key) ?? 0) + 1);
  }
  const counts = [...keys.values()].sort((a, b) => b - a);
  let chi2 = 0;
  for (const k of [...counts, ...new Array(48 - counts.length).fill(0)]) chi2 += (k - n / 48) ** 2 / (n / 48);
  return { images: n, wellFormedColumns: columns, validQuadrants4: valid, onePattern, perPattern, pairCounts, distinct: keys.size,
    imageCountMax: counts[0], imageCountMin: counts[counts.length - 1], imageChi2: chi2 };
}

// ---------------------------------------------------------------- main
function parseArgs(argv: string[]) {
  const o = { out: path.join("docs", "results", "torch-population", "draws-ours.json"), models: 34, draws: 17, steps: 1600, sampleNormals: 480_000 };
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, v] = [argv[i], argv[i + 1]];
    if (flag === "--out") o.out = v;
    else if (flag === "--models") o.models = Number(v);
    else if (flag === "--draws") o.draws = Number(v);
    else if (flag === "--steps") o.steps = Number(v);
    else if (flag === "--sample-normals") o.sampleNormals = Number(v);
    else throw new Error(`unknown flag ${flag}`);
  }
  return o;
}

function main(): void {
  const o = parseArgs(process.argv.slice(2));
  const cfg = DEFAULT_CONFIG;
  const ds0 = generateDataset({ size: cfg.datasetSize, seed: 0 });
  const ctx = makeContext(cfg, imagesToTokens(datasetImages(ds0)), 0);
  const seeds = Array.from({ length: o.models }, (_, i) => i);
  const res: Record<string, unknown> = { side: "ours", library: libraryVersion(), node: process.version, seeds, draws: Array.from({ length: o.draws }, (_, i) => i) };

  // 1. initial weights per layer, pooled over model seeds
  const init: Record<string, unknown> = {};
  for (const variant of ["top1", "identity"] as Variant[]) {
    const per: Record<string, Float32Array[]> = {};
    let specs: { name: string; fanIn: number; offset: number; size: number }[] = [];
    for (const seed of seeds) {
      const s = initTrainState(ctx, variant, seed);
      specs = s.layout.specs;
      for (const sp of specs) (per[sp.name] ??= []).push(s.theta.slice(sp.offset, sp.offset + sp.size));
    }
    for (const sp of specs) {
      const bound = 1 / Math.sqrt(sp.fanIn);
      const parts = per[sp.name];
      let c = 0;
      for (let i = 0; i + 1 < parts.length; i++) c += corr(parts[i], parts[i + 1]);
      init[`${variant}:${sp.name}`] = { fanIn: sp.fanIn, bound, intendedVar: (bound * bound) / 3, ...describe(concat(parts), uniformCdf(-bound, bound)),
        seedCorr: c / (parts.length - 1) };
    }
  }
  res.init = init;

  // 2. one training run's draws as training consumes them (two model seeds, `steps` steps each)
  const B = cfg.batchSize, T = cfg.diffusionSteps;
  const ts: number[] = [], eps: Float32Array[] = [], gum: Float32Array[] = [];
  const firstBins = new Array(32).fill(0);
  let firstSum = 0, firstN = 0, epochs = 0;
  for (const seed of seeds.slice(0, 2)) {
    const s = initTrainState(ctx, "top1", seed);
    for (let step = 0; step < o.steps; step++) {
      if (step % s.stepsPerEpoch === 0) {
        const perm = s.rngs.data.permutation(ctx.n); // trainEpoch's order
        epochs++;
        for (let i = 0; i < B; i++) { firstBins[perm[i] >> 6]++; firstSum += perm[i]; firstN++; }
      }
      const d = drawStepNoise(s, B, T);
      ts.push(...d.t);
      eps.push(d.eps);
      gum.push(d.gumbel!);
    }
  }
  const tCounts = new Array(T).fill(0);
  for (const t of ts) tCounts[t]++;
  const tDesc = describe(ts, (x) => Math.min(1, Math.max(0, (Math.floor(x) + 1) / T)));
  delete tDesc.ksP; // KS is for continuous distributions; the chi-square is the test here
  res.timesteps = { ...tDesc, intendedMean: (T - 1) / 2, intendedVar: (T * T - 1) / 12, ...chi2Uniform(tCounts) };
  res.trainNoise = { ...describe(concat(eps), normalCdf), intendedMean: 0, intendedVar: 1 };
  res.gumbel = { ...describe(concat(gum), gumbelCdf), intendedMean: 0.5772156649, intendedVar: Math.PI ** 2 / 6 };
  res.batchOrder = { epochs, firstBatchIndexMean: firstSum / firstN, intendedMean: (ctx.n - 1) / 2, ...chi2Uniform(firstBins) };

  // 3. sampling noise: the wasm sampler's generator as sampling runs 0 and 1 seed it (x_T first)
  const z = [0, 1].map((r) => wasmNormals(new Rng(cfg.sampleSeed + r).split("sample"), o.sampleNormals));
  res.sampleNoise = { ...describe(concat(z), normalCdf), intendedMean: 0, intendedVar: 1 };
  // and the generator our step-for-step check uses for sampling noise ("rng" mode: Rng.fillNormal)
  res.sampleNoiseRngMode = { ...describe(new Rng(cfg.sampleSeed).split("sample").fillNormal(new Float32Array(o.sampleNormals)), normalCdf), intendedMean: 0, intendedVar: 1 };

  // 4. dataset census of each draw
  res.datasets = (res.draws as number[]).map((d) => ({ draw: d, ...censusFromPixels(generateDataset({ size: cfg.datasetSize, seed: d }).colours, cfg.datasetSize) }));

  fs.mkdirSync(path.dirname(o.out), { recursive: true });
  writeJsonAtomic(o.out, res);
  console.log(JSON.stringify({ out: o.out }));
}

main();
