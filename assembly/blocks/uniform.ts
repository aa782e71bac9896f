/**
 * The attention block of `uniform` (src/variants/uniform.ts): weights fixed to 1/4 over the four
 * tokens, A = 1/4. No parameters of its own and no gradient through A (its values h Wv and their
 * gradients are the shared part). See assembly/blocks/attention.ts for the block contract.
 */
import { TOKENS } from "../_constants";
import { splat } from "../lib/lanes";

const QUARTER: f32 = <f32>1 / <f32>TOKENS;

export function trainInit(): void {}

export function trainPrepare(theta: usize): void {}

/** A = 1/4 everywhere, into `att` [4, 4]. */
export function trainForward(theta: usize, cfg: usize, h: usize, gumbel: usize, att: usize): void {
  for (let i = 0; i < 16; i++) store<f32>(att + (<usize>i << 2), QUARTER);
}

/** A does not depend on h and the block has no parameters: nothing flows back through it. */
export function trainBackward(theta: usize, cfg: usize, h: usize, att: usize, dA: usize, dh: usize, grad: usize): void {}

/** A_j = 1/4 for every key j (lanes: queries). */
@inline export function sampleWeights(ht: usize, w: usize, cfg: usize, g: usize, out: usize): void {
  const q = splat(QUARTER);
  v128.store(out, q); v128.store(out, q, 16); v128.store(out, q, 32); v128.store(out, q, 48);
}
