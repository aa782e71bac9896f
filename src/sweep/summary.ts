/**
 * The tables of a sweep, from every cell's sampling runs: a long-format table of every metric per
 * cell and trained model; per cell and variant the summary Table 1 uses (mean, the interval for the
 * mean over models with what it covers, the prediction interval for one model); and between cells
 * that differ in one swept key, the difference paired by dataset draw (t-interval over the draws both
 * cells share). Pure functions of the runs; src/sweep/run.ts writes them.
 */
import { METRIC_NAMES, MetricName, MetricValues } from "../eval/metrics";
import { ModelRuns, pairedDrawDifference, studySummary } from "../eval/nested";
import { ExperimentConfig } from "../config";
import { Axis, ConfigValue } from "./grid";

/** One sampling run of a cell, as results.json stores it (the fields used here). */
export interface CellRun {
  variant: string;
  dataSeed: number;
  seed: number;
  run: number;
  metrics: MetricValues;
}

/** A cell's swept values and runs (its runs below `runsPerModel` make its study table). */
export interface CellRuns {
  name: string;
  values: Partial<Record<keyof ExperimentConfig, ConfigValue>>;
  runsPerModel: number;
  runs: CellRun[];
}

const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

/** Per model (variant, draw, seed) of a cell: its runs below `runsPerModel`, grouped. */
function modelsOf(c: CellRuns): Map<string, { variant: string; dataSeed: number; seed: number; runs: CellRun[] }> {
  const out = new Map<string, { variant: string; dataSeed: number; seed: number; runs: CellRun[] }>();
  for (const r of c.runs.filter((x) => x.run < c.runsPerModel)) {
    const key = `${r.variant}/${r.dataSeed}/${r.seed}`;
    if (!out.has(key)) out.set(key, { variant: r.variant, dataSeed: r.dataSeed, seed: r.seed, runs: [] });
    out.get(key)!.runs.push(r);
  }
  return out;
}

/** One row per cell and trained model: the swept keys' values, the model, and every metric's mean over its runs. */
export function longTable(cells: readonly CellRuns[], axes: readonly Axis[]): Record<string, string | number>[] {
  const rows: Record<string, string | number>[] = [];
  for (const c of cells) {
    for (const m of modelsOf(c).values()) {
      const row: Record<string, string | number> = { cell: c.name };
      for (const a of axes) row[a.key] = String(c.values[a.key]);
      Object.assign(row, { variant: m.variant, dataSeed: m.dataSeed, seed: m.seed, runs: m.runs.length });
      for (const k of METRIC_NAMES) row[k] = mean(m.runs.map((r) => r.metrics[k]));
      rows.push(row);
    }
  }
  return rows;
}

/** The per-model runs of one variant in a cell for one metric (the input of the nested statistics). */
export function modelRuns(c: CellRuns, variant: string, metric: MetricName = "functional"): ModelRuns[] {
  return [...modelsOf(c).values()].filter((m) => m.variant === variant).map((m) => ({ dataSeed: m.dataSeed, seed: m.seed, values: m.runs.map((r) => r.metrics[metric]) }));
}

/** Per cell and variant: Table 1's summary of `metric` (and the other metrics' means over models). */
export interface CellSummary {
  cell: string;
  values: CellRuns["values"];
  variant: string;
  metric: MetricName;
  models: number;
  draws: number;
  mean: number;
  /** The interval for the mean over models and what it covers (null with one model). */
  meanCi: [number, number] | null;
  meanOver: string | null;
  /** The 95 % prediction interval for one new model (balanced designs with >= 2 draws; else null). */
  pi: [number, number] | null;
  /** Every model's mean, in draw-major order. */
  modelMeans: number[];
  /** Means over models of every metric. */
  metrics: Record<MetricName, number>;
}

export function cellSummaries(cells: readonly CellRuns[], metric: MetricName = "functional"): CellSummary[] {
  const out: CellSummary[] = [];
  for (const c of cells) {
    const variants = [...new Set(c.runs.map((r) => r.variant))];
    for (const v of variants) {
      const models = modelRuns(c, v, metric);
      if (models.length === 0) continue;
      const st = studySummary(models);
      const metrics = Object.fromEntries(METRIC_NAMES.map((k) => [k, mean(modelRuns(c, v, k).map((m) => mean(m.values)))])) as Record<MetricName, number>;
      out.push({
        cell: c.name, values: c.values, variant: v, metric, models: models.length, draws: new Set(models.map((m) => m.dataSeed)).size,
        mean: st.meanInterval?.mean ?? st.overModels.mean, meanCi: st.meanInterval?.ci95 ?? null, meanOver: st.meanInterval?.over ?? null,
        pi: st.prediction?.interval ?? null, modelMeans: st.models.map((m) => m.mean), metrics,
      });
    }
  }
  return out;
}

/** A cell against the reference cell of one swept key (all other keys equal), paired by dataset draw. */
export interface CellDifference {
  key: keyof ExperimentConfig;
  cell: string;
  reference: string;
  variant: string;
  metric: MetricName;
  /** Mean over shared draws of (cell's draw mean - reference's draw mean), with a t-interval over those draws. */
  diff: number;
  ci95: [number, number];
  draws: number;
}

/**
 * For every swept key, every cell whose value of that key is not the reference value, against the
 * cell with the reference value and every other key equal: the difference of `metric` paired by
 * dataset draw (both cells trained on the same draws). Needs >= 2 shared draws (else skipped).
 */
export function cellDifferences(cells: readonly CellRuns[], axes: readonly Axis[], reference: (a: Axis) => ConfigValue, metric: MetricName = "functional"): CellDifference[] {
  const out: CellDifference[] = [];
  const others = (c: CellRuns, key: string) => JSON.stringify(axes.filter((a) => a.key !== key).map((a) => c.values[a.key]));
  for (const a of axes) {
    const ref = reference(a);
    for (const c of cells) {
      if (c.values[a.key] === ref) continue;
      const base = cells.find((b) => b.values[a.key] === ref && others(b, a.key) === others(c, a.key));
      if (!base) continue;
      const variants = [...new Set(c.runs.map((r) => r.variant))].filter((v) => base.runs.some((r) => r.variant === v));
      for (const v of variants) {
        const x = modelRuns(c, v, metric);
        const y = modelRuns(base, v, metric);
        const shared = new Set(x.map((m) => m.dataSeed).filter((d) => y.some((m) => m.dataSeed === d)));
        if (shared.size < 2) continue;
        const d = pairedDrawDifference(x, y);
        out.push({ key: a.key, cell: c.name, reference: base.name, variant: v, metric, diff: d.mean, ci95: d.ci95, draws: d.draws });
      }
    }
  }
  return out;
}
