/** Wrap a trained network as the sampler's `EpsModel` (sampling mode: top-1 is a hard argmax). */
import * as tf from "@tensorflow/tfjs-core";
import { EpsModel } from "../ddpm/sampler";
import { ParamTensors, scoreNet } from "./network";
import { Variant } from "./variants";

export function networkEpsModel(p: ParamTensors, variant: Variant): EpsModel {
  return (xt, t) => tf.tidy(() => scoreNet(p, variant, xt, tf.tensor1d([t], "int32"), { mode: "sample" }).eps);
}
