/**
 * Plotly figures (plain `{data, layout}` JSON) for the score-machine comparison of
 * the machines part of theory.json: r^2 against t per trained variant, median Pearson r of final images,
 * and the `functional` consistency of machines beside trained models.
 */
import { variantColour } from "../model/variants";
import { PlotlyFigure } from "../plot/plotly";
import { MACHINE_LABELS, MachineName } from "./machines";
import { VariantComparison } from "./machine-runs";

const COLOURS: Record<string, string> = {
  local: "#1f77b4", equivariant: "#2ca02c", ideal: "#7f7f7f", attention: "#d62728", top1Optimal: "#ff7f0e",
  pair: "#9467bd", pairTop1: "#e377c2", trivial: "#bcbd22", gaussianPixel: "#17becf", gaussianShared: "#aec7e8", gaussianFull: "#8c564b",
};
const VARIANT_COLOURS: Readonly<Record<string, string>> = new Proxy({} as Record<string, string>, {
  get: (_, k) => (typeof k === "string" ? variantColour(k) : undefined),
});

export interface R2FigureOptions {
  /**
   * "r2": eps along the network's trajectories (default); "rho2": squared Pearson of the same;
   * "r2X0": r^2 of the x0 estimates on the same trajectories; "r2Forward": eps on noised training images.
   */
  measure?: Measure;
  /** Lower end of the y axis (r^2 can be very negative; default -0.5). */
  yMin?: number;
  width?: number;
  height?: number;
}

type Measure = "r2" | "rho2" | "r2X0" | "r2Forward";
const MEASURE_TITLES: Record<Measure, string> = {
  r2: "r² of eps",
  rho2: "ρ² of eps",
  r2X0: "r² of x0 estimates",
  r2Forward: "r² of eps (forward process)",
};
const yTitle = (m: Measure) => MEASURE_TITLES[m];
const WHERE: Record<Measure, string> = { r2: "along its trajectories", rho2: "along its trajectories", r2X0: "along its trajectories", r2Forward: "on noised training images" };
/** Title font, margins and a legend below the x-axis title, shared by every figure here. */
const FRAME = { margin: { t: 60, l: 70, r: 20, b: 130 }, legend: { orientation: "h", y: -0.28 } };

/** r^2 between each machine's eps and one trained variant's eps, along that variant's own trajectories, against t. */
export function r2VsTFigure(c: VariantComparison, o: R2FigureOptions = {}): PlotlyFigure {
  const measure = o.measure ?? "r2";
  const series = c[measure];
  const data = Object.keys(series).map((m) => ({
    type: "scatter", mode: "lines", name: MACHINE_LABELS[m as MachineName] ?? m,
    x: series[m].map((_, t) => t), y: series[m], line: { color: COLOURS[m], width: 2 },
  }));
  return {
    data,
    layout: {
      title: { text: `Machines vs trained ${c.variant} (seed ${c.seed}, ${c.weights}): ${yTitle(measure)},<br>${WHERE[measure]} (n = ${c.n})`, font: { size: 14 } },
      xaxis: { title: { text: "timestep t (0 = clean)" }, range: [0, series[Object.keys(series)[0]].length - 1] },
      yaxis: { title: { text: yTitle(measure) }, range: [o.yMin ?? -0.5, 1.02] },
      width: o.width ?? 760, height: o.height ?? 480, ...FRAME,
      shapes: [{ type: "line", xref: "paper", x0: 0, x1: 1, y0: 0.95, y1: 0.95, line: { dash: "dot", color: "#444", width: 1 } }],
    },
  };
}

/** One machine against every trained variant: r^2 vs t, one line per variant. */
export function r2ByVariantFigure(results: { comparisons: VariantComparison[] }, machine: MachineName, o: R2FigureOptions = {}): PlotlyFigure {
  const measure = o.measure ?? "r2";
  const data = results.comparisons.filter((c) => c[measure][machine]).map((c) => ({
    type: "scatter", mode: "lines", name: `${c.variant} (seed ${c.seed})`,
    x: c[measure][machine].map((_, t) => t), y: c[measure][machine], line: { color: VARIANT_COLOURS[c.variant], width: 2 },
  }));
  return {
    data,
    layout: {
      title: { text: `${MACHINE_LABELS[machine]} vs each trained variant:<br>${yTitle(measure)} ${WHERE[measure]}`, font: { size: 14 } },
      xaxis: { title: { text: "timestep t (0 = clean)" } },
      yaxis: { title: { text: yTitle(measure) }, range: [o.yMin ?? -0.5, 1.02] },
      width: o.width ?? 760, height: o.height ?? 480, ...FRAME,
    },
  };
}

/** Median Pearson r (bars) with the interquartile range (error bars) of final images from the same noise. */
export function pearsonFigure(results: { comparisons: VariantComparison[] }, o: { width?: number; height?: number } = {}): PlotlyFigure {
  const variants = results.comparisons.map((c) => c.variant);
  const machines = [...new Set(results.comparisons.flatMap((c) => Object.keys(c.pearson)))];
  const data = machines.map((m) => {
    const p = results.comparisons.map((c) => c.pearson[m]);
    return {
      type: "bar", name: MACHINE_LABELS[m as MachineName] ?? m, x: variants, y: p.map((v) => v?.median ?? null), marker: { color: COLOURS[m] },
      error_y: { type: "data", symmetric: false, array: p.map((v) => (v ? v.q75 - v.median : 0)), arrayminus: p.map((v) => (v ? v.median - v.q25 : 0)) },
    };
  });
  const n = results.comparisons[0]?.n ?? 0;
  return {
    data,
    layout: {
      title: { text: `Final images from the same noise: median Pearson r over ${n} seeds<br>(error bars: quartiles)`, font: { size: 14 } },
      barmode: "group", xaxis: { title: { text: "trained variant" } }, yaxis: { title: { text: "Pearson r (network vs machine)" }, range: [-0.2, 1.02] },
      width: o.width ?? 760, height: o.height ?? 480, ...FRAME,
    },
  };
}

/**
 * `functional` consistency (mean ± std over runs) of Table-1 rows: the machines' rows from
 * theory.json, optionally with the trained models' rows (results.json `table1`) and the random
 * baseline's exact value as a dashed line.
 */
export function consistencyFigure(rows: Record<string, string | number>[], o: { metric?: string; randomExact?: number; width?: number; height?: number } = {}): PlotlyFigure {
  const metric = o.metric ?? "functional";
  const label = (r: Record<string, string | number>) => `${r.model}${r.weights === "raw" ? " (raw)" : ""}`;
  const data: Record<string, unknown>[] = [{
    type: "bar", x: rows.map(label), y: rows.map((r) => 100 * Number(r[`${metric}_mean`])),
    error_y: { type: "data", array: rows.map((r) => 100 * (Number(r[`${metric}_std`]) || 0)) },
    marker: { color: rows.map((r) => (String(r.model).startsWith("machine:") ? COLOURS[String(r.model).slice(8)] ?? "#888" : VARIANT_COLOURS[String(r.model)] ?? "#888")) },
  }];
  const shapes = o.randomExact === undefined ? [] : [{ type: "line", xref: "paper", x0: 0, x1: 1, y0: 100 * o.randomExact, y1: 100 * o.randomExact, line: { dash: "dash", color: "#444", width: 1 } }];
  return {
    data,
    layout: {
      title: { text: `${metric} consistency: score machines${rows.some((r) => !String(r.model).startsWith("machine:")) ? " beside trained models" : ""}`, font: { size: 14 } },
      yaxis: { title: { text: `${metric} (%)` }, range: [0, 100] }, showlegend: false, shapes,
      width: o.width ?? 760, height: o.height ?? 430, margin: { t: 60, l: 70, r: 20, b: 110 },
    },
  };
}

/**
 * The continuous top-1 toy (derivations-top1-continuous.ts): the exact optimum g~(Phi) beside Eq. 32 as
 * printed and the corrected closed form, on the part of the grid where the occurrence density is
 * above 1e-4 of its maximum.
 */
export function continuousTop1Figure(nodes: ArrayLike<number>, lines: { gTilde: ArrayLike<number>; eq32Printed: ArrayLike<number>; eq32Corrected: ArrayLike<number>; D: ArrayLike<number> }, title: string): PlotlyFigure {
  const Dmax = Math.max(...Array.from(lines.D));
  const keep = Array.from(nodes, (_, i) => i).filter((i) => lines.D[i] > 1e-4 * Dmax);
  const x = keep.map((i) => nodes[i]);
  const trace = (name: string, y: ArrayLike<number>, style: Record<string, unknown>) => ({ type: "scatter", mode: "lines", name, x, y: keep.map((i) => y[i]), line: style });
  return {
    data: [
      trace("exact optimum (numerical minimiser)", lines.gTilde, { color: "#2ca02c", width: 4 }),
      trace("corrected closed form", lines.eq32Corrected, { color: "#000", width: 1.5, dash: "dot" }),
      trace("Eq. 32 = Eq. 8 as printed", lines.eq32Printed, { color: "#d62728", width: 2 }),
    ],
    layout: {
      title: { text: title, font: { size: 14 } }, xaxis: { title: { text: "patch value Phi" } }, yaxis: { title: { text: "g~(Phi)" } },
      width: 760, height: 460, ...FRAME,
    },
  };
}

/**
 * What independence removes (independence.ts): the optimal value map k(Phi) of a top-1 layer with a
 * learnable value map, for each scenario, beside the query map f (on the part of the grid where the
 * own marginal is above 1e-4 of its maximum). Under independence and exchangeability k is flat.
 */
export function valueMapFigure(nodes: ArrayLike<number>, results: { scenario: string; f: ArrayLike<number>; k: ArrayLike<number>; kSpread: number }[], weight: ArrayLike<number>): PlotlyFigure {
  const wMax = Math.max(...Array.from(weight));
  const keep = Array.from(nodes, (_, i) => i).filter((i) => weight[i] > 1e-4 * wMax);
  const x = keep.map((i) => nodes[i]);
  const colours = ["#2ca02c", "#d62728", "#1f77b4"];
  const data = results.flatMap((r, c) => {
    const kMean = keep.reduce((a, i) => a + r.k[i], 0) / keep.length;
    return [
      { type: "scatter", mode: "lines", name: `k(Phi) - mean, ${r.scenario} (sd ratio ${r.kSpread.toExponential(1)})`, x, y: keep.map((i) => r.k[i] - kMean), line: { color: colours[c % 3], width: 3 } },
      { type: "scatter", mode: "lines", name: `f(Phi), ${r.scenario}`, x, y: keep.map((i) => r.f[i]), line: { color: colours[c % 3], width: 1, dash: "dot" } },
    ];
  });
  return {
    data,
    layout: {
      title: { text: "A top-1 layer with a value map, out = f(phi_x) + k(phi_y*), fitted to the true score (1-D toy)", font: { size: 14 } },
      xaxis: { title: { text: "patch value Phi" } }, yaxis: { title: { text: "optimal f and k (k centred)" } }, width: 860, height: 480, ...FRAME,
    },
  };
}

/**
 * Functional consistency of the machines (mean over dataset draws) against each variant's one-model
 * 95 % prediction interval: one row per variant, the interval as a bar, the machines as markers.
 */
export function predictionIntervalFigure(rows: readonly { machine: string; variant: string; machineFunctional: number; interval: [number, number]; variantMean: number }[]): PlotlyFigure {
  const variants = [...new Set(rows.map((r) => r.variant))];
  const machines = [...new Set(rows.map((r) => r.machine))];
  const data: Record<string, unknown>[] = variants.map((v) => {
    const r = rows.find((x) => x.variant === v)!;
    return {
      type: "scatter", mode: "lines", name: `${v}: 95 % PI, one new model`, x: [100 * r.interval[0], 100 * r.interval[1]], y: [v, v],
      line: { color: VARIANT_COLOURS[v] ?? "#888", width: 10 }, showlegend: false,
    };
  });
  data.push({ type: "scatter", mode: "markers", name: "variant mean over models", x: variants.map((v) => 100 * rows.find((x) => x.variant === v)!.variantMean), y: variants, marker: { color: "#000", symbol: "line-ns-open", size: 18 } });
  for (const m of machines) {
    data.push({
      type: "scatter", mode: "markers", name: `machine ${m}`, x: variants.map((v) => 100 * rows.find((x) => x.variant === v && x.machine === m)!.machineFunctional), y: variants,
      marker: { color: COLOURS[m] ?? "#888", size: 11, symbol: "diamond" },
    });
  }
  return {
    data,
    layout: {
      title: { text: "Functional consistency: machines against each variant's one-model 95 % prediction interval", font: { size: 14 } },
      xaxis: { title: { text: "functional (%)" }, range: [0, 100] }, yaxis: { title: { text: "" }, type: "category" }, width: 860, height: 420, ...FRAME,
    },
  };
}
