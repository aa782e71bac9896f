/**
 * Table 1: metric summaries per model (over sampling runs and over training seeds), the random
 * baseline, and the paper's numbers beside ours, as rows ready for JSON, CSV, Markdown or danfo.
 */
import { PAPER_CONSISTENCY, Variant } from "../model/variants";
import { METRIC_NAMES, MetricName, MetricValues } from "./metrics";
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
  /** Over all sampling runs of all seeds. */
  perRun: Record<MetricName, Summary>;
  /** Over training seeds, each seed's mean over its runs (n = number of seeds). */
  perSeed: Record<MetricName, Summary> | null;
  seeds: number[];
  runs: number;
  paper: number | null;
}

function byMetric(rows: MetricValues[]): Record<MetricName, Summary> {
  return Object.fromEntries(METRIC_NAMES.map((m) => [m, summarize(rows.map((r) => r[m]))])) as Record<MetricName, Summary>;
}

/** Summaries per (variant, weights) in `variants` order. */
export function summarizeRuns(runs: RunMetrics[], variants: readonly Variant[]): ModelSummary[] {
  const out: ModelSummary[] = [];
  for (const v of variants) {
    for (const w of ["ema", "raw"] as const) {
      const rows = runs.filter((r) => r.variant === v && r.weights === w);
      if (rows.length === 0) continue;
      const seeds = [...new Set(rows.map((r) => r.seed))].sort((a, b) => a - b);
      const seedMeans = seeds.map((s) => {
        const mine = rows.filter((r) => r.seed === s).map((r) => r.metrics);
        return Object.fromEntries(METRIC_NAMES.map((m) => [m, mine.reduce((a, r) => a + r[m], 0) / mine.length])) as MetricValues;
      });
      out.push({
        model: v, weights: w, perRun: byMetric(rows.map((r) => r.metrics)),
        perSeed: seeds.length > 1 ? byMetric(seedMeans) : null,
        seeds, runs: rows.length, paper: PAPER_CONSISTENCY[v],
      });
    }
  }
  return out;
}

/** The random baseline as a summary row (Monte Carlo runs), with the exact values beside it. */
export function baselineSummary(mc: MetricValues[]): ModelSummary {
  return { model: "random", weights: "-", perRun: byMetric(mc), perSeed: null, seeds: [], runs: mc.length, paper: PAPER_CONSISTENCY.random };
}

/** Flat Table 1 rows: one per model, columns `<metric>_mean`, `_std`, `_ci_lo`, `_ci_hi`, seed spread, paper. */
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
    // With several trained seeds, runs are not independent draws of one distribution: the interval
    // that speaks for "a model of this variant" is the one over seed means.
    row.functional_seed_ci_lo = f ? f.ci95[0] : NaN;
    row.functional_seed_ci_hi = f ? f.ci95[1] : NaN;
    row.exact = s.model === "random" && exact ? exact.functional : NaN;
    row.paper = s.paper ?? NaN;
    return row;
  });
}

export function toCsv(rows: Record<string, string | number>[]): string {
  if (rows.length === 0) return "";
  const cols = Object.keys(rows[0]);
  const cell = (v: string | number) => (typeof v === "number" ? (Number.isNaN(v) ? "" : String(v)) : /[",\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);
  return [cols.join(","), ...rows.map((r) => cols.map((c) => cell(r[c])).join(","))].join("\n") + "\n";
}

const pct = (x: number) => (Number.isFinite(x) ? `${(100 * x).toFixed(2)} %` : "-");

/** Markdown Table 1: headline `functional` with interval, the other rules beside it, the paper's number. */
export function table1Markdown(summaries: ModelSummary[], exact?: MetricValues): string {
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
