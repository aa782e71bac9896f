/**
 * Score machines beside trained models, the pieces: sample a machine with the trained models'
 * sampler, seeds and sample counts and score it with every SPEC metric (Table-1 rows); compare
 * machines with a trained network along its own trajectories (r^2 vs t) and on final images from
 * the same noise (median Pearson r). Pure functions of a config, a machine and (for comparisons) a
 * network given as an EpsModel: the experiment runner (src/experiment/theory-phase.ts) loads the
 * checkpoints, caches the work as units and writes theory.json.
 */
import { ExperimentConfig } from "../config";
import { samplerForm } from "../ddpm/sampler-forms";
import { Schedule } from "../ddpm/schedule";
import { KernelMachine } from "../kernels/machine-kernel";
import { evaluateTokens, METRIC_NAMES, MetricName, MetricValues } from "../eval/metrics";
import { ModelSummary, table1Rows } from "../eval/report";
import { summarize, Summary } from "../eval/stats";
import { Variant } from "../model/variants";
import { Rng } from "../rng";
import { compareAlongTrajectory, compareOnForwardProcess, perSamplePearson, perSampleR2, quantile, quoteTimesteps } from "./compare";
import { MachineName, ScoreMachine, THEORY_MACHINES } from "./machines";
import { FlatEps } from "./score-machine";

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

/** Machine name as a Table-1 model name. */
export const machineModelName = (m: MachineName): string => `machine:${m}`;

/** The sampling generator of run `run`, exactly as the trained models' sampleTask uses it. */
export const sampleRng = (cfg: ExperimentConfig, run: number): Rng => new Rng(cfg.sampleSeed + run).split("sample");

/**
 * Sampling run `run` of a machine, as sampleTask samples a trained model with the fused engine:
 * cfg.samples in batches of cfg.sampleBatch, the sampler form of cfg.sampler, the kernel's noise
 * seeded from `sampleRng(cfg, run)`; scored with every metric.
 */
export function machineRun(cfg: ExperimentConfig, m: KernelMachine, trainingKeys: Set<string>, run: number, onStep?: (done: number, total: number) => void): MachineRunMetrics {
  const t0 = Date.now();
  const tokens = m.sample({ n: cfg.samples, batch: cfg.sampleBatch, rng: sampleRng(cfg, run), form: samplerForm(cfg.sampler), onStep });
  return { model: machineModelName(m.name), machine: m.name, run, samples: cfg.samples, metrics: evaluateTokens(tokens, trainingKeys), seconds: (Date.now() - t0) / 1000 };
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

/** The part of a comparison that runs the network: everything but the agreement of final images. */
export type NetworkComparison = Omit<VariantComparison, "variant" | "seed" | "weights" | "checkpoint" | "pearson" | "finalR2Median"> & {
  /** The network's final images from the comparison noise (the fused sampler's, seeded by `rng`, batch n), tokens [n, 4, 12]. */
  finalTokens: Float32Array;
};

/**
 * The heavy half of a comparison with one network: r^2 of eps (and of x0) along the network's trajectories,
 * r^2 of eps on the forward process of the training `tokens`, and the network's final images.
 */
export function compareNetwork(o: {
  model: FlatEps; machines: readonly ScoreMachine[]; tokens: ArrayLike<number>; schedule: Schedule; rng: Rng; n: number;
  form?: string; onStep?: (done: number, total: number) => void;
}): NetworkComparison {
  const { model, machines, tokens, schedule: s, rng, n } = o;
  const forward = rng.split("forward");
  const c = compareAlongTrajectory(model, machines, s, { n, rng, form: samplerForm(o.form ?? "ddpm"), onStep: o.onStep });
  const fwd = compareOnForwardProcess(model, machines, s, tokens, { n, rng: forward });
  const at = (curve: number[]) => Object.fromEntries(quoteTimesteps(s.options.steps).map((t) => [String(t), curve[t]]));
  const r2At: VariantComparison["r2At"] = {};
  const r2ForwardAt: VariantComparison["r2ForwardAt"] = {};
  for (const m of machines) {
    r2At[m.name] = at(c.r2[m.name]);
    r2ForwardAt[m.name] = at(fwd.r2[m.name]);
  }
  return { n, r2: c.r2, rho2: c.rho2, r2X0: c.r2X0, r2At, r2Forward: fwd.r2, r2ForwardAt, r2Pooled: c.r2Pooled, r2ForwardPooled: fwd.r2Pooled, finalTokens: c.finalTokens };
}

/**
 * The light half: Pearson r / r^2 of the network's final images vs `machineFinals` (machine samples
 * from the same noise, n and batch), per machine in `names` order; a comparison in theory.json's form.
 */
export function finishComparison(c: NetworkComparison, machineFinals: Record<string, ArrayLike<number>>, names: readonly string[]): Omit<VariantComparison, "variant" | "seed" | "weights" | "checkpoint"> {
  const pearson: VariantComparison["pearson"] = {};
  const finalR2Median: VariantComparison["finalR2Median"] = {};
  for (const m of names) {
    if (!machineFinals[m]) throw new Error(`no final images of machine '${m}' to compare with`);
    const r = perSamplePearson(c.finalTokens, machineFinals[m]);
    pearson[m] = { median: quantile(r, 0.5), q25: quantile(r, 0.25), q75: quantile(r, 0.75) };
    finalR2Median[m] = quantile(perSampleR2(c.finalTokens, machineFinals[m]), 0.5);
  }
  const { finalTokens: _f, ...rest } = c;
  return { ...rest, pearson, finalR2Median };
}
