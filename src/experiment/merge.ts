/**
 * Combine result folders of slices of one experiment (different --seeds / --runs / --variant,
 * e.g. from a Slurm job array) into one set of tables. The slices must share the config; a
 * (variant, seed, run, weights) that appears twice must carry identical metrics.
 */
import * as fs from "fs";
import * as path from "path";
import { variantNames } from "../model/variants";
import { assembleResults, ExperimentResults, writeResults } from "./run";
import { SampleTaskResult, TrainTaskResult } from "./tasks";

export function readResults(dir: string): ExperimentResults {
  const file = path.join(dir, "results.json");
  if (!fs.existsSync(file)) throw new Error(`no results.json in ${dir}`);
  try {
    return JSON.parse(fs.readFileSync(file, "utf8")) as ExperimentResults;
  } catch (e) {
    throw new Error(`${file} is corrupt or truncated (${(e as Error).message})`);
  }
}

export function mergeResults(inputs: { dir: string; results: ExperimentResults }[]): ExperimentResults {
  if (inputs.length === 0) throw new Error("merge: no input folders");
  const base = inputs[0];
  // Slices differ in the selection (seed, seeds, runs) and may differ in `theory` (a slice skips it).
  const cfgText = JSON.stringify({ ...base.results.config, seed: 0, seeds: 0, runs: 0, theory: false });
  const training = new Map<string, TrainTaskResult>();
  const runs = new Map<string, SampleTaskResult>();
  for (const { dir, results } of inputs) {
    const other = JSON.stringify({ ...results.config, seed: 0, seeds: 0, runs: 0, theory: false });
    if (other !== cfgText) throw new Error(`merge: ${dir} was run with a different config than ${base.dir}`);
    // Paths in a results.json are relative to its folder: make them absolute (writeResults makes
    // them relative to the merged folder).
    for (const t of results.training) training.set(`${t.variant}/${t.seed}`, { ...t, checkpoint: path.resolve(dir, t.checkpoint) });
    for (const stored of results.runs) {
      const r = { ...stored, checkpoint: path.resolve(dir, stored.checkpoint), npy: stored.npy ? path.resolve(dir, stored.npy) : null };
      const key = `${r.variant}/${r.seed}/${r.run}/${r.weights}`;
      const prev = runs.get(key);
      if (prev && JSON.stringify(prev.metrics) !== JSON.stringify(r.metrics)) {
        throw new Error(`merge: run ${key} appears twice with different metrics (${dir}); were the slices trained differently?`);
      }
      runs.set(key, r);
    }
  }
  const variants = variantNames().filter((v) => [...runs.values()].some((r) => r.variant === v));
  const all = [...runs.values()].sort((a, b) => a.variant.localeCompare(b.variant) || a.seed - b.seed || a.run - b.run);
  return assembleResults({
    meta: { merged: inputs.map((i) => ({ dir: i.dir, meta: i.results.meta })), mergedAt: new Date().toISOString() },
    cfg: base.results.config,
    variants,
    dataset: base.results.dataset,
    training: [...training.values()],
    runs: all,
  });
}

/** Merge `inDirs` into `outDir` (written atomically, like a single run's output). */
export function mergeDirs(outDir: string, inDirs: string[]): ExperimentResults {
  const merged = mergeResults(inDirs.map((dir) => ({ dir, results: readResults(dir) })));
  writeResults(outDir, merged);
  return merged;
}
