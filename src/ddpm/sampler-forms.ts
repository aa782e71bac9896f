/**
 * Reverse-step forms of the ancestral DDPM sampler (config key `sampler`), registered by name. The
 * paper leaves the sampler open; docs/experiment.md fixes `ddpm`, and the others are the choices a
 * reader of the cited code base would make:
 *
 *   ddpm            x_{t-1} = (x_t - beta_t / sqrt(1 - aBar_t) eps) / sqrt(alpha_t) + sqrt(beta_t) z   (SPEC)
 *   ddpm-posterior  the same mean, sigma_t^2 = betaTilde_t = beta_t (1 - aBar_{t-1}) / (1 - aBar_t)
 *   clamp-x0        minimal-diffusion's step (VSehwag/minimal-diffusion, main.py): x0 =
 *                   clamp((x_t - sqrt(1 - aBar_t) eps) / sqrt(aBar_t), -1, 1), mean = k0 x0 + k1 x_t with
 *                   k0 = sqrt(aBar_t) beta_t / ((1 - aBar_t) sqrt(alpha_t)),
 *                   k1 = (alpha_t - aBar_t) / ((1 - aBar_t) sqrt(alpha_t)), sigma_t^2 = betaTilde_t
 *                   (that code uses a cosine schedule; the paper's is linear, which we keep)
 *
 * Every form adds no noise at the last step (t = 0). A form is the tfjs formulation of one step plus
 * the per-timestep coefficients of the fused kernel's two reverse-step rules ("eps": x <- (x - c2
 * eps) c1 + sigma z; "clamp-x0": as above): a new form that fits one of these rules needs no kernel
 * change. Tests loop over `SAMPLER_FORMS`.
 */
import * as tf from "@tensorflow/tfjs-core";
import { Schedule } from "./schedule";

export type SamplerFormName = "ddpm" | "ddpm-posterior" | "clamp-x0";

export interface SamplerForm {
  readonly name: SamplerFormName;
  /** One line for --help and tables. */
  readonly description: string;
  /** Which reverse-step rule of the fused kernel computes it (assembly/sample.ts SAMPLE_FORM 0 / 1). */
  readonly kernelRule: "eps" | "clamp-x0";
  /** The noise variance sigma_t^2 added in the step x_t -> x_{t-1}, t >= 1 (float64). */
  variance(s: Schedule, t: number): number;
}

/** alphaBar_{t-1}, with alphaBar_{-1} = 1. */
function alphaBarPrev(s: Schedule, t: number): number {
  return t > 0 ? s.alphaBars[t - 1] : 1;
}

/** The posterior variance of q(x_{t-1} | x_t, x_0): beta_t (1 - aBar_{t-1}) / (1 - aBar_t). */
export function posteriorVariance(s: Schedule, t: number): number {
  return (s.betas[t] * (1 - alphaBarPrev(s, t))) / (1 - s.alphaBars[t]);
}

export const SAMPLER_FORMS: readonly SamplerForm[] = [
  { name: "ddpm", description: "eps form, sigma^2 = beta (SPEC)", kernelRule: "eps", variance: (s, t) => s.betas[t] },
  { name: "ddpm-posterior", description: "eps form, sigma^2 = beta-tilde (posterior variance)", kernelRule: "eps", variance: posteriorVariance },
  { name: "clamp-x0", description: "minimal-diffusion: x0 clamped to [-1, 1], posterior mean, sigma^2 = beta-tilde", kernelRule: "clamp-x0", variance: posteriorVariance },
];

export const SAMPLER_FORM_NAMES: readonly SamplerFormName[] = SAMPLER_FORMS.map((f) => f.name);

/** The form called `name`; an unknown name is an error listing the known ones. */
export function samplerForm(name: string): SamplerForm {
  const f = SAMPLER_FORMS.find((x) => x.name === name);
  if (!f) throw new Error(`unknown sampler form '${name}' (expected one of ${SAMPLER_FORM_NAMES.join(", ")})`);
  return f;
}

/**
 * Per-timestep coefficients of the fused kernel's reverse step [T][8], float32:
 * c1 = 1/sqrt(alpha_t), c2 = beta_t / sqrt(1 - aBar_t), sigma_t (0 at t = 0), a = 1/sqrt(aBar_t),
 * b = sqrt(1 - aBar_t), k0, k1 (clamp-x0's posterior-mean coefficients), 0.
 */
export function kernelStepTable(s: Schedule, form: SamplerForm): Float32Array {
  const T = s.options.steps;
  const out = new Float32Array(T * 8);
  for (let t = 0; t < T; t++) {
    const ab = s.alphaBars[t];
    const denom = (1 - ab) * Math.sqrt(s.alphas[t]);
    out.set([
      1 / Math.sqrt(s.alphas[t]), s.betas[t] / s.sqrtOneMinusAlphaBars[t], t > 0 ? Math.sqrt(form.variance(s, t)) : 0,
      1 / Math.sqrt(ab), Math.sqrt(1 - ab), (Math.sqrt(ab) * s.betas[t]) / denom, (s.alphas[t] - ab) / denom, 0,
    ], t * 8);
  }
  return out;
}

/**
 * One reverse step of `form` in tfjs: x_t [B, ...], predicted eps of the same shape, noise z (null
 * at t = 0). Scalars are the float64 coefficients, applied as tfjs float32 ops.
 */
export function reverseStep(form: SamplerForm, s: Schedule, epsPred: tf.Tensor, t: number, xt: tf.Tensor, z: tf.Tensor | null): tf.Tensor {
  return tf.tidy(() => {
    let mean: tf.Tensor;
    if (form.kernelRule === "eps") {
      mean = tf.mul(tf.sub(xt, tf.mul(epsPred, s.betas[t] / s.sqrtOneMinusAlphaBars[t])), 1 / Math.sqrt(s.alphas[t]));
    } else {
      const ab = s.alphaBars[t];
      const denom = (1 - ab) * Math.sqrt(s.alphas[t]);
      const x0 = tf.clipByValue(tf.mul(tf.sub(xt, tf.mul(epsPred, Math.sqrt(1 - ab))), 1 / Math.sqrt(ab)), -1, 1);
      mean = tf.add(tf.mul(x0, (Math.sqrt(ab) * s.betas[t]) / denom), tf.mul(xt, (s.alphas[t] - ab) / denom));
    }
    if (t === 0 || z === null) return mean;
    return tf.add(mean, tf.mul(z, Math.sqrt(form.variance(s, t))));
  });
}
