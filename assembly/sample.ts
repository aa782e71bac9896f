/**
 * Fused DDPM sampler kernel (WebAssembly SIMD), compiled to src/kernels/sample.wasm by
 * scripts/build-wasm.sh. The TypeScript side is src/kernels/sample-kernel.ts: it folds the weights,
 * precomputes the per-timestep tables and owns the memory above `dynamicBase()`.
 *
 * One sample is 4 tokens x F = 12 features. Inside this kernel a sample is stored *feature-major*:
 * F vectors, vector f = (token0[f], token1[f], token2[f], token3[f]), so each f32x4 lane is one
 * token and the whole network runs on 4-lane vectors without horizontal sums:
 *
 *   h_k   = SiLU(b1_t[k] + sum_f x_f W1[f, k])                       conv1 + time embedding, H vectors
 *   A_j   = the variant's attention weights, column j (lanes: query i)   its block, assembly/blocks/
 *   eps_f = bo[f] + sum_k h_k Wout[k, f] + sum_j A_j u_j[f]          u_j = h_j Wvo, Wvo = Wv Wout
 *   x     <- the reverse step of the sampler form (SAMPLE_FORM):
 *            0 (eps form):      x <- (x - c2 eps) c1 + sigma z
 *            1 (clamped x0):    x0 = clamp((x - b eps) a, -1, 1); x <- k0 x0 + k1 x + sigma z
 *
 * Gaussian noise comes from 8 interleaved xoshiro128** streams (two 4-lane sets) and a vectorised
 * Box-Muller transform, Gumbel draws (blocks that sample with them) from a third 4-lane set, or both
 * from caller-provided buffers (test mode). Settings arrive in a named structure at OFF_CFG
 * (SAMPLE_* fields); layouts and constants come from assembly/_constants.ts, generated from
 * src/kernels/constants.ts.
 */
import {
  F, H, KIND_COUNT, OFF_A, OFF_BLOCK, OFF_BO, OFF_CFG, OFF_E, OFF_GBUF, OFF_GRNG, OFF_HT, OFF_RNG, OFF_W1T, OFF_WOT, OFF_WVOT, OFF_ZBUF,
  SAMPLE_CHUNK, SAMPLE_FIXED_BYTES, SAMPLE_FORM, SAMPLE_GUMBEL,
} from "./_constants";
import { blockSampleWeights, hasBlock } from "./_blocks";
import { bc, expv, fillGumbels, fillNormals, logv, madd, silu, splat } from "./lib/lanes";

/** Bytes of one sample (F v128) and of its Gumbel draws (4 v128: one per key, lanes = queries). */
const SAMPLE_BYTES: usize = <usize>F << 4;
const GUMBEL_BYTES: usize = 64;
/** Bytes of one row of a [.][H] matrix. */
const HB: usize = <usize>H << 2;
/** Bytes of one coefficient row [c1, c2, sigma, a, b, k0, k1, unused]. */
const COEF_BYTES: usize = 32;

@inline function base(): usize {
  return (__heap_base + 63) & ~(<usize>63);
}

/** Start of the fixed region (weights, generator states, settings, scratch). */
export function fixedBase(): usize {
  return base();
}

/** First byte the wrapper may use for its own tables and sample buffers (64-byte aligned). */
export function dynamicBase(): usize {
  return (base() + SAMPLE_FIXED_BYTES + 63) & ~(<usize>63);
}

/** Kernel kinds compiled in (the TypeScript side checks it against src/kernels/constants.ts). */
export function kinds(): i32 {
  return KIND_COUNT;
}

export function chunkSize(): i32 {
  return SAMPLE_CHUNK;
}

/** Standard normals from the kernel's generator (for tests): nVec vectors at out. */
export function normals(out: usize, nVec: i32): void {
  fillNormals(base() + OFF_RNG, out, nVec);
}

/** Gumbel(0, 1) draws from the kernel's Gumbel generator (for tests): nVec vectors at out. */
export function gumbels(out: usize, nVec: i32): void {
  fillGumbels(base() + OFF_GRNG, out, nVec);
}

// ---------------------------------------------------------------- the network, one sample
/**
 * eps of the sample at `xs` (F v128, feature-major) into base() + OFF_E. `b1` points at the H
 * per-timestep biases conv1.b + timeMLP(t); `g` at the sample's Gumbel draws (or 0).
 */
@inline function forward(kind: i32, b1: usize, xs: usize, g: usize): void {
  const B = base();
  const HT = B + OFF_HT;
  const E = B + OFF_E;

  // 1. conv1 (dense F -> H) + bias + time embedding, SiLU: h_k for 4 k at a time.
  const FB: usize = <usize>F << 2; // bytes of one row of W1T [H][F]
  for (let k: usize = 0; k < <usize>H; k += 4) {
    const w = B + OFF_W1T + k * FB;
    let h0 = bc(b1 + k * 4), h1 = bc(b1 + k * 4 + 4), h2 = bc(b1 + k * 4 + 8), h3 = bc(b1 + k * 4 + 12);
    for (let f: usize = 0; f < FB; f += 4) {
      const x = v128.load(xs + f * 4);
      h0 = madd(h0, x, bc(w + f)); h1 = madd(h1, x, bc(w + FB + f));
      h2 = madd(h2, x, bc(w + 2 * FB + f)); h3 = madd(h3, x, bc(w + 3 * FB + f));
    }
    v128.store(HT + k * 16, silu(h0));
    v128.store(HT + k * 16 + 16, silu(h1));
    v128.store(HT + k * 16 + 32, silu(h2));
    v128.store(HT + k * 16 + 48, silu(h3));
  }

  if (!hasBlock(kind)) {
    // 2. out (dense H -> F) + bias, 4 output features at a time.
    for (let f: usize = 0; f < <usize>F; f += 4) {
      const w = B + OFF_WOT + f * HB;
      let e0 = bc(B + OFF_BO + f * 4), e1 = bc(B + OFF_BO + f * 4 + 4);
      let e2 = bc(B + OFF_BO + f * 4 + 8), e3 = bc(B + OFF_BO + f * 4 + 12);
      for (let k: usize = 0; k < <usize>H; k++) {
        const h = v128.load(HT + k * 16);
        e0 = madd(e0, h, bc(w + k * 4));
        e1 = madd(e1, h, bc(w + HB + k * 4));
        e2 = madd(e2, h, bc(w + 2 * HB + k * 4));
        e3 = madd(e3, h, bc(w + 3 * HB + k * 4));
      }
      v128.store(E + f * 16, e0); v128.store(E + f * 16 + 16, e1);
      v128.store(E + f * 16 + 32, e2); v128.store(E + f * 16 + 48, e3);
    }
    return;
  }

  // 2. Attention weights A_j[i] = A[i, j] from the variant's block.
  blockSampleWeights(kind, HT, B + OFF_BLOCK, B + OFF_CFG, g, B + OFF_A);
  const a0 = v128.load(B + OFF_A), a1 = v128.load(B + OFF_A, 16), a2 = v128.load(B + OFF_A, 32), a3 = v128.load(B + OFF_A, 48);

  // 3. eps_f = bo[f] + h Wout[:, f] + sum_j A_j u_j[f], u = h Wvo (lanes j), 2 features at a time.
  for (let f: usize = 0; f < <usize>F; f += 2) {
    const wo = B + OFF_WOT + f * HB;
    const wv = B + OFF_WVOT + f * HB;
    let e0 = bc(B + OFF_BO + f * 4), e1 = bc(B + OFF_BO + f * 4 + 4);
    let u0 = splat(0), u1 = splat(0);
    for (let k: usize = 0; k < <usize>H; k++) {
      const h = v128.load(HT + k * 16);
      e0 = madd(e0, h, bc(wo + k * 4));
      e1 = madd(e1, h, bc(wo + HB + k * 4));
      u0 = madd(u0, h, bc(wv + k * 4));
      u1 = madd(u1, h, bc(wv + HB + k * 4));
    }
    e0 = madd(e0, a0, f32x4.shuffle(u0, u0, 0, 0, 0, 0));
    e0 = madd(e0, a1, f32x4.shuffle(u0, u0, 1, 1, 1, 1));
    e0 = madd(e0, a2, f32x4.shuffle(u0, u0, 2, 2, 2, 2));
    e0 = madd(e0, a3, f32x4.shuffle(u0, u0, 3, 3, 3, 3));
    e1 = madd(e1, a0, f32x4.shuffle(u1, u1, 0, 0, 0, 0));
    e1 = madd(e1, a1, f32x4.shuffle(u1, u1, 1, 1, 1, 1));
    e1 = madd(e1, a2, f32x4.shuffle(u1, u1, 2, 2, 2, 2));
    e1 = madd(e1, a3, f32x4.shuffle(u1, u1, 3, 3, 3, 3));
    v128.store(E + f * 16, e0);
    v128.store(E + f * 16 + 16, e1);
  }
}

// ---------------------------------------------------------------- exported entry points
/**
 * Run timesteps tHi down to tLo (inclusive) on n samples at x (feature-major, SAMPLE_BYTES each),
 * chunk by chunk so that a chunk stays in L1 across the steps.
 * @param coef [T][8] f32: c1 = 1/sqrt(alpha_t), c2 = beta_t/sqrt(1 - alphaBar_t), sigma_t (the form's
 *   noise scale, 0 at t = 0), a = 1/sqrt(alphaBar_t), b = sqrt(1 - alphaBar_t), k0, k1 (posterior-mean
 *   coefficients of x0 and x_t), unused
 * @param b1 [T][H] f32: conv1.b + timeMLP(t)
 * @param z 0: noise from the internal generator; else noise for this single step (tHi == tLo), same layout as x
 * @param g 0: Gumbel draws (when SAMPLE_GUMBEL) from the internal generator; else this single step's, [n][4 v128]
 */
export function run(kind: i32, coef: usize, b1: usize, x: usize, n: i32, tHi: i32, tLo: i32, z: usize, g: usize): void {
  const B = base();
  const E = B + OFF_E;
  const zbuf = B + OFF_ZBUF;
  const gbuf = B + OFF_GBUF;
  const clampX0 = load<i32>(B + OFF_CFG + SAMPLE_FORM) == 1;
  const gumbel = load<i32>(B + OFF_CFG + SAMPLE_GUMBEL) != 0;
  for (let c0 = 0; c0 < n; c0 += SAMPLE_CHUNK) {
    const cn = min(SAMPLE_CHUNK, n - c0);
    const xc = x + <usize>c0 * SAMPLE_BYTES;
    for (let t = tHi; t >= tLo; t--) {
      const cp = coef + <usize>t * COEF_BYTES;
      const k1 = splat(load<f32>(cp, 0)), k2 = splat(load<f32>(cp, 4));
      const sigma = load<f32>(cp, 8);
      const ks = splat(sigma);
      const bt = b1 + <usize>t * HB;
      let zc = z + <usize>c0 * SAMPLE_BYTES;
      if (z == 0 && sigma != 0) {
        fillNormals(B + OFF_RNG, zbuf, cn * F);
        zc = zbuf;
      }
      let gc: usize = 0;
      if (gumbel) {
        gc = g + <usize>c0 * GUMBEL_BYTES;
        if (g == 0) {
          fillGumbels(B + OFF_GRNG, gbuf, cn * 4);
          gc = gbuf;
        }
      }
      for (let i = 0; i < cn; i++) {
        const xs = xc + <usize>i * SAMPLE_BYTES;
        forward(kind, bt, xs, gumbel ? gc + <usize>i * GUMBEL_BYTES : 0);
        if (clampX0) {
          // minimal-diffusion's step: x0 from eps, clamped to the data range, then the posterior mean
          const ka = splat(load<f32>(cp, 12)), kb = splat(load<f32>(cp, 16));
          const kx0 = splat(load<f32>(cp, 20)), kxt = splat(load<f32>(cp, 24));
          const lo = splat(-1.0), hi = splat(1.0);
          for (let f: usize = 0; f < SAMPLE_BYTES; f += 16) {
            const xv = v128.load(xs + f);
            const x0 = f32x4.pmax(f32x4.pmin(f32x4.mul(f32x4.sub(xv, f32x4.mul(v128.load(E + f), kb)), ka), hi), lo);
            let next = f32x4.add(f32x4.mul(x0, kx0), f32x4.mul(xv, kxt));
            if (sigma != 0) next = f32x4.add(next, f32x4.mul(v128.load(zc + <usize>i * SAMPLE_BYTES + f), ks));
            v128.store(xs + f, next);
          }
        } else if (sigma != 0) {
          const zs = zc + <usize>i * SAMPLE_BYTES;
          for (let f: usize = 0; f < SAMPLE_BYTES; f += 16) {
            const mean = f32x4.mul(f32x4.sub(v128.load(xs + f), f32x4.mul(v128.load(E + f), k2)), k1);
            v128.store(xs + f, f32x4.add(mean, f32x4.mul(v128.load(zs + f), ks)));
          }
        } else {
          for (let f: usize = 0; f < SAMPLE_BYTES; f += 16) {
            v128.store(xs + f, f32x4.mul(f32x4.sub(v128.load(xs + f), f32x4.mul(v128.load(E + f), k2)), k1));
          }
        }
      }
    }
  }
}

/** eps of n samples at x into out (both feature-major); b1 = the H biases of one timestep; g = Gumbel draws [n][4 v128] or 0. */
export function eps(kind: i32, b1: usize, x: usize, n: i32, out: usize, g: usize): void {
  const E = base() + OFF_E;
  for (let i = 0; i < n; i++) {
    forward(kind, b1, x + <usize>i * SAMPLE_BYTES, g ? g + <usize>i * GUMBEL_BYTES : 0);
    const o = out + <usize>i * SAMPLE_BYTES;
    for (let f: usize = 0; f < SAMPLE_BYTES; f += 16) v128.store(o + f, v128.load(E + f));
  }
}

/** Element-wise vectorised exp / log of nVec vectors (for accuracy tests). */
export function expArray(inp: usize, out: usize, nVec: i32): void {
  for (let i: usize = 0; i < <usize>nVec; i++) v128.store(out + i * 16, expv(v128.load(inp + i * 16)));
}

export function logArray(inp: usize, out: usize, nVec: i32): void {
  for (let i: usize = 0; i < <usize>nVec; i++) v128.store(out + i * 16, logv(v128.load(inp + i * 16)));
}
