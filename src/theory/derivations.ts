/**
 * Numeric checks of the derivations of Finn et al. (2025), "Origins of Creativity in Attention
 * Based Diffusion Models", Section 2 and Appendix A. Every check returns a `CheckResult`
 * ({ name, equation, claim, holds, residual, tolerance, details }) so that a notebook can print
 * pass/fail lines and plot residuals. `holds` is computed, never asserted: a printed expression
 * that is wrong gives `holds: false` with the size of the discrepancy. See docs/theory.md.
 *
 *  - Eq. 1-2   attention with and without the 1/sqrt(d) scale      checkEq1VsEq2
 *  - Eq. 23-25 softmax derivative, query vs key vs total           checkEq25
 *  - Eq. 26-27 full-attention gradient and stationary condition    checkEq26, checkEq27Stationary
 *  - Eq. 28-31 top-1 closed form, with each assumption broken      checkTop1
 *  - Eq. 28-32 line by line on a continuous toy with true scores    checkContinuousTop1
 *  - beyond the paper: what independence removes (a top-1 layer     checkIndependence
 *    with a value map has a constant partner term)
 *  - beyond the paper: the pair machine on toy datasets             checkPairMachine
 *
 * Every check carries its role (claim, reading, identity, control, correction, finding) and, for
 * the paper's claims, the distinct claim it bears on, set where it is made; `tallyClaims` counts per
 * claim (claims.ts).
 *
 * The tfjs-based checks need an initialised backend (`await initBackend()` from src/backend).
 */
import { checkEq1VsEq2, checkEq25 } from "./derivations-attention";
import { claimsMarkdown, tallyClaims } from "./claims";
import { CheckResult } from "./derivations-check";
import { checkEq26, checkEq27Stationary } from "./derivations-stationary";
import { checkTop1 } from "./derivations-top1";
import { checkContinuousTop1 } from "./derivations-top1-continuous";
import { checkIndependence } from "./independence";
import { checkPairMachine } from "./pair-checks";

export type { CheckResult, CheckRole } from "./derivations-check";
export type { ClaimOutcome, ClaimTally } from "./claims";
export { CLAIMS, claimsMarkdown, ROLES, tallyClaims } from "./claims";
export type { ClaimKey } from "./claims";
export { checkIndependence, checkIndependenceScenario, INDEPENDENCE_SCENARIOS, makeIndependenceToy, valueMapResult } from "./independence";
export type { IndependenceScenario, ValueMapResult } from "./independence";
export { checkPairMachine } from "./pair-checks";
export type { ContinuousCheckOptions, ContinuousScenario } from "./derivations-top1-continuous";
export { CONTINUOUS_CHECK_DEFAULTS, CONTINUOUS_SCENARIOS, checkContinuousTop1, checkContinuousTop1Scenario, continuousTop1Lines, makeContinuousScenario } from "./derivations-top1-continuous";
export { makeCheck, relErr } from "./derivations-check";
export type { AttentionCheckOptions } from "./derivations-attention";
export { ATTENTION_CHECK_DEFAULTS, checkEq1VsEq2, checkEq25, eq1Attention, eq2Attention } from "./derivations-attention";
export type { StationaryCheckOptions } from "./derivations-stationary";
export { STATIONARY_CHECK_DEFAULTS, checkEq26, checkEq27Stationary, makeAttentionToy, minimiseAttentionToy } from "./derivations-stationary";
export type { Top1CheckOptions, Top1Scenario } from "./derivations-top1";
export { TOP1_CHECK_DEFAULTS, TOP1_SCENARIOS, checkTop1, checkTop1Scenario, makeTop1Toy } from "./derivations-top1";
export type { AutodiffTerms, GradientTerms } from "./toy-attention-loss";
export { autodiffTerms, fdGradient, gradientTerms, toyLoss } from "./toy-attention-loss";
export type { Top1Problem } from "./toy-top1";
export { solveTop1, top1ClosedForm, top1GradientAutodiff, top1GradientEq28, top1Loss, top1Outputs } from "./toy-top1";
export type { PatchDistribution, ToyProblem } from "./toy-distribution";
export { correlatedDistribution, independentDistribution, pairPatternDistribution } from "./toy-distribution";

/**
 * Every check with default settings, plus the Eq. 26-27 checks at d = 1 (where the printed form is
 * well formed), each with the role and claim set where it was made.
 */
export function runAllDerivationChecks(): CheckResult[] {
  const tag = (rs: CheckResult[], suffix: string) => rs.map((r) => ({ ...r, name: `${r.name}${suffix}` }));
  return [
    ...checkEq1VsEq2(),
    ...checkEq25(),
    ...checkEq26(),
    ...tag(checkEq26({ dim: 1 }), "[d=1]"),
    checkEq27Stationary(),
    ...tag([checkEq27Stationary({ dim: 1 })], "[d=1]"),
    ...checkTop1(),
    ...checkContinuousTop1(),
    ...checkIndependence(),
    ...checkPairMachine(),
  ];
}

/** One line per check: "holds | fails", role, name, equation, residual vs tolerance. */
export function formatCheck(r: CheckResult): string {
  const verdict = r.holds ? "holds" : "FAILS";
  return `${verdict.padEnd(5)}  ${(r.role ?? "").padEnd(10)} ${r.name.padEnd(44)} ${r.equation.padEnd(36)} residual ${r.residual.toExponential(2)} (tol ${r.tolerance.toExponential(0)})`;
}

/** Markdown table of results (for docs/theory.md): check, role, equation, verdict, residual, tolerance. */
export function markdownTable(results: CheckResult[]): string {
  const rows = results.map((r) => `| \`${r.name}\` | ${r.role ?? "-"} | ${r.equation} | ${r.holds ? "holds" : "**fails**"} | ${r.residual.toExponential(2)} | ${r.tolerance.toExponential(0)} |`);
  return ["| check | role | equation | result | residual | tolerance |", "| --- | --- | --- | --- | --- | --- |", ...rows].join("\n");
}

/**
 * Initialise the tfjs backend, run every check, print one line each (or a markdown table) and
 * return the results. Reproduces docs/theory.md:
 *   npx ts-node --transpile-only -e 'require("./src/theory/derivations").reportDerivationChecks("markdown")'
 */
export async function reportDerivationChecks(format: "lines" | "markdown" = "lines"): Promise<CheckResult[]> {
  const { initBackend } = await import("../backend");
  const backend = await initBackend();
  const results = runAllDerivationChecks();
  console.log(format === "markdown" ? markdownTable(results) : results.map(formatCheck).join("\n"));
  console.log(`(${results.filter((r) => r.holds).length}/${results.length} checks hold; tfjs ${backend.tfjsVersion}, backend ${backend.name})`);
  if (format === "markdown") console.log(`\n${claimsMarkdown(tallyClaims(results))}`);
  return results;
}
