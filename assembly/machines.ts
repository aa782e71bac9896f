/**
 * Score machines in float32 WebAssembly SIMD (compiled to src/kernels/machines.wasm by
 * scripts/build-wasm.sh): the analytic noise predictors of src/theory/machines.ts and the baselines
 * of src/theory/baselines.ts, and the DDPM sampler around them. The TypeScript side is
 * src/kernels/machine-kernel.ts: it builds a machine's tables (contents, weights, components,
 * Gaussian eigenbases) from the training tokens, writes them at `spec`, and owns the memory above
 * `dynamicBase()`. The float64 reference is src/theory/machines.ts (equal within a tested tolerance).
 *
 * A sample is stored feature-major, as in assembly/sample.ts: 12 vectors, vector f = (quadrant0[f],
 * quadrant1[f], quadrant2[f], quadrant3[f]), so each f32x4 lane is one quadrant. Every patch machine
 * is a mixture posterior over clean patches built from the distances
 *   D_k[q] = || x_q - a c_k ||^2         (c_k the K distinct training quadrants, a = sqrt(aBar)),
 * so the distances are computed once per sample and step; a component's logit is its log weight
 * minus (its distances) / (2 (1 - aBar)). The sampler (`run`) is assembly/sample.ts's loop (same
 * chunks, the same order of noise draws from the same generator), with the machine in place of the
 * network: a machine and a network sampled from one seed see the same noise.
 */
import { SAMPLE_CHUNK } from "./_constants";
import { expv, fillNormals, logv, madd, splat } from "./lib/lanes";

// ---------------------------------------------------------------- machine kinds (src/kernels/machine-kernel.ts KIND)
const PATCH: i32 = 0; // local / equivariant: components = contents, log weights per lane
const PAIR: i32 = 1; // fixed partner map: components (own content, partner content)
const PAIR_TOP1: i32 = 2; // partner by pointwise mutual information, then as PAIR
const IDEAL: i32 = 3; // components = whole training images
const ATTENTION: i32 = 4; // Eq. 8 on the current image: PATCH + partner-estimate components
const TOP1_OPT: i32 = 5; // corrected top-1 optimum: (eps_ELS(x) + eps_ELS(y*(x))) / 2
const TRIVIAL: i32 = 6; // x0 = a x
const GAUSS_PIXEL: i32 = 7; // per-value mean and variance
const GAUSS_SHARED: i32 = 8; // one 12 x 12 covariance for every quadrant (eigenbasis)
const GAUSS_FULL: i32 = 9; // 48 x 48 covariance (eigenbasis)

// ---------------------------------------------------------------- the spec (written by the TypeScript side)
// Header (bytes): kind i32, K i32, M i32, flags i32 (1 include self, 2 pooled partners), logExtra f32,
// logNormPairs f32, logNormQuads f32, pad; partner swizzle v128 at 32; then the tables.
const S_KIND: usize = 0;
const S_K: usize = 4;
const S_M: usize = 8;
const S_FLAGS: usize = 12;
const S_LOGEXTRA: usize = 16;
const S_LOGNP: usize = 20;
const S_LOGNQ: usize = 24;
const S_PERM: usize = 32;
const S_CONTENTS: usize = 48; // [16][12] f32 = 768
const S_LW: usize = 816; // [16] v128: per-lane log weight of each content = 256
const S_LWQ: usize = 1072; // [16] f32: pooled quadrant log weights (pairTop1 marginal) = 64
const S_COMP: usize = 1136; // [64] x (k i32, l i32, lw f32, pad) = 1024
const S_IMG: usize = 2160; // [64] images x (12 v128) = 12288
const S_IMGW: usize = 14448; // [64] f32 image log weights = 256
const S_MEAN: usize = 14704; // [12] v128 per-lane means (pixel / full Gaussians) = 192
const S_VAR: usize = 14896; // [12] v128 per-lane variances (pixel) = 192
const S_U12: usize = 15088; // [12][12] f32 eigenvectors (shared), row f, column i = 576
const S_L12: usize = 15664; // [12] f32 eigenvalues (shared) = 48
const S_MEAN12: usize = 15712; // [12] f32 mean (shared) = 48
const S_U48: usize = 15760; // [48][12] v128: eigenvector i, feature f, lanes = quadrants = 9216
const S_L48: usize = 24976; // [48] f32 eigenvalues (full) = 192
/** Bytes of a spec. */
const SPEC_BYTES: usize = 25168;

// ---------------------------------------------------------------- fixed region: generator and scratch
const OFF_RNG: usize = 0; // 2 sets x 4 v128 (as assembly/sample.ts)
const OFF_D: usize = 128; // [16] v128 distances
const OFF_L: usize = 384; // [64] v128 logits / responsibilities
const OFF_M: usize = 1408; // [12] v128 an estimate (ELS mean)
const OFF_E: usize = 1600; // [12] v128 eps of the current sample
const OFF_X0: usize = 1792; // [12] v128 x0 estimate
const OFF_T: usize = 1984; // [12] v128 a second estimate / partner centres
const OFF_S: usize = 2176; // [64] f32 scalar logits (ideal) / misc
const OFF_ZBUF: usize = 2432; // noise of one chunk: SAMPLE_CHUNK x 12 v128 = 6144
const OFF_W: usize = 8576; // [16] v128 per-content weights = 256
const OFF_P: usize = 8832; // [3 x 64] v128 pair responsibilities per rotation = 3072
const FIXED_BYTES: usize = 11904;

const F: usize = 12;
const SAMPLE_BYTES: usize = F << 4;
const COEF_BYTES: usize = 32;
const NEG: f32 = -1e30;

@inline function base(): usize {
  return (__heap_base + 63) & ~(<usize>63);
}

export function fixedBase(): usize {
  return base();
}

export function dynamicBase(): usize {
  return (base() + FIXED_BYTES + 63) & ~(<usize>63);
}

export function specBytes(): usize {
  return SPEC_BYTES;
}

export function chunkSize(): i32 {
  return SAMPLE_CHUNK;
}

/** Standard normals from the kernel's generator: nVec vectors at out (the same draws as assembly/sample.ts's). */
export function normals(out: usize, nVec: i32): void {
  fillNormals(base() + OFF_RNG, out, nVec);
}

// ---------------------------------------------------------------- helpers
@inline function hsum(v: v128): f32 {
  return f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1) + f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3);
}

/** Lane rotation: lane q gets lane (q + r) mod 4. */
@inline function rot(v: v128, r: i32): v128 {
  if (r == 1) return i32x4.shuffle(v, v, 1, 2, 3, 0);
  if (r == 2) return i32x4.shuffle(v, v, 2, 3, 0, 1);
  if (r == 3) return i32x4.shuffle(v, v, 3, 0, 1, 2);
  return v;
}

/** Swizzle bytes that gather lane y[q] into lane q. */
@inline function permOf(y0: i32, y1: i32, y2: i32, y3: i32): v128 {
  const v = i32x4.splat(0);
  const a = i32x4.replace_lane(i32x4.replace_lane(i32x4.replace_lane(i32x4.replace_lane(v, 0, y0 * 4), 1, y1 * 4), 2, y2 * 4), 3, y3 * 4);
  // each byte of lane q: 4 y + (0..3)
  return i32x4.add(i32x4.mul(a, i32x4.splat(0x01010101)), i32x4.splat(0x03020100));
}

/** Distances D_k = || x - a c_k ||^2 (per lane) for the K contents of `spec`, into OFF_D. */
@inline function distances(spec: usize, xs: usize, a: f32, K: i32): void {
  const D = base() + OFF_D;
  const av = splat(a);
  for (let k = 0; k < K; k++) {
    const c = spec + S_CONTENTS + <usize>k * 48;
    let acc = splat(0);
    for (let f: usize = 0; f < F; f++) {
      const d = f32x4.sub(v128.load(xs + f * 16), f32x4.mul(av, v128.load32_splat(c + f * 4)));
      acc = madd(acc, d, d);
    }
    v128.store(D + <usize>k * 16, acc);
  }
}

/**
 * Softmax over `n` logit vectors at L (per lane) in place; returns log sum exp per lane.
 */
@inline function softmaxInPlace(L: usize, n: i32): v128 {
  let mx = splat(NEG);
  for (let j = 0; j < n; j++) mx = f32x4.pmax(mx, v128.load(L + <usize>j * 16));
  let sum = splat(0);
  for (let j = 0; j < n; j++) {
    const e = expv(f32x4.sub(v128.load(L + <usize>j * 16), mx));
    v128.store(L + <usize>j * 16, e);
    sum = f32x4.add(sum, e);
  }
  const inv = f32x4.div(splat(1), sum);
  for (let j = 0; j < n; j++) v128.store(L + <usize>j * 16, f32x4.mul(v128.load(L + <usize>j * 16), inv));
  return f32x4.add(mx, logv(sum));
}

/** Patch posterior mean (contents, per-lane log weights at lw) into out; uses OFF_D (computed) and OFF_L. */
@inline function patchMean(spec: usize, lw: usize, K: i32, inv2var: f32, out: usize): v128 {
  const D = base() + OFF_D, L = base() + OFF_L;
  const iv = splat(inv2var);
  for (let k = 0; k < K; k++) v128.store(L + <usize>k * 16, f32x4.sub(v128.load(lw + <usize>k * 16), f32x4.mul(v128.load(D + <usize>k * 16), iv)));
  const lse = softmaxInPlace(L, K);
  for (let f: usize = 0; f < F; f++) {
    let m = splat(0);
    for (let k = 0; k < K; k++) m = madd(m, v128.load(L + <usize>k * 16), v128.load32_splat(spec + S_CONTENTS + <usize>k * 48 + f * 4));
    v128.store(out + f * 16, m);
  }
  return lse;
}

/** Mean of the own half from pair responsibilities at L (M vectors), summed per own content first, into out. */
@inline function ownMean(spec: usize, K: i32, M: i32, L: usize, out: usize): void {
  const W = base() + OFF_W;
  for (let k = 0; k < K; k++) v128.store(W + <usize>k * 16, splat(0));
  for (let j = 0; j < M; j++) {
    const w = W + (<usize>load<i32>(spec + S_COMP + <usize>j * 16) << 4);
    v128.store(w, f32x4.add(v128.load(w), v128.load(L + <usize>j * 16)));
  }
  for (let f: usize = 0; f < F; f++) {
    let m = splat(0);
    for (let k = 0; k < K; k++) m = madd(m, v128.load(W + <usize>k * 16), v128.load32_splat(spec + S_CONTENTS + <usize>k * 48 + f * 4));
    v128.store(out + f * 16, m);
  }
}

/** Pair posterior mean of the own half, the partner's distances gathered by `perm`, into out. */
@inline function pairMean(spec: usize, K: i32, M: i32, perm: v128, inv2var: f32, out: usize): void {
  const D = base() + OFF_D, L = base() + OFF_L;
  const iv = splat(inv2var);
  for (let j = 0; j < M; j++) {
    const c = spec + S_COMP + <usize>j * 16;
    const k = load<i32>(c), l = load<i32>(c, 4);
    const pd = i8x16.swizzle(v128.load(D + <usize>l * 16), perm);
    v128.store(L + <usize>j * 16, f32x4.sub(v128.load32_splat(c + 8), f32x4.mul(f32x4.add(v128.load(D + <usize>k * 16), pd), iv)));
  }
  softmaxInPlace(L, M);
  ownMean(spec, K, M, L, out);
}

/** Lanes' own index q = (0, 1, 2, 3). */
@inline function laneIndex(): v128 {
  return i32x4.replace_lane(i32x4.replace_lane(i32x4.replace_lane(i32x4.splat(0), 1, 1), 2, 2), 3, 3);
}

/**
 * Partner of each lane: argmax over y != q (y = q too when `self`) of the per-lane scores G_r[q] for
 * y = q + r mod 4, ties to the lowest y (as the float64 reference's loop over y), vectorised; returns
 * the swizzle that gathers lane y*(q) into lane q.
 */
@inline function argmaxPartner(g0: v128, g1: v128, g2: v128, g3: v128, self: bool): v128 {
  const q = laneIndex(), three = i32x4.splat(3);
  let best = g1;
  let by = v128.and(i32x4.add(q, i32x4.splat(1)), three);
  if (self) {
    // y = q first: take r = 1 only when strictly larger, or equal with a lower index
    const take = v128.or(f32x4.gt(g1, g0), v128.and(f32x4.eq(g1, g0), i32x4.lt_s(by, q)));
    best = v128.bitselect(g1, g0, take);
    by = v128.bitselect(by, q, take);
  }
  const y2 = v128.and(i32x4.add(q, i32x4.splat(2)), three), y3 = v128.and(i32x4.add(q, three), three);
  let take = v128.or(f32x4.gt(g2, best), v128.and(f32x4.eq(g2, best), i32x4.lt_s(y2, by)));
  best = v128.bitselect(g2, best, take);
  by = v128.bitselect(y2, by, take);
  take = v128.or(f32x4.gt(g3, best), v128.and(f32x4.eq(g3, best), i32x4.lt_s(y3, by)));
  by = v128.bitselect(y3, by, take);
  // swizzle bytes 4 y + (0, 1, 2, 3) in every lane
  return i32x4.add(i32x4.mul(i32x4.shl(by, 2), i32x4.splat(0x01010101)), i32x4.splat(0x03020100));
}

/** Dot products <m_q, m_{q+r}> per lane, for the estimate at `m`. */
@inline function dots(m: usize, r: i32): v128 {
  let acc = splat(0);
  for (let f: usize = 0; f < F; f++) {
    const v = v128.load(m + f * 16);
    acc = madd(acc, v, rot(v, r));
  }
  return acc;
}

/**
 * Pair log-likelihoods with the partner at lane q + r: the M responsibilities (normalised) into
 * base() + OFF_P + (r - 1) M vectors, and log sum exp per lane returned.
 */
@inline function pairLse(spec: usize, M: i32, r: i32, inv2var: f32): v128 {
  const D = base() + OFF_D, L = base() + OFF_P + <usize>((r - 1) * M) * 16;
  const iv = splat(inv2var);
  let mx = splat(NEG);
  for (let j = 0; j < M; j++) {
    const c = spec + S_COMP + <usize>j * 16;
    const k = load<i32>(c), l = load<i32>(c, 4);
    const v = f32x4.sub(v128.load32_splat(c + 8), f32x4.mul(f32x4.add(v128.load(D + <usize>k * 16), rot(v128.load(D + <usize>l * 16), r)), iv));
    v128.store(L + <usize>j * 16, v);
    mx = f32x4.pmax(mx, v);
  }
  let sum = splat(0);
  for (let j = 0; j < M; j++) {
    const e = expv(f32x4.sub(v128.load(L + <usize>j * 16), mx));
    v128.store(L + <usize>j * 16, e);
    sum = f32x4.add(sum, e);
  }
  const inv = f32x4.div(splat(1), sum);
  for (let j = 0; j < M; j++) v128.store(L + <usize>j * 16, f32x4.mul(v128.load(L + <usize>j * 16), inv));
  return f32x4.add(mx, logv(sum));
}

// ---------------------------------------------------------------- one sample: x0 estimate (or eps) at OFF_X0 / OFF_E
/**
 * eps of the sample at xs (12 v128) into base() + OFF_E. `mt` points at (a, s, 1 / (2 s^2), 1 / s)
 * of the timestep (a = sqrt(aBar), s = sqrt(1 - aBar)).
 */
function machineEps(spec: usize, xs: usize, mt: usize): void {
  const B = base();
  const kind = load<i32>(spec + S_KIND);
  const K = load<i32>(spec + S_K);
  const M = load<i32>(spec + S_M);
  const a = load<f32>(mt), inv2var = load<f32>(mt, 8), invS = load<f32>(mt, 12);
  const av = splat(a), is = splat(invS);
  const X0 = B + OFF_X0, E = B + OFF_E;
  // The baselines write eps directly: eps = s (a^2 C + s^2 I)^(-1) (x - a mu), no cancellation at small t.
  if (kind == TRIVIAL) {
    const sv = splat(load<f32>(mt, 4));
    for (let f: usize = 0; f < F; f++) v128.store(E + f * 16, f32x4.mul(sv, v128.load(xs + f * 16)));
    return;
  } else if (kind == GAUSS_PIXEL) {
    const sg: f32 = load<f32>(mt, 4);
    const s2 = splat(sg * sg), a2 = splat(a * a), sv = splat(sg);
    for (let f: usize = 0; f < F; f++) {
      const mu = v128.load(spec + S_MEAN + f * 16), v = v128.load(spec + S_VAR + f * 16);
      const r = f32x4.sub(v128.load(xs + f * 16), f32x4.mul(av, mu));
      v128.store(E + f * 16, f32x4.div(f32x4.mul(sv, r), f32x4.add(f32x4.mul(a2, v), s2)));
    }
    return;
  } else if (kind == GAUSS_SHARED) {
    const sg: f32 = load<f32>(mt, 4);
    const s2: f32 = sg * sg;
    const T = B + OFF_T;
    // y_i = sum_f U[f][i] (x_f - a mu_f); eps_f = s sum_i U[f][i] y_i / (a^2 l_i + s^2)
    for (let i: usize = 0; i < F; i++) {
      let y = splat(0);
      for (let f: usize = 0; f < F; f++) {
        const r = f32x4.sub(v128.load(xs + f * 16), splat(a * load<f32>(spec + S_MEAN12 + f * 4)));
        y = madd(y, r, v128.load32_splat(spec + S_U12 + (f * F + i) * 4));
      }
      const l = load<f32>(spec + S_L12 + i * 4);
      v128.store(T + i * 16, f32x4.mul(y, splat(sg / (a * a * l + s2))));
    }
    for (let f: usize = 0; f < F; f++) {
      let e = splat(0);
      for (let i: usize = 0; i < F; i++) e = madd(e, v128.load(T + i * 16), v128.load32_splat(spec + S_U12 + (f * F + i) * 4));
      v128.store(E + f * 16, e);
    }
    return;
  } else if (kind == GAUSS_FULL) {
    const sg: f32 = load<f32>(mt, 4);
    const s2: f32 = sg * sg;
    const Sx = B + OFF_S;
    for (let i: usize = 0; i < 48; i++) {
      let acc = splat(0);
      for (let f: usize = 0; f < F; f++) {
        const r = f32x4.sub(v128.load(xs + f * 16), f32x4.mul(av, v128.load(spec + S_MEAN + f * 16)));
        acc = madd(acc, r, v128.load(spec + S_U48 + (i * F + f) * 16));
      }
      const l = load<f32>(spec + S_L48 + i * 4);
      store<f32>(Sx + i * 4, hsum(acc) * (sg / (a * a * l + s2)));
    }
    for (let f: usize = 0; f < F; f++) {
      let e = splat(0);
      for (let i: usize = 0; i < 48; i++) e = madd(e, v128.load32_splat(Sx + i * 4), v128.load(spec + S_U48 + (i * F + f) * 16));
      v128.store(E + f * 16, e);
    }
    return;
  } else if (kind == IDEAL) {
    distances(spec, xs, a, K);
    const D = B + OFF_D, Sx = B + OFF_S;
    // logit_j = log w_j - (D_{k_j0}[0] + D_{k_j1}[1] + D_{k_j2}[2] + D_{k_j3}[3]) / (2 s^2), four images per vector
    const M4 = (M + 3) & ~3;
    let mx: f32 = NEG;
    for (let j = 0; j < M4; j++) {
      let l: f32 = NEG;
      if (j < M) {
        const ki = spec + S_COMP + <usize>j * 16; // the image's content index per quadrant (4 x i32)
        const d = f32x4.extract_lane(v128.load(D + <usize>load<i32>(ki) * 16), 0) + f32x4.extract_lane(v128.load(D + <usize>load<i32>(ki, 4) * 16), 1)
          + f32x4.extract_lane(v128.load(D + <usize>load<i32>(ki, 8) * 16), 2) + f32x4.extract_lane(v128.load(D + <usize>load<i32>(ki, 12) * 16), 3);
        l = load<f32>(spec + S_IMGW + <usize>j * 4) - d * inv2var;
      }
      store<f32>(Sx + <usize>j * 4, l);
      if (l > mx) mx = l;
    }
    let sv = splat(0);
    const mv = splat(mx);
    for (let j = 0; j < M4; j += 4) {
      const e = expv(f32x4.sub(v128.load(Sx + <usize>j * 4), mv));
      v128.store(Sx + <usize>j * 4, e);
      sv = f32x4.add(sv, e);
    }
    const inv: f32 = 1 / hsum(sv);
    // x0_q = sum_k W_k[q] c_k with W_k[q] = sum of the responsibilities of the images showing content k at q
    const W = B + OFF_L;
    for (let k = 0; k < K; k++) v128.store(W + <usize>k * 16, splat(0));
    for (let j = 0; j < M; j++) {
      const r: f32 = load<f32>(Sx + <usize>j * 4) * inv;
      const ki = spec + S_COMP + <usize>j * 16;
      for (let q: usize = 0; q < 4; q++) {
        const w = W + (<usize>load<i32>(ki + q * 4) << 4) + q * 4;
        store<f32>(w, load<f32>(w) + r);
      }
    }
    for (let f: usize = 0; f < F; f++) {
      let m = splat(0);
      for (let k = 0; k < K; k++) m = madd(m, v128.load(W + <usize>k * 16), v128.load32_splat(spec + S_CONTENTS + <usize>k * 48 + f * 4));
      v128.store(X0 + f * 16, m);
    }
  } else if (kind == PATCH) {
    distances(spec, xs, a, K);
    patchMean(spec, spec + S_LW, K, inv2var, X0);
  } else if (kind == PAIR) {
    distances(spec, xs, a, K);
    pairMean(spec, K, M, v128.load(spec + S_PERM), inv2var, X0);
  } else if (kind == PAIR_TOP1) {
    distances(spec, xs, a, K);
    // single-quadrant log densities (pooled marginal), minus its normaliser
    const D = B + OFF_D, L = B + OFF_L;
    const iv = splat(inv2var);
    let mx = splat(NEG);
    for (let k = 0; k < K; k++) {
      const v = f32x4.sub(v128.load32_splat(spec + S_LWQ + <usize>k * 4), f32x4.mul(v128.load(D + <usize>k * 16), iv));
      v128.store(L + <usize>k * 16, v);
      mx = f32x4.pmax(mx, v);
    }
    let sum = splat(0);
    for (let k = 0; k < K; k++) sum = f32x4.add(sum, expv(f32x4.sub(v128.load(L + <usize>k * 16), mx)));
    const single = f32x4.sub(f32x4.add(mx, logv(sum)), v128.load32_splat(spec + S_LOGNQ));
    const lnp = v128.load32_splat(spec + S_LOGNP);
    // PMI(q, q + r) = log p(x_q, x_{q+r}) - log p(x_q) - log p(x_{q+r})
    const g1 = f32x4.sub(f32x4.sub(f32x4.sub(pairLse(spec, M, 1, inv2var), lnp), single), rot(single, 1));
    const g2 = f32x4.sub(f32x4.sub(f32x4.sub(pairLse(spec, M, 2, inv2var), lnp), single), rot(single, 2));
    const g3 = f32x4.sub(f32x4.sub(f32x4.sub(pairLse(spec, M, 3, inv2var), lnp), single), rot(single, 3));
    // each lane's responsibilities under its chosen partner (computed above, selected lane by lane)
    const perm = argmaxPartner(splat(0), g1, g2, g3, false);
    // rotation index per lane: r = y - q mod 4 (y from the first swizzle byte of lane q); masks selecting r = 1, 2
    const yv = i32x4.shr_u(v128.and(perm, i32x4.splat(0xff)), 2);
    const r = v128.and(i32x4.sub(yv, laneIndex()), i32x4.splat(3));
    const m1 = i32x4.eq(r, i32x4.splat(1)), m2 = i32x4.eq(r, i32x4.splat(2));
    const P = B + OFF_P;
    for (let j = 0; j < M; j++) {
      const a1 = v128.load(P + <usize>j * 16), a2 = v128.load(P + <usize>(M + j) * 16), a3 = v128.load(P + <usize>(2 * M + j) * 16);
      v128.store(L + <usize>j * 16, v128.bitselect(a1, v128.bitselect(a2, a3, m2), m1));
    }
    ownMean(spec, K, M, L, X0);
  } else if (kind == ATTENTION || kind == TOP1_OPT) {
    distances(spec, xs, a, K);
    const Mv = B + OFF_M;
    patchMean(spec, spec + S_LW, K, inv2var, Mv); // ELS estimate m (log counts: the same posterior)
    const flags = load<i32>(spec + S_FLAGS);
    const self = (flags & 1) != 0;
    const g0 = dots(Mv, 0), g1 = dots(Mv, 1), g2 = dots(Mv, 2), g3 = dots(Mv, 3);
    const perm = argmaxPartner(g0, g1, g2, g3, kind == ATTENTION && self);
    if (kind == TOP1_OPT) {
      // eps_ELS, then the average with the partner's
      for (let f: usize = 0; f < F; f++) {
        const e = f32x4.mul(f32x4.sub(v128.load(xs + f * 16), f32x4.mul(av, v128.load(Mv + f * 16))), is);
        v128.store(E + f * 16, f32x4.mul(splat(0.5), f32x4.add(e, i8x16.swizzle(e, perm))));
      }
      return;
    }
    // Eq. 8: base components (attention log weights: log((1 - lambda) w_k / total)) and partner centres
    const pooled = (flags & 2) != 0;
    const L = B + OFF_L, D = B + OFF_D, T = B + OFF_T;
    const iv = splat(inv2var);
    for (let k = 0; k < K; k++) v128.store(L + <usize>k * 16, f32x4.sub(v128.load(spec + S_COMP + <usize>k * 16), f32x4.mul(v128.load(D + <usize>k * 16), iv)));
    const extra = pooled ? 4 : 1;
    const le = splat(load<f32>(spec + S_LOGEXTRA));
    for (let e = 0; e < extra; e++) {
      // centre per lane: own partner m_{y*(q)} (swizzle), or the partner of position e broadcast
      let sel = perm;
      if (pooled) {
        const b: i32 = e == 0 ? i8x16.extract_lane_u(perm, 0) : e == 1 ? i8x16.extract_lane_u(perm, 4) : e == 2 ? i8x16.extract_lane_u(perm, 8) : i8x16.extract_lane_u(perm, 12);
        const y = b >> 2;
        sel = permOf(y, y, y, y);
      }
      let acc = splat(0);
      for (let f: usize = 0; f < F; f++) {
        const c = i8x16.swizzle(v128.load(Mv + f * 16), sel);
        const d = f32x4.sub(v128.load(xs + f * 16), f32x4.mul(av, c));
        acc = madd(acc, d, d);
      }
      v128.store(L + <usize>(K + e) * 16, f32x4.sub(le, f32x4.mul(acc, iv)));
      v128.store(T + <usize>e * 16, sel);
    }
    softmaxInPlace(L, K + extra);
    for (let f: usize = 0; f < F; f++) {
      let m = splat(0);
      for (let k = 0; k < K; k++) m = madd(m, v128.load(L + <usize>k * 16), v128.load32_splat(spec + S_CONTENTS + <usize>k * 48 + f * 4));
      for (let e = 0; e < extra; e++) m = madd(m, v128.load(L + <usize>(K + e) * 16), i8x16.swizzle(v128.load(Mv + f * 16), v128.load(T + <usize>e * 16)));
      v128.store(X0 + f * 16, m);
    }
  }
  // Tweedie: eps = (x - a x0) / s
  for (let f: usize = 0; f < F; f++) v128.store(E + f * 16, f32x4.mul(f32x4.sub(v128.load(xs + f * 16), f32x4.mul(av, v128.load(X0 + f * 16))), is));
}

// ---------------------------------------------------------------- exported entry points
/** eps of n samples at x (feature-major) into out, with the timestep's (a, s, 1/(2 s^2), 1/s) at mt. */
export function eps(spec: usize, mt: usize, x: usize, n: i32, out: usize): void {
  const E = base() + OFF_E;
  for (let i = 0; i < n; i++) {
    machineEps(spec, x + <usize>i * SAMPLE_BYTES, mt);
    const o = out + <usize>i * SAMPLE_BYTES;
    for (let f: usize = 0; f < SAMPLE_BYTES; f += 16) v128.store(o + f, v128.load(E + f));
  }
}

/**
 * Run timesteps tHi down to tLo (inclusive) on n samples at x, chunk by chunk, as assembly/sample.ts's
 * `run` does (same coefficient rows [T][8], same noise draws): `mt` [T][4] holds each timestep's
 * (a, s, 1/(2 s^2), 1/s); `clampX0` selects the clamped-x0 form; z = 0 draws the noise from the
 * kernel's generator, else it is this single step's noise (tHi == tLo), laid out as x.
 */
export function run(spec: usize, coef: usize, mt: usize, x: usize, n: i32, tHi: i32, tLo: i32, z: usize, clampX0: i32): void {
  const B = base();
  const E = B + OFF_E;
  const zbuf = B + OFF_ZBUF;
  for (let c0 = 0; c0 < n; c0 += SAMPLE_CHUNK) {
    const cn = min(SAMPLE_CHUNK, n - c0);
    const xc = x + <usize>c0 * SAMPLE_BYTES;
    for (let t = tHi; t >= tLo; t--) {
      const cp = coef + <usize>t * COEF_BYTES;
      const mp = mt + <usize>t * 16;
      const k1 = splat(load<f32>(cp, 0)), k2 = splat(load<f32>(cp, 4));
      const sigma = load<f32>(cp, 8);
      const ks = splat(sigma);
      let zc = z + <usize>c0 * SAMPLE_BYTES;
      if (z == 0 && sigma != 0) {
        fillNormals(B + OFF_RNG, zbuf, cn * <i32>F);
        zc = zbuf;
      }
      for (let i = 0; i < cn; i++) {
        const xs = xc + <usize>i * SAMPLE_BYTES;
        machineEps(spec, xs, mp);
        if (clampX0 != 0) {
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
