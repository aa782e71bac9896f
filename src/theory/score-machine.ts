/**
 * What every analytic noise predictor of src/theory/ is (a `ScoreMachine`), and the helpers shared by
 * the score machines (machines.ts) and the baselines (baselines.ts): timestep checks and the
 * Tweedie step from a denoiser to eps. In its own module so that neither of those imports the other
 * back.
 */
import { Schedule } from "../ddpm/schedule";

/** The machines derived from theory (docs/theory.md, "Score machines"). */
export type TheoryMachineName = "local" | "equivariant" | "ideal" | "attention" | "top1Optimal" | "pair" | "pairTop1";
/** Baseline predictors: what a denoiser of this data gets without patch structure. */
export type BaselineName = "trivial" | "gaussianPixel" | "gaussianShared" | "gaussianFull";
export type MachineName = TheoryMachineName | BaselineName;

/** An analytic noise predictor on tokens [B, 4, 12] (flat, float64 arithmetic). */
export interface ScoreMachine {
  name: MachineName;
  /** E[x0 | x_t] for tokens [B, 4, 12] at timestep t. */
  denoise(x: ArrayLike<number>, t: number): Float64Array;
  /** eps(x_t, t) = (x_t - sqrt(aBar_t) E[x0 | x_t]) / sqrt(1 - aBar_t), tokens [B, 4, 12]. */
  eps(x: ArrayLike<number>, t: number): Float64Array;
}

/** A noise predictor on plain arrays: tokens [B, 4, 12] (float32) at timestep t -> eps, same layout. */
export type FlatEps = (x: Float32Array, t: number) => ArrayLike<number>;

/** alphaBar_t of the schedule; a timestep outside 0..T-1 (or not an integer) is an error naming it. */
export function alphaBarAt(s: Schedule, t: number): number {
  if (!(Number.isInteger(t) && t >= 0 && t < s.alphaBars.length)) throw new Error(`timestep ${t} outside 0..${s.alphaBars.length - 1}`);
  return s.alphaBars[t];
}

/** Number of images B of tokens [B, 4, 12]; any other length is an error. */
export function checkTokens(x: ArrayLike<number>): number {
  if (x.length % 48 !== 0 || x.length === 0) throw new Error(`expected tokens [B, 4, 12], got ${x.length} values`);
  return x.length / 48;
}

/** eps = (x_t - sqrt(aBar) x0hat) / sqrt(1 - aBar) over a whole flat array (Tweedie). */
export function epsFromX0(x: ArrayLike<number>, x0hat: ArrayLike<number>, alphaBar: number): Float64Array {
  const a = Math.sqrt(alphaBar);
  const s = Math.sqrt(1 - alphaBar);
  const out = new Float64Array(x0hat.length); // plain loops: TypedArray.from with a map function is ~50x slower
  for (let i = 0; i < out.length; i++) out[i] = (x[i] - a * x0hat[i]) / s;
  return out;
}

/** A machine from its denoiser E[x0 | x_t] (as a function of alphaBar): eps by Tweedie's formula. */
export function machineFromDenoise(name: MachineName, s: Schedule, denoise: (x: ArrayLike<number>, aBar: number) => Float64Array): ScoreMachine {
  return {
    name,
    denoise: (x, t) => denoise(x, alphaBarAt(s, t)),
    eps: (x, t) => {
      const aBar = alphaBarAt(s, t);
      return epsFromX0(x, denoise(x, aBar), aBar);
    },
  };
}
