/**
 * DDPM noise schedule (Ho et al. 2020) as plain data. The scheduler holds no model: training
 * calls `addNoise`, sampling calls `ddpmStep`, and the model is passed to the sampler.
 */
import * as tf from "@tensorflow/tfjs-core";

export interface ScheduleOptions {
  /** Number of diffusion steps T (SPEC: 1000). */
  steps: number;
  /** Linear beta range (SPEC: 1e-4 .. 0.02). */
  betaStart: number;
  betaEnd: number;
}

export const DEFAULT_SCHEDULE: ScheduleOptions = { steps: 1000, betaStart: 1e-4, betaEnd: 0.02 };

/** Per-timestep coefficients, float64, index t = 0 .. T-1. */
export interface Schedule {
  options: ScheduleOptions;
  betas: Float64Array;
  alphas: Float64Array;
  /** alphaBar_t = prod_{s <= t} (1 - beta_s). */
  alphaBars: Float64Array;
  sqrtAlphaBars: Float64Array;
  sqrtOneMinusAlphaBars: Float64Array;
  /** Loss weight 1 - alphaBar_t (SPEC). */
  lossWeights: Float64Array;
}

/** Linear schedule: betas = linspace(betaStart, betaEnd, T) as torch.linspace computes it. */
export function makeSchedule(options: ScheduleOptions = DEFAULT_SCHEDULE): Schedule {
  const { steps: T, betaStart, betaEnd } = options;
  if (!Number.isInteger(T) || T < 2) throw new Error(`schedule steps must be an integer >= 2, got ${T}`);
  if (!(betaStart > 0 && betaEnd < 1 && betaStart <= betaEnd)) throw new Error(`bad beta range [${betaStart}, ${betaEnd}]`);
  const betas = new Float64Array(T);
  const step = (betaEnd - betaStart) / (T - 1);
  // torch.linspace fills the first half forward from start and the second half backward from end.
  const half = Math.floor(T / 2);
  for (let i = 0; i < T; i++) betas[i] = i < half ? betaStart + step * i : betaEnd - step * (T - 1 - i);
  const alphas = betas.map((b) => 1 - b);
  const alphaBars = new Float64Array(T);
  let prod = 1;
  for (let i = 0; i < T; i++) alphaBars[i] = prod *= alphas[i];
  return {
    options: { ...options },
    betas,
    alphas,
    alphaBars,
    sqrtAlphaBars: alphaBars.map(Math.sqrt),
    sqrtOneMinusAlphaBars: alphaBars.map((a) => Math.sqrt(1 - a)),
    lossWeights: alphaBars.map((a) => 1 - a),
  };
}

/**
 * Forward process q(x_t | x_0): x_t = sqrt(alphaBar_t) x0 + sqrt(1 - alphaBar_t) eps.
 * @param x0 [B, ...] clean data; @param eps same shape; @param t int32 [B]
 */
export function addNoise(s: Schedule, x0: tf.Tensor, eps: tf.Tensor, t: tf.Tensor1D): tf.Tensor {
  return tf.tidy(() => {
    const shape = [t.shape[0], ...x0.shape.slice(1).map(() => 1)];
    const a = tf.reshape(tf.gather(tf.tensor1d(Float32Array.from(s.sqrtAlphaBars)), t), shape);
    const b = tf.reshape(tf.gather(tf.tensor1d(Float32Array.from(s.sqrtOneMinusAlphaBars)), t), shape);
    return tf.add(tf.mul(a, x0), tf.mul(b, eps));
  });
}

/** Clean-data estimate from a noise prediction: x0 = (x_t - sqrt(1 - alphaBar_t) eps) / sqrt(alphaBar_t). */
export function predictX0(s: Schedule, xt: tf.Tensor, epsPred: tf.Tensor, t: number): tf.Tensor {
  return tf.tidy(() => tf.div(tf.sub(xt, tf.mul(epsPred, s.sqrtOneMinusAlphaBars[t])), s.sqrtAlphaBars[t]));
}

/** Scalar coefficients of one ancestral step at timestep t (shared by every batch element). */
export function stepCoefficients(s: Schedule, t: number): { c1: number; c2: number; sigma: number } {
  return {
    c1: 1 / Math.sqrt(s.alphas[t]),
    c2: s.betas[t] / s.sqrtOneMinusAlphaBars[t],
    sigma: t > 0 ? Math.sqrt(s.betas[t]) : 0,
  };
}

/**
 * One ancestral step (SPEC):
 * x_{t-1} = (x_t - beta_t / sqrt(1 - alphaBar_t) * eps) / sqrt(alpha_t) + sqrt(beta_t) z,
 * with no noise at t = 0 and no clipping. `z` is standard normal noise of x_t's shape.
 */
export function ddpmStep(s: Schedule, epsPred: tf.Tensor, t: number, xt: tf.Tensor, z: tf.Tensor | null): tf.Tensor {
  const { c1, c2, sigma } = stepCoefficients(s, t);
  return tf.tidy(() => {
    const mean = tf.mul(tf.sub(xt, tf.mul(epsPred, c2)), c1);
    if (sigma === 0 || z === null) return mean;
    return tf.add(mean, tf.mul(z, sigma));
  });
}
