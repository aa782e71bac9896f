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
  training: Omit<TrainTaskResult, "epochLosses">[];
  runs: (Omit<SampleTaskResult, "metrics"> & { metrics: MetricValues })[];
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
  const sampleTasks: Task[] = variants.flatMap((variant) => seeds.flatMap((seed) => weightSets.flatMap((weights) =>
    runs.map((run) => ({ kind: "sample" as const, variant, seed, run, weights, saveNpy: run === runs[0] })))));
  const sampled = (await runPhase("sample", sampleTasks, o, workers)) as SampleTaskResult[];

  // 4. random baseline, exact and Monte Carlo at the same scale as the models
  const exact = exactRandomBaseline();
  const monteCarlo = monteCarloRandomBaseline({ samples: cfg.samples, runs: Math.max(2, runs.length), seed: cfg.sampleSeed });

  // 5. tables
  const runMetrics: RunMetrics[] = sampled.map((r) => ({ variant: r.variant, seed: r.seed, run: r.run, weights: r.weights, metrics: r.metrics }));
  const summaries = [baselineSummary(monteCarlo), ...summarizeRuns(runMetrics, variants)];
  const table1 = table1Rows(summaries, exact);
  const results: ExperimentResults = {
    meta: {
      command: o.command ?? null, profile: o.profile, variants, seeds, runs: runs.length, startedAt: started.toISOString(),
      seconds: (Date.now() - started.getTime()) / 1000, libraryVersion: libraryVersion(), node: process.version,
      tfjs: tf.version_core, backend: backendInfo().name, workers, cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? "?",
    },
    config: cfg,
    dataset: { size: c.images, seed: cfg.datasetSeed, distinct: c.distinct, possible: c.possible },
    training: training.map(({ epochLosses: _l, ...rest }) => rest),
    runs: sampled,
    baseline: { exact, monteCarlo },
    summaries,
    table1,
  };
  writeJsonAtomic(path.join(paths.outDir, "results.json"), results);
  writeFileAtomic(path.join(paths.outDir, "table1.csv"), toCsv(table1));
  writeFileAtomic(path.join(paths.outDir, "table1.md"), table1Markdown(summaries, exact));
  writeFileAtomic(path.join(paths.outDir, "runs.csv"), toCsv(sampled.map((r) => ({ variant: r.variant, seed: r.seed, run: r.run, weights: r.weights, samples: r.samples, ...r.metrics }))));
  const losses = training.flatMap((t) => t.epochLosses.map((loss, epoch) => ({ variant: t.variant, seed: t.seed, epoch: epoch + 1, loss })));
  writeFileAtomic(path.join(paths.outDir, "losses.csv"), toCsv(losses));
  return results;
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
