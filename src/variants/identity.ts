/** CNN + identity-Q/K attention: Q = K = identity (fixed), V learnable; the paper's Eq. 2 with the 1/sqrt(d) scale. */
import * as tf from "@tensorflow/tfjs-core";
import { attendValues, attentionScores, square } from "../model/layers";
import type { VariantDescriptor } from "../model/variant-registry";

export const identity: VariantDescriptor = {
  name: "identity",
  label: "CNN + Identity-QK Attention",
  paper: 0.2544,
  colour: "#2ca02c",
  attention: {
    params: [square("attn.wv")],
    forward: (p, h) => {
      const weights = tf.softmax(attentionScores(h, h)) as tf.Tensor3D; // softmax(h h^T / sqrt(d))
      return { update: attendValues(weights, h, p["attn.wv"]), weights };
    },
  },
  gumbel: false,
  longTraining: false,
  wasm: { block: "identity" }, // assembly/blocks/identity.ts
  torch: "return scores(h, h).softmax(dim=-1)",
};
