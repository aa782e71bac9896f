/**
 * Plotly figures as plain JSON, and the plotly.js bundle that renders them (no network).
 */
import * as fs from "fs";

/** A plotly figure: the same JSON that `Plotly.newPlot(div, data, layout, config)` takes. */
export interface PlotlyFigure {
  data: Record<string, unknown>[];
  layout?: Record<string, unknown>;
  config?: Record<string, unknown>;
}

let bundle: string | undefined;

/** Source text of plotly.min.js from node_modules/plotly.js-dist-min (about 5 MB), read once. */
export function plotlyBundle(): string {
  bundle ??= fs.readFileSync(require.resolve("plotly.js-dist-min/plotly.min.js"), "utf8");
  return bundle;
}

/** Version of the bundled plotly.js, e.g. "4.1.2". */
export function plotlyVersion(): string {
  const m = /plotly\.js v(\d+\.\d+\.\d+)/.exec(plotlyBundle().slice(0, 200));
  if (!m) throw new Error("cannot find the version in the header of plotly.min.js");
  return m[1];
}
