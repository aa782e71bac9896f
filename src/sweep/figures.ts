/**
 * A finished sweep's figures: for every swept key, the headline metric against it (src/plot/sweep.ts),
 * written as PNG, SVG and PDF to <out>/figures/sweep-<key>.* through the shared exporter.
 */
import * as path from "path";
import { ProfileName } from "../config";
import { FigureExporter } from "../plot/export";
import { PlotlyFigure } from "../plot/plotly";
import { sweepFigure } from "../plot/sweep";
import { Axis } from "./grid";
import { cellRunsOf, SweepResults } from "./run";
import { cellSummaries } from "./summary";

/** The figure of each swept key (other keys at their first value when several are swept). */
export function sweepFigures(res: SweepResults, axes: readonly Axis[], profile: ProfileName): { key: string; figure: PlotlyFigure }[] {
  const summaries = cellSummaries(cellRunsOf(res.cells));
  return axes.map((a) => {
    const fixed = Object.fromEntries(axes.filter((b) => b.key !== a.key).map((b) => [b.key, b.values[0]]));
    return { key: a.key, figure: sweepFigure(summaries, a, { profile, fixed }) };
  });
}

/** Write every key's figure as PNG, SVG and PDF; returns the files. */
export async function writeSweepFigures(outDir: string, res: SweepResults, axes: readonly Axis[], profile: ProfileName): Promise<string[]> {
  const ex = await new FigureExporter().open();
  try {
    const files: string[] = [];
    for (const { key, figure } of sweepFigures(res, axes, profile)) files.push(...(await ex.export(figure, path.join(outDir, "figures", `sweep-${key}`))));
    return files;
  } finally {
    await ex.close();
  }
}
