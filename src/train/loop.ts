/**
 * The training loop, one for every engine: each step draws its randomness from the state's
 * streams (`drawStepNoise`), takes the OneCycle learning rate and beta1 and the EMA decay of its
 * index (`stepSettings`), runs on the engine, and is checked (a non-finite loss, weight or second
 * moment is an error naming the step). The CLI, the notebooks and the tests all train through here.
 */
import * as tf from "@tensorflow/tfjs-core";
import type { TrainEngine } from "../engines/engine";
import { disposeParams, unpackTensors } from "../model/packed";
import { AdamWHyper } from "./adamw";
import { emaDecayAt } from "./ema";
import { oneCycleAt } from "./onecycle";
import { drawStepNoise, packedOf, TrainContext, TrainState } from "./state";

/** AdamW settings and EMA decay of optimizer step `s.step` (0-based): OneCycle lr and beta1 (cycled or fixed), warm-up EMA. */
export function stepSettings(ctx: TrainContext, s: TrainState): { hyper: AdamWHyper; emaDecay: number } {
  const { cfg } = ctx;
  const sched = oneCycleAt(s.step, {
    maxLr: cfg.lr, totalSteps: s.totalSteps, pctStart: cfg.pctStart, divFactor: cfg.divFactor,
    finalDivFactor: cfg.finalDivFactor, baseMomentum: cfg.baseMomentum, maxMomentum: cfg.maxMomentum,
  });
  const beta1 = cfg.cycleMomentum ? sched.beta1 : cfg.beta1;
  return {
    hyper: { lr: sched.lr, beta1, beta2: cfg.beta2, eps: cfg.adamEps, weightDecay: cfg.weightDecay },
    emaDecay: emaDecayAt(s.step, cfg.emaDecay, cfg.emaWarmup),
  };
}

/** One step on the engine; the state's counters advance, its arrays are left stale. */
function advance(ctx: TrainContext, s: TrainState, engine: TrainEngine, index: Int32Array): number {
  if (engine.variant !== s.variant) throw new Error(`a ${engine.variant} engine cannot train a ${s.variant} state`);
  // 1. this step's randomness and settings
  const noise = drawStepNoise(s, index.length, ctx.cfg.diffusionSteps);
  const { hyper, emaDecay } = stepSettings(ctx, s);
  // 2. loss, gradient, AdamW, EMA
  const loss = engine.step(index, noise, hyper, s.opt.step + 1, emaDecay);
  // 3. checks: an overflow is an error now, not a silent stall later
  if (!Number.isFinite(loss)) {
    throw new Error(`non-finite loss ${loss} at step ${s.step} (epoch ${s.epoch}, variant ${s.variant}, seed ${s.seed}, lr ${hyper.lr})`);
  }
  const bad = engine.nonFinite();
  if (bad) {
    throw new Error(`non-finite optimiser state at step ${s.step}: '${bad.name}'[${bad.index}] is ${bad.value} (epoch ${s.epoch}, variant ${s.variant}, seed ${s.seed}, lr ${hyper.lr}, loss ${loss})`);
  }
  s.opt.step++;
  s.step++;
  return loss;
}

/**
 * One optimizer step on the examples `index` of the training set (forward, weighted loss,
 * gradients, AdamW with this step's OneCycle lr and beta1, EMA), on `engine`, which holds the
 * state's weights; the state's arrays are updated after the step. Returns the loss before the
 * update. Throws on a non-finite loss or state, naming the step.
 */
export function trainStep(ctx: TrainContext, s: TrainState, engine: TrainEngine, index: Int32Array): number {
  try {
    return advance(ctx, s, engine, index);
  } finally {
    engine.store(packedOf(s));
  }
}

/**
 * One epoch: a fresh permutation from the "data" stream, batches in order; the state's arrays are
 * written back once at the end (also when a step or callback throws, so the state stays
 * consistent). Returns the epoch's mean loss.
 */
export function trainEpoch(ctx: TrainContext, s: TrainState, engine: TrainEngine, onStep?: (loss: number) => void): number {
  const perm = s.rngs.data.permutation(ctx.n);
  let sum = 0;
  let count = 0;
  try {
    for (let start = 0; start < ctx.n; start += ctx.cfg.batchSize) {
      const loss = advance(ctx, s, engine, perm.subarray(start, Math.min(ctx.n, start + ctx.cfg.batchSize)));
      sum += loss;
      count++;
      onStep?.(loss);
    }
  } finally {
    engine.store(packedOf(s));
  }
  s.epoch++;
  const mean = sum / count;
  s.epochLosses.push(mean);
  return mean;
}

/** Named parameter tensors of the raw or EMA weights (caller disposes, e.g. with disposeParams). */
export function paramsOf(s: TrainState, which: "ema" | "raw"): ReturnType<typeof unpackTensors> {
  return tf.tidy(() => unpackTensors(s.layout, tf.tensor1d(which === "ema" ? s.ema : s.theta)));
}

export { disposeParams };
