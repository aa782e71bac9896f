/**
 * A sweep: every cell of a grid (src/sweep/grid.ts) x the study design (dataset draws x training
 * seeds), as normal experiment runs in one resumable command.
 *
 *   <out>/sweep.json           command, grid, every cell's resolved config, timings, versions
 *   <out>/checkpoints/         the models, shared by every cell (a checkpoint's name holds its
 *                              training config, so cells that differ only at sampling time, or
 *                              not at all for a variant, train it once); or `checkpointDir`
 *   <out>/cells/<cell>/        each cell a normal experiment folder: results.json, table1.*, runs/,
 *                              samples/, config.json (readable by npm run merge, notebooks, retable)
 *   <out>/sweep-models.csv|json       every metric per cell and trained model (long format)
 *   <out>/sweep-cells.csv|json        per cell and variant: mean, 95 % interval over models, one-model PI
 *   <out>/sweep-differences.csv|json  cells against the reference value of each key, paired by draw
 *   <out>/sweep.md             the same, readable
 *
 * All cells' training tasks run as one phase over the worker pool (deduplicated by checkpoint),
 * then all sampling runs, with one progress bar over the whole sweep. A killed sweep resumes from
 * its checkpoints and finished runs; nothing finished is recomputed.
 */
import * as os from "os";
import * as path from "path";
import * as tf from "@tensorflow/tfjs-core";
import { backendInfo, initBackend } from "../backend";
import { epochsFor, ExperimentConfig, ProfileName } from "../config";
import { census } from "../data/dataset";
import { loadOrCreateDataset } from "../data/store";
import { toCsv } from "../eval/report";
import { writeFilesAtomic } from "../io/atomic";
import { Variant } from "../model/variants";
import { Progress } from "../progress";
import { lockOutputDir } from "../experiment/lock";
import { selectModels, studyModels } from "../experiment/models";
import { runPhase } from "../experiment/phase";
import { checkSelection } from "../experiment/selection";
import { Executor, workerCount } from "../experiment/pool";
import { assembleResults, ExperimentResults, planExperiment, writeResults } from "../experiment/run";
import { checkpointPath, checkpointRequest, ExperimentContext, Paths, sampleTask, SampleTask, SampleTaskResult, trainTask, TrainTask, TrainTaskResult } from "../experiment/tasks";
import { identityDiff, readCheckpoint } from "../train/checkpoint";
import { libraryVersion } from "../version";
import { Axis, Cell, ConfigValue, referenceValue } from "./grid";
import { cellDifferences, CellRuns, cellSummaries, longTable } from "./summary";

export interface SweepOptions {
  profile: ProfileName;
  variants: readonly Variant[];
  axes: readonly Axis[];
  cells: readonly Cell[];
  /** The sweep's folder; its cells go to <outDir>/cells/<cell>. */
  outDir: string;
  dataDir: string;
  /** Where the models live (default <outDir>/checkpoints): another study's folder reuses its models. */
  checkpointDir?: string;
  /** A slice of the design (training seeds, run indices), as for one experiment. */
  seeds?: number[];
  runs?: number[];
  command?: string;
  log?: (line: string) => void;
  progressWrite?: (line: string, final: boolean) => void;
  progressIntervalMs?: number;
}

/** A task of one cell (the cell's config and folders travel with it: cells differ in config). */
type CellTask<T> = T & { cell: number };
type SweepContext = { cells: ExperimentContext[] };

/** Executors over cells: the experiment's training and sampling tasks, each in its cell's context. */
export const SWEEP_TRAIN: Executor<CellTask<TrainTask>, SweepContext, TrainTaskResult> = {
  module: __filename,
  name: "SWEEP_TRAIN",
  savesOnStop: true, // training checks for a stop request between epochs and saves there
  execute: (t, c, onProgress) => trainTask(c.cells[t.cell].cfg, c.cells[t.cell].paths, t.variant, t.seed, onProgress),
};

export const SWEEP_SAMPLE: Executor<CellTask<SampleTask>, SweepContext, SampleTaskResult> = {
  module: __filename,
  name: "SWEEP_SAMPLE",
  execute: (t, c, onProgress) => {
    const { cfg, paths } = c.cells[t.cell];
    return sampleTask(cfg, paths, t.variant, t.seed, t.run, t.weights, { saveNpy: t.saveNpy, onProgress });
  },
};

/** The folder of cell `name`. */
export function cellDir(outDir: string, name: string): string {
  return path.join(outDir, "cells", name);
}

export interface SweepResults {
  meta: Record<string, unknown>;
  cells: { name: string; values: Cell["values"]; results: ExperimentResults }[];
}

/** Run the sweep (locks its folder, every cell's folder and an outside checkpoint folder's study). */
export async function runSweep(o: SweepOptions): Promise<SweepResults> {
  if (o.cells.length === 0) throw new Error("sweep: no cells");
  // every cell's selection checked as an experiment's is, before any lock or work: a --runs slice
  // outside the study or one that samples nothing would train every model and write empty tables
  for (const c of o.cells) {
    try {
      checkSelection(c.config, o.variants, o.seeds ? selectModels(c.config, o.seeds) : studyModels(c.config), o.runs ?? Array.from({ length: Math.max(c.config.runs, c.config.protocolRuns) }, (_, i) => i), { sliced: o.seeds !== undefined });
    } catch (e) {
      throw new Error(`sweep: cell ${c.name}: ${(e as Error).message}`);
    }
  }
  const checkpointDir = path.resolve(o.checkpointDir ?? path.join(o.outDir, "checkpoints"));
  const cmd = o.command ?? "runSweep";
  const unlocks = [lockOutputDir(o.outDir, cmd)];
  try {
    // a checkpoint folder inside another study: lock that study, so no experiment trains into it meanwhile
    if (!checkpointDir.startsWith(path.resolve(o.outDir) + path.sep)) unlocks.push(lockOutputDir(path.dirname(checkpointDir), cmd));
    for (const c of o.cells) unlocks.push(lockOutputDir(cellDir(o.outDir, c.name), cmd));
    return await runLocked(o, checkpointDir);
  } finally {
    for (const u of unlocks.reverse()) u();
  }
}

async function runLocked(o: SweepOptions, checkpointDir: string): Promise<SweepResults> {
  const log = o.log ?? ((s: string) => console.log(s));
  const started = new Date();
  const info = await initBackend();
  const contexts: ExperimentContext[] = o.cells.map((c) => ({ cfg: c.config, paths: { outDir: cellDir(o.outDir, c.name), dataDir: o.dataDir, checkpointDir } satisfies Paths }));
  const plans = o.cells.map((c) => planExperiment(c.config, o.variants, { seeds: o.seeds, runs: o.runs }));
  const workers = workerCount(o.cells[0].config);
  // 1. datasets, generated once here so workers only read them
  const draws = new Map<string, number>();
  o.cells.forEach((c, i) => plans[i].draws.forEach((d) => draws.set(`${c.config.datasetSize}/${d}`, d)));
  for (const [k, d] of draws) loadOrCreateDataset(o.dataDir, { size: Number(k.split("/")[0]), seed: d });

  // 2. every cell's training tasks, one per checkpoint (cells that share a training config share it)
  const byCheckpoint = new Map<string, CellTask<TrainTask>>();
  plans.forEach((p, cell) => p.trainTasks.forEach((t) => {
    const file = checkpointPath(contexts[cell].paths, contexts[cell].cfg, t.variant, t.seed);
    if (!byCheckpoint.has(file)) byCheckpoint.set(file, { ...t, cell });
  }));
  const trainTasks = [...byCheckpoint.values()];
  const sampleTasks: CellTask<SampleTask>[] = plans.flatMap((p, cell) => p.sampleTasks.map((t) => ({ ...t, cell })));
  // One bar over the sweep: an epoch ~ 32 steps ~ 10 ms, a sampling run ~ samples x 1000 steps ~ samples ms;
  // a model whose finished checkpoint is there costs nothing (so the bar and its ETA follow the real work).
  const finished = (t: CellTask<TrainTask>) => {
    try {
      const b = readCheckpoint(checkpointPath(contexts[t.cell].paths, contexts[t.cell].cfg, t.variant, t.seed));
      return b.step >= b.totalSteps && identityDiff(b, checkpointRequest(contexts[t.cell].cfg, t.variant, t.seed)).length === 0;
    } catch {
      return false; // absent, or refused later by the task itself with its message
    }
  };
  const done = new Set(trainTasks.filter(finished));
  const trainWeight = (t: CellTask<TrainTask>) => (done.has(t) ? 1 : epochsFor(contexts[t.cell].cfg, t.variant) * 10);
  const sampleWeight = (t: CellTask<SampleTask>) => contexts[t.cell].cfg.samples;
  const wTrain = trainTasks.reduce((a, t) => a + trainWeight(t), 0);
  const wSample = sampleTasks.reduce((a, t) => a + sampleWeight(t), 0);
  const bar = new Progress({ label: "sweep", total: 1000, write: o.progressWrite, intervalMs: o.progressIntervalMs });
  log(`sweep: ${o.cells.length} cell(s) x ${o.variants.length} variant(s): ${trainTasks.length} model(s) (${done.size} finished in the checkpoint folder, ${trainTasks.length - done.size} to train), ${sampleTasks.length} sampling run(s); ` +
    `models in ${checkpointDir}; backend ${info.name}, ${workers} worker(s)`);
  const silent = () => {};
  const phase = { context: { cells: contexts }, workers, write: silent };
  const training = trainTasks.length === 0 ? [] : await runPhase({
    ...phase, label: "sweep train", executor: SWEEP_TRAIN, tasks: trainTasks, weights: trainTasks.map(trainWeight),
    onProgress: (d, total, note) => bar.update(Math.round((1000 * wTrain * (d / total)) / (wTrain + wSample)), note),
  });
  const sampled = sampleTasks.length === 0 ? [] : await runPhase({
    ...phase, label: "sweep sample", executor: SWEEP_SAMPLE, tasks: sampleTasks, weights: sampleTasks.map(sampleWeight),
    onProgress: (d, total, note) => bar.update(Math.round((1000 * (wTrain + wSample * (d / total))) / (wTrain + wSample)), note),
  });
  bar.finish(`${trainTasks.length} model(s), ${sampleTasks.length} run(s)`);
  const trainedBy = new Map(trainTasks.map((t, i) => [checkpointPath(contexts[t.cell].paths, contexts[t.cell].cfg, t.variant, t.seed), training[i]]));

  // 3. every cell's tables, as one experiment's (results.json, table1.*, config.json in its folder)
  const meta = {
    command: o.command ?? null, profile: o.profile, variants: o.variants, startedAt: started.toISOString(), libraryVersion: libraryVersion(),
    node: process.version, tfjs: tf.version_core, backend: backendInfo().name, workers, cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? "?",
  };
  const cells = o.cells.map((c, cell) => {
    const ctx = contexts[cell];
    const p = plans[cell];
    const cellTraining = p.trainTasks.map((t) => trainedBy.get(checkpointPath(ctx.paths, ctx.cfg, t.variant, t.seed))!);
    const cellRuns = sampled.filter((_, i) => sampleTasks[i].cell === cell);
    const first = census(loadOrCreateDataset(o.dataDir, { size: c.config.datasetSize, seed: p.draws[0] }));
    const results = assembleResults({
      meta: { ...meta, cell: c.name, sweep: path.resolve(o.outDir), values: c.values, seeds: p.seeds, models: p.models, runs: p.runs, seconds: (Date.now() - started.getTime()) / 1000 },
      cfg: c.config, variants: o.variants, training: cellTraining, runs: cellRuns,
      dataset: { size: first.images, seed: c.config.datasetSeed, draws: p.draws, distinct: first.distinct, possible: first.possible },
    });
    writeResults(ctx.paths.outDir, results, { profile: o.profile, variants: o.variants, config: c.config, selection: { seeds: p.seeds, models: p.models, runs: p.runs } });
    return { name: c.name, values: c.values, results };
  });

  // 4. the sweep's own tables
  const seconds = (Date.now() - started.getTime()) / 1000;
  writeSweepFiles(o, cells, { ...meta, seconds, checkpointDir: path.relative(path.resolve(o.outDir), checkpointDir) || ".", models: trainTasks.length, sampleRuns: sampleTasks.length });
  log(`sweep: wrote ${o.outDir}/sweep.md, sweep-models.csv, sweep-cells.csv, sweep-differences.csv and ${cells.length} cell folder(s) (${seconds.toFixed(0)} s)`);
  return { meta: { ...meta, seconds }, cells };
}

/** The cells' runs in the shape the summaries take. */
export function cellRunsOf(cells: SweepResults["cells"]): CellRuns[] {
  return cells.map((c) => ({ name: c.name, values: c.values, runsPerModel: c.results.config.runs, runs: c.results.runs }));
}

const pct = (x: number) => (100 * x).toFixed(2);
const interval = (ci: [number, number] | null) => (ci ? `${pct(ci[0])} - ${pct(ci[1])}` : "-");

/** Write sweep.json and the sweep's tables (one set: all or nothing replaces the previous ones). */
function writeSweepFiles(o: SweepOptions, cells: SweepResults["cells"], meta: Record<string, unknown>): void {
  const runs = cellRunsOf(cells);
  const models = longTable(runs, o.axes);
  const summaries = cellSummaries(runs);
  const ref = (a: Axis): ConfigValue => referenceValue(o.profile, a);
  const diffs = cellDifferences(runs, o.axes, ref);
  const cellRows = summaries.map((s) => ({
    cell: s.cell, ...Object.fromEntries(o.axes.map((a) => [a.key, String(s.values[a.key])])), variant: s.variant, models: s.models, draws: s.draws,
    functional_mean: s.mean, functional_ci_lo: s.meanCi?.[0] ?? "", functional_ci_hi: s.meanCi?.[1] ?? "", functional_ci_over: s.meanOver ?? "",
    functional_one_model_pi_lo: s.pi?.[0] ?? "", functional_one_model_pi_hi: s.pi?.[1] ?? "",
    ...Object.fromEntries(Object.entries(s.metrics).map(([k, v]) => [`${k}_mean_over_models`, v])),
  }));
  const diffRows = diffs.map((d) => ({ key: d.key, cell: d.cell, reference: d.reference, variant: d.variant, metric: d.metric, diff: d.diff, ci_lo: d.ci95[0], ci_hi: d.ci95[1], draws: d.draws }));
  const md = [
    `# Sweep ${path.basename(path.resolve(o.outDir))}`,
    "",
    `Command: \`${o.command ?? "runSweep"}\`; profile ${o.profile}; variants ${o.variants.join(", ")}; swept: ${o.axes.map((a) => `${a.key} = ${a.values.join(", ")}`).join("; ") || "nothing"}.`,
    "",
    "Functional consistency per cell and variant: mean over models with its 95 % interval (t over dataset draws for the",
    "nested design; see src/eval/nested.ts) and the 95 % prediction interval for one new model.",
    "",
    `| cell | variant | models | draws | functional | 95 % CI (mean) | 95 % PI (one model) | bijective | novel |`,
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ...summaries.map((s) => `| ${s.cell} | ${s.variant} | ${s.models} | ${s.draws} | ${pct(s.mean)} % | ${interval(s.meanCi)} | ${interval(s.pi)} | ${pct(s.metrics.bijective)} % | ${pct(s.metrics.novel)} % |`),
    "",
    "Paired differences from the reference value of each key (the profile's own value when swept, else the first),",
    "other keys equal: mean over the dataset draws both cells share of the difference of draw means, 95 % t-interval over those draws.",
    "",
    "| key | cell | reference | variant | difference (points) | 95 % CI | draws |",
    "| --- | --- | --- | --- | --- | --- | --- |",
    ...diffs.map((d) => `| ${d.key} | ${d.cell} | ${d.reference} | ${d.variant} | ${(100 * d.diff).toFixed(2)} | ${(100 * d.ci95[0]).toFixed(2)} - ${(100 * d.ci95[1]).toFixed(2)} | ${d.draws} |`),
    "",
  ].join("\n");
  const json = (v: unknown) => JSON.stringify(v, null, 2) + "\n";
  const out = path.resolve(o.outDir);
  writeFilesAtomic([
    { file: path.join(out, "sweep-models.csv"), data: toCsv(models) },
    { file: path.join(out, "sweep-models.json"), data: json(models) },
    { file: path.join(out, "sweep-cells.csv"), data: toCsv(cellRows) },
    { file: path.join(out, "sweep-cells.json"), data: json(summaries) },
    { file: path.join(out, "sweep-differences.csv"), data: toCsv(diffRows) },
    { file: path.join(out, "sweep-differences.json"), data: json(diffs) },
    { file: path.join(out, "sweep.md"), data: md },
    {
      file: path.join(out, "sweep.json"),
      data: json({
        format: "attention-creativity/sweep@1", meta, profile: o.profile, variants: o.variants,
        axes: o.axes.map((a) => ({ key: a.key, values: a.values, reference: ref(a) })),
        seeds: o.seeds ?? null, runs: o.runs ?? null,
        cells: o.cells.map((c) => ({ name: c.name, values: c.values, dir: path.relative(out, cellDir(out, c.name)), config: c.config })),
      }),
    },
  ]);
}

/** The swept configs' keys that differ from the first cell's, for labels. */
export function sweptKeys(cells: readonly Cell[]): (keyof ExperimentConfig)[] {
  return [...new Set(cells.flatMap((c) => Object.keys(c.values)))] as (keyof ExperimentConfig)[];
}
