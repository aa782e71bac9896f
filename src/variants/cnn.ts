/** The plain CNN: conv1 -> time conditioning -> out, no attention (the paper's baseline). */
import type { VariantDescriptor } from "../model/variant-registry";

export const cnn: VariantDescriptor = {
  name: "cnn",
  label: "CNN",
  paper: 0.1088,
  colour: "#1f77b4",
  attention: null,
  gumbel: false,
  longTraining: false,
  wasm: { block: null }, // the fused kernels' shared CNN base alone
  torch: null,
};
