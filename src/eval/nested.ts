/**
 * A study of many trained models: dataset draws, training seeds nested in draws, sampling runs
 * nested in models. The one-way t-interval over runs of one model says nothing about another
 * model; these are the numbers that speak for "a model of this variant".
 *
 * Model: y_dsr = mu + a_d + b_ds + e_dsr, with a_d ~ N(0, s2Draw), b_ds ~ N(0, s2Seed),
 * e_dsr ~ N(0, s2Run) (balanced nested random effects). Variance components by the ANOVA
 * (method-of-moments) estimator, negative estimates set to 0:
 *   MS_E = sum (y - ybar_ds)^2 / (D S (R - 1))          E = s2Run
 *   MS_B = R sum (ybar_ds - ybar_d)^2 / (D (S - 1))      E = s2Run + R s2Seed
 *   MS_A = S R sum (ybar_d - ybar)^2 / (D - 1)           E = s2Run + R s2Seed + S R s2Draw
 * The grand mean's variance is E[MS_A] / (D S R), estimated by MS_A / (D S R), with D - 1 degrees
 * of freedom: the 95 % interval is ybar +- t(0.975, D - 1) sqrt(MS_A / (D S R)).
 */
import { DrawMeansInterval, drawMeansInterval, drawMeans, groupByDraw } from "./draw-means";
import { fiellerRatio, RatioInterval } from "./fieller";
import { oneModelPrediction, OneModelPrediction, oneRunPrediction } from "./prediction";
import { shareUpperBounds, ShareUpperBounds } from "./share-bounds";
import { studentTQuantile, summarize, Summary } from "./stats";

export type { ModelRuns, NestedEstimate } from "./nested-types";
import type { ModelRuns, NestedEstimate } from "./nested-types";

export interface StudySummary {
  /** Every model's mean over its runs, draw-major. */
  models: { dataSeed: number; seed: number; mean: number; runs: number }[];
  /**
   * Over model means (one value per trained model): mean, std, t-interval with models - 1 df. The
   * interval treats models as independent, which they are only when they share one dataset draw;
   * the interval Table 1 shows is `meanInterval`.
   */
  overModels: Summary;
  /** The nested estimate, when the design is balanced with >= 2 draws (else null). */
  nested: NestedEstimate | null;
  /** Why `nested` is null, if it is. */
  nestedNote: string | null;
  /** Mean over dataset draws with a t-interval over draw means (any design with >= 2 draws; else null). */
  overDraws?: DrawMeansInterval | null;
  /** The 95 % interval for the mean over models that Table 1 shows, with what it covers (null with one model). */
  meanInterval?: MeanInterval | null;
  /** The 95 % prediction interval for one new model (balanced designs only; else null and `predictionNote`). */
  prediction?: OneModelPrediction | null;
  predictionNote?: string | null;
  /** One-sided 95 % upper bounds of the draw and seed shares (balanced, >= 2 seeds per draw; else null and `shareBoundsNote`). */
  shareBounds?: ShareUpperBounds | null;
  shareBoundsNote?: string | null;
}

/** The interval for the mean over models, what it covers and how it was made. */
export interface MeanInterval {
  over: "draws (nested)" | "draw means (unbalanced design)" | "trained models (one dataset draw)";
  estimand: string;
  mean: number;
  ci95: [number, number];
  df: number;
}

const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

/** The balanced nested estimate; throws when the design is not balanced or too small. */
export function nestedEstimate(models: readonly ModelRuns[]): NestedEstimate {
  const groups = groupByDraw(models);
  const D = groups.length;
  const S = groups[0]?.length ?? 0;
  const R = groups[0]?.[0]?.values.length ?? 0;
  if (D < 2) throw new Error(`nested estimate needs at least 2 dataset draws, got ${D}`);
  if (S < 1 || R < 2) throw new Error(`nested estimate needs at least 1 seed per draw and 2 runs per model, got ${S} and ${R}`);
  for (const g of groups) {
    if (g.length !== S) throw new Error(`unbalanced design: draw ${g[0].dataSeed} has ${g.length} models, draw ${groups[0][0].dataSeed} has ${S}`);
    for (const m of g) if (m.values.length !== R) throw new Error(`unbalanced design: model (draw ${m.dataSeed}, seed ${m.seed}) has ${m.values.length} runs, others ${R}`);
  }
  const modelMeans = groups.map((g) => g.map((m) => mean(m.values)));
  const drawMeans = modelMeans.map(mean);
  const grand = mean(drawMeans);
  let sse = 0;
  groups.forEach((g, d) => g.forEach((m, s) => { for (const y of m.values) sse += (y - modelMeans[d][s]) ** 2; }));
  let ssb = 0;
  modelMeans.forEach((ms, d) => { for (const x of ms) ssb += (x - drawMeans[d]) ** 2; });
  let ssa = 0;
  for (const x of drawMeans) ssa += (x - grand) ** 2;
  const msE = sse / (D * S * (R - 1));
  const msB = S > 1 ? (R * ssb) / (D * (S - 1)) : NaN;
  const msA = (S * R * ssa) / (D - 1);
  const s2Run = msE;
  // With one seed per draw, seed and draw effects cannot be told apart: their sum is reported as "draw".
  const s2Seed = S > 1 ? Math.max(0, (msB - msE) / R) : 0;
  const s2Draw = Math.max(0, (msA - (S > 1 ? msB : msE)) / (S * R));
  const total = s2Draw + s2Seed + s2Run;
  const se = Math.sqrt(msA / (D * S * R));
  const half = studentTQuantile(0.975, D - 1) * se;
  return {
    draws: D, seedsPerDraw: S, runsPerModel: R, grandMean: grand, s2Draw, s2Seed, s2Run,
    shares: { draw: total > 0 ? s2Draw / total : 0, seed: total > 0 ? s2Seed / total : 0, run: total > 0 ? s2Run / total : 0 },
    meanSquares: { draw: msA, seed: S > 1 ? msB : null, run: msE, dfDraw: D - 1, dfSeed: D * (S - 1), dfRun: D * S * (R - 1) },
    se, df: D - 1, ci95: [grand - half, grand + half],
  };
}

/**
 * The design needed for a target half-width of the grand mean's 95 % interval, from estimated
 * components: the fewest dataset draws D (with `seedsPerDraw` seeds and `runsPerModel` runs each)
 * such that t(0.975, D - 1) sqrt((s2Run + R s2Seed + S R s2Draw) / (D S R)) <= halfWidth.
 * An expected width (the components are estimates); null when no D up to `maxDraws` reaches it.
 */
export function drawsNeeded(
  n: Pick<NestedEstimate, "s2Draw" | "s2Seed" | "s2Run">, halfWidth: number,
  o: { seedsPerDraw: number; runsPerModel: number; maxDraws?: number },
): { draws: number; models: number; halfWidth: number } | null {
  const S = o.seedsPerDraw;
  const R = o.runsPerModel;
  const msA = n.s2Run + R * n.s2Seed + S * R * n.s2Draw;
  for (let D = 2; D <= (o.maxDraws ?? 1000); D++) {
    const h = studentTQuantile(0.975, D - 1) * Math.sqrt(msA / (D * S * R));
    if (h <= halfWidth) return { draws: D, models: D * S, halfWidth: h };
  }
  return null;
}

/**
 * The 95 % interval for the mean over models a study supports: the nested one (balanced, >= 2
 * draws; covers the grand mean), else a t-interval over draw means (>= 2 draws, unbalanced; covers
 * the mean over draws, draw-means.ts), else with one dataset draw the t-interval over models (they
 * are independent given the draw; covers the mean on that draw only). Null with a single model.
 * Never the interval over models when they span several draws: it would treat models sharing a
 * draw as independent and under-cover.
 */
export function meanIntervalOf(models: readonly ModelRuns[], nested: NestedEstimate | null): MeanInterval | null {
  if (nested) return { over: "draws (nested)", estimand: "mean over models (grand mean of the balanced nested design)", mean: nested.grandMean, ci95: nested.ci95, df: nested.df };
  const draws = new Set(models.map((m) => m.dataSeed)).size;
  if (draws >= 2) {
    const d = drawMeansInterval(models);
    return { over: "draw means (unbalanced design)", estimand: d.estimand, mean: d.mean, ci95: d.ci95, df: d.df };
  }
  if (models.length < 2) return null;
  const s = summarize(models.map((m) => mean(m.values)));
  return { over: "trained models (one dataset draw)", estimand: "mean over models trained on this one dataset draw (not over draws)", mean: s.mean, ci95: s.ci95, df: s.n - 1 };
}

/** At least 2 draws, each with the same number (>= 2) of models. */
function balancedOneRun(models: readonly ModelRuns[]): boolean {
  const groups = groupByDraw(models);
  return groups.length >= 2 && groups[0].length >= 2 && groups.every((g) => g.length === groups[0].length);
}

/**
 * Per-model means, the summary over models, the nested estimate where the design allows it, the
 * interval for the mean over models (`meanIntervalOf`), and for balanced designs the one-model
 * prediction interval (prediction.ts; `runsNew` runs, default the study's) and the share bounds
 * (share-bounds.ts); each missing piece comes with the reason.
 */
export function studySummary(models: readonly ModelRuns[], o: { runsNew?: number } = {}): StudySummary {
  if (models.length === 0) throw new Error("studySummary: no models");
  const sorted = groupByDraw(models).flat();
  const means = sorted.map((m) => ({ dataSeed: m.dataSeed, seed: m.seed, mean: mean(m.values), runs: m.values.length }));
  let nested: NestedEstimate | null = null;
  let nestedNote: string | null = null;
  try {
    nested = nestedEstimate(sorted);
  } catch (e) {
    nestedNote = (e as Error).message;
  }
  const draws = new Set(sorted.map((m) => m.dataSeed)).size;
  const overDraws = draws >= 2 ? drawMeansInterval(sorted) : null;
  let prediction: OneModelPrediction | null = null;
  let predictionNote: string | null = null;
  let shareBounds: ShareUpperBounds | null = null;
  let shareBoundsNote: string | null = null;
  if (nested) {
    prediction = oneModelPrediction(nested, { runsNew: o.runsNew });
    try {
      shareBounds = shareUpperBounds(nested);
    } catch (e) {
      shareBoundsNote = (e as Error).message;
    }
  } else if (sorted.every((m) => m.values.length === 1) && balancedOneRun(sorted)) {
    prediction = oneRunPrediction(groupByDraw(sorted).map((g) => g.map((m) => m.values[0])));
    predictionNote = "one sampling run per model: the run variance stays inside the seed component, and the interval is for a new model scored over one run";
    shareBoundsNote = `no share bounds: they need the balanced nested estimate (${nestedNote})`;
  } else {
    predictionNote = `no one-model prediction interval: it needs the balanced nested estimate (${nestedNote})`;
    shareBoundsNote = `no share bounds: they need the balanced nested estimate (${nestedNote})`;
  }
  return {
    models: means, overModels: summarize(means.map((m) => m.mean)), nested, nestedNote, overDraws,
    meanInterval: meanIntervalOf(sorted, nested), prediction, predictionNote, shareBounds, shareBoundsNote,
  };
}

/**
 * Difference of two variants' grand means with a 95 % t-interval over dataset draws, paired by
 * draw (both variants trained on the same draws): d_i = mean_a(draw i) - mean_b(draw i).
 */
export function pairedDrawDifference(a: readonly ModelRuns[], b: readonly ModelRuns[]): { mean: number; ci95: [number, number]; draws: number } {
  const { xa, xb } = commonDrawMeans(a, b, "paired difference");
  const s = summarize(xa.map((x, i) => x - xb[i]));
  return { mean: s.mean, ci95: s.ci95, draws: xa.length };
}

/** Both variants' draw means on their common draws (in draw order); throws with fewer than 2. */
function commonDrawMeans(a: readonly ModelRuns[], b: readonly ModelRuns[], what: string): { xa: number[]; xb: number[] } {
  const ma = drawMeans(a);
  const mb = drawMeans(b);
  const common = [...ma.keys()].filter((d) => mb.has(d));
  if (common.length < 2) throw new Error(`${what} needs >= 2 common dataset draws, got ${common.length}`);
  return { xa: common.map((d) => ma.get(d)!), xb: common.map((d) => mb.get(d)!) };
}

/**
 * Ratio of two variants' grand means, paired by dataset draw, by Fieller's method (fieller.ts) on
 * the draw means of both variants (their covariance across draws included), t with draws - 1 df.
 * Covers mean_a / mean_b over draws; an unbounded set (the denominator not significantly different
 * from 0) is reported as such.
 */
export function pairedDrawRatio(a: readonly ModelRuns[], b: readonly ModelRuns[]): RatioInterval {
  const { xa, xb } = commonDrawMeans(a, b, "paired ratio");
  return fiellerRatio(xa, xb);
}
