/**
 * The two units of work of an experiment, each runnable inline or in a worker thread:
 * train one model (variant, dataset draw, training seed) to completion with resumable
 * checkpoints, and draw one sampling run of a trained model and score it.
 *
 * Every artefact proves what made it. A checkpoint is checked against the requested model before
 * it is resumed, reused or sampled (`checkIdentity`); a finished sampling run (runs/*.json) records
 * its identity and the fingerprint of the weights it sampled, and is reused only when both match;
 * its samples (.npy) carry the sampling hash in their name and their SHA-256 in the run record.
 * Paths inside the output folder are stored relative to it, so a copied folder is whole.
 */
import * as fs from "fs";
import * as path from "path";
import { createHash } from "crypto";
import { DEFAULT_CONFIG, epochsFor, ExperimentConfig } from "../config";
import { datasetImageKeys, datasetImages } from "../data/dataset";
import { imagesToTokens, tokensToImages } from "../data/layout";
import { loadOrCreateDataset } from "../data/store";
import { samplerForm, SamplerFormName } from "../ddpm/sampler-forms";
import { makeSchedule } from "../ddpm/schedule";
import { evaluateTokens, MetricValues } from "../eval/metrics";
import { saveNpy } from "../io/npy";
import { writeJsonAtomic } from "../io/atomic";
import { packedLayout } from "../model/packed";
import type { GumbelSampling } from "../model/variant-registry";
import { getVariant, Variant } from "../model/variants";
import { Rng } from "../rng";
import {
  checkIdentity, checkpointTensor, CheckpointRequest, readCheckpoint, readFinishedCheckpoint, restoreTrainState, saveCheckpoint,
  trainingHash, weightsDigest,
} from "../train/checkpoint";
import { EngineName, sampleEngine, trainEngineFor } from "../engines/index";
import { trainEpoch } from "../train/loop";
import { firstNonFinite, initTrainState, makeContext } from "../train/state";
import { libraryVersion } from "../version";
import { dataSeedOf } from "./models";
import type { Executor, OnProgress } from "./pool";
import { StopError, stopRequested } from "./signals";

export interface Paths {
  /** Output folder of the experiment (results/<profile> by default). */
  outDir: string;
  /** Dataset folder (data/). */
  dataDir: string;
  /**
   * Where the models live (default <outDir>/checkpoints). A sweep shares one folder between its
   * cells; `--checkpoints DIR` reuses another study's models (each checkpoint still proves its
   * identity before it is used).
   */
  checkpointDir?: string;
}

/** The checkpoint folder of `p`. */
export function checkpointDirOf(p: Paths): string {
  return path.resolve(p.checkpointDir ?? path.join(p.outDir, "checkpoints"));
}

export type { OnProgress };

export { trainingHash };

/** Where (variant, seed)'s checkpoint lives: its name holds the dataset draw and the training hash. */
export function checkpointPath(p: Paths, cfg: ExperimentConfig, variant: Variant, seed: number): string {
  const dataSeed = dataSeedOf(cfg, seed);
  return path.join(checkpointDirOf(p), `${variant}-data${dataSeed}-seed${seed}-${trainingHash(cfg, dataSeed)}.ckpt.json`);
}

/** What a run of `cfg` asks of (variant, seed)'s checkpoint. */
export function checkpointRequest(cfg: ExperimentConfig, variant: Variant, seed: number): CheckpointRequest {
  const dataSeed = dataSeedOf(cfg, seed);
  const n = cfg.datasetSize;
  return { cfg, variant, dataSeed, seed, totalSteps: epochsFor(cfg, variant) * Math.ceil(n / cfg.batchSize) };
}

/**
 * What training (variant, any seed) of `cfg` is expected to cost, for the order in which the pool
 * starts tasks and for the progress bar only (never for results): its epochs times the network's
 * parameter count, a proxy for the work of one step. It ranks the variants as measured in the
 * quick profile (2000 epochs, one worker each, 2026-12-05: cnn 16 s, uniform 21, identity 25,
 * attention 32; top1 73 at 4000). Ordered by epochs alone, the pool started top1, then the four
 * 2000-epoch models in registry order, and the last one (uniform) ran alone after top1 had finished;
 * by cost, cnn goes last and fills that gap.
 */
export function trainCost(cfg: ExperimentConfig, variant: Variant): number {
  return epochsFor(cfg, variant) * packedLayout(variant).total;
}

export interface TrainTaskResult {
  variant: Variant;
  dataSeed: number;
  seed: number;
  /** The checkpoint file (absolute in memory; relative to the output folder in results.json). */
  checkpoint: string;
  /** Fingerprint of the finished weights (`weightsDigest`). */
  weightsSha256: string;
  epochs: number;
  steps: number;
  epochLosses: number[];
  /** "trained", "resumed" (from an unfinished checkpoint) or "reused" (finished checkpoint). */
  status: "trained" | "resumed" | "reused";
  /** Engine that ran the steps (config key `trainEngine`). */
  engine: EngineName;
  seconds: number;
}

/**
 * Train (variant, seed) to the end, resuming from and saving to its checkpoint. `onEpoch` sees
 * every finished epoch's mean loss (for live loss curves). A checkpoint at the path that holds
 * another model (variant, draw, seed, length or training config) is an error naming the file and
 * the differing keys; a step that makes the loss or the optimiser state non-finite is an error
 * naming the step, and the last good checkpoint is kept.
 */
export function trainTask(
  cfg: ExperimentConfig, p: Paths, variant: Variant, seed: number, onProgress?: OnProgress,
  onEpoch?: (epoch: number, loss: number, totalEpochs: number) => void,
): TrainTaskResult {
  const t0 = Date.now();
  const file = checkpointPath(p, cfg, variant, seed);
  const want = checkpointRequest(cfg, variant, seed);
  const ds = loadOrCreateDataset(p.dataDir, { size: cfg.datasetSize, seed: want.dataSeed });
  const ctx = makeContext(cfg, imagesToTokens(datasetImages(ds)), want.dataSeed);
  const exists = fs.existsSync(file);
  if (exists) checkIdentity(readCheckpoint(file), file, want);
  const s = exists ? restoreTrainState(file, ctx) : initTrainState(ctx, variant, seed);
  const status: TrainTaskResult["status"] = !exists ? "trained" : s.step >= s.totalSteps ? "reused" : "resumed";
  // Engine (config key `trainEngine`): the fused wasm kernels or tfjs (src/engines/). Both run the same
  // step on the same state and random streams, so checkpoints move freely between them.
  const engine = trainEngineFor(cfg.trainEngine, ctx, s);
  try {
    const totalEpochs = s.totalSteps / s.stepsPerEpoch;
    let recent = NaN;
    while (s.step < s.totalSteps) {
      const loss = trainEpoch(ctx, s, engine, (l) => {
        recent = Number.isNaN(recent) ? l : 0.98 * recent + 0.02 * l;
        if (s.step % 8 === 0) onProgress?.(s.step, s.totalSteps, `${variant} seed ${seed} epoch ${s.epoch + 1}/${totalEpochs} loss ${recent.toFixed(4)}`);
      });
      onEpoch?.(s.epoch, loss, totalEpochs);
      // A stop request (Ctrl-C, kill; src/experiment/signals.ts): save here, between epochs, and stop.
      const stop = s.step < s.totalSteps ? stopRequested() : null;
      if (stop || s.epoch % cfg.checkpointEvery === 0 || s.step >= s.totalSteps) saveCheckpoint(file, ctx, s);
      if (stop) throw new StopError(`training of ${variant} seed ${seed} stopped after epoch ${s.epoch} of ${totalEpochs}; saved ${file}`, stop);
    }
    onProgress?.(s.totalSteps, s.totalSteps, `${variant} seed ${seed} ${status}`);
    return {
      variant, dataSeed: want.dataSeed, seed, checkpoint: file, weightsSha256: weightsDigest(s.theta, s.ema),
      epochs: s.epoch, steps: s.step, epochLosses: s.epochLosses, status, engine: engine.name, seconds: (Date.now() - t0) / 1000,
    };
  } finally {
    engine.dispose();
  }
}

/** What a sampling run is: the model, the run index, the weights and every key that changes its samples. */
export interface RunIdentity {
  variant: Variant;
  dataSeed: number;
  seed: number;
  run: number;
  weights: "ema" | "raw";
  /** `samplingHash(cfg, dataSeed, variant)`. */
  samplingHash: string;
}

export interface SampleTaskResult extends RunIdentity {
  metrics: MetricValues;
  samples: number;
  /** Samples with a NaN or infinite value (counted as failing every rule; at most `maxNonFinite` of them). */
  nonFiniteSamples?: number;
  /** Path of the saved samples (.npy, NHWC [n, 4, 4, 3], unclipped) or null; relative to the output folder on disk. */
  npy: string | null;
  /** SHA-256 of the .npy file's bytes, or null. */
  npySha256: string | null;
  /** The checkpoint sampled (relative to the output folder on disk) and the fingerprint of its weights. */
  checkpoint: string;
  checkpointWeightsSha256: string;
  /** Sampling engine that ran (config key `sampleEngine`); same distribution, different noise streams. */
  engine: "wasm" | "tfjs";
  /** Reverse-step form (config key `sampler`); absent in runs made before it existed (= "ddpm"). */
  sampler?: SamplerFormName;
  /** Top-1 sampling rule of a Gumbel variant (config key `top1Sampling`); absent = "argmax". */
  top1Sampling?: GumbelSampling;
  /** "sampled" now, or "reused" from the run's result file of an earlier, interrupted experiment. */
  status: "sampled" | "reused";
  libraryVersion: string;
  seconds: number;
}

/**
 * The sampling keys that change `variant`'s samples beyond the SPEC's sampler, as they enter its
 * run identity: the reverse-step form when not "ddpm", the top-1 rule of a Gumbel variant when not
 * "argmax". Empty for the SPEC sampler, so runs sampled before these keys existed keep their names.
 */
export function samplingOptions(cfg: ExperimentConfig, variant?: Variant): { sampler?: SamplerFormName; top1Sampling?: GumbelSampling } {
  return {
    ...(cfg.sampler !== "ddpm" ? { sampler: cfg.sampler } : {}),
    ...(variant !== undefined && getVariant(variant).gumbel && cfg.top1Sampling !== "argmax" ? { top1Sampling: cfg.top1Sampling } : {}),
  };
}

/**
 * Everything that changes a sampling run's outcome: the trained model and the sampling keys (for
 * `variant`: a Gumbel variant's top-1 rule counts, other variants ignore it).
 */
export function samplingHash(cfg: ExperimentConfig, dataSeed: number = cfg.datasetSeed, variant?: Variant): string {
  const options = samplingOptions(cfg, variant);
  // The engine entered the hash under its old name `sampler`, which the form (also `sampler`)
  // overwrites when it is not "ddpm": the engine then enters as `sampleEngine`, except for the default
  // engine, so the runs sampled under that engine before this was found keep their names.
  const engine = options.sampler !== undefined && cfg.sampleEngine !== DEFAULT_CONFIG.sampleEngine ? { sampleEngine: cfg.sampleEngine } : {};
  const part = { train: trainingHash(cfg, dataSeed), samples: cfg.samples, sampleBatch: cfg.sampleBatch, sampleSeed: cfg.sampleSeed, sampler: cfg.sampleEngine, ...options, ...engine };
  return createHash("sha256").update(JSON.stringify(part)).digest("hex").slice(0, 10);
}

/** The identity of run `run` of (variant, seed) under `cfg`. */
export function runIdentity(cfg: ExperimentConfig, variant: Variant, seed: number, run: number, weights: "ema" | "raw"): RunIdentity {
  const dataSeed = dataSeedOf(cfg, seed);
  return { variant, dataSeed, seed, run, weights, samplingHash: samplingHash(cfg, dataSeed, variant) };
}

function runBaseName(id: RunIdentity): string {
  return `${id.variant}-data${id.dataSeed}-seed${id.seed}-run${id.run}-${id.weights}-${id.samplingHash}`;
}

/** Where a finished sampling run's result is kept, so an interrupted experiment resumes. */
export function runResultPath(p: Paths, cfg: ExperimentConfig, variant: Variant, seed: number, run: number, weights: "ema" | "raw"): string {
  return path.resolve(p.outDir, "runs", `${runBaseName(runIdentity(cfg, variant, seed, run, weights))}.json`);
}

/** Where a sampling run's samples are saved (.npy). */
export function samplesPath(p: Paths, cfg: ExperimentConfig, variant: Variant, seed: number, run: number, weights: "ema" | "raw"): string {
  return path.resolve(p.outDir, "samples", `${runBaseName(runIdentity(cfg, variant, seed, run, weights))}.npy`);
}

function sha256File(file: string): string {
  return createHash("sha256").update(fs.readFileSync(file)).digest("hex");
}

/**
 * The stored result of a finished run, checked: readable, of the requested identity, and (when
 * `npy`) with its samples file intact. Returns null when the run must be (re)sampled: no record,
 * a record of other weights than the checkpoint now holds, or samples wanted but never saved.
 * A record or samples file that is corrupt or belongs to another run is an error naming the file.
 */
export function readRunResult(
  p: Paths, cfg: ExperimentConfig, id: RunIdentity, o: { weightsSha256: string; npy: boolean },
): SampleTaskResult | null {
  const file = runResultPath(p, cfg, id.variant, id.seed, id.run, id.weights);
  if (!fs.existsSync(file)) return null;
  let r: SampleTaskResult;
  try {
    r = JSON.parse(fs.readFileSync(file, "utf8")) as SampleTaskResult;
  } catch (e) {
    throw new Error(`sampling run record ${file} is corrupt or truncated (${(e as Error).message}); delete it to sample the run again`);
  }
  const keys = Object.keys(id) as (keyof RunIdentity)[];
  const diff = keys.filter((k) => r[k] !== id[k]).map((k) => `${k}: ${JSON.stringify(r[k])} vs ${JSON.stringify(id[k])}`);
  if (diff.length > 0) throw new Error(`sampling run record ${file} belongs to another run (record vs request: ${diff.join("; ")}); delete it`);
  // What the record says it was sampled with must be what this run asks for (the hash stands for
  // these, but a record moved or edited, or one made before the engine entered the hash of every
  // form, must not be reused for another engine, form or top-1 rule).
  const made = { engine: r.engine ?? cfg.sampleEngine, sampler: r.sampler ?? "ddpm", top1Sampling: getVariant(id.variant).gumbel ? (r.top1Sampling ?? "argmax") : cfg.top1Sampling };
  const asked = { engine: cfg.sampleEngine, sampler: cfg.sampler, top1Sampling: cfg.top1Sampling };
  const how = (Object.keys(asked) as (keyof typeof asked)[]).filter((k) => made[k] !== asked[k]).map((k) => `${k}: ${made[k]} vs ${asked[k]}`);
  if (how.length > 0) throw new Error(`sampling run record ${file} was sampled under other settings than this run asks for (record vs request: ${how.join("; ")}); delete it to sample the run again`);
  if (typeof r.metrics !== "object" || r.metrics === null) throw new Error(`sampling run record ${file} has no metrics; delete it`);
  if (r.checkpointWeightsSha256 !== o.weightsSha256) return null; // sampled from other weights: sample again
  if (o.npy) {
    if (!r.npy) return null;
    const npy = path.resolve(p.outDir, r.npy);
    if (!fs.existsSync(npy)) return null;
    if (sha256File(npy) !== r.npySha256) throw new Error(`samples file ${npy} was changed after run ${path.basename(file)} wrote it (SHA-256 differs); delete both to sample again`);
  }
  // maxNonFinite decides whether a run may be scored, and is not part of the identity: the stored
  // count is checked against this run's limit, as a fresh run's would be (a record without a count
  // is sampled again).
  if (typeof r.nonFiniteSamples !== "number" || typeof r.samples !== "number") return null;
  if (r.nonFiniteSamples > cfg.maxNonFinite * r.samples) {
    throw new Error(`sampling run ${id.run} of ${id.variant} (draw ${id.dataSeed}, seed ${id.seed}, ${id.weights} weights; record ${file}): ${r.nonFiniteSamples} of ${r.samples} samples hold non-finite values, more than maxNonFinite ${cfg.maxNonFinite} allows; nothing was scored (the record was made under a looser maxNonFinite)`);
  }
  return { ...r, npy: r.npy ? path.resolve(p.outDir, r.npy) : null, checkpoint: path.resolve(p.outDir, r.checkpoint), status: "reused" };
}

/** A run result as stored on disk: paths relative to the output folder. */
export function storedRun(outDir: string, r: SampleTaskResult): SampleTaskResult {
  return { ...r, npy: r.npy ? path.relative(outDir, r.npy) : null, checkpoint: path.relative(outDir, r.checkpoint) };
}

/**
 * Samples [n, 4, 12] with a NaN or infinite value: their count, or an error naming the run, the
 * count and the first bad sample when they are more than `maxFraction` of the run (a broken model
 * or config: nothing is scored).
 */
export function countNonFinite(tokens: Float32Array, o: { maxFraction: number; what: string }): number {
  const n = tokens.length / 48;
  let count = 0;
  let first = -1;
  for (let i = 0; i < n; i++) {
    if (firstNonFinite(tokens.subarray(i * 48, (i + 1) * 48)) >= 0) {
      count++;
      if (first < 0) first = i;
    }
  }
  if (count > o.maxFraction * n) {
    throw new Error(`${o.what}: ${count} of ${n} samples hold non-finite values (first: sample ${first}), more than maxNonFinite ${o.maxFraction} allows; nothing was scored`);
  }
  return count;
}

/**
 * One sampling run (seed sampleSeed + run) of a trained checkpoint, scored with every metric.
 * Samples with a non-finite value fail every rule and are counted (`nonFiniteSamples`); more than
 * `maxNonFinite` of them is an error naming the run and the first bad sample, never a score.
 */
export function sampleTask(
  cfg: ExperimentConfig, p: Paths, variant: Variant, seed: number, run: number, weights: "ema" | "raw",
  o: { saveNpy: boolean; onProgress?: OnProgress },
): SampleTaskResult {
  const t0 = Date.now();
  const id = runIdentity(cfg, variant, seed, run, weights);
  const file = checkpointPath(p, cfg, variant, seed);
  const ck = readFinishedCheckpoint(file, checkpointRequest(cfg, variant, seed));
  const done = readRunResult(p, cfg, id, { weightsSha256: ck.weightsSha256, npy: o.saveNpy });
  if (done) return done;
  const flat = checkpointTensor(ck, weights === "ema" ? "ema" : "theta", file);
  const schedule = makeSchedule({ steps: cfg.diffusionSteps, betaStart: cfg.betaStart, betaEnd: cfg.betaEnd });
  const engine = sampleEngine(cfg.sampleEngine); // config key `sampleEngine`: same distribution, different noise streams
  // The reverse-step form and the top-1 rule (config keys `sampler`, `top1Sampling`); Gumbel draws
  // have their own stream, so the Gaussian noise of run r is the same under every rule (paired).
  const tokens = engine.sample(flat, variant, schedule, {
    n: cfg.samples, batch: cfg.sampleBatch, rng: new Rng(cfg.sampleSeed + run).split("sample"),
    form: samplerForm(cfg.sampler), gumbelSampling: cfg.top1Sampling, tau: cfg.gumbelTau, gumbelRng: new Rng(cfg.sampleSeed + run).split("sample-gumbel"),
    onStep: (d: number, total: number) => { if (d % 20 === 0 || d === total) o.onProgress?.(d, total, `${variant} seed ${seed} run ${run}`); },
  });
  const nonFiniteSamples = countNonFinite(tokens, {
    maxFraction: cfg.maxNonFinite, what: `sampling run ${run} of ${variant} (draw ${id.dataSeed}, seed ${seed}, ${weights} weights of ${file})`,
  });
  const ds = loadOrCreateDataset(p.dataDir, { size: cfg.datasetSize, seed: id.dataSeed });
  const metrics = evaluateTokens(tokens, datasetImageKeys(ds));
  let npy: string | null = null;
  let npySha256: string | null = null;
  if (o.saveNpy) {
    npy = samplesPath(p, cfg, variant, seed, run, weights);
    saveNpy(npy, tokensToImages(tokens), [cfg.samples, 4, 4, 3]);
    npySha256 = sha256File(npy);
  }
  const result: SampleTaskResult = {
    ...id, metrics, samples: cfg.samples, nonFiniteSamples, npy, npySha256, checkpoint: file, checkpointWeightsSha256: ck.weightsSha256,
    engine: engine.name, sampler: cfg.sampler, ...(getVariant(variant).gumbel ? { top1Sampling: cfg.top1Sampling } : {}), status: "sampled", libraryVersion: libraryVersion(), seconds: (Date.now() - t0) / 1000,
  };
  writeJsonAtomic(runResultPath(p, cfg, variant, seed, run, weights), storedRun(p.outDir, result));
  return result;
}

/** What a training or sampling task needs besides its own fields: the study's config and folders. */
export interface ExperimentContext {
  cfg: ExperimentConfig;
  paths: Paths;
}

/** Train one model (variant, training seed) to completion. */
export interface TrainTask {
  variant: Variant;
  seed: number;
}

/** Draw and score one sampling run of a trained model. */
export interface SampleTask {
  variant: Variant;
  seed: number;
  run: number;
  weights: "ema" | "raw";
  saveNpy: boolean;
}

/** The pool's executor of training tasks (`trainTask`). */
export const TRAIN_TASKS: Executor<TrainTask, ExperimentContext, TrainTaskResult> = {
  module: __filename,
  name: "TRAIN_TASKS",
  savesOnStop: true, // training checks for a stop request between epochs and saves there
  execute: (t, c, onProgress) => trainTask(c.cfg, c.paths, t.variant, t.seed, onProgress),
};

/** The pool's executor of sampling tasks (`sampleTask`). */
export const SAMPLE_TASKS: Executor<SampleTask, ExperimentContext, SampleTaskResult> = {
  module: __filename,
  name: "SAMPLE_TASKS",
  execute: (t, c, onProgress) => sampleTask(c.cfg, c.paths, t.variant, t.seed, t.run, t.weights, { saveNpy: t.saveNpy, onProgress }),
};
