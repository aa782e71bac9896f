/**
 * An experiment end to end: dataset -> train every (variant, seed) -> sample every run ->
 * metrics -> Table 1, written atomically as results.json, results.csv, table1.csv/.md and
 * config.json in the output folder. The CLI and the notebooks call this (or its pieces).
 */
import * as os from "os";
import * as path from "path";
import * as tf from "@tensorflow/tfjs-core";
import { backendInfo, initBackend } from "../backend";
import { ExperimentConfig } from "../config";
import { census } from "../data/dataset";
import { loadOrCreateDataset } from "../data/store";
import { exactRandomBaseline, monteCarloRandomBaseline } from "../eval/baseline";
import { MetricValues } from "../eval/metrics";
import { baselineSummary, ModelSummary, RunMetrics, summarizeRuns, table1Markdown, table1Rows, toCsv } from "../eval/report";
import { writeFileAtomic, writeJsonAtomic } from "../io/atomic";
import { Variant } from "../model/variants";
import { Progress } from "../progress";
import { libraryVersion } from "../version";
import { runTasks, Task, workerCount } from "./pool";
import { Paths, SampleTaskResult, TrainTaskResult } from "./tasks";

export interface ExperimentOptions {
  cfg: ExperimentConfig;
  variants: readonly Variant[];
  paths: Paths;
  /** Label for logs and results (e.g. the profile name). */
  profile: string;
  /** Command line or notebook that started the run, recorded in results.json. */
  command?: string;
  /** Optional slice of the work (for job arrays): training seeds and sampling runs to do. */
  seeds?: number[];
  runs?: number[];
  log?: (line: string) => void;
  /** Where progress lines go (default: a bar on a terminal, else a line every 10 s). */
  progressWrite?: (line: string, final: boolean) => void;
}

export interface ExperimentResults {
  meta: Record<string, unknown>;
  config: ExperimentConfig;
  dataset: { size: number; seed: number; distinct: number; possible: number };
  training: TrainTaskResult[];
  runs: SampleTaskResult[];
  baseline: { exact: MetricValues; monteCarlo: MetricValues[] };
  summaries: ModelSummary[];
  table1: Record<string, string | number>[];
}

function range(start: number, n: number): number[] {
  return Array.from({ length: n }, (_, i) => start + i);
}

/** Run the experiment; returns the results that were written to `paths.outDir`. */
export async function runExperiment(o: ExperimentOptions): Promise<ExperimentResults> {
  const { cfg, variants, paths } = o;
  const log = o.log ?? ((s: string) => console.log(s));
  const started = new Date();
  const info = await initBackend();
  const workers = workerCount(cfg);
  // 1. dataset (generated once here so workers only read it)
  const ds = loadOrCreateDataset(paths.dataDir, { size: cfg.datasetSize, seed: cfg.datasetSeed });
  const c = census(ds);
  log(`dataset: ${c.images} images, ${c.distinct} of ${c.possible} possible distinct images; backend ${info.name}, ${workers} worker(s)`);
  writeJsonAtomic(path.join(paths.outDir, "config.json"), { profile: o.profile, variants, config: cfg });

  // 2. training, one task per (variant, seed)
  const seeds = o.seeds ?? range(cfg.seed, cfg.seeds);
  const runs = o.runs ?? range(0, cfg.runs);
  const trainTasks: Task[] = variants.flatMap((variant) => seeds.map((seed) => ({ kind: "train" as const, variant, seed })));
  const training = (await runPhase("train", trainTasks, o, workers)) as TrainTaskResult[];
  for (const t of training) log(`trained ${t.variant} seed ${t.seed}: ${t.status}, ${t.steps} steps, final epoch loss ${t.epochLosses.at(-1)?.toFixed(4)} (${t.seconds.toFixed(0)} s)`);

  // 3. sampling runs (samples of run 0 of each model saved as .npy)
  const weightSets: ("ema" | "raw")[] = cfg.rawSamples ? ["ema", "raw"] : [cfg.useEma ? "ema" : "raw"];
  // Run-major order: an interrupted experiment has about as many runs of every model (finished
  // runs are kept and reused, so a rerun with a smaller --runs slice can still write a table).
  const sampleTasks: Task[] = runs.flatMap((run) => variants.flatMap((variant) => seeds.flatMap((seed) => weightSets.map((weights) =>
    ({ kind: "sample" as const, variant, seed, run, weights, saveNpy: run === runs[0] })))));
  const sampled = (await runPhase("sample", sampleTasks, o, workers)) as SampleTaskResult[];

  // 4. tables and files
  const results = assembleResults({
    meta: {
      command: o.command ?? null, profile: o.profile, variants, seeds, runs, startedAt: started.toISOString(),
      seconds: (Date.now() - started.getTime()) / 1000, libraryVersion: libraryVersion(), node: process.version,
      tfjs: tf.version_core, backend: backendInfo().name, workers, cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? "?",
    },
    cfg, variants, dataset: { size: c.images, seed: cfg.datasetSeed, distinct: c.distinct, possible: c.possible }, training, runs: sampled,
  });
  writeResults(paths.outDir, results);
  return results;
}

/**
 * Tables from training and sampling results: the random baseline (exact, and Monte Carlo at the
 * models' scale), summaries over runs and seeds, Table 1 rows. Used by runs and by `merge`.
 */
export function assembleResults(o: {
  meta: Record<string, unknown>; cfg: ExperimentConfig; variants: readonly Variant[]; dataset: ExperimentResults["dataset"];
  training: TrainTaskResult[]; runs: SampleTaskResult[];
}): ExperimentResults {
  const runCount = new Set(o.runs.map((r) => r.run)).size;
  const exact = exactRandomBaseline();
  const monteCarlo = monteCarloRandomBaseline({ samples: o.cfg.samples, runs: Math.max(2, runCount), seed: o.cfg.sampleSeed });
  const runMetrics: RunMetrics[] = o.runs.map((r) => ({ variant: r.variant, seed: r.seed, run: r.run, weights: r.weights, metrics: r.metrics }));
  const summaries = [baselineSummary(monteCarlo), ...summarizeRuns(runMetrics, o.variants)];
  return {
    meta: o.meta, config: o.cfg, dataset: o.dataset, training: o.training, runs: o.runs,
    baseline: { exact, monteCarlo }, summaries, table1: table1Rows(summaries, exact),
  };
}

/** Write results.json, table1.csv/.md, runs.csv and losses.csv atomically into `outDir`. */
export function writeResults(outDir: string, r: ExperimentResults): void {
  writeJsonAtomic(path.join(outDir, "results.json"), r);
  writeFileAtomic(path.join(outDir, "table1.csv"), toCsv(r.table1));
  writeFileAtomic(path.join(outDir, "table1.md"), table1Markdown(r.summaries, r.baseline.exact));
  writeFileAtomic(path.join(outDir, "runs.csv"), toCsv(r.runs.map((x) => ({ variant: x.variant, seed: x.seed, run: x.run, weights: x.weights, samples: x.samples, ...x.metrics }))));
  const losses = r.training.flatMap((t) => t.epochLosses.map((loss, epoch) => ({ variant: t.variant, seed: t.seed, epoch: epoch + 1, loss })));
  writeFileAtomic(path.join(outDir, "losses.csv"), toCsv(losses));
}

async function runPhase(label: string, tasks: Task[], o: ExperimentOptions, workers: number) {
  const done = new Map<number, number>();
  const totals = new Map<number, number>();
  const bar = new Progress({ label: `${o.profile} ${label}`, total: 1, write: o.progressWrite });
  const res = await runTasks(tasks, o.cfg, o.paths, workers, (id, d, t, note) => {
    done.set(id, d);
    totals.set(id, t);
    // Tasks not started yet count as the mean size of the ones seen.
    const seen = [...totals.values()];
    const mean = seen.reduce((a, b) => a + b, 0) / seen.length;
    const total = mean * tasks.length;
    const sum = [...done.values()].reduce((a, b) => a + b, 0);
    bar.update(Math.min(sum / total, 0.999), note);
  });
  bar.finish(`${tasks.length} task(s) done`);
  return res;
}
