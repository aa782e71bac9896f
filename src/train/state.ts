/**
 * The engine-neutral training state: packed parameters, EMA and AdamW moments as plain float32
 * arrays, step counters, the loss history and the seeded random streams. Engines (src/engines/)
 * load it, step, and store it back; checkpoints save it. Nothing here holds a tensor.
 *
 * Randomness: one seed, split by purpose: "init" (weights), "data" (epoch order), "noise"
 * (timesteps and eps) and "gumbel" (Gumbel-softmax draws of variants that use them).
 */
import { ExperimentConfig, epochsFor } from "../config";
import { makeSchedule, Schedule } from "../ddpm/schedule";
import { packArrays, packedLayout, PackedLayout } from "../model/packed";
import { initParams } from "../model/params";
import { getVariant, Variant } from "../model/variants";
import { Rng } from "../rng";

/** Packed parameter vectors [P]: weights, their EMA, AdamW's first and second moments. */
export interface PackedState {
  theta: Float32Array;
  ema: Float32Array;
  m: Float32Array;
  v: Float32Array;
}

export interface TrainState {
  variant: Variant;
  /** Seed of the dataset draw the model trains on. */
  dataSeed: number;
  seed: number;
  layout: PackedLayout;
  /** Packed raw parameters [P]. */
  theta: Float32Array;
  /** Packed EMA parameters [P]. */
  ema: Float32Array;
  /** AdamW moments [P] and the optimizer steps taken. */
  opt: { m: Float32Array; v: Float32Array; step: number };
  /** Optimizer steps done; also the next step's 0-based index. */
  step: number;
  epoch: number;
  totalSteps: number;
  stepsPerEpoch: number;
  /** Mean loss of each finished epoch. */
  epochLosses: number[];
  rngs: { data: Rng; noise: Rng; gumbel: Rng };
}

/** What every step of one training run shares: the config, the schedule and the training tokens. */
export interface TrainContext {
  cfg: ExperimentConfig;
  /** Seed of the dataset draw `tokens` holds (default cfg.datasetSeed). */
  dataSeed: number;
  schedule: Schedule;
  /** Training tokens [N, 4, 12] in [-1, 1], flat. */
  tokens: Float32Array;
  /** Number of training examples N. */
  n: number;
}

/** Training context for `tokens` [N, 4, 12], the images of dataset draw `dataSeed`. */
export function makeContext(cfg: ExperimentConfig, tokens: Float32Array, dataSeed: number = cfg.datasetSeed): TrainContext {
  if (!(tokens.length > 0 && tokens.length % 48 === 0)) throw new Error(`training tokens must be [N, 4, 12], got ${tokens.length} values`);
  const schedule = makeSchedule({ steps: cfg.diffusionSteps, betaStart: cfg.betaStart, betaEnd: cfg.betaEnd });
  return { cfg, dataSeed, schedule, tokens, n: tokens.length / 48 };
}

/** Fresh state: initial weights from the "init" stream, EMA = weights, zero moments. */
export function initTrainState(ctx: TrainContext, variant: Variant, seed: number): TrainState {
  const layout = packedLayout(variant);
  const rng = new Rng(seed);
  const flat = packArrays(layout, initParams(variant, rng.split("init")));
  const stepsPerEpoch = Math.ceil(ctx.n / ctx.cfg.batchSize);
  return {
    variant,
    dataSeed: ctx.dataSeed,
    seed,
    layout,
    theta: flat,
    ema: flat.slice(),
    opt: { m: new Float32Array(layout.total), v: new Float32Array(layout.total), step: 0 },
    step: 0,
    epoch: 0,
    totalSteps: epochsFor(ctx.cfg, variant) * stepsPerEpoch,
    stepsPerEpoch,
    epochLosses: [],
    rngs: { data: rng.split("data"), noise: rng.split("noise"), gumbel: rng.split("gumbel") },
  };
}

/** The packed vectors of a state (the arrays themselves, not copies). */
export function packedOf(s: TrainState): PackedState {
  return { theta: s.theta, ema: s.ema, m: s.opt.m, v: s.opt.v };
}

/** The randomness of one training step. */
export interface StepNoise {
  /** Timesteps [B] in [0, T). */
  t: Int32Array;
  /** Standard normal noise [B, 4, 12]. */
  eps: Float32Array;
  /** Gumbel(0, 1) draws [B, 4, 4] (variants with `gumbel: true` only). */
  gumbel?: Float32Array;
}

/**
 * Draw one step's randomness from the state's streams: B timesteps, then eps, from "noise";
 * Gumbel draws from "gumbel" for variants that use them. Every engine consumes exactly these.
 */
export function drawStepNoise(s: TrainState, B: number, T: number): StepNoise {
  const t = new Int32Array(B);
  for (let i = 0; i < B; i++) t[i] = s.rngs.noise.int(T);
  const eps = s.rngs.noise.fillNormal(new Float32Array(B * 48));
  const gumbel = getVariant(s.variant).gumbel ? s.rngs.gumbel.fillGumbel(new Float32Array(B * 16)) : undefined;
  return { t, eps, gumbel };
}

/** Index of the first non-finite value, or -1. */
export function firstNonFinite(a: ArrayLike<number>): number {
  for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i])) return i;
  return -1;
}
