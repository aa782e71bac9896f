/**
 * Figures from a notebook: PNG, SVG and PDF through one Chromium, each PNG shown inline.
 */
import * as path from "path";
import { FigureExporter } from "../plot/export";
import { PlotlyFigure } from "../plot/plotly";
import { inTslab, showPng } from "./inline";

/**
 * Writes figures as `<dir>/<name>.png|.svg|.pdf` with one Chromium (FigureExporter) and, in a
 * notebook, shows each PNG inline (a PNG renders in every notebook viewer):
 *
 *   const figs = await new FigurePublisher(dir).open();
 *   await figs.publish(fig, "fig1");
 *   const files = await figs.close();
 */
export class FigurePublisher {
  private readonly exporter = new FigureExporter();
  /** Files written so far. */
  readonly files: string[] = [];

  /** `scale`: PNG pixel density (the PNG is width*scale x height*scale pixels). */
  constructor(readonly dir: string, private readonly o: { scale?: number } = {}) {}

  async open(): Promise<this> {
    await this.exporter.open();
    return this;
  }

  async publish(fig: PlotlyFigure, name: string): Promise<void> {
    const files = await this.exporter.export(fig, path.join(this.dir, name), { scale: this.o.scale ?? 2 });
    this.files.push(...files);
    if (inTslab()) showPng(files[0]);
  }

  /** Close Chromium; returns every file written. */
  async close(): Promise<string[]> {
    await this.exporter.close();
    return [...this.files];
  }
}
