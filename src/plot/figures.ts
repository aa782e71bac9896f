/**
 * Figure builders for the notebooks and the paper: each returns plotly figure JSON
 * (`PlotlyFigure`) sized for export (layout.width/height in CSS pixels). Show one with
 * `showFigure` (inline.ts), write it with `FigureExporter` (export.ts).
 *
 *  - lossCurvesFigure     training loss per (variant, seed), log y
 *  - censusFigure         how often each of the 48 possible training images appears
 *  - table1Figure         Table 1 as bars with 95 % intervals, the paper's numbers as markers
 *  - residualsFigure      theory checks: residual vs tolerance, log y
 *  - image figures (grids, Figure 1 panels, attention maps) are in images.ts, re-exported here.
 */
import { Census } from "../data/dataset";
import { MetricName } from "../eval/metrics";
import { PAPER_CONSISTENCY, Variant, variantColour, VARIANT_LABELS } from "../model/variants";
import { PlotlyFigure } from "./plotly";

export * from "./images";

/** A variant's colour (its descriptor's), so it keeps its colour across figures; "random" is grey. */
export const VARIANT_COLOURS: Readonly<Record<Variant | "random", string>> = new Proxy({} as Record<string, string>, {
  get: (_, k) => (typeof k === "string" ? variantColour(k) : undefined),
});

export interface LossCurve {
  variant: Variant;
  seed: number;
  /** Mean training loss of each epoch (epoch 1 first). */
  losses: readonly number[];
}

/** Training loss per epoch, one line per (variant, seed), log y. */
export function lossCurvesFigure(curves: LossCurve[], o: { title?: string; width?: number; height?: number } = {}): PlotlyFigure {
  if (curves.length === 0) throw new Error("lossCurvesFigure needs at least one curve");
  const data = curves.map((c) => ({
    type: "scatter", mode: c.losses.length > 60 ? "lines" : "lines+markers",
    name: `${c.variant} seed ${c.seed}`, x: c.losses.map((_, i) => i + 1), y: [...c.losses],
    line: { color: VARIANT_COLOURS[c.variant], width: 1.5 },
  }));
  return {
    data,
    layout: {
      width: o.width ?? 700, height: o.height ?? 420, title: { text: o.title ?? "Training loss (epoch mean)" },
      xaxis: { title: { text: "epoch" } }, yaxis: { title: { text: "loss (1 - alphaBar_t) * mse" }, type: "log" },
      legend: { orientation: "h", y: -0.2 }, margin: { t: 50 },
    },
  };
}

/** Counts of the distinct training images, grouped by pattern type, with the uniform expectation. */
export function censusFigure(c: Census, o: { width?: number; height?: number } = {}): PlotlyFigure {
  const patterns = [0, 1, 2];
  const sorted = [...c.counts].sort((a, b) => a.pattern - b.pattern || b.count - a.count);
  const expected = c.images / c.possible;
  const data: Record<string, unknown>[] = patterns.map((p) => {
    const mine = sorted.filter((e) => e.pattern === p);
    return {
      type: "bar", name: `pattern P${p} (${c.perPattern[p]} images)`,
      x: mine.map((e) => e.key), y: mine.map((e) => e.count),
      hovertemplate: "image %{x}: %{y}<extra></extra>",
    };
  });
  data.push({
    type: "scatter", mode: "lines", name: `uniform: ${expected.toFixed(1)} per image`,
    x: [sorted[0].key, sorted[sorted.length - 1].key], y: [expected, expected], line: { dash: "dash", color: "black" },
  });
  return {
    data,
    layout: {
      width: o.width ?? 800, height: o.height ?? 380, barmode: "group", bargap: 0.15,
      title: { text: `Dataset census: ${c.distinct} of ${c.possible} possible images appear in ${c.images}` },
      xaxis: { title: { text: "distinct image (16 colour ids, row-major)" }, showticklabels: false, type: "category" },
      yaxis: { title: { text: "count" } }, legend: { orientation: "h", y: -0.15 }, margin: { t: 50 },
    },
  };
}

/** The parts of a Table 1 row this chart reads (as in results.json `summaries`). */
export interface Table1Entry {
  model: Variant | "random";
  weights: string;
  /** Per metric: mean, and the 95 % interval (null or NaN entries when there is one run). */
  perRun: Partial<Record<MetricName, { mean: number; std: number; ci95: [number | null, number | null] }>>;
}

/**
 * Table 1 as bars: one panel per metric (headline `functional` first), one bar per model with its
 * 95 % interval over runs, the paper's consistency as a diamond on every panel, and the exact
 * random baseline as a cross. Values in percent.
 */
export function table1Figure(
  rows: Table1Entry[],
  o: { metrics?: MetricName[]; exactRandom?: Partial<Record<MetricName, number>>; title?: string; width?: number; height?: number } = {},
): PlotlyFigure {
  const metrics = o.metrics ?? ["functional", "bijective", "strict"];
  const shown = rows.filter((r) => r.weights !== "raw");
  if (shown.length === 0) throw new Error("table1Figure needs at least one row");
  const gap = 0.06;
  const w = (1 - gap * (metrics.length - 1)) / metrics.length;
  const labels = shown.map((r) => (r.model === "random" ? "random" : r.model));
  const layout: Record<string, unknown> = {
    width: o.width ?? 320 * metrics.length, height: o.height ?? 440, showlegend: true,
    title: { text: o.title ?? "Table 1: consistency (mean over runs, 95 % interval)" },
    legend: { orientation: "h", y: -0.18 }, margin: { t: 80, b: 80 }, annotations: [] as Record<string, unknown>[],
  };
  const data: Record<string, unknown>[] = [];
  metrics.forEach((m, i) => {
    const s = i === 0 ? "" : String(i + 1);
    const x0 = i * (w + gap);
    layout[`xaxis${s}`] = { domain: [x0, x0 + w], anchor: `y${s}`, type: "category" };
    layout[`yaxis${s}`] = { anchor: `x${s}`, rangemode: "tozero", title: i === 0 ? { text: "% of samples" } : undefined };
    (layout.annotations as Record<string, unknown>[]).push({
      text: m === "functional" ? "functional (headline)" : m, x: x0 + w / 2, y: 1.02, xref: "paper", yref: "paper",
      xanchor: "center", yanchor: "bottom", showarrow: false, font: { size: 13 },
    });
    const stat = shown.map((r) => {
      const x = r.perRun[m];
      if (!x) throw new Error(`Table 1 row '${r.model}' has no metric '${m}'`);
      return x;
    });
    const mean = stat.map((x) => 100 * x.mean);
    const finite = (v: number | null) => (v === null || !Number.isFinite(v) ? NaN : v);
    data.push({
      type: "bar", x: labels, y: mean, xaxis: `x${s}`, yaxis: `y${s}`, showlegend: false, name: m,
      marker: { color: shown.map((r) => VARIANT_COLOURS[r.model]) },
      error_y: {
        type: "data", symmetric: false, thickness: 1.5, width: 6, color: "black",
        array: stat.map((x, j) => Math.max(0, 100 * finite(x.ci95[1]) - mean[j]) || 0),
        arrayminus: stat.map((x, j) => Math.max(0, mean[j] - 100 * finite(x.ci95[0])) || 0),
      },
      hovertemplate: "%{x}: %{y:.2f} %<extra></extra>",
    });
    data.push({
      type: "scatter", mode: "markers", x: labels, y: shown.map((r) => 100 * PAPER_CONSISTENCY[r.model]), xaxis: `x${s}`, yaxis: `y${s}`,
      name: "paper (Table 1)", legendgroup: "paper", showlegend: i === 0,
      marker: { symbol: "diamond", size: 11, color: "gold", line: { color: "black", width: 1 } },
    });
    const exact = o.exactRandom?.[m];
    if (exact !== undefined && labels.includes("random")) {
      data.push({
        type: "scatter", mode: "markers", x: ["random"], y: [100 * exact], xaxis: `x${s}`, yaxis: `y${s}`,
        name: "random, exact", legendgroup: "exact", showlegend: i === 0,
        marker: { symbol: "x", size: 11, color: "black" },
      });
    }
  });
  return { data, layout };
}

/** The parts of a Table 1 summary the strip plot reads (results.json `summaries`). */
export interface StudyEntry {
  model: Variant | "random";
  weights: string;
  study?: {
    models: { dataSeed: number; seed: number; mean: number }[];
    overModels: { mean: number; ci95: [number, number] };
    nested: { ci95: [number, number] } | null;
    /** The interval for the mean over models (absent in results saved before it existed: then nested, else over models). */
    meanInterval?: { ci95: [number, number] } | null;
    /** The one-model 95 % prediction interval, when the design allows one. */
    prediction?: { interval: [number, number] } | null;
  };
}

/**
 * Every trained model's functional consistency as a dot per variant (coloured by dataset draw,
 * spread sideways so none hide), with the mean over models and its 95 % interval for that mean
 * (nested over draws; over draw means when unbalanced) as a black bar, the 95 % prediction
 * interval for one new model as a grey bar beside it (where a single model such as the paper's
 * should fall), and the paper's value as a gold diamond on each variant. Values in percent.
 */
/** "17 dataset draws", or "6-17 dataset draws per variant" when the variants' studies differ. */
function drawCounts(rows: StudyEntry[]): string {
  const n = rows.map((r) => new Set(r.study!.models.map((m) => m.dataSeed)).size);
  const lo = Math.min(...n);
  const hi = Math.max(...n);
  return lo === hi ? `${lo} dataset draws` : `${lo}-${hi} dataset draws per variant`;
}

export function studyStripFigure(rows: StudyEntry[], o: { title?: string; width?: number; height?: number } = {}): PlotlyFigure {
  const shown = rows.filter((r) => r.model !== "random" && r.weights !== "raw" && r.study);
  if (shown.length === 0) throw new Error("studyStripFigure needs the study summary of at least one trained variant");
  const draws = [...new Set(shown.flatMap((r) => r.study!.models.map((m) => m.dataSeed)))].sort((a, b) => a - b);
  const palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];
  const data: Record<string, unknown>[] = [];
  // One colour per dataset draw while the palette has enough distinct ones; beyond that one colour
  // for every model (a repeated colour would pair unrelated draws), the draw shown on hover.
  const byDraw = draws.length <= palette.length;
  const groups = byDraw ? draws.map((d) => [d]) : [draws];
  // x: variant index, dots offset by their rank within the variant (deterministic, no random jitter)
  groups.forEach((group, k) => {
    const xs: number[] = [];
    const ys: number[] = [];
    const text: string[] = [];
    shown.forEach((r, i) => {
      const ms = r.study!.models;
      ms.forEach((m, j) => {
        if (!group.includes(m.dataSeed)) return;
        xs.push(i + (ms.length > 1 ? -0.25 + (0.5 * j) / (ms.length - 1) : 0));
        ys.push(100 * m.mean);
        text.push(`${r.model}, draw ${m.dataSeed}, seed ${m.seed}`);
      });
    });
    data.push({
      type: "scatter", mode: "markers", x: xs, y: ys, text, name: byDraw ? `dataset draw ${group[0]}` : `trained model (${drawCounts(shown)})`,
      marker: { size: 8, color: palette[k % palette.length], opacity: 0.85, line: { color: "white", width: 0.5 } },
      hovertemplate: "%{text}: %{y:.2f} %<extra></extra>",
    });
  });
  const ci = shown.map((r) => r.study!.meanInterval?.ci95 ?? r.study!.nested?.ci95 ?? r.study!.overModels.ci95);
  const mean = shown.map((r) => 100 * r.study!.overModels.mean);
  const finite = (v: number) => (Number.isFinite(v) ? v : NaN);
  data.push({
    type: "scatter", mode: "markers", x: shown.map((_, i) => i + 0.38), y: mean, name: "mean over models, its 95 % CI",
    marker: { symbol: "line-ew", size: 22, line: { color: "black", width: 3 } },
    error_y: {
      type: "data", symmetric: false, thickness: 2, width: 8, color: "black",
      array: ci.map((c, i) => Math.max(0, 100 * finite(c[1]) - mean[i]) || 0),
      arrayminus: ci.map((c, i) => Math.max(0, mean[i] - 100 * finite(c[0])) || 0),
    },
    hovertemplate: "mean %{y:.2f} %<extra></extra>",
  });
  const withPi = shown.map((r, i) => ({ i, pi: r.study!.prediction?.interval })).filter((x) => x.pi && x.pi.every(Number.isFinite));
  if (withPi.length > 0) {
    data.push({
      type: "scatter", mode: "lines", name: "95 % prediction interval, one new model",
      x: withPi.flatMap(({ i }) => [i + 0.46, i + 0.46, null]),
      y: withPi.flatMap(({ pi }) => [100 * pi![0], 100 * pi![1], null]),
      line: { color: "grey", width: 6 }, opacity: 0.5,
      hovertemplate: "one new model: %{y:.2f} %<extra></extra>",
    });
  }
  data.push({
    type: "scatter", mode: "markers", x: shown.map((_, i) => i + 0.38), y: shown.map((r) => 100 * PAPER_CONSISTENCY[r.model]), name: "paper (Table 1)",
    marker: { symbol: "diamond", size: 12, color: "gold", line: { color: "black", width: 1 } },
  });
  return {
    data,
    layout: {
      width: o.width ?? 760, height: o.height ?? 480,
      title: { text: o.title ?? "Every trained model (dots), mean and its 95 % CI (black), one-model 95 % PI (grey), paper (diamond)" },
      xaxis: { tickmode: "array", tickvals: shown.map((_, i) => i), ticktext: shown.map((r) => r.model), range: [-0.6, shown.length - 0.2], zeroline: false, tickangle: 0 },
      yaxis: { title: { text: "functional consistency (% of samples)" }, rangemode: "tozero" },
      legend: { orientation: "h", y: -0.12 }, margin: { t: 60, b: 80 },
    },
  };
}

/** The parts of a theory check result this chart reads (`CheckResult` of src/theory). */
export interface CheckLike {
  name: string;
  holds: boolean;
  residual: number;
  tolerance: number;
}

/** Residual of every check (log y): green holds, red fails, tolerance as a black dash. */
export function residualsFigure(checks: CheckLike[], o: { title?: string; width?: number; height?: number } = {}): PlotlyFigure {
  if (checks.length === 0) throw new Error("residualsFigure needs at least one check");
  const floor = 1e-18; // log axis: a residual of exactly 0 is drawn at the floor
  const x = checks.map((c) => c.name);
  return {
    data: [
      {
        type: "bar", x, y: checks.map((c) => Math.max(c.residual, floor)), name: "residual",
        marker: { color: checks.map((c) => (c.holds ? "#2ca02c" : "#d62728")) },
        hovertemplate: "%{x}: %{y:.2e}<extra></extra>",
      },
      {
        type: "scatter", mode: "markers", x, y: checks.map((c) => c.tolerance), name: "tolerance",
        marker: { symbol: "line-ew", size: 18, line: { width: 2, color: "black" } },
      },
    ],
    layout: {
      width: o.width ?? Math.max(600, 34 * checks.length), height: o.height ?? 520,
      title: { text: o.title ?? "Derivation checks: residual (green holds, red fails) vs tolerance" },
      yaxis: { type: "log", title: { text: "residual" }, exponentformat: "e" }, xaxis: { tickangle: -45, automargin: true },
      margin: { t: 50 }, legend: { orientation: "h", y: 1.08 },
    },
  };
}

/** Display labels of the models, the paper's names (for tables). */
export function modelLabel(model: Variant | "random"): string {
  return model === "random" ? "Random baseline" : VARIANT_LABELS[model];
}
