/**
 * Table 1: metric summaries per model (over sampling runs and over training seeds), the random
 * baseline, and the paper's numbers beside ours, as rows ready for JSON, CSV, Markdown or danfo.
 */
import { paperConsistency, Variant } from "../model/variants";
import { METRIC_NAMES, MetricName, MetricValues } from "./metrics";
import { RatioInterval } from "./fieller";
import { drawsNeeded, meanIntervalOf, ModelRuns, pairedDrawDifference, pairedDrawRatio, studySummary, StudySummary } from "./nested";
import { paperPosition, PaperPosition } from "./paper-position";
import { summarize, Summary } from "./stats";

export interface RunMetrics {
  variant: Variant;
  /** The model's dataset draw. */
  dataSeed: number;
  seed: number;
  run: number;
  weights: "ema" | "raw";
  metrics: MetricValues;
}

export interface ModelSummary {
  model: Variant | "random";
  weights: "ema" | "raw" | "-";
  /** Over all sampling runs of all trained models (the study's runs: run < `runs`). */
  perRun: Record<MetricName, Summary>;
  /** Over training seeds, each seed's mean over its runs (n = number of seeds). */
  perSeed: Record<MetricName, Summary> | null;
  seeds: number[];
  runs: number;
  paper: number | null;
  /**
   * The headline `functional` over trained models: per-model means, the summary over models and
   * the nested (draw / seed / run) estimate with its interval. Absent for the random baseline.
   */
  study?: StudySummary;
  /**
   * The paper's value among our trained models: percentile among our per-model means, how many of
   * ours reach it, whether it lies in our one-model prediction interval. Absent for the baseline.
   */
  paperAmongModels?: PaperPosition | null;
  /** The paper's protocol: the first model's `protocolRuns` runs (`functional` and every metric), when run. */
  protocol?: { dataSeed: number; seed: number; perRun: Record<MetricName, Summary> } | null;
}

/** Options of `summarizeRuns`: which runs form the many-model table and which model carries the protocol. */
export interface SummaryOptions {
  /** Runs per model in the study table (run indices below this); default: all runs. */
  runsPerModel?: number;
  /** The model with the paper's protocol and its run count. */
  protocol?: { dataSeed: number; seed: number; runs: number } | null;
}

function byMetric(rows: MetricValues[]): Record<MetricName, Summary> {
  return Object.fromEntries(METRIC_NAMES.map((m) => [m, summarize(rows.map((r) => r[m]))])) as Record<MetricName, Summary>;
}

/** Summaries per (variant, weights) in `variants` order. */
export function summarizeRuns(all: RunMetrics[], variants: readonly Variant[], o: SummaryOptions = {}): ModelSummary[] {
  const out: ModelSummary[] = [];
  const perModelRuns = o.runsPerModel ?? Infinity;
  for (const v of variants) {
    for (const w of ["ema", "raw"] as const) {
      const mine = all.filter((r) => r.variant === v && r.weights === w);
      const rows = mine.filter((r) => r.run < perModelRuns);
      if (rows.length === 0) continue;
      const seeds = [...new Set(rows.map((r) => r.seed))].sort((a, b) => a - b);
      const seedMeans = seeds.map((s) => {
        const ms = rows.filter((r) => r.seed === s).map((r) => r.metrics);
        return Object.fromEntries(METRIC_NAMES.map((m) => [m, ms.reduce((a, r) => a + r[m], 0) / ms.length])) as MetricValues;
      });
      const models: ModelRuns[] = seeds.map((s) => {
        const ms = rows.filter((r) => r.seed === s).sort((a, b) => a.run - b.run);
        return { dataSeed: ms[0].dataSeed, seed: s, values: ms.map((r) => r.metrics.functional) };
      });
      let protocol: ModelSummary["protocol"] = null;
      if (o.protocol) {
        const p = o.protocol;
        const pr = mine.filter((r) => r.seed === p.seed && r.dataSeed === p.dataSeed && r.run < p.runs);
        if (pr.length > 0) protocol = { dataSeed: p.dataSeed, seed: p.seed, perRun: byMetric(pr.map((r) => r.metrics)) };
      }
      const study = studySummary(models);
      const paper = paperConsistency(v);
      const center = study.meanInterval?.mean ?? study.overModels.mean;
      const paperAmongModels = paper === null ? null : paperPosition(paper, study.models.map((m) => m.mean), center, study.prediction?.interval ?? null);
      out.push({
        model: v, weights: w, perRun: byMetric(rows.map((r) => r.metrics)),
        perSeed: seeds.length > 1 ? byMetric(seedMeans) : null,
        seeds, runs: rows.length, paper, study, paperAmongModels, protocol,
      });
    }
  }
  return out;
}

/** The random baseline as a summary row (Monte Carlo runs), with the exact values beside it. */
export function baselineSummary(mc: MetricValues[]): ModelSummary {
  return { model: "random", weights: "-", perRun: byMetric(mc), perSeed: null, seeds: [], runs: mc.length, paper: paperConsistency("random") };
}

/**
 * Flat Table 1 rows: one per model, columns `<metric>_mean`, `_std`, `_ci_lo`, `_ci_hi` (over all
 * runs), seed spread, over models: the interval for the mean over models
 * (`functional_mean_over_models_ci_*`, with what it is over), the one-model prediction interval
 * (`functional_one_model_pi_*`), the variance shares and their upper bounds, the paper's protocol,
 * the paper's value and its place among our models (`paper_*`).
 */
export function table1Rows(summaries: ModelSummary[], exact?: MetricValues): Record<string, string | number>[] {
  return summaries.map((s) => {
    const row: Record<string, string | number> = { model: s.model, weights: s.weights, runs: s.runs, seeds: s.seeds.join(" ") };
    for (const m of METRIC_NAMES) {
      const x = s.perRun[m];
      row[`${m}_mean`] = x.mean;
      row[`${m}_std`] = x.std;
      row[`${m}_ci_lo`] = x.ci95[0];
      row[`${m}_ci_hi`] = x.ci95[1];
    }
    const f = s.perSeed?.functional;
    row.functional_seed_min = f ? f.min : s.perRun.functional.mean;
    row.functional_seed_max = f ? f.max : s.perRun.functional.mean;
    row.functional_seed_std = f ? f.std : NaN;
    // Over trained models (one value per model), and the nested draw / seed / run estimate. No
    // t-interval over models here: models sharing a dataset draw are not independent, so with
    // several draws it under-covers; the interval for the mean is functional_mean_over_models_ci_*.
    const st = s.study;
    row.models = st ? st.models.length : 0;
    row.functional_models_mean = st ? st.overModels.mean : NaN;
    row.functional_models_std = st ? st.overModels.std : NaN;
    const n = st?.nested;
    row.functional_nested_ci_lo = n ? n.ci95[0] : NaN;
    row.functional_nested_ci_hi = n ? n.ci95[1] : NaN;
    // The interval for the mean over models (nested; over draw means when unbalanced; over models on one draw).
    const mi = st ? studyMeanInterval(st) : null;
    row.functional_mean_over_models_ci_lo = mi ? mi.ci95[0] : NaN;
    row.functional_mean_over_models_ci_hi = mi ? mi.ci95[1] : NaN;
    row.functional_mean_over_models_ci_over = mi ? mi.over : "";
    // Where one new model (new draw, new seed) will fall: the yardstick for a single model.
    const pi = st?.prediction;
    row.functional_one_model_pi_lo = pi ? pi.interval[0] : NaN;
    row.functional_one_model_pi_hi = pi ? pi.interval[1] : NaN;
    row.functional_one_model_pi_df = pi ? pi.df : NaN;
    row.functional_one_model_pi_runs = pi ? pi.runsNew : NaN;
    row.share_draw = n ? n.shares.draw : NaN;
    row.share_seed = n ? n.shares.seed : NaN;
    row.share_run = n ? n.shares.run : NaN;
    row.share_draw_upper95 = st?.shareBounds ? st.shareBounds.draw : NaN;
    row.share_seed_upper95 = st?.shareBounds ? st.shareBounds.seed : NaN;
    const pr = s.protocol?.perRun.functional;
    row.protocol_runs = pr ? pr.n : 0;
    row.functional_protocol_mean = pr ? pr.mean : NaN;
    row.functional_protocol_std = pr ? pr.std : NaN;
    row.functional_protocol_ci_lo = pr ? pr.ci95[0] : NaN;
    row.functional_protocol_ci_hi = pr ? pr.ci95[1] : NaN;
    row.exact = s.model === "random" && exact ? exact.functional : NaN;
    row.paper = s.paper ?? NaN;
    const pp = s.paperAmongModels;
    row.paper_percentile_among_models = pp ? pp.percentile : NaN;
    row.paper_side_of_our_mean = pp ? pp.side : "";
    row.paper_models_at_or_beyond = pp ? pp.atOrBeyond : NaN;
    row.paper_in_one_model_pi = pp && pp.inPredictionInterval !== null ? (pp.inPredictionInterval ? "yes" : "no") : "";
    return row;
  });
}

/**
 * The study's interval for the mean over models (`StudySummary.meanInterval`; recomputed from the
 * per-model means for a summary stored before that field existed). Null with a single model.
 */
export function studyMeanInterval(st: StudySummary): NonNullable<StudySummary["meanInterval"]> | null {
  if (st.meanInterval !== undefined) return st.meanInterval;
  return meanIntervalOf(st.models.map((m) => ({ dataSeed: m.dataSeed, seed: m.seed, values: [m.mean] })), st.nested);
}

/**
 * The interval for the mean over models of this variant (answers "what is the mean over models",
 * not "where does one model fall": that is the prediction interval): nested over draws, over draw
 * means when the design is unbalanced, over models when they share one draw, else over runs.
 */
export function headlineInterval(s: ModelSummary): { ci95: [number, number]; over: NonNullable<StudySummary["meanInterval"]>["over"] | "runs" } {
  const mi = s.study ? studyMeanInterval(s.study) : null;
  if (mi) return { ci95: mi.ci95, over: mi.over };
  return { ci95: s.perRun.functional.ci95, over: "runs" };
}

/** Comparisons between variants over the study's dataset draws (paired by draw). */
export interface VariantComparison {
  a: Variant;
  b: Variant;
  /** mean_a - mean_b, t-interval over draws. */
  difference: { mean: number; ci95: [number, number]; draws: number };
  /** mean_a / mean_b, Fieller's interval from the draw means (t with draws - 1 df); may be unbounded. */
  ratio: RatioInterval;
}

/** Every ordered pair (a before b in `order`) whose models span >= 2 common draws. */
export function compareVariants(summaries: ModelSummary[], order: readonly Variant[]): VariantComparison[] {
  const runsOf = (v: Variant): ModelRuns[] | null => {
    const s = summaries.find((x) => x.model === v && x.weights !== "raw");
    return s?.study ? s.study.models.map((m) => ({ dataSeed: m.dataSeed, seed: m.seed, values: [m.mean] })) : null;
  };
  const out: VariantComparison[] = [];
  // Each later variant against each earlier one (attention vs cnn, ..., top1 vs identity).
  for (let i = 0; i < order.length; i++) {
    for (let j = 0; j < i; j++) {
      const a = runsOf(order[i]);
      const b = runsOf(order[j]);
      if (!a || !b) continue;
      const draws = new Set(a.map((m) => m.dataSeed));
      if ([...new Set(b.map((m) => m.dataSeed))].filter((d) => draws.has(d)).length < 2) continue;
      out.push({ a: order[i], b: order[j], difference: pairedDrawDifference(a, b), ratio: pairedDrawRatio(a, b) });
    }
  }
  return out;
}

/**
 * Diverged samples (a NaN or infinite value; counted as failing every rule) per model, or null
 * when there were none: the note printed under Table 1.
 */
export function nonFiniteNote(runs: { variant: string; samples: number; nonFiniteSamples?: number }[]): string | null {
  const by = new Map<string, { bad: number; total: number }>();
  for (const r of runs) {
    const e = by.get(r.variant) ?? { bad: 0, total: 0 };
    e.bad += r.nonFiniteSamples ?? 0;
    e.total += r.samples;
    by.set(r.variant, e);
  }
  const parts = [...by].filter(([, e]) => e.bad > 0).map(([v, e]) => `${v} ${e.bad} of ${e.total.toLocaleString("en-US")}`);
  return parts.length === 0 ? null : `Samples whose sampling chain diverged (a NaN or infinite value; counted as failing every rule): ${parts.join("; ")}.`;
}

export function toCsv(rows: Record<string, string | number>[]): string {
  if (rows.length === 0) return "";
  const cols = Object.keys(rows[0]);
  const cell = (v: string | number) => (typeof v === "number" ? (Number.isNaN(v) ? "" : String(v)) : /[",\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);
  return [cols.join(","), ...rows.map((r) => cols.map((c) => cell(r[c])).join(","))].join("\n") + "\n";
}

const pct = (x: number) => (Number.isFinite(x) ? `${(100 * x).toFixed(2)} %` : "-");

/** Markdown Table 1: headline `functional` with interval, the other rules beside it, the paper's number. */
export function table1Markdown(summaries: ModelSummary[], exact?: MetricValues, comparisons: VariantComparison[] = []): string {
  const many = summaries.some((s) => s.study && s.study.models.length > 1);
  return many ? studyMarkdown(summaries, exact, comparisons) : runsMarkdown(summaries, exact);
}

/** One trained model per variant: mean ± std and interval over sampling runs. */
function runsMarkdown(summaries: ModelSummary[], exact?: MetricValues): string {
  const head = "| model | functional (headline), mean ± std over runs | 95 % CI (over seed means when several seeds, else over runs) | seed range | bijective | strict | functionalLoose | validQuadrants | novel | paper |";
  const lines = [head, "|" + " --- |".repeat(10)];
  for (const s of summaries) {
    const f = s.perRun.functional;
    const seedRange = s.perSeed ? `${pct(s.perSeed.functional.min)} - ${pct(s.perSeed.functional.max)}` : "-";
    const name = s.model === "random" ? `random (exact ${exact ? pct(exact.functional) : "-"})` : `${s.model}${s.weights === "raw" ? " (raw weights)" : ""}`;
    const ci = s.perSeed ? s.perSeed.functional.ci95 : f.ci95;
    lines.push(`| ${name} | ${pct(f.mean)} ± ${pct(f.std)} | ${pct(ci[0])} - ${pct(ci[1])} | ${seedRange} | ${pct(s.perRun.bijective.mean)} | ${pct(s.perRun.strict.mean)} | ${pct(s.perRun.functionalLoose.mean)} | ${pct(s.perRun.validQuadrants.mean)} | ${pct(s.perRun.novel.mean)} | ${s.paper === null ? "-" : pct(s.paper)} |`);
  }
  return lines.join("\n") + "\n";
}

const inside = (x: number | null, ci: [number, number]) => (x === null ? "-" : x >= ci[0] && x <= ci[1] ? "yes" : "no");

/** A ratio's confidence set as text: an interval, or what an unbounded one excludes. */
export function ratioSetText(r: RatioInterval): string {
  const x = (v: number) => (Number.isFinite(v) ? `${v.toFixed(2)}x` : "-");
  if (r.interval) return `${x(r.interval[0])} - ${x(r.interval[1])}`;
  if (r.excluded) return `unbounded (every ratio except ${x(r.excluded[0])} - ${x(r.excluded[1])})`;
  return "unbounded (every ratio)";
}

/** Many trained models per variant: the study table, the paper's protocol, and the paired comparisons. */
function studyMarkdown(summaries: ModelSummary[], exact: MetricValues | undefined, comparisons: VariantComparison[]): string {
  const lines: string[] = [];
  const runsNew = [...new Set(summaries.flatMap((s) => (s.study?.prediction ? [s.study.prediction.runsNew] : [])))];
  lines.push("Functional consistency (headline) over trained models: each model's mean over its sampling runs. Two intervals answer two questions:");
  lines.push("- **95 % CI, mean over models**: where the mean over models lies (nested: dataset draws, seeds within draws, runs within models; t with draws - 1 df; over draw means when the design is unbalanced).");
  lines.push(`- **95 % PI, one new model**: where the score of ONE new model (new dataset draw, new training seed, ${runsNew.length > 0 ? runsNew.join(" / ") : "its"} runs) falls (Satterthwaite df). The yardstick for a single model such as the paper's.`);
  lines.push("The paper's value: its percentile among our per-model means (ties count half), and how many of our models lie at or beyond it (at or below when it is below our mean, at or above when above).");
  lines.push("Variance shares: point estimates (ANOVA, negative components set to 0) and one-sided 95 % upper bounds (exact F bounds; a point estimate of 0 is not \"no effect\").");
  lines.push("");
  lines.push("| model | trained models | mean over models | std over models | 95 % CI, mean over models | CI over | 95 % PI, one new model | paper | paper's percentile among our models | our models at or beyond the paper | paper in PI | variance draw / seed / run (estimate) | 95 % upper bound, draw / seed share |");
  lines.push("|" + " --- |".repeat(13));
  const notes: string[] = [];
  for (const s of summaries) {
    if (s.model === "random") {
      const f = s.perRun.functional;
      lines.push(`| random (exact ${exact ? pct(exact.functional) : "-"}) | - | ${pct(f.mean)} | - | ${pct(f.ci95[0])} - ${pct(f.ci95[1])} | runs | - | ${pct(s.paper ?? NaN)} | - | - | - | - | - |`);
      continue;
    }
    const st = s.study!;
    const h = headlineInterval(s);
    const n = st.nested;
    const design = n ? `${st.models.length} (${n.draws} draws x ${n.seedsPerDraw} seeds)` : `${st.models.length}`;
    const split = n ? `${(100 * n.shares.draw).toFixed(0)} / ${(100 * n.shares.seed).toFixed(0)} / ${(100 * n.shares.run).toFixed(0)} %` : "-";
    const b = st.shareBounds;
    const bounds = b ? `≤ ${(100 * b.draw).toFixed(0)} / ≤ ${(100 * b.seed).toFixed(0)} %` : "-";
    const pi = st.prediction;
    const pp = s.paperAmongModels;
    const name = `${s.model}${s.weights === "raw" ? " (raw weights)" : ""}`;
    const count = pp ? `${pp.atOrBeyond} of ${pp.models} at or ${pp.side}` : "-";
    const inPi = pp && pp.inPredictionInterval !== null ? (pp.inPredictionInterval ? "yes" : "no") : "-";
    const mean = st.meanInterval?.mean ?? st.overModels.mean;
    lines.push(`| ${name} | ${design} | ${pct(mean)} | ${pct(st.overModels.std)} | ${pct(h.ci95[0])} - ${pct(h.ci95[1])} | ${h.over} | ${pi ? `${pct(pi.interval[0])} - ${pct(pi.interval[1])}` : "-"} | ${s.paper === null ? "-" : pct(s.paper)} | ${pp ? pp.percentile.toFixed(1) : "-"} | ${count} | ${inPi} | ${split} | ${bounds} |`);
    if (!pi && st.predictionNote) notes.push(`${name}: ${st.predictionNote}.`);
    else if (!b && st.shareBoundsNote) notes.push(`${name}: ${st.shareBoundsNote}.`);
  }
  if (notes.length > 0) lines.push("", ...notes);
  lines.push("");
  lines.push("The other rules, mean over all sampling runs of all trained models:");
  lines.push("");
  lines.push("| model | bijective | strict | validQuadrants | novel |");
  lines.push("|" + " --- |".repeat(5));
  for (const s of summaries) {
    const name = s.model === "random" ? "random" : `${s.model}${s.weights === "raw" ? " (raw weights)" : ""}`;
    lines.push(`| ${name} | ${pct(s.perRun.bijective.mean)} | ${pct(s.perRun.strict.mean)} | ${pct(s.perRun.validQuadrants.mean)} | ${pct(s.perRun.novel.mean)} |`);
  }
  // What a +-4-point interval would take, from the estimated components (same seeds and runs per model).
  const needs = summaries.filter((s) => s.study?.nested).map((s) => {
    const n = s.study!.nested!;
    const half = (n.ci95[1] - n.ci95[0]) / 2;
    const need = drawsNeeded(n, 0.04, { seedsPerDraw: n.seedsPerDraw, runsPerModel: n.runsPerModel });
    const what = half <= 0.04 ? "reached" : need ? `about ${need.draws} draws (${need.models} models) for +-4.00` : "not reached within 1000 draws";
    return `${s.model} +-${(100 * half).toFixed(2)} points (${what})`;
  });
  if (needs.length > 0) {
    lines.push("");
    lines.push(`Half-width of the nested 95 % interval, and the design a +-4-point interval would need (expected, from the estimated components): ${needs.join("; ")}.`);
  }
  const withProtocol = summaries.filter((s) => s.protocol);
  if (withProtocol.length > 0) {
    lines.push("");
    lines.push("The paper's protocol: one trained model per variant (the study's first: draw, seed below), mean ± std and 95 % interval over its sampling runs.");
    lines.push("");
    lines.push("| model | draw, seed | runs | functional mean ± std | 95 % CI over runs | paper | paper in CI |");
    lines.push("|" + " --- |".repeat(7));
    for (const s of withProtocol) {
      const p = s.protocol!;
      const f = p.perRun.functional;
      lines.push(`| ${s.model} | ${p.dataSeed}, ${p.seed} | ${f.n} | ${pct(f.mean)} ± ${pct(f.std)} | ${pct(f.ci95[0])} - ${pct(f.ci95[1])} | ${s.paper === null ? "-" : pct(s.paper)} | ${inside(s.paper, f.ci95)} |`);
    }
  }
  if (comparisons.length > 0) {
    lines.push("");
    lines.push("Between variants, paired by dataset draw: difference of means (t-interval over draws, draws - 1 df) and ratio of means (Fieller's interval from both variants' draw means and their covariance across draws, t with draws - 1 df; unbounded when the denominator is not significantly different from 0).");
    lines.push("");
    lines.push("| comparison | draws | difference | 95 % CI (t over draws) | ratio | 95 % CI (Fieller) |");
    lines.push("|" + " --- |".repeat(6));
    for (const c of comparisons) {
      const d = c.difference;
      const r = c.ratio;
      lines.push(`| ${c.a} vs ${c.b} | ${d.draws} | ${pct(d.mean)} | ${pct(d.ci95[0])} - ${pct(d.ci95[1])} | ${Number.isFinite(r.ratio) ? `${r.ratio.toFixed(2)}x` : "-"} | ${ratioSetText(r)} |`);
    }
  }
  return lines.join("\n") + "\n";
}
