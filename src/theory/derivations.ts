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
 *
 * `runAllDerivationChecks` labels every check with its role (claim, identity, control, correction,
 * reading) and the distinct claim it bears on (claims.ts); `tallyClaims` counts per claim.
 *
 * The tfjs-based checks need an initialised backend (`await initBackend()` from src/backend).
 */
import { checkEq1VsEq2, checkEq25 } from "./derivationsAttention";
import { claimsMarkdown, labelChecks, tallyClaims } from "./claims";
import { CheckResult } from "./derivationsCheck";
import { checkEq26, checkEq27Stationary } from "./derivationsStationary";
import { checkTop1 } from "./derivationsTop1";
import { checkContinuousTop1 } from "./derivationsTop1Continuous";

export type { CheckResult, CheckRole } from "./derivationsCheck";
export type { ClaimOutcome, ClaimTally } from "./claims";
export { claimsMarkdown, labelChecks, roleOf, ROLE_RULES, tallyClaims } from "./claims";
export type { ContinuousCheckOptions, ContinuousScenario } from "./derivationsTop1Continuous";
export { CONTINUOUS_CHECK_DEFAULTS, CONTINUOUS_SCENARIOS, checkContinuousTop1, checkContinuousTop1Scenario, continuousTop1Lines, makeContinuousScenario } from "./derivationsTop1Continuous";
export { makeCheck, relErr } from "./derivationsCheck";
export type { AttentionCheckOptions } from "./derivationsAttention";
export { ATTENTION_CHECK_DEFAULTS, checkEq1VsEq2, checkEq25, eq1Attention, eq2Attention } from "./derivationsAttention";
export type { StationaryCheckOptions } from "./derivationsStationary";
export { STATIONARY_CHECK_DEFAULTS, checkEq26, checkEq27Stationary, makeAttentionToy, minimiseAttentionToy } from "./derivationsStationary";
export type { Top1CheckOptions, Top1Scenario } from "./derivationsTop1";
export { TOP1_CHECK_DEFAULTS, TOP1_SCENARIOS, checkTop1, checkTop1Scenario, makeTop1Toy } from "./derivationsTop1";
export type { AutodiffTerms, GradientTerms } from "./toyAttentionLoss";
export { autodiffTerms, fdGradient, gradientTerms, toyLoss } from "./toyAttentionLoss";
export type { Top1Problem } from "./toyTop1";
export { solveTop1, top1ClosedForm, top1GradientAutodiff, top1GradientEq28, top1Loss, top1Outputs } from "./toyTop1";
export type { PatchDistribution, ToyProblem } from "./toyDistribution";
export { correlatedDistribution, independentDistribution, pairPatternDistribution } from "./toyDistribution";

/**
 * Every check with default settings, plus the Eq. 26-27 checks at d = 1 (where the printed form is
 * well formed), each labelled with its role and claim (claims.ts).
 */
export function runAllDerivationChecks(): CheckResult[] {
  const tag = (rs: CheckResult[], suffix: string) => rs.map((r) => ({ ...r, name: `${r.name}${suffix}` }));
  return labelChecks([
    ...checkEq1VsEq2(),
    ...checkEq25(),
    ...checkEq26(),
    ...tag(checkEq26({ dim: 1 }), "[d=1]"),
    checkEq27Stationary(),
    ...tag([checkEq27Stationary({ dim: 1 })], "[d=1]"),
    ...checkTop1(),
    ...checkContinuousTop1(),
  ]);
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
