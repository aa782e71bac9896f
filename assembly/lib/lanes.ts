import { H } from "../_constants";

/**
 * Four-lane vector math of the fused sampler (assembly/sample.ts) and of the attention blocks'
 * sampling halves (assembly/blocks/*.ts): exp, log, SiLU, and the in-kernel random numbers
 * (standard normals from two 4-lane xoshiro128** sets and a vectorised Box-Muller transform;
 * Gumbel(0, 1) draws from a third set).
 */

// ---------------------------------------------------------------- vector math
@inline export function splat(x: f32): v128 {
  return f32x4.splat(x);
}

@inline export function madd(acc: v128, a: v128, b: v128): v128 {
  return f32x4.add(acc, f32x4.mul(a, b));
}

/** Broadcast the f32 at p to all lanes. */
@inline export function bc(p: usize): v128 {
  return v128.load32_splat(p);
}

/**
 * exp(x) (Cephes expf): x = n ln2 + r, |r| <= ln2/2, degree-6 polynomial, 2^n from exponent bits.
 * Relative error ~2e-7 on [-87, 88]; inputs are clamped to that range (exp(-87) ~ 1.6e-38 stands in
 * for smaller results, exp(88) ~ 1.7e38 for larger).
 */
@inline export function expv(x0: v128): v128 {
  const x = f32x4.pmax(f32x4.pmin(x0, splat(88.0)), splat(-87.0));
  // Round x log2(e) to the nearest integer with the 1.5 * 2^23 trick; t's low bits hold n.
  const t = f32x4.add(f32x4.mul(x, splat(1.44269504088896341)), splat(12582912.0));
  const n = f32x4.sub(t, splat(12582912.0));
  let r = f32x4.sub(x, f32x4.mul(n, splat(0.693359375)));
  r = f32x4.add(r, f32x4.mul(n, splat(2.12194440e-4)));
  const z = f32x4.mul(r, r);
  let p = madd(splat(1.3981999507e-3), splat(1.9875691500e-4), r);
  p = madd(splat(8.3334519073e-3), p, r);
  p = madd(splat(4.1665795894e-2), p, r);
  p = madd(splat(1.6666665459e-1), p, r);
  p = madd(splat(5.0000001201e-1), p, r);
  const y = f32x4.add(madd(r, p, z), splat(1.0));
  const pow2n = i32x4.shl(i32x4.add(t, i32x4.splat(127 - 0x4b400000)), 23);
  return f32x4.mul(y, pow2n);
}

/** Natural log (Cephes logf) of positive normal floats; relative error ~1e-7. */
@inline export function logv(x: v128): v128 {
  let e = f32x4.convert_i32x4_s(i32x4.sub(i32x4.shr_u(x, 23), i32x4.splat(126)));
  let m = v128.or(v128.and(x, i32x4.splat(0x007fffff)), i32x4.splat(0x3f000000)); // [0.5, 1)
  const small = f32x4.lt(m, splat(0.707106781186547524));
  e = f32x4.sub(e, v128.and(small, splat(1.0)));
  m = f32x4.sub(f32x4.add(m, v128.and(small, m)), splat(1.0));
  const z = f32x4.mul(m, m);
  let y = madd(splat(-1.1514610310e-1), splat(7.0376836292e-2), m);
  y = madd(splat(1.1676998740e-1), y, m);
  y = madd(splat(-1.2420140846e-1), y, m);
  y = madd(splat(1.4249322787e-1), y, m);
  y = madd(splat(-1.6668057665e-1), y, m);
  y = madd(splat(2.0000714765e-1), y, m);
  y = madd(splat(-2.4999993993e-1), y, m);
  y = madd(splat(3.3333331174e-1), y, m);
  y = f32x4.mul(f32x4.mul(y, m), z);
  y = madd(y, e, splat(-2.12194440e-4));
  y = madd(y, z, splat(-0.5));
  return madd(f32x4.add(m, y), e, splat(0.693359375));
}

@inline export function silu(a: v128): v128 {
  return f32x4.div(a, f32x4.add(splat(1.0), expv(f32x4.neg(a))));
}

// ---------------------------------------------------------------- noise: xoshiro128** x 8 + Box-Muller
@inline export function rotl(x: v128, k: i32): v128 {
  return v128.or(i32x4.shl(x, k), i32x4.shr_u(x, 32 - k));
}

/**
 * Fill `nVec` f32x4 vectors at `out` with standard normals (nVec even), from the two 4-lane
 * xoshiro128** sets at `st` (set A s0..s3, then set B s0..s3; 128 bytes), which advance. Each Box-Muller step takes
 * one u32 from set A (radius) and one from set B (angle) per lane and gives two vectors.
 */
export function fillNormals(st: usize, out: usize, nVec: i32): void {
  let a0 = v128.load(st, 0), a1 = v128.load(st, 16), a2 = v128.load(st, 32), a3 = v128.load(st, 48);
  let b0 = v128.load(st, 64), b1 = v128.load(st, 80), b2 = v128.load(st, 96), b3 = v128.load(st, 112);
  const end = out + (<usize>nVec << 4);
  for (let p = out; p < end; p += 32) {
    // xoshiro128**: result = rotl(s1 * 5, 7) * 9, then the state update, on both sets.
    const ua = i32x4.mul(rotl(i32x4.mul(a1, i32x4.splat(5)), 7), i32x4.splat(9));
    const ta = i32x4.shl(a1, 9);
    a2 = v128.xor(a2, a0); a3 = v128.xor(a3, a1); a1 = v128.xor(a1, a2); a0 = v128.xor(a0, a3);
    a2 = v128.xor(a2, ta); a3 = rotl(a3, 11);
    const ub = i32x4.mul(rotl(i32x4.mul(b1, i32x4.splat(5)), 7), i32x4.splat(9));
    const tb = i32x4.shl(b1, 9);
    b2 = v128.xor(b2, b0); b3 = v128.xor(b3, b1); b1 = v128.xor(b1, b2); b0 = v128.xor(b0, b3);
    b2 = v128.xor(b2, tb); b3 = rotl(b3, 11);

    // Radius sqrt(-2 ln u1), u1 = (ua >> 1 + 1/2) / 2^31 in (0, 1]: |z| up to 6.66.
    const u1 = madd(splat(2.3283064365386963e-10), f32x4.convert_i32x4_s(i32x4.shr_u(ua, 1)), splat(4.656612873077393e-10));
    const r = f32x4.sqrt(f32x4.pmax(f32x4.mul(logv(u1), splat(-2.0)), splat(0.0)));

    // Angle q pi/2 + phi: quadrant q = top 2 bits of ub, phi uniform in (-pi/4, pi/4) from the next 24 bits.
    const frac = f32x4.convert_i32x4_s(i32x4.shr_u(i32x4.shl(ub, 2), 8));
    const phi = madd(splat(-0.78539812565), frac, splat(9.3626759679e-8)); // (frac + 1/2) (pi/2) 2^-24 - pi/4
    const zz = f32x4.mul(phi, phi);
    let sp = madd(splat(8.3321608736e-3), splat(-1.9515295891e-4), zz);
    sp = madd(splat(-1.6666654611e-1), sp, zz);
    const s = madd(phi, f32x4.mul(sp, zz), phi);
    let cp = madd(splat(-1.388731625493765e-3), splat(2.443315711809948e-5), zz);
    cp = madd(splat(4.166664568298827e-2), cp, zz);
    const c = f32x4.add(madd(splat(1.0), splat(-0.5), zz), f32x4.mul(f32x4.mul(cp, zz), zz));
    // Rotate by q quarter turns: q = 0 (c, s), 1 (-s, c), 2 (-c, -s), 3 (s, -c).
    const swap = i32x4.shr_s(i32x4.shl(ub, 1), 31);
    const cosq = v128.xor(v128.bitselect(s, c, swap), v128.and(v128.xor(ub, i32x4.shl(ub, 1)), i32x4.splat(0x80000000)));
    const sinq = v128.xor(v128.bitselect(c, s, swap), v128.and(ub, i32x4.splat(0x80000000)));
    v128.store(p, f32x4.mul(r, cosq), 0);
    v128.store(p, f32x4.mul(r, sinq), 16);
  }
  v128.store(st, a0, 0); v128.store(st, a1, 16); v128.store(st, a2, 32); v128.store(st, a3, 48);
  v128.store(st, b0, 64); v128.store(st, b1, 80); v128.store(st, b2, 96); v128.store(st, b3, 112);
}

/**
 * Fill `nVec` f32x4 vectors at `out` with Gumbel(0, 1) draws g = -log(-log u) from the 4-lane
 * xoshiro128** set at `st` (s0..s3, 64 bytes), which advances. u = (top 23 bits + 1/2) / 2^23 lies in
 * [2^-24, 1 - 2^-24], exactly representable in float32, so g is finite (|g| < 17).
 */
export function fillGumbels(st: usize, out: usize, nVec: i32): void {
  let a0 = v128.load(st, 0), a1 = v128.load(st, 16), a2 = v128.load(st, 32), a3 = v128.load(st, 48);
  const end = out + (<usize>nVec << 4);
  for (let p = out; p < end; p += 16) {
    const ua = i32x4.mul(rotl(i32x4.mul(a1, i32x4.splat(5)), 7), i32x4.splat(9));
    const ta = i32x4.shl(a1, 9);
    a2 = v128.xor(a2, a0); a3 = v128.xor(a3, a1); a1 = v128.xor(a1, a2); a0 = v128.xor(a0, a3);
    a2 = v128.xor(a2, ta); a3 = rotl(a3, 11);
    const u = madd(splat(5.9604644775390625e-8), f32x4.convert_i32x4_s(i32x4.shr_u(ua, 9)), splat(1.1920928955078125e-7));
    v128.store(p, f32x4.neg(logv(f32x4.neg(logv(u)))));
  }
  v128.store(st, a0, 0); v128.store(st, a1, 16); v128.store(st, a2, 32); v128.store(st, a3, 48);
}

// ---------------------------------------------------------------- attention weights (lanes = queries)
/** C_j[i] = sum_k (h M)_k[i] h_k[j] for the 4 keys j, into out[0..3] (g_k = (h M)_k, 4 k at a time). */
@inline export function qkScores(ht: usize, mt: usize, out: usize): void {
  const HB: usize = <usize>H << 2; // bytes of one row of MT
  let c0 = splat(0), c1 = splat(0), c2 = splat(0), c3 = splat(0);
  for (let k: usize = 0; k < <usize>H; k += 4) {
    const m = mt + k * HB;
    let g0 = splat(0), g1 = splat(0), g2 = splat(0), g3 = splat(0);
    for (let l: usize = 0; l < <usize>H; l++) {
      const h = v128.load(ht + l * 16);
      g0 = madd(g0, h, bc(m + l * 4));
      g1 = madd(g1, h, bc(m + HB + l * 4));
      g2 = madd(g2, h, bc(m + 2 * HB + l * 4));
      g3 = madd(g3, h, bc(m + 3 * HB + l * 4));
    }
    const p = ht + k * 16;
    c0 = madd(c0, g0, bc(p)); c1 = madd(c1, g0, bc(p + 4)); c2 = madd(c2, g0, bc(p + 8)); c3 = madd(c3, g0, bc(p + 12));
    c0 = madd(c0, g1, bc(p + 16)); c1 = madd(c1, g1, bc(p + 20)); c2 = madd(c2, g1, bc(p + 24)); c3 = madd(c3, g1, bc(p + 28));
    c0 = madd(c0, g2, bc(p + 32)); c1 = madd(c1, g2, bc(p + 36)); c2 = madd(c2, g2, bc(p + 40)); c3 = madd(c3, g2, bc(p + 44));
    c0 = madd(c0, g3, bc(p + 48)); c1 = madd(c1, g3, bc(p + 52)); c2 = madd(c2, g3, bc(p + 56)); c3 = madd(c3, g3, bc(p + 60));
  }
  v128.store(out, c0); v128.store(out, c1, 16); v128.store(out, c2, 32); v128.store(out, c3, 48);
}

/** Softmax over the 4 key columns (lanes: queries), max subtracted first, into out[0..3]. */
@inline export function softmaxColumns(c0: v128, c1: v128, c2: v128, c3: v128, out: usize): void {
  const mx = f32x4.pmax(f32x4.pmax(c0, c1), f32x4.pmax(c2, c3));
  let a0 = expv(f32x4.sub(c0, mx)), a1 = expv(f32x4.sub(c1, mx));
  let a2 = expv(f32x4.sub(c2, mx)), a3 = expv(f32x4.sub(c3, mx));
  const sum = f32x4.add(f32x4.add(a0, a1), f32x4.add(a2, a3));
  v128.store(out, f32x4.div(a0, sum)); v128.store(out, f32x4.div(a1, sum), 16);
  v128.store(out, f32x4.div(a2, sum), 32); v128.store(out, f32x4.div(a3, sum), 48);
}

/** One-hot of the argmax over the 4 key columns (lanes: queries; ties go to the first key, as tf.argMax), into out[0..3]. */
@inline export function argmaxColumns(c0: v128, c1: v128, c2: v128, c3: v128, out: usize): void {
  let best = c0;
  let sel = i32x4.splat(0);
  let gt = f32x4.gt(c1, best); best = v128.bitselect(c1, best, gt); sel = v128.bitselect(i32x4.splat(1), sel, gt);
  gt = f32x4.gt(c2, best); best = v128.bitselect(c2, best, gt); sel = v128.bitselect(i32x4.splat(2), sel, gt);
  gt = f32x4.gt(c3, best); sel = v128.bitselect(i32x4.splat(3), sel, gt);
  const one = splat(1.0);
  v128.store(out, v128.and(i32x4.eq(sel, i32x4.splat(0)), one));
  v128.store(out, v128.and(i32x4.eq(sel, i32x4.splat(1)), one), 16);
  v128.store(out, v128.and(i32x4.eq(sel, i32x4.splat(2)), one), 32);
  v128.store(out, v128.and(i32x4.eq(sel, i32x4.splat(3)), one), 48);
}
