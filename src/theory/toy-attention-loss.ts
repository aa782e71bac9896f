/**
 * The full-attention score-matching loss of Eq. 11-13 on a finite toy problem, with g a lookup
 * table [K, d]:
 *   L(g) = sum_x sum_phi pi(phi) || g(phi_x) + sum_y alpha_xy g(phi_y) - s[phi](x) ||^2,
 *   alpha_xy = softmax_y(scale <g(phi_x), g(phi_y)>)                                  (Eq. 1, 10)
 * and its gradient dL/dg(Phi) split into the four terms of Eq. 26, both as printed and corrected,
 * in float64; plus the same four terms by tfjs autodiff (float32), obtained by giving each path
 * of g (direct, query, key, value) its own copy of the table and differentiating each copy.
 *
 * Notation: z_y = g(phi_y), mu_x = sum_y alpha_xy z_y, r_x = z_x + mu_x - s[phi](x) (residual),
 * and delta(phi_x - Phi) is the indicator [phi_x == Phi].
 */
import * as tf from "@tensorflow/tfjs-core";
import { ToyProblem } from "./toy-distribution";

/** dL/dg as flat [K, d] arrays, one per term of Eq. 26 (each includes the factor 2 and pi). */
export interface GradientTerms {
  /** 2 sum_x E[r_x delta(phi_x - Phi)]: "derivative wrt g(phi_x)" (Eq. 26, term 1). */
  direct: Float64Array;
  /** 2 sum_x E[sum_y alpha_xy r_x delta(phi_y - Phi)]: "derivative wrt g(phi_y) itself" (term 4). */
  value: Float64Array;
  /** Term 2 as printed, vectors acting element-wise on r_x: 2 sum_x E[sum_y alpha_xy (z_y - mu_x) * r_x delta(phi_x - Phi)] (identically 0). */
  queryPrinted: Float64Array;
  /** Term 3 as printed, element-wise: 2 sum_x E[sum_y alpha_xy (z_x - mu_x) * r_x delta(phi_y - Phi)]. */
  keyPrinted: Float64Array;
  /** Term 2 corrected: 2 scale sum_x E[sum_y alpha_xy (r_x . (z_y - mu_x)) z_y delta(phi_x - Phi)] = 2 scale sum_x E[Cov_x r_x delta]. */
  queryCorrect: Float64Array;
  /** Term 3 corrected: 2 scale sum_x E[sum_y alpha_xy (r_x . (z_y - mu_x)) z_x delta(phi_y - Phi)]. */
  keyCorrect: Float64Array;
  /** Eq. 27 read literally (I outside the delta): 2 sum_x E[sum_y alpha_xy r_x] = 2 sum_x E[r_x], the same for every Phi. */
  identityLiteral: Float64Array;
}

/** Forward pass for one image: z, alpha, mu, r (float64). */
function forwardImage(g: Float64Array, img: number[], s: Float64Array, d: number, scale: number) {
  const P = img.length;
  const z = img.map((v) => g.subarray(v * d, (v + 1) * d));
  const alpha: Float64Array[] = [];
  const mu: Float64Array[] = [];
  const r: Float64Array[] = [];
  for (let x = 0; x < P; x++) {
    const logits = z.map((zy) => {
      let t = 0;
      for (let k = 0; k < d; k++) t += z[x][k] * zy[k];
      return scale * t;
    });
    const m = Math.max(...logits);
    const e = logits.map((l) => Math.exp(l - m));
    const sum = e.reduce((u, v) => u + v, 0);
    const a = Float64Array.from(e, (v) => v / sum);
    const mux = new Float64Array(d);
    for (let y = 0; y < P; y++) for (let k = 0; k < d; k++) mux[k] += a[y] * z[y][k];
    alpha.push(a);
    mu.push(mux);
    r.push(new Float64Array(d).map((_, k) => z[x][k] + mux[k] - s[x * d + k]));
  }
  return { z, alpha, mu, r };
}

/** L(g) of Eq. 13 for a lookup table g [K, d] (float64, exact finite sum). */
export function toyLoss(problem: ToyProblem, g: Float64Array, scale = 1): number {
  const { dist, dim: d } = problem;
  let L = 0;
  dist.images.forEach((img, i) => {
    const { r } = forwardImage(g, img, problem.scores[i], d, scale);
    for (const rx of r) for (const v of rx) L += dist.probs[i] * v * v;
  });
  return L;
}

/** All gradient terms of Eq. 26, printed and corrected, in float64 (see GradientTerms). */
export function gradientTerms(problem: ToyProblem, g: Float64Array, scale = 1): GradientTerms {
  const { dist, dim: d } = problem;
  const K = dist.nValues;
  const t: GradientTerms = {
    direct: new Float64Array(K * d), value: new Float64Array(K * d),
    queryPrinted: new Float64Array(K * d), keyPrinted: new Float64Array(K * d),
    queryCorrect: new Float64Array(K * d), keyCorrect: new Float64Array(K * d),
    identityLiteral: new Float64Array(K * d),
  };
  dist.images.forEach((img, i) => {
    const w = 2 * dist.probs[i];
    const { z, alpha, mu, r } = forwardImage(g, img, problem.scores[i], d, scale);
    for (let x = 0; x < img.length; x++) {
      const X = img[x] * d, rx = r[x], zx = z[x], mx = mu[x];
      for (let k = 0; k < d; k++) t.direct[X + k] += w * rx[k];
      for (let v = 0; v < K; v++) for (let k = 0; k < d; k++) t.identityLiteral[v * d + k] += w * rx[k];
      for (let y = 0; y < img.length; y++) {
        const Y = img[y] * d, a = alpha[x][y], zy = z[y];
        let c = 0; // r_x . (z_y - mu_x)
        for (let k = 0; k < d; k++) c += rx[k] * (zy[k] - mx[k]);
        for (let k = 0; k < d; k++) {
          t.value[Y + k] += w * a * rx[k];
          t.queryPrinted[X + k] += w * a * (zy[k] - mx[k]) * rx[k];
          t.keyPrinted[Y + k] += w * a * (zx[k] - mx[k]) * rx[k];
          t.queryCorrect[X + k] += w * scale * a * c * zy[k];
          t.keyCorrect[Y + k] += w * scale * a * c * zx[k];
        }
      }
    }
  });
  return t;
}

/** dL/dg by float64 central differences of `toyLoss` (step h), flat [K, d]. */
export function fdGradient(problem: ToyProblem, g: Float64Array, scale = 1, h = 1e-5): Float64Array {
  const out = new Float64Array(g.length);
  for (let j = 0; j < g.length; j++) {
    const p = Float64Array.from(g), m = Float64Array.from(g);
    p[j] += h;
    m[j] -= h;
    out[j] = (toyLoss(problem, p, scale) - toyLoss(problem, m, scale)) / (2 * h);
  }
  return out;
}

/** dL/dg by tfjs autodiff (float32), split by the path through which g enters. */
export interface AutodiffTerms {
  /** Through the residual connection g(phi_x) (Eq. 26 term 1). */
  direct: Float64Array;
  /** Through the queries of alpha (term 2). */
  query: Float64Array;
  /** Through the keys of alpha (term 3). */
  key: Float64Array;
  /** Through the values g(phi_y) (term 4). */
  value: Float64Array;
  /** Sum of the four: the full gradient. */
  full: Float64Array;
}

/** tf.grads of L with four copies of g (direct, query, key, value), all set to `g`. */
export function autodiffTerms(problem: ToyProblem, g: Float64Array, scale = 1): AutodiffTerms {
  const { dist, dim: d } = problem;
  const N = dist.images.length, P = dist.nPositions, K = dist.nValues;
  const onehot = new Float32Array(N * P * K);
  dist.images.forEach((img, i) => img.forEach((v, x) => (onehot[(i * P + x) * K + v] = 1)));
  const S = new Float32Array(N * P * d);
  problem.scores.forEach((s, i) => S.set(s, i * P * d));
  const grads = tf.tidy(() => {
    const oh = tf.tensor2d(onehot, [N * P, K]);
    const St = tf.tensor3d(S, [N, P, d]);
    const w = tf.tensor3d(Float32Array.from(dist.probs), [N, 1, 1]);
    const embed = (G: tf.Tensor) => tf.reshape(tf.matMul(oh, G as tf.Tensor2D), [N, P, d]); // [N, P, d]
    const loss = (Gr: tf.Tensor, Gq: tf.Tensor, Gk: tf.Tensor, Gv: tf.Tensor) => {
      const logits = tf.mul(tf.matMul(embed(Gq), embed(Gk), false, true), scale); // [N, P, P]
      const mu = tf.matMul(tf.softmax(logits), embed(Gv)); // [N, P, d]
      const r = tf.sub(tf.add(embed(Gr), mu), St);
      return tf.sum(tf.mul(w, tf.square(r)));
    };
    const G = tf.tensor2d(Float32Array.from(g), [K, d]);
    // Four distinct tensors (same values): tf.grads keys gradients by tensor id.
    return tf.grads(loss)([G, G.clone(), G.clone(), G.clone()]);
  });
  const [direct, query, key, value] = grads.map((t) => Float64Array.from(t.dataSync()));
  tf.dispose(grads);
  const full = direct.map((v, i) => v + query[i] + key[i] + value[i]);
  return { direct, query, key, value, full };
}
