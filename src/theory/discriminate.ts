/**
 * Comparisons that can tell machines apart (docs/theory.md), for a list of trained models:
 *
 *  1. per dataset draw: every predictor (theory machines and baselines) vs the ELS machine, r^2 of
 *     eps per timestep band on the forward process (how different the predictors are at all), and
 *     the final images of every predictor from the comparison noise;
 *  2. per trained model (variant, seed): banded r^2 of every predictor against the network and of
 *     every predictor and the network against the true noise, on the same forward data; the
 *     network's final images from the same noise, the per-seed Pearson r against every predictor,
 *     and paired bootstrap intervals for the differences in median Pearson r;
 *  3. per variant, all its trained models pooled: mean and spread over models of the banded r^2, and
 *     two-level bootstrap intervals (models, then noise seeds) for the Pearson differences;
 *  4. the Eq. 8 machine's free choices swept (sweep.ts): functional consistency, and median Pearson r
 *     against every network.
 *
 * The heavy parts are pure functions of (config, training tokens, a network as an EpsModel, what to
 * compute) returning JSON-serialisable results (`drawForward`, `machineFinals`, `networkBands`);
 * `drawFromParts` and `modelFromParts` add the light parts, and
 * `summarise` assembles the report. The experiment runner (src/experiment/theory-phase.ts) loads the
 * checkpoints and dataset draws and runs them as cached units.
 *
 * Intervals over models: a variant's models share dataset draws, so they are not independent; every
 * interval over models is a t-interval over draw means (draws - 1 df; src/eval/draw-means.ts), or over
 * models when they all share one draw (then it speaks for that draw only). With one model there is
 * none. (The two-level percentile bootstrap over models that this replaced under-covered with 3 models:
 * 78-86 % for a nominal 95 %, as reported in issue 19.)
 */
import { ExperimentConfig } from "../config";
import { samplerForm } from "../ddpm/sampler-forms";
import { makeSchedule, Schedule } from "../ddpm/schedule";
import { drawMeansInterval } from "../eval/draw-means";
import { summarize } from "../eval/stats";
import { Variant } from "../model/variants";
import { Rng } from "../rng";
import { Band, bandsFor, DEFAULT_BAND_EDGES, ForwardBands, forwardBands } from "./bands";
import { Interval, pairedBootstrap } from "./bootstrap";
import { perSamplePearson, quantile } from "./compare";
import { kernelMachine } from "../kernels/machine-kernel";
import { MACHINE_DEFAULTS, MACHINE_LABELS, MACHINE_NAMES, MachineName, MachineOptions } from "./machines";
import { FlatEps } from "./score-machine";
import { sampleRng } from "./machine-runs";
import { DEFAULT_SWEEP, isDefaultSetting, SweepSample, SweepSetting, sweepLabel } from "./sweep";

/** A trained model of the study: its checkpoint is `checkpointPath(paths, cfg, variant, seed)`. */
export interface CheckpointRef {
  variant: Variant;
  seed: number;
}

/** What to compute; everything but `predictors` has a default. */
export interface DiscriminationSettings {
  /** Predictors: theory machines and baselines (default MACHINE_NAMES). */
  predictors: readonly MachineName[];
  machineOptions: MachineOptions;
  weights: "ema" | "raw";
  /** Forward images per band comparison and same-noise trajectories per model (default 200). */
  compareSamples: number;
  /** Band edges as fractions of T (default DEFAULT_BAND_EDGES). */
  bandEdges: readonly number[];
  /** Predictor pairs whose Pearson differences get bootstrap intervals (default: every pair). */
  pairs: readonly (readonly [MachineName, MachineName])[] | null;
  bootstrapResamples: number;
  /** Eq. 8 machine settings to sweep (null: no sweep) and sampling runs per setting. */
  sweep: readonly SweepSetting[] | null;
  sweepRuns: number;
}

/**
 * The default predictors: every machine and baseline except `top1Optimal`, whose comparison with a
 * network cannot fail (it averages two nearly independent ELS outputs, so r^2 against anything close
 * to ELS is about 1/2 by construction, and it produces almost no valid quadrant to compare images with).
 */
export const DEFAULT_PREDICTORS: readonly MachineName[] = MACHINE_NAMES.filter((m) => m !== "top1Optimal");

export const DISCRIMINATION_DEFAULTS: Readonly<DiscriminationSettings> = {
  predictors: DEFAULT_PREDICTORS, machineOptions: {}, weights: "ema", compareSamples: 200, bandEdges: DEFAULT_BAND_EDGES,
  pairs: null, bootstrapResamples: 2000, sweep: DEFAULT_SWEEP, sweepRuns: 1,
};

export const scheduleOf = (cfg: ExperimentConfig): Schedule => makeSchedule({ steps: cfg.diffusionSteps, betaStart: cfg.betaStart, betaEnd: cfg.betaEnd });

/** Machine vs machine on one dataset draw (`drawFromParts`). */
export interface DrawWork {
  dataSeed: number;
  /** Predictors against each other and against the true noise (no network). */
  forward: Pick<ForwardBands, "bands" | "n" | "vsNoise" | "pairwise">;
  /** Median same-noise Pearson r of predictor B's final images with predictor A's: pearsonPairs[A][B]. */
  pearsonPairs: Record<string, Record<string, number>>;
  /** Final images of every predictor from the comparison noise, tokens [n, 4, 12] as plain arrays. */
  finals: Record<string, number[]>;
}

/** The forward-process draws of a dataset draw: the same x0 and z for every model trained on it. */
export const forwardRng = (cfg: ExperimentConfig, dataSeed: number): Rng => new Rng(cfg.sampleSeed).split(`forward-bands/draw${dataSeed}`);

/** The heavy part of a DrawWork without the final images: every predictor vs ELS and vs the true noise, on the forward process of `tokens` (draw `dataSeed`). */
export function drawForward(cfg: ExperimentConfig, tokens: ArrayLike<number>, dataSeed: number, st: DiscriminationSettings, onStep?: (done: number, total: number) => void): DrawWork["forward"] {
  const s = scheduleOf(cfg);
  const mo = { ...MACHINE_DEFAULTS, ...st.machineOptions };
  const predictors = st.predictors.map((n) => kernelMachine(n, tokens, s, mo));
  // machine vs machine with ELS as the one reference (the first predictor when ELS is not among them)
  const ref: MachineName = st.predictors.includes("equivariant") ? "equivariant" : st.predictors[0];
  const f = forwardBands({
    model: null, predictors, schedule: s, tokens, n: st.compareSamples, rng: forwardRng(cfg, dataSeed), bands: bandsFor(s.options.steps, st.bandEdges), pairwiseRefs: [ref], onStep,
  });
  return { bands: f.bands, n: f.n, vsNoise: f.vsNoise, pairwise: f.pairwise };
}

/**
 * Final images of machine `name` (options `mo`, built from the training `tokens`) from the comparison
 * noise: n samples in one batch, the fused kernel's noise seeded from `sampleRng(cfg, 0)` (the noise
 * a network's `sample` draws from the same seed), tokens [n, 4, 12].
 */
export function machineFinals(cfg: ExperimentConfig, tokens: ArrayLike<number>, name: MachineName, mo: MachineOptions, n: number, onStep?: (done: number, total: number) => void): Float32Array {
  const s = scheduleOf(cfg);
  return kernelMachine(name, tokens, s, { ...MACHINE_DEFAULTS, ...mo }).sample({ n, batch: n, rng: sampleRng(cfg, 0), form: samplerForm(cfg.sampler), onStep });
}

/** A DrawWork from its parts: the forward comparison and every predictor's final images (plain arrays). */
export function drawFromParts(dataSeed: number, forward: DrawWork["forward"], finals: Record<string, number[]>, predictors: readonly MachineName[]): DrawWork {
  const pearsonPairs: DrawWork["pearsonPairs"] = {};
  for (const a of predictors) {
    pearsonPairs[a] = {};
    for (const b of predictors) if (b !== a) pearsonPairs[a][b] = quantile(perSamplePearson(finals[a], finals[b]), 0.5);
  }
  return { dataSeed, forward, pearsonPairs, finals };
}

/** One trained network against every predictor (`modelFromParts`). */
export interface ModelWork {
  variant: Variant;
  seed: number;
  dataSeed: number;
  /** Checkpoint file, relative to the output folder. */
  checkpoint: string;
  weights: "ema" | "raw";
  n: number;
  /** Banded r^2: predictors vs the network; predictors and "network" vs the true noise. */
  forward: Pick<ForwardBands, "bands" | "n" | "vsNetwork" | "vsNoise">;
  /** Per-seed Pearson r of the network's final image with each predictor's, [n] per predictor. */
  pearson: Record<string, number[]>;
  pearsonMedian: Record<string, number>;
  /** Paired bootstrap of median(Pearson with A) - median(Pearson with B) over this model's n noise seeds (the noise only). */
  differences: { a: string; b: string; interval: Interval }[];
  /** The network's final images from the comparison noise (plain array, [n, 4, 12]). */
  finals: number[];
}

/** Every unordered pair of predictors, in list order. */
const allPairs = (names: readonly MachineName[]): [MachineName, MachineName][] => names.flatMap((a, i) => names.slice(i + 1).map((b) => [a, b] as [MachineName, MachineName]));

/** The part of a ModelWork that runs the network: banded r^2 on the forward process and its final images. */
export type ModelNetworkWork = Pick<ModelWork, "variant" | "seed" | "dataSeed" | "checkpoint" | "weights" | "n" | "forward" | "finals">;

/** A trained network as the comparisons need it. */
export interface TrainedNetwork {
  variant: Variant;
  seed: number;
  /** The dataset draw it was trained on. */
  dataSeed: number;
  /** Its checkpoint, relative to the output folder (recorded). */
  checkpoint: string;
  /** eps of tokens [B, 4, 12] at t. */
  eps: FlatEps;
  /** n samples in one batch, the fused sampler's noise seeded from `rng` (as a machine's `sample`). */
  sample(o: { n: number; rng: Rng; form: string; onStep?: (done: number, total: number) => void }): Float32Array;
}

/** 2a. One trained network on the forward process of its draw (training `tokens`), and its final images from the comparison noise. */
export function networkBands(cfg: ExperimentConfig, net: TrainedNetwork, tokens: ArrayLike<number>, st: DiscriminationSettings, onStep?: (done: number, total: number, note: string) => void): ModelNetworkWork {
  const s = scheduleOf(cfg);
  const mo = { ...MACHINE_DEFAULTS, ...st.machineOptions };
  const predictors = st.predictors.map((n) => kernelMachine(n, tokens, s, mo));
  const f = forwardBands({
    model: net.eps, predictors, schedule: s, tokens, n: st.compareSamples, rng: forwardRng(cfg, net.dataSeed),
    bands: bandsFor(s.options.steps, st.bandEdges), pairwiseRefs: [],
    onStep: (d, t) => onStep?.(d, t, `${net.variant} seed ${net.seed}: forward process`),
  });
  const finals = net.sample({
    n: st.compareSamples, rng: sampleRng(cfg, 0), form: cfg.sampler,
    onStep: (d, t) => onStep?.(d, t, `${net.variant} seed ${net.seed}: same-noise samples`),
  });
  return {
    variant: net.variant, seed: net.seed, dataSeed: net.dataSeed, checkpoint: net.checkpoint, weights: st.weights,
    n: st.compareSamples, forward: { bands: f.bands, n: f.n, vsNetwork: f.vsNetwork, vsNoise: f.vsNoise }, finals: Array.from(finals),
  };
}

/** 2b. The network's final images against every predictor's (`draw`, the model's dataset draw): Pearson r and the paired bootstrap over noise seeds. */
export function modelFromParts(cfg: ExperimentConfig, net: ModelNetworkWork, draw: DrawWork, st: DiscriminationSettings): ModelWork {
  if (net.dataSeed !== draw.dataSeed) throw new Error(`${net.variant} seed ${net.seed} was trained on draw ${net.dataSeed}, not on draw ${draw.dataSeed}`);
  const pearson: Record<string, number[]> = {};
  const pearsonMedian: Record<string, number> = {};
  for (const p of st.predictors) {
    if (!draw.finals[p]) throw new Error(`draw ${draw.dataSeed} has no final images of predictor '${p}'`);
    pearson[p] = Array.from(perSamplePearson(net.finals, draw.finals[p]));
    pearsonMedian[p] = quantile(pearson[p], 0.5);
  }
  const rng = new Rng(cfg.sampleSeed).split(`bootstrap/${net.variant}/seed${net.seed}`);
  const differences = (st.pairs ?? allPairs(st.predictors)).map(([a, b]) => ({
    a, b, interval: pairedBootstrap(pearson[a], pearson[b], { rng, resamples: st.bootstrapResamples, statistic: "median" }),
  }));
  const { finals, ...rest } = net;
  return { ...rest, pearson, pearsonMedian, differences, finals };
}

/**
 * One number per trained model, summarised over models: mean and sd over models, and a 95 %
 * t-interval for the mean (over draw means when the models span >= 2 draws, over models when they
 * share one draw; null with one model).
 */
export interface OverModels {
  mean: number;
  sd: number;
  models: number;
  draws: number;
  ci95: [number, number] | null;
  /** What the interval is over. */
  over: "draw means" | "models (one draw)" | null;
}

/** `OverModels` of per-model values. */
export function overModels(values: readonly { dataSeed: number; seed: number; value: number }[]): OverModels {
  if (values.length === 0) throw new Error("overModels: no models");
  for (const v of values) if (!Number.isFinite(v.value)) throw new Error(`overModels: model (draw ${v.dataSeed}, seed ${v.seed}) has value ${v.value}`);
  const xs = values.map((v) => v.value);
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const sd = xs.length > 1 ? Math.sqrt(xs.reduce((a, x) => a + (x - mean) ** 2, 0) / (xs.length - 1)) : 0;
  const draws = new Set(values.map((v) => v.dataSeed)).size;
  if (draws >= 2) {
    const d = drawMeansInterval(values.map((v) => ({ dataSeed: v.dataSeed, seed: v.seed, values: [v.value] })));
    return { mean: d.mean, sd, models: xs.length, draws, ci95: d.ci95, over: "draw means" };
  }
  if (xs.length >= 2) return { mean, sd, models: xs.length, draws, ci95: summarize(xs).ci95, over: "models (one draw)" };
  return { mean, sd, models: 1, draws, ci95: null, over: null };
}

/** Per variant, its models pooled. */
export interface VariantSummary {
  variant: Variant;
  seeds: number[];
  /** Banded r^2 of each predictor vs the network, over the variant's models, per band. */
  vsNetwork: Record<string, OverModels[]>;
  /** Loss-weighted pooled r^2 vs the network, over models. */
  vsNetworkPooled: Record<string, OverModels>;
  /** The network vs the true noise per band, over models. */
  networkVsNoise: OverModels[];
  /** Median same-noise Pearson r of final images, over models. */
  pearsonMedian: Record<string, OverModels>;
  /** median Pearson r with A minus with B, per model, over models (t over draw means). */
  differences: { a: string; b: string; interval: OverModels }[];
}

export interface SweepRow {
  setting: SweepSetting;
  label: string;
  isDefault: boolean;
  /** Mean over sampling runs and draws of every metric. */
  metrics: Record<string, number>;
  samples: number;
  /** Median same-noise Pearson r against each model's network: [{variant, seed, median}]. */
  pearson: { variant: Variant; seed: number; dataSeed: number; median: number }[];
}

export interface DiscriminationResults {
  settings: DiscriminationSettings;
  predictors: { name: MachineName; label: string }[];
  bands: Band[];
  draws: Omit<DrawWork, "finals">[];
  models: Omit<ModelWork, "finals">[];
  variants: VariantSummary[];
  sweep: SweepRow[] | null;
}

/** 3. Assemble the report from the pieces (pure; drops the final images). */
export function summarise(cfg: ExperimentConfig, st: DiscriminationSettings, draws: DrawWork[], models: ModelWork[], sweep: SweepSample[] | null): DiscriminationResults {
  const variants: VariantSummary[] = [];
  for (const v of [...new Set(models.map((m) => m.variant))]) {
    const mine = models.filter((m) => m.variant === v);
    const nb = mine[0].forward.bands.length;
    const per = (f: (m: ModelWork) => number) => overModels(mine.map((m) => ({ dataSeed: m.dataSeed, seed: m.seed, value: f(m) })));
    const vsNetwork: VariantSummary["vsNetwork"] = {}, vsNetworkPooled: VariantSummary["vsNetworkPooled"] = {}, pearsonMedian: VariantSummary["pearsonMedian"] = {};
    for (const p of st.predictors) {
      vsNetwork[p] = Array.from({ length: nb }, (_, b) => per((m) => m.forward.vsNetwork!.r2[p][b]));
      vsNetworkPooled[p] = per((m) => m.forward.vsNetwork!.pooled[p]);
      pearsonMedian[p] = per((m) => m.pearsonMedian[p]);
    }
    const differences = (st.pairs ?? allPairs(st.predictors)).map(([a, b]) => ({ a, b, interval: per((m) => m.pearsonMedian[a] - m.pearsonMedian[b]) }));
    variants.push({
      variant: v, seeds: mine.map((m) => m.seed), vsNetwork, vsNetworkPooled,
      networkVsNoise: Array.from({ length: nb }, (_, b) => per((m) => m.forward.vsNoise.r2.network[b])), pearsonMedian, differences,
    });
  }
  let sweepRows: SweepRow[] | null = null;
  if (sweep) {
    const keyOf = (s: SweepSetting) => sweepLabel(s);
    sweepRows = [...new Map(sweep.map((x) => [keyOf(x.setting), x.setting])).values()].map((setting) => {
      const mine = sweep.filter((x) => keyOf(x.setting) === keyOf(setting));
      const runs = mine.flatMap((x) => x.runs);
      const metricNames = Object.keys(runs[0].metrics) as (keyof (typeof runs)[0]["metrics"])[];
      const metrics = Object.fromEntries(metricNames.map((k) => [k, runs.reduce((a, r) => a + r.metrics[k], 0) / runs.length]));
      const pearson = models.map((m) => {
        const own = mine.find((x) => x.dataSeed === m.dataSeed);
        if (!own) throw new Error(`sweep setting ${keyOf(setting)} was not sampled on draw ${m.dataSeed}`);
        return { variant: m.variant, seed: m.seed, dataSeed: m.dataSeed, median: quantile(perSamplePearson(m.finals, own.finals), 0.5) };
      });
      return { setting, label: keyOf(setting), isDefault: isDefaultSetting(setting), metrics, samples: runs.reduce((a, r) => a + r.samples, 0), pearson };
    });
  }
  return {
    settings: st,
    predictors: st.predictors.map((name) => ({ name, label: MACHINE_LABELS[name] })),
    bands: draws[0]?.forward.bands ?? bandsFor(cfg.diffusionSteps, st.bandEdges),
    draws: draws.map(({ finals: _f, ...rest }) => rest),
    models: models.map(({ finals: _f, ...rest }) => rest),
    variants, sweep: sweepRows,
  };
}

/** The settings of a call: defaults filled in (an option given as undefined keeps its default), predictors checked. */
export function discriminationSettings(o: Partial<DiscriminationSettings>): DiscriminationSettings {
  const st: DiscriminationSettings = { ...DISCRIMINATION_DEFAULTS, ...Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) };
  for (const p of st.predictors) if (!MACHINE_NAMES.includes(p)) throw new Error(`unknown predictor '${p}' (expected one of ${MACHINE_NAMES.join(", ")})`);
  if (!(Number.isInteger(st.compareSamples) && st.compareSamples >= 2)) throw new Error(`compareSamples must be an integer >= 2, got ${st.compareSamples}`);
  return st;
}
