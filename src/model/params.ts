/**
 * Parameters of the score network, as named float32 arrays with shapes. Initialisation follows
 * PyTorch's defaults for the layers the paper names (uniform in +-1/sqrt(fan_in)), from a seeded Rng.
 */
import { Rng } from "../rng";
import { HIDDEN, ParamSpec } from "./variant-registry";
import { getVariant, Variant } from "./variants";

export { HIDDEN } from "./variant-registry";
export type { ParamSpec } from "./variant-registry";

/**
 * Parameter layout per variant: the shared CNN base, the variant's attention block (its
 * descriptor), the output projection. Dense weights are [in, out]:
 * - conv1.w [12, 32] is the 2x2 stride-2 conv filter [2, 2, 3, 32] flattened (see data/layout.ts);
 * - out.w [32, 12] is the transposed-conv filter [2, 2, 3, 32] laid out as [in, (dy, dx, c)];
 *   out.b [3] is its per-channel bias.
 */
export function paramSpecs(variant: Variant): ParamSpec[] {
  return [
    { name: "conv1.w", shape: [12, HIDDEN], fanIn: 12 },
    { name: "conv1.b", shape: [HIDDEN], fanIn: 12 },
    { name: "time.w1", shape: [HIDDEN, HIDDEN], fanIn: HIDDEN },
    { name: "time.b1", shape: [HIDDEN], fanIn: HIDDEN },
    { name: "time.w2", shape: [HIDDEN, HIDDEN], fanIn: HIDDEN },
    { name: "time.b2", shape: [HIDDEN], fanIn: HIDDEN },
    ...(getVariant(variant).attention?.params ?? []),
    // PyTorch's ConvTranspose2d(32, 3, 2) computes fan_in from weight.size(1) * 2 * 2 = 12.
    { name: "out.w", shape: [HIDDEN, 12], fanIn: 12 },
    { name: "out.b", shape: [3], fanIn: 12 },
  ];
}

export type ParamArrays = Record<string, Float32Array>;

/** Uniform(-1/sqrt(fanIn), 1/sqrt(fanIn)) for every weight and bias, in spec order. */
export function initParams(variant: Variant, rng: Rng): ParamArrays {
  const out: ParamArrays = {};
  for (const s of paramSpecs(variant)) {
    const bound = 1 / Math.sqrt(s.fanIn);
    const a = new Float32Array(s.shape.reduce((x, y) => x * y, 1));
    for (let i = 0; i < a.length; i++) a[i] = (2 * rng.uniform() - 1) * bound;
    out[s.name] = a;
  }
  return out;
}
