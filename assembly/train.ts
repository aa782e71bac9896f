/**
 * One fused training step of the score network (docs/experiment.md "Score network", "DDPM",
 * "Training") in WebAssembly SIMD: gather the batch, x_t = sqrt(alphaBar) x0 + sqrt(1 - alphaBar) eps,
 * forward, weighted loss, full backward, AdamW and EMA, with every buffer resident in linear memory.
 *
 * It computes what the tfjs engine (src/engines/tfjs.ts) computes (same packed parameter
 * layout as src/model/packed.ts, same float32 constants); only the summation order differs.
 * The randomness (timesteps, eps, Gumbel draws, data order) is drawn in TypeScript and written
 * into the input buffers before each call; see src/kernels/train-kernel.ts. Settings (the Gumbel
 * temperature, AdamW's constants of the step, the EMA decay) arrive in a named structure at
 * `cfgPtr()` whose fields (TRAIN_*) are generated from src/kernels/constants.ts.
 *
 * The shared part lives here: the CNN base (conv1, time MLP, SiLU, out), the values V = h Wv and
 * the residual h + A V of variants with attention, the loss, AdamW and EMA. A variant's attention
 * weights A and the gradients through them are its block (assembly/blocks/<block>.ts), called
 * through the generated dispatch of assembly/_blocks.ts by kernel kind.
 *
 * Memory: no allocator beyond a bump pointer (assembly/ops.ts `region`). `init` lays out every
 * region after __heap_base and grows the memory; the wrapper reads the region addresses through
 * the exported `*Ptr` functions. Matrices are row-major float32; regions start 16-byte aligned.
 *
 * Shapes: B examples, 4 tokens each, F = 12 token features, H = 32 hidden features.
 * Work is split in three phases so that the per-example part stays in L1:
 *   1. time MLP forward for the whole batch (rows padded to a multiple of 4);
 *   2. per example: tokens forward + loss + backward, weight gradients accumulated;
 *   3. time MLP backward for the whole batch.
 */

import {
  F, H, KIND_COUNT, O_ATT, O_C1B, O_C1W, O_TB1, O_TB2, O_TW1, O_TW2, TRAIN_BETA1, TRAIN_BETA2, TRAIN_DECAY_FACTOR, TRAIN_EMA_ONE_MINUS_DECAY,
  TRAIN_EPS, TRAIN_ONE_MINUS_BETA1, TRAIN_ONE_MINUS_BETA2, TRAIN_SQRT_BIAS_CORRECTION2, TRAIN_STEP_SIZE, TRAIN_STRUCT_BYTES,
} from "./_constants";
import { blockOwnParams, blockTrainBackward, blockTrainForward, blockTrainInit, blockTrainPrepare, hasBlock } from "./_blocks";
import { addInto, colsum, dotH, mm4, rank4, region, regionsEnd, resetRegions, siluBackward, siluForward, transpose, zero } from "./lib/ops";

/** Bytes of one hidden row [H] and of one example's hidden tokens [4, H]; bytes of one example's tokens [4, F]. */
const ROW: usize = <usize>H << 2;
const HIDDEN_BYTES: usize = 4 * ROW;
const EXAMPLE_BYTES: usize = <usize>(4 * F) << 2;

let kind: i32 = 0;
let nParams: i32 = 0; // P
let nParams4: i32 = 0; // P rounded up to a multiple of 4 (padding stays zero)
let oWv: i32 = -1; // attn.wv [32, 32] (values), -1 without attention
let oWo: i32 = 0; // out.w [32, 12]
let oBo: i32 = 0; // out.b [3]
let maxBatch: i32 = 0;
let nData: i32 = 0;
let nT: i32 = 0;

// Settings of the next step (TRAIN_* fields).
let cfg: usize = 0;
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
let v: usize = 0; // values h Wv
let att: usize = 0; // attention weights A [4, 4] (from the block)
let attT: usize = 0; // A^T
let dA: usize = 0; // d loss / d A [4, 4]
let h2: usize = 0; // h + A v
let y: usize = 0; // eps_hat [4, 12]
let dy: usize = 0;
let dh2: usize = 0;
let dh: usize = 0;
let dv: usize = 0;
let dpre: usize = 0;
let scratch: usize = 0; // free region for tests [SCRATCH floats]
const SCRATCH: i32 = 4096;

/**
 * Lay out the memory for one variant. Returns the number of parameters P (-1: the memory could not
 * grow; -2: the kernels were compiled for another H than the 32 they are written for).
 * @param code kernel kind; @param batch largest batch; @param n training examples; @param steps T
 */
export function init(code: i32, batch: i32, n: i32, steps: i32): i32 {
  if (H != 32) return -2;
  kind = code;
  maxBatch = batch;
  nData = n;
  nT = steps;
  let o = O_ATT + blockOwnParams(code);
  oWv = -1;
  if (hasBlock(code)) {
    oWv = o;
    o += H * H;
  }
  oWo = o;
  oBo = o + H * F;
  nParams = oBo + 3;
  nParams4 = (nParams + 3) & ~3;

  resetRegions();
  theta = region(nParams4);
  ema = region(nParams4);
  mom = region(nParams4);
  vel = region(nParams4);
  grad = region(nParams4);
  cfg = region(<i32>(TRAIN_STRUCT_BYTES >> 2));
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
  pre = region(4 * H);
  sig = region(4 * H);
  h = region(4 * H);
  v = region(4 * H);
  att = region(16);
  attT = region(16);
  dA = region(16);
  h2 = region(4 * H);
  y = region(48);
  dy = region(48);
  dh2 = region(4 * H);
  dh = region(4 * H);
  dv = region(4 * H);
  dpre = region(4 * H);
  scratch = region(SCRATCH);
  blockTrainInit(code);
  const end = regionsEnd();
  const need = <i32>((end + 0xffff) >> 16);
  const have = memory.size();
  if (need > have && memory.grow(need - have) < 0) return -1;
  zero(theta, end - theta);
  return nParams;
}

/** Kernel kinds compiled in (the TypeScript side checks it against src/kernels/constants.ts). */
export function kinds(): i32 { return KIND_COUNT; }
export function thetaPtr(): usize { return theta; }
export function emaPtr(): usize { return ema; }
export function momPtr(): usize { return mom; }
export function velPtr(): usize { return vel; }
export function gradPtr(): usize { return grad; }
export function cfgPtr(): usize { return cfg; }
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
/** Offset (floats) of a shared parameter block: 0 attn.wv (-1 = none), 1 out.w, 2 out.b. */
export function paramOffset(which: i32): i32 {
  if (which == 0) return oWv;
  if (which == 1) return oWo;
  return oBo;
}

// ------------------------------------------------------------------ the step

/** Weight copies and the tiled output bias, from the current theta. */
function prepareWeights(): void {
  transpose(theta + (<usize>oWo << 2), H, F, woT);
  transpose(theta + (<usize>O_TW2 << 2), H, H, tw2T);
  if (oWv >= 0) {
    transpose(theta + (<usize>oWv << 2), H, H, wvT);
    blockTrainPrepare(kind, theta);
  }
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
    for (let i: usize = 0; i < ROW; i += 16) v128.store(dst + i, v128.load(src + i));
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
function example(b: i32, B: i32): f64 {
  const t = load<i32>(inT + (<usize>b << 2));
  const to = <usize>t << 2;
  // 2a. x_t = sqrt(alphaBar) x0 + sqrt(1 - alphaBar) eps   [4, 12]
  const sa = v128.load32_splat(tabSqrtAb + to);
  const sb = v128.load32_splat(tabSqrt1mAb + to);
  const x0 = data + <usize>load<i32>(inIndex + (<usize>b << 2)) * EXAMPLE_BYTES;
  const ep = inEps + <usize>b * EXAMPLE_BYTES;
  for (let i: usize = 0; i < EXAMPLE_BYTES; i += 16) {
    v128.store(xt + i, f32x4.add(f32x4.mul(sa, v128.load(x0 + i)), f32x4.mul(sb, v128.load(ep + i))));
  }
  // 2b. h = SiLU(conv1(x_t) + temb)   [4, 32]
  mm4(xt, F, theta + (<usize>O_C1W << 2), F, H, theta + (<usize>O_C1B << 2), 0, pre, H);
  const temb = bTemb + (<usize>(b * H) << 2);
  for (let r = 0; r < 4; r++) addInto(pre + (<usize>(r * H) << 2), temb, H);
  siluForward(pre, sig, h, 4 * H);
  // 2c. attention residual h2 = h + A V   [4, 32]: A from the variant's block, V = h Wv shared
  if (oWv >= 0) {
    blockTrainForward(kind, theta, cfg, h, inGumbel + (<usize>(b * 16) << 2), att);
    mm4(h, H, theta + (<usize>oWv << 2), H, H, 0, 0, v, H);
    mm4(att, 4, v, 4, H, h, H, h2, H);
  } else {
    for (let i: usize = 0; i < HIDDEN_BYTES; i += 16) v128.store(h2 + i, v128.load(h + i));
  }
  // 2d. eps_hat = out(h2) + tiled bias   [4, 12]
  mm4(h2, H, theta + (<usize>oWo << 2), H, F, bias12, 0, y, F);
  // 2e. loss (1 - alphaBar_t) mean((eps_hat - eps)^2) and its gradient
  const w = load<f32>(tabWeight + to);
  const coef = f32x4.splat(<f32>(<f64>w * 2.0 / (48.0 * <f64>B)));
  let sq = f32x4.splat(0);
  for (let i: usize = 0; i < EXAMPLE_BYTES; i += 16) {
    const d = f32x4.sub(v128.load(y + i), v128.load(ep + i));
    sq = f32x4.add(sq, f32x4.mul(d, d));
    v128.store(dy + i, f32x4.mul(d, coef));
  }
  const sse = (f32x4.extract_lane(sq, 0) + f32x4.extract_lane(sq, 1)) + (f32x4.extract_lane(sq, 2) + f32x4.extract_lane(sq, 3));
  // 2f. backward through out: dWo += h2^T dy, d(bias) += colsum dy, dh2 = dy Wo^T
  rank4(grad + (<usize>oWo << 2), h2, H, H, dy, F, F);
  colsum(gBias12, dy, 4, F);
  mm4(dy, F, woT, F, H, 0, 0, dh2, H);
  // 2g. backward through the attention residual (dh = dh2 through the residual)
  if (oWv >= 0) {
    // dA = dh2 V^T, dV = A^T dh2, dWv += h^T dV, dh = dh2 + dV Wv^T; then the block: dA -> its weights and dh
    for (let i = 0; i < 4; i++) {
      for (let j = 0; j < 4; j++) {
        store<f32>(dA + (<usize>(i * 4 + j) << 2), dotH(dh2 + (<usize>(i * H) << 2), v + (<usize>(j * H) << 2)));
      }
    }
    transpose(att, 4, 4, attT);
    mm4(attT, 4, dh2, 4, H, 0, 0, dv, H);
    rank4(grad + (<usize>oWv << 2), h, H, H, dv, H, H);
    mm4(dv, H, wvT, H, H, dh2, H, dh, H);
    blockTrainBackward(kind, theta, cfg, h, att, dA, dh, grad);
  } else {
    for (let i: usize = 0; i < HIDDEN_BYTES; i += 16) v128.store(dh + i, v128.load(dh2 + i));
  }
  // 2h. through SiLU and conv1; d temb = colsum d pre (also the conv1 bias gradient, in phase 3)
  siluBackward(dh, pre, sig, dpre, 4 * H);
  rank4(grad + (<usize>O_C1W << 2), xt, F, F, dpre, H, H);
  const dt = bDT + (<usize>(b * H) << 2);
  for (let i: usize = 0; i < ROW; i += 16) v128.store(dt + i, f32x4.splat(0));
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
 * @param B batch size (<= init's batch); the block's settings (e.g. top1's tau) are in the TRAIN_* structure
 */
export function lossAndGrad(B: i32): f64 {
  prepareWeights();
  zero(grad, <usize>nParams4 << 2);
  zero(gBias12, 48);
  timeForward(B);
  let loss: f64 = 0;
  for (let b = 0; b < B; b++) loss += example(b, B);
  for (let f = 0; f < F; f++) {
    const p = grad + (<usize>(oBo + f % 3) << 2);
    store<f32>(p, load<f32>(p) + load<f32>(gBias12 + (<usize>f << 2)));
  }
  timeBackward(B);
  return loss / <f64>B;
}

/**
 * AdamW (torch.optim.AdamW semantics, the float32 constants of src/train/adamw.ts) on n4 floats
 * (a multiple of 4) at the given addresses, with the step's constants from the TRAIN_* structure:
 *   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;
 *   theta = theta (1 - lr wd) - (lr / bc1) m / (sqrt(v) / sqrt(bc2) + eps).
 */
export function adamw(th: usize, g: usize, m: usize, vv: usize, n4: i32): void {
  const vb1 = v128.load32_splat(cfg + TRAIN_BETA1), vomb1 = v128.load32_splat(cfg + TRAIN_ONE_MINUS_BETA1);
  const vb2 = v128.load32_splat(cfg + TRAIN_BETA2), vomb2 = v128.load32_splat(cfg + TRAIN_ONE_MINUS_BETA2);
  const vbc2 = v128.load32_splat(cfg + TRAIN_SQRT_BIAS_CORRECTION2), veps = v128.load32_splat(cfg + TRAIN_EPS);
  const vdecay = v128.load32_splat(cfg + TRAIN_DECAY_FACTOR), vstep = v128.load32_splat(cfg + TRAIN_STEP_SIZE);
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

/** EMA: e = e + (theta - e) (1 - d), on n4 floats (1 - d from the TRAIN_* structure). */
export function emaUpdate(e: usize, th: usize, n4: i32): void {
  const c = v128.load32_splat(cfg + TRAIN_EMA_ONE_MINUS_DECAY);
  const end = <usize>n4 << 2;
  for (let o: usize = 0; o < end; o += 16) {
    const ev = v128.load(e + o);
    v128.store(e + o, f32x4.add(ev, f32x4.mul(f32x4.sub(v128.load(th + o), ev), c)));
  }
}

/**
 * One training step: loss and gradient, AdamW, EMA, with the settings in the TRAIN_* structure
 * (written by the caller before the call). Returns the loss before the update; a non-finite loss
 * updates nothing.
 */
export function step(B: i32): f64 {
  const loss = lossAndGrad(B);
  if (!isFinite(loss)) return loss;
  adamw(theta, grad, mom, vel, nParams4);
  emaUpdate(ema, theta, nParams4);
  return loss;
}
