/**
 * Exponential moving average of the parameters, with warm-up (SPEC): the decay for update n
 * (0-based) is min(decay, (1 + n) / (10 + n)), so short runs are not dominated by the random
 * initial weights.
 */
import * as tf from "@tensorflow/tfjs-core";

export function emaDecayAt(n: number, decay: number, warmup: boolean): number {
  return warmup ? Math.min(decay, (1 + n) / (10 + n)) : decay;
}

/** ema <- d * ema + (1 - d) * theta. Returns the new average and disposes the old one. */
export function emaUpdate(ema: tf.Tensor1D, theta: tf.Tensor1D, d: number): tf.Tensor1D {
  const next = tf.tidy(() => tf.add(ema, tf.mul(tf.sub(theta, ema), 1 - d)) as tf.Tensor1D);
  ema.dispose();
  return next;
}
