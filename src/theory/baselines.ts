/**
 * Baseline noise predictors: what a denoiser of this data gets without any patch structure. They sit
 * beside every machine-vs-network number, so that an r^2 can be read against what a trivial or a
 * linear predictor already reaches (docs/theory.md, "Comparisons that can tell machines apart").
 *
 *  - `trivial`:       eps = sqrt(1 - aBar) x_t, the exact eps of N(0, I) data (E[x0 | x_t] = sqrt(aBar) x_t).
 *  - `gaussianPixel`: the exact eps of x0 ~ N(mu, diag v), mu and v the training tokens' per-value
 *                     mean and variance: E[x0 | x_t]_j = mu_j + a v_j (x_j - a mu_j) / (a^2 v_j + s^2).
 *  - `gaussianShared`: each quadrant an independent draw of one Gaussian, N(mu_q, C_q) with the 12-value
 *                     mean and 12 x 12 covariance of the training quadrants pooled over the four positions:
 *                     E[x0_x | x_t] = mu_q + a C_q (a^2 C_q + s^2 I)^(-1) (x_t,x - a mu_q), a function of
 *                     the quadrant's own token with weights shared by the positions, so the CNN can
 *                     represent it (the best such affine denoiser).
 *  - `gaussianFull`:  the same with the full 48 x 48 covariance C (the best affine denoiser of the
 *                     data, which uses covariances between quadrants the CNN cannot represent):
 *                     E[x0 | x_t] = mu + a C (a^2 C + s^2 I)^(-1) (x_t - a mu).
 * (a = sqrt(aBar_t), s = sqrt(1 - aBar_t); tokens [B, 4, 12] flattened to 48 values per image.)
 */
import { Schedule } from "../ddpm/schedule";
import { checkTokens as imagesOf, machineFromDenoise as fromDenoise, ScoreMachine } from "./score-machine";

/** eps = sqrt(1 - aBar) x_t. */
export function trivialMachine(s: Schedule): ScoreMachine {
  return fromDenoise("trivial", s, (x, aBar) => {
    imagesOf(x);
    const a = Math.sqrt(aBar);
    const out = new Float64Array(x.length);
    for (let i = 0; i < out.length; i++) out[i] = a * x[i];
    return out;
  });
}

/** Mean [48] and covariance [48, 48] (population, 1/N) of training tokens [N, 4, 12]. */
export function tokenMoments(tokens: ArrayLike<number>): { mean: Float64Array; cov: Float64Array } {
  const N = imagesOf(tokens);
  const mean = new Float64Array(48);
  for (let i = 0; i < N; i++) for (let j = 0; j < 48; j++) mean[j] += tokens[i * 48 + j] / N;
  const cov = new Float64Array(48 * 48);
  for (let i = 0; i < N; i++) {
    for (let j = 0; j < 48; j++) {
      const dj = tokens[i * 48 + j] - mean[j];
      for (let k = 0; k < 48; k++) cov[j * 48 + k] += (dj * (tokens[i * 48 + k] - mean[k])) / N;
    }
  }
  return { mean, cov };
}

/** Mean [12] and covariance [12, 12] (population, 1/(4N)) of the quadrant tokens of [N, 4, 12], pooled over positions. */
export function quadrantMoments(tokens: ArrayLike<number>): { mean: Float64Array; cov: Float64Array } {
  const N = imagesOf(tokens) * 4;
  const mean = new Float64Array(12);
  for (let i = 0; i < N; i++) for (let j = 0; j < 12; j++) mean[j] += tokens[i * 12 + j] / N;
  const cov = new Float64Array(144);
  for (let i = 0; i < N; i++) {
    for (let j = 0; j < 12; j++) {
      const dj = tokens[i * 12 + j] - mean[j];
      for (let k = 0; k < 12; k++) cov[j * 12 + k] += (dj * (tokens[i * 12 + k] - mean[k])) / N;
    }
  }
  return { mean, cov };
}

/** Cholesky factor L (lower, row-major) of a symmetric positive definite matrix [n, n]. */
export function cholesky(A: Float64Array, n: number): Float64Array {
  const L = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let v = A[i * n + j];
      for (let k = 0; k < j; k++) v -= L[i * n + k] * L[j * n + k];
      if (i === j) {
        if (!(v > 0)) throw new Error(`cholesky: matrix not positive definite (pivot ${v} at ${i})`);
        L[i * n + i] = Math.sqrt(v);
      } else L[i * n + j] = v / L[j * n + j];
    }
  }
  return L;
}

/** Solve L L^T z = r in place (r [n]). */
function cholSolve(L: Float64Array, n: number, r: Float64Array): void {
  for (let i = 0; i < n; i++) {
    let v = r[i];
    for (let k = 0; k < i; k++) v -= L[i * n + k] * r[k];
    r[i] = v / L[i * n + i];
  }
  for (let i = n - 1; i >= 0; i--) {
    let v = r[i];
    for (let k = i + 1; k < n; k++) v -= L[k * n + i] * r[k];
    r[i] = v / L[i * n + i];
  }
}

/** The gain K = a C (a^2 C + s^2 I)^(-1) [n, n] (symmetric: C and a^2 C + s^2 I commute), column by column. */
export function gaussianGain(cov: Float64Array, n: number, aBar: number): Float64Array {
  const a = Math.sqrt(aBar), s2 = 1 - aBar;
  const L = cholesky(Float64Array.from(cov, (c, i) => aBar * c + (i % (n + 1) === 0 ? s2 : 0)), n);
  const K = new Float64Array(n * n);
  const col = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    for (let j = 0; j < n; j++) col[j] = cov[j * n + k];
    cholSolve(L, n, col);
    for (let j = 0; j < n; j++) K[j * n + k] = a * col[j];
  }
  return K;
}

/**
 * Gaussian baseline with the training tokens' per-value (`gaussianPixel`), shared per-quadrant
 * (`gaussianShared`) or full (`gaussianFull`) covariance.
 */
export function gaussianMachine(kind: "gaussianPixel" | "gaussianShared" | "gaussianFull", tokens: ArrayLike<number>, s: Schedule): ScoreMachine {
  if (kind === "gaussianShared") {
    const q = quadrantMoments(tokens);
    return fromDenoise(kind, s, (x, aBar) => {
      const B = imagesOf(x);
      const a = Math.sqrt(aBar);
      const K = gaussianGain(q.cov, 12, aBar);
      const out = new Float64Array(x.length);
      const r = new Float64Array(12);
      for (let b = 0; b < B * 4; b++) {
        for (let j = 0; j < 12; j++) r[j] = x[b * 12 + j] - a * q.mean[j];
        for (let j = 0; j < 12; j++) {
          let v = 0;
          for (let k = 0; k < 12; k++) v += K[j * 12 + k] * r[k];
          out[b * 12 + j] = q.mean[j] + v;
        }
      }
      return out;
    });
  }
  const { mean, cov } = tokenMoments(tokens);
  if (kind === "gaussianPixel") {
    const v = Float64Array.from({ length: 48 }, (_, j) => cov[j * 48 + j]);
    return fromDenoise(kind, s, (x, aBar) => {
      imagesOf(x);
      const a = Math.sqrt(aBar), s2 = 1 - aBar;
      const out = new Float64Array(x.length);
      for (let i = 0; i < out.length; i++) {
        const j = i % 48;
        out[i] = mean[j] + (a * v[j] * (x[i] - a * mean[j])) / (aBar * v[j] + s2);
      }
      return out;
    });
  }
  return fromDenoise(kind, s, (x, aBar) => {
    const B = imagesOf(x);
    const a = Math.sqrt(aBar);
    const K = gaussianGain(cov, 48, aBar);
    const out = new Float64Array(x.length);
    const r = new Float64Array(48);
    for (let b = 0; b < B; b++) {
      for (let j = 0; j < 48; j++) r[j] = x[b * 48 + j] - a * mean[j];
      for (let j = 0; j < 48; j++) {
        let v = 0;
        for (let k = 0; k < 48; k++) v += K[j * 48 + k] * r[k];
        out[b * 48 + j] = mean[j] + v;
      }
    }
    return out;
  });
}

/**
 * Eigen-decomposition of a symmetric matrix [n, n] (cyclic Jacobi, float64): A = U diag(values) U^T,
 * U's column i (U[r * n + i]) the eigenvector of values[i]. The Gaussian baselines of the fused
 * kernel (src/kernels/machine-kernel.ts) use it: E[x0 | x_t] = mu + U diag(a l / (a^2 l + s^2)) U^T (x_t - a mu).
 */
export function symmetricEigen(A: Float64Array, n: number): { values: Float64Array; vectors: Float64Array } {
  if (A.length !== n * n) throw new Error(`symmetricEigen: ${A.length} values do not form a ${n} x ${n} matrix`);
  const a = Float64Array.from(A);
  const U = new Float64Array(n * n);
  for (let i = 0; i < n; i++) U[i * n + i] = 1;
  const off = () => { let s = 0; for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) s += a[i * n + j] ** 2; return s; };
  const scale = a.reduce((s, v) => s + v * v, 0);
  for (let sweep = 0; sweep < 100 && off() > 1e-30 * scale; sweep++) {
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = a[p * n + q];
        if (apq === 0) continue;
        const theta = (a[q * n + q] - a[p * n + p]) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1), s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = a[k * n + p], akq = a[k * n + q];
          a[k * n + p] = c * akp - s * akq;
          a[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = a[p * n + k], aqk = a[q * n + k];
          a[p * n + k] = c * apk - s * aqk;
          a[q * n + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const ukp = U[k * n + p], ukq = U[k * n + q];
          U[k * n + p] = c * ukp - s * ukq;
          U[k * n + q] = s * ukp + c * ukq;
        }
      }
    }
  }
  return { values: Float64Array.from({ length: n }, (_, i) => a[i * n + i]), vectors: U };
}
