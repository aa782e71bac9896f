/**
 * The attention block of `top1` (src/variants/top1.ts): learnable Q = h Wq, K = h Wk, scores
 * s = Q K^T / sqrt(H), and a top-1 choice of key.
 * - Training: Gumbel-softmax A = softmax((s + g) / tau) with the step's Gumbel(0, 1) draws g
 *   (config field tau); with `hard` (straight-through, PyTorch's gumbel_softmax(hard=True)) the
 *   forward pass uses (onehot(argmax A) - A) + A and the gradient flows through the soft A.
 * - Sampling (config field mode): 0 the argmax of s (one-hot, the SPEC); 1 the argmax of s + g
 *   with fresh Gumbel draws at every step; 2 softmax((s + g) / tau).
 * See assembly/blocks/attention.ts for the block contract.
 */
import { H, P_TOP1_ATTN_WK, P_TOP1_ATTN_WQ, SAMPLE_MODE, SAMPLE_TAU, SCALE, TRAIN_HARD, TRAIN_TAU } from "../_constants";
import { dotH, mm4, qkBackward, region, softmax4, softmaxBackward4, transpose } from "../lib/ops";
import { argmaxColumns, qkScores, softmaxColumns, splat } from "../lib/lanes";

let q: usize = 0; // [4, H]
let k: usize = 0;
let soft: usize = 0; // [4, 4] the soft Gumbel-softmax weights when straight-through (the gradient's path)
let wqT: usize = 0;
let wkT: usize = 0;
let dST: usize = 0;
let dq: usize = 0;
let dk: usize = 0;

export function trainInit(): void {
  q = region(4 * H); k = region(4 * H); soft = region(16);
  wqT = region(H * H); wkT = region(H * H);
  dST = region(16); dq = region(4 * H); dk = region(4 * H);
}

export function trainPrepare(theta: usize): void {
  transpose(theta + (<usize>P_TOP1_ATTN_WQ << 2), H, H, wqT);
  transpose(theta + (<usize>P_TOP1_ATTN_WK << 2), H, H, wkT);
}

/** A = softmax((s + g) / tau) (or its straight-through hard form) into `att` [4, 4]; g = `gumbel` [4, 4]. */
export function trainForward(theta: usize, cfg: usize, h: usize, gumbel: usize, att: usize): void {
  const tau = load<f32>(cfg + TRAIN_TAU);
  const hard = load<i32>(cfg + TRAIN_HARD);
  const w = hard ? soft : att; // the soft weights: in `att` itself unless straight-through
  mm4(h, H, theta + (<usize>P_TOP1_ATTN_WQ << 2), H, H, 0, 0, q, H);
  mm4(h, H, theta + (<usize>P_TOP1_ATTN_WK << 2), H, H, 0, 0, k, H);
  for (let i = 0; i < 4; i++) {
    for (let j = 0; j < 4; j++) {
      const o = <usize>(i * 4 + j) << 2;
      const s = dotH(q + (<usize>(i * H) << 2), k + (<usize>(j * H) << 2)) * SCALE;
      store<f32>(w + o, (s + load<f32>(gumbel + o)) / tau);
    }
  }
  softmax4(w);
  if (!hard) return;
  for (let i = 0; i < 4; i++) {
    const p = soft + (<usize>i << 4);
    let m = 0; // first index of the row maximum, as torch.max(dim) returns it
    for (let j = 1; j < 4; j++) if (load<f32>(p + (<usize>j << 2)) > load<f32>(p + (<usize>m << 2))) m = j;
    for (let j = 0; j < 4; j++) {
      const a = load<f32>(p + (<usize>j << 2));
      store<f32>(att + (<usize>(i * 4 + j) << 2), ((j == m ? <f32>1 : <f32>0) - a) + a);
    }
  }
}

/** dA (overwritten) -> through the soft weights (times 1/(sqrt(H) tau)) to dWq, dWk and dh. */
export function trainBackward(theta: usize, cfg: usize, h: usize, att: usize, dA: usize, dh: usize, grad: usize): void {
  const c: f32 = SCALE / load<f32>(cfg + TRAIN_TAU);
  softmaxBackward4(load<i32>(cfg + TRAIN_HARD) ? soft : att, dA, c);
  qkBackward(h, q, k, dA, dST, dq, dk, grad + (<usize>P_TOP1_ATTN_WQ << 2), grad + (<usize>P_TOP1_ATTN_WK << 2), wqT, wkT, dh);
}

/**
 * A_j (lanes: queries) from the scores C = h M h^T (M folded as in blocks/attention.ts): the argmax of
 * C (mode 0), of C + g (mode 1) or softmax((C + g) / tau) (mode 2); g = 4 v128 of Gumbel draws.
 */
@inline export function sampleWeights(ht: usize, w: usize, cfg: usize, g: usize, out: usize): void {
  qkScores(ht, w, out);
  let c0 = v128.load(out), c1 = v128.load(out, 16), c2 = v128.load(out, 32), c3 = v128.load(out, 48);
  const mode = load<i32>(cfg + SAMPLE_MODE);
  if (mode == 0) {
    argmaxColumns(c0, c1, c2, c3, out);
    return;
  }
  c0 = f32x4.add(c0, v128.load(g)); c1 = f32x4.add(c1, v128.load(g, 16));
  c2 = f32x4.add(c2, v128.load(g, 32)); c3 = f32x4.add(c3, v128.load(g, 48));
  if (mode == 1) {
    argmaxColumns(c0, c1, c2, c3, out);
    return;
  }
  const tau = splat(load<f32>(cfg + SAMPLE_TAU));
  softmaxColumns(f32x4.div(c0, tau), f32x4.div(c1, tau), f32x4.div(c2, tau), f32x4.div(c3, tau), out);
}
