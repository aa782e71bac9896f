/** Small tfjs building blocks shared by the network and the attention blocks of the variants. */
import * as tf from "@tensorflow/tfjs-core";
import { HIDDEN } from "./variant-registry";

export function silu(x: tf.Tensor): tf.Tensor {
  return tf.mul(x, tf.sigmoid(x));
}

/** x [N, in] W [in, out] (+ b) -> [N, out]. */
export function dense(x: tf.Tensor2D, w: tf.Tensor, b?: tf.Tensor): tf.Tensor2D {
  const y = tf.matMul(x, w as tf.Tensor2D) as tf.Tensor2D;
  return b ? (tf.add(y, b) as tf.Tensor2D) : y;
}

/** A per-token linear map (no bias) of tokens h [B, N, in] -> [B, N, out]. */
export function tokenLinear(h: tf.Tensor3D, w: tf.Tensor): tf.Tensor3D {
  const [B, N, D] = h.shape;
  const out = (w as tf.Tensor2D).shape[1];
  return tf.reshape(dense(tf.reshape(h, [B * N, D]) as tf.Tensor2D, w), [B, N, out]);
}

/** Scaled dot-product scores q k^T / sqrt(d): [B, N, d] x [B, N, d] -> [B, N queries, N keys]. */
export function attentionScores(q: tf.Tensor3D, k: tf.Tensor3D): tf.Tensor3D {
  return tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(HIDDEN)) as tf.Tensor3D;
}

/** The single-head residual update: weights [B, N, N] applied to the values h Wv. */
export function attendValues(weights: tf.Tensor3D, h: tf.Tensor3D, wv: tf.Tensor): tf.Tensor3D {
  return tf.matMul(weights, tokenLinear(h, wv)) as tf.Tensor3D;
}

/** A [HIDDEN, HIDDEN] parameter of an attention block (PyTorch Linear(32, 32) initialisation). */
export const square = (name: string) => ({ name, shape: [HIDDEN, HIDDEN], fanIn: HIDDEN });
