/**
 * Ancestral DDPM sampling (SPEC): x_T ~ N(0, I), then T steps of `ddpmStep`. The model is passed
 * in as a function; the schedule holds none.
 */
import * as tf from "@tensorflow/tfjs-core";
import { Rng } from "../rng";
import { reverseStep, SamplerForm, samplerForm } from "./sampler-forms";
import { Schedule } from "./schedule";

/** Noise predictor eps(x_t, t) for a batch of tokens [B, 4, 12] at one timestep. */
export type EpsModel = (xt: tf.Tensor3D, t: number) => tf.Tensor3D;

export interface SampleOptions {
  /** Number of samples. */
  n: number;
  /** Largest batch per network call. */
  batch: number;
  /** Generator for x_T and the per-step noise. */
  rng: Rng;
  /** Called after every denoising step of every batch (for progress bars). */
  onStep?: (done: number, total: number) => void;
  /** Sees every step's x_t and predicted eps (both [B, 4, 12]) before the update (for analyses). */
  onEps?: (xt: tf.Tensor3D, eps: tf.Tensor3D, t: number) => void;
  /** Reverse-step form (src/ddpm/sampler-forms.ts; default the SPEC's "ddpm"). */
  form?: SamplerForm;
}

/** Draw `n` samples; returns tokens [n, 4, 12] in the model's [-1, 1] space (no clipping, except by the "clamp-x0" form's x0). */
export function sampleTokens(model: EpsModel, s: Schedule, o: SampleOptions): Float32Array {
  const out = new Float32Array(o.n * 48);
  const T = s.options.steps;
  const total = Math.ceil(o.n / o.batch) * T;
  const form = o.form ?? samplerForm("ddpm");
  let done = 0;
  for (let start = 0; start < o.n; start += o.batch) {
    const B = Math.min(o.batch, o.n - start);
    // A fresh array per draw: the cpu backend keeps a reference to the array it is given.
    const draw = () => tf.tensor3d(o.rng.fillNormal(new Float32Array(B * 48)), [B, 4, 12]);
    let x = draw();
    for (let t = T - 1; t >= 0; t--) {
      const z = t > 0 ? draw() : null;
      const eps = model(x, t);
      o.onEps?.(x, eps, t);
      const next = reverseStep(form, s, eps, t, x, z) as tf.Tensor3D;
      eps.dispose();
      x.dispose();
      z?.dispose();
      x = next;
      o.onStep?.(++done, total);
    }
    out.set(x.dataSync(), start * 48);
    x.dispose();
  }
  return out;
}
