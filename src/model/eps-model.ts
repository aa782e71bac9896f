/**
 * Wrap a trained network as the sampler's `EpsModel` (sampling mode). A variant with Gumbel draws
 * picks its attention by `sampling` (config key top1Sampling; default the SPEC's hard argmax); the
 * rules that use fresh Gumbel(0, 1) draws take them from `gumbelRng`, [B, 4, 4] per call.
 */
import * as tf from "@tensorflow/tfjs-core";
import { EpsModel } from "../ddpm/sampler";
import { Rng } from "../rng";
import { ParamTensors, scoreNet } from "./network";
import { GumbelSampling } from "./variant-registry";
import { getVariant, Variant } from "./variants";

export interface EpsModelOptions {
  sampling?: GumbelSampling;
  /** Temperature of "gumbel-soft" (config key gumbelTau). */
  tau?: number;
  /** Generator of the Gumbel draws (needed when the variant samples with them). */
  gumbelRng?: Rng;
}

export function networkEpsModel(p: ParamTensors, variant: Variant, o: EpsModelOptions = {}): EpsModel {
  const sampling = o.sampling ?? "argmax";
  const withGumbel = getVariant(variant).gumbel && sampling !== "argmax";
  if (withGumbel && !o.gumbelRng) throw new Error(`${variant} sampled with ${sampling} needs a generator for its Gumbel draws (gumbelRng)`);
  return (xt, t) => tf.tidy(() => {
    const B = xt.shape[0];
    const gumbel = withGumbel ? tf.tensor3d(o.gumbelRng!.fillGumbel(new Float32Array(B * 16)), [B, 4, 4]) : undefined;
    return scoreNet(p, variant, xt, tf.tensor1d([t], "int32"), { mode: "sample", sampling, gumbel, tau: o.tau }).eps;
  });
}
