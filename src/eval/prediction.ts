/**
 * A prediction interval for ONE trained model: where the score of a single new model of the
 * variant (a new dataset draw, a new training seed, scored as the mean of `runsNew` sampling runs)
 * will fall. This is the yardstick for a single published model (the paper trained one per
 * variant); the interval for the grand mean (nested.ts) answers another question, the mean over
 * models, and shrinks to a point as models are added while this one does not.
 *
 * Under the nested model y_dsr = mu + a_d + b_ds + e_dsr (nested.ts), a new model's score
 * y_new = mu + a + b + mean of runsNew run errors is independent of the study, so
 *   Var(y_new - ybar) = s2Draw + s2Seed + s2Run / runsNew + Var(ybar),   Var(ybar) = E[MS_draw] / (D S R).
 * Each component is a linear combination of the ANOVA mean squares (nested.ts):
 *   s2Draw = (MS_draw - MS_seed) / (S R),  s2Seed = (MS_seed - MS_run) / R,  s2Run = MS_run
 * (with one seed per draw, (MS_draw - MS_run) / R is draw and seed together). Negative estimates:
 * only the SUM s2Draw + s2Seed enters the interval, and it is taken unbiased, without setting each
 * component to 0 first (Table 1's shares do that). Setting a component that is 0 in truth to 0
 * whenever its estimate is negative biases the variance up: with 6 draws and no draw component the
 * interval then covers about 97 % instead of 95 %. The sum is set to 0 only when it is negative
 * (the models then differ less than their runs do). So, for S >= 2 seeds and runsNew = R,
 *   V = MS_draw (D + 1) / (D S R) + MS_seed (S - 1) / (S R),
 * a positive combination of mean squares (with runsNew != R a term MS_run (1 / runsNew - 1 / R) is
 * added). Degrees of freedom: Satterthwaite's for the combination used,
 *   df = V^2 / sum_i (c_i MS_i)^2 / df_i,
 * between about D - 1 (draw component dominant) and about D (S - 1) + (D - 1) (no draw component).
 * Coverage at our designs (6, 14 and 17 draws x 2 seeds x 10 runs; draw component 0, moderate and
 * dominant; seed component 0) is checked by simulation in test/nested-stats.test.ts.
 */
import type { NestedEstimate } from "./nested-types";
import { studentTQuantile } from "./stats";

export interface OneModelPrediction {
  /** Sampling runs the new model is scored over (its score is the mean of these runs). */
  runsNew: number;
  /** Confidence level of the interval (0.95 for the Table 1 interval). */
  level: number;
  /** Centre: the study's grand mean. */
  mean: number;
  /**
   * Estimated Var(y_new - grand mean) and its parts: `model` = s2Draw + s2Seed (unbiased sum, set
   * to 0 only when negative), `run` = s2Run / runsNew, `grandMean` = Var(grand mean).
   */
  variance: number;
  parts: { model: number; run: number; grandMean: number };
  /** Satterthwaite degrees of freedom of `variance`. */
  df: number;
  /** The prediction interval for one new model's score at `level`. */
  interval: [number, number];
}

/**
 * The `level` prediction interval for the score of one new model (new dataset draw, new training
 * seed, `runsNew` sampling runs; default the study's runs per model, so that the interval speaks
 * for the same kind of number as each of our model means) from a balanced nested estimate:
 * grand mean ± t(df) sqrt(s2Draw + s2Seed + s2Run / runsNew + Var(grand mean)), Satterthwaite df,
 * with s2Draw + s2Seed estimated as one unbiased sum (see the file comment).
 * It covers a single model's score, not the mean over models.
 */
export function oneModelPrediction(n: NestedEstimate, o: { runsNew?: number; level?: number } = {}): OneModelPrediction {
  const runsNew = o.runsNew ?? n.runsPerModel;
  const level = o.level ?? 0.95;
  if (!(Number.isInteger(runsNew) && runsNew >= 1)) throw new Error(`oneModelPrediction: runsNew must be a positive integer, got ${runsNew}`);
  if (!(level > 0 && level < 1)) throw new Error(`oneModelPrediction: level must lie in (0, 1), got ${level}`);
  if (n.draws < 2) throw new Error(`oneModelPrediction needs at least 2 dataset draws, got ${n.draws}`);
  const D = n.draws;
  const S = n.seedsPerDraw;
  const R = n.runsPerModel;
  const ms = n.meanSquares;
  // s2Draw + s2Seed, unbiased: (MS_draw - MS_seed) / (S R) + (MS_seed - MS_run) / R, or with one
  // seed per draw (MS_draw - MS_run) / R. Coefficients of MS_draw, MS_seed, MS_run:
  let cA = 1 / (D * S * R); // Var(grand mean)
  let cB = 0;
  let cE = 1 / runsNew; // s2Run / runsNew
  const model = ms.seed !== null ? (ms.draw - ms.seed) / (S * R) + (ms.seed - ms.run) / R : (ms.draw - ms.run) / R;
  if (model > 0) {
    if (ms.seed !== null) {
      cA += 1 / (S * R);
      cB += 1 / R - 1 / (S * R);
    } else cA += 1 / R;
    cE -= 1 / R;
  }
  const parts = { model: Math.max(0, model), run: ms.run / runsNew, grandMean: ms.draw / (D * S * R) };
  const variance = parts.model + parts.run + parts.grandMean;
  const terms = [
    { c: cA, ms: ms.draw, df: ms.dfDraw },
    { c: cB, ms: ms.seed ?? 0, df: ms.dfSeed },
    { c: cE, ms: ms.run, df: ms.dfRun },
  ].filter((t) => t.c !== 0);
  const { df, interval } = satterthwaite(n.grandMean, variance, terms, level, ms.dfDraw);
  return { runsNew, level, mean: n.grandMean, variance, parts, df, interval };
}

/**
 * mean ± t(df) sqrt(variance) for a variance that is the combination sum_i c_i MS_i of mean
 * squares, with Satterthwaite's df = variance^2 / sum_i (c_i MS_i)^2 / df_i. The sum is 0 only when
 * every mean square is 0 (all models identical): any df then gives a zero-width interval, and
 * `dfIfZero` is reported.
 */
function satterthwaite(mean: number, variance: number, terms: { c: number; ms: number; df: number }[], level: number, dfIfZero: number): { df: number; interval: [number, number] } {
  const denom = terms.reduce((a, t) => a + (t.c * t.ms) ** 2 / t.df, 0);
  const df = denom > 0 ? variance ** 2 / denom : dfIfZero;
  const half = studentTQuantile((1 + level) / 2, df) * Math.sqrt(variance);
  return { df, interval: [mean - half, mean + half] };
}

/**
 * The same interval for a design with ONE sampling run per model (a sweep with `--runs 1`): the run
 * variance cannot be separated from the seed's, so it stays inside the seed component, and the
 * interval is for a new model scored over one run. Balanced: `groups` holds, per dataset draw, the
 * S >= 2 models' scores (D >= 2 draws). With y_ds = mu + a_d + b_ds (b: seed and run together),
 *   V = MS_draw (D + 1) / (D S) + MS_seed (S - 1) / S,
 * which is the R = 1 case of oneModelPrediction's formula (positive, so never clipped), with
 * Satterthwaite df over MS_draw (D - 1 df) and MS_seed (D (S - 1) df). Coverage is checked by
 * simulation in test/nested-stats.test.ts.
 */
export function oneRunPrediction(groups: readonly (readonly number[])[], o: { level?: number } = {}): OneModelPrediction {
  const level = o.level ?? 0.95;
  if (!(level > 0 && level < 1)) throw new Error(`oneRunPrediction: level must lie in (0, 1), got ${level}`);
  const D = groups.length;
  if (D < 2) throw new Error(`oneRunPrediction needs at least 2 dataset draws, got ${D}`);
  const S = groups[0].length;
  if (S < 2) throw new Error(`oneRunPrediction needs at least 2 seeds per draw, got ${S}`);
  groups.forEach((g, d) => {
    if (g.length !== S) throw new Error(`oneRunPrediction: unbalanced design, draw ${d} has ${g.length} models, draw 0 has ${S}`);
  });
  const drawMean = groups.map((g) => g.reduce((a, x) => a + x, 0) / S);
  const grand = drawMean.reduce((a, x) => a + x, 0) / D;
  const msDraw = (S * drawMean.reduce((a, m) => a + (m - grand) ** 2, 0)) / (D - 1);
  const msSeed = groups.reduce((a, g, d) => a + g.reduce((b, x) => b + (x - drawMean[d]) ** 2, 0), 0) / (D * (S - 1));
  const terms = [
    { c: (D + 1) / (D * S), ms: msDraw, df: D - 1 },
    { c: (S - 1) / S, ms: msSeed, df: D * (S - 1) },
  ];
  const variance = terms.reduce((a, t) => a + t.c * t.ms, 0);
  const { df, interval } = satterthwaite(grand, variance, terms, level, D - 1);
  const parts = { model: (msDraw - msSeed) / S + msSeed, run: 0, grandMean: msDraw / (D * S) };
  return { runsNew: 1, level, mean: grand, variance, parts, df, interval };
}
