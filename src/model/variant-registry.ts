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

/** The softmax scale 1/sqrt(d) of scaled dot-product scores (d = HIDDEN), shared by every engine and kernel. */
export const ATTENTION_SCALE = 1 / Math.sqrt(HIDDEN);

/** Tokens per image (its 2x2 quadrants: top-left, top-right, bottom-left, bottom-right). */
export const TOKENS = 4;

/** Named float32 parameters (src/model/params.ts layout). */
export type ParamArrays = Record<string, Float32Array>;

export interface ParamSpec {
  name: string;
  shape: number[];
  /** Fan-in of the layer: initialisation is uniform in +-1/sqrt(fanIn) (PyTorch's default). */
  fanIn: number;
}

export type ParamTensors = Record<string, tf.Tensor>;

/**
 * How a variant with Gumbel draws (`gumbel: true`) picks its attention at sampling time (config key
 * `top1Sampling`): "argmax" the one-hot argmax of the scores (SPEC); "gumbel-hard" the one-hot
 * argmax of scores + g with fresh Gumbel(0, 1) draws g at every step (what PyTorch's
 * F.gumbel_softmax(hard=True) does in eval mode); "gumbel-soft" softmax((scores + g) / tau).
 */
export type GumbelSampling = "argmax" | "gumbel-hard" | "gumbel-soft";
export const GUMBEL_SAMPLING: readonly GumbelSampling[] = ["argmax", "gumbel-hard", "gumbel-soft"];

export interface BlockOptions {
  /** "train": stochastic choices (Gumbel-softmax) use `gumbel`; "sample": as `sampling` says. */
  mode: "train" | "sample";
  /** Gumbel(0, 1) draws [B, 4, 4] (variants with `gumbel: true`: train mode, and sample mode unless argmax). */
  gumbel?: tf.Tensor;
  /** Gumbel-softmax temperature (config key gumbelTau; SPEC 1). */
  tau?: number;
  /** Training: straight-through hard Gumbel-softmax (config key gumbelHard; SPEC false). */
  hard?: boolean;
  /** Sampling rule of a Gumbel variant (default "argmax"). */
  sampling?: GumbelSampling;
}

/**
 * How the fused WebAssembly kernels compute a variant (src/kernels/, assembly/).
 * - `block`: the AssemblyScript file assembly/blocks/<block>.ts holding the training and sampling
 *   halves of the variant's attention block (the rule for its weights A; the values h Wv and the
 *   residual are the kernels' shared part), or null for a variant without attention. See
 *   docs/adding-a-variant.md for the contract.
 * - `foldSampler`: the block's weights for the sampler, prepared once per sampling run from the named
 *   parameters (at most HIDDEN x HIDDEN floats, written where the block's `sampleWeights` reads them).
 */
export interface WasmBlock {
  block: string | null;
  foldSampler?: (p: ParamArrays) => Float32Array;
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
   * Its fused WebAssembly kernels (see `WasmBlock`), or null: those engines then refuse it and name
   * the tfjs engine. Kernel kinds, offsets and the block dispatch are generated from the registry
   * (`npm run gen`, src/kernels/constants.ts).
   */
  wasm: WasmBlock | null;
  /**
   * Its attention weights in PyTorch, for the agreement tests and the PyTorch scripts in bench/
   * (collected into the generated bench/_variants.py): the body of
   * `def weights(self, h, scores, ctx)` returning A [B, 4, 4], where `self.<name>` is the
   * nn.Linear(32, 32, bias=False) of each parameter attn.<name> but attn.wv, `scores(q, k)` gives
   * q k^T / sqrt(d), and `ctx` holds mode ("train" | "argmax" | "gumbel-hard" | "gumbel-soft"),
   * gumbel (draws [B, 4, 4] or None), tau and hard. null for a variant without attention.
   */
  torch: string | null;
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
  if (d.wasm) {
    if (d.attention && !d.wasm.block) throw new Error(`${where}: a variant with attention names its AssemblyScript block (wasm.block)`);
    if (!d.attention && d.wasm.block) throw new Error(`${where}: a variant without attention has no wasm block, got '${d.wasm.block}'`);
    if (d.wasm.block !== null && !/^[a-z][a-z0-9]*$/.test(d.wasm.block)) throw new Error(`${where}: wasm block name '${d.wasm.block}' must be lower-case letters and digits`);
    const last = d.attention?.params.at(-1);
    if (d.attention && (last?.name !== "attn.wv" || last.shape.join("x") !== `${HIDDEN}x${HIDDEN}`)) {
      throw new Error(`${where}: the fused kernels share the value path h Wv: the last attention parameter must be 'attn.wv' [${HIDDEN}, ${HIDDEN}], got '${last?.name}'`);
    }
  }
  if (!d.attention && d.torch !== null) throw new Error(`${where}: a variant without attention has no PyTorch weights (torch must be null)`);
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
  if (!d) throw new Error(`unknown variant '${name}' (expected one of ${[...registry.keys()].join(", ")})${unlistedVariantHint(name)}`);
  return d;
}

/**
 * When a variant file of that name sits in src/variants/ (or build/variants/) but is missing from
 * the generated list src/variants/_all.ts: the command that adds it.
 */
export function unlistedVariantHint(name: string, dir?: string): string {
  if (!/^[a-z][a-z0-9]*$/.test(name) || name === "index") return "";
  try {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const fs = require("fs") as typeof import("fs");
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const path = require("path") as typeof import("path");
    const file = ["ts", "js"].map((e) => path.join(dir ?? path.join(__dirname, "..", "variants"), `${name}.${e}`)).find((f) => fs.existsSync(f));
    return file ? `; ${file} exists but is not in the generated list src/variants/_all.ts: run npm run gen (then npm run build:wasm for the fused kernels)` : "";
  } catch {
    return "";
  }
}

/** Every registered variant name, in registration order (the paper's four first). */
export function variantNames(): string[] {
  return [...registry.keys()];
}
