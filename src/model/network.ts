/**
 * The score network eps(x_t, t) on the token layout (SPEC.md "Score network"):
 *
 *   tokens x [B, 4, 12] --conv1 (2x2 stride-2 conv == dense 12->32)--> h [B, 4, 32]
 *   h = SiLU(h + timeMLP(sinusoidal(t)))                      time conditioning, every token
 *   h = h + softmax(Q K^T / sqrt(d)) V                          attention variants only
 *   eps = out(h)  (2x2 stride-2 transposed conv == dense 32->12)
 *
 * Variants share this base; they differ only in the attention block (see `attentionWeights`).
 */
import * as tf from "@tensorflow/tfjs-core";
import { HIDDEN } from "./params";
import { Variant } from "./variants";

export type ParamTensors = Record<string, tf.Tensor>;

export interface ForwardOptions {
  /**
   * "train": top-1 uses Gumbel-softmax over keys with the given `gumbel` draws;
   * "sample": top-1 uses the hard argmax (one-hot). Other variants ignore the mode.
   */
  mode: "train" | "sample";
  /** Gumbel(0, 1) draws [B, 4, 4]; required by top1 in train mode. */
  gumbel?: tf.Tensor;
  /** Gumbel-softmax temperature (SPEC: 1). */
  tau?: number;
}

export interface ForwardResult {
  /** Predicted noise [B, 4, 12]. */
  eps: tf.Tensor3D;
  /** Attention weights [B, 4 queries, 4 keys], or null for the CNN. */
  attention: tf.Tensor3D | null;
}

const HALF = HIDDEN / 2;
/** Sinusoidal frequencies exp(-ln(10000) i / 16), i = 0..15. */
const FREQS = Float32Array.from({ length: HALF }, (_, i) => Math.exp((-Math.log(10000) * i) / HALF));

/** Sinusoidal embedding [sin(t f), cos(t f)] of integer timesteps: t [Bt] -> [Bt, 32]. */
export function sinusoidalEmbedding(t: tf.Tensor1D): tf.Tensor2D {
  return tf.tidy(() => {
    const arg = tf.mul(tf.reshape(tf.cast(t, "float32"), [-1, 1]), tf.tensor2d(FREQS, [1, HALF])); // [Bt, 16]
    return tf.concat([tf.sin(arg), tf.cos(arg)], 1) as tf.Tensor2D;
  });
}

function silu(x: tf.Tensor): tf.Tensor {
  return tf.mul(x, tf.sigmoid(x));
}

function dense(x: tf.Tensor2D, w: tf.Tensor, b?: tf.Tensor): tf.Tensor2D {
  const y = tf.matMul(x, w as tf.Tensor2D) as tf.Tensor2D;
  return b ? (tf.add(y, b) as tf.Tensor2D) : y;
}

/** Time MLP: sinusoidal(t) -> dense 32 -> SiLU -> dense 32. t [Bt] -> [Bt, 32]. */
export function timeEmbedding(p: ParamTensors, t: tf.Tensor1D): tf.Tensor2D {
  return tf.tidy(() => {
    const h = silu(dense(sinusoidalEmbedding(t), p["time.w1"], p["time.b1"])) as tf.Tensor2D; // [Bt, 32]
    return dense(h, p["time.w2"], p["time.b2"]);
  });
}

/**
 * Attention weights [B, 4, 4] of a variant for hidden tokens h [B, 4, 32]:
 * - attention: softmax(h Wq (h Wk)^T / sqrt(d));
 * - identity:  softmax(h h^T / sqrt(d))  (Q = K = identity, fixed);
 * - top1:      train: softmax((scores + gumbel) / tau); sample: one-hot argmax of the scores.
 */
export function attentionWeights(p: ParamTensors, variant: Variant, h: tf.Tensor3D, opts: ForwardOptions): tf.Tensor3D {
  const [B, N] = h.shape;
  const flat = tf.reshape(h, [B * N, HIDDEN]) as tf.Tensor2D;
  let q: tf.Tensor3D = h;
  let k: tf.Tensor3D = h;
  if (variant === "attention" || variant === "top1") {
    q = tf.reshape(dense(flat, p["attn.wq"]), [B, N, HIDDEN]);
    k = tf.reshape(dense(flat, p["attn.wk"]), [B, N, HIDDEN]);
  }
  const scores = tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(HIDDEN)) as tf.Tensor3D; // [B, 4, 4]
  if (variant !== "top1") return tf.softmax(scores) as tf.Tensor3D;
  // oneHot's dtype argument is ignored by tfjs-backend-wasm 4.22 (int32 bits read as float32): cast.
  if (opts.mode === "sample") return tf.cast(tf.oneHot(tf.argMax(scores, -1), N), "float32") as tf.Tensor3D;
  if (!opts.gumbel) throw new Error("top1 attention in train mode needs Gumbel draws (opts.gumbel)");
  return tf.softmax(tf.div(tf.add(scores, opts.gumbel), opts.tau ?? 1)) as tf.Tensor3D;
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
  if (variant !== "cnn") {
    attention = attentionWeights(p, variant, h, opts);
    const v = tf.reshape(dense(tf.reshape(h, [B * N, HIDDEN]) as tf.Tensor2D, p["attn.wv"]), [B, N, HIDDEN]);
    h = tf.add(h, tf.matMul(attention, v)) as tf.Tensor3D; // residual
  }
  const bias = tf.tile(p["out.b"], [4]); // per-channel bias over the 2x2 output pixels
  const eps = tf.reshape(dense(tf.reshape(h, [B * N, HIDDEN]) as tf.Tensor2D, p["out.w"], bias), [B, N, F]) as tf.Tensor3D;
  return { eps, attention };
}
