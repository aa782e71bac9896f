/**
 * The attention block of `identity` (src/variants/identity.ts): Q = K = h (fixed identities),
 * A = softmax(h h^T / sqrt(H)). No parameters of its own (its values h Wv are the shared part).
 * See assembly/blocks/attention.ts for the block contract.
 */
import { H, SCALE } from "../_constants";
import { addInto, dotH, mm4, region, softmax4, softmaxBackward4, transpose } from "../lib/ops";
import { bc, madd, softmaxColumns, splat } from "../lib/lanes";

let dST: usize = 0; // [4, 4]
let dq: usize = 0; // [4, H]
let dk: usize = 0;

export function trainInit(): void {
  dST = region(16); dq = region(4 * H); dk = region(4 * H);
}

export function trainPrepare(theta: usize): void {}

/** A = softmax(h h^T / sqrt(H)) into `att` [4, 4]. */
export function trainForward(theta: usize, cfg: usize, h: usize, gumbel: usize, att: usize): void {
  for (let i = 0; i < 4; i++) {
    for (let j = 0; j < 4; j++) {
      store<f32>(att + (<usize>(i * 4 + j) << 2), dotH(h + (<usize>(i * H) << 2), h + (<usize>(j * H) << 2)) * SCALE);
    }
  }
  softmax4(att);
}

/** dA (overwritten) -> dh += dS h + dS^T h (queries and keys are h itself). */
export function trainBackward(theta: usize, cfg: usize, h: usize, att: usize, dA: usize, dh: usize, grad: usize): void {
  softmaxBackward4(att, dA, SCALE);
  transpose(dA, 4, 4, dST);
  mm4(dA, 4, h, 4, H, 0, 0, dq, H);
  mm4(dST, 4, h, 4, H, 0, 0, dk, H);
  addInto(dh, dq, 4 * H);
  addInto(dh, dk, 4 * H);
}

/** C_j[i] = h_i . h_j / sqrt(H), A_j = softmax_j(C) (lanes: queries i), into out[0..3]. */
@inline export function sampleWeights(ht: usize, w: usize, cfg: usize, g: usize, out: usize): void {
  let c0 = splat(0), c1 = splat(0), c2 = splat(0), c3 = splat(0);
  for (let k: usize = 0; k < <usize>H; k++) {
    const p = ht + k * 16;
    const h = v128.load(p);
    c0 = madd(c0, h, bc(p)); c1 = madd(c1, h, bc(p + 4)); c2 = madd(c2, h, bc(p + 8)); c3 = madd(c3, h, bc(p + 12));
  }
  const sc = splat(SCALE);
  softmaxColumns(f32x4.mul(c0, sc), f32x4.mul(c1, sc), f32x4.mul(c2, sc), f32x4.mul(c3, sc), out);
}
