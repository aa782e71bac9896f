/**
 * A sweep's curves: a metric against one swept key, one line per variant (mean over models with its
 * 95 % interval as a band), every trained model as a faint dot, and the paper's value marked where the
 * paper reports one at that key's setting. Numeric keys spanning more than a decade get a log axis;
 * string and boolean keys are categories in the order swept. Plotly figure objects, exported to
 * PNG/SVG/PDF like the other figures (src/plot/export.ts) and shown live in notebook 10.
 */
import { DEFAULT_CONFIG, epochsFor, ExperimentConfig, PROFILES, ProfileName } from "../config";
import { PAPER_CONSISTENCY, variantColour, variantLabel } from "../model/variants";
import type { CellSummary } from "../sweep/summary";
import type { Axis, ConfigValue } from "../sweep/grid";
import { PlotlyFigure } from "./plotly";

export interface SweepFigureOptions {
  /** The metric's label on the y axis (default "functional consistency (%)"). */
  yTitle?: string;
  title?: string;
  width?: number;
  height?: number;
  /** Profile of the sweep, for the paper's setting of the key (default "paper"). */
  profile?: ProfileName;
  /**
   * Mark the paper's Table 1 value (default true when the metric is `functional`): at the paper's
   * value of the key (epochs: 5000, top1 at its doubled length on the same x since x is the `epochs`
   * key; other keys: the SPEC default), only for cells whose other keys are at their SPEC values.
   */
  markPaper?: boolean;
}

/** The x coordinate of a value of `axis` (numbers as they are, others by their index in the sweep). */
function xOf(axis: Axis, v: ConfigValue): number {
  return typeof v === "number" ? v : axis.values.indexOf(v);
}

/** Where the paper's reported setting of `key` lies, or null when the paper does not fix it. */
function paperSetting(key: keyof ExperimentConfig, profile: ProfileName): ConfigValue | null {
  const p = { ...DEFAULT_CONFIG, ...PROFILES[profile] } as unknown as Record<string, ConfigValue>;
  return key in p ? p[key] : null;
}

/**
 * Metric against the swept key `axis`, one line per variant over the cells that differ only in
 * that key (other swept keys fixed at `fixed`, or at their first value). `summaries` are
 * `cellSummaries` of the sweep for one metric.
 */
export function sweepFigure(summaries: readonly CellSummary[], axis: Axis, o: SweepFigureOptions & { fixed?: Partial<Record<keyof ExperimentConfig, ConfigValue>> } = {}): PlotlyFigure {
  const rows = summaries.filter((s) => s.values[axis.key] !== undefined && Object.entries(o.fixed ?? {}).every(([k, v]) => s.values[k as keyof ExperimentConfig] === v));
  if (rows.length === 0) throw new Error(`sweepFigure: no cell sweeps '${axis.key}'${o.fixed ? ` with ${JSON.stringify(o.fixed)}` : ""}`);
  const otherKeys = [...new Set(rows.flatMap((s) => Object.keys(s.values)))].filter((k) => k !== axis.key);
  // one curve per variant and per combination of the other swept keys
  const groups = new Map<string, CellSummary[]>();
  for (const s of rows) {
    const other = otherKeys.map((k) => `${k} ${String(s.values[k as keyof ExperimentConfig])}`).join(", ");
    const key = `${s.variant}${other ? ` (${other})` : ""}`;
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key)!.push(s);
  }
  const numeric = axis.values.every((v) => typeof v === "number");
  const nums = axis.values.filter((v): v is number => typeof v === "number");
  const logX = numeric && Math.min(...nums) > 0 && Math.max(...nums) / Math.min(...nums) >= 10;
  const data: Record<string, unknown>[] = [];
  const pct = (x: number) => 100 * x;
  for (const [name, list] of groups) {
    const pts = [...list].sort((a, b) => xOf(axis, a.values[axis.key]!) - xOf(axis, b.values[axis.key]!));
    const colour = variantColour(pts[0].variant);
    const xs = pts.map((s) => xOf(axis, s.values[axis.key]!));
    // every model, faint
    data.push({
      type: "scatter", mode: "markers", showlegend: false, hoverinfo: "skip",
      x: pts.flatMap((s, i) => s.modelMeans.map(() => xs[i])), y: pts.flatMap((s) => s.modelMeans.map(pct)),
      marker: { size: 5, color: colour, opacity: 0.25 },
    });
    // the 95 % interval for the mean over models, as a band
    const withCi = pts.map((s, i) => ({ x: xs[i], ci: s.meanCi })).filter((p) => p.ci && p.ci.every(Number.isFinite));
    if (withCi.length > 0) {
      data.push({
        type: "scatter", mode: "lines", showlegend: false, hoverinfo: "skip", line: { width: 0 }, fill: "toself", fillcolor: colour, opacity: 0.15,
        x: [...withCi.map((p) => p.x), ...withCi.map((p) => p.x).reverse()],
        y: [...withCi.map((p) => pct(p.ci![1])), ...withCi.map((p) => pct(p.ci![0])).reverse()],
      });
    }
    data.push({
      type: "scatter", mode: "lines+markers", name: `${variantLabel(pts[0].variant)}${name.slice(pts[0].variant.length)}`,
      x: xs, y: pts.map((s) => pct(s.mean)), line: { color: colour, width: 2 }, marker: { color: colour, size: 8 },
      customdata: pts.map((s) => [s.models, s.meanCi ? `${pct(s.meanCi[0]).toFixed(1)}-${pct(s.meanCi[1]).toFixed(1)}` : "-"]),
      hovertemplate: `%{x}: %{y:.2f} % (95 % CI %{customdata[1]}; %{customdata[0]} models)<extra>${pts[0].variant}</extra>`,
    });
  }
  const markPaper = o.markPaper ?? rows[0].metric === "functional";
  const setting = paperSetting(axis.key, o.profile ?? "paper");
  if (markPaper && setting !== null && axis.values.includes(setting)) {
    const variants = [...new Set(rows.map((s) => s.variant))].filter((v) => Number.isFinite(PAPER_CONSISTENCY[v]));
    if (variants.length > 0) {
      data.push({
        type: "scatter", mode: "markers", name: "paper (Table 1)",
        x: variants.map(() => xOf(axis, setting)), y: variants.map((v) => pct(PAPER_CONSISTENCY[v])),
        text: variants, hovertemplate: "paper, %{text}: %{y:.2f} %<extra></extra>",
        marker: { symbol: "diamond", size: 12, color: variants.map(variantColour), line: { color: "black", width: 1 } },
      });
    }
  }
  const note = axis.key === "epochs" ? " (top1 trains top1EpochFactor times as long)" : "";
  return {
    data,
    layout: {
      width: o.width ?? 760, height: o.height ?? 480,
      title: { text: o.title ?? `${rows[0].metric} consistency against ${axis.key}<br><sub>mean over models and its 95 % CI (band), every trained model (dots), the paper's single model (diamond)</sub>` },
      xaxis: numeric
        ? { title: { text: `${axis.key}${note}` }, type: logX ? "log" : "linear", zeroline: false }
        : { title: { text: axis.key }, tickmode: "array", tickvals: axis.values.map((_, i) => i), ticktext: axis.values.map(String), zeroline: false, range: [-0.3, axis.values.length - 0.7] },
      yaxis: { title: { text: o.yTitle ?? `${rows[0].metric} (%)` }, rangemode: "tozero" },
      legend: { orientation: "h", y: -0.2 },
    },
  };
}

/** The epochs a variant actually trains in a cell (top1 trains top1EpochFactor times as long). */
export function trainedEpochs(cfg: ExperimentConfig, variant: string): number {
  return epochsFor(cfg, variant);
}
