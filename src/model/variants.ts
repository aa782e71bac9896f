/** The four score-network variants of the paper (SPEC.md "Score network"). */
export type Variant = "cnn" | "attention" | "identity" | "top1";
export const VARIANTS: readonly Variant[] = ["cnn", "attention", "identity", "top1"];

export const VARIANT_LABELS: Record<Variant, string> = {
  cnn: "CNN",
  attention: "CNN + Attention",
  identity: "CNN + Identity-QK Attention",
  top1: "CNN + Top-1 (Gumbel) Attention",
};

/** The paper's consistency numbers (Table 1 and Appendix B). */
export const PAPER_CONSISTENCY: Record<Variant | "random", number> = {
  random: 0.0538,
  cnn: 0.1088,
  attention: 0.6403,
  identity: 0.2544,
  top1: 0.2164,
};

/** Parse a variant name, failing with the bad value and the valid names. */
export function parseVariant(name: string): Variant {
  if ((VARIANTS as readonly string[]).includes(name)) return name as Variant;
  throw new Error(`unknown variant '${name}' (expected one of ${VARIANTS.join(", ")})`);
}

export function hasAttention(v: Variant): boolean {
  return v !== "cnn";
}
