/**
 * Everything the fused WebAssembly kernels (assembly/*.ts, assembly/blocks/*.ts) and their
 * TypeScript callers must agree on, derived in one place from the variant registry and the model's
 * dimensions: kernel kinds (one per variant the kernels implement), sizes, the softmax scale, the
 * packed parameter offsets (src/model/packed.ts), the settings structures the kernels read
 * (named fields instead of positional arguments) and the sampler's memory layout.
 *
 * `npm run gen` (scripts/gen.ts) writes them to assembly/_constants.ts, and the dispatch from kernel
 * kind to attention block to assembly/_blocks.ts; a test checks both are up to date, and another
 * that the .wasm files match their sources.
 */
import { packedLayout } from "../model/packed";
import { ATTENTION_SCALE, HIDDEN, TOKENS } from "../model/variant-registry";
import { getVariant, Variant } from "../model/variants";
import { ALL_VARIANTS } from "../variants/index";

/** Token features (2 x 2 pixels x 3 channels). */
export const FEATURES = 12;

/**
 * The variants the fused kernels implement: the descriptors of src/variants/ with a `wasm` part, in
 * registration order. (A variant registered at run time is not compiled into the kernels, whatever
 * its descriptor says.)
 */
export function wasmVariants(): Variant[] {
  return ALL_VARIANTS.filter((d) => d.wasm !== null).map((d) => d.name);
}

/** Kernel kind of each variant the kernels implement: its index in `wasmVariants()`. */
export function kernelKinds(): Record<Variant, number> {
  return Object.fromEntries(wasmVariants().map((v, i) => [v, i]));
}

/** Upper-case identifier part of a name ("attn.wq" -> "ATTN_WQ", "top1" -> "TOP1"). */
function ident(name: string): string {
  return name.replace(/[^A-Za-z0-9]+/g, "_").toUpperCase();
}

/** Offset (floats) of a named parameter in a variant's packed layout. */
function offsetOf(variant: Variant, name: string): number {
  const s = packedLayout(variant).specs.find((x) => x.name === name);
  if (!s) throw new Error(`kernel constants: no parameter '${name}' in the ${variant} layout`);
  return s.offset;
}

/** Packed parameter offsets of the shared CNN base (floats), the same for every variant. */
export const PARAM_OFFSETS = {
  O_C1W: offsetOf("cnn", "conv1.w"),
  O_C1B: offsetOf("cnn", "conv1.b"),
  O_TW1: offsetOf("cnn", "time.w1"),
  O_TB1: offsetOf("cnn", "time.b1"),
  O_TW2: offsetOf("cnn", "time.w2"),
  O_TB2: offsetOf("cnn", "time.b2"),
  /** First attention parameter (or out.w for the CNN). */
  O_ATT: offsetOf("cnn", "out.w"),
};

/** A field of a settings structure the kernels read: its name (camelCase) and type. */
export interface StructField {
  readonly name: string;
  readonly type: "f32" | "i32";
}

/**
 * The training step's settings (assembly/train.ts `cfgPtr()`), written by src/kernels/train-kernel.ts
 * before each step. AdamW's constants of the step are computed in TypeScript (float64, then rounded
 * to float32 here, as src/train/adamw.ts hands them to tfjs).
 */
export const TRAIN_FIELDS = [
  { name: "tau", type: "f32" }, // Gumbel-softmax temperature (blocks that use it)
  { name: "hard", type: "i32" }, // straight-through hard Gumbel-softmax (0/1)
  { name: "beta1", type: "f32" },
  { name: "oneMinusBeta1", type: "f32" },
  { name: "beta2", type: "f32" },
  { name: "oneMinusBeta2", type: "f32" },
  { name: "sqrtBiasCorrection2", type: "f32" }, // sqrt(1 - beta2^step)
  { name: "eps", type: "f32" },
  { name: "decayFactor", type: "f32" }, // 1 - lr weightDecay
  { name: "stepSize", type: "f32" }, // lr / (1 - beta1^step)
  { name: "emaOneMinusDecay", type: "f32" },
] as const satisfies readonly StructField[];

/** The sampler's settings (assembly/sample.ts, at OFF_CFG), written once per sampling run. */
export const SAMPLE_FIELDS = [
  { name: "form", type: "i32" }, // reverse step: 0 eps form, 1 clamped x0 (src/ddpm/sampler-forms.ts)
  { name: "gumbel", type: "i32" }, // 1: draw 4 x 4 Gumbel(0, 1) per sample and step for the block
  { name: "mode", type: "i32" }, // the block's sampling rule (top1: 0 argmax, 1 gumbel-hard, 2 gumbel-soft)
  { name: "tau", type: "f32" }, // temperature of a soft rule
] as const satisfies readonly StructField[];

export type FieldName<T extends readonly StructField[]> = T[number]["name"];

/** Byte offset of each field (4 bytes each, in order). */
export function fieldOffsets<T extends readonly StructField[]>(fields: T): Record<FieldName<T>, number> {
  return Object.fromEntries(fields.map((f, i) => [f.name, 4 * i])) as Record<FieldName<T>, number>;
}

/**
 * Write a settings structure at byte address `base` of `buffer`: every field by name, each value
 * checked (an integer for i32 fields, finite for f32 fields). A missing or extra field is an error.
 */
export function writeStruct<T extends readonly StructField[]>(buffer: ArrayBuffer, base: number, fields: T, values: Record<FieldName<T>, number>): void {
  const given = Object.keys(values);
  const extra = given.filter((k) => !fields.some((f) => f.name === k));
  if (extra.length > 0) throw new Error(`kernel settings: unknown field(s) ${extra.join(", ")}`);
  const view = new DataView(buffer, base, 4 * fields.length);
  fields.forEach((f, i) => {
    const v = (values as Record<string, number>)[f.name];
    if (v === undefined) throw new Error(`kernel settings: field '${f.name}' missing`);
    if (f.type === "i32") {
      if (!Number.isInteger(v)) throw new Error(`kernel settings: field '${f.name}' must be an integer, got ${v}`);
      view.setInt32(4 * i, v, true);
    } else {
      if (!Number.isFinite(v)) throw new Error(`kernel settings: field '${f.name}' must be finite, got ${v}`);
      view.setFloat32(4 * i, v, true);
    }
  });
}

/** Samples per chunk of the sampler (x, noise and weights of a chunk stay in L1). */
export const SAMPLE_CHUNK = 32;

/** Byte offsets of the sampler's fixed region (assembly/sample.ts), from its base. */
export const SAMPLER_OFFSETS = (() => {
  const H = HIDDEN;
  const F = FEATURES;
  let at = 0;
  const take = (bytes: number) => {
    const p = at;
    at += bytes;
    return p;
  };
  const o = {
    /** [H k][F f] conv1.w transposed */
    OFF_W1T: take(4 * H * F),
    /** the block's folded weights (at most [H][H]; e.g. M^T with M = Wq Wk^T / sqrt(d)) */
    OFF_BLOCK: take(4 * H * H),
    /** [F f][H k] out.w transposed */
    OFF_WOT: take(4 * F * H),
    /** [F f][H k] (Wv Wout) transposed */
    OFF_WVOT: take(4 * F * H),
    /** [F] out.b tiled over the 4 output pixels, padded to 64 bytes */
    OFF_BO: take(64),
    /** [8 v128] xoshiro128** states of the normals: set A s0..s3, set B s0..s3 */
    OFF_RNG: take(128),
    /** [4 v128] xoshiro128** state of the Gumbel draws: s0..s3 */
    OFF_GRNG: take(64),
    /** the SAMPLE_* settings (padded to 64 bytes) */
    OFF_CFG: take(64),
    /** [H v128] hidden vectors h_k after SiLU (scratch) */
    OFF_HT: take(16 * H),
    /** [F v128] eps of the current sample (scratch) */
    OFF_E: take(16 * F),
    /** [4 v128] attention weights A_j of the current sample (scratch) */
    OFF_A: take(64),
    /** [CHUNK x F v128] normals of one chunk-step */
    OFF_ZBUF: take(16 * F * SAMPLE_CHUNK),
    /** [CHUNK x 4 v128] Gumbel draws of one chunk-step */
    OFF_GBUF: take(64 * SAMPLE_CHUNK),
  };
  if (4 * SAMPLE_FIELDS.length > 64) throw new Error("kernel constants: SAMPLE_FIELDS outgrew OFF_CFG's 64 bytes");
  return { ...o, SAMPLE_FIXED_BYTES: at };
})();

/** Packed offsets (floats) of every attention parameter of each variant the kernels implement. */
export function blockParamOffsets(): { variant: Variant; name: string; ident: string; offset: number }[] {
  return wasmVariants().flatMap((v) =>
    (getVariant(v).attention?.params ?? []).map((p) => ({ variant: v, name: p.name, ident: `P_${ident(v)}_${ident(p.name)}`, offset: offsetOf(v, p.name) })));
}

const HEADER = [
  "// Generated by scripts/gen.ts from src/kernels/constants.ts and the variant registry: do not edit.",
  "// `npm run gen` rewrites it; a test checks that it is current.",
];

/** The AssemblyScript source of assembly/_constants.ts. */
export function assemblyConstants(): string {
  const kinds = kernelKinds();
  const snake = (s: string) => s.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toUpperCase();
  const lines = [
    ...HEADER,
    "",
    "// Kernel kinds: one per variant the fused kernels implement (registry order).",
    ...Object.entries(kinds).map(([v, k]) => `export const KIND_${ident(v)}: i32 = ${k};`),
    `export const KIND_COUNT: i32 = ${Object.keys(kinds).length};`,
    "",
    "// Dimensions: hidden width H, token features F, tokens per image; the softmax scale 1/sqrt(H) as float32.",
    `export const H: i32 = ${HIDDEN};`,
    `export const F: i32 = ${FEATURES};`,
    `export const TOKENS: i32 = ${TOKENS};`,
    `export const SCALE: f32 = ${Math.fround(ATTENTION_SCALE)};`,
    "",
    "// Packed parameter offsets (floats) of the shared base, in src/model/params.ts `paramSpecs` order.",
    ...Object.entries(PARAM_OFFSETS).map(([k, v]) => `export const ${k}: i32 = ${v};`),
    "",
    "// Packed offsets (floats) of each variant's attention parameters.",
    ...blockParamOffsets().map((p) => `export const ${p.ident}: i32 = ${p.offset};`),
    "",
    "// The training step's settings (assembly/train.ts cfgPtr()): byte offsets of the named fields.",
    ...TRAIN_FIELDS.map((f, i) => `export const TRAIN_${snake(f.name)}: usize = ${4 * i}; // ${f.type}`),
    `export const TRAIN_STRUCT_BYTES: usize = ${4 * TRAIN_FIELDS.length};`,
    "",
    "// The sampler's settings (at OFF_CFG): byte offsets of the named fields.",
    ...SAMPLE_FIELDS.map((f, i) => `export const SAMPLE_${snake(f.name)}: usize = ${4 * i}; // ${f.type}`),
    "",
    "// The sampler's fixed region (bytes from its base).",
    `export const SAMPLE_CHUNK: i32 = ${SAMPLE_CHUNK};`,
    ...Object.entries(SAMPLER_OFFSETS).map(([k, v]) => `export const ${k}: usize = ${v};`),
    "",
  ];
  return lines.join("\n");
}

/**
 * The AssemblyScript source of assembly/_blocks.ts: from a kernel kind to the variant's block
 * (assembly/blocks/<block>.ts), one switch per entry point, and the size of each block's own
 * parameters (those before its shared value matrix attn.wv).
 */
export function assemblyBlocks(): string {
  const kinds = kernelKinds();
  const withBlock = wasmVariants().filter((v) => getVariant(v).wasm!.block !== null);
  const blocks = [...new Set(withBlock.map((v) => getVariant(v).wasm!.block!))];
  const mod = (v: Variant) => `b_${getVariant(v).wasm!.block}`;
  const own = (v: Variant) => (getVariant(v).attention?.params ?? []).filter((p) => p.name !== "attn.wv").reduce((a, p) => a + p.shape.reduce((x, y) => x * y, 1), 0);
  const cases = (call: (v: Variant) => string, ret = false) =>
    withBlock.map((v) => `    case KIND_${ident(v)}: ${ret ? "return " : ""}${call(v)};${ret ? "" : " break;"}`).join("\n");
  const lines = [
    ...HEADER,
    "// Dispatch from kernel kind to attention block; the contract of a block is in assembly/blocks/attention.ts.",
    "",
    `import { ${withBlock.map((v) => `KIND_${ident(v)}`).join(", ")} } from "./_constants";`,
    ...blocks.map((b) => `import * as b_${b} from "./blocks/${b}";`),
    "",
    "/** Does kind `kind` have an attention block (and hence the shared values h Wv)? */",
    `@inline export function hasBlock(kind: i32): bool {`,
    `  return ${withBlock.map((v) => `kind == KIND_${ident(v)}`).join(" || ") || "false"};`,
    "}",
    "",
    "/** Floats of the block's own parameters, which precede attn.wv in the packed layout. */",
    "export function blockOwnParams(kind: i32): i32 {",
    "  switch (kind) {",
    cases((v) => String(own(v)), true),
    "    default: return 0;",
    "  }",
    "}",
    "",
    "export function blockTrainInit(kind: i32): void {",
    "  switch (kind) {",
    cases((v) => `${mod(v)}.trainInit()`),
    "    default: break;",
    "  }",
    "}",
    "",
    "@inline export function blockTrainPrepare(kind: i32, theta: usize): void {",
    "  switch (kind) {",
    cases((v) => `${mod(v)}.trainPrepare(theta)`),
    "    default: break;",
    "  }",
    "}",
    "",
    "@inline export function blockTrainForward(kind: i32, theta: usize, cfg: usize, h: usize, gumbel: usize, att: usize): void {",
    "  switch (kind) {",
    cases((v) => `${mod(v)}.trainForward(theta, cfg, h, gumbel, att)`),
    "    default: break;",
    "  }",
    "}",
    "",
    "@inline export function blockTrainBackward(kind: i32, theta: usize, cfg: usize, h: usize, att: usize, dA: usize, dh: usize, grad: usize): void {",
    "  switch (kind) {",
    cases((v) => `${mod(v)}.trainBackward(theta, cfg, h, att, dA, dh, grad)`),
    "    default: break;",
    "  }",
    "}",
    "",
    "@inline export function blockSampleWeights(kind: i32, ht: usize, w: usize, cfg: usize, g: usize, out: usize): void {",
    "  switch (kind) {",
    cases((v) => `${mod(v)}.sampleWeights(ht, w, cfg, g, out)`),
    "    default: break;",
    "  }",
    "}",
    "",
  ];
  void kinds;
  return lines.join("\n");
}
