/**
 * The mean over dataset draws with a t-interval over draw means: the interval for a study whose
 * design is not balanced (draws with different numbers of models, models with different numbers
 * of runs, as after a partial slice or a merge), where the nested ANOVA (nested.ts) does not apply.
 *
 * Estimand: the mean over dataset draws of each draw's mean over its models (each model scored as
 * the mean of its runs); under the nested model this is the population mean mu, each draw
 * weighted equally whatever its number of models. Draw means are independent (different draws,
 * different seeds), each normal with mean mu and variance s2Draw + (s2Seed + s2Run / R) / S_d, so
 * the t-interval over draw means with D - 1 degrees of freedom is exact when the draws hold equal
 * numbers of models and runs, and close to it otherwise (the variances differ at most by the
 * within-draw part; coverage checked by simulation in test/nested-stats.test.ts). Models are not
 * independent of each other across a shared draw, so an interval over models would under-cover.
 */
import type { ModelRuns } from "./nested-types";
import { summarize } from "./stats";

const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

/** Group models by draw (draws sorted by seed, models within a draw by training seed). */
export function groupByDraw(models: readonly ModelRuns[]): ModelRuns[][] {
  const draws = [...new Set(models.map((m) => m.dataSeed))].sort((a, b) => a - b);
  return draws.map((d) => models.filter((m) => m.dataSeed === d).sort((a, b) => a.seed - b.seed));
}

/** Each draw's mean over its models (each model's mean over its runs), by draw seed. */
export function drawMeans(models: readonly ModelRuns[]): Map<number, number> {
  return new Map(groupByDraw(models).map((g) => [g[0].dataSeed, mean(g.map((m) => mean(m.values)))]));
}

export interface DrawMeansInterval {
  /** What the interval covers. */
  estimand: "mean over dataset draws of each draw's mean over its models";
  mean: number;
  draws: number;
  /** Standard error (std of draw means / sqrt(draws)) and the t's degrees of freedom (draws - 1). */
  se: number;
  df: number;
  ci95: [number, number];
}

/**
 * Mean over dataset draws of the draw means, with a 95 % t-interval over draw means (draws - 1 df).
 * Valid for any design with >= 2 draws, balanced or not; throws with fewer draws or a model with no runs.
 */
export function drawMeansInterval(models: readonly ModelRuns[]): DrawMeansInterval {
  for (const m of models) if (m.values.length === 0) throw new Error(`model (draw ${m.dataSeed}, seed ${m.seed}) has no runs`);
  const xs = [...drawMeans(models).values()];
  if (xs.length < 2) throw new Error(`an interval over dataset draws needs at least 2 draws, got ${xs.length}`);
  const s = summarize(xs);
  return { estimand: "mean over dataset draws of each draw's mean over its models", mean: s.mean, draws: xs.length, se: s.std / Math.sqrt(xs.length), df: xs.length - 1, ci95: s.ci95 };
}
