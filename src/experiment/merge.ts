/**
 * Combine result folders of slices of one experiment (different --seeds / --runs slices or
 * --variant, e.g. from a Slurm job array) into one set of tables. The slices must share every
 * config key that changes a number (`mergeCompat`); runs are keyed by (variant, dataset draw,
 * seed, run, weights) and models by (variant, dataset draw, seed), and one that appears twice must
 * carry identical metrics and weights. The output folder may not be an input, contain one or lie
 * inside one (merge would overwrite a slice's own tables), and it is locked while merge writes.
 */
import * as fs from "fs";
import * as path from "path";
import { ExperimentConfig, upgradeStoredConfig } from "../config";
import { variantNames } from "../model/variants";
import { lockHolder, withOutputLockSync } from "./lock";
import { dataSeedOf, runsFor } from "./models";
import { assembleResults, ExperimentResults, writeResults } from "./run";
import { samplingHash, SampleTaskResult, TrainTaskResult } from "./tasks";

/** Config keys that slices may differ in: they change no number (`workers`) or only whether the theory phase ran. */
export const MERGE_FREE_KEYS: readonly string[] = ["workers", "theory"];

export function readResults(dir: string): ExperimentResults {
  const file = path.join(dir, "results.json");
  if (!fs.existsSync(file)) throw new Error(`no results.json in ${dir}`);
  let r: ExperimentResults;
  try {
    r = JSON.parse(fs.readFileSync(file, "utf8")) as ExperimentResults;
  } catch (e) {
    throw new Error(`${file} is corrupt or truncated (${(e as Error).message})`);
  }
  // A results.json of an earlier version: its config in today's keys (renamed keys, added keys at
  // the values that version used), so that it merges with and compares to today's.
  return { ...r, config: upgradeStoredConfig(r.config as unknown as Record<string, unknown>) as unknown as ExperimentConfig };
}

/**
 * Slices of one study: every config key except `MERGE_FREE_KEYS` equal (runs per model, seeds,
 * dataset draws, sampling keys, maxNonFinite, ...). Otherwise an error naming both folders and
 * every differing key with both values: a --runs 2 folder and a --runs 4 folder are two studies
 * (Table 1 would depend on which came first).
 */
export function mergeCompat(inputs: { dir: string; results: ExperimentResults }[]): ExperimentConfig {
  if (inputs.length === 0) throw new Error("merge: no input folders");
  const base = inputs[0];
  const show = (v: unknown) => (v === undefined ? "(absent)" : JSON.stringify(v));
  for (const { dir, results } of inputs.slice(1)) {
    const a = base.results.config as unknown as Record<string, unknown>;
    const b = results.config as unknown as Record<string, unknown>;
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((k) => !MERGE_FREE_KEYS.includes(k));
    const diff = keys.filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k]));
    if (diff.length > 0) {
      throw new Error(`merge: ${dir} was run with a different config than ${base.dir}: ${diff.map((k) => `${k} ${show(b[k])} vs ${show(a[k])}`).join(", ")}; only slices of one study merge (the same config, different --seeds/--runs slices or variants; only ${MERGE_FREE_KEYS.join(" and ")} may differ)`);
    }
  }
  return base.results.config;
}

/**
 * The output folder must not be an input, contain one or lie inside one (after resolving `..` and
 * symbolic links): merge would overwrite or mix a slice's own files.
 */
export function checkMergeOutput(outDir: string, inDirs: string[]): void {
  const out = realPathOf(outDir);
  for (const dir of inDirs) {
    const input = realPathOf(dir);
    const inside = (child: string, parent: string) => child === parent || child.startsWith(parent.endsWith(path.sep) ? parent : parent + path.sep);
    if (out === input) throw new Error(`merge: the output folder ${outDir} is the input ${dir} (${input}); name a new folder first: npm run merge -- OUT_DIR IN_DIR...`);
    if (inside(input, out)) throw new Error(`merge: the output folder ${outDir} (${out}) contains the input ${dir}; name a folder outside the inputs`);
    if (inside(out, input)) throw new Error(`merge: the output folder ${outDir} (${out}) is inside the input ${dir}; name a folder outside the inputs`);
  }
  const twice = inDirs.map(realPathOf).find((d, i, all) => all.indexOf(d) !== i);
  if (twice) throw new Error(`merge: the input ${twice} is listed twice`);
}

/** Absolute path with symbolic links resolved, also for a folder that does not exist yet (its nearest existing parent is resolved). */
function realPathOf(p: string): string {
  let head = path.resolve(p);
  const tail: string[] = [];
  for (;;) {
    try {
      return path.join(fs.realpathSync(head), ...tail);
    } catch {
      const parent = path.dirname(head);
      if (parent === head) return path.resolve(p);
      tail.unshift(path.basename(head));
      head = parent;
    }
  }
}

export function mergeResults(inputs: { dir: string; results: ExperimentResults }[]): ExperimentResults {
  const cfg = mergeCompat(inputs);
  const base = inputs[0];
  const training = new Map<string, TrainTaskResult>();
  const runs = new Map<string, SampleTaskResult>();
  for (const { dir, results } of inputs) {
    // Paths in a results.json are relative to its folder: make them absolute (writeResults makes
    // them relative to the merged folder).
    for (const stored of results.training) {
      const t = { ...stored, checkpoint: path.resolve(dir, stored.checkpoint) };
      checkModel(cfg, dir, t.variant, t.dataSeed, t.seed);
      const key = `${t.variant} draw ${t.dataSeed} seed ${t.seed}`;
      const prev = training.get(key);
      if (prev && prev.weightsSha256 !== t.weightsSha256) {
        throw new Error(`merge: model ${key} appears twice with different weights (${prev.checkpoint} and ${t.checkpoint}); were the slices trained differently?`);
      }
      training.set(key, t);
    }
    for (const stored of results.runs) {
      const r = { ...stored, checkpoint: path.resolve(dir, stored.checkpoint), npy: stored.npy ? path.resolve(dir, stored.npy) : null };
      checkModel(cfg, dir, r.variant, r.dataSeed, r.seed);
      const key = `${r.variant} draw ${r.dataSeed} seed ${r.seed} run ${r.run} ${r.weights}`;
      // the variant's own hash: a Gumbel variant's top-1 rule enters it, other variants' not
      if (r.samplingHash !== samplingHash(cfg, r.dataSeed, r.variant)) {
        throw new Error(`merge: run ${key} in ${dir} was sampled under another config (sampling hash ${r.samplingHash}, this config's ${samplingHash(cfg, r.dataSeed, r.variant)})`);
      }
      if (!runsFor(cfg, { dataSeed: r.dataSeed, seed: r.seed }, [r.run]).length) {
        throw new Error(`merge: run ${key} in ${dir} is not a run of this study (runs = ${cfg.runs}, protocolRuns = ${cfg.protocolRuns})`);
      }
      const prev = runs.get(key);
      if (prev && (JSON.stringify(prev.metrics) !== JSON.stringify(r.metrics) || prev.checkpointWeightsSha256 !== r.checkpointWeightsSha256)) {
        throw new Error(`merge: run ${key} appears twice with different metrics or weights (${dir}); were the slices trained differently?`);
      }
      runs.set(key, r);
    }
  }
  for (const r of runs.values()) {
    const t = training.get(`${r.variant} draw ${r.dataSeed} seed ${r.seed}`);
    if (t && t.weightsSha256 !== r.checkpointWeightsSha256) {
      throw new Error(`merge: run ${r.run} of ${r.variant} draw ${r.dataSeed} seed ${r.seed} was sampled from other weights than the model merged for it (${t.checkpoint})`);
    }
  }
  const variants = variantNames().filter((v) => [...runs.values()].some((r) => r.variant === v));
  const all = [...runs.values()].sort((a, b) => a.variant.localeCompare(b.variant) || a.dataSeed - b.dataSeed || a.seed - b.seed || a.run - b.run || a.weights.localeCompare(b.weights));
  const models = [...new Map([...training.values()].map((t) => [`${t.dataSeed}/${t.seed}`, { dataSeed: t.dataSeed, seed: t.seed }])).values()];
  return assembleResults({
    meta: {
      merged: inputs.map((i) => ({ dir: i.dir, meta: i.results.meta })), mergedAt: new Date().toISOString(),
      variants, seeds: models.map((m) => m.seed), models, runs: [...new Set(all.map((r) => r.run))].sort((a, b) => a - b),
    },
    cfg,
    variants,
    dataset: base.results.dataset,
    training: [...training.values()],
    runs: all,
  });
}

/** A (variant, draw, seed) of a slice must be a model of the merged study. */
function checkModel(cfg: ExperimentConfig, dir: string, variant: string, dataSeed: number, seed: number): void {
  let want: number;
  try {
    want = dataSeedOf(cfg, seed);
  } catch (e) {
    throw new Error(`merge: ${variant} seed ${seed} in ${dir}: ${(e as Error).message}`);
  }
  if (want !== dataSeed) throw new Error(`merge: ${variant} seed ${seed} in ${dir} is recorded on dataset draw ${dataSeed}, but in this study seed ${seed} trains on draw ${want}`);
}

/**
 * Merge `inDirs` into `outDir`: the output folder is checked (not an input, not inside or around
 * one), locked while merge writes (and refused while a running experiment holds it), inputs that
 * a running experiment is writing are refused; the files are written as one set, like a single
 * run's output.
 */
export function mergeDirs(outDir: string, inDirs: string[], command = `npm run merge -- ${[outDir, ...inDirs].join(" ")}`): ExperimentResults {
  if (inDirs.length === 0) throw new Error("merge: no input folders");
  checkMergeOutput(outDir, inDirs);
  for (const dir of inDirs) {
    const holder = lockHolder(dir);
    if (holder) throw new Error(`merge: the input ${dir} is being written by a running experiment (${holder}); merge it when that run has finished`);
  }
  const inputs = inDirs.map((dir) => ({ dir, results: readResults(dir) }));
  return withOutputLockSync(outDir, command, () => {
    const merged = mergeResults(inputs);
    const m = merged.meta as { variants: string[]; seeds: number[]; models: unknown[]; runs: number[] };
    writeResults(outDir, merged, { profile: "merged", variants: m.variants, config: merged.config, selection: { seeds: m.seeds, models: m.models, runs: m.runs }, merged: inDirs });
    return merged;
  });
}
