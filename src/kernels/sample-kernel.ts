/**
 * Fused WebAssembly SIMD sampler: the same ancestral DDPM sampling as `sampleTokens` +
 * `networkEpsModel` (any sampler form of src/ddpm/sampler-forms.ts, no noise at t = 0), with the whole
 * network and the update of one sample computed in one pass by `assembly/sample.ts` (compiled to
 * `sample.wasm` next to this file by `npm run build:wasm`).
 *
 * What this file does on the TypeScript side:
 * 1. folds the weights: Wvo = Wv Wout (every variant with attention) and the block's own weights
 *    (its descriptor's `wasm.foldSampler`, e.g. M = Wq Wk^T / sqrt(32)), so that out(h + A V) and the
 *    scores cost one 32x32 and two 32x12 products per token;
 * 2. tabulates per timestep the biases conv1.b + timeMLP(t) [T, 32] and the step coefficients of the
 *    sampler form (`kernelStepTable`);
 * 3. writes the sampler's settings (form, the block's sampling rule, temperature) by name;
 * 4. moves tokens [n, 4, 12] in and out of the kernel's feature-major layout [n, 12, 4].
 *
 * Noise. `noise: "wasm"` (default) draws x_T and every z_t inside the kernel from 8 xoshiro128**
 * streams seeded from `rng` plus a vectorised Box-Muller transform. That stream differs from the
 * tfjs engine's (`Rng.fillNormal`), so a seed gives different samples than `sampleTokens` gives,
 * identically distributed. The stream also depends on `batch` (chunks of a batch run several steps
 * at a time). `noise: "rng"` draws x_T and z_t with `rng.fillNormal` in exactly the order
 * `sampleTokens` does: the samples then equal the tfjs engine's up to float32 rounding (slower:
 * JS noise costs several ms per step at batch 10 000).
 *
 * Gumbel draws (a Gumbel variant sampled with `gumbelSampling` other than "argmax") come from their
 * own generator, `gumbelRng`, so that the Gaussian noise of a seed is the same under every rule
 * (paired comparisons): in "wasm" mode the kernel's Gumbel stream is seeded from it; in "rng" mode
 * each step draws [B, 4, 4] with `gumbelRng.fillGumbel`, as the tfjs engine does.
 */
import * as path from "path";
import { kernelStepTable, SamplerForm, samplerForm } from "../ddpm/sampler-forms";
import { Schedule } from "../ddpm/schedule";
import { HIDDEN, ParamArrays, paramSpecs } from "../model/params";
import { sinusoidalAt } from "../model/time-embedding";
import { GumbelSampling, GUMBEL_SAMPLING } from "../model/variant-registry";
import { getVariant, Variant } from "../model/variants";
import { SAMPLE_FIELDS, SAMPLER_OFFSETS, writeStruct } from "./constants";
import { instantiateKernel, WasmMemory, wasmKernelOf } from "./wasm";
import { Rng } from "../rng";

/** Path of the compiled kernel (built from assembly/sample.ts). */
export const SAMPLE_WASM = path.join(__dirname, "sample.wasm");

const SAMPLE_BYTES = 192; // 48 float32
/** Steps one chunk of samples runs before the next chunk, in `noise: "wasm"` mode. */
const BLOCK_STEPS = 25;

interface KernelExports {
  memory: WasmMemory;
  kinds(): number;
  fixedBase(): number;
  dynamicBase(): number;
  chunkSize(): number;
  normals(out: number, nVec: number): void;
  gumbels(out: number, nVec: number): void;
  run(kind: number, coef: number, b1: number, x: number, n: number, tHi: number, tLo: number, z: number, g: number): void;
  eps(kind: number, b1: number, x: number, n: number, out: number, g: number): void;
  expArray(inp: number, out: number, nVec: number): void;
  logArray(inp: number, out: number, nVec: number): void;
}

// Byte offsets of the weights, generator states and settings in the kernel's fixed region (shared with assembly/sample.ts).
const { OFF_W1T, OFF_BLOCK, OFF_WOT, OFF_WVOT, OFF_BO, OFF_RNG, OFF_GRNG, OFF_CFG } = SAMPLER_OFFSETS;
/** Bytes of one sample's Gumbel draws in the kernel's layout: 4 keys x 4 queries. */
const GUMBEL_BYTES = 64;

/** One kernel instance with its own memory and a bump allocator above the fixed region. */
class Kernel {
  readonly k: KernelExports;
  private top: number;

  constructor() {
    this.k = instantiateKernel<KernelExports>(SAMPLE_WASM);
    this.top = this.k.dynamicBase();
  }

  /** Reserve `bytes` (64-byte aligned), growing the memory as needed; returns the address. */
  alloc(bytes: number): number {
    const p = this.top;
    this.top = (p + bytes + 63) & ~63;
    const need = this.top - this.k.memory.buffer.byteLength;
    if (need > 0) this.k.memory.grow(Math.ceil(need / 65536));
    return p;
  }

  /** Float32 view of `len` values at address p (re-create after any alloc: growth detaches views). */
  f32(p: number, len: number): Float32Array {
    return new Float32Array(this.k.memory.buffer, p, len);
  }

  writeF32(p: number, data: ArrayLike<number>): void {
    this.f32(p, data.length).set(data);
  }
}

// ---------------------------------------------------------------- weights and tables
function checkParams(params: ParamArrays, variant: Variant): void {
  for (const s of paramSpecs(variant)) {
    const a = params[s.name];
    const size = s.shape.reduce((x, y) => x * y, 1);
    if (!a || a.length !== size) throw new Error(`${variant}: parameter '${s.name}' missing or of size ${a?.length}, expected ${size}`);
  }
}

/** Write the folded weights of `variant` into the kernel's weight block. */
function loadWeights(kr: Kernel, params: ParamArrays, variant: Variant): void {
  checkParams(params, variant);
  const base = kr.k.fixedBase();
  const H = HIDDEN;
  const w1 = params["conv1.w"]; // [12, 32]
  const wo = params["out.w"]; // [32, 12]
  const w1t = new Float32Array(H * 12);
  for (let k = 0; k < H; k++) for (let f = 0; f < 12; f++) w1t[k * 12 + f] = w1[f * H + k];
  const wot = new Float32Array(12 * H);
  for (let f = 0; f < 12; f++) for (let k = 0; k < H; k++) wot[f * H + k] = wo[k * 12 + f];
  const bo = new Float32Array(16);
  for (let f = 0; f < 12; f++) bo[f] = params["out.b"][f % 3];
  kr.writeF32(base + OFF_W1T, w1t);
  kr.writeF32(base + OFF_WOT, wot);
  kr.writeF32(base + OFF_BO, bo);
  const d = getVariant(variant);
  wasmKernelOf(variant, "sampling");
  if (!d.wasm?.block) return; // no attention: the CNN path
  // Wvo = Wv Wout [32, 12], stored transposed [12][32]; float64 sums, rounded once.
  const wv = params["attn.wv"];
  const wvot = new Float32Array(12 * H);
  for (let k = 0; k < H; k++) {
    for (let f = 0; f < 12; f++) {
      let acc = 0;
      for (let m = 0; m < H; m++) acc += wv[k * H + m] * wo[m * 12 + f];
      wvot[f * H + k] = acc;
    }
  }
  kr.writeF32(base + OFF_WVOT, wvot);
  // The block's own folded weights (e.g. M = Wq Wk^T / sqrt(32), transposed), where its sampleWeights reads them.
  if (d.wasm.foldSampler) {
    const w = d.wasm.foldSampler(params);
    if (w.length > H * H) throw new Error(`variant '${variant}': wasm.foldSampler gave ${w.length} floats, the block region holds ${H * H}`);
    kr.writeF32(base + OFF_BLOCK, w);
  }
}

/** The sampling rule of a Gumbel variant as the kernel's `mode` field (0 argmax, 1 gumbel-hard, 2 gumbel-soft). */
function gumbelMode(rule: GumbelSampling): number {
  const m = GUMBEL_SAMPLING.indexOf(rule);
  if (m < 0) throw new Error(`gumbelSampling must be one of ${GUMBEL_SAMPLING.join(", ")}, got '${String(rule)}'`);
  return m;
}

/** Does `variant`, sampled with `rule`, draw Gumbel noise at every step? */
export function samplesWithGumbel(variant: Variant, rule: GumbelSampling): boolean {
  return getVariant(variant).gumbel && rule !== "argmax";
}

/**
 * conv1.b + timeMLP(sinusoidal(t)) for one integer timestep: [32]. Float64 arithmetic on the
 * float32 arguments tfjs uses (t f_i rounded to float32), rounded once at the end.
 */
export function timeBias(params: ParamArrays, t: number): Float32Array {
  const H = HIDDEN;
  const emb = sinusoidalAt(t); // float32, as the network computes it
  const w1 = params["time.w1"], b1 = params["time.b1"], w2 = params["time.w2"], b2 = params["time.b2"];
  const hid = new Float64Array(H);
  for (let k = 0; k < H; k++) {
    let a = b1[k];
    for (let i = 0; i < H; i++) a += emb[i] * w1[i * H + k];
    hid[k] = a / (1 + Math.exp(-a)); // SiLU
  }
  const out = new Float32Array(H);
  for (let k = 0; k < H; k++) {
    let a = b2[k];
    for (let i = 0; i < H; i++) a += hid[i] * w2[i * H + k];
    out[k] = params["conv1.b"][k] + a;
  }
  return out;
}

// ---------------------------------------------------------------- layout moves
/** tokens [n, 4, 12] (from sample `from`) -> kernel layout [n, 12, 4]. */
function toLanes(tokens: Float32Array, from: number, n: number, dst: Float32Array): void {
  for (let s = 0; s < n; s++) {
    const o = s * 48;
    const i = (from + s) * 48;
    for (let q = 0; q < 4; q++) for (let f = 0; f < 12; f++) dst[o + f * 4 + q] = tokens[i + q * 12 + f];
  }
}

/** kernel layout [n, 12, 4] -> tokens [n, 4, 12] (at sample `to`). */
function fromLanes(src: Float32Array, n: number, tokens: Float32Array, to: number): void {
  for (let s = 0; s < n; s++) {
    const o = s * 48;
    const i = (to + s) * 48;
    for (let q = 0; q < 4; q++) for (let f = 0; f < 12; f++) tokens[i + q * 12 + f] = src[o + f * 4 + q];
  }
}

/** Seed `sets` 4-lane xoshiro128** generators at byte offset `off` of the fixed region with 16 words each from `rng`. */
function seedStreams(kr: Kernel, off: number, sets: number, rng: Rng): void {
  const st = new Uint32Array(kr.k.memory.buffer, kr.k.fixedBase() + off, 16 * sets);
  for (let i = 0; i < 16 * sets; i++) st[i] = rng.nextU32();
  // Layout: per set s0..s3, each a 4-lane vector; a lane's state must not be all zero.
  for (let set = 0; set < sets; set++) {
    for (let lane = 0; lane < 4; lane++) {
      const w = (j: number) => set * 16 + j * 4 + lane;
      if ((st[w(0)] | st[w(1)] | st[w(2)] | st[w(3)]) === 0) st[w(0)] = 1;
    }
  }
}

/** Seed the kernel's 8 normal streams (two sets) with 32 words drawn from `rng`. */
function seedNoise(kr: Kernel, rng: Rng): void {
  seedStreams(kr, OFF_RNG, 2, rng);
}

/** Draws [B, 4 queries, 4 keys] (row-major, as tfjs) -> the kernel's per-sample layout [B][4 keys][4 queries]. */
function gumbelToLanes(g: Float32Array, B: number, dst: Float32Array): void {
  for (let s = 0; s < B; s++) for (let i = 0; i < 4; i++) for (let j = 0; j < 4; j++) dst[s * 16 + j * 4 + i] = g[s * 16 + i * 4 + j];
}

function checkCount(name: string, v: number): void {
  if (!Number.isInteger(v) || v < 1) throw new Error(`${name} must be a positive integer, got ${v}`);
}

// ---------------------------------------------------------------- public API
export interface WasmSampleOptions {
  /** Number of samples. */
  n: number;
  /** Samples per batch (bounds memory: 2 x batch x 192 bytes). */
  batch: number;
  /** Seeds the kernel's noise streams ("wasm") or draws every normal ("rng"). */
  rng: Rng;
  /** Called after every denoising step of every batch ("wasm" mode reports steps in blocks of 25). */
  onStep?: (done: number, total: number) => void;
  /** Noise source, see the file comment. Default "wasm". */
  noise?: "wasm" | "rng";
  /** Reverse-step form (config key `sampler`; default the SPEC's "ddpm"). */
  form?: SamplerForm;
  /** How a Gumbel variant picks its attention (config key `top1Sampling`; default "argmax"). */
  gumbelSampling?: GumbelSampling;
  /** Temperature of "gumbel-soft" (config key `gumbelTau`). */
  tau?: number;
  /** Generator of the Gumbel draws (needed when the variant samples with them). */
  gumbelRng?: Rng;
}

/** Write the sampler's settings for `variant` under options `o`; returns whether it draws Gumbel noise. */
function writeSettings(kr: Kernel, variant: Variant, o: Pick<WasmSampleOptions, "form" | "gumbelSampling" | "tau" | "gumbelRng">): boolean {
  const form = o.form ?? samplerForm("ddpm");
  const rule = o.gumbelSampling ?? "argmax";
  const gumbel = samplesWithGumbel(variant, rule);
  if (gumbel && !o.gumbelRng) throw new Error(`${variant} sampled with ${rule} needs a generator for its Gumbel draws (gumbelRng)`);
  const tau = o.tau ?? 1;
  if (!(tau > 0 && Number.isFinite(tau))) throw new Error(`tau must be a positive number, got ${tau}`);
  writeStruct(kr.k.memory.buffer, kr.k.fixedBase() + OFF_CFG, SAMPLE_FIELDS, {
    form: form.kernelRule === "clamp-x0" ? 1 : 0, gumbel: gumbel ? 1 : 0, mode: gumbel ? gumbelMode(rule) : 0, tau,
  });
  return gumbel;
}

/**
 * Draw `n` samples with the fused kernel; returns tokens [n, 4, 12] in the model's [-1, 1] space
 * (no clipping), like `sampleTokens(networkEpsModel(params, variant), s, o)`.
 * @param params named float32 parameters (src/model/params.ts layout)
 */
export function wasmSampleTokens(params: ParamArrays, variant: Variant, s: Schedule, o: WasmSampleOptions): Float32Array {
  checkCount("n", o.n);
  checkCount("batch", o.batch);
  const noise = o.noise ?? "wasm";
  if (noise !== "wasm" && noise !== "rng") throw new Error(`noise must be "wasm" or "rng", got '${String(noise)}'`);
  const T = s.options.steps;
  const kr = new Kernel();
  loadWeights(kr, params, variant);
  const gumbel = writeSettings(kr, variant, o);

  // 1. Per-timestep tables: step coefficients of the form [T][8] and biases [T][32].
  const coefP = kr.alloc(T * 32);
  const b1P = kr.alloc(T * HIDDEN * 4);
  const bMax = Math.min(o.batch, o.n);
  const xP = kr.alloc(bMax * SAMPLE_BYTES);
  const zP = noise === "rng" ? kr.alloc(bMax * SAMPLE_BYTES) : 0;
  const gP = noise === "rng" && gumbel ? kr.alloc(bMax * GUMBEL_BYTES) : 0;
  const b1 = new Float32Array(T * HIDDEN);
  for (let t = 0; t < T; t++) b1.set(timeBias(params, t), t * HIDDEN);
  kr.writeF32(coefP, kernelStepTable(s, o.form ?? samplerForm("ddpm")));
  kr.writeF32(b1P, b1);
  if (noise === "wasm") {
    seedNoise(kr, o.rng);
    if (gumbel) seedStreams(kr, OFF_GRNG, 1, o.gumbelRng!);
  }

  // 2. Batches: x_T ~ N(0, I), then T ancestral steps.
  const out = new Float32Array(o.n * 48);
  const code = wasmKernelOf(variant, "sampling");
  const total = Math.ceil(o.n / o.batch) * T;
  let done = 0;
  for (let start = 0; start < o.n; start += o.batch) {
    const B = Math.min(o.batch, o.n - start);
    // "rng" mode: draw B * 48 normals per step, in sampleTokens' order (and B * 16 Gumbel draws from their own generator).
    const buf = noise === "rng" ? new Float32Array(B * 48) : null;
    const gbuf = noise === "rng" && gumbel ? new Float32Array(B * 16) : null;
    if (buf) {
      o.rng.fillNormal(buf);
      toLanes(buf, 0, B, kr.f32(xP, B * 48));
    } else {
      kr.k.normals(xP, B * 12);
    }
    for (let t = T - 1; t >= 0; ) {
      if (buf) {
        if (t > 0) {
          o.rng.fillNormal(buf);
          toLanes(buf, 0, B, kr.f32(zP, B * 48));
        }
        if (gbuf) gumbelToLanes(o.gumbelRng!.fillGumbel(gbuf), B, kr.f32(gP, B * 16));
        kr.k.run(code, coefP, b1P, xP, B, t, t, t > 0 ? zP : 0, gP);
        o.onStep?.(++done, total);
        t--;
      } else {
        const lo = Math.max(t - BLOCK_STEPS + 1, 0);
        kr.k.run(code, coefP, b1P, xP, B, t, lo, 0, 0);
        for (let i = t; i >= lo; i--) o.onStep?.(++done, total);
        t = lo - 1;
      }
    }
    fromLanes(kr.f32(xP, B * 48), B, out, start);
  }
  return out;
}

/**
 * eps(x, t) of the kernel's network for tokens [B, 4, 12] at one timestep (for tests); a Gumbel
 * variant under a rule other than "argmax" takes its draws `gumbel` [B, 4, 4] (tfjs layout).
 */
export function wasmEps(params: ParamArrays, variant: Variant, tokens: Float32Array, t: number,
  o: { gumbelSampling?: GumbelSampling; tau?: number; gumbel?: Float32Array } = {}): Float32Array {
  if (tokens.length % 48 !== 0) throw new Error(`expected tokens [B, 4, 12], got ${tokens.length} values`);
  const B = tokens.length / 48;
  const kr = new Kernel();
  loadWeights(kr, params, variant);
  const gumbel = writeSettings(kr, variant, { ...o, gumbelRng: o.gumbel ? new Rng(0) : undefined });
  if (gumbel && o.gumbel?.length !== B * 16) throw new Error(`${variant} with ${o.gumbelSampling}: gumbel must hold [${B}, 4, 4] draws, got ${o.gumbel?.length}`);
  const b1P = kr.alloc(HIDDEN * 4);
  const xP = kr.alloc(B * SAMPLE_BYTES);
  const eP = kr.alloc(B * SAMPLE_BYTES);
  const gP = gumbel ? kr.alloc(B * GUMBEL_BYTES) : 0;
  kr.writeF32(b1P, timeBias(params, t));
  toLanes(tokens, 0, B, kr.f32(xP, B * 48));
  if (gumbel) gumbelToLanes(o.gumbel!, B, kr.f32(gP, B * 16));
  kr.k.eps(wasmKernelOf(variant, "sampling"), b1P, xP, B, eP, gP);
  const out = new Float32Array(B * 48);
  fromLanes(kr.f32(eP, B * 48), B, out, 0);
  return out;
}

/**
 * A network kept loaded in one kernel instance, for many eps calls (the theory phase's comparisons
 * evaluate it at every timestep): `eps(tokens [B, 4, 12], t)` equals `wasmEps` and the per-step eps
 * of `wasmSampleTokens` bit for bit (same forward pass, same time biases). Argmax rule only.
 */
export function wasmNetwork(params: ParamArrays, variant: Variant): { eps(tokens: Float32Array, t: number): Float32Array } {
  const kr = new Kernel();
  loadWeights(kr, params, variant);
  writeSettings(kr, variant, { gumbelSampling: "argmax" });
  const code = wasmKernelOf(variant, "sampling");
  const b1P = kr.alloc(HIDDEN * 4);
  let cap = 0, xP = 0, eP = 0, lastT = -1;
  return {
    eps(tokens: Float32Array, t: number): Float32Array {
      if (tokens.length % 48 !== 0 || tokens.length === 0) throw new Error(`expected tokens [B, 4, 12], got ${tokens.length} values`);
      const B = tokens.length / 48;
      if (B > cap) {
        cap = B;
        xP = kr.alloc(B * SAMPLE_BYTES);
        eP = kr.alloc(B * SAMPLE_BYTES);
      }
      if (t !== lastT) {
        kr.writeF32(b1P, timeBias(params, t));
        lastT = t;
      }
      toLanes(tokens, 0, B, kr.f32(xP, B * 48));
      kr.k.eps(code, b1P, xP, B, eP, 0);
      const out = new Float32Array(B * 48);
      fromLanes(kr.f32(eP, B * 48), B, out, 0);
      return out;
    },
  };
}

/** `count` (a multiple of 8) standard normals from the kernel's generator seeded by `rng` (for tests). */
export function wasmNormals(rng: Rng, count: number): Float32Array {
  if (!Number.isInteger(count) || count < 8 || count % 8 !== 0) throw new Error(`count must be a positive multiple of 8, got ${count}`);
  const kr = new Kernel();
  seedNoise(kr, rng);
  const p = kr.alloc(count * 4);
  kr.k.normals(p, count / 4);
  return kr.f32(p, count).slice();
}

/** `count` (a multiple of 4) Gumbel(0, 1) draws from the kernel's Gumbel generator seeded by `rng` (for tests). */
export function wasmGumbels(rng: Rng, count: number): Float32Array {
  if (!Number.isInteger(count) || count < 4 || count % 4 !== 0) throw new Error(`count must be a positive multiple of 4, got ${count}`);
  const kr = new Kernel();
  seedStreams(kr, OFF_GRNG, 1, rng);
  const p = kr.alloc(count * 4);
  kr.k.gumbels(p, count / 4);
  return kr.f32(p, count).slice();
}

/** The kernel's vectorised exp or log on `x` (length a multiple of 4; for accuracy tests). */
export function wasmMath(fn: "exp" | "log", x: Float32Array): Float32Array {
  if (x.length % 4 !== 0) throw new Error(`length must be a multiple of 4, got ${x.length}`);
  const kr = new Kernel();
  const i = kr.alloc(x.length * 4);
  const o = kr.alloc(x.length * 4);
  kr.writeF32(i, x);
  (fn === "exp" ? kr.k.expArray : kr.k.logArray)(i, o, x.length / 4);
  return kr.f32(o, x.length).slice();
}
