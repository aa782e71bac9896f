/**
 * Baseline noise predictors: what a denoiser of this data gets without any patch structure. They sit
 * beside every machine-vs-network number, so that an r^2 can be read against what a trivial or a
 * linear predictor already reaches (docs/theory.md, "Comparisons that can tell machines apart").
 *
 *  - `trivial`:       eps = sqrt(1 - aBar) x_t, the exact eps of N(0, I) data (E[x0 | x_t] = sqrt(aBar) x_t).
 *  - `gaussianPixel`: the exact eps of x0 ~ N(mu, diag v), mu and v the training tokens' per-value
 *                     mean and variance: E[x0 | x_t]_j = mu_j + a v_j (x_j - a mu_j) / (a^2 v_j + s^2).
 *  - `gaussianFull`:  the same with the full 48 x 48 covariance C (the best affine denoiser of the
 *                     data): E[x0 | x_t] = mu + a C (a^2 C + s^2 I)^(-1) (x_t - a mu).
 * (a = sqrt(aBar_t), s = sqrt(1 - aBar_t); tokens [B, 4, 12] flattened to 48 values per image.)
 */
import { Schedule } from "../ddpm/schedule";
import type { ScoreMachine } from "./machines";

function alphaBar(s: Schedule, t: number): number {
  if (!(Number.isInteger(t) && t >= 0 && t < s.alphaBars.length)) throw new Error(`timestep ${t} outside 0..${s.alphaBars.length - 1}`);
  return s.alphaBars[t];
}

function imagesOf(x: ArrayLike<number>): number {
  if (x.length % 48 !== 0 || x.length === 0) throw new Error(`expected tokens [B, 4, 12], got ${x.length} values`);
  return x.length / 48;
}

function fromDenoise(name: ScoreMachine["name"], s: Schedule, denoise: (x: ArrayLike<number>, aBar: number) => Float64Array): ScoreMachine {
  const eps = (x: ArrayLike<number>, aBar: number) => {
    const x0 = denoise(x, aBar);
    const a = Math.sqrt(aBar), sg = Math.sqrt(1 - aBar);
    const out = new Float64Array(x0.length); // plain loops: TypedArray.from with a map function is ~50x slower
    for (let i = 0; i < out.length; i++) out[i] = (x[i] - a * x0[i]) / sg;
    return out;
  };
  return { name, denoise: (x, t) => denoise(x, alphaBar(s, t)), eps: (x, t) => eps(x, alphaBar(s, t)) };
}

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

/** Gaussian baseline with the training tokens' per-value (`gaussianPixel`) or full (`gaussianFull`) covariance. */
export function gaussianMachine(kind: "gaussianPixel" | "gaussianFull", tokens: ArrayLike<number>, s: Schedule): ScoreMachine {
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
    const a = Math.sqrt(aBar), s2 = 1 - aBar;
    // K = a (a^2 C + s^2 I)^(-1) C (symmetric: C and a^2 C + s^2 I commute), column by column.
    const L = cholesky(Float64Array.from(cov, (c, i) => aBar * c + (i % 49 === 0 ? s2 : 0)), 48);
    const K = new Float64Array(48 * 48);
    const col = new Float64Array(48);
    for (let k = 0; k < 48; k++) {
      for (let j = 0; j < 48; j++) col[j] = cov[j * 48 + k];
      cholSolve(L, 48, col);
      for (let j = 0; j < 48; j++) K[j * 48 + k] = a * col[j];
    }
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
