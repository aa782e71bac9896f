/**
 * Score machines beside the trained models, end to end: sample every machine with the trained
 * models' sampler, seeds and sample counts and score them with every SPEC metric (Table-1 rows);
 * compare machines with each trained variant along its own trajectories (r^2 vs t) and on final
 * images from the same noise (median Pearson r); add the derivation checks; write
 * `<outDir>/theory.json` atomically. Called by notebooks/09_score_machines.ipynb.
 */
import * as fs from "fs";
import * as path from "path";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../backend";
import { ExperimentConfig } from "../config";
import { datasetImageKeys, datasetImages } from "../data/dataset";
import { imagesToTokens } from "../data/layout";
import { loadOrCreateDataset } from "../data/store";
import { EpsModel, sampleTokens } from "../ddpm/sampler";
import { makeSchedule, Schedule } from "../ddpm/schedule";
import { evaluateTokens, METRIC_NAMES, MetricName, MetricValues } from "../eval/metrics";
import { ModelSummary, table1Markdown, table1Rows } from "../eval/report";
import { summarize, Summary } from "../eval/stats";
import { checkpointPath, checkpointRequest, OnProgress, Paths, trainTask } from "../experiment/tasks";
import { writeJsonAtomic } from "../io/atomic";
import { networkEpsModel } from "../model/eps-model";
import { disposeParams, packedLayout, unpackTensors } from "../model/packed";
import { Variant } from "../model/variants";
import { Rng } from "../rng";
import { checkpointTensor, readCheckpoint, readFinishedCheckpoint } from "../train/checkpoint";
import { libraryVersion } from "../version";
import { compareAlongTrajectory, compareOnForwardProcess, perSamplePearson, perSampleR2, quantile, quoteTimesteps } from "./compare";
import { CheckResult } from "./derivationsCheck";
import { MACHINE_DEFAULTS, MACHINE_LABELS, MachineName, MachineOptions, makeMachine, machineEpsModel, ScoreMachine, THEORY_MACHINES } from "./machines";

/** One sampling run of a machine, scored like a trained model's run (model = "machine:<name>"). */
export interface MachineRunMetrics {
  model: string;
  machine: MachineName;
  run: number;
  samples: number;
  metrics: MetricValues;
  seconds: number;
}

/** Machines vs one trained variant. */
export interface VariantComparison {
  variant: Variant;
  seed: number;
  weights: "ema" | "raw";
  checkpoint: string;
  /** Trajectories compared (samples of run `sampleSeed`). */
  n: number;
  /** r^2 per machine per timestep t = 0 .. T-1 (network as reference). */
  r2: Record<string, number[]>;
  /** Squared Pearson correlation per machine per timestep. */
  rho2: Record<string, number[]>;
  /** r^2 at a few timesteps, for tables: {machine: {t: r2}}. */
  r2At: Record<string, Record<string, number>>;
  /** r^2 of the x0 estimates along the same trajectories, per machine per timestep. */
  r2X0: Record<string, number[]>;
  /** r^2 of eps on the forward process (noised training images, the training distribution), per machine per timestep. */
  r2Forward: Record<string, number[]>;
  r2ForwardAt: Record<string, Record<string, number>>;
  /** Loss-weighted r^2 of eps over all timesteps (weights 1 - aBar_t, as in training): along trajectories / on the forward process. */
  r2Pooled: Record<string, number>;
  r2ForwardPooled: Record<string, number>;
  /** Median (and quartiles) over samples of the per-image Pearson r of final images from the same noise. */
  pearson: Record<string, { median: number; q25: number; q75: number }>;
  /** Median over samples of the per-image r^2 (1 - SSE/SST, network image as reference) of final images (Kamb & Ganguli's "median r^2"). */
  finalR2Median: Record<string, number>;
}

export interface TheoryResults {
  meta: Record<string, unknown>;
  config: ExperimentConfig;
  machineOptions: Required<MachineOptions>;
  machines: { name: MachineName; model: string; label: string }[];
  runs: MachineRunMetrics[];
  /** Same columns as the experiment's Table 1 (src/eval/report.ts table1Rows). */
  table1: Record<string, string | number>[];
  table1Markdown: string;
  comparisons: VariantComparison[];
  skipped: { variant: Variant; reason: string }[];
  derivations: CheckResult[];
}

export interface TheoryOptions {
  cfg: ExperimentConfig;
  paths: Paths;
  /**
   * Trained variants to compare with (their checkpoints come from `checkpointPath(paths, ...)` and
   * must have been trained on draw `cfg.datasetSeed`, the draw the machines are built from; for
   * several draws and seeds use `runDiscrimination` in discriminate.ts).
   */
  variants: readonly Variant[];
  /** Training seed of the compared checkpoints (default cfg.seed). */
  seed?: number;
  /** Weights of the compared networks (default: EMA when cfg.useEma). */
  weights?: "ema" | "raw";
  /** Machines to sample and compare (default THEORY_MACHINES). */
  machines?: readonly MachineName[];
  machineOptions?: MachineOptions;
  /** Trajectories (and final images) per comparison; >= 100 for a meaningful median (default 200). */
  compareSamples?: number;
  /** A missing or unfinished checkpoint: "train" it (trainTask), "skip" the variant (recorded), or throw. */
  missing?: "train" | "skip" | "error";
  /** Run `runAllDerivationChecks()` and include the results (default true). */
  derivations?: boolean;
  /** Output file (default `<paths.outDir>/theory.json`); null writes nothing. */
  outFile?: string | null;
  onProgress?: OnProgress;
  log?: (line: string) => void;
}

/** libraryVersion(), also inside tslab, where __dirname is the unresolved notebooks/src symlink path. */
function versionOf(): string {
  try {
    return libraryVersion();
  } catch {
    return (JSON.parse(fs.readFileSync(path.join(fs.realpathSync(__dirname), "..", "..", "package.json"), "utf8")) as { version: string }).version;
  }
}

/** Machine name as a Table-1 model name. */
export const machineModelName = (m: MachineName): string => `machine:${m}`;

/** Load a finished checkpoint's network as an EpsModel; call `dispose` when done. */
export function loadNetworkEpsModel(file: string, variant: Variant, weights: "ema" | "raw"): { model: EpsModel; dispose: () => void } {
  const ck = readCheckpoint(file);
  if (ck.variant !== variant) throw new Error(`checkpoint ${file} holds variant '${ck.variant}', expected '${variant}'`);
  if (ck.step < ck.totalSteps) throw new Error(`checkpoint ${file} is unfinished (step ${ck.step} of ${ck.totalSteps})`);
  const theta = tf.tensor1d(checkpointTensor(ck, weights === "ema" ? "ema" : "theta", file));
  const params = unpackTensors(packedLayout(variant), theta);
  return { model: networkEpsModel(params, variant), dispose: () => { disposeParams(params); theta.dispose(); } };
}

/**
 * The trained model (variant, seed) of the study `cfg`, from its checkpoint (`checkpointPath`),
 * checked to be that model and finished (`readFinishedCheckpoint`); with the dataset draw it was
 * trained on. Call `dispose` when done.
 */
export function loadTrainedNetwork(cfg: ExperimentConfig, paths: Paths, variant: Variant, seed: number, weights: "ema" | "raw"): { model: EpsModel; dispose: () => void; file: string; dataSeed: number } {
  const file = checkpointPath(paths, cfg, variant, seed);
  const ck = readFinishedCheckpoint(file, checkpointRequest(cfg, variant, seed));
  const theta = tf.tensor1d(checkpointTensor(ck, weights === "ema" ? "ema" : "theta", file));
  const params = unpackTensors(packedLayout(variant), theta);
  return { model: networkEpsModel(params, variant), dispose: () => { disposeParams(params); theta.dispose(); }, file, dataSeed: ck.dataSeed };
}

/** The sampling generator of run `run`, exactly as the trained models' sampleTask uses it. */
export const sampleRng = (cfg: ExperimentConfig, run: number): Rng => new Rng(cfg.sampleSeed + run).split("sample");

/** Sample `cfg.runs` runs of `cfg.samples` from a machine and score them (same seeds as sampleTask). */
export function machineRuns(cfg: ExperimentConfig, m: ScoreMachine, s: Schedule, trainingKeys: Set<string>, onStep?: (run: number, done: number, total: number) => void): MachineRunMetrics[] {
  const out: MachineRunMetrics[] = [];
  for (let run = 0; run < cfg.runs; run++) {
    const t0 = Date.now();
    const tokens = sampleTokens(machineEpsModel(m), s, { n: cfg.samples, batch: cfg.sampleBatch, rng: sampleRng(cfg, run), onStep: (d, t) => onStep?.(run, d, t) });
    out.push({ model: machineModelName(m.name), machine: m.name, run, samples: cfg.samples, metrics: evaluateTokens(tokens, trainingKeys), seconds: (Date.now() - t0) / 1000 });
  }
  return out;
}

/** ModelSummary-shaped summaries of machine runs (one per machine, in `names` order). */
export function summarizeMachineRuns(runs: MachineRunMetrics[], names: readonly MachineName[]): ModelSummary[] {
  return names.filter((n) => runs.some((r) => r.machine === n)).map((name) => {
    const mine = runs.filter((r) => r.machine === name).map((r) => r.metrics);
    const perRun = Object.fromEntries(METRIC_NAMES.map((k) => [k, summarize(mine.map((r) => r[k]))])) as Record<MetricName, Summary>;
    // table1Rows/table1Markdown only print `model`; a machine name stands in for a variant there.
    return { model: machineModelName(name) as unknown as Variant, weights: "-", perRun, perSeed: null, seeds: [], runs: mine.length, paper: null };
  });
}

/** Table-1 rows for machine runs, with the same columns as the trained models' rows. */
export function machineTable1Rows(runs: MachineRunMetrics[], names: readonly MachineName[] = THEORY_MACHINES): Record<string, string | number>[] {
  return table1Rows(summarizeMachineRuns(runs, names));
}

/**
 * Compare machines with one network: r^2 of eps (and of x0) along its trajectories, r^2 of eps on the
 * forward process of the training `tokens`, and Pearson r / r^2 of its final images vs `machineFinals`
 * (machine samples from the same `rng` seed, n and batch).
 */
export function compareWithNetwork(o: {
  model: EpsModel; machines: readonly ScoreMachine[]; machineFinals: Record<string, Float32Array>; tokens: ArrayLike<number>;
  schedule: Schedule; rng: Rng; n: number; onStep?: (done: number, total: number) => void;
}): Omit<VariantComparison, "variant" | "seed" | "weights" | "checkpoint"> {
  const { model, machines, machineFinals, tokens, schedule: s, rng, n } = o;
  const c = compareAlongTrajectory(model, machines, s, { n, batch: n, rng, onStep: o.onStep });
  const fwd = compareOnForwardProcess(model, machines, s, tokens, { n, rng: rng.split("forward") });
  const r2Forward = fwd.r2;
  const at = (curve: number[]) => Object.fromEntries(quoteTimesteps(s.options.steps).map((t) => [String(t), curve[t]]));
  const r2At: VariantComparison["r2At"] = {};
  const r2ForwardAt: VariantComparison["r2ForwardAt"] = {};
  const pearson: VariantComparison["pearson"] = {};
  const finalR2Median: VariantComparison["finalR2Median"] = {};
  for (const m of machines) {
    r2At[m.name] = at(c.r2[m.name]);
    r2ForwardAt[m.name] = at(r2Forward[m.name]);
    const r = perSamplePearson(c.finalTokens, machineFinals[m.name]);
    pearson[m.name] = { median: quantile(r, 0.5), q25: quantile(r, 0.25), q75: quantile(r, 0.75) };
    finalR2Median[m.name] = quantile(perSampleR2(c.finalTokens, machineFinals[m.name]), 0.5);
  }
  return { n, r2: c.r2, rho2: c.rho2, r2X0: c.r2X0, r2At, r2Forward, r2ForwardAt, r2Pooled: c.r2Pooled, r2ForwardPooled: fwd.r2Pooled, pearson, finalR2Median };
}

/** Run everything and write theory.json (see module comment). */
export async function runTheory(o: TheoryOptions): Promise<TheoryResults> {
  const { cfg, paths } = o;
  const log = o.log ?? ((line: string) => console.log(line));
  const info = await initBackend();
  const started = new Date();
  const names = o.machines ?? THEORY_MACHINES;
  const mo: Required<MachineOptions> = { ...MACHINE_DEFAULTS, ...o.machineOptions };
  const seed = o.seed ?? cfg.seed;
  const weights = o.weights ?? (cfg.useEma ? "ema" : "raw");
  const nCompare = o.compareSamples ?? 200;
  // 1. data, schedule, machines
  const ds = loadOrCreateDataset(paths.dataDir, { size: cfg.datasetSize, seed: cfg.datasetSeed });
  const tokens = imagesToTokens(datasetImages(ds));
  const keys = datasetImageKeys(ds);
  const s = makeSchedule({ steps: cfg.diffusionSteps, betaStart: cfg.betaStart, betaEnd: cfg.betaEnd });
  const machines = names.map((n) => makeMachine(n, tokens, s, mo));
  // 2. machine runs with the trained models' seeds and counts
  const runs: MachineRunMetrics[] = [];
  for (const m of machines) {
    runs.push(...machineRuns(cfg, m, s, keys, (run, d, t) => { if (d % 100 === 0 || d === t) o.onProgress?.(d, t, `machine:${m.name} run ${run + 1}/${cfg.runs}`); }));
    const f = runs.filter((r) => r.machine === m.name).map((r) => r.metrics.functional);
    log(`machine:${m.name}: functional ${(100 * f.reduce((a, b) => a + b, 0) / f.length).toFixed(2)} % over ${cfg.runs} x ${cfg.samples} samples`);
  }
  const summaries = summarizeMachineRuns(runs, names);
  // 3. machine finals from the comparison noise (shared by every variant)
  const machineFinals: Record<string, Float32Array> = {};
  for (const m of machines) machineFinals[m.name] = sampleTokens(machineEpsModel(m), s, { n: nCompare, batch: nCompare, rng: sampleRng(cfg, 0) });
  // 4. comparisons with every trained variant
  const comparisons: VariantComparison[] = [];
  const skipped: TheoryResults["skipped"] = [];
  for (const variant of o.variants) {
    const file = checkpointPath(paths, cfg, variant, seed);
    const finished = fs.existsSync(file) && (() => { const ck = readCheckpoint(file); return ck.step >= ck.totalSteps; })();
    if (!finished) {
      const why = fs.existsSync(file) ? `checkpoint ${file} is unfinished` : `no checkpoint ${file}`;
      if ((o.missing ?? "train") === "skip") { skipped.push({ variant, reason: why }); log(`skip ${variant}: ${why}`); continue; }
      if (o.missing === "error") throw new Error(`${why}; train it first or pass missing: "train" | "skip"`);
      trainTask(cfg, paths, variant, seed, o.onProgress);
    }
    const net = loadTrainedNetwork(cfg, paths, variant, seed, weights);
    if (net.dataSeed !== cfg.datasetSeed) {
      net.dispose();
      throw new Error(`${variant} seed ${seed} was trained on dataset draw ${net.dataSeed}, the machines on draw ${cfg.datasetSeed}; use runDiscrimination (src/theory/discriminate.ts) for several draws`);
    }
    try {
      const c = compareWithNetwork({
        model: net.model, machines, machineFinals, tokens, schedule: s, rng: sampleRng(cfg, 0), n: nCompare,
        onStep: (d, t) => { if (d % 100 === 0 || d === t) o.onProgress?.(d, t, `compare ${variant}`); },
      });
      comparisons.push({ variant, seed, weights, checkpoint: path.relative(paths.outDir, file), ...c });
      const at = (curve: number[]) => [0, 100, 500].map((t) => curve[t]?.toFixed(3)).join("/");
      log(`${variant}: eps r2 at t=0/100/500 along trajectories ${names.map((n) => `${n} ${at(c.r2[n])}`).join(", ")}; on the forward process ${names.map((n) => `${n} ${at(c.r2Forward[n])}`).join(", ")}; loss-weighted pooled ${names.map((n) => `${n} ${c.r2Pooled[n].toFixed(3)}/${c.r2ForwardPooled[n].toFixed(3)}`).join(", ")}; median Pearson ${names.map((n) => `${n} ${c.pearson[n].median.toFixed(3)}`).join(", ")}`);
    } finally {
      net.dispose();
    }
  }
  // 5. derivation checks, then write
  const derivations = o.derivations === false ? [] : (await import("./derivations")).runAllDerivationChecks();
  const results: TheoryResults = {
    meta: { libraryVersion: versionOf(), backend: info.name, tfjsVersion: info.tfjsVersion, started: started.toISOString(), seconds: (Date.now() - started.getTime()) / 1000, seed, weights, compareSamples: nCompare, comparisonNoise: `new Rng(sampleSeed + 0).split("sample"), batch = compareSamples` },
    config: cfg,
    machineOptions: mo,
    machines: names.map((n) => ({ name: n, model: machineModelName(n), label: MACHINE_LABELS[n] })),
    runs,
    table1: table1Rows(summaries),
    table1Markdown: table1Markdown(summaries),
    comparisons,
    skipped,
    derivations,
  };
  const outFile = o.outFile === undefined ? path.join(paths.outDir, "theory.json") : o.outFile;
  if (outFile) writeJsonAtomic(outFile, results);
  return results;
}
