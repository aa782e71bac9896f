/**
 * Checkpoints: raw weights, EMA, AdamW moments, step, epoch, loss history, generator states,
 * the resolved config, seed and library version, in one JSON file written atomically and
 * sealed with a SHA-256 of its contents, so a truncated or edited file is refused loudly.
 */
import * as fs from "fs";
import { createHash } from "crypto";
import * as tf from "@tensorflow/tfjs-core";
import { ExperimentConfig } from "../config";
import { writeFileAtomic } from "../io/atomic";
import { packedLayout } from "../model/packed";
import { parseVariant, Variant } from "../model/variants";
import { Rng } from "../rng";
import { libraryVersion } from "../version";
import { TrainContext, TrainState } from "./trainer";

const FORMAT = "attention-creativity/checkpoint@1";

interface CheckpointBody {
  format: string;
  libraryVersion: string;
  savedAt: string;
  config: ExperimentConfig;
  variant: Variant;
  seed: number;
  step: number;
  epoch: number;
  totalSteps: number;
  stepsPerEpoch: number;
  epochLosses: number[];
  optStep: number;
  rngs: { data: number[]; noise: number[]; gumbel: number[] };
  tensors: { theta: string; ema: string; m: string; v: string };
}

function b64(t: tf.Tensor): string {
  const a = t.dataSync() as Float32Array;
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString("base64");
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

/** Save the training state atomically. */
export function saveCheckpoint(file: string, ctx: TrainContext, s: TrainState): void {
  const body: CheckpointBody = {
    format: FORMAT,
    libraryVersion: libraryVersion(),
    savedAt: new Date().toISOString(),
    config: ctx.cfg,
    variant: s.variant,
    seed: s.seed,
    step: s.step,
    epoch: s.epoch,
    totalSteps: s.totalSteps,
    stepsPerEpoch: s.stepsPerEpoch,
    epochLosses: s.epochLosses,
    optStep: s.opt.step,
    rngs: { data: s.rngs.data.getState(), noise: s.rngs.noise.getState(), gumbel: s.rngs.gumbel.getState() },
    tensors: { theta: b64(s.theta), ema: b64(s.ema), m: b64(s.opt.m), v: b64(s.opt.v) },
  };
  const text = JSON.stringify(body);
  writeFileAtomic(file, JSON.stringify({ sha256: seal(text), body: text }));
}

/** Read and verify a checkpoint file; throws naming the file and the problem. */
export function readCheckpoint(file: string): CheckpointBody {
  let outer: { sha256?: unknown; body?: unknown };
  try {
    outer = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (e) {
    throw new Error(`checkpoint ${file} is corrupt or truncated (${(e as Error).message}); delete it to retrain`);
  }
  if (typeof outer.body !== "string" || typeof outer.sha256 !== "string") throw new Error(`checkpoint ${file} is not a checkpoint of this library (no body/sha256)`);
  if (seal(outer.body) !== outer.sha256) throw new Error(`checkpoint ${file} is corrupt: its SHA-256 does not match its contents`);
  const body = JSON.parse(outer.body) as CheckpointBody;
  if (body.format !== FORMAT) throw new Error(`checkpoint ${file} has format '${body.format}', expected '${FORMAT}'`);
  parseVariant(body.variant);
  return body;
}

/** Rebuild a training state from a checkpoint (its config must match `ctx.cfg`, see `sameTraining`). */
export function restoreTrainState(file: string, ctx: TrainContext): TrainState {
  const b = readCheckpoint(file);
  const layout = packedLayout(b.variant);
  const rng = (state: number[], purpose: string) => {
    const r = new Rng(b.seed).split(purpose);
    r.setState(state);
    return r;
  };
  const arr = (k: keyof CheckpointBody["tensors"]) => tf.tensor1d(unb64(b.tensors[k], layout.total, k, file));
  return {
    variant: b.variant,
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

/** Keys whose values differ between two configs' training parts (empty = same training). */
export function trainingDiff(a: ExperimentConfig, b: ExperimentConfig): string[] {
  return TRAINING_KEYS.filter((k) => a[k] !== b[k]).map((k) => `${k}: ${a[k]} vs ${b[k]}`);
}
