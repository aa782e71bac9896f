/**
 * Attention weights of a trained model on given images, for attention-map figures: the network
 * (`scoreNet` in sampling mode, so top1 gives its hard one-hot choice) is run on the images as x_t
 * at one timestep t, and its [n, 4 queries, 4 keys] weights are returned.
 */
import * as tf from "@tensorflow/tfjs-core";
import { imagesToTokens } from "../data/layout";
import { scoreNet } from "../model/network";
import { disposeParams, packedLayout, unpackTensors } from "../model/packed";
import { hasAttention, Variant } from "../model/variants";
import { checkpointTensor, readCheckpoint } from "../train/checkpoint";

/**
 * Weights [n, 4, 4] (flat, row q = query quadrant, sums to 1) of `variant` from checkpoint `file`
 * on NHWC images [n, 4, 4, 3] in [-1, 1], at timestep `t` (0 = the last denoising step).
 * Needs an initialised tfjs backend.
 */
export function attentionWeightsFromCheckpoint(
  file: string, variant: Variant, images: Float32Array, o: { t?: number; weights?: "ema" | "raw" } = {},
): Float32Array {
  if (!hasAttention(variant)) throw new Error(`variant '${variant}' has no attention block`);
  const ck = readCheckpoint(file);
  if (ck.variant !== variant) throw new Error(`checkpoint ${file} is of variant '${ck.variant}', not '${variant}'`);
  const t = o.t ?? 0;
  if (!Number.isInteger(t) || t < 0 || t >= ck.config.diffusionSteps) throw new Error(`timestep t must be an integer in [0, ${ck.config.diffusionSteps}), got ${t}`);
  const n = images.length / 48;
  if (!Number.isInteger(n) || n < 1) throw new Error(`expected NHWC 4x4x3 images, got ${images.length} values`);
  const theta = tf.tensor1d(checkpointTensor(ck, (o.weights ?? "ema") === "ema" ? "ema" : "theta", file));
  const params = unpackTensors(packedLayout(variant), theta);
  try {
    const attention = tf.tidy(() => {
      const x = tf.tensor3d(imagesToTokens(images), [n, 4, 12]); // [n, 4, 12]
      const a = scoreNet(params, variant, x, tf.tensor1d([t], "int32"), { mode: "sample" }).attention;
      if (!a) throw new Error(`variant '${variant}' returned no attention weights`);
      return a; // [n, 4, 4]
    });
    const out = attention.dataSync() as Float32Array;
    attention.dispose();
    return out;
  } finally {
    disposeParams(params);
    theta.dispose();
  }
}
