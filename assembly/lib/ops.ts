/**
 * SIMD building blocks of the fused training step (assembly/train.ts) and of the attention blocks'
 * training halves (assembly/blocks/*.ts): small matrix products on 4 rows, rank-4 updates, row sums,
 * SiLU, the 4x4 softmax and its backward, and the bump allocator every kernel region comes from.
 * Matrices are row-major float32; every region starts on a 16-byte boundary.
 */
import { H } from "../_constants";

// ------------------------------------------------------------------ memory
let brk: usize = 0;

/** Start allocating at the heap base (called once by `init` before any `region`). */
export function resetRegions(): void {
  brk = (__heap_base + 15) & ~(<usize>15);
}

/** Reserve `floats` float32 values (16-byte aligned); returns the address. */
export function region(floats: i32): usize {
  const p = brk;
  brk += ((<usize>floats * 4 + 15) & ~(<usize>15));
  return p;
}

/** First byte after the last region. */
export function regionsEnd(): usize {
  return brk;
}

// ------------------------------------------------------------------ small kernels

/** Zero `bytes` bytes (a multiple of 16) at p. */
export function zero(p: usize, bytes: usize): void {
  const z = f32x4.splat(0);
  for (let e = p + bytes; p < e; p += 16) v128.store(p, z);
}

/**
 * out[r, :N] = init[r, :N] + x[r, :K] @ w[K, N] for r < 4 (rows of x, out and init with strides
 * ldx, ldo, ldi floats). w is row-major [K, N]; N a multiple of 4. init 0 = zeros; ldi 0 = one
 * row broadcast (a bias). out may alias init.
 */
export function mm4(x: usize, ldx: i32, w: usize, K: i32, N: i32, init: usize, ldi: i32, out: usize, ldo: i32): void {
  const sx = <usize>ldx << 2;
  const so = <usize>ldo << 2;
  const si = <usize>ldi << 2;
  const sw = <usize>N << 2;
  let j = 0;
  for (; j + 8 <= N; j += 8) {
    const jb = <usize>j << 2;
    let a00 = f32x4.splat(0), a01 = f32x4.splat(0), a10 = f32x4.splat(0), a11 = f32x4.splat(0);
    let a20 = f32x4.splat(0), a21 = f32x4.splat(0), a30 = f32x4.splat(0), a31 = f32x4.splat(0);
    if (init) {
      const ip = init + jb;
      a00 = v128.load(ip); a01 = v128.load(ip, 16);
      a10 = v128.load(ip + si); a11 = v128.load(ip + si, 16);
      a20 = v128.load(ip + 2 * si); a21 = v128.load(ip + 2 * si, 16);
      a30 = v128.load(ip + 3 * si); a31 = v128.load(ip + 3 * si, 16);
    }
    let wp = w + jb;
    let xp = x;
    for (let kk = 0; kk < K; kk++) {
      const w0 = v128.load(wp);
      const w1 = v128.load(wp, 16);
      let s = v128.load32_splat(xp);
      a00 = f32x4.add(a00, f32x4.mul(s, w0));
      a01 = f32x4.add(a01, f32x4.mul(s, w1));
      s = v128.load32_splat(xp + sx);
      a10 = f32x4.add(a10, f32x4.mul(s, w0));
      a11 = f32x4.add(a11, f32x4.mul(s, w1));
      s = v128.load32_splat(xp + 2 * sx);
      a20 = f32x4.add(a20, f32x4.mul(s, w0));
      a21 = f32x4.add(a21, f32x4.mul(s, w1));
      s = v128.load32_splat(xp + 3 * sx);
      a30 = f32x4.add(a30, f32x4.mul(s, w0));
      a31 = f32x4.add(a31, f32x4.mul(s, w1));
      wp += sw;
      xp += 4;
    }
    const op = out + jb;
    v128.store(op, a00); v128.store(op, a01, 16);
    v128.store(op + so, a10); v128.store(op + so, a11, 16);
    v128.store(op + 2 * so, a20); v128.store(op + 2 * so, a21, 16);
    v128.store(op + 3 * so, a30); v128.store(op + 3 * so, a31, 16);
  }
  for (; j < N; j += 4) {
    const jb = <usize>j << 2;
    let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
    if (init) {
      const ip = init + jb;
      a0 = v128.load(ip); a1 = v128.load(ip + si); a2 = v128.load(ip + 2 * si); a3 = v128.load(ip + 3 * si);
    }
    let wp = w + jb;
    let xp = x;
    for (let kk = 0; kk < K; kk++) {
      const w0 = v128.load(wp);
      a0 = f32x4.add(a0, f32x4.mul(v128.load32_splat(xp), w0));
      a1 = f32x4.add(a1, f32x4.mul(v128.load32_splat(xp + sx), w0));
      a2 = f32x4.add(a2, f32x4.mul(v128.load32_splat(xp + 2 * sx), w0));
      a3 = f32x4.add(a3, f32x4.mul(v128.load32_splat(xp + 3 * sx), w0));
      wp += sw;
      xp += 4;
    }
    const op = out + jb;
    v128.store(op, a0); v128.store(op + so, a1); v128.store(op + 2 * so, a2); v128.store(op + 3 * so, a3);
  }
}

/** dW[K, N] += x[:4, :K]^T @ d[:4, :N] (a rank-4 update); row strides ldx, ldd floats. */
export function rank4(dW: usize, x: usize, ldx: i32, K: i32, d: usize, ldd: i32, N: i32): void {
  const sx = <usize>ldx << 2;
  const sd = <usize>ldd << 2;
  const sw = <usize>N << 2;
  let j = 0;
  for (; j + 8 <= N; j += 8) {
    const jb = <usize>j << 2;
    const dp = d + jb;
    const d00 = v128.load(dp), d01 = v128.load(dp, 16);
    const d10 = v128.load(dp + sd), d11 = v128.load(dp + sd, 16);
    const d20 = v128.load(dp + 2 * sd), d21 = v128.load(dp + 2 * sd, 16);
    const d30 = v128.load(dp + 3 * sd), d31 = v128.load(dp + 3 * sd, 16);
    let wp = dW + jb;
    let xp = x;
    for (let kk = 0; kk < K; kk++) {
      const s0 = v128.load32_splat(xp);
      const s1 = v128.load32_splat(xp + sx);
      const s2 = v128.load32_splat(xp + 2 * sx);
      const s3 = v128.load32_splat(xp + 3 * sx);
      let w0 = v128.load(wp);
      let w1 = v128.load(wp, 16);
      w0 = f32x4.add(w0, f32x4.add(f32x4.add(f32x4.mul(s0, d00), f32x4.mul(s1, d10)), f32x4.add(f32x4.mul(s2, d20), f32x4.mul(s3, d30))));
      w1 = f32x4.add(w1, f32x4.add(f32x4.add(f32x4.mul(s0, d01), f32x4.mul(s1, d11)), f32x4.add(f32x4.mul(s2, d21), f32x4.mul(s3, d31))));
      v128.store(wp, w0);
      v128.store(wp, w1, 16);
      wp += sw;
      xp += 4;
    }
  }
  for (; j < N; j += 4) {
    const jb = <usize>j << 2;
    const dp = d + jb;
    const d0 = v128.load(dp), d1 = v128.load(dp + sd), d2 = v128.load(dp + 2 * sd), d3 = v128.load(dp + 3 * sd);
    let wp = dW + jb;
    let xp = x;
    for (let kk = 0; kk < K; kk++) {
      const s0 = v128.load32_splat(xp);
      const s1 = v128.load32_splat(xp + sx);
      const s2 = v128.load32_splat(xp + 2 * sx);
      const s3 = v128.load32_splat(xp + 3 * sx);
      const u = f32x4.add(f32x4.add(f32x4.mul(s0, d0), f32x4.mul(s1, d1)), f32x4.add(f32x4.mul(s2, d2), f32x4.mul(s3, d3)));
      v128.store(wp, f32x4.add(v128.load(wp), u));
      wp += sw;
      xp += 4;
    }
  }
}

/** acc[:N] += sum over `rows` rows of x (row stride N). N a multiple of 4. */
export function colsum(acc: usize, x: usize, rows: i32, N: i32): void {
  const sx = <usize>N << 2;
  for (let j = 0; j < N; j += 4) {
    const jb = <usize>j << 2;
    let a = v128.load(acc + jb);
    let p = x + jb;
    for (let r = 0; r < rows; r++) {
      a = f32x4.add(a, v128.load(p));
      p += sx;
    }
    v128.store(acc + jb, a);
  }
}

/** dst[C, R] = src[R, C]^T. */
export function transpose(src: usize, R: i32, C: i32, dst: usize): void {
  for (let r = 0; r < R; r++) {
    for (let c = 0; c < C; c++) {
      store<f32>(dst + ((<usize>(c * R + r)) << 2), load<f32>(src + ((<usize>(r * C + c)) << 2)));
    }
  }
}

/** sum_i a[i] b[i] over H = 32 floats (unrolled for H = 32; train.ts `init` refuses another H). */
@inline export function dotH(a: usize, b: usize): f32 {
  let s0 = f32x4.mul(v128.load(a), v128.load(b));
  let s1 = f32x4.mul(v128.load(a, 16), v128.load(b, 16));
  s0 = f32x4.add(s0, f32x4.mul(v128.load(a, 32), v128.load(b, 32)));
  s1 = f32x4.add(s1, f32x4.mul(v128.load(a, 48), v128.load(b, 48)));
  s0 = f32x4.add(s0, f32x4.mul(v128.load(a, 64), v128.load(b, 64)));
  s1 = f32x4.add(s1, f32x4.mul(v128.load(a, 80), v128.load(b, 80)));
  s0 = f32x4.add(s0, f32x4.mul(v128.load(a, 96), v128.load(b, 96)));
  s1 = f32x4.add(s1, f32x4.mul(v128.load(a, 112), v128.load(b, 112)));
  s0 = f32x4.add(s0, s1);
  return (f32x4.extract_lane(s0, 0) + f32x4.extract_lane(s0, 1)) + (f32x4.extract_lane(s0, 2) + f32x4.extract_lane(s0, 3));
}

/** a[:n] += b[:n] (n a multiple of 4). */
export function addInto(a: usize, b: usize, n: i32): void {
  for (let i = 0; i < n; i += 4) {
    const o = <usize>i << 2;
    v128.store(a + o, f32x4.add(v128.load(a + o), v128.load(b + o)));
  }
}

/**
 * exp(x) on four lanes (Cephes expf: x = n ln2 + r, degree-6 polynomial in r, times 2^n);
 * relative error below 2e-7 (about 1 ulp of float32), inputs clamped to [-87.3, 88.7].
 */
@inline export function exp4(x: v128): v128 {
  x = f32x4.min(f32x4.max(x, f32x4.splat(-87.33654)), f32x4.splat(88.72283));
  const n = f32x4.nearest(f32x4.mul(x, f32x4.splat(1.44269504088896341)));
  let r = f32x4.sub(x, f32x4.mul(n, f32x4.splat(0.693359375)));
  r = f32x4.sub(r, f32x4.mul(n, f32x4.splat(-2.12194440e-4)));
  let p = f32x4.splat(1.9875691500e-4);
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.3981999507e-3));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(8.3334519073e-3));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(4.1665795894e-2));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.6666665459e-1));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(5.0000001201e-1));
  p = f32x4.add(f32x4.add(f32x4.mul(f32x4.mul(p, r), r), r), f32x4.splat(1));
  // 2^n built in the exponent bits; n in [-126, 128] after the clamp, 2^128 split in two
  const ni = i32x4.trunc_sat_f32x4_s(n);
  const half = i32x4.shr_s(ni, 1);
  const p1 = i32x4.shl(i32x4.add(half, i32x4.splat(127)), 23);
  const p2 = i32x4.shl(i32x4.add(i32x4.sub(ni, half), i32x4.splat(127)), 23);
  return f32x4.mul(f32x4.mul(p, p1), p2);
}

/** SiLU over n floats (a multiple of 4): s = sigmoid(x) = 1 / (1 + exp(-x)) (tfjs' formula), out = x s. */
export function siluForward(x: usize, s: usize, out: usize, n: i32): void {
  const one = f32x4.splat(1);
  for (let i = 0; i < n; i += 4) {
    const o = <usize>i << 2;
    const xv = v128.load(x + o);
    const sv = f32x4.div(one, f32x4.add(one, exp4(f32x4.neg(xv))));
    v128.store(s + o, sv);
    v128.store(out + o, f32x4.mul(xv, sv));
  }
}

/** d[i] = g[i] * SiLU'(x[i]) = g (s + x s (1 - s)), s = sigmoid(x) given. */
export function siluBackward(g: usize, x: usize, s: usize, d: usize, n: i32): void {
  const one = f32x4.splat(1);
  for (let i = 0; i < n; i += 4) {
    const o = <usize>i << 2;
    const sv = v128.load(s + o);
    const xv = v128.load(x + o);
    const gv = v128.load(g + o);
    const deriv = f32x4.add(sv, f32x4.mul(f32x4.mul(xv, sv), f32x4.sub(one, sv)));
    v128.store(d + o, f32x4.mul(gv, deriv));
  }
}

/** Row-wise softmax of a [4, 4] matrix in place (max subtracted first, as tfjs does). */
export function softmax4(a: usize): void {
  for (let r = 0; r < 4; r++) {
    const p = a + (<usize>r << 4);
    const x0 = load<f32>(p), x1 = load<f32>(p, 4), x2 = load<f32>(p, 8), x3 = load<f32>(p, 12);
    const m = Mathf.max(Mathf.max(x0, x1), Mathf.max(x2, x3));
    const e0 = Mathf.exp(x0 - m), e1 = Mathf.exp(x1 - m), e2 = Mathf.exp(x2 - m), e3 = Mathf.exp(x3 - m);
    const s = ((e0 + e1) + e2) + e3;
    store<f32>(p, e0 / s); store<f32>(p, e1 / s, 4); store<f32>(p, e2 / s, 8); store<f32>(p, e3 / s, 12);
  }
}

/**
 * Softmax backward on a [4, 4] matrix in place: dA <- c * A * (dA - rowsum(A * dA)), where A is the
 * softmax output (row-wise) and c the chain factor of the logits (1/sqrt(d), or 1/(sqrt(d) tau)).
 */
export function softmaxBackward4(att: usize, dA: usize, c: f32): void {
  for (let i = 0; i < 4; i++) {
    const ap = att + (<usize>i << 4);
    const gp = dA + (<usize>i << 4);
    const a0 = load<f32>(ap), a1 = load<f32>(ap, 4), a2 = load<f32>(ap, 8), a3 = load<f32>(ap, 12);
    const g0 = load<f32>(gp), g1 = load<f32>(gp, 4), g2 = load<f32>(gp, 8), g3 = load<f32>(gp, 12);
    const rs = ((a0 * g0 + a1 * g1) + a2 * g2) + a3 * g3;
    store<f32>(gp, a0 * (g0 - rs) * c);
    store<f32>(gp, a1 * (g1 - rs) * c, 4);
    store<f32>(gp, a2 * (g2 - rs) * c, 8);
    store<f32>(gp, a3 * (g3 - rs) * c, 12);
  }
}

/**
 * Gradients of scores s[i, j] = (q_i . k_j) c over queries q = h Wq and keys k = h Wk (4 tokens):
 * given dS = dL/ds (already times c), dq = dS k, dk = dS^T q; dWq += h^T dq, dWk += h^T dk;
 * dh += dq Wq^T + dk Wk^T. `dST`, `dq`, `dk` are scratch ([4,4], [4,H], [4,H]).
 */
export function qkBackward(h: usize, q: usize, k: usize, dS: usize, dST: usize, dq: usize, dk: usize,
  gWq: usize, gWk: usize, wqT: usize, wkT: usize, dh: usize): void {
  transpose(dS, 4, 4, dST);
  mm4(dS, 4, k, 4, H, 0, 0, dq, H);
  mm4(dST, 4, q, 4, H, 0, 0, dk, H);
  rank4(gWq, h, H, H, dq, H, H);
  rank4(gWk, h, H, H, dk, H, H);
  mm4(dq, H, wqT, H, H, dh, H, dh, H);
  mm4(dk, H, wkT, H, H, dh, H, dh, H);
}
