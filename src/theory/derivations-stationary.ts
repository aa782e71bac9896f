/**
 * Checks of the full-attention stationary condition: Eq. 26, the cancellation claimed after it,
 * and Eq. 27 (= Eq. 4), on an exact finite toy problem (see toy-distribution.ts). References:
 * tfjs autodiff (float32, per path of g) and float64 central differences of the loss.
 *
 * Reading of the printed expressions. Eq. 26-27 place d-vectors (alpha_xy [g_y - mu_x],
 * alpha_xy [g_x - mu_x]) where a d x d Jacobian belongs, and Eq. 27 adds I to a vector. We read a
 * printed vector v as acting element-wise on the residual (r_x^T v -> v * r_x), which is exact
 * when d = 1, where the printed expression is well formed; the checks also run at d = 1. Under
 * every reading linear in v, the query term is 0 because sum_y alpha_xy (g_y - mu_x) = 0.
 */
import { Rng } from "../rng";
import { addAll, CheckResult, claimOf, CORRECTION, IDENTITY, makeCheck, norm, relErr } from "./derivations-check";
import { autodiffTerms, fdGradient, gradientTerms, toyLoss } from "./toy-attention-loss";
import { ToyProblem, correlatedDistribution, randomScores, randomTable } from "./toy-distribution";

/** Toy problem settings for the Eq. 26-27 checks. */
export interface StationaryCheckOptions {
  /** Alphabet size K (distinct patch values). */
  nValues: number;
  /** Patches per image P. */
  nPositions: number;
  /** Embedding dimension d. */
  dim: number;
  seed: number;
  /** Softmax scale of Eq. 1 (the paper's derivation uses 1). */
  scale: number;
  /** Std of the random lookup table g. */
  gStd: number;
  /** Gradient-descent steps and step size for the stationary-point check. */
  steps: number;
  lr: number;
}

export const STATIONARY_CHECK_DEFAULTS: Readonly<StationaryCheckOptions> = {
  nValues: 4, nPositions: 3, dim: 3, seed: 2, scale: 1, gStd: 0.8, steps: 2000, lr: 0.1,
};

/** A correlated K^P-image distribution, centred N(0,1) scores, and a random table g [K, d]. */
export function makeAttentionToy(o: StationaryCheckOptions): { problem: ToyProblem; g: Float64Array } {
  const rng = new Rng(o.seed);
  const dist = correlatedDistribution(rng.split("dist"), o.nValues, o.nPositions);
  const scores = randomScores(rng.split("scores"), dist, o.dim, { centre: true, offset: 0 });
  return { problem: { dist, dim: o.dim, scores }, g: randomTable(rng.split("g"), o.nValues, o.dim, o.gStd) };
}

/** max over images and x of || sum_y alpha_xy (g_y - mu_x) || (the vector the paper cancels). */
function maxCancelledVector(problem: ToyProblem, g: Float64Array, scale: number): number {
  const d = problem.dim;
  let worst = 0;
  for (const img of problem.dist.images) {
    const z = img.map((v) => g.subarray(v * d, (v + 1) * d));
    for (const zx of z) {
      const logits = z.map((zy) => scale * zy.reduce((u, v, k) => u + v * zx[k], 0));
      const m = Math.max(...logits);
      const e = logits.map((l) => Math.exp(l - m));
      const a = e.map((v) => v / e.reduce((u, w) => u + w, 0));
      const mu = new Float64Array(d);
      z.forEach((zy, y) => zy.forEach((v, k) => (mu[k] += a[y] * v)));
      const vsum = new Float64Array(d);
      z.forEach((zy, y) => zy.forEach((v, k) => (vsum[k] += a[y] * (v - mu[k]))));
      worst = Math.max(worst, norm(vsum));
    }
  }
  return worst;
}

/**
 * Eq. 26 and Eq. 27 against autodiff at a random g. Relative L2 errors over the whole [K, d]
 * gradient; tolerance 1e-4 against tfjs (float32), 1e-7 against float64 central differences.
 * Returns, in order: the cancelled vector is 0 (holds); the query path contributes 0 to dL/dg
 * (fails); printed Eq. 26 == autodiff (fails); corrected Eq. 26 == autodiff (holds); corrected
 * == finite differences (holds); Eq. 27 == autodiff (fails).
 */
export function checkEq26(options: Partial<StationaryCheckOptions> = {}): CheckResult[] {
  const o = { ...STATIONARY_CHECK_DEFAULTS, ...options };
  const { problem, g } = makeAttentionToy(o);
  const t = gradientTerms(problem, g, o.scale);
  const ad = autodiffTerms(problem, g, o.scale);
  const fd = fdGradient(problem, g, o.scale);
  const printed26 = addAll(t.direct, t.queryPrinted, t.keyPrinted, t.value);
  const corrected = addAll(t.direct, t.queryCorrect, t.keyCorrect, t.value);
  const eq27 = addAll(t.direct, t.value, t.keyPrinted); // Eq. 27 with the delta on I and vector, sum_x and factor 2
  const eq27Literal = addAll(t.direct, t.identityLiteral, t.keyPrinted); // I outside the delta, as printed
  const setting = { K: o.nValues, P: o.nPositions, d: o.dim, scale: o.scale, images: problem.dist.images.length };
  const perTerm = (q: Float64Array, k: Float64Array) => ({
    directTermRelErr: relErr(t.direct, ad.direct), valueTermRelErr: relErr(t.value, ad.value),
    queryTermRelErr: relErr(q, ad.query), keyTermRelErr: relErr(k, ad.key),
  });
  return [
    makeCheck(IDENTITY, "eq26-cancelled-vector-is-zero", "Eq. 26 (cancellation)",
      "sum_y alpha_xy (g_y - mu_x) = 0 as a vector, for every image and x; max norm (float64)",
      maxCancelledVector(problem, g, o.scale), 1e-12, setting),
    makeCheck(claimOf("cancel"), "eq26-query-term-vanishes", "Eq. 26 (cancellation)",
      "the query path ('chain rule wrt g(phi_x) in alpha_xy') contributes 0 to dL/dg; ||autodiff query term|| / ||full autodiff gradient||",
      norm(ad.query) / norm(ad.full), 1e-4,
      { ...setting, correctQueryTerm: "2 sum_x E[sum_y alpha_xy (r_x . g_y)(g_y - mu_x) delta(phi_x - Phi)]", correctQueryRelErr: relErr(t.queryCorrect, ad.query) }),
    makeCheck(claimOf("eq26"), "eq26-printed-vs-autodiff", "Eq. 26",
      "printed Eq. 26 (vectors element-wise on r_x) equals dL/dg from tfjs autodiff; relative L2 error",
      relErr(printed26, ad.full), 1e-4, { ...setting, ...perTerm(t.queryPrinted, t.keyPrinted) }),
    makeCheck(CORRECTION, "eq26-corrected-vs-autodiff", "Eq. 26 (corrected)",
      "corrected Eq. 26 (query term alpha_xy (r.(g_y - mu_x)) g_y, key term alpha_xy (r.(g_y - mu_x)) g_x) equals tfjs autodiff; relative L2 error",
      relErr(corrected, ad.full), 1e-4, { ...setting, ...perTerm(t.queryCorrect, t.keyCorrect) }),
    makeCheck(CORRECTION, "eq26-corrected-vs-finite-differences", "Eq. 26 (corrected)",
      "corrected Eq. 26 equals float64 central differences of L (h = 1e-5); relative L2 error",
      relErr(corrected, fd), 1e-7, setting),
    makeCheck(claimOf("eq27"), "eq27-vs-autodiff", "Eq. 27 (= Eq. 4)",
      "Eq. 27 read as 2 sum_x E[r_x delta_x + sum_y alpha_xy (r_x + (g_x - mu_x) * r_x) delta_y] equals tfjs autodiff; relative L2 error",
      relErr(eq27, ad.full), 1e-4, { ...setting, literalReadingRelErr: relErr(eq27Literal, ad.full) }),
  ];
}

/** Plain gradient descent on L with the corrected (verified) float64 gradient. */
export function minimiseAttentionToy(problem: ToyProblem, g0: Float64Array, o: StationaryCheckOptions): Float64Array {
  const g = Float64Array.from(g0);
  for (let step = 0; step < o.steps; step++) {
    const t = gradientTerms(problem, g, o.scale);
    const grad = addAll(t.direct, t.queryCorrect, t.keyCorrect, t.value);
    for (let j = 0; j < g.length; j++) g[j] -= o.lr * grad[j];
  }
  return g;
}

/**
 * Eq. 27 as a stationary condition: at a minimiser g* of L (found by gradient descent with the
 * corrected gradient), is Eq. 27 zero? Residual ||Eq. 27(g*)|| / ||direct term 2 sum_x E[r_x delta_x]
 * at g*|| (float64); tolerance 1e-6. Details give the true gradient on the same scale (~1e-16 when
 * converged), the reduction ||dL/dg(g*)|| / ||dL/dg(g0)|| and the loss decrease.
 */
export function checkEq27Stationary(options: Partial<StationaryCheckOptions> = {}): CheckResult {
  const o = { ...STATIONARY_CHECK_DEFAULTS, ...options };
  const { problem, g: g0 } = makeAttentionToy(o);
  const t0 = gradientTerms(problem, g0, o.scale);
  const scale0 = norm(addAll(t0.direct, t0.queryCorrect, t0.keyCorrect, t0.value));
  const gStar = minimiseAttentionToy(problem, g0, o);
  const t = gradientTerms(problem, gStar, o.scale);
  const trueGrad = addAll(t.direct, t.queryCorrect, t.keyCorrect, t.value);
  const eq27 = addAll(t.direct, t.value, t.keyPrinted);
  return makeCheck(claimOf("eq27"), "eq27-zero-at-minimiser", "Eq. 27 (= Eq. 4) as stationary condition",
    "Eq. 27 vanishes at a minimiser g* of L; ||Eq. 27(g*)|| / ||term 1 of Eq. 26 at g*|| (float64)",
    norm(eq27) / norm(t.direct), 1e-6, {
      trueGradientAtMinimiser: norm(trueGrad) / norm(t.direct),
      gradientReduction: norm(trueGrad) / scale0,
      lossInit: toyLoss(problem, g0, o.scale), lossAtMinimiser: toyLoss(problem, gStar, o.scale),
      steps: o.steps, lr: o.lr, d: o.dim,
    });
}
