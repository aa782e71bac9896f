/**
 * The score-network variants (SPEC.md "Score network"): names, labels, the paper's numbers and
 * the descriptors behind them (src/model/variant-registry.ts; one file per variant in src/variants/).
 */
import { PAPER_VARIANTS } from "../variants/index";
import { getVariant } from "./variant-registry";

export { getVariant, registerVariant, variantNames } from "./variant-registry";
export type { VariantDescriptor } from "./variant-registry";

/** A variant name (the paper's: cnn, attention, identity, top1; others may be registered). */
export type Variant = string;

/** The paper's four variants, in its order (Table 1, Appendix B). */
export const VARIANTS: readonly Variant[] = PAPER_VARIANTS.map((d) => d.name);

/** The paper's random baseline (Table 1): 5.38 %. */
export const PAPER_RANDOM_BASELINE = 0.0538;

/** Display label of a variant. */
export function variantLabel(v: Variant): string {
  return getVariant(v).label;
}

/** The paper's consistency for a variant or "random", or null when the paper has none. */
export function paperConsistency(v: Variant | "random"): number | null {
  return v === "random" ? PAPER_RANDOM_BASELINE : getVariant(v).paper;
}

/** Plot colour of a variant ("random": grey). */
export function variantColour(v: Variant | "random"): string {
  return v === "random" ? "#7f7f7f" : getVariant(v).colour;
}

/** Display labels by name, as a record (reads through to the registry, so registered variants appear too). */
export const VARIANT_LABELS: Readonly<Record<Variant, string>> = new Proxy({} as Record<Variant, string>, {
  get: (_, k) => (typeof k === "string" ? variantLabel(k) : undefined),
});

/** The paper's numbers by name, as a record ("random" included; NaN where the paper has none). */
export const PAPER_CONSISTENCY: Readonly<Record<Variant | "random", number>> = new Proxy({} as Record<string, number>, {
  get: (_, k) => (typeof k === "string" ? paperConsistency(k) ?? NaN : undefined),
});

/** Parse a variant name, failing with the bad value and the valid names. */
export function parseVariant(name: string): Variant {
  return getVariant(name).name;
}

export function hasAttention(v: Variant): boolean {
  return getVariant(v).attention !== null;
}
