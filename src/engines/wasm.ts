/**
 * The wasm engine: the fused WebAssembly SIMD kernels (src/kernels/train-kernel.ts,
 * src/kernels/sample-kernel.ts, built from assembly/). One call per training step does forward,
 * loss, backward, AdamW and EMA with everything resident in wasm memory; sampling runs the whole
 * network and the DDPM update per sample in L1. Implements the variants whose descriptor names a
 * `wasm` part; others are refused with an error that names the tfjs engine.
 */
import { unpackArrays, packedLayout } from "../model/packed";
import { Variant } from "../model/variants";
import { wasmSampleTokens } from "../kernels/sample-kernel";
import { WasmTrainer } from "../kernels/train-kernel";
import { AdamWHyper } from "../train/adamw";
import { PackedState, StepNoise, TrainContext } from "../train/state";
import { SampleEngine, TrainEngine } from "./engine";

export class WasmTrainEngine implements TrainEngine {
  readonly name = "wasm" as const;
  private readonly kernel: WasmTrainer;

  constructor(ctx: TrainContext, readonly variant: Variant) {
    this.kernel = new WasmTrainer({ variant, tokens: ctx.tokens, schedule: ctx.schedule, maxBatch: ctx.cfg.batchSize, tau: ctx.cfg.gumbelTau, hard: ctx.cfg.gumbelHard });
  }

  load(p: PackedState): void {
    this.kernel.setState(p);
  }

  store(into: PackedState): void {
    const p = this.kernel.getState();
    into.theta.set(p.theta);
    into.ema.set(p.ema);
    into.m.set(p.m);
    into.v.set(p.v);
  }

  lossAndGrad(index: Int32Array, noise: StepNoise): { loss: number; grad: Float32Array } {
    return this.kernel.lossAndGrad(index, noise);
  }

  step(index: Int32Array, noise: StepNoise, hyper: AdamWHyper, adamStep: number, emaDecay: number): number {
    return this.kernel.step(index, noise, hyper, adamStep, emaDecay);
  }

  nonFinite(): { name: "theta" | "v"; index: number; value: number } | null {
    return this.kernel.nonFinite();
  }

  dispose(): void {
    // The kernel's memory belongs to its WebAssembly instance: dropping the reference frees it.
  }
}

/** Sampling with the fused kernel (noise drawn in the kernel from streams seeded by `rng`). */
export const wasmSampleEngine: SampleEngine = {
  name: "wasm",
  sample(flat, variant, schedule, o) {
    return wasmSampleTokens(unpackArrays(packedLayout(variant), flat), variant, schedule, o);
  },
};
