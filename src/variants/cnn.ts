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
  wasmKernel: 0, // KERNEL_KIND.cnn
};
