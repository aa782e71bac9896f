/**
 * A finished sweep, loaded from its folder and checked (sweep.json and every cell's results.json),
 * or run when it is not there yet: what notebook 10 and the publishing scripts use.
 */
import * as fs from "fs";
import * as path from "path";
import { ExperimentConfig, ProfileName } from "../config";
import { readResults } from "../experiment/merge";
import { Variant } from "../model/variants";
import { Axis, Cell, ConfigValue, gridCells } from "./grid";
import { cellDir, runSweep, SweepResults } from "./run";

/** sweep.json as runSweep writes it (the fields read here). */
interface SweepFile {
  format: string;
  meta: Record<string, unknown>;
  profile: ProfileName;
  variants: Variant[];
  axes: { key: keyof ExperimentConfig; values: ConfigValue[]; reference: ConfigValue }[];
  cells: { name: string; values: Cell["values"]; dir: string; config: ExperimentConfig }[];
}

export interface LoadedSweep extends SweepResults {
  profile: ProfileName;
  variants: Variant[];
  axes: Axis[];
}

/**
 * Read the sweep in `dir`: sweep.json, then every cell's results.json, each checked against the
 * config sweep.json records for it (a cell folder rerun with other settings is an error naming the
 * cell and the keys).
 */
export function loadSweep(dir: string): LoadedSweep {
  const file = path.join(dir, "sweep.json");
  if (!fs.existsSync(file)) throw new Error(`no sweep.json in ${dir} (not a finished sweep: run npm run sweep)`);
  let s: SweepFile;
  try {
    s = JSON.parse(fs.readFileSync(file, "utf8")) as SweepFile;
  } catch (e) {
    throw new Error(`${file} is corrupt or truncated (${(e as Error).message})`);
  }
  if (s.format !== "attention-creativity/sweep@1") throw new Error(`${file} has format '${s.format}', expected attention-creativity/sweep@1`);
  const cells = s.cells.map((c) => {
    const results = readResults(path.join(dir, c.dir));
    const diff = (Object.keys(c.config) as (keyof ExperimentConfig)[]).filter((k) => k !== "workers" && JSON.stringify(results.config[k]) !== JSON.stringify(c.config[k]));
    if (diff.length > 0) throw new Error(`sweep ${dir}: cell ${c.name}'s results.json was made with another config than sweep.json records (${diff.map((k) => `${k}: ${results.config[k]} vs ${c.config[k]}`).join("; ")})`);
    return { name: c.name, values: c.values, results };
  });
  return { meta: s.meta, profile: s.profile, variants: s.variants, axes: s.axes.map((a) => ({ key: a.key, values: a.values })), cells };
}

/**
 * The sweep of `grid` in `dir`: loaded when it is finished with exactly these cells and variants,
 * else run (which resumes from whatever the folder holds and recomputes nothing finished).
 */
export async function loadOrRunSweep(o: {
  dir: string; dataDir: string; profile: ProfileName; variants: Variant[]; base: Record<string, ConfigValue>; axes: Axis[];
  run: "missing" | "never"; command?: string; progressWrite?: (line: string, final: boolean) => void; log?: (line: string) => void;
}): Promise<{ sweep: LoadedSweep; source: "loaded" | "computed" }> {
  const cells = gridCells(o.profile, { protocolRuns: 0, ...o.base }, o.axes);
  if (fs.existsSync(path.join(o.dir, "sweep.json"))) {
    const s = loadSweep(o.dir);
    const same = s.variants.join() === o.variants.join() && s.cells.length === cells.length
      && cells.every((c) => s.cells.some((x) => x.name === c.name && JSON.stringify({ ...x.results.config, workers: 0 }) === JSON.stringify({ ...c.config, workers: 0 })));
    if (same) return { sweep: s, source: "loaded" };
    if (o.run === "never") throw new Error(`the sweep in ${o.dir} has other cells or variants than asked for, and RUN is "never"`);
  } else if (o.run === "never") {
    throw new Error(`no finished sweep in ${o.dir}, and RUN is "never"`);
  }
  const res = await runSweep({
    profile: o.profile, variants: o.variants, axes: o.axes, cells, outDir: o.dir, dataDir: o.dataDir, command: o.command ?? "notebook 10_sweeps",
    progressWrite: o.progressWrite, progressIntervalMs: 2000, log: o.log,
  });
  return { sweep: { ...res, profile: o.profile, variants: o.variants, axes: o.axes }, source: "computed" };
}

export { cellDir };
