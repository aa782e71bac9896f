/**
 * Training: one step function (`trainStep`) that the CLI, notebooks and tests share, and a
 * resumable loop (`train`) with checkpoints at epoch boundaries.
 *
 * Randomness: one seed, split by purpose: "init" (weights), "data" (epoch order), "noise"
 * (timesteps and eps) and "gumbel" (top-1 draws).
 */
import * as tf from "@tensorflow/tfjs-core";
import { ExperimentConfig, epochsFor } from "../config";
import { makeSchedule, Schedule } from "../ddpm/schedule";
import { packedLayout, PackedLayout, packArrays, packTensors, unpackTensors, disposeParams } from "../model/packed";
import { initParams } from "../model/params";
import { getVariant, Variant } from "../model/variants";
import { Rng } from "../rng";
import { adamwInit, adamwStep, AdamWState } from "./adamw";
import { emaDecayAt, emaUpdate } from "./ema";
import { diffusionLoss } from "./loss";
import { oneCycleAt } from "./onecycle";

/** Index of the first non-finite value, or -1. */
export function firstNonFinite(a: ArrayLike<number>): number {
  for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i])) return i;
  return -1;
}

export interface TrainState {
  variant: Variant;
  /** Seed of the dataset draw the model trains on. */
  dataSeed: number;
  seed: number;
  layout: PackedLayout;
  /** Packed raw parameters [P]. */
  theta: tf.Tensor1D;
  /** Packed EMA parameters [P]. */
  ema: tf.Tensor1D;
  opt: AdamWState;
  /** Optimizer steps done; also the next step's 0-based index. */
  step: number;
  epoch: number;
  totalSteps: number;
  stepsPerEpoch: number;
  /** Mean loss of each finished epoch. */
  epochLosses: number[];
  rngs: { data: Rng; noise: Rng; gumbel: Rng };
}

export interface TrainContext {
  cfg: ExperimentConfig;
  /** Seed of the dataset draw `data` holds (default cfg.datasetSeed). */
  dataSeed: number;
  schedule: Schedule;
  /** Training tokens [N, 4, 12] in [-1, 1], resident on the backend. */
  data: tf.Tensor3D;
  /** Float32 loss weights per timestep [T]. */
  lossWeights: tf.Tensor1D;
}

/** Training context for `tokens` [N, 4, 12], the images of dataset draw `dataSeed`. */
export function makeContext(cfg: ExperimentConfig, tokens: Float32Array, dataSeed: number = cfg.datasetSeed): TrainContext {
  const n = tokens.length / 48;
  const schedule = makeSchedule({ steps: cfg.diffusionSteps, betaStart: cfg.betaStart, betaEnd: cfg.betaEnd });
  return {
    cfg,
    dataSeed,
    schedule,
    data: tf.tensor3d(tokens, [n, 4, 12]),
    lossWeights: tf.tensor1d(Float32Array.from(schedule.lossWeights)),
  };
}

export function disposeContext(ctx: TrainContext): void {
  ctx.data.dispose();
  ctx.lossWeights.dispose();
}

/** Fresh state: initial weights from the "init" stream, EMA = weights, zero moments. */
export function initTrainState(ctx: TrainContext, variant: Variant, seed: number): TrainState {
  const layout = packedLayout(variant);
  const rng = new Rng(seed);
  const flat = packArrays(layout, initParams(variant, rng.split("init")));
  const stepsPerEpoch = Math.ceil(ctx.data.shape[0] / ctx.cfg.batchSize);
  return {
    variant,
    dataSeed: ctx.dataSeed,
    seed,
    layout,
    theta: tf.tensor1d(flat),
    ema: tf.tensor1d(flat),
    opt: adamwInit(layout.total),
    step: 0,
    epoch: 0,
    totalSteps: epochsFor(ctx.cfg, variant) * stepsPerEpoch,
    stepsPerEpoch,
    epochLosses: [],
    rngs: { data: rng.split("data"), noise: rng.split("noise"), gumbel: rng.split("gumbel") },
  };
}

export function disposeTrainState(s: TrainState): void {
  s.theta.dispose();
  s.ema.dispose();
  s.opt.m.dispose();
  s.opt.v.dispose();
}

/**
 * One optimizer step on the examples `index` of the training set: forward, weighted loss,
 * gradients, AdamW with the OneCycle lr/beta1 of this step, EMA. Returns the loss (before the
 * update). Throws on a non-finite loss, naming the step.
 */
export function trainStep(ctx: TrainContext, s: TrainState, index: Int32Array): number {
  const { cfg } = ctx;
  const B = index.length;
  // 1. draw this step's randomness (timesteps, noise, Gumbel) from the seeded streams
  const tArr = new Int32Array(B);
  for (let i = 0; i < B; i++) tArr[i] = s.rngs.noise.int(cfg.diffusionSteps);
  const epsArr = s.rngs.noise.fillNormal(new Float32Array(B * 48));
  let gumbelArr: Float32Array | undefined;
  if (getVariant(s.variant).gumbel) {
    gumbelArr = s.rngs.gumbel.fillGumbel(new Float32Array(B * 16));
  }
  const sched = oneCycleAt(s.step, {
    maxLr: cfg.lr, totalSteps: s.totalSteps, pctStart: cfg.pctStart, divFactor: cfg.divFactor,
    finalDivFactor: cfg.finalDivFactor, baseMomentum: cfg.baseMomentum, maxMomentum: cfg.maxMomentum,
  });
  const beta1 = cfg.cycleMomentum ? sched.beta1 : cfg.beta1;
  // 2. loss and gradient with respect to every named parameter, packed into one vector
  const { lossValue, grad } = tf.tidy(() => {
    const t = tf.tensor1d(tArr, "int32");
    const batch = {
      x0: tf.gather(ctx.data, tf.tensor1d(index, "int32")) as tf.Tensor3D,
      eps: tf.tensor3d(epsArr, [B, 4, 12]),
      t,
      weight: tf.gather(ctx.lossWeights, t) as tf.Tensor1D,
      gumbel: gumbelArr ? tf.tensor3d(gumbelArr, [B, 4, 4]) : undefined,
    };
    const p = unpackTensors(s.layout, s.theta);
    const names = s.layout.specs.map((x) => x.name);
    const { value, grads } = tf.valueAndGrads((...xs: tf.Tensor[]) => {
      const named = Object.fromEntries(names.map((n, i) => [n, xs[i]]));
      return diffusionLoss(named, s.variant, ctx.schedule, batch, cfg.gumbelTau);
    })(names.map((n) => p[n]));
    const named = Object.fromEntries(names.map((n, i) => [n, grads[i]]));
    return { lossValue: value, grad: packTensors(s.layout, named) };
  });
  const loss = lossValue.dataSync()[0];
  lossValue.dispose();
  if (!Number.isFinite(loss)) {
    grad.dispose();
    throw new Error(`non-finite loss ${loss} at step ${s.step} (epoch ${s.epoch}, variant ${s.variant}, seed ${s.seed}, lr ${sched.lr})`);
  }
  // 3. AdamW, then EMA of the new weights
  const next = adamwStep(s.theta, grad, s.opt, { lr: sched.lr, beta1, beta2: cfg.beta2, eps: cfg.adamEps, weightDecay: cfg.weightDecay });
  grad.dispose();
  s.theta.dispose();
  s.theta = next;
  s.ema = emaUpdate(s.ema, s.theta, emaDecayAt(s.step, cfg.emaDecay, cfg.emaWarmup));
  // 4. an overflow in the weights or second moments is an error now, not a silent stall later
  for (const [name, t] of [["theta", s.theta], ["v", s.opt.v]] as const) {
    const a = t.dataSync();
    const i = firstNonFinite(a);
    if (i >= 0) throw new Error(`non-finite optimiser state at step ${s.step}: '${name}'[${i}] is ${a[i]} (epoch ${s.epoch}, variant ${s.variant}, seed ${s.seed}, lr ${sched.lr}, loss ${loss})`);
  }
  s.step++;
  return loss;
}

/** One epoch: a fresh permutation from the "data" stream, batches in order. Returns the mean loss. */
export function trainEpoch(ctx: TrainContext, s: TrainState, onStep?: (loss: number) => void): number {
  const n = ctx.data.shape[0];
  const perm = s.rngs.data.permutation(n);
  let sum = 0;
  let count = 0;
  for (let start = 0; start < n; start += ctx.cfg.batchSize) {
    const loss = trainStep(ctx, s, perm.subarray(start, Math.min(n, start + ctx.cfg.batchSize)));
    sum += loss;
    count++;
    onStep?.(loss);
  }
  s.epoch++;
  const mean = sum / count;
  s.epochLosses.push(mean);
  return mean;
}

/** Named parameter tensors of the raw or EMA weights (caller disposes, e.g. with disposeParams). */
export function paramsOf(s: TrainState, which: "ema" | "raw"): ReturnType<typeof unpackTensors> {
  return unpackTensors(s.layout, which === "ema" ? s.ema : s.theta);
}

export { disposeParams };
