/**
 * Markdown tables and plotly figures of the discrimination part of theory.json: banded r^2 against
 * each network with baselines beside the machines, machine vs machine, median same-noise Pearson r,
 * differences between predictors with their 95 % intervals over models (t over draw means), and the
 * sweep of the Eq. 8 machine.
 */
import { PlotlyFigure } from "../plot/plotly";
import type { DiscriminationResults, OverModels, VariantSummary } from "./discriminate";

const f3 = (x: number) => (Number.isFinite(x) ? x.toFixed(3) : String(x));
const pm = (v: OverModels, n: number) => (n > 1 ? `${f3(v.mean)} ± ${f3(v.sd)}` : f3(v.mean));
/** mean [95 % interval] (bold when it excludes 0, `zero`: whether 0 is the value to exclude). */
const withInterval = (v: OverModels, zero = true) => {
  if (!v.ci95) return f3(v.mean);
  const sig = zero && (v.ci95[0] > 0 || v.ci95[1] < 0) ? "**" : "";
  return `${sig}${f3(v.mean)} [${f3(v.ci95[0])}, ${f3(v.ci95[1])}]${sig}`;
};
/** How a variant's intervals were made. */
const overText = (v: VariantSummary) => {
  const o = Object.values(v.pearsonMedian)[0];
  return o?.over === "draw means" ? `${o.models} models, t over ${o.draws} draw means` : o?.over === "models (one draw)" ? `${o.models} models of one draw, t over models` : "1 model, no interval";
};
const bandName = (b: { lo: number; hi: number }) => `t ${b.lo}-${b.hi - 1}`;

/** Banded r^2 of every predictor against one variant's networks (mean ± sd over its trained models). */
export function bandedTable(r: DiscriminationResults, v: VariantSummary): string {
  const n = v.seeds.length;
  const head = `| predictor (vs ${v.variant}, ${n} model${n > 1 ? "s" : ""}) | ${r.bands.map(bandName).join(" | ")} | loss-weighted, all t |`;
  const rows = r.predictors.map((p) => `| ${p.name} | ${v.vsNetwork[p.name].map((x) => pm(x, n)).join(" | ")} | ${pm(v.vsNetworkPooled[p.name], n)} |`);
  const mine = r.models.filter((m) => m.variant === v.variant);
  const share = r.bands.map((_, b) => mine.reduce((a, m) => a + m.forward.vsNetwork!.weightShare[b], 0) / mine.length);
  return [
    head, `| --- | ${r.bands.map(() => "---").join(" | ")} | --- |`, ...rows,
    `| *network vs true noise* | ${v.networkVsNoise.map((x) => pm(x, n)).join(" | ")} | |`,
    `| *share of the loss weight* | ${share.map((x) => `${(100 * x).toFixed(1)} %`).join(" | ")} | 100 % |`,
  ].join("\n");
}

/** Machine vs machine: r^2 of each predictor with `ref` as reference, per band (first dataset draw). */
export function pairwiseTable(r: DiscriminationResults, ref: string): string {
  const d = r.draws[0];
  const p = d.forward.pairwise[ref];
  if (!p) throw new Error(`no pairwise comparison with reference '${ref}'`);
  const rows = Object.keys(p.r2).map((b) => `| ${b} | ${p.r2[b].map(f3).join(" | ")} | ${f3(p.pooled[b])} | ${f3(d.pearsonPairs[ref]?.[b])} |`);
  return [
    `| predictor (vs ${ref}, draw ${d.dataSeed}) | ${r.bands.map(bandName).join(" | ")} | loss-weighted | median Pearson of final images |`,
    `| --- | ${r.bands.map(() => "---").join(" | ")} | --- | --- |`, ...rows,
  ].join("\n");
}

/** Median same-noise Pearson r of every predictor's final images with each variant's: mean over models [95 % interval over models]. */
export function pearsonTable(r: DiscriminationResults): string {
  const head = `| predictor | ${r.variants.map((v) => `${v.variant} (${v.seeds.length})`).join(" | ")} |`;
  const rows = r.predictors.map((p) => `| ${p.name} | ${r.variants.map((v) => withInterval(v.pearsonMedian[p.name], false)).join(" | ")} |`);
  return [head, `| --- | ${r.variants.map(() => "---").join(" | ")} |`, ...rows, "", `Intervals: ${r.variants.map((v) => `${v.variant}: ${overText(v)}`).join("; ")}.`].join("\n");
}

/** Differences in median Pearson r (per model, A minus B): mean over models [95 % interval over models; bold when it excludes 0]. */
export function differencesTable(r: DiscriminationResults, pairs: readonly (readonly [string, string])[]): string {
  const head = `| difference in median Pearson r | ${r.variants.map((v) => `${v.variant} (${v.seeds.length})`).join(" | ")} |`;
  const rows = pairs.map(([a, b]) => {
    const cells = r.variants.map((v) => {
      const d = v.differences.find((x) => (x.a === a && x.b === b) || (x.a === b && x.b === a));
      if (!d) return "-";
      const i = d.interval;
      return withInterval(d.a === a ? i : { ...i, mean: -i.mean, ci95: i.ci95 ? [-i.ci95[1], -i.ci95[0]] : null });
    });
    return `| ${a} - ${b} | ${cells.join(" | ")} |`;
  });
  return [head, `| --- | ${r.variants.map(() => "---").join(" | ")} |`, ...rows, "", `Intervals: ${r.variants.map((v) => `${v.variant}: ${overText(v)}`).join("; ")}.`].join("\n");
}

/** The Eq. 8 machine's free choices: functional consistency and median Pearson r vs each variant (mean over its models). */
export function sweepTable(r: DiscriminationResults): string {
  if (!r.sweep) return "(no sweep)";
  const variants = r.variants.map((v) => v.variant);
  const head = `| setting | functional | novel | ${variants.map((v) => `Pearson vs ${v}`).join(" | ")} |`;
  const rows = r.sweep.map((s) => {
    const cells = variants.map((v) => {
      const xs = s.pearson.filter((p) => p.variant === v).map((p) => p.median);
      return f3(xs.reduce((a, b) => a + b, 0) / xs.length);
    });
    const name = s.isDefault ? `**${s.label}** (Table 1's machine)` : s.label;
    return `| ${name} | ${(100 * s.metrics.functional).toFixed(1)} % | ${(100 * s.metrics.novel).toFixed(1)} % | ${cells.join(" | ")} |`;
  });
  return [head, `| --- | --- | --- | ${variants.map(() => "---").join(" | ")} |`, ...rows, "", `(${r.sweep[0].samples} samples per setting)`].join("\n");
}

/** The pairs reported by default: each theory machine against ELS, and ELS against the Gaussian baselines. */
export const REPORT_PAIRS: readonly (readonly [string, string])[] = [
  ["pair", "equivariant"], ["pairTop1", "equivariant"], ["attention", "equivariant"], ["pair", "attention"], ["local", "equivariant"], ["ideal", "equivariant"],
  ["equivariant", "gaussianShared"], ["equivariant", "gaussianFull"], ["gaussianShared", "gaussianFull"],
];

/** Everything above as one markdown report. */
export function discriminationMarkdown(r: DiscriminationResults): string {
  const parts = [
    "### r^2 of eps on noised training images, per timestep band (network as reference)",
    ...r.variants.map((v) => bandedTable(r, v)),
    "### Machine vs machine (reference: equivariant)",
    pairwiseTable(r, r.draws[0].forward.pairwise.equivariant ? "equivariant" : Object.keys(r.draws[0].forward.pairwise)[0]),
    "### Median Pearson r of final images from the same noise",
    pearsonTable(r),
    "### Differences in median Pearson r (per model), mean over models with its 95 % interval",
    differencesTable(r, REPORT_PAIRS.filter(([a, b]) => r.predictors.some((p) => p.name === a) && r.predictors.some((p) => p.name === b))),
  ];
  if (r.sweep) parts.push("### Eq. 8 machine: free choices swept", sweepTable(r));
  return parts.join("\n\n");
}

const COLOURS: Record<string, string> = {
  local: "#1f77b4", equivariant: "#2ca02c", ideal: "#7f7f7f", attention: "#d62728", top1Optimal: "#ff7f0e",
  pair: "#9467bd", pairTop1: "#e377c2", trivial: "#bcbd22", gaussianPixel: "#17becf", gaussianShared: "#aec7e8", gaussianFull: "#8c564b",
};

/** Grouped bars: r^2 vs one variant's networks per band, one bar per predictor (error bars: sd over models). */
export function bandedR2Figure(r: DiscriminationResults, variant: string, o: { yMin?: number } = {}): PlotlyFigure {
  const v = r.variants.find((x) => x.variant === variant);
  if (!v) throw new Error(`no comparison with variant '${variant}'`);
  const x = r.bands.map(bandName);
  const data = r.predictors.map((p) => ({
    type: "bar", name: p.name, x, y: v.vsNetwork[p.name].map((b) => b.mean),
    error_y: { type: "data", array: v.vsNetwork[p.name].map((b) => b.sd), visible: v.seeds.length > 1 },
    marker: { color: COLOURS[p.name] },
  }));
  return {
    data,
    layout: {
      title: { text: `r² of eps vs trained ${variant} (${v.seeds.length} model(s)) on noised training images, per band`, font: { size: 14 } },
      barmode: "group", xaxis: { title: { text: "timestep band" } }, yaxis: { title: { text: "r²" }, range: [o.yMin ?? -0.5, 1.02] },
      width: 900, height: 480, margin: { t: 60, l: 70, r: 20, b: 130 }, legend: { orientation: "h", y: -0.28 },
    },
  };
}
