/**
 * One variant, one place: a score-network variant is a descriptor (its attention block, its
 * parameters, how it trains, which engines implement it), registered here by name. Everything
 * else (parameter layout, forward pass, configs, CLI, notebooks, Table 1, the fused kernels'
 * constants) is derived from the descriptors. The four variants of the paper live in
 * src/variants/, one file each; `registerVariant` adds another at run time (see docs/adding-a-variant.md).
 */
import type * as tf from "@tensorflow/tfjs-core";

/** Width of tokens, time embedding and attention (SPEC: 32). */
export const HIDDEN = 32;

export interface ParamSpec {
  name: string;
  shape: number[];
  /** Fan-in of the layer: initialisation is uniform in +-1/sqrt(fanIn) (PyTorch's default). */
  fanIn: number;
}

export type ParamTensors = Record<string, tf.Tensor>;

export interface BlockOptions {
  /** "train": stochastic choices (Gumbel-softmax) use `gumbel`; "sample": deterministic (hard argmax). */
  mode: "train" | "sample";
  /** Gumbel(0, 1) draws [B, 4, 4] (variants with `gumbel: true`, train mode). */
  gumbel?: tf.Tensor;
  /** Gumbel-softmax temperature (config key gumbelTau; SPEC 1). */
  tau?: number;
}

/** An attention block before the final projection: h <- h + update. */
export interface AttentionBlock {
  /** Its parameters, beyond the shared CNN base; names start with "attn.". */
  params: ParamSpec[];
  /**
   * On hidden tokens h [B, 4, 32]: the residual update [B, 4, 32] and the attention weights
   * [B, 4 queries, 4 keys] (inspectable, for figures). tfjs ops only: autodiff gives the gradients.
   */
  forward(p: ParamTensors, h: tf.Tensor3D, o: BlockOptions): { update: tf.Tensor3D; weights: tf.Tensor3D };
}

export interface VariantDescriptor {
  /** Name used on the command line and in file names: lower case letters and digits. */
  name: string;
  /** Display label (tables, figures). */
  label: string;
  /** The paper's functional consistency for it (Table 1, Appendix B), or null. */
  paper: number | null;
  /** Plot colour. */
  colour: string;
  /** The attention block, or null for the plain CNN. */
  attention: AttentionBlock | null;
  /** Training draws Gumbel(0, 1) noise [B, 4, 4] per step (from the "gumbel" stream). */
  gumbel: boolean;
  /** Trains `top1EpochFactor` times longer (the paper trained top-1 for 10 000 epochs). */
  longTraining: boolean;
  /**
   * The kernel kind of the fused WebAssembly engines (src/kernels/constants.ts KERNEL_KIND) that
   * computes exactly this variant, or null: those engines then refuse it and name the tfjs engine.
   */
  wasmKernel: number | null;
}

const registry = new Map<string, VariantDescriptor>();

function validate(d: VariantDescriptor): void {
  const where = `variant '${d.name}'`;
  if (!/^[a-z][a-z0-9]*$/.test(d.name)) throw new Error(`variant name '${d.name}' must be lower-case letters and digits, starting with a letter`);
  if (d.paper !== null && !(d.paper >= 0 && d.paper <= 1)) throw new Error(`${where}: 'paper' must be a fraction in [0, 1] or null, got ${d.paper}`);
  const names = new Set<string>();
  for (const s of d.attention?.params ?? []) {
    if (!s.name.startsWith("attn.")) throw new Error(`${where}: attention parameter '${s.name}' must be named 'attn.*'`);
    if (names.has(s.name)) throw new Error(`${where}: attention parameter '${s.name}' is listed twice`);
    names.add(s.name);
    if (!(s.shape.length > 0 && s.shape.every((n) => Number.isInteger(n) && n > 0)) || !(s.fanIn > 0)) throw new Error(`${where}: parameter '${s.name}' has a bad shape [${s.shape}] or fanIn ${s.fanIn}`);
  }
  if (d.gumbel && !d.attention) throw new Error(`${where}: Gumbel draws need an attention block`);
}

/** Add a variant. Registering the same descriptor twice is a no-op; another one of the same name is an error. */
export function registerVariant(d: VariantDescriptor): VariantDescriptor {
  const old = registry.get(d.name);
  if (old === d) return d;
  if (old) throw new Error(`a variant named '${d.name}' is already registered`);
  validate(d);
  registry.set(d.name, d);
  return d;
}

/** The descriptor of `name`; an unknown name is an error listing the registered ones. */
export function getVariant(name: string): VariantDescriptor {
  const d = registry.get(name);
  if (!d) throw new Error(`unknown variant '${name}' (expected one of ${[...registry.keys()].join(", ")})`);
  return d;
}

/** Every registered variant name, in registration order (the paper's four first). */
export function variantNames(): string[] {
  return [...registry.keys()];
}
