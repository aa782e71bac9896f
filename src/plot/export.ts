/**
 * Static export of plotly figures to PNG, SVG and PDF through the system Chromium.
 *
 * Chromium is Debian's (/usr/bin/chromium, or env CHROMIUM_PATH), driven by playwright-core; no
 * browser is ever downloaded and no page touches the network (plotly.js is injected from
 * node_modules). One browser serves every figure of a process:
 *
 *   const exporter = await new FigureExporter().open();
 *   await exporter.export(fig, "out/figures/fig1", { width: 600, height: 400 });  // fig1.{png,svg,pdf}
 *   await exporter.close();
 *
 * PNG and SVG come from `Plotly.toImage`. The PDF is Chromium's print of that SVG on a page of
 * exactly the figure's size, so it stays vector (text remains text) and is width x height CSS
 * pixels = 0.75 * width x 0.75 * height points.
 */
import * as fs from "fs";
import * as path from "path";
import type { Browser, Page } from "playwright-core";
import { PlotlyFigure, plotlyBundle } from "./plotly";
import { writeFileAtomic } from "../io/atomic";

export type ImageFormat = "png" | "svg" | "pdf";
export const IMAGE_FORMATS: readonly ImageFormat[] = ["png", "svg", "pdf"];

export interface ExportOptions {
  /** Figure width in CSS pixels; default `layout.width`, else 700. */
  width?: number;
  /** Figure height in CSS pixels; default `layout.height`, else 450. */
  height?: number;
  /** Files to write; default all of png, svg, pdf. */
  formats?: readonly ImageFormat[];
  /** Pixel density of the PNG (it is width*scale x height*scale pixels); default 1. */
  scale?: number;
}

/** Flags for a headless, quiet, offline Chromium in a container (no sandbox, no GPU). */
export const CHROMIUM_ARGS: readonly string[] = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** The Chromium executable: env CHROMIUM_PATH, else Debian's /usr/bin/chromium. */
export function chromiumPath(): string {
  return process.env.CHROMIUM_PATH || "/usr/bin/chromium";
}

/** Figures are written like every other output (src/io/atomic.ts): complete or not at all. */
export { writeFileAtomic };

function checkSize(name: string, value: unknown): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 10 || value > 10000) {
    throw new Error(`figure ${name} must be an integer number of pixels in [10, 10000], got ${String(value)}`);
  }
  return value;
}

/** Exports plotly figures with one Chromium process, opened once and reused. */
export class FigureExporter {
  private browser?: Browser;
  private plotPage?: Page; // has plotly.js loaded; renders PNG and SVG
  private printPage?: Page; // blank page that prints one SVG to PDF

  /** Launch Chromium and load plotly.js; calling it again does nothing. */
  async open(): Promise<this> {
    if (this.browser) return this;
    const executablePath = chromiumPath();
    if (!fs.existsSync(executablePath)) {
      throw new Error(
        `Chromium not found at ${executablePath}: install Debian's chromium (sh scripts/setup-jupyter.sh) or set CHROMIUM_PATH`,
      );
    }
    // playwright-core is loaded here, not at import time: most users of this module never export.
    const { chromium } = require("playwright-core") as typeof import("playwright-core");
    const browser = await chromium.launch({ executablePath, args: [...CHROMIUM_ARGS] });
    try {
      const context = await browser.newContext({ offline: true });
      const plotPage = await context.newPage();
      await plotPage.setContent("<!doctype html><html><head><meta charset='utf-8'></head><body></body></html>");
      await plotPage.addScriptTag({ content: plotlyBundle() });
      this.printPage = await context.newPage();
      this.plotPage = plotPage;
      this.browser = browser;
    } catch (e) {
      await browser.close();
      throw e;
    }
    return this;
  }

  /**
   * Render `fig` and write `${basePath}.png|.svg|.pdf` (folders are created, files replaced
   * atomically). Returns the paths written, in the order of `formats`.
   */
  async export(fig: PlotlyFigure, basePath: string, opts: ExportOptions = {}): Promise<string[]> {
    await this.open();
    const layout = fig.layout ?? {};
    const width = checkSize("width", opts.width ?? layout.width ?? 700);
    const height = checkSize("height", opts.height ?? layout.height ?? 450);
    const scale = opts.scale ?? 1;
    if (!(scale > 0 && scale <= 10)) throw new Error(`PNG scale must be in (0, 10], got ${scale}`);
    const formats = opts.formats ?? IMAGE_FORMATS;
    for (const f of formats) {
      if (!IMAGE_FORMATS.includes(f)) throw new Error(`unknown image format '${f}' (expected ${IMAGE_FORMATS.join(", ")})`);
    }
    const sized: PlotlyFigure = { ...fig, layout: { ...layout, width, height } };

    const written: string[] = [];
    let svg: string | undefined;
    for (const format of formats) {
      const file = `${basePath}.${format}`;
      switch (format) {
        case "png":
          writeFileAtomic(file, Buffer.from(await this.toImage(sized, "png", width, height, scale), "base64"));
          break;
        case "svg":
          svg ??= await this.toImage(sized, "svg", width, height, 1);
          writeFileAtomic(file, svg);
          break;
        case "pdf":
          svg ??= await this.toImage(sized, "svg", width, height, 1);
          writeFileAtomic(file, await this.svgToPdf(svg, width, height));
          break;
        default: {
          const never: never = format;
          throw new Error(`unknown image format '${String(never)}'`);
        }
      }
      written.push(file);
    }
    return written;
  }

  /** Close Chromium; the exporter can be opened again afterwards. */
  async close(): Promise<void> {
    const browser = this.browser;
    this.browser = this.plotPage = this.printPage = undefined;
    if (browser) await browser.close();
  }

  /** `Plotly.toImage` in the page: base64 for PNG, markup for SVG. */
  private async toImage(fig: PlotlyFigure, format: "png" | "svg", width: number, height: number, scale: number): Promise<string> {
    const page = this.plotPage;
    if (!page) throw new Error("FigureExporter is not open");
    return page.evaluate(
      async ({ fig, format, width, height, scale }) => {
        type ToImage = (fig: unknown, opts: Record<string, unknown>) => Promise<string>;
        const plotly = (globalThis as unknown as { Plotly: { toImage: ToImage } }).Plotly;
        return plotly.toImage(fig, { format, width, height, scale, imageDataOnly: true });
      },
      { fig, format, width, height, scale },
    );
  }

  /** Print one SVG on a single page of exactly width x height CSS pixels. */
  private async svgToPdf(svg: string, width: number, height: number): Promise<Buffer> {
    const page = this.printPage;
    if (!page) throw new Error("FigureExporter is not open");
    const style =
      `@page { size: ${width}px ${height}px; margin: 0 } ` +
      `html, body { margin: 0; padding: 0; width: ${width}px; height: ${height}px; overflow: hidden } svg { display: block }`;
    await page.setContent(`<!doctype html><html><head><meta charset="utf-8"><style>${style}</style></head><body>${svg}</body></html>`);
    return page.pdf({ width: `${width}px`, height: `${height}px`, printBackground: true, pageRanges: "1", margin: { top: "0", right: "0", bottom: "0", left: "0" } });
  }
}
