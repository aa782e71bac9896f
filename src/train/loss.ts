/**
 * The weighted DDPM loss (SPEC): per example (1 - alphaBar_t) * mean((eps_hat - eps)^2),
 * averaged over the batch.
 */
import * as tf from "@tensorflow/tfjs-core";
import { addNoise, Schedule } from "../ddpm/schedule";
import { ParamTensors, scoreNet } from "../model/network";
import { Variant } from "../model/variants";

export interface LossBatch {
  /** Clean tokens [B, 4, 12]. */
  x0: tf.Tensor3D;
  /** Standard normal noise [B, 4, 12]. */
  eps: tf.Tensor3D;
  /** Timesteps int32 [B]. */
  t: tf.Tensor1D;
  /** Loss weights 1 - alphaBar_t, float32 [B]. */
  weight: tf.Tensor1D;
  /** Gumbel(0, 1) draws [B, 4, 4] (top1 only). */
  gumbel?: tf.Tensor3D;
}

/**
 * The loss of batch `b`. `gumbel`: the Gumbel-softmax settings of variants that use it (temperature
 * tau, SPEC 1; straight-through `hard`, SPEC false).
 */
export function diffusionLoss(p: ParamTensors, variant: Variant, s: Schedule, b: LossBatch, gumbel: { tau: number; hard: boolean } = { tau: 1, hard: false }): tf.Scalar {
  return tf.tidy(() => {
    const xt = addNoise(s, b.x0, b.eps, b.t) as tf.Tensor3D;
    const { eps } = scoreNet(p, variant, xt, b.t, { mode: "train", gumbel: b.gumbel, tau: gumbel.tau, hard: gumbel.hard });
    const mse = tf.mean(tf.squaredDifference(eps, b.eps), [1, 2]); // [B]
    return tf.mean(tf.mul(mse, b.weight)) as tf.Scalar;
  });
}
