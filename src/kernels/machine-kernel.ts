/**
 * The score machines and baselines in float32 WebAssembly SIMD (assembly/machines.ts, compiled to
 * machines.wasm beside this file): the same predictors as src/theory/machines.ts and
 * src/theory/baselines.ts (the float64 reference; equal within a tested tolerance,
 * test/kernels-machines.test.ts), fast enough to sample them like the networks.
 *
 * What this file does: builds a machine's tables from the training tokens (distinct quadrant
 * contents, per-position log weights, pair and image components, Gaussian eigenbases) into the
 * kernel's `spec` layout; moves tokens [n, 4, 12] in and out of the kernel's feature-major layout
 * [n, 12, 4]; and drives the sampler exactly as src/kernels/sample-kernel.ts drives the networks'
 * (same coefficient table, same blocks of 25 steps, chunks of SAMPLE_CHUNK samples, the same 8-stream
 * generator seeded with 32 words of `rng`), so that a machine and a network sampled from one seed in
 * "wasm" noise mode see the same noise. `WasmNoise` gives that noise step by step, for loops that
 * need every x_t (comparisons along a network's trajectory).
 */
import * as path from "path";
import { kernelStepTable, SamplerForm, samplerForm } from "../ddpm/sampler-forms";
import { Schedule } from "../ddpm/schedule";
import { Rng } from "../rng";
import { quadrantMoments, symmetricEigen, tokenMoments } from "../theory/baselines";
import { allPairRows, MACHINE_DEFAULTS, MachineName, MachineOptions, pairBank, PAIR_PARTNERS, ScoreMachine } from "../theory/machines";
import { bankFromRows, PatchBank, quadrantRows } from "../theory/patch-bank";
import { alphaBarAt, checkTokens } from "../theory/score-machine";
import { instantiateWasm, WasmMemory } from "./wasm";

/** Path of the compiled kernel (built from assembly/machines.ts). */
export const MACHINES_WASM = path.join(__dirname, "machines.wasm");

interface Exports {
  memory: WasmMemory;
  fixedBase(): number;
  dynamicBase(): number;
  specBytes(): number;
  chunkSize(): number;
  normals(out: number, nVec: number): void;
  eps(spec: number, mt: number, x: number, n: number, out: number): void;
  run(spec: number, coef: number, mt: number, x: number, n: number, tHi: number, tLo: number, z: number, clampX0: number): void;
}

/** Machine kinds of assembly/machines.ts. */
const KIND = { patch: 0, pair: 1, pairTop1: 2, ideal: 3, attention: 4, top1Optimal: 5, trivial: 6, gaussianPixel: 7, gaussianShared: 8, gaussianFull: 9 } as const;
/** Byte offsets of the spec (assembly/machines.ts S_*). */
const S = {
  KIND: 0, K: 4, M: 8, FLAGS: 12, LOGEXTRA: 16, LOGNP: 20, LOGNQ: 24, PERM: 32, CONTENTS: 48, LW: 816, LWQ: 1072, COMP: 1136, IMG: 2160,
  IMGW: 14448, MEAN: 14704, VAR: 14896, U12: 15088, L12: 15664, MEAN12: 15712, U48: 15760, L48: 24976, BYTES: 25168,
} as const;
const MAX_CONTENTS = 16, MAX_COMPONENTS = 64;
const NEG = -1e30;
const SAMPLE_BYTES = 192;
/** Steps one chunk runs before the next chunk (as sample-kernel.ts). */
const BLOCK_STEPS = 25;

/** One kernel instance with its own memory and a bump allocator. */
class Kernel {
  readonly k: Exports;
  private top: number;
  constructor() {
    this.k = instantiateWasm<Exports>(MACHINES_WASM);
    if (this.k.specBytes() !== S.BYTES) throw new Error(`${MACHINES_WASM} has a spec of ${this.k.specBytes()} bytes, machine-kernel.ts writes ${S.BYTES}: run npm run build:wasm`);
    this.top = this.k.dynamicBase();
  }
  alloc(bytes: number): number {
    const p = this.top;
    this.top = (p + bytes + 63) & ~63;
    const need = this.top - this.k.memory.buffer.byteLength;
    if (need > 0) this.k.memory.grow(Math.ceil(need / 65536));
    return p;
  }
  f32(p: number, len: number): Float32Array {
    return new Float32Array(this.k.memory.buffer, p, len);
  }
}

// ---------------------------------------------------------------- tables
/** A machine's tables in the kernel's spec layout (bytes), built once from the training tokens. */
export interface MachineSpec {
  name: MachineName;
  bytes: Uint8Array;
}

const keyOf = (rows: ArrayLike<number>, at: number, dim: number) => {
  let k = "";
  for (let j = 0; j < dim; j++) k += `${rows[at + j]},`;
  return k;
};

/** Distinct quadrant contents of the training tokens (all positions) and their index by value. */
function contentsOf(tokens: ArrayLike<number>): { bank: PatchBank; index: Map<string, number> } {
  const bank = bankFromRows(quadrantRows(tokens, [0, 1, 2, 3]), 12, { aggregate: true });
  if (bank.size > MAX_CONTENTS) throw new Error(`the fused machine kernel holds at most ${MAX_CONTENTS} distinct quadrants, the training set has ${bank.size}; use the float64 machines (src/theory/machines.ts)`);
  const index = new Map<string, number>();
  for (let k = 0; k < bank.size; k++) index.set(keyOf(bank.patches, k * 12, 12), k);
  return { bank, index };
}

/** Swizzle bytes that gather lane y[q] into lane q (as the kernel's permOf). */
function permBytes(y: readonly number[]): Uint8Array {
  return Uint8Array.from({ length: 16 }, (_, i) => 4 * y[i >> 2] + (i & 3));
}

/** Build the spec of machine `name` from training tokens [N, 4, 12]. */
export function machineSpec(name: MachineName, tokens: ArrayLike<number>, o: MachineOptions = {}): MachineSpec {
  checkTokens(tokens);
  const buf = new ArrayBuffer(S.BYTES);
  const i32 = new Int32Array(buf), f32 = new Float32Array(buf), u8 = new Uint8Array(buf);
  const I = (off: number, v: number) => (i32[off / 4] = v);
  const Fv = (off: number, v: number) => (f32[off / 4] = v);
  const opts = { ...MACHINE_DEFAULTS, ...o };
  const { bank: contents, index } = contentsOf(tokens);
  const K = contents.size;
  const writeContents = () => {
    I(S.K, K);
    for (let k = 0; k < K; k++) for (let f = 0; f < 12; f++) Fv(S.CONTENTS + (k * 12 + f) * 4, contents.patches[k * 12 + f]);
  };
  /** Per-lane log weights of the contents: equivariant (pooled counts) or local (each position's counts). */
  const laneWeights = (off: number, kind: "local" | "equivariant", transform: (logCount: number, q: number) => number = (l) => l) => {
    const counts = [0, 1, 2, 3].map((q) => {
      const c = new Float64Array(K);
      const rows = quadrantRows(tokens, kind === "local" ? [q] : [0, 1, 2, 3]);
      for (let r = 0; r < rows.length / 12; r++) c[index.get(keyOf(rows, r * 12, 12))!]++;
      return c;
    });
    for (let k = 0; k < K; k++) for (let q = 0; q < 4; q++) Fv(off + (k * 4 + q) * 4, counts[q][k] > 0 ? transform(Math.log(counts[q][k]), q) : NEG);
    return counts;
  };
  const pairComponents = (bank: PatchBank) => {
    if (bank.size > MAX_COMPONENTS) throw new Error(`the fused machine kernel holds at most ${MAX_COMPONENTS} pair components, got ${bank.size}`);
    I(S.M, bank.size);
    for (let j = 0; j < bank.size; j++) {
      I(S.COMP + j * 16, index.get(keyOf(bank.patches, j * 24, 12))!);
      I(S.COMP + j * 16 + 4, index.get(keyOf(bank.patches, j * 24 + 12, 12))!);
      Fv(S.COMP + j * 16 + 8, bank.logWeights[j]);
    }
  };
  switch (name) {
    case "local":
    case "equivariant":
      I(S.KIND, KIND.patch);
      writeContents();
      laneWeights(S.LW, name);
      break;
    case "pair": {
      I(S.KIND, KIND.pair);
      writeContents();
      pairComponents(pairBank(tokens, PAIR_PARTNERS, true));
      u8.set(permBytes(PAIR_PARTNERS), S.PERM);
      break;
    }
    case "pairTop1": {
      I(S.KIND, KIND.pairTop1);
      writeContents();
      const pairs = bankFromRows(allPairRows(tokens), 24, { aggregate: true });
      pairComponents(pairs);
      for (let k = 0; k < K; k++) Fv(S.LWQ + k * 4, contents.logWeights[k]);
      Fv(S.LOGNP, Math.log(pairs.counts.reduce((a, c) => a + c, 0)));
      Fv(S.LOGNQ, Math.log(contents.counts.reduce((a, c) => a + c, 0)));
      break;
    }
    case "ideal": {
      I(S.KIND, KIND.ideal);
      writeContents();
      const images = bankFromRows(tokens, 48, { aggregate: true });
      if (images.size > MAX_COMPONENTS) throw new Error(`the fused machine kernel holds at most ${MAX_COMPONENTS} distinct images, the training set has ${images.size}; use the float64 machines`);
      I(S.M, images.size);
      for (let j = 0; j < images.size; j++) {
        for (let q = 0; q < 4; q++) I(S.COMP + j * 16 + q * 4, index.get(keyOf(images.patches, j * 48 + q * 12, 12))!);
        Fv(S.IMGW + j * 4, images.logWeights[j]);
        for (let f = 0; f < 12; f++) for (let q = 0; q < 4; q++) Fv(S.IMG + j * 192 + (f * 4 + q) * 4, images.patches[j * 48 + q * 12 + f]);
      }
      break;
    }
    case "attention": {
      const lambda = opts.partnerWeight;
      if (!(lambda >= 0 && lambda < 1)) throw new Error(`partnerWeight must be in [0, 1), got ${lambda}`);
      if (opts.partners !== "own" && opts.partners !== "pooled") throw new Error(`partners must be "own" or "pooled", got ${JSON.stringify(opts.partners)}`);
      I(S.KIND, KIND.attention);
      writeContents();
      const counts = laneWeights(S.LW, opts.attentionBase);
      const totals = counts.map((c) => c.reduce((a, b) => a + b, 0));
      // base components: log((1 - lambda) w_k / total) per lane, as v128 per content in the COMP table
      for (let k = 0; k < K; k++) for (let q = 0; q < 4; q++) Fv(S.COMP + (k * 4 + q) * 4, counts[q][k] > 0 ? Math.log(counts[q][k]) - Math.log(totals[q]) + Math.log(1 - lambda) : NEG);
      const pooled = opts.partners === "pooled";
      Fv(S.LOGEXTRA, lambda > 0 ? Math.log(lambda / (pooled ? 4 : 1)) : NEG);
      I(S.FLAGS, (opts.includeSelf ? 1 : 0) | (pooled ? 2 : 0));
      break;
    }
    case "top1Optimal":
      I(S.KIND, KIND.top1Optimal);
      writeContents();
      laneWeights(S.LW, "equivariant");
      break;
    case "trivial":
      I(S.KIND, KIND.trivial);
      break;
    case "gaussianPixel": {
      I(S.KIND, KIND.gaussianPixel);
      const { mean, cov } = tokenMoments(tokens);
      for (let q = 0; q < 4; q++) for (let f = 0; f < 12; f++) {
        Fv(S.MEAN + (f * 4 + q) * 4, mean[q * 12 + f]);
        Fv(S.VAR + (f * 4 + q) * 4, cov[(q * 12 + f) * 49]);
      }
      break;
    }
    case "gaussianShared": {
      I(S.KIND, KIND.gaussianShared);
      const { mean, cov } = quadrantMoments(tokens);
      const e = symmetricEigen(cov, 12);
      for (let f = 0; f < 12; f++) {
        Fv(S.MEAN12 + f * 4, mean[f]);
        Fv(S.L12 + f * 4, Math.max(0, e.values[f]));
        for (let i = 0; i < 12; i++) Fv(S.U12 + (f * 12 + i) * 4, e.vectors[f * 12 + i]);
      }
      break;
    }
    case "gaussianFull": {
      I(S.KIND, KIND.gaussianFull);
      const { mean, cov } = tokenMoments(tokens);
      const e = symmetricEigen(cov, 48);
      for (let q = 0; q < 4; q++) for (let f = 0; f < 12; f++) Fv(S.MEAN + (f * 4 + q) * 4, mean[q * 12 + f]);
      for (let i = 0; i < 48; i++) {
        Fv(S.L48 + i * 4, Math.max(0, e.values[i]));
        for (let q = 0; q < 4; q++) for (let f = 0; f < 12; f++) Fv(S.U48 + ((i * 12 + f) * 4 + q) * 4, e.vectors[(q * 12 + f) * 48 + i]);
      }
      break;
    }
    default: {
      const never: never = name;
      throw new Error(`unknown machine '${never}'`);
    }
  }
  return { name, bytes: u8 };
}

/** Per timestep (sqrt(aBar), sqrt(1 - aBar), 1 / (2 (1 - aBar)), 1 / sqrt(1 - aBar)): [T][4], float64 rounded once. */
function machineTable(s: Schedule): Float32Array {
  const T = s.options.steps;
  const out = new Float32Array(T * 4);
  for (let t = 0; t < T; t++) {
    const ab = s.alphaBars[t];
    out.set([Math.sqrt(ab), Math.sqrt(1 - ab), 1 / (2 * (1 - ab)), 1 / Math.sqrt(1 - ab)], t * 4);
  }
  return out;
}

// ---------------------------------------------------------------- layout moves
function toLanes(tokens: ArrayLike<number>, from: number, n: number, dst: Float32Array): void {
  for (let s = 0; s < n; s++) {
    const o = s * 48, i = (from + s) * 48;
    for (let q = 0; q < 4; q++) for (let f = 0; f < 12; f++) dst[o + f * 4 + q] = tokens[i + q * 12 + f];
  }
}

function fromLanes(src: Float32Array, n: number, tokens: Float32Array | Float64Array, to: number): void {
  for (let s = 0; s < n; s++) {
    const o = s * 48, i = (to + s) * 48;
    for (let q = 0; q < 4; q++) for (let f = 0; f < 12; f++) tokens[i + q * 12 + f] = src[o + f * 4 + q];
  }
}

/** Seed the kernel's 8 normal streams with 32 words of `rng`, exactly as sample-kernel.ts seeds the networks'. */
function seedNoise(kr: Kernel, rng: Rng): void {
  const st = new Uint32Array(kr.k.memory.buffer, kr.k.fixedBase(), 32);
  for (let i = 0; i < 32; i++) st[i] = rng.nextU32();
  for (let set = 0; set < 2; set++) {
    for (let lane = 0; lane < 4; lane++) {
      const w = (j: number) => set * 16 + j * 4 + lane;
      if ((st[w(0)] | st[w(1)] | st[w(2)] | st[w(3)]) === 0) st[w(0)] = 1;
    }
  }
}

// ---------------------------------------------------------------- public API
/** A machine computed by the kernel: a ScoreMachine (float32 inside, float64 out) that can also sample. */
export interface KernelMachine extends ScoreMachine {
  /** eps for tokens [B, 4, 12] as float32. */
  eps32(x: ArrayLike<number>, t: number): Float32Array;
  sample(o: KernelSampleOptions): Float32Array;
}

export interface KernelSampleOptions {
  n: number;
  batch: number;
  /** Seeds the kernel's noise streams ("wasm", default) or draws every normal ("rng", in sampleTokens' order). */
  rng: Rng;
  noise?: "wasm" | "rng";
  form?: SamplerForm;
  onStep?: (done: number, total: number) => void;
}

/** The machine `name` built from training tokens [N, 4, 12], computed by the fused kernel. */
export function kernelMachine(name: MachineName, tokens: ArrayLike<number>, s: Schedule, o: MachineOptions = {}): KernelMachine {
  return kernelMachineFromSpec(machineSpec(name, tokens, o), s);
}

/** A kernel machine from its spec (built once, e.g. in another thread). */
export function kernelMachineFromSpec(spec: MachineSpec, s: Schedule): KernelMachine {
  const kr = new Kernel();
  const specP = kr.alloc(S.BYTES);
  new Uint8Array(kr.k.memory.buffer, specP, S.BYTES).set(spec.bytes);
  const mt = machineTable(s);
  const mtP = kr.alloc(mt.length * 4);
  kr.f32(mtP, mt.length).set(mt);
  let cap = 0, xP = 0, eP = 0;
  const eps32 = (x: ArrayLike<number>, t: number): Float32Array => {
    alphaBarAt(s, t);
    const B = checkTokens(x);
    if (B > cap) {
      cap = B;
      xP = kr.alloc(B * SAMPLE_BYTES);
      eP = kr.alloc(B * SAMPLE_BYTES);
    }
    toLanes(x, 0, B, kr.f32(xP, B * 48));
    kr.k.eps(specP, mtP + t * 16, xP, B, eP);
    const out = new Float32Array(B * 48);
    fromLanes(kr.f32(eP, B * 48), B, out, 0);
    return out;
  };
  const eps = (x: ArrayLike<number>, t: number) => Float64Array.from(eps32(x, t));
  const denoise = (x: ArrayLike<number>, t: number) => {
    const e = eps32(x, t), ab = alphaBarAt(s, t), a = Math.sqrt(ab), sg = Math.sqrt(1 - ab);
    return Float64Array.from(e, (v, i) => (x[i] - sg * v) / a);
  };
  const sample = (so: KernelSampleOptions): Float32Array => {
    for (const [k, v] of [["n", so.n], ["batch", so.batch]] as const) if (!Number.isInteger(v) || v < 1) throw new Error(`${k} must be a positive integer, got ${v}`);
    const noise = so.noise ?? "wasm";
    if (noise !== "wasm" && noise !== "rng") throw new Error(`noise must be "wasm" or "rng", got '${String(noise)}'`);
    const form = so.form ?? samplerForm("ddpm");
    const T = s.options.steps;
    const coef = kernelStepTable(s, form);
    const coefP = kr.alloc(coef.length * 4);
    kr.f32(coefP, coef.length).set(coef);
    const bMax = Math.min(so.batch, so.n);
    const sxP = kr.alloc(bMax * SAMPLE_BYTES);
    const zP = noise === "rng" ? kr.alloc(bMax * SAMPLE_BYTES) : 0;
    if (noise === "wasm") seedNoise(kr, so.rng);
    const clamp = form.kernelRule === "clamp-x0" ? 1 : 0;
    const out = new Float32Array(so.n * 48);
    const total = Math.ceil(so.n / so.batch) * T;
    let done = 0;
    for (let start = 0; start < so.n; start += so.batch) {
      const B = Math.min(so.batch, so.n - start);
      const buf = noise === "rng" ? new Float32Array(B * 48) : null;
      if (buf) {
        so.rng.fillNormal(buf);
        toLanes(buf, 0, B, kr.f32(sxP, B * 48));
      } else kr.k.normals(sxP, B * 12);
      for (let t = T - 1; t >= 0;) {
        if (buf) {
          if (t > 0) {
            so.rng.fillNormal(buf);
            toLanes(buf, 0, B, kr.f32(zP, B * 48));
          }
          kr.k.run(specP, coefP, mtP, sxP, B, t, t, t > 0 ? zP : 0, clamp);
          so.onStep?.(++done, total);
          t--;
        } else {
          const lo = Math.max(t - BLOCK_STEPS + 1, 0);
          kr.k.run(specP, coefP, mtP, sxP, B, t, lo, 0, clamp);
          for (let i = t; i >= lo; i--) so.onStep?.(++done, total);
          t = lo - 1;
        }
      }
      fromLanes(kr.f32(sxP, B * 48), B, out, start);
    }
    return out;
  };
  return { name: spec.name, eps, eps32, denoise, sample };
}

/**
 * The Gaussian noise the fused samplers draw in "wasm" mode for `n` samples in one batch from `rng`
 * (sample-kernel.ts and this file: 8 streams seeded with 32 words, x_T first, then blocks of 25 steps
 * chunk by chunk), handed out step by step in tokens layout: `xT()` once, then `z(t)` for t = T-1
 * down to 1 (the DDPM form draws no noise at t = 0). A loop that samples with these gives the same
 * chain as the fused sampler with this seed.
 */
export class WasmNoise {
  private readonly kr = new Kernel();
  private readonly buf: number;
  private block: Float32Array[] = [];
  private blockLo = 0;
  private next: number;
  private readonly chunk: number;

  constructor(private readonly n: number, rng: Rng, private readonly T: number, private readonly sigmaZero: (t: number) => boolean) {
    if (!Number.isInteger(n) || n < 1) throw new Error(`n must be a positive integer, got ${n}`);
    seedNoise(this.kr, rng);
    this.chunk = this.kr.k.chunkSize();
    this.buf = this.kr.alloc(Math.max(n, this.chunk) * SAMPLE_BYTES);
    this.next = T - 1;
  }

  /** x_T, tokens [n, 4, 12] (call first, once). */
  xT(): Float32Array {
    this.kr.k.normals(this.buf, this.n * 12);
    const out = new Float32Array(this.n * 48);
    fromLanes(this.kr.f32(this.buf, this.n * 48), this.n, out, 0);
    return out;
  }

  /** The noise of step t (tokens [n, 4, 12]; zeros where the form draws none); steps must come in order T-1, T-2, ... */
  z(t: number): Float32Array {
    if (t !== this.next) throw new Error(`WasmNoise: asked for step ${t}, the next step is ${this.next}`);
    this.next--;
    if (t === this.T - 1 || t < this.blockLo) {
      // a new block: steps t .. lo, chunk by chunk
      const lo = Math.max(t - BLOCK_STEPS + 1, 0);
      this.blockLo = lo;
      this.block = Array.from({ length: t - lo + 1 }, () => new Float32Array(this.n * 48));
      for (let c0 = 0; c0 < this.n; c0 += this.chunk) {
        const cn = Math.min(this.chunk, this.n - c0);
        for (let u = t; u >= lo; u--) {
          if (this.sigmaZero(u)) continue;
          this.kr.k.normals(this.buf, cn * 12);
          fromLanes(this.kr.f32(this.buf, cn * 48), cn, this.block[t - u], c0);
        }
      }
      this.blockTop = t;
    }
    return this.block[this.blockTop - t];
  }

  private blockTop = 0;
}
