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
import { studentTQuantile, summarize, Summary } from "./stats";

/** One model's runs: its dataset draw, training seed and one value per sampling run. */
export interface ModelRuns {
  dataSeed: number;
  seed: number;
  values: number[];
}

export interface NestedEstimate {
  draws: number;
  seedsPerDraw: number;
  runsPerModel: number;
  grandMean: number;
  /** Variance components (>= 0) and their shares of the total. */
  s2Draw: number;
  s2Seed: number;
  s2Run: number;
  shares: { draw: number; seed: number; run: number };
  /** Standard error of the grand mean and its 95 % interval (t with draws - 1 df). */
  se: number;
  df: number;
  ci95: [number, number];
}

export interface StudySummary {
  /** Every model's mean over its runs, draw-major. */
  models: { dataSeed: number; seed: number; mean: number; runs: number }[];
  /** Over model means (one value per trained model): mean, std, t-interval with models - 1 df. */
  overModels: Summary;
  /** The nested estimate, when the design is balanced with >= 2 draws (else null). */
  nested: NestedEstimate | null;
  /** Why `nested` is null, if it is. */
  nestedNote: string | null;
}

const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

/** Group models by draw (draws sorted by seed, models within a draw by training seed). */
function byDraw(models: readonly ModelRuns[]): ModelRuns[][] {
  const draws = [...new Set(models.map((m) => m.dataSeed))].sort((a, b) => a - b);
  return draws.map((d) => models.filter((m) => m.dataSeed === d).sort((a, b) => a.seed - b.seed));
}

/** The balanced nested estimate; throws when the design is not balanced or too small. */
export function nestedEstimate(models: readonly ModelRuns[]): NestedEstimate {
  const groups = byDraw(models);
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

/** Per-model means, the summary over models, and the nested estimate where the design allows it. */
export function studySummary(models: readonly ModelRuns[]): StudySummary {
  if (models.length === 0) throw new Error("studySummary: no models");
  const sorted = byDraw(models).flat();
  const means = sorted.map((m) => ({ dataSeed: m.dataSeed, seed: m.seed, mean: mean(m.values), runs: m.values.length }));
  let nested: NestedEstimate | null = null;
  let nestedNote: string | null = null;
  try {
    nested = nestedEstimate(sorted);
  } catch (e) {
    nestedNote = (e as Error).message;
  }
  return { models: means, overModels: summarize(means.map((m) => m.mean)), nested, nestedNote };
}

/**
 * Difference of two variants' grand means with a 95 % t-interval over dataset draws, paired by
 * draw (both variants trained on the same draws): d_i = mean_a(draw i) - mean_b(draw i).
 */
export function pairedDrawDifference(a: readonly ModelRuns[], b: readonly ModelRuns[]): { mean: number; ci95: [number, number]; draws: number } {
  const drawMeans = (ms: readonly ModelRuns[]) => new Map(byDraw(ms).map((g) => [g[0].dataSeed, mean(g.map((m) => mean(m.values)))]));
  const ma = drawMeans(a);
  const mb = drawMeans(b);
  const common = [...ma.keys()].filter((d) => mb.has(d));
  if (common.length < 2) throw new Error(`paired difference needs >= 2 common dataset draws, got ${common.length}`);
  const diffs = common.map((d) => ma.get(d)! - mb.get(d)!);
  const s = summarize(diffs);
  return { mean: s.mean, ci95: s.ci95, draws: common.length };
}

/**
 * Ratio of two variants' grand means with a 95 % percentile interval from a cluster bootstrap over
 * dataset draws (draws resampled with replacement, the same draws for both variants). With few
 * draws this interval is rough; it is reported beside the paired difference, not instead of it.
 */
export function bootstrapDrawRatio(
  a: readonly ModelRuns[], b: readonly ModelRuns[], o: { resamples?: number; seed?: number } = {},
): { ratio: number; ci95: [number, number]; draws: number; resamples: number } {
  const drawMeans = (ms: readonly ModelRuns[]) => new Map(byDraw(ms).map((g) => [g[0].dataSeed, mean(g.map((m) => mean(m.values)))]));
  const ma = drawMeans(a);
  const mb = drawMeans(b);
  const common = [...ma.keys()].filter((d) => mb.has(d));
  if (common.length < 2) throw new Error(`bootstrap ratio needs >= 2 common dataset draws, got ${common.length}`);
  const xa = common.map((d) => ma.get(d)!);
  const xb = common.map((d) => mb.get(d)!);
  const B = o.resamples ?? 10000;
  // A small deterministic generator (xorshift32): the interval is reproducible from the seed.
  let state = (o.seed ?? 12345) >>> 0 || 1;
  const next = () => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state / 4294967296;
  };
  const ratios: number[] = [];
  for (let i = 0; i < B; i++) {
    let sa = 0;
    let sb = 0;
    for (let j = 0; j < common.length; j++) {
      const k = Math.floor(next() * common.length);
      sa += xa[k];
      sb += xb[k];
    }
    ratios.push(sb > 0 ? sa / sb : Infinity);
  }
  ratios.sort((x, y) => x - y);
  const q = (p: number) => ratios[Math.min(B - 1, Math.max(0, Math.round(p * (B - 1))))];
  return { ratio: mean(xa) / mean(xb), ci95: [q(0.025), q(0.975)], draws: common.length, resamples: B };
}
