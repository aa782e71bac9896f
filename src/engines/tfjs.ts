/**
 * The tfjs engine: the reference formulation. A training step is `tf.valueAndGrads` over the
 * weighted DDPM loss of the network (src/model/network.ts, whose attention block is the variant
 * descriptor's), then AdamW and the EMA as tensor ops; sampling is `sampleTokens` over the
 * network. Works for every registered variant; dispatch-bound, so slow (the wasm engine is the
 * fast path for the paper's four).
 */
import * as tf from "@tensorflow/tfjs-core";
import { sampleTokens } from "../ddpm/sampler";
import { networkEpsModel } from "../model/eps-model";
import { disposeParams, packedLayout, PackedLayout, packTensors, unpackTensors } from "../model/packed";
import { Variant } from "../model/variants";
import { adamwStep, AdamWHyper, AdamWState } from "../train/adamw";
import { emaUpdate } from "../train/ema";
import { diffusionLoss } from "../train/loss";
import { firstNonFinite, PackedState, StepNoise, TrainContext } from "../train/state";
import { SampleEngine, TrainEngine } from "./engine";

export class TfjsTrainEngine implements TrainEngine {
  readonly name = "tfjs" as const;
  private readonly layout: PackedLayout;
  /** Training tokens [N, 4, 12] and loss weights [T], resident on the backend. */
  private readonly data: tf.Tensor3D;
  private readonly lossWeights: tf.Tensor1D;
  private theta: tf.Tensor1D;
  private ema: tf.Tensor1D;
  private opt: AdamWState;

  constructor(private readonly ctx: TrainContext, readonly variant: Variant) {
    this.layout = packedLayout(variant);
    this.data = tf.tensor3d(ctx.tokens, [ctx.n, 4, 12]);
    this.lossWeights = tf.tensor1d(Float32Array.from(ctx.schedule.lossWeights));
    const zeros = () => tf.zeros([this.layout.total]) as tf.Tensor1D;
    this.theta = zeros();
    this.ema = zeros();
    this.opt = { m: zeros(), v: zeros(), step: 0 };
  }

  load(p: PackedState): void {
    for (const [k, a] of Object.entries(p)) {
      if (a.length !== this.layout.total) throw new Error(`'${k}' has ${a.length} values, the ${this.variant} engine needs ${this.layout.total}`);
    }
    for (const t of [this.theta, this.ema, this.opt.m, this.opt.v]) t.dispose();
    this.theta = tf.tensor1d(p.theta);
    this.ema = tf.tensor1d(p.ema);
    this.opt.m = tf.tensor1d(p.m);
    this.opt.v = tf.tensor1d(p.v);
  }

  store(into: PackedState): void {
    into.theta.set(this.theta.dataSync());
    into.ema.set(this.ema.dataSync());
    into.m.set(this.opt.m.dataSync());
    into.v.set(this.opt.v.dataSync());
  }

  /** Loss (scalar tensor) and packed gradient [P] at the current weights. */
  private valueAndGrad(index: Int32Array, noise: StepNoise): { value: tf.Scalar; grad: tf.Tensor1D } {
    const B = index.length;
    const { cfg, schedule } = this.ctx;
    return tf.tidy(() => {
      const t = tf.tensor1d(noise.t, "int32");
      const batch = {
        x0: tf.gather(this.data, tf.tensor1d(index, "int32")) as tf.Tensor3D,
        eps: tf.tensor3d(noise.eps, [B, 4, 12]),
        t,
        weight: tf.gather(this.lossWeights, t) as tf.Tensor1D,
        gumbel: noise.gumbel ? tf.tensor3d(noise.gumbel, [B, 4, 4]) : undefined,
      };
      const p = unpackTensors(this.layout, this.theta);
      const names = this.layout.specs.map((x) => x.name);
      const { value, grads } = tf.valueAndGrads((...xs: tf.Tensor[]) =>
        diffusionLoss(Object.fromEntries(names.map((n, i) => [n, xs[i]])), this.variant, schedule, batch, { tau: cfg.gumbelTau, hard: cfg.gumbelHard }),
      )(names.map((n) => p[n]));
      return { value: value as tf.Scalar, grad: packTensors(this.layout, Object.fromEntries(names.map((n, i) => [n, grads[i]]))) };
    });
  }

  lossAndGrad(index: Int32Array, noise: StepNoise): { loss: number; grad: Float32Array } {
    const { value, grad } = this.valueAndGrad(index, noise);
    const out = { loss: value.dataSync()[0], grad: grad.dataSync().slice() as Float32Array };
    value.dispose();
    grad.dispose();
    return out;
  }

  step(index: Int32Array, noise: StepNoise, hyper: AdamWHyper, adamStep: number, emaDecay: number): number {
    const { value, grad } = this.valueAndGrad(index, noise);
    const loss = value.dataSync()[0];
    value.dispose();
    if (!Number.isFinite(loss)) {
      grad.dispose();
      return loss; // weights untouched
    }
    this.opt.step = adamStep - 1;
    const next = adamwStep(this.theta, grad, this.opt, hyper);
    grad.dispose();
    this.theta.dispose();
    this.theta = next;
    this.ema = emaUpdate(this.ema, this.theta, emaDecay);
    return loss;
  }

  nonFinite(): { name: "theta" | "v"; index: number; value: number } | null {
    for (const [name, t] of [["theta", this.theta], ["v", this.opt.v]] as const) {
      const a = t.dataSync();
      const i = firstNonFinite(a);
      if (i >= 0) return { name, index: i, value: a[i] };
    }
    return null;
  }

  dispose(): void {
    for (const t of [this.data, this.lossWeights, this.theta, this.ema, this.opt.m, this.opt.v]) t.dispose();
  }
}

/** Sampling with the tfjs network and `sampleTokens` (noise from `Rng.fillNormal`). */
export const tfjsSampleEngine: SampleEngine = {
  name: "tfjs",
  sample(flat, variant, schedule, o) {
    const theta = tf.tensor1d(flat);
    const params = unpackTensors(packedLayout(variant), theta);
    try {
      const model = networkEpsModel(params, variant, { sampling: o.gumbelSampling, tau: o.tau, gumbelRng: o.gumbelRng });
      return sampleTokens(model, schedule, o);
    } finally {
      disposeParams(params);
      theta.dispose();
    }
  },
};
