/**
 * CNN + uniform attention, a control beyond the paper: the same residual block as the attention
 * variants with its weights fixed to 1/4 over the four tokens, A = 1/4 (learnable values V = h Wv;
 * no Q, no K; the transposed convolution that follows is the output projection, as for the others).
 * Every token receives the mean of all tokens' values: global context without choosing a partner.
 * If it matches attention's consistency, mixing alone explains the effect; if it stays near the CNN,
 * selecting a partner is what matters.
 */
import * as tf from "@tensorflow/tfjs-core";
import { attendValues, square } from "../model/layers";
import type { VariantDescriptor } from "../model/variant-registry";

export const uniform: VariantDescriptor = {
  name: "uniform",
  label: "CNN + Uniform Attention (control)",
  paper: null, // not in the paper
  colour: "#ff7f0e",
  attention: {
    params: [square("attn.wv")],
    forward: (p, h) => {
      const [B, N] = h.shape;
      const weights = tf.fill([B, N, N], 1 / N) as tf.Tensor3D; // [B, 4, 4], every entry 1/4
      return { update: attendValues(weights, h, p["attn.wv"]), weights };
    },
  },
  gumbel: false,
  longTraining: false,
  wasm: { block: "uniform" }, // assembly/blocks/uniform.ts
  torch: "return torch.full((h.shape[0], 4, 4), 0.25, dtype=h.dtype)",
};
