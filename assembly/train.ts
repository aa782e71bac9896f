/**
 * One fused training step of the score network (SPEC.md "Score network", "DDPM", "Training") in
 * WebAssembly SIMD: gather the batch, x_t = sqrt(alphaBar) x0 + sqrt(1 - alphaBar) eps, forward,
 * weighted loss, full backward, AdamW and EMA, with every buffer resident in linear memory.
 *
 * It computes what the tfjs engine (src/engines/tfjs.ts) computes (same packed parameter
 * layout as src/model/packed.ts, same float32 constants); only the summation order differs.
 * The randomness (timesteps, eps, Gumbel draws, data order) is drawn in TypeScript and written
 * into the input buffers before each call; see src/kernels/train-kernel.ts.
 *
 * Memory: no allocator. `init` lays out every region after __heap_base and grows the memory; the
 * wrapper reads the region addresses through the exported `*Ptr` functions. Matrices are
 * row-major float32; every region starts on a 16-byte boundary.
 *
 * Shapes: B examples, 4 tokens each, F = 12 token features, H = 32 hidden features.
 * Work is split in three phases so that the per-example part stays in L1:
 *   1. time MLP forward for the whole batch (rows padded to a multiple of 4);
 *   2. per example: tokens forward + loss + backward, weight gradients accumulated;
 *   3. time MLP backward for the whole batch.
 */

import { ATTENTION, CNN, F, H, IDENTITY, O_ATT, O_C1B, O_C1W, O_TB1, O_TB2, O_TW1, O_TW2, TOP1 } from "./_constants";

/** 1 / sqrt(d) with d = 32, rounded to float32 as tfjs does. */
const SCALE: f32 = <f32>(1.0 / Math.sqrt(32.0));

// Kernel kinds (CNN, ATTENTION, IDENTITY, TOP1), H, F and the packed parameter offsets O_* of the
// shared base (conv1.w, conv1.b, time.w1, time.b1, time.w2, time.b2; O_ATT = first attention matrix,
// or out.w for the CNN) come from assembly/_constants.ts, generated from src/kernels/constants.ts.

let variant: i32 = 0;
let nParams: i32 = 0; // P
let nParams4: i32 = 0; // P rounded up to a multiple of 4 (padding stays zero)
let oWq: i32 = -1;
let oWk: i32 = -1;
let oWv: i32 = -1;
let oWo: i32 = 0; // out.w [32, 12]
let oBo: i32 = 0; // out.b [3]
let maxBatch: i32 = 0;
let nData: i32 = 0;
let nT: i32 = 0;

// Parameter-sized regions [P4].
let theta: usize = 0;
let ema: usize = 0;
let mom: usize = 0;
let vel: usize = 0;
let grad: usize = 0;
// Resident data and tables.
let data: usize = 0; // tokens [N, 4, 12]
let tabSqrtAb: usize = 0; // sqrt(alphaBar_t) [T]
let tabSqrt1mAb: usize = 0; // sqrt(1 - alphaBar_t) [T]
let tabWeight: usize = 0; // 1 - alphaBar_t [T]
let tabEmb: usize = 0; // sinusoidal embedding [T, 32]
// Per-step inputs.
let inIndex: usize = 0; // i32 [B]
let inT: usize = 0; // i32 [B]
let inEps: usize = 0; // [B, 4, 12]
let inGumbel: usize = 0; // [B, 4, 4]
// Weight copies prepared once per step.
let woT: usize = 0; // out.w^T [12, 32]
let tw2T: usize = 0; // time.w2^T [32, 32]
let wqT: usize = 0;
let wkT: usize = 0;
let wvT: usize = 0;
let bias12: usize = 0; // out.b tiled over the 2x2 pixels [12]
let gBias12: usize = 0; // gradient of the tiled bias [12]
// Batch buffers [Bpad, 32].
let bE: usize = 0; // embedding rows
let bZ1: usize = 0; // time pre-activation
let bS1: usize = 0; // sigmoid(z1)
let bA1: usize = 0; // SiLU(z1)
let bTemb: usize = 0; // time embedding after the MLP
let bDT: usize = 0; // d loss / d temb
let bTmp: usize = 0;
// Per-example scratch.
let xt: usize = 0; // [4, 12]
let pre: usize = 0; // [4, 32] conv1 + temb
let sig: usize = 0; // sigmoid(pre)
let h: usize = 0; // SiLU(pre)
let q: usize = 0;
let k: usize = 0;
let v: usize = 0;
let att: usize = 0; // attention weights A [4, 4]
let attT: usize = 0; // A^T
let dS: usize = 0; // d loss / d scores [4, 4]
let dST: usize = 0;
let h2: usize = 0; // h + A v
let y: usize = 0; // eps_hat [4, 12]
let dy: usize = 0;
let dh2: usize = 0;
let dh: usize = 0;
let dv: usize = 0;
let dq: usize = 0;
let dk: usize = 0;
let dpre: usize = 0;
let scratch: usize = 0; // free region for tests [SCRATCH floats]
const SCRATCH: i32 = 4096;

let brk: usize = 0;

function region(floats: i32): usize {
  const p = brk;
  brk += ((<usize>floats * 4 + 15) & ~(<usize>15));
  return p;
}

/**
 * Lay out the memory for one variant. Returns the number of parameters P.
 * @param code variant code; @param batch largest batch; @param n training examples; @param steps T
 */
export function init(code: i32, batch: i32, n: i32, steps: i32): i32 {
  variant = code;
  maxBatch = batch;
  nData = n;
  nT = steps;
  let o = O_ATT;
  oWq = -1;
  oWk = -1;
  oWv = -1;
  if (code == ATTENTION || code == TOP1) {
    oWq = o;
    oWk = o + H * H;
    oWv = o + 2 * H * H;
    o += 3 * H * H;
  } else if (code == IDENTITY) {
    oWv = o;
    o += H * H;
  }
  oWo = o;
  oBo = o + H * F;
  nParams = oBo + 3;
  nParams4 = (nParams + 3) & ~3;

  brk = (__heap_base + 15) & ~(<usize>15);
  theta = region(nParams4);
  ema = region(nParams4);
  mom = region(nParams4);
  vel = region(nParams4);
  grad = region(nParams4);
  data = region(n * 48);
  tabSqrtAb = region(steps);
  tabSqrt1mAb = region(steps);
  tabWeight = region(steps);
  tabEmb = region(steps * H);
  inIndex = region(batch);
  inT = region(batch);
  inEps = region(batch * 48);
  inGumbel = region(batch * 16);
  woT = region(F * H);
  tw2T = region(H * H);
  wqT = region(H * H);
  wkT = region(H * H);
  wvT = region(H * H);
  bias12 = region(F);
  gBias12 = region(F);
  const bp = (batch + 3) & ~3;
  bE = region(bp * H);
  bZ1 = region(bp * H);
  bS1 = region(bp * H);
  bA1 = region(bp * H);
  bTemb = region(bp * H);
  bDT = region(bp * H);
  bTmp = region(bp * H);
  xt = region(48);
  pre = region(128);
  sig = region(128);
  h = region(128);
  q = region(128);
  k = region(128);
  v = region(128);
  att = region(16);
  attT = region(16);
  dS = region(16);
  dST = region(16);
  h2 = region(128);
  y = region(48);
  dy = region(48);
  dh2 = region(128);
  dh = region(128);
  dv = region(128);
  dq = region(128);
  dk = region(128);
  dpre = region(128);
  scratch = region(SCRATCH);
  const need = <i32>((brk + 0xffff) >> 16);
  const have = memory.size();
  if (need > have && memory.grow(need - have) < 0) return -1;
  zero(theta, brk - theta);
  return nParams;
}

export function thetaPtr(): usize { return theta; }
export function emaPtr(): usize { return ema; }
export function momPtr(): usize { return mom; }
export function velPtr(): usize { return vel; }
export function gradPtr(): usize { return grad; }
export function dataPtr(): usize { return data; }
export function sqrtAbPtr(): usize { return tabSqrtAb; }
export function sqrt1mAbPtr(): usize { return tabSqrt1mAb; }
export function weightPtr(): usize { return tabWeight; }
export function embPtr(): usize { return tabEmb; }
export function indexPtr(): usize { return inIndex; }
export function tPtr(): usize { return inT; }
export function epsPtr(): usize { return inEps; }
export function gumbelPtr(): usize { return inGumbel; }
export function scratchPtr(): usize { return scratch; }
export function scratchFloats(): i32 { return SCRATCH; }
/** Offset (floats) of a parameter block: 0 wq, 1 wk, 2 wv, 3 out.w, 4 out.b (-1 = absent). */
export function paramOffset(which: i32): i32 {
  if (which == 0) return oWq;
  if (which == 1) return oWk;
  if (which == 2) return oWv;
  if (which == 3) return oWo;
  return oBo;
}

// ------------------------------------------------------------------ small kernels

/** Zero `bytes` bytes (a multiple of 16) at p. */
function zero(p: usize, bytes: usize): void {
  const z = f32x4.splat(0);
  for (let e = p + bytes; p < e; p += 16) v128.store(p, z);
}

/**
 * out[r, :N] = init[r, :N] + x[r, :K] @ w[K, N] for r < 4 (rows of x, out and init with strides
 * ldx, ldo, ldi floats). w is row-major [K, N]; N a multiple of 4. init 0 = zeros; ldi 0 = one
 * row broadcast (a bias). out may alias init.
 */
function mm4(x: usize, ldx: i32, w: usize, K: i32, N: i32, init: usize, ldi: i32, out: usize, ldo: i32): void {
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
function rank4(dW: usize, x: usize, ldx: i32, K: i32, d: usize, ldd: i32, N: i32): void {
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
function colsum(acc: usize, x: usize, rows: i32, N: i32): void {
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
function transpose(src: usize, R: i32, C: i32, dst: usize): void {
  for (let r = 0; r < R; r++) {
    for (let c = 0; c < C; c++) {
      store<f32>(dst + ((<usize>(c * R + r)) << 2), load<f32>(src + ((<usize>(r * C + c)) << 2)));
    }
  }
}

/** sum_i a[i] b[i] over 32 floats. */
@inline function dot32(a: usize, b: usize): f32 {
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
function addInto(a: usize, b: usize, n: i32): void {
  for (let i = 0; i < n; i += 4) {
    const o = <usize>i << 2;
    v128.store(a + o, f32x4.add(v128.load(a + o), v128.load(b + o)));
  }
}

/**
 * exp(x) on four lanes (Cephes expf: x = n ln2 + r, degree-6 polynomial in r, times 2^n);
 * relative error below 2e-7 (about 1 ulp of float32), inputs clamped to [-87.3, 88.7].
 */
@inline function exp4(x: v128): v128 {
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
function siluForward(x: usize, s: usize, out: usize, n: i32): void {
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
function siluBackward(g: usize, x: usize, s: usize, d: usize, n: i32): void {
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
function softmax4(a: usize): void {
  for (let r = 0; r < 4; r++) {
    const p = a + (<usize>r << 4);
    const x0 = load<f32>(p), x1 = load<f32>(p, 4), x2 = load<f32>(p, 8), x3 = load<f32>(p, 12);
    const m = Mathf.max(Mathf.max(x0, x1), Mathf.max(x2, x3));
    const e0 = Mathf.exp(x0 - m), e1 = Mathf.exp(x1 - m), e2 = Mathf.exp(x2 - m), e3 = Mathf.exp(x3 - m);
    const s = ((e0 + e1) + e2) + e3;
    store<f32>(p, e0 / s); store<f32>(p, e1 / s, 4); store<f32>(p, e2 / s, 8); store<f32>(p, e3 / s, 12);
  }
}

// ------------------------------------------------------------------ the step

/** Weight copies and the tiled output bias, from the current theta. */
function prepareWeights(): void {
  transpose(theta + (<usize>oWo << 2), H, F, woT);
  transpose(theta + (<usize>O_TW2 << 2), H, H, tw2T);
  if (oWq >= 0) {
    transpose(theta + (<usize>oWq << 2), H, H, wqT);
    transpose(theta + (<usize>oWk << 2), H, H, wkT);
  }
  if (oWv >= 0) transpose(theta + (<usize>oWv << 2), H, H, wvT);
  for (let f = 0; f < F; f++) store<f32>(bias12 + (<usize>f << 2), load<f32>(theta + (<usize>(oBo + f % 3) << 2)));
}

/** 1. Time MLP forward for the batch: temb = W2 SiLU(W1 emb(t) + b1) + b2, rows padded to 4. */
function timeForward(B: i32): void {
  const bp = (B + 3) & ~3;
  zero(bE, <usize>bp * H * 4);
  for (let b = 0; b < B; b++) {
    const t = load<i32>(inT + (<usize>b << 2));
    const src = tabEmb + (<usize>(t * H) << 2);
    const dst = bE + (<usize>(b * H) << 2);
    for (let i = 0; i < 128; i += 16) v128.store(dst + i, v128.load(src + i));
  }
  for (let b = 0; b < bp; b += 4) {
    const o = <usize>(b * H) << 2;
    mm4(bE + o, H, theta + (<usize>O_TW1 << 2), H, H, theta + (<usize>O_TB1 << 2), 0, bZ1 + o, H);
  }
  siluForward(bZ1, bS1, bA1, bp * H);
  for (let b = 0; b < bp; b += 4) {
    const o = <usize>(b * H) << 2;
    mm4(bA1 + o, H, theta + (<usize>O_TW2 << 2), H, H, theta + (<usize>O_TB2 << 2), 0, bTemb + o, H);
  }
}

/** 2. One example: forward, loss, backward. Returns (1 - alphaBar_t) * mean squared error. */
function example(b: i32, B: i32, tau: f32): f64 {
  const t = load<i32>(inT + (<usize>b << 2));
  const to = <usize>t << 2;
  // 2a. x_t = sqrt(alphaBar) x0 + sqrt(1 - alphaBar) eps   [4, 12]
  const sa = v128.load32_splat(tabSqrtAb + to);
  const sb = v128.load32_splat(tabSqrt1mAb + to);
  const x0 = data + <usize>load<i32>(inIndex + (<usize>b << 2)) * 192;
  const ep = inEps + <usize>b * 192;
  for (let i: usize = 0; i < 192; i += 16) {
    v128.store(xt + i, f32x4.add(f32x4.mul(sa, v128.load(x0 + i)), f32x4.mul(sb, v128.load(ep + i))));
  }
  // 2b. h = SiLU(conv1(x_t) + temb)   [4, 32]
  mm4(xt, F, theta + (<usize>O_C1W << 2), F, H, theta + (<usize>O_C1B << 2), 0, pre, H);
  const temb = bTemb + (<usize>(b * H) << 2);
  for (let r = 0; r < 4; r++) addInto(pre + (<usize>(r * H) << 2), temb, H);
  siluForward(pre, sig, h, 128);
  // 2c. attention residual h2 = h + A V   [4, 32]
  let qq = h;
  let kk = h;
  if (variant != CNN) {
    if (oWq >= 0) {
      mm4(h, H, theta + (<usize>oWq << 2), H, H, 0, 0, q, H);
      mm4(h, H, theta + (<usize>oWk << 2), H, H, 0, 0, k, H);
      qq = q;
      kk = k;
    }
    mm4(h, H, theta + (<usize>oWv << 2), H, H, 0, 0, v, H);
    for (let i = 0; i < 4; i++) {
      for (let j = 0; j < 4; j++) {
        let s = dot32(qq + (<usize>(i * H) << 2), kk + (<usize>(j * H) << 2)) * SCALE;
        if (variant == TOP1) s = (s + load<f32>(inGumbel + (<usize>(b * 16 + i * 4 + j) << 2))) / tau;
        store<f32>(att + (<usize>(i * 4 + j) << 2), s);
      }
    }
    softmax4(att);
    mm4(att, 4, v, 4, H, h, H, h2, H);
  } else {
    for (let i: usize = 0; i < 512; i += 16) v128.store(h2 + i, v128.load(h + i));
  }
  // 2d. eps_hat = out(h2) + tiled bias   [4, 12]
  mm4(h2, H, theta + (<usize>oWo << 2), H, F, bias12, 0, y, F);
  // 2e. loss (1 - alphaBar_t) mean((eps_hat - eps)^2) and its gradient
  const w = load<f32>(tabWeight + to);
  const coef = f32x4.splat(<f32>(<f64>w * 2.0 / (48.0 * <f64>B)));
  let sq = f32x4.splat(0);
  for (let i: usize = 0; i < 192; i += 16) {
    const d = f32x4.sub(v128.load(y + i), v128.load(ep + i));
    sq = f32x4.add(sq, f32x4.mul(d, d));
    v128.store(dy + i, f32x4.mul(d, coef));
  }
  const sse = (f32x4.extract_lane(sq, 0) + f32x4.extract_lane(sq, 1)) + (f32x4.extract_lane(sq, 2) + f32x4.extract_lane(sq, 3));
  // 2f. backward through out: dWo += h2^T dy, d(bias) += colsum dy, dh2 = dy Wo^T
  rank4(grad + (<usize>oWo << 2), h2, H, H, dy, F, F);
  colsum(gBias12, dy, 4, F);
  mm4(dy, F, woT, F, H, 0, 0, dh2, H);
  // 2g. backward through the attention block (dh = dh2 through the residual)
  if (variant != CNN) {
    // dA = dh2 V^T, dV = A^T dh2, dWv += h^T dV, dh = dh2 + dV Wv^T
    for (let i = 0; i < 4; i++) {
      for (let j = 0; j < 4; j++) {
        store<f32>(dS + (<usize>(i * 4 + j) << 2), dot32(dh2 + (<usize>(i * H) << 2), v + (<usize>(j * H) << 2)));
      }
    }
    transpose(att, 4, 4, attT);
    mm4(attT, 4, dh2, 4, H, 0, 0, dv, H);
    rank4(grad + (<usize>oWv << 2), h, H, H, dv, H, H);
    mm4(dv, H, wvT, H, H, dh2, H, dh, H);
    // softmax backward: dlogit = A (dA - sum_j A dA); then / tau (top1) and * 1/sqrt(d)
    for (let i = 0; i < 4; i++) {
      const ap = att + (<usize>i << 4);
      const gp = dS + (<usize>i << 4);
      const a0 = load<f32>(ap), a1 = load<f32>(ap, 4), a2 = load<f32>(ap, 8), a3 = load<f32>(ap, 12);
      const g0 = load<f32>(gp), g1 = load<f32>(gp, 4), g2 = load<f32>(gp, 8), g3 = load<f32>(gp, 12);
      const rs = ((a0 * g0 + a1 * g1) + a2 * g2) + a3 * g3;
      let c: f32 = SCALE;
      if (variant == TOP1) c = SCALE / tau;
      store<f32>(gp, a0 * (g0 - rs) * c);
      store<f32>(gp, a1 * (g1 - rs) * c, 4);
      store<f32>(gp, a2 * (g2 - rs) * c, 8);
      store<f32>(gp, a3 * (g3 - rs) * c, 12);
    }
    transpose(dS, 4, 4, dST);
    // dQ = dS K, dK = dS^T Q
    mm4(dS, 4, kk, 4, H, 0, 0, dq, H);
    mm4(dST, 4, qq, 4, H, 0, 0, dk, H);
    if (oWq >= 0) {
      rank4(grad + (<usize>oWq << 2), h, H, H, dq, H, H);
      rank4(grad + (<usize>oWk << 2), h, H, H, dk, H, H);
      mm4(dq, H, wqT, H, H, dh, H, dh, H);
      mm4(dk, H, wkT, H, H, dh, H, dh, H);
    } else {
      addInto(dh, dq, 128);
      addInto(dh, dk, 128);
    }
  } else {
    for (let i: usize = 0; i < 512; i += 16) v128.store(dh + i, v128.load(dh2 + i));
  }
  // 2h. through SiLU and conv1; d temb = colsum d pre (also the conv1 bias gradient, in phase 3)
  siluBackward(dh, pre, sig, dpre, 128);
  rank4(grad + (<usize>O_C1W << 2), xt, F, F, dpre, H, H);
  const dt = bDT + (<usize>(b * H) << 2);
  for (let i: usize = 0; i < 128; i += 16) v128.store(dt + i, f32x4.splat(0));
  colsum(dt, dpre, 4, H);
  return <f64>w * (<f64>sse / 48.0);
}

/** 3. Time MLP backward for the batch, and the biases summed over it. */
function timeBackward(B: i32): void {
  const bp = (B + 3) & ~3;
  // dT rows of padding are zero, so padded rows add nothing.
  colsum(grad + (<usize>O_TB2 << 2), bDT, bp, H);
  for (let i = 0; i < H; i++) store<f32>(grad + (<usize>(O_C1B + i) << 2), load<f32>(grad + (<usize>(O_TB2 + i) << 2)));
  for (let b = 0; b < bp; b += 4) {
    const o = <usize>(b * H) << 2;
    rank4(grad + (<usize>O_TW2 << 2), bA1 + o, H, H, bDT + o, H, H);
    mm4(bDT + o, H, tw2T, H, H, 0, 0, bTmp + o, H);
  }
  siluBackward(bTmp, bZ1, bS1, bTmp, bp * H);
  colsum(grad + (<usize>O_TB1 << 2), bTmp, bp, H);
  for (let b = 0; b < bp; b += 4) {
    const o = <usize>(b * H) << 2;
    rank4(grad + (<usize>O_TW1 << 2), bE + o, H, H, bTmp + o, H, H);
  }
}

/**
 * Loss and gradient (into the grad region, packed layout) of the batch in the input regions,
 * at the current theta. Returns the loss; nothing is updated.
 * @param B batch size (<= init's batch); @param tau Gumbel-softmax temperature (top1)
 */
export function lossAndGrad(B: i32, tau: f32): f64 {
  prepareWeights();
  zero(grad, <usize>nParams4 << 2);
  zero(gBias12, 48);
  timeForward(B);
  let loss: f64 = 0;
  for (let b = 0; b < B; b++) loss += example(b, B, tau);
  for (let f = 0; f < F; f++) {
    const p = grad + (<usize>(oBo + f % 3) << 2);
    store<f32>(p, load<f32>(p) + load<f32>(gBias12 + (<usize>f << 2)));
  }
  timeBackward(B);
  return loss / <f64>B;
}

/**
 * AdamW (torch.optim.AdamW semantics, the float32 constants of src/train/adamw.ts) on n4 floats
 * (a multiple of 4) at the given addresses:
 *   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;
 *   theta = theta (1 - lr wd) - (lr / bc1) m / (sqrt(v) / sqrt(bc2) + eps).
 */
export function adamw(th: usize, g: usize, m: usize, vv: usize, n4: i32, b1: f32, omb1: f32, b2: f32, omb2: f32,
  sqrtBc2: f32, eps: f32, decay: f32, stepSize: f32): void {
  const vb1 = f32x4.splat(b1), vomb1 = f32x4.splat(omb1), vb2 = f32x4.splat(b2), vomb2 = f32x4.splat(omb2);
  const vbc2 = f32x4.splat(sqrtBc2), veps = f32x4.splat(eps), vdecay = f32x4.splat(decay), vstep = f32x4.splat(stepSize);
  const end = <usize>n4 << 2;
  for (let o: usize = 0; o < end; o += 16) {
    const gv = v128.load(g + o);
    const mv = f32x4.add(f32x4.mul(v128.load(m + o), vb1), f32x4.mul(gv, vomb1));
    const vv2 = f32x4.add(f32x4.mul(v128.load(vv + o), vb2), f32x4.mul(f32x4.mul(gv, gv), vomb2));
    const denom = f32x4.add(f32x4.div(f32x4.sqrt(vv2), vbc2), veps);
    const next = f32x4.sub(f32x4.mul(v128.load(th + o), vdecay), f32x4.mul(f32x4.div(mv, denom), vstep));
    v128.store(m + o, mv);
    v128.store(vv + o, vv2);
    v128.store(th + o, next);
  }
}

/** EMA: e = e + (theta - e) (1 - d), on n4 floats. */
export function emaUpdate(e: usize, th: usize, n4: i32, oneMinusDecay: f32): void {
  const c = f32x4.splat(oneMinusDecay);
  const end = <usize>n4 << 2;
  for (let o: usize = 0; o < end; o += 16) {
    const ev = v128.load(e + o);
    v128.store(e + o, f32x4.add(ev, f32x4.mul(f32x4.sub(v128.load(th + o), ev), c)));
  }
}

/**
 * One training step: loss and gradient, AdamW, EMA. The AdamW constants are computed by the
 * caller (see `adamw`). Returns the loss before the update; a non-finite loss updates nothing.
 */
export function step(B: i32, tau: f32, b1: f32, omb1: f32, b2: f32, omb2: f32, sqrtBc2: f32, eps: f32,
  decay: f32, stepSize: f32, emaOneMinusDecay: f32): f64 {
  const loss = lossAndGrad(B, tau);
  if (!isFinite(loss)) return loss;
  adamw(theta, grad, mom, vel, nParams4, b1, omb1, b2, omb2, sqrtBc2, eps, decay, stepSize);
  emaUpdate(ema, theta, nParams4, emaOneMinusDecay);
  return loss;
}
