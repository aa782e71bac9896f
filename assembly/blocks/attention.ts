/**
 * The attention block of `attention` (src/variants/attention.ts): learnable Q = h Wq and K = h Wk,
 * weights A = softmax(Q K^T / sqrt(H)) over the 4 keys. The values (h Wv), the residual h + A V
 * and their gradients are the kernels' shared part; a block computes only A and, in training,
 * the gradients that flow through A.
 *
 * Training (assembly/train.ts, per example, token-major [4, H] rows):
 *   trainForward: A [4 queries, 4 keys] from h; trainBackward: dL/dA -> dWq, dWk, dh.
 * Sampling (assembly/sample.ts, one sample, feature-major: lane i = token i):
 *   sampleWeights: A_j (column j, lanes = queries) from the hidden vectors h_k, with the folded
 *   matrix M = Wq Wk^T / sqrt(H) that src/variants/attention.ts `foldSampler` writes (stored
 *   transposed, MT[k][l] = M[l, k]).
 */
import { H, P_ATTENTION_ATTN_WK, P_ATTENTION_ATTN_WQ, SCALE } from "../_constants";
import { dotH, mm4, qkBackward, region, softmax4, softmaxBackward4, transpose } from "../lib/ops";
import { qkScores, softmaxColumns } from "../lib/lanes";

let q: usize = 0; // [4, H]
let k: usize = 0; // [4, H]
let wqT: usize = 0; // [H, H]
let wkT: usize = 0;
let dST: usize = 0; // [4, 4]
let dq: usize = 0; // [4, H]
let dk: usize = 0;

export function trainInit(): void {
  q = region(4 * H); k = region(4 * H);
  wqT = region(H * H); wkT = region(H * H);
  dST = region(16); dq = region(4 * H); dk = region(4 * H);
}

/** Once per step: the transposed weights the backward pass multiplies with. */
export function trainPrepare(theta: usize): void {
  transpose(theta + (<usize>P_ATTENTION_ATTN_WQ << 2), H, H, wqT);
  transpose(theta + (<usize>P_ATTENTION_ATTN_WK << 2), H, H, wkT);
}

/** A = softmax(h Wq (h Wk)^T / sqrt(H)) into `att` [4, 4]. */
export function trainForward(theta: usize, cfg: usize, h: usize, gumbel: usize, att: usize): void {
  mm4(h, H, theta + (<usize>P_ATTENTION_ATTN_WQ << 2), H, H, 0, 0, q, H);
  mm4(h, H, theta + (<usize>P_ATTENTION_ATTN_WK << 2), H, H, 0, 0, k, H);
  for (let i = 0; i < 4; i++) {
    for (let j = 0; j < 4; j++) {
      store<f32>(att + (<usize>(i * 4 + j) << 2), dotH(q + (<usize>(i * H) << 2), k + (<usize>(j * H) << 2)) * SCALE);
    }
  }
  softmax4(att);
}

/** dA (overwritten) -> dWq, dWk into `grad`, and dh += dQ Wq^T + dK Wk^T. */
export function trainBackward(theta: usize, cfg: usize, h: usize, att: usize, dA: usize, dh: usize, grad: usize): void {
  softmaxBackward4(att, dA, SCALE);
  qkBackward(h, q, k, dA, dST, dq, dk, grad + (<usize>P_ATTENTION_ATTN_WQ << 2), grad + (<usize>P_ATTENTION_ATTN_WK << 2), wqT, wkT, dh);
}

/**
 * Scores C_j[i] = h_i M h_j^T, then A_j = softmax_j(C) (lanes: queries i), into out[0..3].
 * @param ht the H hidden vectors h_k (v128, lanes = tokens); @param w the block's folded weights (MT)
 */
@inline export function sampleWeights(ht: usize, w: usize, cfg: usize, g: usize, out: usize): void {
  qkScores(ht, w, out);
  softmaxColumns(v128.load(out), v128.load(out, 16), v128.load(out, 32), v128.load(out, 48), out);
}
