/**
 * The sinusoidal time embedding (SPEC "Score network"): [sin(t f_i), cos(t f_i)], f_i =
 * exp(-ln(10000) i / 16), i = 0..15. One definition for the tfjs network and the fused kernels.
 */
import { HIDDEN } from "./variant-registry";

export const HALF = HIDDEN / 2;

/** The 16 frequencies, float32 as the network multiplies them. */
export const TIME_FREQS: Float32Array = Float32Array.from({ length: HALF }, (_, i) => Math.exp((-Math.log(10000) * i) / HALF));

/**
 * The embedding of integer timestep t [32], as the tfjs network computes it: the argument t f_i is
 * a float32 product (tf.mul of two float32 tensors), sin and cos are rounded to float32.
 */
export function sinusoidalAt(t: number, out: Float32Array = new Float32Array(HIDDEN), offset = 0): Float32Array {
  for (let i = 0; i < HALF; i++) {
    const arg = Math.fround(t * TIME_FREQS[i]);
    out[offset + i] = Math.sin(arg);
    out[offset + HALF + i] = Math.cos(arg);
  }
  return out;
}

/** The embedding table [T, 32] of every timestep 0..T-1 (for the fused kernels). */
export function sinusoidalTable(T: number): Float32Array {
  const out = new Float32Array(T * HIDDEN);
  for (let t = 0; t < T; t++) sinusoidalAt(t, out, t * HIDDEN);
  return out;
}
