/**
 * The fused WebAssembly training kernel: one call of src/kernels/train.wasm (built from
 * assembly/train.ts) does what the tfjs engine does with tfjs kernels (forward, weighted loss,
 * backward, AdamW, EMA), with weights, moments and the dataset resident in wasm memory.
 * `WasmTrainer` is the kernel's TypeScript face; src/engines/wasm.ts makes it a `TrainEngine`.
 * It works on the packed layout of src/model/packed.ts and takes each step's randomness from the
 * caller (src/train/state.ts `drawStepNoise`), so both engines consume identical random numbers.
 */
import * as path from "path";
import { Schedule } from "../ddpm/schedule";
import { packedLayout } from "../model/packed";
import { HIDDEN } from "../model/params";
import { sinusoidalTable } from "../model/time-embedding";
import { getVariant, Variant } from "../model/variants";
import { FieldName, TRAIN_FIELDS, writeStruct } from "./constants";
import { instantiateKernel, WasmMemory, wasmKernelOf } from "./wasm";
import type { AdamWHyper } from "../train/adamw";
import type { PackedState, StepNoise } from "../train/state";

interface TrainExports {
  memory: WasmMemory;
  kinds(): number;
  init(variant: number, batch: number, n: number, steps: number): number;
  thetaPtr(): number;
  emaPtr(): number;
  momPtr(): number;
  velPtr(): number;
  gradPtr(): number;
  dataPtr(): number;
  sqrtAbPtr(): number;
  sqrt1mAbPtr(): number;
  weightPtr(): number;
  embPtr(): number;
  indexPtr(): number;
  tPtr(): number;
  epsPtr(): number;
  gumbelPtr(): number;
  cfgPtr(): number;
  scratchPtr(): number;
  scratchFloats(): number;
  paramOffset(which: number): number;
  lossAndGrad(B: number): number;
  adamw(th: number, g: number, m: number, v: number, n4: number): void;
  emaUpdate(e: number, th: number, n4: number): void;
  step(B: number): number;
}

/** The training step's settings, by name (src/kernels/constants.ts TRAIN_FIELDS). */
export type TrainSettings = Record<FieldName<typeof TRAIN_FIELDS>, number>;

/** Path of the compiled kernel (rebuild with `npm run build:wasm`). */
export const TRAIN_WASM = path.join(__dirname, "train.wasm");

/** A fresh instance of train.wasm (one per engine: each owns its memory). */
function instantiate(): TrainExports {
  return instantiateKernel<TrainExports>(TRAIN_WASM);
}

/**
 * AdamW constants of step `step` (1-based), computed in float64 exactly as src/train/adamw.ts hands
 * them to tfjs; the settings structure rounds them to float32.
 */
export function adamwConstants(h: AdamWHyper, step: number): Omit<TrainSettings, "tau" | "hard" | "emaOneMinusDecay"> {
  const bc1 = 1 - Math.pow(h.beta1, step);
  const bc2 = 1 - Math.pow(h.beta2, step);
  return {
    beta1: h.beta1, oneMinusBeta1: 1 - h.beta1, beta2: h.beta2, oneMinusBeta2: 1 - h.beta2, sqrtBiasCorrection2: Math.sqrt(bc2),
    eps: h.eps, decayFactor: 1 - h.lr * h.weightDecay, stepSize: h.lr / bc1,
  };
}

export interface WasmTrainerOptions {
  variant: Variant;
  /** Training tokens [N, 4, 12] (flat), copied into wasm memory once. */
  tokens: Float32Array;
  schedule: Schedule;
  /** Largest batch a step will see (SPEC: 64). */
  maxBatch: number;
  /** Gumbel-softmax temperature (top1; SPEC 1). */
  tau: number;
  /** Straight-through hard Gumbel-softmax (top1; SPEC false). */
  hard?: boolean;
}

/** One kernel instance holding one model's weights, moments and the dataset. */
export class WasmTrainer {
  readonly variant: Variant;
  /** Number of parameters P (packed layout). */
  readonly size: number;
  readonly n: number;
  readonly maxBatch: number;
  readonly tau: number;
  readonly hard: boolean;
  private readonly gumbel: boolean;
  private readonly ex: TrainExports;
  private readonly steps: number;

  constructor(o: WasmTrainerOptions) {
    if (!(o.tokens.length > 0 && o.tokens.length % 48 === 0)) throw new Error(`tokens must be [N, 4, 12], got ${o.tokens.length} values`);
    if (!(Number.isInteger(o.maxBatch) && o.maxBatch >= 1)) throw new Error(`maxBatch must be a positive integer, got ${o.maxBatch}`);
    this.variant = o.variant;
    this.n = o.tokens.length / 48;
    this.maxBatch = o.maxBatch;
    this.tau = o.tau;
    this.hard = o.hard ?? false;
    this.steps = o.schedule.options.steps;
    this.ex = instantiate();
    const code = wasmKernelOf(o.variant, "training");
    this.gumbel = getVariant(o.variant).gumbel;
    this.size = this.ex.init(code, o.maxBatch, this.n, this.steps);
    if (this.size === -2) throw new Error("train.wasm was compiled for another hidden width than the 32 its kernels are written for");
    if (this.size < 0) throw new Error(`train.wasm could not grow its memory for ${this.n} examples, batch ${o.maxBatch}`);
    const layout = packedLayout(o.variant);
    if (this.size !== layout.total) throw new Error(`train.wasm lays out ${this.size} parameters for ${o.variant}, packedLayout has ${layout.total}`);
    const at = (name: string) => layout.specs.find((s) => s.name === name)?.offset ?? -1;
    ["attn.wv", "out.w", "out.b"].map(at).forEach((off, i) => {
      if (this.ex.paramOffset(i) !== off) throw new Error(`train.wasm and packedLayout disagree on the offset of ${["attn.wv", "out.w", "out.b"][i]} (${this.ex.paramOffset(i)} vs ${off}); run npm run gen && npm run build:wasm`);
    });
    this.f32(this.ex.dataPtr(), o.tokens.length).set(o.tokens);
    this.f32(this.ex.sqrtAbPtr(), this.steps).set(o.schedule.sqrtAlphaBars);
    this.f32(this.ex.sqrt1mAbPtr(), this.steps).set(o.schedule.sqrtOneMinusAlphaBars);
    this.f32(this.ex.weightPtr(), this.steps).set(o.schedule.lossWeights);
    this.f32(this.ex.embPtr(), this.steps * HIDDEN).set(sinusoidalTable(this.steps));
  }

  private f32(ptr: number, n: number): Float32Array {
    return new Float32Array(this.ex.memory.buffer, ptr, n);
  }

  /** Copy the packed vectors into the engine. */
  setState(p: PackedState): void {
    for (const [k, ptr] of [["theta", this.ex.thetaPtr()], ["ema", this.ex.emaPtr()], ["m", this.ex.momPtr()], ["v", this.ex.velPtr()]] as const) {
      if (p[k].length !== this.size) throw new Error(`'${k}' has ${p[k].length} values, the ${this.variant} engine needs ${this.size}`);
      this.f32(ptr, this.size).set(p[k]);
    }
  }

  /**
   * The first non-finite value among the weights and the second moments (where an overflow shows
   * first: an infinite v silently zeroes a parameter's updates while the loss stays finite), or null.
   */
  nonFinite(): { name: "theta" | "v"; index: number; value: number } | null {
    for (const [name, ptr] of [["theta", this.ex.thetaPtr()], ["v", this.ex.velPtr()]] as const) {
      const a = this.f32(ptr, this.size);
      for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i])) return { name, index: i, value: a[i] };
    }
    return null;
  }

  /** Copies of the packed vectors. */
  getState(): PackedState {
    const get = (ptr: number) => this.f32(ptr, this.size).slice();
    return { theta: get(this.ex.thetaPtr()), ema: get(this.ex.emaPtr()), m: get(this.ex.momPtr()), v: get(this.ex.velPtr()) };
  }

  private writeBatch(index: Int32Array, noise: StepNoise): number {
    const B = index.length;
    if (!(B >= 1 && B <= this.maxBatch)) throw new Error(`batch of ${B} examples; this engine takes 1..${this.maxBatch}`);
    if (noise.t.length !== B || noise.eps.length !== B * 48) throw new Error(`noise for ${noise.t.length} timesteps / ${noise.eps.length} eps values does not fit a batch of ${B}`);
    for (let i = 0; i < B; i++) {
      if (!(index[i] >= 0 && index[i] < this.n)) throw new Error(`example index ${index[i]} outside [0, ${this.n})`);
      if (!(noise.t[i] >= 0 && noise.t[i] < this.steps)) throw new Error(`timestep ${noise.t[i]} outside [0, ${this.steps})`);
    }
    new Int32Array(this.ex.memory.buffer, this.ex.indexPtr(), B).set(index);
    new Int32Array(this.ex.memory.buffer, this.ex.tPtr(), B).set(noise.t);
    this.f32(this.ex.epsPtr(), B * 48).set(noise.eps);
    if (this.gumbel) {
      if (!noise.gumbel || noise.gumbel.length !== B * 16) throw new Error(`top1 needs Gumbel draws [${B}, 4, 4]`);
      this.f32(this.ex.gumbelPtr(), B * 16).set(noise.gumbel);
    }
    return B;
  }

  /** Write the step's settings (the block's, AdamW's, the EMA's) into the kernel's settings structure. */
  private settings(c: Omit<TrainSettings, "tau" | "hard">): void {
    writeStruct(this.ex.memory.buffer, this.ex.cfgPtr(), TRAIN_FIELDS, { tau: this.tau, hard: this.hard ? 1 : 0, ...c });
  }

  /** Loss and gradient [P] (packed layout) at the current weights; updates nothing. */
  lossAndGrad(index: Int32Array, noise: StepNoise): { loss: number; grad: Float32Array } {
    const B = this.writeBatch(index, noise);
    this.settings({ ...adamwConstants({ lr: 0, beta1: 0, beta2: 0, eps: 1, weightDecay: 0 }, 1), emaOneMinusDecay: 0 });
    const loss = this.ex.lossAndGrad(B);
    return { loss, grad: this.f32(this.ex.gradPtr(), this.size).slice() };
  }

  /**
   * One optimizer step: loss and gradient, AdamW step number `adamStep` (1-based) with `hyper`,
   * then EMA with decay `emaDecay`. Returns the loss before the update; a non-finite loss
   * leaves the weights untouched.
   */
  step(index: Int32Array, noise: StepNoise, hyper: AdamWHyper, adamStep: number, emaDecay: number): number {
    const B = this.writeBatch(index, noise);
    this.settings({ ...adamwConstants(hyper, adamStep), emaOneMinusDecay: 1 - emaDecay });
    return this.ex.step(B);
  }
}

/**
 * AdamW alone on small vectors (for tests against torch.optim.AdamW): runs `grads.length` steps
 * from `init` and returns the parameters after each step.
 */
export function adamwSteps(init: Float32Array, grads: Float32Array[], hyper: AdamWHyper): Float32Array[] {
  const ex = instantiate();
  const n = init.length;
  const n4 = (n + 3) & ~3;
  if (ex.init(0, 1, 1, 2) < 0 || 4 * n4 > ex.scratchFloats()) throw new Error(`adamwSteps: ${n} parameters do not fit the scratch region`);
  const cfg = ex.cfgPtr();
  const base = ex.scratchPtr();
  const view = (i: number) => new Float32Array(ex.memory.buffer, base + i * n4 * 4, n4);
  view(0).set(init);
  const out: Float32Array[] = [];
  grads.forEach((g, i) => {
    view(1).set(g);
    writeStruct(ex.memory.buffer, cfg, TRAIN_FIELDS, { tau: 1, hard: 0, ...adamwConstants(hyper, i + 1), emaOneMinusDecay: 0 });
    ex.adamw(base, base + n4 * 4, base + 2 * n4 * 4, base + 3 * n4 * 4, n4);
    out.push(view(0).slice(0, n));
  });
  return out;
}
