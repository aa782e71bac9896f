/**
 * Checkpoints: raw weights, EMA, AdamW moments, step, epoch, loss history, generator states,
 * the resolved config, seed and library version, in one JSON file written atomically and
 * sealed with a SHA-256 of its contents, so a truncated or edited file is refused loudly.
 *
 * Identity: a checkpoint names the model it holds (variant, dataset draw, training seed, the hash
 * of its training config) and `checkIdentity` compares that with what a run asks for before the
 * file is resumed, reused or sampled; `weightsSha256` fingerprints the weights, so results derived
 * from a checkpoint can prove which weights they came from. Non-finite weights or moments are never
 * written, and a file holding them is refused.
 */
import * as fs from "fs";
import { createHash } from "crypto";
import { ExperimentConfig } from "../config";
import { writeFileAtomic } from "../io/atomic";
import { packedLayout } from "../model/packed";
import { parseVariant, Variant } from "../model/variants";
import { Rng } from "../rng";
import { libraryVersion } from "../version";
import { firstNonFinite, TrainContext, TrainState } from "./state";

const FORMAT = "attention-creativity/checkpoint@2";

export interface CheckpointBody {
  format: string;
  libraryVersion: string;
  savedAt: string;
  config: ExperimentConfig;
  variant: Variant;
  /** The model's dataset draw (the config's `datasetSeed` is the study's first draw). */
  dataSeed: number;
  seed: number;
  /** `trainingHash(config, dataSeed)`: the training-relevant config of this model. */
  trainingHash: string;
  /** SHA-256 of the raw then EMA weights' float32 bytes. */
  weightsSha256: string;
  step: number;
  epoch: number;
  totalSteps: number;
  stepsPerEpoch: number;
  epochLosses: number[];
  optStep: number;
  rngs: { data: number[]; noise: number[]; gumbel: number[] };
  tensors: { theta: string; ema: string; m: string; v: string };
}

function bytes(a: Float32Array): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

/** SHA-256 of the raw then EMA weights' float32 bytes: what a sampling run depends on. */
export function weightsDigest(theta: Float32Array, ema: Float32Array): string {
  return createHash("sha256").update(bytes(theta)).update(bytes(ema)).digest("hex");
}


function unb64(s: string, size: number, what: string, file: string): Float32Array {
  const buf = Buffer.from(s, "base64");
  if (buf.length !== size * 4) throw new Error(`checkpoint ${file}: '${what}' holds ${buf.length / 4} values, expected ${size}`);
  const out = new Float32Array(size);
  new Uint8Array(out.buffer).set(buf);
  return out;
}

function seal(body: string): string {
  return createHash("sha256").update(body).digest("hex");
}

/**
 * Save the training state atomically. A state with a non-finite weight, EMA or moment is refused
 * (the last good checkpoint on disk stays).
 */
export function saveCheckpoint(file: string, ctx: TrainContext, s: TrainState): void {
  const arrays = { theta: s.theta, ema: s.ema, m: s.opt.m, v: s.opt.v };
  for (const [k, a] of Object.entries(arrays)) {
    const i = firstNonFinite(a);
    if (i >= 0) throw new Error(`refusing to save checkpoint ${file}: '${k}'[${i}] is ${a[i]} after step ${s.step} (${s.variant}, seed ${s.seed}); the last good checkpoint is kept`);
  }
  const body: CheckpointBody = {
    format: FORMAT,
    libraryVersion: libraryVersion(),
    savedAt: new Date().toISOString(),
    config: ctx.cfg,
    variant: s.variant,
    dataSeed: s.dataSeed,
    seed: s.seed,
    trainingHash: trainingHash(ctx.cfg, s.dataSeed),
    weightsSha256: weightsDigest(arrays.theta, arrays.ema),
    step: s.step,
    epoch: s.epoch,
    totalSteps: s.totalSteps,
    stepsPerEpoch: s.stepsPerEpoch,
    epochLosses: s.epochLosses,
    optStep: s.opt.step,
    rngs: { data: s.rngs.data.getState(), noise: s.rngs.noise.getState(), gumbel: s.rngs.gumbel.getState() },
    tensors: { theta: bytes(arrays.theta).toString("base64"), ema: bytes(arrays.ema).toString("base64"), m: bytes(arrays.m).toString("base64"), v: bytes(arrays.v).toString("base64") },
  };
  const text = JSON.stringify(body);
  writeFileAtomic(file, JSON.stringify({ sha256: seal(text), body: text }));
}

/**
 * Read and verify a checkpoint file: its seal, format, variant, and that every tensor has the
 * variant's size and finite values. Throws naming the file and the problem.
 */
export function readCheckpoint(file: string): CheckpointBody {
  let outer: { sha256?: unknown; body?: unknown };
  try {
    outer = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") throw new Error(`no checkpoint at ${file}`);
    throw new Error(`checkpoint ${file} is corrupt or truncated (${(e as Error).message}); delete it to retrain`);
  }
  if (typeof outer.body !== "string" || typeof outer.sha256 !== "string") throw new Error(`checkpoint ${file} is not a checkpoint of this library (no body/sha256)`);
  if (seal(outer.body) !== outer.sha256) throw new Error(`checkpoint ${file} is corrupt: its SHA-256 does not match its contents`);
  const body = JSON.parse(outer.body) as CheckpointBody;
  if (body.format !== FORMAT) throw new Error(`checkpoint ${file} has format '${body.format}', expected '${FORMAT}' (made by another version of this library; delete it to retrain)`);
  try {
    parseVariant(body.variant);
  } catch (e) {
    throw new Error(`checkpoint ${file}: ${(e as Error).message}`);
  }
  for (const k of ["theta", "ema", "m", "v"] as const) {
    const a = checkpointTensor(body, k, file);
    const i = firstNonFinite(a);
    if (i >= 0) throw new Error(`checkpoint ${file}: '${k}'[${i}] is ${a[i]}; it cannot be resumed or sampled`);
  }
  return body;
}

/** One packed tensor [P] of a checkpoint, size-checked against the variant's layout. */
export function checkpointTensor(b: CheckpointBody, k: keyof CheckpointBody["tensors"], file: string): Float32Array {
  return unb64(b.tensors[k], packedLayout(b.variant).total, k, file);
}

/** What a run asks of a checkpoint. */
export interface CheckpointRequest {
  cfg: ExperimentConfig;
  variant: Variant;
  dataSeed: number;
  seed: number;
  /** Optimizer steps of the finished training. */
  totalSteps: number;
}

/**
 * Differences between a checkpoint and a request: variant, dataset draw, seed, total steps and
 * every training config key (empty = the checkpoint is the requested model).
 */
export function identityDiff(b: CheckpointBody, want: CheckpointRequest): string[] {
  const out: string[] = [];
  if (b.variant !== want.variant) out.push(`variant: ${b.variant} vs ${want.variant}`);
  if (b.dataSeed !== want.dataSeed) out.push(`dataset draw: ${b.dataSeed} vs ${want.dataSeed}`);
  if (b.seed !== want.seed) out.push(`seed: ${b.seed} vs ${want.seed}`);
  if (b.totalSteps !== want.totalSteps) out.push(`totalSteps: ${b.totalSteps} vs ${want.totalSteps}`);
  out.push(...trainingDiff({ ...b.config, datasetSeed: b.dataSeed }, { ...want.cfg, datasetSeed: want.dataSeed }));
  return out;
}

/** Throw unless checkpoint `b` (from `file`) holds the requested model, naming the file and every differing key. */
export function checkIdentity(b: CheckpointBody, file: string, want: CheckpointRequest): void {
  const diff = identityDiff(b, want);
  if (diff.length > 0) {
    throw new Error(`checkpoint ${file} holds another model than this run asks for (checkpoint vs request: ${diff.join("; ")}); delete it or use another output folder`);
  }
}

/** Read a checkpoint and check it holds the requested, finished model. */
export function readFinishedCheckpoint(file: string, want: CheckpointRequest): CheckpointBody {
  const b = readCheckpoint(file);
  checkIdentity(b, file, want);
  if (b.step < b.totalSteps) throw new Error(`checkpoint ${file} is unfinished (step ${b.step} of ${b.totalSteps}); train it first`);
  return b;
}

/** Rebuild a training state from a checkpoint; its training config must be the context's (`trainingDiff`). */
export function restoreTrainState(file: string, ctx: TrainContext): TrainState {
  const b = readCheckpoint(file);
  const layout = packedLayout(b.variant);
  const rng = (state: number[], purpose: string) => {
    const r = new Rng(b.seed).split(purpose);
    r.setState(state);
    return r;
  };
  const diff = trainingDiff({ ...b.config, datasetSeed: b.dataSeed }, { ...ctx.cfg, datasetSeed: ctx.dataSeed });
  if (diff.length > 0) throw new Error(`checkpoint ${file} was trained with another config than this context's (${diff.join("; ")})`);
  const arr = (k: keyof CheckpointBody["tensors"]) => checkpointTensor(b, k, file);
  return {
    variant: b.variant,
    dataSeed: b.dataSeed,
    seed: b.seed,
    layout,
    theta: arr("theta"),
    ema: arr("ema"),
    opt: { m: arr("m"), v: arr("v"), step: b.optStep },
    step: b.step,
    epoch: b.epoch,
    totalSteps: b.totalSteps,
    stepsPerEpoch: b.stepsPerEpoch,
    epochLosses: b.epochLosses,
    rngs: { data: rng(b.rngs.data, "data"), noise: rng(b.rngs.noise, "noise"), gumbel: rng(b.rngs.gumbel, "gumbel") },
  };
}

/** Config keys that change what training computes (sampling-only keys may differ). */
export const TRAINING_KEYS: (keyof ExperimentConfig)[] = [
  "datasetSize", "datasetSeed", "diffusionSteps", "betaStart", "betaEnd", "epochs", "top1EpochFactor", "batchSize",
  "lr", "beta1", "beta2", "adamEps", "weightDecay", "cycleMomentum", "pctStart", "divFactor", "finalDivFactor",
  "baseMomentum", "maxMomentum", "emaDecay", "emaWarmup", "gumbelTau",
];

/**
 * Training keys added after checkpoint format 2 was fixed, with the value every earlier checkpoint
 * was trained with. They enter a model's identity only when they differ from it, so adding a key
 * leaves the name and hash of every existing checkpoint unchanged.
 */
export const ADDED_TRAINING_KEYS: Partial<Record<keyof ExperimentConfig, boolean | number | string>> = { gumbelHard: false };

/** The value of an added key in a (possibly older) stored config: absent means its original value. */
function addedValue(cfg: Partial<ExperimentConfig>, k: keyof ExperimentConfig): unknown {
  return cfg[k] ?? ADDED_TRAINING_KEYS[k];
}

/** Keys whose values differ between two configs' training parts (empty = same training). */
export function trainingDiff(a: ExperimentConfig, b: ExperimentConfig): string[] {
  const added = Object.keys(ADDED_TRAINING_KEYS) as (keyof ExperimentConfig)[];
  return [
    ...TRAINING_KEYS.filter((k) => a[k] !== b[k]).map((k) => `${k}: ${a[k]} vs ${b[k]}`),
    ...added.filter((k) => addedValue(a, k) !== addedValue(b, k)).map((k) => `${k}: ${addedValue(a, k)} vs ${addedValue(b, k)}`),
  ];
}

/** The training part of `cfg` for a model on dataset draw `dataSeed` (added keys only where they differ from their original value). */
export function trainingConfig(cfg: ExperimentConfig, dataSeed: number): Record<string, unknown> {
  const added = (Object.keys(ADDED_TRAINING_KEYS) as (keyof ExperimentConfig)[]).filter((k) => addedValue(cfg, k) !== ADDED_TRAINING_KEYS[k]);
  return Object.fromEntries([...TRAINING_KEYS, ...added].map((k) => [k, k === "datasetSeed" ? dataSeed : cfg[k]]));
}

/** Short hash of a model's training config: a tweak gives a new checkpoint, a rerun reuses it. */
export function trainingHash(cfg: ExperimentConfig, dataSeed: number): string {
  return createHash("sha256").update(JSON.stringify(trainingConfig(cfg, dataSeed))).digest("hex").slice(0, 10);
}
