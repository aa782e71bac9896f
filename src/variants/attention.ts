/** CNN + Attention: single-head self-attention with learnable Q, K, V (32 x 32, no bias), residual. */
import * as tf from "@tensorflow/tfjs-core";
import { foldScoreMatrix } from "../model/fold";
import { attendValues, attentionScores, square, tokenLinear } from "../model/layers";
import type { VariantDescriptor } from "../model/variant-registry";

export const attention: VariantDescriptor = {
  name: "attention",
  label: "CNN + Attention",
  paper: 0.6403,
  colour: "#d62728",
  attention: {
    params: [square("attn.wq"), square("attn.wk"), square("attn.wv")],
    forward: (p, h) => {
      // softmax(h Wq (h Wk)^T / sqrt(d)) [B, 4, 4]
      const weights = tf.softmax(attentionScores(tokenLinear(h, p["attn.wq"]), tokenLinear(h, p["attn.wk"]))) as tf.Tensor3D;
      return { update: attendValues(weights, h, p["attn.wv"]), weights };
    },
  },
  gumbel: false,
  longTraining: false,
  wasm: { block: "attention", foldSampler: (p) => foldScoreMatrix(p["attn.wq"], p["attn.wk"]) }, // assembly/blocks/attention.ts
  torch: "return scores(self.wq(h), self.wk(h)).softmax(dim=-1)",
};
