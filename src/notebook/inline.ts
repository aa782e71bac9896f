/**
 * Show plotly figures, tables and progress lines inside a tslab notebook.
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
import { PlotlyFigure, plotlyBundle } from "../plot/plotly";

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

/**
 * What `showTable` accepts: a danfo.js DataFrame (its `columns`, `values` and `index`), or the same
 * three fields as plain data. `values` holds one array per row.
 */
export interface TableLike {
  columns: readonly string[];
  /** One array per row (checked: danfo types this as 1-D or 2-D). */
  values: readonly unknown[];
  index?: readonly (string | number)[];
}

/** `TableLike` after the check: every row an array with one cell per column. */
interface Table {
  columns: readonly string[];
  values: readonly (readonly unknown[])[];
  index?: readonly (string | number)[];
}

export interface TableOptions {
  /** Show the row labels as the first column, as pandas does (default true). */
  index?: boolean;
}

function checkTable(t: unknown): Table {
  const x = t as Partial<TableLike> | null;
  if (!x || !Array.isArray(x.columns) || !Array.isArray(x.values)) {
    const got = x === null || typeof x !== "object" ? String(x) : `an object with keys ${Object.keys(x).join(", ") || "(none)"}`;
    throw new Error(`showTable expects a danfo DataFrame or { columns, values, index }, got ${got}`);
  }
  x.values.forEach((row, i) => {
    if (!Array.isArray(row) || row.length !== x.columns!.length) {
      throw new Error(`showTable: row ${i} has ${Array.isArray(row) ? row.length : "no"} cells, expected ${x.columns!.length} (one per column)`);
    }
  });
  if (x.index && x.index.length !== x.values.length) {
    throw new Error(`showTable: index has ${x.index.length} labels for ${x.values.length} rows`);
  }
  return x as Table;
}

function cellText(v: unknown): string {
  if (v === null || v === undefined) return "";
  if (typeof v === "number") return Number.isNaN(v) ? "NaN" : String(v);
  return String(v);
}

function escapeHtml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/**
 * A table as HTML in the shape of pandas' `DataFrame.to_html` (`<table class="dataframe">`, header
 * row, row labels as `<th>`), which Jupyter, VS Code and nbconvert style as a pandas table.
 */
export function tableHtml(table: TableLike, o: TableOptions = {}): string {
  const t = checkTable(table);
  const showIndex = o.index ?? true;
  const labels = t.index ?? t.values.map((_, i) => i);
  const head = [...(showIndex ? ["<th></th>"] : []), ...t.columns.map((c) => `<th>${escapeHtml(String(c))}</th>`)].join("");
  const rows = t.values.map((row, i) => {
    const cells = row.map((v) => `<td>${escapeHtml(cellText(v))}</td>`).join("");
    return `<tr>${showIndex ? `<th>${escapeHtml(String(labels[i]))}</th>` : ""}${cells}</tr>`;
  });
  return [
    '<table border="1" class="dataframe">',
    `<thead><tr style="text-align: right;">${head}</tr></thead>`,
    `<tbody>\n${rows.join("\n")}\n</tbody>`,
    "</table>",
  ].join("\n");
}

/** The same table as aligned plain text (numbers and text right-aligned, like pandas' repr). */
export function tableText(table: TableLike, o: TableOptions = {}): string {
  const t = checkTable(table);
  const showIndex = o.index ?? true;
  const labels = t.index ?? t.values.map((_, i) => i);
  const grid = [
    [...(showIndex ? [""] : []), ...t.columns.map(String)],
    ...t.values.map((row, i) => [...(showIndex ? [String(labels[i])] : []), ...row.map(cellText)]),
  ];
  const widths = grid[0].map((_, j) => Math.max(...grid.map((r) => r[j].length)));
  return grid.map((r) => r.map((c, j) => c.padStart(widths[j])).join("  ").trimEnd()).join("\n");
}

/**
 * Show a table (a danfo DataFrame) as an HTML table in the cell output, as a pandas DataFrame
 * appears in Jupyter; it stays a table in saved notebooks and in `jupyter nbconvert --to html`.
 * Outside a tslab kernel it prints `tableText` to the console.
 */
export function showTable(table: TableLike, o: TableOptions = {}): void {
  if (inTslab()) tslab().display.html(tableHtml(table, o));
  else console.log(tableText(table, o));
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
