/**
 * Notebook 10's helpers: the grid parameter (JSON) checked like the command line's, and a finished
 * sweep's tables as rows for `showTable`.
 */
import { Axis, parseAxis, referenceValue } from "../sweep/grid";
import type { TableLike } from "./inline";
import { LoadedSweep } from "../sweep/load";
import { cellRunsOf } from "../sweep/run";
import { cellDifferences, cellSummaries } from "../sweep/summary";

/** GRID, a JSON object of key -> list of values ('{"epochs": [500, 1000]}'), as checked axes. */
export function gridFromJson(text: string): Axis[] {
  let g: unknown;
  try {
    g = JSON.parse(text);
  } catch (e) {
    throw new Error(`GRID must be a JSON object of config key -> list of values, got '${text}' (${(e as Error).message})`);
  }
  if (typeof g !== "object" || g === null || Array.isArray(g)) throw new Error(`GRID must be a JSON object like {"epochs": [500, 1000]}, got '${text}'`);
  return Object.entries(g as Record<string, unknown>).map(([k, v]) => {
    if (!Array.isArray(v)) throw new Error(`GRID: '${k}' must be a list of values, got ${JSON.stringify(v)}`);
    return parseAxis(k, v.map(String).join(","));
  });
}

const pct = (x: number) => (100 * x).toFixed(2);

/** Rows of equal keys as a table for `showTable` (columns in the first row's key order). */
function table(rows: Record<string, string | number>[]): TableLike {
  const columns = rows.length > 0 ? Object.keys(rows[0]) : [];
  return { columns, values: rows.map((r) => columns.map((c) => r[c])), index: rows.map((_, i) => i) };
}

/** Per cell and variant: functional mean, its 95 % CI, the one-model PI, bijective and novel (percent). */
export function sweepCellRows(s: LoadedSweep): TableLike {
  return table(cellSummaries(cellRunsOf(s.cells)).map((c) => ({
    cell: c.cell, variant: c.variant, models: c.models, "functional %": pct(c.mean),
    "95 % CI, mean": c.meanCi ? `${pct(c.meanCi[0])} - ${pct(c.meanCi[1])}` : "-", "95 % PI, one model": c.pi ? `${pct(c.pi[0])} - ${pct(c.pi[1])}` : "-",
    "bijective %": pct(c.metrics.bijective), "novel %": pct(c.metrics.novel),
  })));
}

/** Cells against each key's reference value, paired by dataset draw (points, 95 % t-interval over draws). */
export function sweepDifferenceRows(s: LoadedSweep): TableLike {
  return table(cellDifferences(cellRunsOf(s.cells), s.axes, (a) => referenceValue(s.profile, a)).map((d) => ({
    key: d.key, cell: d.cell, "against": d.reference, variant: d.variant, "difference (points)": (100 * d.diff).toFixed(2),
    "95 % CI": `${(100 * d.ci95[0]).toFixed(2)} - ${(100 * d.ci95[1]).toFixed(2)}`, draws: d.draws,
  })));
}
