/**
 * Checks of the attention layer itself: Eq. 1 versus Eq. 2 (the softmax scale), and the softmax
 * derivative Eq. 25 (with the query/key split of Eq. 23-24). Float64 loops are the reference for
 * the printed formulas; tfjs (float32) supplies matrix forms and autodiff. Requires an initialised
 * tfjs backend (`initBackend()`).
 */
import * as tf from "@tensorflow/tfjs-core";
import { Rng } from "../rng";
import { CheckResult, claimOf, CORRECTION, dotAt, makeCheck, norm, normals, readingOf, relErr, softmax64 } from "./derivations-check";

/** Options shared by the attention checks: n tokens (patches) of dimension d. */
export interface AttentionCheckOptions {
  n: number;
  dim: number;
  seed: number;
  /** Standard deviation of the random embeddings (keeps the softmax away from saturation). */
  std: number;
}

export const ATTENTION_CHECK_DEFAULTS: Readonly<AttentionCheckOptions> = { n: 5, dim: 4, seed: 1, std: 0.8 };

/** Eq. 1 in float64 loops: out_x = g_x + sum_y alpha_xy g_y, alpha_x = softmax_y(scale <g_x, g_y>). */
export function eq1Attention(X: Float64Array, n: number, d: number, scale = 1): { out: Float64Array; alpha: Float64Array } {
  const alpha = new Float64Array(n * n);
  const out = Float64Array.from(X);
  for (let x = 0; x < n; x++) {
    const logits = new Float64Array(n).map((_, y) => scale * dotAt(X, x * d, X, y * d, d));
    const a = softmax64(logits);
    alpha.set(a, x * n);
    for (let y = 0; y < n; y++) for (let k = 0; k < d; k++) out[x * d + k] += a[y] * X[y * d + k];
  }
  return { out, alpha };
}

/** Eq. 2 in tfjs (float32) with identity W_Q = W_K = W_V, plus the residual of Eq. 1: X + softmax(scale X X^T) X. */
export function eq2Attention(X: Float64Array, n: number, d: number, scale: number): { out: Float64Array; alpha: Float64Array } {
  const [out, alpha] = tf.tidy(() => {
    const Xt = tf.tensor2d(Float32Array.from(X), [n, d]); // [n, d]
    const A = tf.softmax(tf.mul(tf.matMul(Xt, Xt, false, true), scale)); // [n, n]
    return [tf.add(Xt, tf.matMul(A, Xt)), A];
  });
  const res = { out: Float64Array.from(out.dataSync()), alpha: Float64Array.from(alpha.dataSync()) };
  tf.dispose([out, alpha]);
  return res;
}

/**
 * Eq. 1 vs Eq. 2. Eq. 1 has no 1/sqrt(d) in the softmax, Eq. 2 does, and the text says they are
 * the same. Three checks (relative L2 errors; tolerance 1e-5 for float32 vs float64):
 * (1) Eq. 1 == X + softmax(X X^T) X (Eq. 2 with scale 1): holds;
 * (2) Eq. 1 == X + softmax(X X^T / sqrt(d)) X (Eq. 2 as printed): fails for d > 1;
 * (3) the weights of Eq. 1 on d^(-1/4) X equal those of Eq. 2 (as printed) on X: holds
 *     (the outputs then differ by the value scale d^(-1/4), reported in details).
 */
export function checkEq1VsEq2(options: Partial<AttentionCheckOptions> = {}): CheckResult[] {
  const o = { ...ATTENTION_CHECK_DEFAULTS, ...options };
  const { n, dim: d } = o;
  const X = normals(new Rng(o.seed).split("eq1-eq2"), n * d, o.std * 1.5);
  const tol = 1e-5;
  const eq1 = eq1Attention(X, n, d, 1);
  const eq2scale1 = eq2Attention(X, n, d, 1);
  const eq2printed = eq2Attention(X, n, d, 1 / Math.sqrt(d));
  const c = d ** -0.25;
  const Xs = X.map((v) => v * c);
  const eq1rescaled = eq1Attention(Xs, n, d, 1);
  // Attention parts only (no residual), to state the value-scale relation: eq1(cX) - cX == c * (eq2(X) - X).
  const attn1 = eq1rescaled.out.map((v, i) => v - Xs[i]);
  const attn2 = eq2printed.out.map((v, i) => c * (v - X[i]));
  return [
    makeCheck(CORRECTION, "eq1-vs-eq2-scale1", "Eq. 1, Eq. 2",
      "Eq. 1 (float64 loops) equals X + softmax(X X^T) X (Eq. 2 with softmax scale 1, tfjs float32); relative L2 error",
      relErr(eq2scale1.out, eq1.out), tol, { n, d }),
    makeCheck(claimOf("eq1eq2"), "eq1-vs-eq2-printed-scale", "Eq. 1, Eq. 2",
      "Eq. 1 equals X + softmax(X X^T / sqrt(d)) X (Eq. 2 as printed); relative L2 error of the outputs",
      relErr(eq2printed.out, eq1.out), tol,
      { n, d, alphaRelErr: relErr(eq2printed.alpha, eq1.alpha), maxAbsAlphaDiff: maxAbsDiff(eq2printed.alpha, eq1.alpha) }),
    makeCheck(CORRECTION, "eq1-rescaled-vs-eq2-printed", "Eq. 1, Eq. 2",
      "softmax weights of Eq. 1 on d^(-1/4) X equal those of Eq. 2 (as printed) on X; relative L2 error of alpha",
      relErr(eq2printed.alpha, eq1rescaled.alpha), tol,
      { n, d, valueScale: c, attentionOutputRelErr: relErr(attn2, attn1) }),
  ];
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** alpha_x(q) = softmax_y(<q, K_y>) for a query q and keys K [n, d], float64. */
function alphaOf(q: ArrayLike<number>, K: Float64Array, n: number, d: number): Float64Array {
  return softmax64(new Float64Array(n).map((_, y) => dotAt(q, 0, K, y * d, d)));
}

/** Jacobian [n, d] of f: R^d -> R^n by central differences in float64 (step h). */
function fdJacobian(f: (v: Float64Array) => Float64Array, v: Float64Array, n: number, h = 1e-6): Float64Array {
  const d = v.length;
  const J = new Float64Array(n * d);
  for (let k = 0; k < d; k++) {
    const p = Float64Array.from(v), m = Float64Array.from(v);
    p[k] += h;
    m[k] -= h;
    const fp = f(p), fm = f(m);
    for (let y = 0; y < n; y++) J[y * d + k] = (fp[y] - fm[y]) / (2 * h);
  }
  return J;
}

/**
 * Eq. 25 and the query/key split of Eq. 23-24, for query index x = 0 of n random embeddings
 * z_y (alpha_0y = softmax_y <z_0, z_y>). Returns four checks:
 * (1) Eq. 25, grad_q alpha_0y = alpha_0y (z_y - mu_0) with keys held fixed, vs tf.grad (float32,
 *     relative tolerance 1e-4) and (2) vs central differences in float64 (h = 1e-6, tolerance 1e-7);
 * (3) Eq. 25 alone vs the TOTAL derivative d alpha_0y / d z_0 when z_0 is also the key at y = 0
 *     (self-attention): fails, missing alpha_0y (delta_y0 - alpha_00) z_0; with that key partial
 *     added (Eq. 24 with the correct key gradient) it holds, reported in details;
 * (4) the key factor printed in Eq. 26, alpha_0y (z_0 - mu_0), vs grad_{z_y} alpha_0y =
 *     alpha_0y (1 - alpha_0y) z_0 for keys y != 0 (float64 central differences): fails.
 */
export function checkEq25(options: Partial<AttentionCheckOptions> = {}): CheckResult[] {
  const o = { ...ATTENTION_CHECK_DEFAULTS, ...options };
  const { n, dim: d } = o;
  const Z = normals(new Rng(o.seed).split("eq25"), n * d, o.std);
  const q = Z.slice(0, d);
  const a = alphaOf(q, Z, n, d);
  const mu = new Float64Array(d);
  for (let y = 0; y < n; y++) for (let k = 0; k < d; k++) mu[k] += a[y] * Z[y * d + k];
  // Eq. 25, row y of the Jacobian [n, d]: alpha_0y (z_y - mu_0).
  const eq25 = new Float64Array(n * d).map((_, i) => a[Math.floor(i / d)] * (Z[i] - mu[i % d]));
  // 1. tf.grad with the keys fixed.
  const tfJac = new Float64Array(n * d);
  tf.tidy(() => {
    const Kt = tf.tensor2d(Float32Array.from(Z), [n, d]);
    for (let y = 0; y < n; y++) {
      const pick = tf.reshape(tf.oneHot(tf.tensor1d([y], "int32"), n), [n]);
      const f = (qt: tf.Tensor) => tf.sum(tf.mul(tf.softmax(tf.reshape(tf.matMul(Kt, tf.reshape(qt, [d, 1])), [n])), pick));
      tfJac.set(tf.grad(f)(tf.tensor1d(Float32Array.from(q))).dataSync(), y * d);
    }
  });
  // 2. float64 central differences, keys fixed.
  const fdQuery = fdJacobian((v) => alphaOf(v, Z, n, d), q, n);
  // 3. total derivative: z_0 is the query and the key at y = 0.
  const fdTotal = fdJacobian((v) => {
    const Zv = Float64Array.from(Z);
    Zv.set(v, 0);
    return alphaOf(v, Zv, n, d);
  }, q, n);
  const keyPart = new Float64Array(n * d).map((_, i) => {
    const y = Math.floor(i / d);
    return a[y] * ((y === 0 ? 1 : 0) - a[0]) * q[i % d];
  });
  // 4. key gradients for y != 0 (query fixed) vs the factor printed in Eq. 26.
  const keyRows = n - 1;
  const printedKey = new Float64Array(keyRows * d), fdKey = new Float64Array(keyRows * d);
  for (let y = 1; y < n; y++) {
    const J = fdJacobian((v) => {
      const Zv = Float64Array.from(Z);
      Zv.set(v, y * d);
      return alphaOf(q, Zv, n, d);
    }, Z.slice(y * d, (y + 1) * d), n);
    for (let k = 0; k < d; k++) {
      fdKey[(y - 1) * d + k] = J[y * d + k]; // d alpha_0y / d z_y
      printedKey[(y - 1) * d + k] = a[y] * (q[k] - mu[k]);
    }
  }
  const correctKey = new Float64Array(keyRows * d).map((_, i) => {
    const y = 1 + Math.floor(i / d);
    return a[y] * (1 - a[y]) * q[i % d];
  });
  return [
    makeCheck(claimOf("eq25"), "eq25-vs-tfgrad", "Eq. 25", "grad wrt the query of alpha_xy = alpha_xy (g_y - mu_x), keys fixed, vs tf.grad (float32); relative L2 error of the [n, d] Jacobian",
      relErr(eq25, tfJac), 1e-4, { n, d }),
    makeCheck(claimOf("eq25"), "eq25-vs-finite-differences", "Eq. 25", "same Jacobian vs float64 central differences (h = 1e-6); relative L2 error",
      relErr(eq25, fdQuery), 1e-7, { n, d }),
    makeCheck(readingOf("eq25", "as the total derivative, the query being also a key"), "eq25-vs-total-derivative", "Eq. 23-25",
      "Eq. 25 alone equals the total derivative d alpha_xy / d g_x when g_x is also the key at y = x (float64 central differences); relative L2 error",
      relErr(eq25, fdTotal), 1e-7,
      { eq24WithCorrectKeyPartialRelErr: relErr(eq25.map((v, i) => v + keyPart[i]), fdTotal), missingKeyPartNorm: norm(keyPart) }),
    makeCheck(claimOf("eq26"), "eq26-key-factor-vs-key-gradient", "Eq. 24, Eq. 26",
      "the factor printed in Eq. 26 for 'chain rule wrt g(phi_y) in alpha_xy', alpha_xy (g_x - mu_x), equals grad_{g_y} alpha_xy (keys y != x, float64 central differences); relative L2 error",
      relErr(printedKey, fdKey), 1e-7, { correctKeyFormula: "alpha_xy (1 - alpha_xy) g_x", correctKeyRelErr: relErr(correctKey, fdKey) }),
  ];
}
