/**
 * The two units of work of an experiment, each runnable inline or in a worker thread:
 * train one (variant, seed) to completion with resumable checkpoints, and draw one sampling
 * run of a trained model and score it.
 */
import * as fs from "fs";
import * as path from "path";
import { createHash } from "crypto";
import * as tf from "@tensorflow/tfjs-core";
import { ExperimentConfig } from "../config";
import { datasetImageKeys, datasetImages } from "../data/dataset";
import { imagesToTokens, tokensToImages } from "../data/layout";
import { loadOrCreateDataset } from "../data/store";
import { sampleTokens } from "../ddpm/sampler";
import { makeSchedule } from "../ddpm/schedule";
import { evaluateTokens, MetricValues } from "../eval/metrics";
import { saveNpy } from "../io/npy";
import { writeJsonAtomic } from "../io/atomic";
import { networkEpsModel } from "../model/eps-model";
import { disposeParams, unpackArrays, unpackTensors, packedLayout } from "../model/packed";
import { wasmSampleTokens } from "../kernels/sampler";
import { Variant } from "../model/variants";
import { Rng } from "../rng";
import { readCheckpoint, restoreTrainState, saveCheckpoint, TRAINING_KEYS } from "../train/checkpoint";
import { disposeContext, disposeTrainState, initTrainState, makeContext, trainEpoch } from "../train/trainer";
import { TrainEngine, trainEpochWasm } from "../kernels/trainer";

export interface Paths {
  /** Output folder of the experiment (results/<profile> by default). */
  outDir: string;
  /** Dataset folder (data/). */
  dataDir: string;
}

/** Progress callback: units done of total, and a short note. */
export type OnProgress = (done: number, total: number, note: string) => void;

/** Short hash of the training-relevant config: a tweak gives a new checkpoint, a rerun reuses it. */
export function trainingHash(cfg: ExperimentConfig): string {
  const part = Object.fromEntries(TRAINING_KEYS.map((k) => [k, cfg[k]]));
  return createHash("sha256").update(JSON.stringify(part)).digest("hex").slice(0, 10);
}

export function checkpointPath(p: Paths, cfg: ExperimentConfig, variant: Variant, seed: number): string {
  return path.join(p.outDir, "checkpoints", `${variant}-seed${seed}-${trainingHash(cfg)}.ckpt.json`);
}

export interface TrainTaskResult {
  variant: Variant;
  seed: number;
  checkpoint: string;
  epochs: number;
  steps: number;
  epochLosses: number[];
  /** "trained", "resumed" (from an unfinished checkpoint) or "reused" (finished checkpoint). */
  status: "trained" | "resumed" | "reused";
  /** Engine that ran the steps (config key `trainer`). */
  engine: TrainEngine;
  seconds: number;
}

/**
 * Train (variant, seed) to the end, resuming from and saving to its checkpoint. `onEpoch` sees
 * every finished epoch's mean loss (for live loss curves).
 */
export function trainTask(
  cfg: ExperimentConfig, p: Paths, variant: Variant, seed: number, onProgress?: OnProgress,
  onEpoch?: (epoch: number, loss: number, totalEpochs: number) => void,
): TrainTaskResult {
  const t0 = Date.now();
  const file = checkpointPath(p, cfg, variant, seed);
  const ds = loadOrCreateDataset(p.dataDir, { size: cfg.datasetSize, seed: cfg.datasetSeed });
  const ctx = makeContext(cfg, imagesToTokens(datasetImages(ds)));
  const exists = fs.existsSync(file);
  const s = exists ? restoreTrainState(file, ctx) : initTrainState(ctx, variant, seed);
  const status: TrainTaskResult["status"] = !exists ? "trained" : s.step >= s.totalSteps ? "reused" : "resumed";
  // Engine (config key `trainer`): the fused wasm step (src/kernels/trainer.ts) or tfjs. Both run the same
  // step on the same TrainState and random streams, so checkpoints move freely between them.
  const engine: TrainEngine = cfg.trainer;
  const epochFn = engine === "wasm" ? trainEpochWasm : trainEpoch;
  try {
    const totalEpochs = s.totalSteps / s.stepsPerEpoch;
    let recent = NaN;
    while (s.step < s.totalSteps) {
      const loss = epochFn(ctx, s, (l) => {
        recent = Number.isNaN(recent) ? l : 0.98 * recent + 0.02 * l;
        if (s.step % 8 === 0) onProgress?.(s.step, s.totalSteps, `${variant} seed ${seed} epoch ${s.epoch + 1}/${totalEpochs} loss ${recent.toFixed(4)}`);
      });
      onEpoch?.(s.epoch, loss, totalEpochs);
      if (s.epoch % cfg.checkpointEvery === 0 || s.step >= s.totalSteps) saveCheckpoint(file, ctx, s);
    }
    onProgress?.(s.totalSteps, s.totalSteps, `${variant} seed ${seed} ${status}`);
    return { variant, seed, checkpoint: file, epochs: s.epoch, steps: s.step, epochLosses: s.epochLosses, status, engine, seconds: (Date.now() - t0) / 1000 };
  } finally {
    disposeTrainState(s);
    disposeContext(ctx);
  }
}

export interface SampleTaskResult {
  variant: Variant;
  seed: number;
  run: number;
  weights: "ema" | "raw";
  metrics: MetricValues;
  samples: number;
  /** Path of the saved samples (.npy, NHWC [n, 4, 4, 3] in [-1, 1]) or null. */
  npy: string | null;
  /** Sampler that ran (config key `sampler`); same distribution, different noise streams. */
  engine: "wasm" | "tfjs";
  /** "sampled" now, or "reused" from the run's result file of an earlier, interrupted experiment. */
  status: "sampled" | "reused";
  seconds: number;
}

/** Everything that changes a sampling run's outcome: the trained model and the sampling keys. */
export function samplingHash(cfg: ExperimentConfig): string {
  const part = { train: trainingHash(cfg), samples: cfg.samples, sampleBatch: cfg.sampleBatch, sampleSeed: cfg.sampleSeed, sampler: cfg.sampler };
  return createHash("sha256").update(JSON.stringify(part)).digest("hex").slice(0, 10);
}

/** Where a finished sampling run's result is kept, so an interrupted experiment resumes. */
export function runResultPath(p: Paths, cfg: ExperimentConfig, variant: Variant, seed: number, run: number, weights: "ema" | "raw"): string {
  return path.join(p.outDir, "runs", `${variant}-seed${seed}-run${run}-${weights}-${samplingHash(cfg)}.json`);
}

/** One sampling run (seed sampleSeed + run) of a trained checkpoint, scored with every metric. */
export function sampleTask(
  cfg: ExperimentConfig, p: Paths, variant: Variant, seed: number, run: number, weights: "ema" | "raw",
  o: { saveNpy: boolean; onProgress?: OnProgress },
): SampleTaskResult {
  const t0 = Date.now();
  const resultFile = runResultPath(p, cfg, variant, seed, run, weights);
  if (fs.existsSync(resultFile)) {
    const done = JSON.parse(fs.readFileSync(resultFile, "utf8")) as SampleTaskResult;
    if (!o.saveNpy || (done.npy && fs.existsSync(done.npy))) return { ...done, status: "reused" };
  }
  const file = checkpointPath(p, cfg, variant, seed);
  const ck = readCheckpoint(file);
  if (ck.step < ck.totalSteps) throw new Error(`checkpoint ${file} is unfinished (step ${ck.step} of ${ck.totalSteps}); train it first`);
  const layout = packedLayout(variant);
  const flat = Buffer.from(weights === "ema" ? ck.tensors.ema : ck.tensors.theta, "base64");
  const theta = tf.tensor1d(new Float32Array(flat.buffer.slice(flat.byteOffset, flat.byteOffset + flat.byteLength)));
  const params = unpackTensors(layout, theta);
  try {
    const schedule = makeSchedule({ steps: cfg.diffusionSteps, betaStart: cfg.betaStart, betaEnd: cfg.betaEnd });
    const rng = new Rng(cfg.sampleSeed + run).split("sample");
    const sampleOpts = {
      n: cfg.samples, batch: cfg.sampleBatch, rng,
      onStep: (done: number, total: number) => { if (done % 20 === 0 || done === total) o.onProgress?.(done, total, `${variant} seed ${seed} run ${run}`); },
    };
    const engine = cfg.sampler;
    const tokens = engine === "wasm"
      ? wasmSampleTokens(unpackArrays(layout, theta.dataSync() as Float32Array), variant, schedule, sampleOpts)
      : sampleTokens(networkEpsModel(params, variant), schedule, sampleOpts);
    const ds = loadOrCreateDataset(p.dataDir, { size: cfg.datasetSize, seed: cfg.datasetSeed });
    const metrics = evaluateTokens(tokens, datasetImageKeys(ds));
    let npy: string | null = null;
    if (o.saveNpy) {
      npy = path.join(p.outDir, "samples", `${variant}-seed${seed}-run${run}-${weights}.npy`);
      saveNpy(npy, tokensToImages(tokens), [cfg.samples, 4, 4, 3]);
    }
    const result: SampleTaskResult = { variant, seed, run, weights, metrics, samples: cfg.samples, npy, engine, status: "sampled", seconds: (Date.now() - t0) / 1000 };
    writeJsonAtomic(resultFile, result);
    return result;
  } finally {
    disposeParams(params);
    theta.dispose();
  }
}
