/**
 * The fused WebAssembly training engine: one call of src/kernels/train.wasm (built from
 * assembly/train.ts) does what `trainStep` in src/train/trainer.ts does with tfjs kernels
 * (forward, weighted loss, backward, AdamW, EMA), with weights resident in wasm memory.
 *
 * Same semantics, same state: the engine works on the packed layout of src/model/packed.ts, and
 * `trainStepWasm` / `trainEpochWasm` read and write the ordinary `TrainState` (so checkpoints,
 * `paramsOf` and the tfjs engine keep working, and a run can switch engines and resume).
 * The randomness is drawn here in TypeScript from the state's seeded streams in exactly the order
 * `trainStep` draws it, so both engines consume identical random numbers.
 */
import * as path from "path";
import * as tf from "@tensorflow/tfjs-core";
import { Schedule } from "../ddpm/schedule";
import { packedLayout } from "../model/packed";
import { HIDDEN } from "../model/params";
import { getVariant, Variant } from "../model/variants";
import { instantiateKernel, WasmMemory, wasmKernelOf } from "./wasm";
import { AdamWHyper } from "../train/adamw";
import { emaDecayAt } from "../train/ema";
import { oneCycleAt } from "../train/onecycle";
import { TrainContext, TrainState } from "../train/trainer";

interface TrainExports {
  memory: WasmMemory;
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
  scratchPtr(): number;
  scratchFloats(): number;
  paramOffset(which: number): number;
  lossAndGrad(B: number, tau: number): number;
  adamw(th: number, g: number, m: number, v: number, n4: number, b1: number, omb1: number, b2: number, omb2: number,
    sqrtBc2: number, eps: number, decay: number, stepSize: number): void;
  emaUpdate(e: number, th: number, n4: number, oneMinusDecay: number): void;
  step(B: number, tau: number, b1: number, omb1: number, b2: number, omb2: number, sqrtBc2: number, eps: number,
    decay: number, stepSize: number, emaOneMinusDecay: number): number;
}

/** Path of the compiled kernel (rebuild with `npm run build:wasm`). */
export const TRAIN_WASM = path.join(__dirname, "train.wasm");

/** A fresh instance of train.wasm (one per engine: each owns its memory). */
function instantiate(): TrainExports {
  return instantiateKernel<TrainExports>(TRAIN_WASM);
}

/**
 * AdamW constants of step `step` (1-based), rounded to float32 by the wasm call exactly where
 * src/train/adamw.ts hands the same float64 scalars to tfjs.
 */
export function adamwConstants(h: AdamWHyper, step: number): number[] {
  const bc1 = 1 - Math.pow(h.beta1, step);
  const bc2 = 1 - Math.pow(h.beta2, step);
  return [h.beta1, 1 - h.beta1, h.beta2, 1 - h.beta2, Math.sqrt(bc2), h.eps, 1 - h.lr * h.weightDecay, h.lr / bc1];
}

/** The randomness of one training step. */
export interface StepNoise {
  /** Timesteps [B] in [0, T). */
  t: Int32Array;
  /** Standard normal noise [B, 4, 12]. */
  eps: Float32Array;
  /** Gumbel(0, 1) draws [B, 4, 4] (top1 only). */
  gumbel?: Float32Array;
}

/**
 * Draw one step's randomness from the state's streams, in `trainStep`'s order (timesteps, then
 * eps from "noise"; Gumbel from "gumbel" for top1). Keep in step with src/train/trainer.ts.
 */
export function drawStepNoise(s: TrainState, B: number, T: number): StepNoise {
  const t = new Int32Array(B);
  for (let i = 0; i < B; i++) t[i] = s.rngs.noise.int(T);
  const eps = s.rngs.noise.fillNormal(new Float32Array(B * 48));
  let gumbel: Float32Array | undefined;
  if (getVariant(s.variant).gumbel) {
    gumbel = s.rngs.gumbel.fillGumbel(new Float32Array(B * 16));
  }
  return { t, eps, gumbel };
}

/** Sinusoidal embedding table [T, 32] of every timestep, float32 as src/model/network.ts computes it. */
function embeddingTable(T: number): Float32Array {
  const half = HIDDEN / 2;
  const freqs = Float32Array.from({ length: half }, (_, i) => Math.exp((-Math.log(10000) * i) / half));
  const out = new Float32Array(T * HIDDEN);
  for (let t = 0; t < T; t++) {
    for (let i = 0; i < half; i++) {
      const arg = Math.fround(t * freqs[i]); // float32 product, as tf.mul of two float32 tensors
      out[t * HIDDEN + i] = Math.sin(arg);
      out[t * HIDDEN + half + i] = Math.cos(arg);
    }
  }
  return out;
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
}

/** Packed parameter vectors [P] of a training state. */
export interface PackedState {
  theta: Float32Array;
  ema: Float32Array;
  m: Float32Array;
  v: Float32Array;
}

/** One engine = one wasm instance holding one model's weights, moments and the dataset. */
export class WasmTrainer {
  readonly variant: Variant;
  /** Number of parameters P (packed layout). */
  readonly size: number;
  readonly n: number;
  readonly maxBatch: number;
  readonly tau: number;
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
    this.steps = o.schedule.options.steps;
    this.ex = instantiate();
    const code = wasmKernelOf(o.variant, "training");
    this.gumbel = getVariant(o.variant).gumbel;
    this.size = this.ex.init(code, o.maxBatch, this.n, this.steps);
    if (this.size < 0) throw new Error(`train.wasm could not grow its memory for ${this.n} examples, batch ${o.maxBatch}`);
    const layout = packedLayout(o.variant);
    if (this.size !== layout.total) throw new Error(`train.wasm lays out ${this.size} parameters for ${o.variant}, packedLayout has ${layout.total}`);
    const at = (name: string) => layout.specs.find((s) => s.name === name)?.offset ?? -1;
    const offsets = ["attn.wq", "attn.wk", "attn.wv", "out.w", "out.b"].map(at);
    offsets.forEach((off, i) => {
      if (this.ex.paramOffset(i) !== off) throw new Error(`train.wasm and packedLayout disagree on the offset of parameter block ${i} (${this.ex.paramOffset(i)} vs ${off})`);
    });
    this.f32(this.ex.dataPtr(), o.tokens.length).set(o.tokens);
    this.f32(this.ex.sqrtAbPtr(), this.steps).set(o.schedule.sqrtAlphaBars);
    this.f32(this.ex.sqrt1mAbPtr(), this.steps).set(o.schedule.sqrtOneMinusAlphaBars);
    this.f32(this.ex.weightPtr(), this.steps).set(o.schedule.lossWeights);
    this.f32(this.ex.embPtr(), this.steps * HIDDEN).set(embeddingTable(this.steps));
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

  /** Loss and gradient [P] (packed layout) at the current weights; updates nothing. */
  lossAndGrad(index: Int32Array, noise: StepNoise): { loss: number; grad: Float32Array } {
    const B = this.writeBatch(index, noise);
    const loss = this.ex.lossAndGrad(B, this.tau);
    return { loss, grad: this.f32(this.ex.gradPtr(), this.size).slice() };
  }

  /**
   * One optimizer step: loss and gradient, AdamW step number `adamStep` (1-based) with `hyper`,
   * then EMA with decay `emaDecay`. Returns the loss before the update; a non-finite loss
   * leaves the weights untouched.
   */
  step(index: Int32Array, noise: StepNoise, hyper: AdamWHyper, adamStep: number, emaDecay: number): number {
    const B = this.writeBatch(index, noise);
    const c = adamwConstants(hyper, adamStep);
    return this.ex.step(B, this.tau, c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], 1 - emaDecay);
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
  const base = ex.scratchPtr();
  const view = (i: number) => new Float32Array(ex.memory.buffer, base + i * n4 * 4, n4);
  view(0).set(init);
  const out: Float32Array[] = [];
  grads.forEach((g, i) => {
    view(1).set(g);
    const c = adamwConstants(hyper, i + 1);
    ex.adamw(base, base + n4 * 4, base + 2 * n4 * 4, base + 3 * n4 * 4, n4, c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]);
    out.push(view(0).slice(0, n));
  });
  return out;
}

// ------------------------------------------------------------------ TrainState integration

interface Binding {
  ctx: TrainContext;
  engine: WasmTrainer;
  /** The state's tensors the engine's memory was last loaded from or written to. */
  synced: tf.Tensor[];
}

const bindings = new WeakMap<TrainState, Binding>();

function stateTensors(s: TrainState): tf.Tensor[] {
  return [s.theta, s.ema, s.opt.m, s.opt.v];
}

/**
 * The engine bound to a training state, created on first use; (re)loaded from the state's
 * tensors whenever they are not the ones it last synced (e.g. after a tfjs step or a restore).
 */
export function engineFor(ctx: TrainContext, s: TrainState): WasmTrainer {
  let b = bindings.get(s);
  if (!b || b.ctx !== ctx || b.engine.variant !== s.variant) {
    const engine = new WasmTrainer({
      variant: s.variant, tokens: ctx.data.dataSync() as Float32Array, schedule: ctx.schedule,
      maxBatch: ctx.cfg.batchSize, tau: ctx.cfg.gumbelTau,
    });
    b = { ctx, engine, synced: [] };
    bindings.set(s, b);
  }
  const cur = stateTensors(s);
  if (cur.some((t, i) => t !== b!.synced[i])) {
    b.engine.setState({
      theta: s.theta.dataSync() as Float32Array, ema: s.ema.dataSync() as Float32Array,
      m: s.opt.m.dataSync() as Float32Array, v: s.opt.v.dataSync() as Float32Array,
    });
    b.synced = cur;
  }
  return b.engine;
}

/** Write the engine's weights, EMA and moments back into the state's tensors. */
function writeBack(s: TrainState): void {
  const b = bindings.get(s);
  if (!b) return;
  const p = b.engine.getState();
  for (const t of stateTensors(s)) t.dispose();
  s.theta = tf.tensor1d(p.theta);
  s.ema = tf.tensor1d(p.ema);
  s.opt.m = tf.tensor1d(p.m);
  s.opt.v = tf.tensor1d(p.v);
  b.synced = stateTensors(s);
}

/** One step on the engine; the state's tensors are left stale (callers write back). */
function stepOnEngine(ctx: TrainContext, s: TrainState, engine: WasmTrainer, index: Int32Array): number {
  const { cfg } = ctx;
  // 1. this step's randomness, in trainStep's order
  const noise = drawStepNoise(s, index.length, cfg.diffusionSteps);
  const sched = oneCycleAt(s.step, {
    maxLr: cfg.lr, totalSteps: s.totalSteps, pctStart: cfg.pctStart, divFactor: cfg.divFactor,
    finalDivFactor: cfg.finalDivFactor, baseMomentum: cfg.baseMomentum, maxMomentum: cfg.maxMomentum,
  });
  const beta1 = cfg.cycleMomentum ? sched.beta1 : cfg.beta1;
  // 2. loss, gradient, AdamW and EMA in one wasm call
  const loss = engine.step(index, noise, { lr: sched.lr, beta1, beta2: cfg.beta2, eps: cfg.adamEps, weightDecay: cfg.weightDecay },
    s.opt.step + 1, emaDecayAt(s.step, cfg.emaDecay, cfg.emaWarmup));
  if (!Number.isFinite(loss)) {
    throw new Error(`non-finite loss ${loss} at step ${s.step} (epoch ${s.epoch}, variant ${s.variant}, seed ${s.seed}, lr ${sched.lr})`);
  }
  const bad = engine.nonFinite();
  if (bad) {
    throw new Error(`non-finite optimiser state at step ${s.step}: '${bad.name}'[${bad.index}] is ${bad.value} (epoch ${s.epoch}, variant ${s.variant}, seed ${s.seed}, lr ${sched.lr}, loss ${loss})`);
  }
  s.opt.step++;
  s.step++;
  return loss;
}

/**
 * `trainStep` on the wasm engine: same arguments, randomness, semantics and result (the loss
 * before the update); the state's tensors are updated after the step.
 */
export function trainStepWasm(ctx: TrainContext, s: TrainState, index: Int32Array): number {
  const engine = engineFor(ctx, s);
  try {
    return stepOnEngine(ctx, s, engine, index);
  } finally {
    writeBack(s);
  }
}

/**
 * `trainEpoch` on the wasm engine: a fresh permutation from the "data" stream, batches in order,
 * the state's tensors written back once at the end of the epoch (also when a callback throws, so
 * the state stays consistent). Returns the mean loss.
 */
export function trainEpochWasm(ctx: TrainContext, s: TrainState, onStep?: (loss: number) => void): number {
  const engine = engineFor(ctx, s);
  const n = ctx.data.shape[0];
  const perm = s.rngs.data.permutation(n);
  let sum = 0;
  let count = 0;
  try {
    for (let start = 0; start < n; start += ctx.cfg.batchSize) {
      const loss = stepOnEngine(ctx, s, engine, perm.subarray(start, Math.min(n, start + ctx.cfg.batchSize)));
      sum += loss;
      count++;
      onStep?.(loss);
    }
  } finally {
    writeBack(s);
  }
  s.epoch++;
  const mean = sum / count;
  s.epochLosses.push(mean);
  return mean;
}

/** Training engines: the fused wasm step (default) or the tfjs reference formulation. */
export type TrainEngine = "wasm" | "tfjs";
