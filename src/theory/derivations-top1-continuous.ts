/**
 * Line-by-line checks of the top-1 derivation (Appendix A.2, Eq. 28-32; Section 2.2, Eq. 5-8) on
 * the continuous toy of continuous-top1.ts, where the assumptions hold exactly: independent patches,
 * g a function of one patch, y*(x) fixed, true scores of a Gaussian mixture.
 *
 * Every printed line is evaluated as a function of Phi on the quadrature grid, with each delta
 * integral done by quadrature over the joint (never by the formula the line claims), and compared
 * with the line before it or with the exact minimiser g^ of the quadrature loss:
 *
 *   Eq. 28  2 sum_x E[(g~ - s)(x) (delta(phi_x - Phi) + delta(phi_{y*(x)} - Phi))]  vs finite differences of L^
 *   Eq. 29  E[g~(x) | phi_x = Phi] = E[g~(x) | phi_{y*(x)} = Phi] = g~(Phi)          (conditional reading)
 *   Eq. 30  g~(Phi) D(Phi) = sum_x int pi s(x) [delta(phi_x - Phi) + delta(phi_{y*(x)} - Phi)]
 *   Eq. 31  line 1 -> line 2: pi s = grad pi            (an identity of the score)
 *           line 2 -> line 3: sum_x int grad_{phi(x)} pi [delta(phi_x - Phi) + delta(phi_{y*(x)} - Phi)]
 *                             = sum_x grad_Phi [pi(phi_x = Phi) + pi(phi_{y*(x)} = Phi)]
 *   Eq. 32  g~(Phi) = grad_Phi log sum_x [pi(phi_x = Phi) + pi(phi_{y*(x)} = Phi)]   (= Eq. 8)
 *
 * g~(Phi) is read as the occurrence-weighted average of the optimal output over the occurrences of
 * Phi (as query or attended patch); under the assumptions it equals g^(Phi) (2 g^(Phi) when
 * y*(x) = x). Residuals are relative L2 errors on the grid, weighted by the occurrence density
 * D(Phi) = sum_x [p_x + p_{y*(x)}] (for the lines of Eq. 30-31, which are D times a score-like
 * quantity, the error of line / D in that norm).
 *
 * The step from line 2 to line 3 of Eq. 31 is where the derivation goes wrong: for y*(x) != x,
 * int grad_{phi(x)} pi delta(phi_{y*(x)} - Phi) dphi = p_{y*(x)}(Phi) int p_x'(a) da = 0, not
 * grad_Phi p_{y*(x)}(Phi). The corrected optimum (correctedEq32) has only sum_x p_x' in the numerator.
 */
import { Rng } from "../rng";
import { CheckResult, claimOf, CONTROL, CORRECTION, IDENTITY, makeCheck, readingOf } from "./derivations-check";
import {
  continuousTop1Loss, ContinuousTop1Toy, correctedEq32, correctedTableGeneral, expectation, gridTables, GridTables,
  makeContinuousToy, mixtureDensity, Mixture1D, occurrenceDensity, printedEq32, solveContinuousTop1,
} from "./continuous-top1";

/**
 * `pairs`: y* = [1, 0, 3, 2] (a bijection), symmetric marginals that differ by position (so the
 * optimum is odd, hence mean-centred: every assumption holds). `chain`: y* = [1, 2, 0, 0] (not a
 * bijection; position 3 is nobody's partner, 0 is two positions' partner), same marginals.
 * `selfPartner` (control): y*(x) = x, the one case where the printed line 3 is right.
 * `nonCentred` (an assumption broken): asymmetric marginals, so the optimal g is not mean-centred.
 */
export type ContinuousScenario = "pairs" | "chain" | "selfPartner" | "nonCentred";
export const CONTINUOUS_SCENARIOS: readonly ContinuousScenario[] = ["pairs", "chain", "selfPartner", "nonCentred"];

const mix = (weights: number[], means: number[], stds: number[]): Mixture1D => ({ weights, means, stds });

/** Symmetric (p(a) = p(-a)) mixtures, one per position, all different. */
export const SYMMETRIC_MARGINALS: readonly Mixture1D[] = [
  mix([0.5, 0.5], [-1.5, 1.5], [0.5, 0.5]),
  mix([0.3, 0.4, 0.3], [-2, 0, 2], [0.4, 0.8, 0.4]),
  mix([1], [0], [1]),
  mix([0.5, 0.5], [-1, 1], [0.6, 0.6]),
];

/** Asymmetric mixtures: the optimal g has E_{p_x}[g] != 0. */
export const ASYMMETRIC_MARGINALS: readonly Mixture1D[] = [
  mix([0.7, 0.3], [-1, 2], [0.5, 0.7]),
  mix([0.4, 0.6], [-2, 1], [0.5, 0.6]),
  mix([1], [0.5], [1]),
  mix([0.2, 0.8], [-1.5, 0.8], [0.6, 0.5]),
];

export interface ContinuousCheckOptions {
  /** Grid half-width and number of nodes (trapezoid rule). */
  halfWidth: number;
  nodes: number;
  /** Seed of the random g at which Eq. 28 is checked. */
  seed: number;
  /** Grid nodes at which Eq. 28 is compared with finite differences (spread over [-4, 4]). */
  fdNodes: number;
}

export const CONTINUOUS_CHECK_DEFAULTS: Readonly<ContinuousCheckOptions> = { halfWidth: 8, nodes: 321, seed: 5, fdNodes: 16 };

/** The toy of a scenario. */
export function makeContinuousScenario(scenario: ContinuousScenario, o: Partial<ContinuousCheckOptions> = {}): ContinuousTop1Toy {
  const { halfWidth, nodes } = { ...CONTINUOUS_CHECK_DEFAULTS, ...o };
  const grid = { halfWidth, nodes };
  switch (scenario) {
    case "pairs":
      return makeContinuousToy(SYMMETRIC_MARGINALS, [1, 0, 3, 2], grid);
    case "chain":
      return makeContinuousToy(SYMMETRIC_MARGINALS, [1, 2, 0, 0], grid);
    case "selfPartner":
      return makeContinuousToy(SYMMETRIC_MARGINALS, [0, 1, 2, 3], grid);
    case "nonCentred":
      return makeContinuousToy(ASYMMETRIC_MARGINALS, [1, 0, 3, 2], grid);
    default: {
      const never: never = scenario;
      throw new Error(`unknown continuous scenario '${never}'`);
    }
  }
}

/** Relative L2 error of a vs ref on the grid, weighted by w_i * D_i. */
function relErrD(toy: ContinuousTop1Toy, D: Float64Array, a: ArrayLike<number>, ref: ArrayLike<number>): number {
  let num = 0, den = 0;
  for (let i = 0; i < D.length; i++) {
    num += toy.weights[i] * D[i] * (a[i] - ref[i]) ** 2;
    den += toy.weights[i] * D[i] * ref[i] ** 2;
  }
  return Math.sqrt(num / den);
}

/** relErrD of a / D vs ref / D: for quantities of the form density x score (the lines of Eq. 30-31). */
function relErrLines(toy: ContinuousTop1Toy, D: Float64Array, a: ArrayLike<number>, ref: ArrayLike<number>): number {
  return relErrD(toy, D, Float64Array.from(D, (d, i) => a[i] / d), Float64Array.from(D, (d, i) => ref[i] / d));
}

const FD_STEP = 1e-5;

/** Central difference of the pair density p_x(a) p_y(b) in a (the derivative grad_{phi(x)} pi of line 2). */
function dPairDa(px: Mixture1D, py: Mixture1D | null, a: number, b: number): number {
  const f = (u: number) => mixtureDensity(px, u) * (py ? mixtureDensity(py, b) : 1);
  return (f(a + FD_STEP) - f(a - FD_STEP)) / (2 * FD_STEP);
}

/** Everything the checks compare, as functions of Phi on the grid. */
export interface ContinuousTop1Lines {
  /** Exact minimiser of the quadrature loss, nodal values [n]. */
  g: Float64Array;
  /** E_{p_x}[g^] per position. */
  means: Float64Array;
  /** g~(Phi): occurrence-weighted average of the optimal output over the occurrences of Phi. */
  gTilde: Float64Array;
  /** Eq. 29: E[g~(x) | phi_x = Phi] and E[g~(x) | phi_{y*(x)} = Phi], per position [P][n]. */
  condQuery: Float64Array[];
  condPartner: Float64Array[];
  D: Float64Array;
  /** Eq. 30 left side g~ D; Eq. 31 lines 1, 2 (query and partner parts) and 3 (printed, corrected). */
  eq30Lhs: Float64Array;
  line1: Float64Array;
  line2Query: Float64Array;
  line2Partner: Float64Array;
  line3PrintedQuery: Float64Array;
  line3PrintedPartner: Float64Array;
  line3Corrected: Float64Array;
  eq32Printed: Float64Array;
  eq32Corrected: Float64Array;
}

/** Solve the toy and evaluate every line of Eq. 29-32 on the grid (quadrature over the joint). */
export function continuousTop1Lines(toy: ContinuousTop1Toy, tab: GridTables = gridTables(toy)): ContinuousTop1Lines {
  const n = toy.nodes.length, w = toy.weights, a = toy.nodes;
  const g = solveContinuousTop1(toy, tab);
  const means = Float64Array.from(tab.p, (px) => expectation(toy, px, g));
  const D = occurrenceDensity(toy, tab);
  const condQuery: Float64Array[] = [], condPartner: Float64Array[] = [];
  const avgNum = new Float64Array(n);
  const line1 = new Float64Array(n), line2Query = new Float64Array(n), line2Partner = new Float64Array(n);
  const line3PrintedQuery = new Float64Array(n), line3PrintedPartner = new Float64Array(n), line3Corrected = new Float64Array(n);
  toy.yStar.forEach((y, x) => {
    const px = tab.p[x], py = tab.p[y], mx = toy.marginals[x], my = toy.marginals[y];
    const cq = new Float64Array(n), cp = new Float64Array(n);
    for (let k = 0; k < n; k++) {
      if (y === x) {
        // Both deltas are delta(phi_x - Phi): the output is 2 g(Phi), and each delta gives p_x s_x = grad p_x.
        cq[k] = cp[k] = 2 * g[k];
        line1[k] += 2 * px[k] * tab.s[x][k];
        line2Query[k] += dPairDa(mx, null, a[k], 0);
        line2Partner[k] += dPairDa(mx, null, a[k], 0);
      } else {
        // E[g~(x) | phi_x = a_k] = int p_y(b) (g(a_k) + g(b)) db / int p_y; E[. | phi_y = a_k] likewise over phi_x.
        let zq = 0, zp = 0, sq = 0, sp = 0, l1q = 0, l1p = 0, l2q = 0, l2p = 0;
        for (let j = 0; j < n; j++) {
          zq += w[j] * py[j];
          sq += w[j] * py[j] * (g[k] + g[j]);
          zp += w[j] * px[j];
          sp += w[j] * px[j] * (g[j] + g[k]);
          // int pi s(x) delta(phi_x - a_k) = int p_x(a_k) p_y(b) s_x(a_k) db; partner delta: int p_x(a) p_y(a_k) s_x(a) da.
          l1q += w[j] * px[k] * py[j] * tab.s[x][k];
          l1p += w[j] * px[j] * py[k] * tab.s[x][j];
          // int grad_{phi(x)} pi delta(.): the derivative of the pair density in phi_x, by central differences.
          l2q += w[j] * dPairDa(mx, my, a[k], a[j]);
          l2p += w[j] * dPairDa(mx, my, a[j], a[k]);
        }
        cq[k] = sq / zq;
        cp[k] = sp / zp;
        line1[k] += l1q + l1p;
        line2Query[k] += l2q;
        line2Partner[k] += l2p;
      }
      avgNum[k] += px[k] * cq[k] + py[k] * cp[k];
      line3PrintedQuery[k] += tab.dp[x][k];
      line3PrintedPartner[k] += tab.dp[y][k];
      line3Corrected[k] += (y === x ? 2 : 1) * tab.dp[x][k];
    }
    condQuery.push(cq);
    condPartner.push(cp);
  });
  const gTilde = avgNum.map((v, k) => v / D[k]);
  return {
    g, means, gTilde, condQuery, condPartner, D,
    eq30Lhs: gTilde.map((v, k) => v * D[k]),
    line1, line2Query, line2Partner, line3PrintedQuery, line3PrintedPartner, line3Corrected,
    eq32Printed: printedEq32(toy, tab),
    eq32Corrected: correctedEq32(toy, tab),
  };
}

const add = (u: Float64Array, v: Float64Array) => u.map((x, i) => x + v[i]);
const l2 = (toy: ContinuousTop1Toy, D: Float64Array, u: Float64Array) => Math.sqrt(u.reduce((s, x, i) => s + (toy.weights[i] * x * x) / D[i], 0));

/** Eq. 28 at a random g vs central differences of the quadrature loss, at `fdNodes` nodes in [-4, 4]. */
function checkEq28(toy: ContinuousTop1Toy, tab: GridTables, o: ContinuousCheckOptions, scenario: string): CheckResult {
  const assumed = scenario === "pairs" || scenario === "chain";
  const n = toy.nodes.length;
  const rng = new Rng(o.seed).split("g-random");
  const g = Float64Array.from({ length: n }, () => rng.normal());
  const m = tab.p.map((px) => expectation(toy, px, g));
  const sbar = tab.p.map((px, x) => expectation(toy, px, tab.s[x]));
  const picks = toy.nodes.reduce<number[]>((acc, a, i) => (Math.abs(a) <= 4 ? [...acc, i] : acc), []);
  const idx = Array.from({ length: o.fdNodes }, (_, k) => picks[Math.round((k * (picks.length - 1)) / (o.fdNodes - 1))]);
  const eq28: number[] = [], fd: number[] = [];
  const h = 1e-3;
  for (const k of idx) {
    // Eq. 28, each delta integral by independence: query 2 p_x(Phi)(g(Phi) + m_y - s_x(Phi)); partner 2 p_y(Phi)(m_x + g(Phi) - E s_x).
    let v = 0;
    toy.yStar.forEach((y, x) => {
      if (y === x) v += 2 * 2 * tab.p[x][k] * (2 * g[k] - tab.s[x][k]);
      else v += 2 * tab.p[x][k] * (g[k] + m[y] - tab.s[x][k]) + 2 * tab.p[y][k] * (m[x] + g[k] - sbar[x]);
    });
    eq28.push(v);
    const gp = Float64Array.from(g), gm = Float64Array.from(g);
    gp[k] += h;
    gm[k] -= h;
    // dL^/dg_k = w_k * (functional derivative at a_k).
    fd.push((continuousTop1Loss(toy, gp, tab) - continuousTop1Loss(toy, gm, tab)) / (2 * h * toy.weights[k]));
  }
  let num = 0, den = 0;
  eq28.forEach((v, i) => { num += (v - fd[i]) ** 2; den += fd[i] ** 2; });
  return makeCheck(assumed ? claimOf("eq28") : CONTROL, `top1c-eq28-vs-fd[${scenario}]`, "Eq. 28",
    "Eq. 28 (each delta integral done by quadrature under independence) equals the functional derivative of the loss, from central differences of the quadrature loss, at a random g; relative L2 error over grid nodes in [-4, 4]",
    Math.sqrt(num / den), 1e-7, { nodesCompared: idx.length });
}

/**
 * Every check of the continuous toy for one scenario (see module comment). Claims are compared with
 * the exact minimiser at float64 tolerance (1e-9), except those that use finite differences (1e-7).
 */
export function checkContinuousTop1Scenario(scenario: ContinuousScenario, options: Partial<ContinuousCheckOptions> = {}): CheckResult[] {
  const o = { ...CONTINUOUS_CHECK_DEFAULTS, ...options };
  const toy = makeContinuousScenario(scenario, o);
  const tab = gridTables(toy);
  const r = continuousTop1Lines(toy, tab);
  const { D } = r;
  const self = toy.yStar.every((y, x) => y === x);
  const assumed = scenario === "pairs" || scenario === "chain"; // every assumption holds: the paper's claims are checked; elsewhere controls
  const meanScale = Math.sqrt(expectation(toy, D.map((d) => d / (2 * toy.marginals.length)), r.g.map((v) => v * v)));
  const info = {
    scenario, P: toy.marginals.length, yStar: toy.yStar.join(","), gridNodes: toy.nodes.length,
    maxAbsMeanOfOptimalG: Math.max(...Array.from(r.means, Math.abs)), rmsOfOptimalG: meanScale,
  };
  let eq29 = 0;
  r.condQuery.forEach((cq, x) => (eq29 = Math.max(eq29, relErrD(toy, D, cq, r.gTilde), relErrD(toy, D, r.condPartner[x], r.gTilde))));
  // Eq. 29 literally: on every occurrence of phi_x = Phi the output g(Phi) + g(phi_y*(x)) is the one
  // value g~(Phi) = g[Phi] + g[Phi*] (Phi* a function of Phi). Relative L2 spread of the output around g~.
  let litNum = 0, litDen = 0;
  toy.yStar.forEach((y, x) => {
    for (let i = 0; i < toy.nodes.length; i++) {
      if (y === x) {
        const w = toy.weights[i] * tab.p[x][i], out = 2 * r.g[i];
        litNum += w * (out - r.gTilde[i]) ** 2;
        litDen += w * out * out;
        continue;
      }
      for (let j = 0; j < toy.nodes.length; j++) {
        const w = toy.weights[i] * toy.weights[j] * tab.p[x][i] * tab.p[y][j], out = r.g[i] + r.g[j];
        litNum += w * (out - r.gTilde[i]) ** 2;
        litDen += w * out * out;
      }
    }
  });
  const line2 = add(r.line2Query, r.line2Partner);
  const line3 = add(r.line3PrintedQuery, r.line3PrintedPartner);
  const partnerOnly = {
    queryPartRelErr: relErrLines(toy, D, r.line3PrintedQuery, r.line2Query),
    partnerPartNumericalNorm: l2(toy, D, r.line2Partner),
    partnerPartPrintedNorm: l2(toy, D, r.line3PrintedPartner),
    line2Norm: l2(toy, D, line2),
  };
  const checks: CheckResult[] = [
    checkEq28(toy, tab, o, scenario),
    makeCheck(assumed ? claimOf("eq29") : CONTROL, `top1c-eq29-literal[${scenario}]`, "Eq. 29 (as printed)",
      "at the optimum, the output g(phi_x) + g(phi_y*(x)) on the occurrences of phi_x = Phi is one value g~(Phi) = g[Phi] + g[Phi*], as Eq. 29 writes it (a deterministic partner Phi* of Phi); relative L2 spread of the output around g~ over the pair density",
      Math.sqrt(litNum / litDen), 1e-9, info),
    makeCheck(assumed ? readingOf("eq29", "conditionally: E[g~(x) | phi_x = Phi] = E[g~(x) | phi_y*(x) = Phi], one function of Phi") : CONTROL, `top1c-eq29[${scenario}]`, "Eq. 29 (conditional reading)",
      "at the optimum, E[g~(x) | phi_x = Phi] and E[g~(x) | phi_{y*(x)} = Phi] are the same function g~(Phi) for every x (quadrature over the joint); max over x and both conditionings of the D-weighted relative L2 error",
      eq29, 1e-9, info),
    makeCheck(IDENTITY, `top1c-eq30[${scenario}]`, "Eq. 30",
      "at the optimum, g~(Phi) sum_x [p_x + p_{y*(x)}](Phi) equals sum_x int pi s(x) [delta(phi_x - Phi) + delta(phi_{y*(x)} - Phi)] (quadrature); with g~ the occurrence average this is Eq. 28 = 0 rearranged",
      relErrLines(toy, D, r.eq30Lhs, r.line1), 1e-9, info),
    makeCheck(IDENTITY, `top1c-eq31-score-identity[${scenario}]`, "Eq. 31 (line 1 = line 2)",
      "sum_x int pi s(x) [delta + delta] equals sum_x int grad_{phi(x)} pi [delta + delta], with grad pi from central differences of the joint density (pi s = grad pi)",
      relErrLines(toy, D, line2, r.line1), 1e-7, info),
    makeCheck(assumed ? claimOf("line3") : CONTROL, `top1c-eq31-line3[${scenario}]`, "Eq. 31 (line 2 = line 3)",
      "sum_x int grad_{phi(x)} pi [delta(phi_x - Phi) + delta(phi_{y*(x)} - Phi)] equals sum_x grad_Phi [pi(phi_x = Phi) + pi(phi_{y*(x)} = Phi)] as printed; D-weighted relative L2 error of line / D",
      relErrLines(toy, D, line3, line2), 1e-7, { ...info, ...partnerOnly }),
    makeCheck(CORRECTION, `top1c-eq31-line3-corrected[${scenario}]`, "Eq. 31 (corrected line 3)",
      "line 2 equals sum_x (1 + [y*(x) = x]) grad_Phi pi(phi_x = Phi): the partner delta contributes grad p only when the partner is the query itself",
      relErrLines(toy, D, r.line3Corrected, line2), 1e-7, info),
    makeCheck(assumed ? claimOf("eq32") : CONTROL, `top1c-eq32[${scenario}]`, "Eq. 32 (= Eq. 8)",
      "the optimal g~(Phi) equals grad_Phi log sum_x [pi(phi_x = Phi) + pi(phi_{y*(x)} = Phi)] as printed; D-weighted relative L2 error",
      relErrD(toy, D, r.eq32Printed, r.gTilde), 1e-9, { ...info, printedOverOptimalRms: l2(toy, D, r.eq32Printed.map((v, i) => v * D[i])) / l2(toy, D, r.gTilde.map((v, i) => v * D[i])) }),
    makeCheck(CORRECTION, `top1c-eq32-corrected[${scenario}]`, "Eq. 32 (corrected)",
      "the optimal g~(Phi) (occurrence average of the output) equals sum_x (1 + [y*(x) = x]) grad_Phi p_x(Phi) / sum_x [p_x(Phi) + p_{y*(x)}(Phi)]; D-weighted relative L2 error",
      relErrD(toy, D, r.eq32Corrected, r.gTilde), 1e-9, info),
  ];
  if (!self) {
    checks.push(makeCheck(scenario === "nonCentred" ? CONTROL : CORRECTION, `top1c-eq32-corrected-table[${scenario}]`, "Eq. 32 (corrected, table)",
      "the optimal table g^(Phi) itself equals the corrected closed form sum_x p_x'(Phi) / sum_x [p_x(Phi) + p_{y*(x)}(Phi)] (needs a mean-centred optimum); D-weighted relative L2 error",
      relErrD(toy, D, r.eq32Corrected, r.g), 1e-9, info));
    checks.push(makeCheck(CORRECTION, `top1c-table-general[${scenario}]`, "Eq. 28-32 (corrected, any centring)",
      "the optimal table g^ equals (sum_x p_x' - sum_x [p_x m_{y*(x)} + p_{y*(x)} m_x]) / D with the means m solved from their P x P system (no centring assumed); D-weighted relative L2 error",
      relErrD(toy, D, correctedTableGeneral(toy, tab).g, r.g), 1e-9, info));
  }
  return checks;
}

/** `checkContinuousTop1Scenario` for every scenario. */
export function checkContinuousTop1(options: Partial<ContinuousCheckOptions> = {}): CheckResult[] {
  return CONTINUOUS_SCENARIOS.flatMap((s) => checkContinuousTop1Scenario(s, options));
}
