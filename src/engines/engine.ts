/**
 * Engines: the code that computes a training step or a sampling run, behind one small interface.
 * Two exist: "wasm", the fused WebAssembly SIMD kernels (src/kernels/, fast, the paper's four
 * variants), and "tfjs", the plain TensorFlow.js formulation (any registered variant: autodiff
 * gives its gradients). Both consume the same random numbers (src/train/state.ts) and read and
 * write the same engine-neutral state, so checkpoints move freely between them. src/engines/index.ts
 * is the one place that picks an engine.
 */
import type { SamplerForm } from "../ddpm/sampler-forms";
import type { Schedule } from "../ddpm/schedule";
import type { GumbelSampling } from "../model/variant-registry";
import type { Variant } from "../model/variants";
import type { Rng } from "../rng";
import type { AdamWHyper } from "../train/adamw";
import type { PackedState, StepNoise } from "../train/state";

export type EngineName = "wasm" | "tfjs";

/** One model's training computation: weights, EMA and moments live inside the engine while it trains. */
export interface TrainEngine {
  readonly name: EngineName;
  readonly variant: Variant;
  /** Copy packed weights, EMA and moments into the engine. */
  load(p: PackedState): void;
  /** Copy the engine's weights, EMA and moments into `into` (in place). */
  store(into: PackedState): void;
  /** Loss and gradient [P] (packed layout) at the current weights for examples `index`; updates nothing. */
  lossAndGrad(index: Int32Array, noise: StepNoise): { loss: number; grad: Float32Array };
  /**
   * One optimizer step: loss and gradient, AdamW step number `adamStep` (1-based) with `hyper`, then
   * EMA with decay `emaDecay`. Returns the loss before the update; a non-finite loss leaves the
   * weights untouched.
   */
  step(index: Int32Array, noise: StepNoise, hyper: AdamWHyper, adamStep: number, emaDecay: number): number;
  /** The first non-finite weight or second moment (where an overflow shows first), or null. */
  nonFinite(): { name: "theta" | "v"; index: number; value: number } | null;
  /** Free what the engine holds (tensors, wasm memory). */
  dispose(): void;
}

export interface SampleRequest {
  /** Number of samples. */
  n: number;
  /** Largest batch per network pass. */
  batch: number;
  /** Seeds the sampling noise. */
  rng: Rng;
  onStep?: (done: number, total: number) => void;
  /** Reverse-step form (config key `sampler`; default the SPEC's "ddpm"). */
  form?: SamplerForm;
  /** How a Gumbel variant picks its attention (config key `top1Sampling`; default "argmax"). */
  gumbelSampling?: GumbelSampling;
  /** Temperature of "gumbel-soft" (config key `gumbelTau`). */
  tau?: number;
  /** Generator of the Gumbel draws of a Gumbel variant under "gumbel-hard" / "gumbel-soft". */
  gumbelRng?: Rng;
}

/** One sampling computation: ancestral DDPM sampling of a model from its packed weights. */
export interface SampleEngine {
  readonly name: EngineName;
  /**
   * `n` samples of `variant` with packed weights `flat` [P]: tokens [n, 4, 12] in the model's
   * [-1, 1] space (unclipped except by the "clamp-x0" form). The engines draw their noise
   * differently (same distribution).
   */
  sample(flat: Float32Array, variant: Variant, schedule: Schedule, o: SampleRequest): Float32Array;
}
