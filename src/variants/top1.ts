/**
 * CNN + top-1 attention: learnable Q, K, V; training uses Gumbel-softmax over the keys
 * (softmax((scores + g) / tau), g ~ Gumbel(0, 1)), sampling the hard argmax (one-hot). The paper
 * trained it twice as long (10 000 epochs).
 */
import * as tf from "@tensorflow/tfjs-core";
import { attendValues, attentionScores, square, tokenLinear } from "../model/layers";
import type { VariantDescriptor } from "../model/variant-registry";

export const top1: VariantDescriptor = {
  name: "top1",
  label: "CNN + Top-1 (Gumbel) Attention",
  paper: 0.2164,
  colour: "#9467bd",
  attention: {
    params: [square("attn.wq"), square("attn.wk"), square("attn.wv")],
    forward: (p, h, o) => {
      const scores = attentionScores(tokenLinear(h, p["attn.wq"]), tokenLinear(h, p["attn.wk"])); // [B, 4, 4]
      let weights: tf.Tensor3D;
      if (o.mode === "sample") {
        // oneHot's dtype argument is ignored by tfjs-backend-wasm 4.22 (int32 bits read as float32): cast.
        weights = tf.cast(tf.oneHot(tf.argMax(scores, -1), scores.shape[2]), "float32") as tf.Tensor3D;
      } else {
        if (!o.gumbel) throw new Error("top1 attention in train mode needs Gumbel draws (gumbel)");
        weights = tf.softmax(tf.div(tf.add(scores, o.gumbel), o.tau ?? 1)) as tf.Tensor3D;
      }
      return { update: attendValues(weights, h, p["attn.wv"]), weights };
    },
  },
  gumbel: true,
  longTraining: true,
  wasmKernel: 3, // KERNEL_KIND.top1
};
