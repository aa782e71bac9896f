/**
 * The grid of a sweep: the cartesian product of lists of config-key values, checked before any work.
 * A sweep's command line is an experiment's (src/cli/args.ts), except that a config key may take a
 * comma-separated list: `--epochs 250,500,1000 --sampler ddpm,clamp-x0` is 3 x 2 = 6 cells. Every
 * cell is one normal experiment config (`resolveConfig`), so a value out of range is the same error
 * as on the experiment command line, raised for the whole grid before anything runs.
 */
import { checkOverride, DEFAULT_CONFIG, ExperimentConfig, PROFILES, ProfileName, resolveConfig } from "../config";

export type ConfigValue = number | boolean | string;

/** One swept key and its values, in the order given. */
export interface Axis {
  key: keyof ExperimentConfig;
  values: ConfigValue[];
}

/** One cell of the grid: its name (a folder name), the swept keys' values and its resolved config. */
export interface Cell {
  name: string;
  values: Partial<Record<keyof ExperimentConfig, ConfigValue>>;
  config: ExperimentConfig;
}

/** Most cells one sweep may have (each a folder with its own tables; the grid is built in memory). */
export const MAX_SWEEP_CELLS = 10_000;
/** Longest cell (folder) name, in bytes: file systems allow 255. */
const MAX_CELL_NAME = 255;

/** Keys a sweep may not vary: they name the study's design or where it runs, not a setting. */
const NOT_SWEPT = new Set<keyof ExperimentConfig>(["seed", "seeds", "datasets", "datasetSeed", "protocolRuns", "workers", "theory"]);

/**
 * Parse one swept key's list ("250,500,1000"): each value checked like the CLI's flag; an empty list,
 * an empty item or a value listed twice is an error naming the key.
 */
export function parseAxis(key: string, text: string): Axis {
  const items = text.split(",").map((s) => s.trim());
  if (text.trim() === "" || items.some((s) => s === "")) throw new Error(`sweep: --${key} '${text}' has an empty value; give a comma-separated list such as 250,500`);
  const values = items.map((v) => checkOverride(key, v)[1]);
  const dup = values.find((v, i) => values.indexOf(v) !== i);
  if (dup !== undefined) throw new Error(`sweep: --${key} lists ${String(dup)} twice; list each value once`);
  const k = checkOverride(key, items[0])[0];
  if (NOT_SWEPT.has(k)) throw new Error(`sweep: '${k}' sets the study's design or where it runs; it cannot be swept (use --datasets/--seeds for the design)`);
  // The training engine is not part of a model's identity (both engines compute the same training,
  // so their checkpoints are shared): its cells would share one set of models, trained by whichever
  // engine came first, and show a difference of exactly 0 that measured nothing.
  if (k === "trainEngine") throw new Error(`sweep: 'trainEngine' cannot be swept: the engines share checkpoints (a model's identity leaves the engine out), so every cell would sample the same models; compare the engines with separate experiments in separate folders`);
  return { key: k, values };
}

/** A folder-safe name of a value (1e-3 -> 0.001, true -> true, "clamp-x0" -> clamp-x0). */
function valueName(v: ConfigValue): string {
  return String(v).replace(/[^A-Za-z0-9.+-]/g, "_");
}

/** The cell folder name of swept values: key-value pairs joined by "__" in axis order. */
export function cellName(axes: readonly Axis[], values: readonly ConfigValue[]): string {
  return axes.length === 0 ? "all" : axes.map((a, i) => `${a.key}-${valueName(values[i])}`).join("__");
}

/**
 * Every cell of the grid: axes x values, in order (the last axis varies fastest), each config
 * resolved as `resolveConfig(profile, { ...base, <axis values> })`, so every cell is checked before
 * any work. A key both fixed in `base` and swept is an error; so is a key swept twice.
 */
export function gridCells(profile: ProfileName, base: Record<string, ConfigValue>, axes: readonly Axis[]): Cell[] {
  const seen = new Set<string>();
  for (const a of axes) {
    if (seen.has(a.key)) throw new Error(`sweep: --${a.key} is given twice; give one list`);
    seen.add(a.key);
    if (a.key in base) throw new Error(`sweep: --${a.key} is both swept and fixed; give it once`);
    if (a.values.length === 0) throw new Error(`sweep: --${a.key} has no values`);
  }
  // counted before the product is built: a grid of millions of cells would exhaust the memory
  const count = axes.reduce((n, a) => n * a.values.length, 1);
  if (count > MAX_SWEEP_CELLS) {
    throw new Error(`sweep: the grid has ${count} cells (${axes.map((a) => `${a.key} ${a.values.length}`).join(" x ")}), more than ${MAX_SWEEP_CELLS}; sweep fewer keys or values, or split it into several sweeps`);
  }
  const combos: ConfigValue[][] = axes.reduce<ConfigValue[][]>((acc, a) => acc.flatMap((c) => a.values.map((v) => [...c, v])), [[]]);
  return combos.map((vals) => {
    const values = Object.fromEntries(axes.map((a, i) => [a.key, vals[i]])) as Cell["values"];
    const name = cellName(axes, vals);
    if (Buffer.byteLength(name) > MAX_CELL_NAME) throw new Error(`sweep: the cell name ${name} is longer than a folder name may be (${MAX_CELL_NAME} bytes); sweep fewer keys at once`);
    let config: ExperimentConfig;
    try {
      config = resolveConfig(profile, { ...base, ...values });
    } catch (e) {
      throw new Error(`sweep: cell ${name}: ${(e as Error).message}`);
    }
    return { name, values, config };
  });
}

/**
 * The reference value of an axis, for paired differences between cells: the profile's own value of
 * the key when the list holds it (e.g. the paper's 5000 epochs, the SPEC's ddpm sampler), else the
 * first value given.
 */
export function referenceValue(profile: ProfileName, axis: Axis): ConfigValue {
  const own = (PROFILES[profile] as Record<string, ConfigValue>)[axis.key] ?? (DEFAULT_CONFIG as unknown as Record<string, ConfigValue>)[axis.key];
  return axis.values.includes(own) ? own : axis.values[0];
}
