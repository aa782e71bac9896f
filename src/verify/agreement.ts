/**
 * Our training and sampling against PyTorch on identical inputs (docs/torch-agreement.md): run
 * bench/torch_trajectory.py and bench/torch_metrics.py on what src/verify/trajectory.ts and
 * src/verify/sampling.ts exported, and measure the differences.
 *
 * Differences are relative: loss |ours - torch| / |torch| per step; parameters and EMA the
 * relative L2 distance ||ours - torch|| / ||torch|| of every parameter block (conv1.w, attn.wq, ...),
 * reported as the largest over blocks; samples the relative L2 distance of each sample.
 */
import type { SamplerFormName } from "../ddpm/sampler-forms";
import type { GumbelSampling } from "../model/variant-registry";
import { execFile, execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { decodeColours } from "../eval/metrics";
import { imagesToTokens } from "../data/layout";
import { loadNpy } from "../io/npy";
import { TrajectoryMeta } from "./trajectory";

/** The Debian interpreter with torch 1.13 and numpy (a pyenv `python3` on PATH has no torch). */
export const PYTHON = "/usr/bin/python3";
// realpath: __dirname may run through a symlink to src/
const BENCH = path.join(fs.realpathSync(__dirname), "..", "..", "bench");
export const TORCH_TRAJECTORY = path.join(BENCH, "torch_trajectory.py");
export const TORCH_METRICS = path.join(BENCH, "torch_metrics.py");

export type Perturbation = "softmax_scale" | "ema_decay" | "pct_start" | "loss_weight";
export const PERTURBATIONS: readonly Perturbation[] = ["softmax_scale", "ema_decay", "pct_start", "loss_weight"];

/**
 * Versions of the Python side; throws, saying how to install, when torch or numpy is missing.
 */
export function torchVersions(): { python: string; torch: string; numpy: string } {
  const probe = "import json, sys, numpy, torch; print(json.dumps({'python': sys.version.split()[0], 'torch': torch.__version__, 'numpy': numpy.__version__}))";
  try {
    return JSON.parse(execFileSync(PYTHON, ["-c", probe], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }));
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    const lines = (err.stderr || err.message).trim().split("\n");
    const why = lines[lines.length - 1];
    throw new Error(`the PyTorch comparison needs torch and numpy in ${PYTHON} (${why}). Install them with: sudo bash bench/setup-torch.sh`);
  }
}

/** Run a Python script; resolves with the JSON object on its last stdout line. */
export function runPython(script: string, args: string[]): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    execFile(PYTHON, [script, ...args], { encoding: "utf8", maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      if (err) {
        reject(new Error(`${PYTHON} ${path.basename(script)} ${args.join(" ")} failed (${err.message.split("\n")[0]}):\n${stderr.trim().split("\n").slice(-15).join("\n")}`));
        return;
      }
      const lines = stdout.trim().split("\n");
      const last = lines[lines.length - 1];
      try {
        resolve(JSON.parse(last));
      } catch {
        reject(new Error(`${path.basename(script)} ${args.join(" ")} printed no JSON result line; stdout ended with '${last}'`));
      }
    });
  });
}

/** Run async jobs with at most `limit` at a time (the machine has few cores). */
export async function limited<T>(limit: number, jobs: (() => Promise<T>)[]): Promise<T[]> {
  const out: T[] = new Array(jobs.length);
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) {
      const i = next++;
      out[i] = await jobs[i]();
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, jobs.length) }, worker));
  return out;
}

/**
 * Torch's replays of exported trajectories, one per folder and perturbation (one process):
 * `train DIR... [--perturb P...] [--dtype float64]`.
 */
export function torchTrain(dirs: string[], o: { perturb?: Perturbation[]; float64?: boolean } = {}): Promise<Record<string, unknown>> {
  return runPython(TORCH_TRAJECTORY, ["train", ...dirs, ...(o.perturb ? ["--perturb", ...o.perturb] : []), ...(o.float64 ? ["--dtype", "float64"] : [])]);
}

/** Sampling changes bench/torch_trajectory.py can make (negative controls of the sampling check). */
export type SamplePerturbation = "softmax_scale" | "sigma_tilde" | "no_clamp" | "gumbel_transpose";

/**
 * Torch's sampling from exported weights and noise, one run per variant and perturbation (one
 * process): `sample DIR VARIANT... [--perturb P...] [--dtype float64]`.
 */
export function torchSample(
  dir: string, variants: string[], o: { perturb?: SamplePerturbation[]; float64?: boolean; sampler?: SamplerFormName; top1Sampling?: GumbelSampling } = {},
): Promise<Record<string, unknown>> {
  return runPython(TORCH_TRAJECTORY, ["sample", dir, ...variants, ...(o.perturb ? ["--perturb", ...o.perturb] : []), ...(o.float64 ? ["--dtype", "float64"] : []),
    ...(o.sampler ? ["--sampler", o.sampler] : []), ...(o.top1Sampling ? ["--top1-sampling", o.top1Sampling] : [])]);
}

/** Name of a torch run's outputs: folder DIR/<name> (train) or file DIR/VARIANT/<name>.npy (sample). */
export function torchRunName(o: { perturb?: Perturbation | SamplePerturbation; float64?: boolean; sampler?: SamplerFormName; top1Sampling?: GumbelSampling } = {}): string {
  return "torch" + (o.perturb ? `-${o.perturb}` : "") + (o.float64 ? "-float64" : "") +
    (o.sampler && o.sampler !== "ddpm" ? `-${o.sampler}` : "") + (o.top1Sampling && o.top1Sampling !== "argmax" ? `-${o.top1Sampling}` : "");
}

// ------------------------------------------------------------------ trajectories
function f32(file: string): { data: Float32Array | Float64Array; shape: number[] } {
  const a = loadNpy(file);
  if (!(a.data instanceof Float32Array || a.data instanceof Float64Array)) throw new Error(`${file}: expected float data`);
  return { data: a.data, shape: a.shape };
}

function relL2(a: ArrayLike<number>, b: ArrayLike<number>, from: number, to: number): number {
  let d = 0;
  let n = 0;
  for (let i = from; i < to; i++) {
    d += (a[i] - b[i]) ** 2;
    n += b[i] ** 2;
  }
  return n === 0 ? Math.sqrt(d) : Math.sqrt(d / n);
}

export interface TrajectoryDiff {
  steps: number;
  /** |ours - torch| / |torch| of the loss at every step [N] (index k - 1 for step k). */
  loss: number[];
  /** Steps with recorded weights (1-based). */
  recordSteps: number[];
  /** Largest relative L2 over parameter blocks of the raw and EMA weights, per recorded step. */
  theta: number[];
  ema: number[];
  /** Block with the largest difference at the last step. */
  worstBlock: { theta: string; ema: string };
}

/** Compare our run in `dir/ours` with a torch run in `dir/<run>` (see `torchRunName`). */
export function compareTrajectory(dir: string, run: string): TrajectoryDiff {
  const meta = JSON.parse(fs.readFileSync(path.join(dir, "trajectory.json"), "utf8")) as TrajectoryMeta;
  const lo = f32(path.join(dir, "ours", "loss.npy")).data;
  const lt = f32(path.join(dir, run, "loss.npy")).data;
  if (lo.length !== meta.steps || lt.length !== meta.steps) throw new Error(`${dir}: ${lo.length} / ${lt.length} losses for ${meta.steps} steps`);
  const loss = Array.from(lo, (x, i) => Math.abs(x - lt[i]) / Math.abs(lt[i]));
  const P = meta.paramCount;
  const K = meta.recordSteps.length;
  const blocks = (which: "theta" | "ema") => {
    const a = f32(path.join(dir, "ours", `${which}.npy`));
    const b = f32(path.join(dir, run, `${which}.npy`));
    for (const x of [a, b]) if (x.shape[0] !== K || x.shape[1] !== P) throw new Error(`${dir} ${which}: shape [${x.shape}], expected [${K}, ${P}]`);
    let worst = "";
    const per = meta.recordSteps.map((_, k) => {
      let m = 0;
      for (const p of meta.params) {
        const r = relL2(a.data, b.data, k * P + p.offset, k * P + p.offset + p.size);
        if (r >= m) {
          m = r;
          if (k === K - 1) worst = p.name;
        }
      }
      return m;
    });
    return { per, worst };
  };
  const th = blocks("theta");
  const em = blocks("ema");
  return { steps: meta.steps, loss, recordSteps: meta.recordSteps, theta: th.per, ema: em.per, worstBlock: { theta: th.worst, ema: em.worst } };
}

/** Tolerance for relative differences after k steps. */
export type Tolerance = (k: number) => number;

/**
 * Relative tolerance after k training steps: twice float32's own drift per step (5e-9, measured
 * against float64) plus a floor of 2e-6 (33 u). Justified in test/torch-agreement.test.ts and
 * docs/torch-agreement.md.
 */
export const trajectoryTolerance: Tolerance = (k) => 2e-6 + 1e-8 * k;

/** Relative L2 tolerance per sample after 1000 sampling steps (float32's own error: <= 1.7e-6). */
export const SAMPLE_TOLERANCE = 1e-5;

export interface DiffSummary {
  /** Step -> { loss, theta, ema } relative differences at that step. */
  at: Record<number, { loss: number; theta: number; ema: number }>;
  /** Largest ratio difference / tolerance over all steps, per quantity (> 1 fails). */
  worstRatio: { loss: number; theta: number; ema: number };
}

/** Differences at the given steps (recorded ones) and the worst ratio to the tolerance. */
export function summarize(d: TrajectoryDiff, tol: Tolerance, at: number[] = [1, 10, 100, d.steps]): DiffSummary {
  const out: DiffSummary = { at: {}, worstRatio: { loss: 0, theta: 0, ema: 0 } };
  for (const k of at) {
    const r = d.recordSteps.indexOf(k);
    if (r < 0 || k > d.steps) continue;
    out.at[k] = { loss: d.loss[k - 1], theta: d.theta[r], ema: d.ema[r] };
  }
  d.loss.forEach((x, i) => (out.worstRatio.loss = Math.max(out.worstRatio.loss, x / tol(i + 1))));
  d.recordSteps.forEach((k, r) => {
    out.worstRatio.theta = Math.max(out.worstRatio.theta, d.theta[r] / tol(k));
    out.worstRatio.ema = Math.max(out.worstRatio.ema, d.ema[r] / tol(k));
  });
  return out;
}

/** One line per reported step: "step 10: loss 3.1e-8, params 6.3e-9, EMA 6.9e-9". */
export function formatSummary(label: string, s: DiffSummary): string {
  const e = (x: number) => x.toExponential(1);
  const rows = Object.entries(s.at).map(([k, v]) => `  step ${k}: loss ${e(v.loss)}, params ${e(v.theta)}, EMA ${e(v.ema)}`);
  const w = s.worstRatio;
  return [`${label}`, ...rows, `  worst / tolerance over all steps: loss ${w.loss.toFixed(3)}, params ${w.theta.toFixed(3)}, EMA ${w.ema.toFixed(3)}`].join("\n");
}

// ------------------------------------------------------------------ samples and metrics
export interface SampleDiff {
  n: number;
  /** Largest relative L2 distance of one sample, ||ours_i - torch_i|| / ||torch_i||. */
  maxSample: number;
  /** Relative L2 over all samples. */
  all: number;
  /** Samples whose decoded palette colours differ anywhere. */
  decodedDiffer: number;
  /** How many samples lie further than `tol` (relative L2) from PyTorch's. */
  over(tol: number): number;
}

/** Compare two NHWC sample files [n, 4, 4, 3]. */
export function compareSamples(oursFile: string, torchFile: string): SampleDiff {
  const a = f32(oursFile);
  const b = f32(torchFile);
  if (a.shape.join() !== b.shape.join()) throw new Error(`sample shapes differ: [${a.shape}] vs [${b.shape}]`);
  const n = a.shape[0];
  let maxSample = 0;
  const perSample = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    perSample[i] = relL2(a.data, b.data, i * 48, (i + 1) * 48);
    maxSample = Math.max(maxSample, perSample[i]);
  }
  const ca = decodeColours(imagesToTokens(Float32Array.from(a.data)));
  const cb = decodeColours(imagesToTokens(Float32Array.from(b.data)));
  let decodedDiffer = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < 16; j++) {
      if (ca[i * 16 + j] !== cb[i * 16 + j]) {
        decodedDiffer++;
        break;
      }
    }
  }
  return { n, maxSample, all: relL2(a.data, b.data, 0, a.data.length), decodedDiffer, over: (tol: number) => perSample.filter((x) => x > tol).length };
}

/** Counts behind every metric as bench/torch_metrics.py reports them, per sample file. */
export interface MetricCounts {
  n: number;
  counts: Record<string, number>;
}

/** bench/torch_metrics.py on NHWC sample files, with the training images for `novel`. */
export async function pythonMetrics(files: string[], trainingImages: string): Promise<Record<string, MetricCounts>> {
  const r = await runPython(TORCH_METRICS, [...files, "--training", trainingImages]);
  return r.files as Record<string, MetricCounts>;
}
