/**
 * One-sided upper confidence bounds for the variance shares of a balanced nested study
 * (nested.ts): how large the draw share and the seed share could be, given the data. A point
 * estimate of 0 for the draw share is not "no draw effect"; with 6 draws its bound can be large.
 *
 * Method: exact F-based bounds at the level of model means. With draw a_d, seed b_ds and run
 * errors, a model's mean is mu + a_d + w_ds where w_ds = b_ds + (mean of R run errors) has variance
 * s2W = s2Seed + s2Run / R: a balanced one-way random-effects model of D draws x S models. Its mean
 * squares satisfy E[MS_draw] = R (s2W + S s2Draw), E[MS_seed] = R s2W, independent chi-squares, so
 *   (MS_draw / MS_seed) / (1 + S theta) ~ F(D - 1, D (S - 1)),   theta = s2Draw / s2W,
 * an exact pivot. With f = MS_draw / MS_seed and F_p the p-quantile of that F:
 *   theta <= (f / F_(1-level) - 1) / S   and   theta >= (f / F_level - 1) / S,   each with probability `level`.
 * The draw share of the model-level variance, theta / (1 + theta), and the within-draw share,
 * 1 / (1 + theta), are monotone in theta, so these give exact one-sided bounds for them (truncated
 * to [0, 1]). The shares reported in Table 1 are of s2Draw + s2Seed + s2Run (one run's variance);
 * since s2Run >= s2Run / R,
 *   s2Draw / (s2Draw + s2Seed + s2Run) <= theta / (1 + theta)   and
 *   s2Seed / (s2Draw + s2Seed + s2Run) <= 1 / (1 + theta),
 * so the same bounds hold for the reported shares with coverage >= `level`: exact when the run
 * component is 0, conservative by at most the run share (under 1 % in our studies). Exact bounds
 * exist here, so no bootstrap is needed. Coverage is checked by simulation at our designs in
 * test/nested-stats.test.ts. Needs >= 2 seeds per draw (else draw and seed are one component).
 */
import type { NestedEstimate } from "./nested-types";
import { fQuantile } from "./stats";

export interface ShareUpperBounds {
  /** One-sided confidence level (0.95 in Table 1). */
  level: number;
  /** Upper bound of the draw share s2Draw / (s2Draw + s2Seed + s2Run). */
  draw: number;
  /** Upper bound of the seed share s2Seed / (s2Draw + s2Seed + s2Run). */
  seed: number;
  /** The pivot: observed MS_draw / MS_seed and its F degrees of freedom. */
  f: number;
  dfDraw: number;
  dfSeed: number;
  method: string;
}

/**
 * One-sided `level` upper confidence bounds of the draw share and of the seed share (exact F bounds
 * for the model-level shares, valid and conservative by at most the run share for the shares of
 * s2Draw + s2Seed + s2Run; see the file comment). Each bound covers its share with probability
 * >= `level` on its own (not jointly). Throws with one seed per draw or a degenerate study.
 */
export function shareUpperBounds(n: NestedEstimate, level = 0.95): ShareUpperBounds {
  if (!(level > 0 && level < 1)) throw new Error(`shareUpperBounds: level must lie in (0, 1), got ${level}`);
  const ms = n.meanSquares;
  if (ms.seed === null || n.seedsPerDraw < 2) throw new Error(`share bounds need at least 2 training seeds per dataset draw to separate seed from draw, got ${n.seedsPerDraw}`);
  if (!(ms.seed > 0)) throw new Error(`share bounds need models that differ within a draw (MS_seed = ${ms.seed})`);
  const S = n.seedsPerDraw;
  const f = ms.draw / ms.seed;
  const thetaUpper = Math.max(0, (f / fQuantile(1 - level, ms.dfDraw, ms.dfSeed) - 1) / S);
  const thetaLower = Math.max(0, (f / fQuantile(level, ms.dfDraw, ms.dfSeed) - 1) / S);
  return {
    level, draw: thetaUpper / (1 + thetaUpper), seed: 1 / (1 + thetaLower), f, dfDraw: ms.dfDraw, dfSeed: ms.dfSeed,
    method: `exact F(${ms.dfDraw}, ${ms.dfSeed}) bound on s2Draw / (s2Seed + s2Run / ${n.runsPerModel}); conservative for shares of s2Draw + s2Seed + s2Run`,
  };
}
