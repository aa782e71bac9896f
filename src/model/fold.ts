/**
 * Weights folded for the fused sampler (src/kernels/sample-kernel.ts): products of parameter
 * matrices computed once per sampling run instead of at every step. Pure float arithmetic on the
 * named float32 arrays; float64 sums, rounded once.
 */
import { ATTENTION_SCALE, HIDDEN } from "./variant-registry";

/**
 * M = Wq Wk^T / sqrt(d) [H, H] (so that scores q k^T / sqrt(d) = h M h^T), stored transposed:
 * out[k * H + l] = M[l, k]. For blocks whose scores come from learnable Q and K.
 */
export function foldScoreMatrix(wq: Float32Array, wk: Float32Array): Float32Array {
  const H = HIDDEN;
  if (wq.length !== H * H || wk.length !== H * H) throw new Error(`foldScoreMatrix: Wq and Wk must be [${H}, ${H}], got ${wq.length} and ${wk.length} values`);
  const mt = new Float32Array(H * H);
  for (let l = 0; l < H; l++) {
    for (let k = 0; k < H; k++) {
      let acc = 0;
      for (let m = 0; m < H; m++) acc += wq[l * H + m] * wk[k * H + m];
      mt[k * H + l] = acc / Math.sqrt(H);
    }
  }
  return mt;
}

/** The scale the folded scores carry (for documentation and checks): 1/sqrt(d). */
export const FOLDED_SCALE = ATTENTION_SCALE;
