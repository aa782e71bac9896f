/**
 * AdamW (Loshchilov & Hutter) with decoupled weight decay, as torch.optim.AdamW computes it,
 * on one packed parameter vector: a handful of kernels per step instead of a handful per tensor.
 */
import * as tf from "@tensorflow/tfjs-core";

export interface AdamWHyper {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
}

export interface AdamWState {
  m: tf.Tensor1D;
  v: tf.Tensor1D;
  /** Optimizer steps taken so far. */
  step: number;
}

export function adamwInit(size: number): AdamWState {
  return { m: tf.zeros([size]), v: tf.zeros([size]), step: 0 };
}

/**
 * One AdamW step. Returns the new parameters and disposes the old `m` and `v` (not `theta`).
 * Bias correction uses the current beta1, as PyTorch does when a scheduler cycles it.
 */
export function adamwStep(theta: tf.Tensor1D, grad: tf.Tensor1D, s: AdamWState, h: AdamWHyper): tf.Tensor1D {
  const step = s.step + 1;
  const bc1 = 1 - Math.pow(h.beta1, step);
  const bc2 = 1 - Math.pow(h.beta2, step);
  const [next, m, v] = tf.tidy(() => {
    const m = tf.add(tf.mul(s.m, h.beta1), tf.mul(grad, 1 - h.beta1));
    const v = tf.add(tf.mul(s.v, h.beta2), tf.mul(tf.square(grad), 1 - h.beta2));
    const denom = tf.add(tf.div(tf.sqrt(v), Math.sqrt(bc2)), h.eps);
    const decayed = tf.mul(theta, 1 - h.lr * h.weightDecay);
    const next = tf.sub(decayed, tf.mul(tf.div(m, denom), h.lr / bc1));
    return [next, m, v] as tf.Tensor1D[];
  });
  s.m.dispose();
  s.v.dispose();
  s.m = m;
  s.v = v;
  s.step = step;
  return next;
}
