/**
 * The score network eps(x_t, t) on the token layout (SPEC.md "Score network"):
 *
 *   tokens x [B, 4, 12] --conv1 (2x2 stride-2 conv == dense 12->32)--> h [B, 4, 32]
 *   h = SiLU(h + timeMLP(sinusoidal(t)))                      time conditioning, every token
 *   h = h + softmax(Q K^T / sqrt(d)) V                          attention variants only
 *   eps = out(h)  (2x2 stride-2 transposed conv == dense 32->12)
 *
 * Variants share this base; they differ only in the attention block, which their descriptor
 * (src/variants/<name>.ts) computes.
 */
import * as tf from "@tensorflow/tfjs-core";
import { dense, silu } from "./layers";
import { HALF, TIME_FREQS } from "./time-embedding";
import { BlockOptions, HIDDEN, ParamTensors } from "./variant-registry";
import { getVariant, Variant } from "./variants";

export type { ParamTensors } from "./variant-registry";

/**
 * "train": a Gumbel-softmax variant (top1) uses the given `gumbel` draws; "sample": it uses the
 * hard argmax (one-hot). Other variants ignore the mode.
 */
export type ForwardOptions = BlockOptions;

export interface ForwardResult {
  /** Predicted noise [B, 4, 12]. */
  eps: tf.Tensor3D;
  /** Attention weights [B, 4 queries, 4 keys], or null for the CNN. */
  attention: tf.Tensor3D | null;
}


/** Sinusoidal embedding [sin(t f), cos(t f)] of integer timesteps: t [Bt] -> [Bt, 32]. */
export function sinusoidalEmbedding(t: tf.Tensor1D): tf.Tensor2D {
  return tf.tidy(() => {
    const arg = tf.mul(tf.reshape(tf.cast(t, "float32"), [-1, 1]), tf.tensor2d(TIME_FREQS, [1, HALF])); // [Bt, 16]
    return tf.concat([tf.sin(arg), tf.cos(arg)], 1) as tf.Tensor2D;
  });
}

/** Time MLP: sinusoidal(t) -> dense 32 -> SiLU -> dense 32. t [Bt] -> [Bt, 32]. */
export function timeEmbedding(p: ParamTensors, t: tf.Tensor1D): tf.Tensor2D {
  return tf.tidy(() => {
    const h = silu(dense(sinusoidalEmbedding(t), p["time.w1"], p["time.b1"])) as tf.Tensor2D; // [Bt, 32]
    return dense(h, p["time.w2"], p["time.b2"]);
  });
}

/** Attention weights [B, 4 queries, 4 keys] of a variant for hidden tokens h [B, 4, 32] (its descriptor's block). */
export function attentionWeights(p: ParamTensors, variant: Variant, h: tf.Tensor3D, opts: ForwardOptions): tf.Tensor3D {
  const block = getVariant(variant).attention;
  if (!block) throw new Error(`variant '${variant}' has no attention block`);
  return tf.tidy(() => block.forward(p, h, opts).weights);
}

/**
 * eps(x_t, t). x [B, 4, 12] tokens; t [B] or [1] timesteps (one value broadcasts over the batch).
 */
export function scoreNet(p: ParamTensors, variant: Variant, x: tf.Tensor3D, t: tf.Tensor1D, opts: ForwardOptions): ForwardResult {
  const [B, N, F] = x.shape;
  const hConv = tf.reshape(dense(tf.reshape(x, [B * N, F]) as tf.Tensor2D, p["conv1.w"], p["conv1.b"]), [B, N, HIDDEN]); // [B, 4, 32]
  const temb = tf.reshape(timeEmbedding(p, t), [-1, 1, HIDDEN]); // [B or 1, 1, 32]
  let h = silu(tf.add(hConv, temb)) as tf.Tensor3D;
  let attention: tf.Tensor3D | null = null;
  const block = getVariant(variant).attention;
  if (block) {
    const r = block.forward(p, h, opts);
    attention = r.weights;
    h = tf.add(h, r.update) as tf.Tensor3D; // residual
  }
  const bias = tf.tile(p["out.b"], [4]); // per-channel bias over the 2x2 output pixels
  const eps = tf.reshape(dense(tf.reshape(h, [B * N, HIDDEN]) as tf.Tensor2D, p["out.w"], bias), [B, N, F]) as tf.Tensor3D;
  return { eps, attention };
}
