/**
 * Show plotly figures and progress lines inside a tslab notebook.
 *
 * `showFigure` emits a `text/html` output: a div and a script calling `Plotly.newPlot`. The first
 * figure of a kernel also carries the whole plotly.js bundle (~5 MB, once per notebook), so the
 * saved notebook needs no network. The scripts run in a live notebook, in trusted notebooks
 * (`jupyter trust x.ipynb`), in VS Code, and in the HTML of `jupyter nbconvert --to html`; an
 * untrusted JupyterLab or GitHub view shows an empty box. For a picture that renders everywhere,
 * export a PNG with FigureExporter and show it with `showPng`.
 *
 * tslab is loaded on first use, so importing this module outside a kernel is harmless.
 */
import * as fs from "fs";
import type * as Tslab from "tslab";
import { PlotlyFigure, plotlyBundle } from "./figure";

let bundleShown = false;
let divCounter = 0;

function tslab(): typeof Tslab {
  return require("tslab") as typeof Tslab;
}

/** True inside a tslab kernel (its Jupyter module is loaded); cheap, loads nothing. */
export function inTslab(): boolean {
  return Object.keys(require.cache).some((f) => /[\\/]tslab[\\/]dist[\\/]jupyter\.js$/.test(f));
}

/** `</script>` inside a script element would end it early. */
function scriptSafe(js: string): string {
  return js.replace(/<\/(script)/gi, "<\\/$1");
}

/** Render `fig` interactively in the cell output (plotly.js is embedded on the first call). */
export function showFigure(fig: PlotlyFigure): void {
  embedPlotly();
  tslab().display.html(figureHtml(fig));
}

/**
 * A figure that redraws itself in place (one display entry, overwritten on every `update`), for
 * live training curves; outside a kernel updates are ignored.
 */
export function liveFigure(): { update(fig: PlotlyFigure): void } {
  if (!inTslab()) return { update: () => undefined };
  embedPlotly(); // in an output of its own, so overwriting the figure keeps the library
  const display = tslab().newDisplay();
  return { update: (fig) => display.html(figureHtml(fig)) };
}

/** plotly.js once per notebook (kernel), so saved notebooks render offline. */
function embedPlotly(): void {
  if (bundleShown) return;
  tslab().display.html(`<script type="text/javascript">${scriptSafe(plotlyBundle())}</script>`);
  bundleShown = true;
}

function figureHtml(fig: PlotlyFigure): string {
  const id = `plotly-${process.pid}-${Date.now()}-${divCounter++}`;
  const layout = fig.layout ?? {};
  const height = typeof layout.height === "number" ? `${layout.height}px` : "450px";
  const args = [fig.data, layout, { responsive: true, ...fig.config }].map((x) => JSON.stringify(x)).join(", ");
  return [
    `<div id="${id}" style="width:100%;height:${height}"></div>`,
    `<script type="text/javascript">window.Plotly.newPlot(${JSON.stringify(id)}, ${scriptSafe(args)});</script>`,
  ].join("\n");
}

/** Show a PNG file (e.g. one written by FigureExporter); renders in every notebook viewer. */
export function showPng(file: string): void {
  tslab().display.png(fs.readFileSync(file));
}

export interface LiveLine {
  /** Replace the line with `text`. */
  update(text: string): void;
}

/**
 * A progress line that rewrites itself in place in a notebook (one display entry updated
 * through tslab's `newDisplay`); outside a kernel each update is printed as a new line. The
 * entry appears with the first update.
 * scripts/run_notebooks.py echoes the updates to its console.
 */
export function liveLine(): LiveLine {
  const display = inTslab() ? tslab().newDisplay() : undefined;
  return {
    update(text: string): void {
      if (display) display.text(text);
      else console.log(text);
    },
  };
}
