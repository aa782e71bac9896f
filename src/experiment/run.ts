/**
 * An experiment end to end: dataset -> train every (variant, seed) -> sample every run ->
 * metrics -> Table 1, written atomically as results.json, results.csv, table1.csv/.md and
 * config.json in the output folder -> (config key `theory`) the theory phase, theory.json. The CLI
 * and the notebooks call this (or its pieces).
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
import { baselineSummary, compareVariants, ModelSummary, nonFiniteNote, RunMetrics, summarizeRuns, table1Markdown, table1Rows, toCsv, VariantComparison } from "../eval/report";
import { writeFilesAtomic, writeJsonAtomic } from "../io/atomic";
import { Variant } from "../model/variants";
import { libraryVersion } from "../version";
import { withOutputLock } from "./lock";
import { ModelKey, protocolModel, runsFor, selectModels, studyModels } from "./models";
import { runPhase } from "./phase";
import { workerCount } from "./pool";
import { checkSelection } from "./selection";
import { computeTheory, experimentTheoryRequest, TheoryRequest } from "./theory-phase";
import { Paths, SAMPLE_TASKS, SampleTask, SampleTaskResult, storedRun, trainCost, TRAIN_TASKS, TrainTask, TrainTaskResult } from "./tasks";

export interface ExperimentOptions {
  cfg: ExperimentConfig;
  variants: readonly Variant[];
  paths: Paths;
  /** Label for logs and results (e.g. the profile name). */
  profile: string;
  /** Command line or notebook that started the run, recorded in results.json. */
  command?: string;
  /**
   * Optional slice of the work (for job arrays): training seeds (each names one model of the
   * study, see models.ts) and sampling run indices. Default: the whole study.
   */
  seeds?: number[];
  runs?: number[];
  log?: (line: string) => void;
  /** Where progress lines go (default: a bar on a terminal, else a line every 10 s). */
  progressWrite?: (line: string, final: boolean) => void;
  /** What the theory phase computes (default `experimentTheoryRequest`: notebook 09's defaults). */
  theoryRequest?: TheoryRequest;
}

export interface ExperimentResults {
  meta: Record<string, unknown>;
  config: ExperimentConfig;
  /** `seed`: the first draw; `draws`: every draw's seed; `distinct`: of the first draw. */
  dataset: { size: number; seed: number; draws?: number[]; distinct: number; possible: number };
  training: TrainTaskResult[];
  runs: SampleTaskResult[];
  baseline: { exact: MetricValues; monteCarlo: MetricValues[] };
  summaries: ModelSummary[];
  /** Variants compared over dataset draws (paired), when the study spans >= 2 draws. */
  comparisons?: VariantComparison[];
  table1: Record<string, string | number>[];
}

function range(start: number, n: number): number[] {
  return Array.from({ length: n }, (_, i) => start + i);
}

/**
 * Run the experiment; returns the results that were written to `paths.outDir`. The output folder
 * is locked for the whole run (one writer per folder).
 */
export async function runExperiment(o: ExperimentOptions): Promise<ExperimentResults> {
  checkUnique("variant", o.variants);
  if (o.seeds) checkUnique("training seed", o.seeds);
  if (o.runs) checkUnique("run", o.runs);
  if (o.paths.outDir.trim() === "") throw new Error("the output folder is an empty path; name a folder");
  if (o.paths.dataDir.trim() === "") throw new Error("the dataset folder is an empty path; name a folder");
  // A slice outside the study, one that samples nothing, or a study too large to record: an error now.
  const models = o.seeds ? selectModels(o.cfg, o.seeds) : studyModels(o.cfg);
  checkSelection(o.cfg, o.variants, models, o.runs ?? range(0, Math.max(o.cfg.runs, o.cfg.protocolRuns)), { sliced: o.seeds !== undefined });
  return withOutputLock(o.paths.outDir, o.command ?? `runExperiment (${o.profile})`, () => runLocked(o));
}

function checkUnique<T>(what: string, xs: readonly T[]): void {
  if (xs.length === 0) throw new Error(`no ${what} selected`);
  const dup = xs.find((x, i) => xs.indexOf(x) !== i);
  if (dup !== undefined) throw new Error(`${what} ${String(dup)} is listed twice; list each once`);
}

/** The work of one experiment: its models, run indices, dataset draws, training and sampling tasks. */
export interface ExperimentPlan {
  models: ModelKey[];
  seeds: number[];
  runs: number[];
  draws: number[];
  trainTasks: TrainTask[];
  sampleTasks: SampleTask[];
}

/**
 * What an experiment of `cfg` does for `variants` (optionally a slice: training seeds, run indices):
 * one training task per (variant, model); the sampling runs of each model (the study's `runs`, the
 * first model `protocolRuns`), run-major, with the samples of each model's first run saved as .npy.
 */
export function planExperiment(cfg: ExperimentConfig, variants: readonly Variant[], o: { seeds?: number[]; runs?: number[] } = {}): ExperimentPlan {
  const models = o.seeds ? selectModels(cfg, o.seeds) : studyModels(cfg);
  const runs = o.runs ?? range(0, Math.max(cfg.runs, cfg.protocolRuns));
  const trainTasks: TrainTask[] = variants.flatMap((variant) => models.map((m) => ({ variant, seed: m.seed })));
  const weightSets: ("ema" | "raw")[] = cfg.rawSamples ? ["ema", "raw"] : [cfg.useEma ? "ema" : "raw"];
  // Run-major order: an interrupted experiment has about as many runs of every model (finished
  // runs are kept and reused, so a rerun with a smaller --runs slice can still write a table).
  const modelRuns = new Map(models.map((m) => [m.seed, new Set(runsFor(cfg, m, runs))]));
  const sampleTasks: SampleTask[] = runs.flatMap((run) => variants.flatMap((variant) => models.filter((m) => modelRuns.get(m.seed)!.has(run)).flatMap((m) => weightSets.map((weights) =>
    ({ variant, seed: m.seed, run, weights, saveNpy: run === runs[0] })))));
  return { models, seeds: models.map((m) => m.seed), runs, draws: [...new Set(models.map((m) => m.dataSeed))], trainTasks, sampleTasks };
}

async function runLocked(o: ExperimentOptions): Promise<ExperimentResults> {
  const { cfg, variants, paths } = o;
  const log = o.log ?? ((s: string) => console.log(s));
  const started = new Date();
  const plan = planExperiment(cfg, variants, { seeds: o.seeds, runs: o.runs });
  const { models, seeds, runs, draws, trainTasks, sampleTasks } = plan;
  const info = await initBackend();
  const workers = workerCount(cfg);
  // wall-clock seconds per phase, written to phases.json (scripts/run-info.ts copies them into run.json)
  const phases: Record<string, number> = {};
  let mark = Date.now();
  const lap = (name: string) => { const now = Date.now(); phases[name] = (now - mark) / 1000; mark = now; };
  // 1. datasets (generated once here so workers only read them)
  const censuses = draws.map((seed) => census(loadOrCreateDataset(paths.dataDir, { size: cfg.datasetSize, seed })));
  const c = censuses[0];
  log(`dataset: ${draws.length} draw(s) (seeds ${draws.join(", ")}) of ${c.images} images, ${censuses.map((x) => x.distinct).join("/")} of ${c.possible} possible distinct images; backend ${info.name}, ${workers} worker(s)`);

  // 2. training, one task per (variant, model)
  const phase = (label: string) => ({ label: `${o.profile} ${label}`, context: { cfg, paths }, workers, write: o.progressWrite });
  // weights known up front, so the bar only moves forward: training counts its cost (epochs x parameters,
  // see trainCost: also the order tasks start in), a sampling run counts 1
  lap("datasets");
  const training = await runPhase({ ...phase("train"), executor: TRAIN_TASKS, tasks: trainTasks, weights: trainTasks.map((t) => trainCost(cfg, t.variant)) });
  lap("train");
  for (const t of training) log(`trained ${t.variant} draw ${t.dataSeed} seed ${t.seed}: ${t.status}, ${t.steps} steps, final epoch loss ${t.epochLosses.at(-1)?.toFixed(4)} (${t.seconds.toFixed(0)} s)`);

  // 3. sampling runs (samples of each model's first run saved as .npy)
  const sampled = await runPhase({ ...phase("sample"), executor: SAMPLE_TASKS, tasks: sampleTasks, weights: sampleTasks.map(() => 1) });
  lap("sample");

  // 4. tables and files
  const results = assembleResults({
    meta: {
      command: o.command ?? null, profile: o.profile, variants, seeds, models, runs, startedAt: started.toISOString(),
      seconds: (Date.now() - started.getTime()) / 1000, libraryVersion: libraryVersion(), node: process.version,
      tfjs: tf.version_core, backend: backendInfo().name, workers, cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? "?",
    },
    cfg, variants, dataset: { size: c.images, seed: cfg.datasetSeed, draws, distinct: c.distinct, possible: c.possible }, training, runs: sampled,
  });
  // config.json goes with the results it describes (one write, see writeResults): a failed rerun
  // with other settings leaves both as they were.
  writeResults(paths.outDir, results, { profile: o.profile, variants, config: cfg, selection: { seeds, models, runs } });
  lap("tables");

  // 5. theory: the derivation checks and score machines beside the trained models (theory.json),
  //    its units over the same pool and cached in theory/ (notebook 09 loads the file)
  if (!cfg.theory) log("theory phase: off (config key theory = false)");
  else if (o.seeds || o.runs) log("theory phase: skipped, this run is a slice of the study (--seeds/--runs range); run the whole study or notebook 09 for it");
  else {
    const t = await computeTheory({
      cfg, paths, ...(o.theoryRequest ?? experimentTheoryRequest(cfg, variants)), workers, label: `${o.profile} theory`, progressWrite: o.progressWrite, log,
      command: o.command ?? `runExperiment (${o.profile})`,
    });
    log(`theory phase: wrote theory.json (${t.computed} unit(s) computed, ${t.reused} reused; ${t.seconds.toFixed(0)} s)`);
    lap("theory");
  }
  writeJsonAtomic(path.join(paths.outDir, "phases.json"), { command: o.command ?? null, startedAt: started.toISOString(), seconds: phases, loadAverage: os.loadavg() });
  log(`phases (s): ${Object.entries(phases).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(", ")}`);
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
  const runCount = new Set(o.runs.filter((r) => r.run < o.cfg.runs).map((r) => r.run)).size;
  const exact = exactRandomBaseline();
  const monteCarlo = monteCarloRandomBaseline({ samples: o.cfg.samples, runs: Math.max(2, runCount), seed: o.cfg.sampleSeed });
  const runMetrics: RunMetrics[] = o.runs.map((r) => ({ variant: r.variant, dataSeed: r.dataSeed, seed: r.seed, run: r.run, weights: r.weights, metrics: r.metrics }));
  const p = protocolModel(o.cfg);
  const summaries = [baselineSummary(monteCarlo), ...summarizeRuns(runMetrics, o.variants, {
    runsPerModel: o.cfg.runs,
    protocol: o.cfg.protocolRuns > 0 ? { ...p, runs: o.cfg.protocolRuns } : null,
  })];
  return {
    meta: o.meta, config: o.cfg, dataset: o.dataset, training: o.training, runs: o.runs,
    baseline: { exact, monteCarlo }, summaries, comparisons: compareVariants(summaries, o.variants), table1: table1Rows(summaries, exact),
  };
}

/**
 * Write results.json, table1.csv/.md, runs.csv, losses.csv and (when given) config.json into
 * `outDir` as one set (src/io/atomic.ts writeFilesAtomic): every file is written completely before
 * any replaces its previous version, so a full disk leaves the previous set whole. Paths in
 * results.json are relative to `outDir`.
 */
export function writeResults(outDir: string, r: ExperimentResults, config?: Record<string, unknown>): void {
  writeFilesAtomic(resultFiles(outDir, r, config));
}

/** The files `writeResults` writes, with their contents, in the order they replace their previous versions. */
export function resultFiles(outDir: string, r: ExperimentResults, config?: Record<string, unknown>): { file: string; data: string }[] {
  const rel = (f: string) => (typeof f === "string" && path.isAbsolute(f) ? path.relative(outDir, f) : f);
  const json = (v: unknown) => JSON.stringify(v, null, 2) + "\n";
  const note = nonFiniteNote(r.runs);
  const losses = r.training.flatMap((t) => t.epochLosses.map((loss, epoch) => ({ variant: t.variant, dataSeed: t.dataSeed, seed: t.seed, epoch: epoch + 1, loss })));
  return [
    { file: path.join(outDir, "table1.csv"), data: toCsv(r.table1) },
    { file: path.join(outDir, "table1.md"), data: table1Markdown(r.summaries, r.baseline.exact, r.comparisons ?? []) + (note ? `\n${note}\n` : "") },
    { file: path.join(outDir, "runs.csv"), data: toCsv(r.runs.map((x) => ({ variant: x.variant, dataSeed: x.dataSeed, seed: x.seed, run: x.run, weights: x.weights, samples: x.samples, nonFiniteSamples: x.nonFiniteSamples ?? 0, ...x.metrics }))) },
    { file: path.join(outDir, "losses.csv"), data: toCsv(losses) },
    ...(config ? [{ file: path.join(outDir, "config.json"), data: json(config) }] : []),
    {
      file: path.join(outDir, "results.json"),
      data: json({
        ...r,
        training: r.training.map((t) => ({ ...t, checkpoint: rel(t.checkpoint) })),
        runs: r.runs.map((x) => (typeof x.checkpoint === "string" && path.isAbsolute(x.checkpoint) ? storedRun(outDir, x) : x)),
      }),
    },
  ];
}
