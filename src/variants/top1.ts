/**
 * CNN + top-1 attention: learnable Q, K, V; training uses Gumbel-softmax over the keys
 * (softmax((scores + g) / tau), g ~ Gumbel(0, 1); straight-through hard with config key gumbelHard),
 * sampling the hard argmax (one-hot; config key top1Sampling chooses another rule). The paper
 * trained it twice as long (10 000 epochs).
 */
import * as tf from "@tensorflow/tfjs-core";
import { foldScoreMatrix } from "../model/fold";
import { attendValues, attentionScores, square, tokenLinear } from "../model/layers";
import type { VariantDescriptor } from "../model/variant-registry";

/** One-hot of the row-wise argmax [B, 4, 4] (ties: the first index). */
function oneHotArgMax(x: tf.Tensor3D): tf.Tensor3D {
  // oneHot's dtype argument is ignored by tfjs-backend-wasm 4.22 (int32 bits read as float32): cast.
  return tf.cast(tf.oneHot(tf.argMax(x, -1), x.shape[2]), "float32") as tf.Tensor3D;
}

/**
 * Straight-through one-hot (PyTorch's gumbel_softmax(hard=True)): the forward value is
 * (onehot(argmax y) - y) + y, the gradient passes to y unchanged.
 */
const straightThrough = tf.customGrad((...args) => {
  const y = args[0] as tf.Tensor3D;
  return { value: tf.add(tf.sub(oneHotArgMax(y), y), y) as tf.Tensor3D, gradFunc: (dy: tf.Tensor) => dy };
});

export const top1: VariantDescriptor = {
  name: "top1",
  label: "CNN + Top-1 (Gumbel) Attention",
  paper: 0.2164,
  colour: "#9467bd",
  attention: {
    params: [square("attn.wq"), square("attn.wk"), square("attn.wv")],
    forward: (p, h, o) => {
      const scores = attentionScores(tokenLinear(h, p["attn.wq"]), tokenLinear(h, p["attn.wk"])); // [B, 4, 4]
      const rule = o.mode === "train" ? "train" : o.sampling ?? "argmax";
      let weights: tf.Tensor3D;
      if (rule === "argmax") {
        weights = oneHotArgMax(scores);
      } else {
        if (!o.gumbel) throw new Error(`top1 attention (${rule}) needs Gumbel draws (gumbel)`);
        const noisy = tf.add(scores, o.gumbel) as tf.Tensor3D;
        if (rule === "gumbel-hard") {
          weights = oneHotArgMax(noisy);
        } else {
          const soft = tf.softmax(tf.div(noisy, o.tau ?? 1)) as tf.Tensor3D;
          // straight-through (PyTorch's gumbel_softmax(hard=True)): forward (hard - soft) + soft, gradient through soft
          weights = rule === "train" && o.hard ? (straightThrough(soft) as tf.Tensor3D) : soft;
        }
      }
      return { update: attendValues(weights, h, p["attn.wv"]), weights };
    },
  },
  gumbel: true,
  longTraining: true,
  wasm: { block: "top1", foldSampler: (p) => foldScoreMatrix(p["attn.wq"], p["attn.wk"]) }, // assembly/blocks/top1.ts
  torch: `s = scores(self.wq(h), self.wk(h))
if ctx.mode == "argmax":
    return F.one_hot(s.argmax(dim=-1), 4).to(s.dtype)
if ctx.mode == "gumbel-hard":
    return F.one_hot((s + ctx.gumbel).argmax(dim=-1), 4).to(s.dtype)
y = ((s + ctx.gumbel) / ctx.tau).softmax(dim=-1)
if ctx.mode == "train" and ctx.hard:
    return F.one_hot(y.argmax(dim=-1), 4).to(y.dtype) - y.detach() + y
return y`,
};
