/**
 * Top-1 attention on a continuous toy where every assumption of Section 2.2 / Appendix A.2 holds
 * exactly, so that each printed line of Eq. 28-32 (and Eq. 8 = Eq. 32) can be compared with a
 * numerical value, including the score identity of Eq. 31 that the finite toys of toy-top1.ts cannot
 * check (their targets are not true scores).
 *
 * The toy. P patch positions x; each patch phi_x is one real number (a 1-D patch, so grad_{Phi(0)}
 * is d/dPhi); the patches are independent, pi_t(phi) = prod_x p_x(phi_x), with every p_x a Gaussian
 * mixture (a mixture at any noise level t is again one, so p_x stands for pi_t at one t). The true
 * score is s[phi](x) = d/dphi_x log pi_t(phi) = p_x'(phi_x) / p_x(phi_x). The embedding g is one
 * function of one patch (no dependence on the rest of the image); y*(x) is a fixed map. The model is
 * Eq. 5: g~[phi](x) = g(phi_x) + g(phi_{y*(x)}) (and 2 g(phi_x) when y*(x) = x).
 *
 * The numerical minimiser. g is represented by its values g_i at the nodes a_i of a uniform grid
 * (trapezoid weights w_i, spectrally accurate for these smooth, fast-decaying integrands). The loss
 * L = sum_x E_pi || g~[phi](x) - s[phi](x) ||^2 is replaced by its quadrature over the pair
 * (phi_x, phi_{y*(x)}) (the other patches do not enter the x-th term, and integrate to 1):
 *   L^(g) = sum_x sum_{i,j} w_i w_j p_x(a_i) p_{y*(x)}(a_j) (g_i + g_j - s_x(a_i))^2,
 * which is quadratic in g, so its minimiser solves the normal equations exactly (float64). Nothing
 * of the derivation is used to build or solve them.
 */
import { solveLinear } from "./toy-top1";

/** A 1-D Gaussian mixture sum_k weights_k N(means_k, stds_k^2); weights sum to 1. */
export interface Mixture1D {
  weights: readonly number[];
  means: readonly number[];
  stds: readonly number[];
}

/** A continuous top-1 toy: independent 1-D patches with marginals p_x and a fixed partner map y*. */
export interface ContinuousTop1Toy {
  /** p_x for x = 0 .. P-1 (pi_t = prod_x p_x). */
  marginals: readonly Mixture1D[];
  /** yStar[x] = the position that x attends to (fixed, as the derivation treats it). */
  yStar: readonly number[];
  /** Quadrature grid: nodes a_i and trapezoid weights w_i. */
  nodes: Float64Array;
  weights: Float64Array;
}

const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

/** p(a) of a mixture. */
export function mixtureDensity(m: Mixture1D, a: number): number {
  let p = 0;
  for (let k = 0; k < m.weights.length; k++) {
    const z = (a - m.means[k]) / m.stds[k];
    p += (m.weights[k] * INV_SQRT_2PI * Math.exp(-0.5 * z * z)) / m.stds[k];
  }
  return p;
}

/** p'(a) of a mixture (analytic). */
export function mixtureDensityGrad(m: Mixture1D, a: number): number {
  let g = 0;
  for (let k = 0; k < m.weights.length; k++) {
    const z = (a - m.means[k]) / m.stds[k];
    g -= (m.weights[k] * INV_SQRT_2PI * Math.exp(-0.5 * z * z) * z) / (m.stds[k] * m.stds[k]);
  }
  return g;
}

function checkMixture(m: Mixture1D, x: number): void {
  const K = m.weights.length;
  const sum = m.weights.reduce((s, w) => s + w, 0);
  if (K === 0 || m.means.length !== K || m.stds.length !== K) throw new Error(`marginal ${x}: weights, means and stds must have one entry per component, got ${m.weights.length}/${m.means.length}/${m.stds.length}`);
  if (m.weights.some((w) => !(w > 0)) || Math.abs(sum - 1) > 1e-12) throw new Error(`marginal ${x}: weights must be positive and sum to 1, got ${m.weights.join(", ")}`);
  if (m.stds.some((s) => !(s > 0))) throw new Error(`marginal ${x}: stds must be positive, got ${m.stds.join(", ")}`);
}

/** Build a toy on the grid [-halfWidth, halfWidth] with `nodes` equally spaced nodes. */
export function makeContinuousToy(marginals: readonly Mixture1D[], yStar: readonly number[], grid: { halfWidth: number; nodes: number }): ContinuousTop1Toy {
  const P = marginals.length;
  marginals.forEach(checkMixture);
  if (yStar.length !== P || yStar.some((y) => !(Number.isInteger(y) && y >= 0 && y < P))) throw new Error(`yStar must map each of the ${P} positions to a position, got [${yStar.join(", ")}]`);
  const n = grid.nodes;
  if (!(Number.isInteger(n) && n >= 3 && grid.halfWidth > 0)) throw new Error(`bad grid ${JSON.stringify(grid)}`);
  const h = (2 * grid.halfWidth) / (n - 1);
  const nodes = Float64Array.from({ length: n }, (_, i) => -grid.halfWidth + i * h);
  const weights = new Float64Array(n).fill(h);
  weights[0] = weights[n - 1] = h / 2;
  return { marginals, yStar, nodes, weights };
}

/** log pi_t(phi) = sum_x log p_x(phi_x) of a whole image phi [P]. */
export function jointLogDensity(toy: ContinuousTop1Toy, phi: ArrayLike<number>): number {
  let l = 0;
  toy.marginals.forEach((m, x) => (l += Math.log(mixtureDensity(m, phi[x]))));
  return l;
}

/** The true score s[phi](x) = d/dphi_x log pi_t(phi) (analytic). */
export function trueScore(toy: ContinuousTop1Toy, phi: ArrayLike<number>, x: number): number {
  const m = toy.marginals[x];
  return mixtureDensityGrad(m, phi[x]) / mixtureDensity(m, phi[x]);
}

/** Tables over the grid: p_x(a_i), p_x'(a_i) and s_x(a_i), each [P][n]. */
export interface GridTables {
  p: Float64Array[];
  dp: Float64Array[];
  s: Float64Array[];
}

export function gridTables(toy: ContinuousTop1Toy): GridTables {
  const p = toy.marginals.map((m) => toy.nodes.map((a) => mixtureDensity(m, a)));
  const dp = toy.marginals.map((m) => toy.nodes.map((a) => mixtureDensityGrad(m, a)));
  const s = toy.marginals.map((_, x) => toy.nodes.map((a) => trueScore(toy, [...new Array(x).fill(0), a], x)));
  for (const [x, px] of p.entries()) {
    const i = px.findIndex((v) => !(v > 0));
    if (i >= 0) throw new Error(`p_${x} underflows to ${px[i]} at grid node ${toy.nodes[i]}: narrow the grid`);
  }
  return { p, dp, s };
}

/**
 * The quadrature loss L^(g) at nodal values g [n], summed literally over the grid pairs (used for
 * finite differences; the solver builds the same quadratic form once).
 */
export function continuousTop1Loss(toy: ContinuousTop1Toy, g: ArrayLike<number>, tab: GridTables = gridTables(toy)): number {
  const n = toy.nodes.length, w = toy.weights;
  let L = 0;
  toy.yStar.forEach((y, x) => {
    const px = tab.p[x], py = tab.p[y], sx = tab.s[x];
    for (let i = 0; i < n; i++) {
      if (y === x) {
        L += w[i] * px[i] * (2 * g[i] - sx[i]) ** 2;
        continue;
      }
      for (let j = 0; j < n; j++) L += w[i] * w[j] * px[i] * py[j] * (g[i] + g[j] - sx[i]) ** 2;
    }
  });
  return L;
}

/**
 * Exact minimiser g^ [n] of the quadrature loss: normal equations sum W c c^T g = sum W s c with
 * c = e_i + e_j (2 e_i when y*(x) = x). Each row is divided by its (positive) diagonal before the
 * float64 solve, which changes no solution and keeps the tail nodes (tiny density) well conditioned.
 */
export function solveContinuousTop1(toy: ContinuousTop1Toy, tab: GridTables = gridTables(toy)): Float64Array {
  const n = toy.nodes.length, w = toy.weights;
  const M = new Float64Array(n * n), r = new Float64Array(n);
  toy.yStar.forEach((y, x) => {
    const px = tab.p[x], py = tab.p[y], sx = tab.s[x];
    for (let i = 0; i < n; i++) {
      if (y === x) {
        const W = w[i] * px[i];
        M[i * n + i] += 4 * W;
        r[i] += 2 * W * sx[i];
        continue;
      }
      for (let j = 0; j < n; j++) {
        const W = w[i] * w[j] * px[i] * py[j];
        M[i * n + i] += W;
        M[j * n + j] += W;
        M[i * n + j] += W;
        M[j * n + i] += W;
        r[i] += W * sx[i];
        r[j] += W * sx[i];
      }
    }
  });
  for (let i = 0; i < n; i++) {
    const d = M[i * n + i];
    if (!(d > 0)) throw new Error(`solveContinuousTop1: node ${toy.nodes[i]} carries no weight`);
    for (let j = 0; j < n; j++) M[i * n + j] /= d;
    r[i] /= d;
  }
  return solveLinear(M, r, n, 1);
}

/** E_{p_x}[f] = sum_i w_i p_x(a_i) f_i (quadrature). */
export function expectation(toy: ContinuousTop1Toy, px: Float64Array, f: ArrayLike<number>): number {
  let e = 0;
  for (let i = 0; i < px.length; i++) e += toy.weights[i] * px[i] * f[i];
  return e;
}

/** Occurrence density D(Phi) = sum_x [p_x(Phi) + p_{y*(x)}(Phi)] on the grid (the denominator of Eq. 30-32). */
export function occurrenceDensity(toy: ContinuousTop1Toy, tab: GridTables): Float64Array {
  const D = new Float64Array(toy.nodes.length);
  toy.yStar.forEach((y, x) => D.forEach((_, i) => (D[i] += tab.p[x][i] + tab.p[y][i])));
  return D;
}

/**
 * The corrected closed form of Eq. 32 under all three assumptions (patches independent, g
 * mean-centred, y* fixed), for the output g~(Phi) (= g(Phi) when y*(x) != x, 2 g(Phi) when y*(x) = x):
 *   g~(Phi) = sum_x (1 + [y*(x) = x]) p_x'(Phi) / sum_x [p_x(Phi) + p_{y*(x)}(Phi)].
 * The printed Eq. 32 has sum_x [p_x'(Phi) + p_{y*(x)}'(Phi)] in the numerator; the two agree when
 * y*(x) = x for every x.
 */
export function correctedEq32(toy: ContinuousTop1Toy, tab: GridTables): Float64Array {
  const D = occurrenceDensity(toy, tab);
  const N = new Float64Array(D.length);
  toy.yStar.forEach((y, x) => N.forEach((_, i) => (N[i] += (y === x ? 2 : 1) * tab.dp[x][i])));
  return N.map((v, i) => v / D[i]);
}

/** Eq. 32 (= Eq. 8) as printed: grad_Phi log sum_x [p_x(Phi) + p_{y*(x)}(Phi)]. */
export function printedEq32(toy: ContinuousTop1Toy, tab: GridTables): Float64Array {
  const D = occurrenceDensity(toy, tab);
  const N = new Float64Array(D.length);
  toy.yStar.forEach((y, x) => N.forEach((_, i) => (N[i] += tab.dp[x][i] + tab.dp[y][i])));
  return N.map((v, i) => v / D[i]);
}

/**
 * The corrected optimum of the table g without the centring assumption (y*(x) != x for every x).
 * Eq. 28 at the optimum, with independence and E_{p_x}[s_x] = 0 (a true score), reads
 *   g(Phi) D(Phi) + sum_x [p_x(Phi) m_{y*(x)} + p_{y*(x)}(Phi) m_x] = sum_x p_x'(Phi),  m_z = E_{p_z}[g],
 * so g = (sum_x p_x' - sum_x [p_x m_{y*(x)} + p_{y*(x)} m_x]) / D, with the P means m solving the
 * P x P linear system obtained by taking E_{p_z} of that expression. With m = 0 it is correctedEq32.
 * Returns g [n] and m [P].
 */
export function correctedTableGeneral(toy: ContinuousTop1Toy, tab: GridTables): { g: Float64Array; m: Float64Array } {
  const P = toy.marginals.length, n = toy.nodes.length;
  if (toy.yStar.some((y, x) => y === x)) throw new Error("correctedTableGeneral: needs y*(x) != x for every x");
  const D = occurrenceDensity(toy, tab);
  const N = new Float64Array(n);
  tab.dp.forEach((dpx) => dpx.forEach((v, i) => (N[i] += v)));
  // coef[u][i]: coefficient of m_u in the numerator's correction at node i.
  const coef = Array.from({ length: P }, () => new Float64Array(n));
  toy.yStar.forEach((y, x) => {
    for (let i = 0; i < n; i++) {
      coef[y][i] += tab.p[x][i];
      coef[x][i] += tab.p[y][i];
    }
  });
  // m_z = E_z[N/D] - sum_u m_u E_z[coef_u / D]  ->  (I + K) m = c.
  const A = new Float64Array(P * P), c = new Float64Array(P);
  for (let z = 0; z < P; z++) {
    c[z] = expectation(toy, tab.p[z], N.map((v, i) => v / D[i]));
    A[z * P + z] += 1;
    for (let u = 0; u < P; u++) A[z * P + u] += expectation(toy, tab.p[z], coef[u].map((v, i) => v / D[i]));
  }
  const m = solveLinear(A, c, P, 1);
  const g = N.map((v, i) => {
    let corr = 0;
    for (let u = 0; u < P; u++) corr += coef[u][i] * m[u];
    return (v - corr) / D[i];
  });
  return { g, m };
}
