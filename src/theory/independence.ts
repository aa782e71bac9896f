/**
 * The independence result, as a check on a toy where the optimum is computable (docs/theory.md,
 * "What independence removes").
 *
 * A top-1 layer with a learnable value map outputs, for patch x with its partner y*(x),
 *   out(x) = f(phi_x) + k(phi_{y*(x)})
 * (f: the query's own path, k: the value map applied to the attended patch; the paper's model is
 * f = k = g). Fit to the true score s[phi](x) = d/dphi_x log pi(phi) by least squares,
 *   L(f, k) = sum_x E_pi (f(phi_x) + k(phi_{y*(x)}) - s[phi](x))^2,
 * the optimum has k constant whenever the patches are independent and the positions exchangeable
 * (one marginal p for every position): the normal equation for k(b) is
 *   k(b) sum_x p_{y*(x)}(b) = sum_x p_{y*(x)}(b) (E_{p_x}[s_x] - E_{p_x}[f]),
 * and E_{p_x}[s_x] = int p_x' = 0, E_{p_x}[f] the same for every x, so k(b) = -E_p[f] for every b:
 * the partner term is a constant, and f = s (the ELS score) up to that constant. No centring
 * assumption is needed. So under the paper's own assumptions the top-1 layer can add nothing that
 * depends on which patch the partner is.
 *
 * The toy: 1-D patches (one real number each), 4 positions, y* = [1, 0, 3, 2] fixed (as the
 * derivation treats it), each term of the loss a quadrature over the pair (phi_x, phi_{y*(x)}) on a
 * uniform grid (trapezoid weights); f and k are their values at the grid nodes, and the minimiser
 * solves the normal equations exactly (float64; one gauge fixed: f + c, k - c give the same output,
 * so k is pinned at one node). Nothing of the derivation above is used to build or solve them.
 * Scenarios:
 *  - `exchangeable`: independent patches, one asymmetric mixture marginal for every position (so the
 *    optimal f is not mean-centred: the result does not need the centring assumption);
 *  - `dependent` (control): exchangeable, but (phi_x, phi_y*(x)) drawn from a correlated 2-D mixture;
 *  - `notExchangeable` (control): independent patches with a different asymmetric marginal per position.
 */
import { CheckResult, CONTROL, FINDING, makeCheck } from "./derivations-check";
import { mixtureDensity, mixtureDensityGrad, Mixture1D } from "./continuous-top1";
import { ASYMMETRIC_MARGINALS } from "./derivations-top1-continuous";
import { solveLinear } from "./toy-top1";

export type IndependenceScenario = "exchangeable" | "dependent" | "notExchangeable";
export const INDEPENDENCE_SCENARIOS: readonly IndependenceScenario[] = ["exchangeable", "dependent", "notExchangeable"];

/** A 2-D Gaussian mixture with isotropic components: the pair density q(a, b) of (phi_x, phi_y*(x)). */
export interface Mixture2D {
  weights: readonly number[];
  means: readonly (readonly [number, number])[];
  stds: readonly number[];
}

/** The correlated pair density of the `dependent` control: both patches low or both high. */
export const CORRELATED_PAIR: Mixture2D = { weights: [0.5, 0.5], means: [[-1.2, -1.2], [1.2, 1.2]], stds: [0.6, 0.6] };

/** One position's term of the loss: its pair density q_x(a, b) and target s_x(a, b) on the grid, [n * n] (a = own patch, b = partner). */
interface PairTerm {
  q: Float64Array;
  s: Float64Array;
}

export interface IndependenceToy {
  scenario: IndependenceScenario;
  nodes: Float64Array;
  weights: Float64Array;
  terms: PairTerm[];
}

export interface IndependenceOptions {
  halfWidth: number;
  nodes: number;
}

export const INDEPENDENCE_DEFAULTS: Readonly<IndependenceOptions> = { halfWidth: 7, nodes: 141 };

function grid(o: IndependenceOptions): { nodes: Float64Array; weights: Float64Array } {
  const n = o.nodes;
  if (!(Number.isInteger(n) && n >= 3 && o.halfWidth > 0)) throw new Error(`bad grid ${JSON.stringify(o)}`);
  const h = (2 * o.halfWidth) / (n - 1);
  const nodes = Float64Array.from({ length: n }, (_, i) => -o.halfWidth + i * h);
  const weights = new Float64Array(n).fill(h);
  weights[0] = weights[n - 1] = h / 2;
  return { nodes, weights };
}

/** Independent patches: q(a, b) = p_x(a) p_y(b), s(a, b) = p_x'(a) / p_x(a). */
function independentTerm(px: Mixture1D, py: Mixture1D, nodes: Float64Array): PairTerm {
  const n = nodes.length;
  const q = new Float64Array(n * n), s = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    const pa = mixtureDensity(px, nodes[i]), score = mixtureDensityGrad(px, nodes[i]) / pa;
    for (let j = 0; j < n; j++) {
      q[i * n + j] = pa * mixtureDensity(py, nodes[j]);
      s[i * n + j] = score;
    }
  }
  return { q, s };
}

/** Correlated pair: q(a, b) the 2-D mixture, s(a, b) = d/da log q(a, b) (the true score of a joint made of such pairs). */
function correlatedTerm(m: Mixture2D, nodes: Float64Array): PairTerm {
  const n = nodes.length;
  const q = new Float64Array(n * n), s = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let d = 0, g = 0;
      m.weights.forEach((w, k) => {
        const sd = m.stds[k];
        const za = (nodes[i] - m.means[k][0]) / sd, zb = (nodes[j] - m.means[k][1]) / sd;
        const v = (w * Math.exp(-0.5 * (za * za + zb * zb))) / (2 * Math.PI * sd * sd);
        d += v;
        g -= (v * za) / sd;
      });
      q[i * n + j] = d;
      s[i * n + j] = g / d;
    }
  }
  return { q, s };
}

const PARTNERS = [1, 0, 3, 2];

/** The toy of a scenario. */
export function makeIndependenceToy(scenario: IndependenceScenario, o: Partial<IndependenceOptions> = {}): IndependenceToy {
  const { nodes, weights } = grid({ ...INDEPENDENCE_DEFAULTS, ...o });
  let terms: PairTerm[];
  switch (scenario) {
    case "exchangeable": {
      const p = ASYMMETRIC_MARGINALS[0];
      terms = PARTNERS.map(() => independentTerm(p, p, nodes));
      break;
    }
    case "dependent":
      terms = PARTNERS.map(() => correlatedTerm(CORRELATED_PAIR, nodes));
      break;
    case "notExchangeable":
      terms = PARTNERS.map((y, x) => independentTerm(ASYMMETRIC_MARGINALS[x], ASYMMETRIC_MARGINALS[y], nodes));
      break;
    default: {
      const never: never = scenario;
      throw new Error(`unknown independence scenario '${never}'`);
    }
  }
  for (const [x, t] of terms.entries()) {
    const i = t.q.findIndex((v) => !(v > 0));
    if (i >= 0) throw new Error(`pair density of position ${x} underflows at grid node ${i}: narrow the grid`);
  }
  return { scenario, nodes, weights, terms };
}

/** The exact minimiser (f, k) of the quadrature loss, k pinned to 0 at the node of largest partner weight (the one gauge). */
export function solveValueMap(toy: IndependenceToy): { f: Float64Array; k: Float64Array; loss: number } {
  const n = toy.nodes.length, w = toy.weights;
  // Unknowns z = [f_0 .. f_{n-1}, k_0 .. k_{n-1}]; normal equations M z = r (2n x 2n, singular by the gauge).
  const N = 2 * n;
  const M = new Float64Array(N * N), r = new Float64Array(N);
  const partnerMass = new Float64Array(n);
  for (const t of toy.terms) {
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        const W = w[i] * w[j] * t.q[i * n + j];
        if (W === 0) continue;
        const fi = i, kj = n + j;
        M[fi * N + fi] += W; M[fi * N + kj] += W; M[kj * N + fi] += W; M[kj * N + kj] += W;
        r[fi] += W * t.s[i * n + j];
        r[kj] += W * t.s[i * n + j];
        partnerMass[j] += W;
      }
    }
  }
  // Gauge: drop k at the heaviest partner node (k there = 0) and its (redundant) equation.
  let pin = 0;
  for (let j = 1; j < n; j++) if (partnerMass[j] > partnerMass[pin]) pin = j;
  const keep = Array.from({ length: N }, (_, i) => i).filter((i) => i !== n + pin);
  const m = keep.length;
  const A = new Float64Array(m * m), b = new Float64Array(m);
  keep.forEach((row, a) => {
    const d = M[row * N + row];
    if (!(d > 0)) throw new Error(`solveValueMap: unknown ${row} carries no weight`);
    keep.forEach((col, c) => (A[a * m + c] = M[row * N + col] / d));
    b[a] = r[row] / d;
  });
  const z = solveLinear(A, b, m, 1);
  const f = new Float64Array(n), k = new Float64Array(n);
  keep.forEach((row, a) => (row < n ? (f[row] = z[a]) : (k[row - n] = z[a])));
  let loss = 0;
  for (const t of toy.terms) for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) loss += w[i] * w[j] * t.q[i * n + j] * (f[i] + k[j] - t.s[i * n + j]) ** 2;
  return { f, k, loss };
}

/** Weighted mean and standard deviation of v under weights u (normalised). */
function meanSd(v: Float64Array, u: Float64Array): { mean: number; sd: number } {
  let su = 0, s1 = 0;
  for (let i = 0; i < v.length; i++) { su += u[i]; s1 += u[i] * v[i]; }
  const mean = s1 / su;
  let s2 = 0;
  for (let i = 0; i < v.length; i++) s2 += u[i] * (v[i] - mean) ** 2;
  return { mean, sd: Math.sqrt(s2 / su) };
}

/** What the checks compare, for one scenario. */
export interface ValueMapResult {
  f: Float64Array;
  k: Float64Array;
  /** Own-patch marginal weights on the grid (quadrature weight times density, pooled over positions). */
  own: Float64Array;
  /** sd of k over the partner marginal, relative to the sd of f over the own marginal. */
  kSpread: number;
  /** Relative L2 error (own marginal) of f + mean(k) against the per-patch score E[s | phi_x = a]. */
  fVsScore: number;
  /** Loss at the optimum, and with k forced constant (f alone): their difference is what k buys. */
  loss: number;
  lossKConstant: number;
}

/** Solve the toy and measure how far k is from a constant and f from the per-patch score. */
export function valueMapResult(toy: IndependenceToy): ValueMapResult {
  const n = toy.nodes.length, w = toy.weights;
  const { f, k, loss } = solveValueMap(toy);
  const own = new Float64Array(n), partner = new Float64Array(n), ownScore = new Float64Array(n);
  for (const t of toy.terms) {
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        const W = w[i] * w[j] * t.q[i * n + j];
        own[i] += W;
        partner[j] += W;
        ownScore[i] += W * t.s[i * n + j];
      }
    }
  }
  for (let i = 0; i < n; i++) ownScore[i] /= own[i]; // E[s | phi_x = a_i], pooled over positions
  const fs = meanSd(f, own), ks = meanSd(k, partner);
  let num = 0, den = 0;
  for (let i = 0; i < n; i++) {
    num += own[i] * (f[i] + ks.mean - ownScore[i]) ** 2;
    den += own[i] * ownScore[i] ** 2;
  }
  // k constant: the best f alone is E[s | phi_x = a] (pooled), up to the constant.
  let lossKConstant = 0;
  for (const t of toy.terms) for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) lossKConstant += w[i] * w[j] * t.q[i * n + j] * (ownScore[i] - t.s[i * n + j]) ** 2;
  return { f, k, own, kSpread: ks.sd / fs.sd, fVsScore: Math.sqrt(num / den), loss, lossKConstant };
}

/**
 * The checks of one scenario: k constant at the optimum (a finding under independence and
 * exchangeability; controls where one of them is broken), and f the per-patch score.
 */
export function checkIndependenceScenario(scenario: IndependenceScenario, o: Partial<IndependenceOptions> = {}): CheckResult[] {
  const toy = makeIndependenceToy(scenario, o);
  const r = valueMapResult(toy);
  const label = scenario === "exchangeable" ? FINDING : CONTROL;
  const details = { scenario, gridNodes: toy.nodes.length, lossAtOptimum: r.loss, lossWithKConstant: r.lossKConstant, kSpread: r.kSpread, fVsPerPatchScore: r.fVsScore };
  return [
    makeCheck(label, `indep-value-map-constant[${scenario}]`, "Eq. 5 with a value map (beyond the paper)",
      "the optimal top-1 output f(phi_x) + k(phi_y*(x)) fitted to the true score has k constant: sd of k over the partner marginal relative to the sd of f over the own marginal",
      r.kSpread, 1e-9, details),
    makeCheck(label, `indep-query-map-is-score[${scenario}]`, "Eq. 5 with a value map (beyond the paper)",
      "at the optimum, f + E[k] equals the per-patch score E[s | phi_x = Phi] (the ELS score); relative L2 error over the own marginal",
      r.fVsScore, 1e-9, details),
  ];
}

/** Every scenario's checks. */
export function checkIndependence(o: Partial<IndependenceOptions> = {}): CheckResult[] {
  return INDEPENDENCE_SCENARIOS.flatMap((s) => checkIndependenceScenario(s, o));
}
