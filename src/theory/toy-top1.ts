/**
 * Top-1 attention on a finite toy problem (Eq. 5, 28-32). With y*(x) given (the derivation treats
 * it as fixed: argmax is piecewise constant, so it carries no gradient), the model is
 *   g~[phi](x) = g(phi_x) + g(phi_{y*(x)})                                          (Eq. 5)
 * and the loss L(g) = sum_x E_pi || g~[phi](x) - s[phi](x) ||^2 is quadratic in the lookup table g,
 * so its minimiser solves the normal equations exactly (float64 Gaussian elimination).
 */
import * as tf from "@tensorflow/tfjs-core";
import { PatchDistribution } from "./toy-distribution";

/** A top-1 toy problem: distribution, scores [P, d] per image, and y*(x) per image. */
export interface Top1Problem {
  dist: PatchDistribution;
  dim: number;
  scores: Float64Array[];
  /** yStar[i][x] = the position that x attends to in image i. */
  yStar: number[][];
}

/** Coefficient rows a_{i,x} = e_{phi_x} + e_{phi_{y*(x)}} (length K), so that g~ = a^T g. */
function rowOf(p: Top1Problem, i: number, x: number): Float64Array {
  const a = new Float64Array(p.dist.nValues);
  const img = p.dist.images[i];
  a[img[x]] += 1;
  a[img[p.yStar[i][x]]] += 1;
  return a;
}

/** Model output g~[phi_i](x) for all images: out[i] is a flat [P, d] array. */
export function top1Outputs(p: Top1Problem, g: Float64Array): Float64Array[] {
  const d = p.dim;
  return p.dist.images.map((img, i) => {
    const out = new Float64Array(img.length * d);
    for (let x = 0; x < img.length; x++) {
      const u = img[x] * d, v = img[p.yStar[i][x]] * d;
      for (let k = 0; k < d; k++) out[x * d + k] = g[u + k] + g[v + k];
    }
    return out;
  });
}

/** L(g) for top-1 attention (float64). */
export function top1Loss(p: Top1Problem, g: Float64Array): number {
  let L = 0;
  top1Outputs(p, g).forEach((o, i) => o.forEach((v, j) => (L += p.dist.probs[i] * (v - p.scores[i][j]) ** 2)));
  return L;
}

/** Eq. 28: dL/dg(Phi) = 2 sum_x E[(g~ - s)(x) (delta(phi_x - Phi) + delta(phi_{y*(x)} - Phi))], flat [K, d]. */
export function top1GradientEq28(p: Top1Problem, g: Float64Array): Float64Array {
  const d = p.dim;
  const grad = new Float64Array(p.dist.nValues * d);
  top1Outputs(p, g).forEach((o, i) => {
    const img = p.dist.images[i], w = 2 * p.dist.probs[i];
    for (let x = 0; x < img.length; x++) {
      for (const v of [img[x], img[p.yStar[i][x]]]) {
        for (let k = 0; k < d; k++) grad[v * d + k] += w * (o[x * d + k] - p.scores[i][x * d + k]);
      }
    }
  });
  return grad;
}

/** dL/dg for top-1 attention by tfjs autodiff (float32), flat [K, d]. */
export function top1GradientAutodiff(p: Top1Problem, g: Float64Array): Float64Array {
  const { dist, dim: d } = p;
  const N = dist.images.length, P = dist.nPositions, K = dist.nValues;
  const A = new Float32Array(N * P * K), S = new Float32Array(N * P * d), W = new Float32Array(N * P);
  for (let i = 0; i < N; i++) {
    for (let x = 0; x < P; x++) {
      A.set(rowOf(p, i, x), (i * P + x) * K);
      W[i * P + x] = dist.probs[i];
    }
    S.set(p.scores[i], i * P * d);
  }
  const grad = tf.tidy(() => {
    const At = tf.tensor2d(A, [N * P, K]), St = tf.tensor2d(S, [N * P, d]), Wt = tf.tensor2d(W, [N * P, 1]);
    const loss = (G: tf.Tensor) => tf.sum(tf.mul(Wt, tf.square(tf.sub(tf.matMul(At, G as tf.Tensor2D), St)))); // [N*P, d]
    return tf.grad(loss)(tf.tensor2d(Float32Array.from(g), [K, d]));
  });
  const out = Float64Array.from(grad.dataSync());
  grad.dispose();
  return out;
}

/** Solve M X = B in float64 by Gaussian elimination with partial pivoting (M [n, n], B [n, m]). */
export function solveLinear(M: Float64Array, B: Float64Array, n: number, m: number): Float64Array {
  const a = Float64Array.from(M), b = Float64Array.from(B);
  const scale = Math.max(...Array.from(a, Math.abs));
  for (let c = 0; c < n; c++) {
    let piv = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(a[r * n + c]) > Math.abs(a[piv * n + c])) piv = r;
    if (Math.abs(a[piv * n + c]) <= 1e-12 * scale) throw new Error(`solveLinear: singular matrix (pivot ${a[piv * n + c]} in column ${c})`);
    for (let k = 0; k < n; k++) [a[c * n + k], a[piv * n + k]] = [a[piv * n + k], a[c * n + k]];
    for (let k = 0; k < m; k++) [b[c * m + k], b[piv * m + k]] = [b[piv * m + k], b[c * m + k]];
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = a[r * n + c] / a[c * n + c];
      if (f === 0) continue;
      for (let k = c; k < n; k++) a[r * n + k] -= f * a[c * n + k];
      for (let k = 0; k < m; k++) b[r * m + k] -= f * b[c * m + k];
    }
  }
  for (let r = 0; r < n; r++) for (let k = 0; k < m; k++) b[r * m + k] /= a[r * n + r];
  return b;
}

/** Exact minimiser g* [K, d] of the top-1 loss: normal equations (sum pi a a^T) g = sum pi a s^T. */
export function solveTop1(p: Top1Problem): Float64Array {
  const K = p.dist.nValues, d = p.dim;
  const M = new Float64Array(K * K), B = new Float64Array(K * d);
  p.dist.images.forEach((img, i) => {
    for (let x = 0; x < img.length; x++) {
      const a = rowOf(p, i, x), w = p.dist.probs[i];
      for (let u = 0; u < K; u++) {
        if (a[u] === 0) continue;
        for (let v = 0; v < K; v++) M[u * K + v] += w * a[u] * a[v];
        for (let k = 0; k < d; k++) B[u * d + k] += w * a[u] * p.scores[i][x * d + k];
      }
    }
  });
  return solveLinear(M, B, K, d);
}

/**
 * Closed form of Eq. 30-31 (first line) / Eq. 8 before the score identity:
 *   C[Phi] = sum_x E[s(x) (delta(phi_x - Phi) + delta(phi_{y*(x)} - Phi))] / N(Phi),
 *   N(Phi) = sum_x [pi(phi_x = Phi) + pi(phi_{y*(x)} = Phi)].
 * Returns C (flat [K, d]) and the occurrence weights N [K].
 */
export function top1ClosedForm(p: Top1Problem): { C: Float64Array; N: Float64Array } {
  const K = p.dist.nValues, d = p.dim;
  const C = new Float64Array(K * d), N = new Float64Array(K);
  p.dist.images.forEach((img, i) => {
    const w = p.dist.probs[i];
    for (let x = 0; x < img.length; x++) {
      for (const v of [img[x], img[p.yStar[i][x]]]) {
        N[v] += w;
        for (let k = 0; k < d; k++) C[v * d + k] += w * p.scores[i][x * d + k];
      }
    }
  });
  for (let v = 0; v < K; v++) {
    if (!(N[v] > 0)) throw new Error(`top1ClosedForm: patch value ${v} never occurs`);
    for (let k = 0; k < d; k++) C[v * d + k] /= N[v];
  }
  return { C, N };
}
