/**
 * A finished sweep, loaded from its folder and checked (sweep.json and every cell's results.json),
 * or run when it is not there yet: what notebook 10 and the publishing scripts use.
 */
import * as fs from "fs";
import * as path from "path";
import { ExperimentConfig, ProfileName } from "../config";
import { readResults } from "../experiment/merge";
import { Variant } from "../model/variants";
import { planExperiment } from "../experiment/run";
import { samplingHash } from "../experiment/tasks";
import { Axis, Cell, cellName, ConfigValue, gridCells } from "./grid";
import { cellDir, runSweep, SweepResults } from "./run";

/** sweep.json as runSweep writes it (the fields read here). */
interface SweepFile {
  format: string;
  meta: Record<string, unknown>;
  profile: ProfileName;
  variants: Variant[];
  axes: { key: keyof ExperimentConfig; values: ConfigValue[]; reference: ConfigValue }[];
  cells: { name: string; values: Cell["values"]; dir: string; config: ExperimentConfig }[];
  seeds?: number[] | null;
  runs?: number[] | null;
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
  const axes: Axis[] = s.axes.map((a) => ({ key: a.key, values: a.values }));
  const cells = s.cells.map((c) => {
    // sweep.json's own record of the cell: its name and values must be its config's
    const wrong = axes.filter((a) => c.values[a.key] !== c.config[a.key] || !a.values.includes(c.values[a.key] as ConfigValue));
    if (wrong.length > 0 || c.name !== cellName(axes, axes.map((a) => c.values[a.key] as ConfigValue))) {
      throw new Error(`${file}: cell ${c.name} does not match its own values and config (${wrong.map((a) => `${a.key}: ${String(c.values[a.key])} vs ${String(c.config[a.key])}`).join("; ") || "name"}); the file was edited`);
    }
    const results = readResults(path.join(dir, c.dir));
    const diff = (Object.keys(c.config) as (keyof ExperimentConfig)[]).filter((k) => k !== "workers" && JSON.stringify(results.config[k]) !== JSON.stringify(c.config[k]));
    if (diff.length > 0) throw new Error(`sweep ${dir}: cell ${c.name}'s results.json was made with another config than sweep.json records (${diff.map((k) => `${k}: ${results.config[k]} vs ${c.config[k]}`).join("; ")})`);
    // ... of this sweep's variants and design slice, and every run sampled under that config (a
    // results.json copied from another cell or sweep and its config edited to match is refused)
    const meta = results.meta as { variants?: unknown; seeds?: unknown; runs?: unknown };
    const plan = planExperiment(results.config, s.variants, { seeds: s.seeds ?? undefined, runs: s.runs ?? undefined });
    const design = { variants: s.variants, seeds: plan.seeds, runs: plan.runs };
    const other = (Object.keys(design) as (keyof typeof design)[]).filter((k) => JSON.stringify(meta[k]) !== JSON.stringify(design[k]));
    if (other.length > 0) throw new Error(`sweep ${dir}: cell ${c.name}'s results.json is of another study than sweep.json records (${other.map((k) => `${k}: ${JSON.stringify(meta[k])} vs ${JSON.stringify(design[k])}`).join("; ")})`);
    const key = (r: { variant: string; seed: number; run: number; weights: string }) => `${r.variant} seed ${r.seed} run ${r.run} ${r.weights}`;
    const want = new Set(plan.sampleTasks.map(key));
    const have = new Set(results.runs.map(key));
    const missing = [...want].filter((k) => !have.has(k));
    const extra = [...have].filter((k) => !want.has(k));
    if (missing.length > 0 || extra.length > 0 || have.size !== results.runs.length) {
      throw new Error(`sweep ${dir}: cell ${c.name}'s results.json does not hold the cell's sampling runs (${[missing.length > 0 ? `missing ${missing.slice(0, 3).join(", ")}${missing.length > 3 ? ", ..." : ""}` : "", extra.length > 0 ? `not of the cell: ${extra.slice(0, 3).join(", ")}` : "", have.size !== results.runs.length ? "a run listed twice" : ""].filter(Boolean).join("; ")})`);
    }
    const foreign = results.runs.find((r) => r.samplingHash !== samplingHash(results.config, r.dataSeed, r.variant));
    if (foreign) throw new Error(`sweep ${dir}: cell ${c.name}'s results.json holds run ${foreign.run} of ${foreign.variant} (draw ${foreign.dataSeed}, seed ${foreign.seed}) sampled under another config than the cell's (sampling hash ${foreign.samplingHash}, the cell's ${samplingHash(results.config, foreign.dataSeed, foreign.variant)})`);
    return { name: c.name, values: c.values, results };
  });
  return { meta: s.meta, profile: s.profile, variants: s.variants, axes, cells };
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
    // RUN "never" is load only: the folder's own sweep (checked by loadSweep), e.g. a published copy,
    // whatever grid the caller's parameters describe; its tables and figures follow its own grid
    if (o.run === "never") {
      (o.log ?? console.log)(`the sweep in ${o.dir} has other cells or variants than asked for; RUN is "never", so it is shown as it is: variants ${s.variants.join(", ")}; ${s.axes.map((a) => `${a.key} = ${a.values.join(", ")}`).join("; ") || "nothing swept"}`);
      return { sweep: s, source: "loaded" };
    }
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
