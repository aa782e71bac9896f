/**
 * The notebooks' side of the library: parameters from environment variables, training with a
 * live progress line, loading (or producing) experiment results, and the data behind the figures.
 * Each notebook's cells are a few calls into here and into figures.ts.
 */
import * as fs from "fs";
import * as path from "path";
import { initBackend } from "../backend";
import { DEFAULT_CONFIG, ExperimentConfig, parseProfile, ProfileName, resolveConfig } from "../config";
import { datasetImages } from "../data/dataset";
import { loadOrCreateDataset } from "../data/store";
import { exactRandomBaseline } from "../eval/baseline";
import { headlineInterval } from "../eval/report";
import { METRIC_NAMES } from "../eval/metrics";
import { ExperimentResults, runExperiment } from "../experiment/run";
import { withOutputLockSync } from "../experiment/lock";
import { studyModels } from "../experiment/models";
import { checkpointPath, checkpointRequest, Paths, readRunResult, runIdentity, runResultPath, trainTask, TrainTaskResult } from "../experiment/tasks";
import { loadNpy } from "../io/npy";
import { Variant, VARIANTS } from "../model/variants";
import { Progress } from "../progress";
import { checkIdentity, readCheckpoint, readFinishedCheckpoint } from "../train/checkpoint";
import { attentionWeightsFromCheckpoint } from "./attention-maps";
import { FigureExporter } from "./export";
import { PlotlyFigure } from "./figure";
import { LossCurve, lossCurvesFigure, modelLabel } from "./figures";
import { ImageSet } from "./images";
import { inTslab, liveFigure, liveLine, showPng } from "./inline";

/** The raw parameter values of a notebook's parameter cell (strings, as env vars give them). */
export interface NotebookEnv {
  PROFILE: string;
  /** Output folder; relative paths are relative to the notebook's folder. */
  OUT_DIR: string;
  DATA_DIR: string;
  /** JSON object of config overrides, e.g. '{"epochs": 500, "samples": 1000}'. */
  OVERRIDES: string;
  /** First training seed; "" keeps the profile's. */
  SEED: string;
}

export interface NotebookParams {
  profile: ProfileName;
  overrides: Record<string, unknown>;
  cfg: ExperimentConfig;
  /** Absolute output and dataset folders. */
  paths: Paths;
  /** Training seeds of the study's models (cfg.datasets draws x cfg.seeds seeds; see experiment/models.ts). */
  seeds: number[];
}

/** Parse and check the parameter cell's values; bad values throw naming the parameter and value. */
export function notebookParams(e: NotebookEnv): NotebookParams {
  const profile = parseProfile(e.PROFILE);
  let overrides: unknown;
  try {
    overrides = JSON.parse(e.OVERRIDES.trim() === "" ? "{}" : e.OVERRIDES);
  } catch (err) {
    throw new Error(`OVERRIDES must be a JSON object of config overrides, got '${e.OVERRIDES}' (${(err as Error).message})`);
  }
  if (typeof overrides !== "object" || overrides === null || Array.isArray(overrides)) {
    throw new Error(`OVERRIDES must be a JSON object like {"epochs": 500}, got '${e.OVERRIDES}'`);
  }
  const all: Record<string, unknown> = { ...(overrides as Record<string, unknown>) };
  if (e.SEED.trim() !== "") all.seed = e.SEED;
  const cfg = resolveConfig(profile, all);
  const seeds = studyModels(cfg).map((m) => m.seed);
  return { profile, overrides: all, cfg, paths: { outDir: path.resolve(e.OUT_DIR), dataDir: path.resolve(e.DATA_DIR) }, seeds };
}

/** A whole-number notebook parameter given as text (env var); a bad value throws naming it and the range. */
export function intParam(name: string, text: string, o: { min?: number; max?: number } = {}): number {
  const min = o.min ?? 0;
  const max = o.max ?? Number.MAX_SAFE_INTEGER;
  const v = /^\s*-?\d+\s*$/.test(text) ? Number(text) : NaN;
  if (!Number.isInteger(v) || v < min || v > max) throw new Error(`notebook parameter ${name} must be an integer in [${min}, ${max}], got '${text}'`);
  return v;
}

/** A notebook parameter that takes one of `choices`; a bad value throws naming it and the choices. */
export function choiceParam<T extends string>(name: string, text: string, choices: readonly T[]): T {
  if ((choices as readonly string[]).includes(text)) return text as T;
  throw new Error(`notebook parameter ${name} must be one of ${choices.join(", ")}, got '${text}'`);
}

/** The resolved parameters as text: folders, seeds, and every config value (overridden ones marked). */
export function describeParams(p: NotebookParams): string {
  const lines = [
    `profile ${p.profile}; out ${p.paths.outDir}; data ${p.paths.dataDir}`,
    `training seeds ${p.seeds.join(", ")}; overrides ${JSON.stringify(p.overrides)}`,
  ];
  const keys = Object.keys(DEFAULT_CONFIG) as (keyof ExperimentConfig)[];
  const cells = keys.map((k) => `${k}=${p.cfg[k]}${k in p.overrides ? "*" : ""}`);
  for (let i = 0; i < cells.length; i += 6) lines.push("  " + cells.slice(i, i + 6).join("  "));
  return lines.join("\n");
}

/**
 * Train every training seed of `variant` with `trainTask` (a finished checkpoint of the same
 * training config is reused, an unfinished one resumed), reporting progress through `write`
 * (e.g. `liveLine().update`) and one status line per seed through `log`.
 */
export function trainSeeds(
  p: NotebookParams, variant: Variant, write: (line: string) => void, log: (line: string) => void = console.log,
  onCurves?: (curves: LossCurve[]) => void,
): TrainTaskResult[] {
  const curves: LossCurve[] = [];
  let lastDraw = 0;
  return withOutputLockSync(p.paths.outDir, `notebook: train ${variant}`, () => p.seeds.map((seed) => {
    const bar = new Progress({ label: `${variant} seed ${seed}`, total: 1, intervalMs: 1000, write: (s) => write(s) });
    const losses: number[] = [];
    const live: LossCurve = { variant, seed, losses };
    curves.push(live);
    // The per-epoch losses, redrawn at most every 2 s (a live loss curve while training runs).
    const onEpoch = (_epoch: number, loss: number, totalEpochs: number) => {
      losses.push(loss);
      if (onCurves && (Date.now() - lastDraw > 2000 || losses.length === totalEpochs)) {
        lastDraw = Date.now();
        onCurves(curves);
      }
    };
    const r = trainTask(p.cfg, p.paths, variant, seed, (done, total, note) => bar.update(done / total, note), onEpoch);
    live.losses = r.epochLosses; // complete history, also for reused or resumed checkpoints
    onCurves?.(curves);
    bar.finish(r.status);
    log(`${variant} draw ${r.dataSeed} seed ${seed}: ${r.status} (${r.epochs} epochs, ${r.steps} steps, final epoch loss ${r.epochLosses[r.epochLosses.length - 1]?.toFixed(4)}, ${r.seconds.toFixed(1)} s) -> ${path.basename(r.checkpoint)}`);
    return r;
  }));
}

/**
 * A training notebook's one cell: initialise the backend, then `trainSeeds` for `variant` with a
 * live progress line and a live loss curve (redrawn in place while training runs). Every training
 * notebook (03-06) is this call with its variant.
 */
export async function trainWithLiveCurve(p: NotebookParams, variant: Variant): Promise<TrainTaskResult[]> {
  await initBackend();
  const line = liveLine();
  const curve = liveFigure();
  return trainSeeds(p, variant, (s) => line.update(s), console.log, (curves) => curve.update(lossCurvesFigure(curves, { title: `Training loss: ${variant}` })));
}

/** Loss curves of the finished or partial checkpoints that exist for `variants` x training seeds. */
export function lossCurves(p: NotebookParams, variants: readonly Variant[] = VARIANTS): LossCurve[] {
  const out: LossCurve[] = [];
  for (const variant of variants) {
    for (const seed of p.seeds) {
      const file = checkpointPath(p.paths, p.cfg, variant, seed);
      if (!fs.existsSync(file)) continue;
      const ck = readCheckpoint(file);
      checkIdentity(ck, file, checkpointRequest(p.cfg, variant, seed));
      out.push({ variant, seed, losses: ck.epochLosses });
    }
  }
  return out;
}

/**
 * Why `results.json` in the output folder `outDir` cannot stand for (cfg, variants), or null if it
 * can: its config, its variants, and the weights of every checkpoint it was computed from (a
 * checkpoint retrained or replaced since makes the results stale).
 */
export function staleReason(res: ExperimentResults, cfg: ExperimentConfig, variants: readonly Variant[], outDir?: string): string | null {
  // `workers` and `theory` (whether the theory phase ran) change no number of Table 1.
  const diff = (Object.keys(DEFAULT_CONFIG) as (keyof ExperimentConfig)[]).filter((k) => k !== "workers" && k !== "theory" && res.config[k] !== cfg[k]);
  if (diff.length > 0) return `its config differs in ${diff.map((k) => `${k} (${res.config[k]} vs ${cfg[k]})`).join(", ")}`;
  const have = (res.meta.variants as string[] | undefined) ?? [];
  const missing = variants.filter((v) => !have.includes(v));
  if (missing.length > 0) return `it lacks variant(s) ${missing.join(", ")}`;
  if (outDir !== undefined) {
    for (const t of res.training ?? []) {
      if (!variants.includes(t.variant)) continue;
      const file = path.resolve(outDir, t.checkpoint);
      if (!fs.existsSync(file)) return `its checkpoint ${t.checkpoint} is missing`;
      if (readCheckpoint(file).weightsSha256 !== t.weightsSha256) return `checkpoint ${t.checkpoint} holds other weights than the results were computed from`;
    }
  }
  return null;
}

/**
 * The experiment's results for `variants`: `results.json` of the output folder when it was made
 * with the same config, else `runExperiment` (which reuses finished checkpoints, trains what is
 * missing, and samples with worker threads over all cores).
 */
export async function experimentResults(
  p: NotebookParams, variants: readonly Variant[] = VARIANTS,
  o: { log?: (line: string) => void; progressWrite?: (line: string, final: boolean) => void; command?: string } = {},
): Promise<{ results: ExperimentResults; source: "loaded" | "computed" }> {
  const log = o.log ?? console.log;
  const file = path.join(p.paths.outDir, "results.json");
  if (fs.existsSync(file)) {
    let res: ExperimentResults;
    try {
      res = JSON.parse(fs.readFileSync(file, "utf8")) as ExperimentResults;
    } catch (e) {
      throw new Error(`${file} is corrupt or truncated (${(e as Error).message}); delete it to recompute`);
    }
    const why = staleReason(res, p.cfg, variants, p.paths.outDir);
    if (why === null) {
      log(`loaded ${file} (made ${res.meta.startedAt} by ${res.meta.command ?? "?"})`);
      return { results: res, source: "loaded" };
    }
    log(`not using ${file}: ${why}; running the experiment`);
  }
  const results = await runExperiment({
    cfg: p.cfg, variants, paths: p.paths, profile: p.profile, command: o.command ?? "notebook 07_table1",
    log, progressWrite: o.progressWrite,
  });
  return { results, source: "computed" };
}

const pct = (x: number | null | undefined) => (typeof x === "number" && Number.isFinite(x) ? (100 * x).toFixed(2) : "-");

/**
 * Table 1 for display (percent, 2 decimals): every model with the headline `functional` as
 * mean ± std over runs, its 95 % interval, the spread over training seeds and the paper's number;
 * then the mean of every other SPEC metric; the random baseline exact and by Monte Carlo.
 */
export function table1Display(res: ExperimentResults): Record<string, string | number>[] {
  const exact = res.baseline.exact ?? exactRandomBaseline();
  const rows: Record<string, string | number>[] = res.summaries.map((s) => {
    const f = s.perRun.functional;
    const row: Record<string, string | number> = {
      model: s.model === "random" ? "random (Monte Carlo)" : `${s.model}${s.weights === "raw" ? " (raw weights)" : ""}`,
      label: modelLabel(s.model),
      runs: s.runs,
      seeds: s.model === "random" ? "-" : s.seeds.join(" "),
      "functional %": `${pct(f.mean)} ± ${pct(f.std)}`,
      "95 % CI": `${pct(f.ci95[0])} - ${pct(f.ci95[1])}`,
      "seed range": s.perSeed ? `${pct(s.perSeed.functional.min)} - ${pct(s.perSeed.functional.max)}` : "-",
      "paper %": pct(s.paper),
    };
    // Over trained models: the headline when a variant has several (see src/eval/nested.ts).
    const st = s.study;
    const h = headlineInterval(s);
    row.models = st ? st.models.length : "-";
    row["mean over models %"] = st ? pct(st.overModels.mean) : "-";
    row["std over models %"] = st && st.models.length > 1 ? pct(st.overModels.std) : "-";
    row["95 % CI (headline)"] = s.model === "random" ? `${pct(f.ci95[0])} - ${pct(f.ci95[1])}` : `${pct(h.ci95[0])} - ${pct(h.ci95[1])}`;
    row["CI over"] = s.model === "random" ? "runs" : h.over;
    const n = st?.nested;
    row["variance draw / seed / run"] = n ? `${(100 * n.shares.draw).toFixed(0)} / ${(100 * n.shares.seed).toFixed(0)} / ${(100 * n.shares.run).toFixed(0)} %` : "-";
    row["paper in CI"] = s.paper === null ? "-" : s.paper >= h.ci95[0] && s.paper <= h.ci95[1] ? "yes" : "no";
    for (const m of METRIC_NAMES) if (m !== "functional") row[`${m} %`] = `${pct(s.perRun[m].mean)} ± ${pct(s.perRun[m].std)}`;
    return row;
  });
  const exactRow: Record<string, string | number> = {
    model: "random (exact)", label: modelLabel("random"), runs: "-", seeds: "-",
    "functional %": pct(exact.functional), "95 % CI": "-", "seed range": "-", "paper %": pct(0.0538),
  };
  for (const m of METRIC_NAMES) if (m !== "functional") exactRow[`${m} %`] = pct(exact[m]);
  const at = rows.findIndex((r) => r.model === "random (Monte Carlo)");
  rows.splice(at + 1, 0, exactRow);
  return rows;
}

/**
 * The paper's protocol (one trained model, `protocolRuns` sampling runs) per variant, for display;
 * empty when the experiment did not run it.
 */
export function protocolDisplay(res: ExperimentResults): Record<string, string | number>[] {
  return res.summaries.filter((s) => s.protocol).map((s) => {
    const f = s.protocol!.perRun.functional;
    return {
      model: s.model, "draw, seed": `${s.protocol!.dataSeed}, ${s.protocol!.seed}`, runs: f.n,
      "functional %": `${pct(f.mean)} ± ${pct(f.std)}`, "95 % CI over runs": `${pct(f.ci95[0])} - ${pct(f.ci95[1])}`,
      "paper %": pct(s.paper), "paper in CI": s.paper === null ? "-" : s.paper >= f.ci95[0] && s.paper <= f.ci95[1] ? "yes" : "no",
    };
  });
}

/** Differences and ratios between variants, paired by dataset draw, for display (empty with one draw). */
export function comparisonsDisplay(res: ExperimentResults): Record<string, string | number>[] {
  const x = (v: number) => (Number.isFinite(v) ? `${v.toFixed(2)}x` : "-");
  return (res.comparisons ?? []).map((c) => ({
    comparison: `${c.a} vs ${c.b}`, draws: c.difference.draws,
    "difference %": pct(c.difference.mean), "95 % CI (t over draws)": `${pct(c.difference.ci95[0])} - ${pct(c.difference.ci95[1])}`,
    ratio: x(c.ratio.ratio), "95 % CI (bootstrap over draws)": `${x(c.ratio.ci95[0])} - ${x(c.ratio.ci95[1])}`,
  }));
}

/** SPEC's note on the random baseline, shown wherever Table 1 is. */
export const RANDOM_BASELINE_NOTE =
  "Random baseline: quadrants drawn independently and uniformly from the six valid pairs (exact by enumeration of " +
  "6^4 images; Monte Carlo at the models' sample size). Exact: strict 3.70 %, functional 29.01 %, bijective 10.80 % - " +
  "also the ceiling of a perfect CNN under each rule. The paper reports 5.38 %; no rule we tried (draws from 6, 12 or " +
  "16 pairs, a dozen definitions) gives 5.38 %, and we do not tune a rule to hit it.";

/**
 * The samples of sampling run `run` of (variant, seed) saved by the experiment, as an image set:
 * found through the run's record, which must belong to this config and to the weights its
 * checkpoint holds now, with the samples file's SHA-256 intact.
 */
export function loadSamples(p: NotebookParams, variant: Variant, o: { seed?: number; run?: number } = {}): ImageSet {
  const weights = p.cfg.useEma ? "ema" : "raw";
  const seed = o.seed ?? p.cfg.seed;
  const run = o.run ?? 0;
  const ckFile = checkpointPath(p.paths, p.cfg, variant, seed);
  const hint = "run notebook 07_table1 (or scripts/pipeline.sh) with the same parameters first";
  if (!fs.existsSync(ckFile)) throw new Error(`no checkpoint ${ckFile}: ${hint}`);
  const ck = readFinishedCheckpoint(ckFile, checkpointRequest(p.cfg, variant, seed));
  const rec = readRunResult(p.paths, p.cfg, runIdentity(p.cfg, variant, seed, run, weights), { weightsSha256: ck.weightsSha256, npy: true });
  if (!rec || !rec.npy) throw new Error(`no samples of run ${run} of ${variant} seed ${seed} for this config and checkpoint (record ${runResultPath(p.paths, p.cfg, variant, seed, run, weights)}): ${hint}`);
  const file = rec.npy;
  const { data, shape } = loadNpy(file);
  if (shape.length !== 4 || shape[1] !== 4 || shape[2] !== 4 || shape[3] !== 3) throw new Error(`${file}: expected shape [n, 4, 4, 3], got [${shape}]`);
  return { data: data as Float32Array, range: "pm1" };
}

/** The first `n` training images, in [0, 1]. */
export function datasetImageSet(p: NotebookParams, n?: number): ImageSet {
  const ds = loadOrCreateDataset(p.paths.dataDir, { size: p.cfg.datasetSize, seed: p.cfg.datasetSeed });
  const all = datasetImages(ds, false);
  return { data: n === undefined ? all : all.subarray(0, n * 48), range: "01" };
}

/**
 * Attention weights [n, 4, 4] of (variant, first training seed) on the first `n` saved samples of
 * that model, at timestep `t`, with those images (for `attentionMapsFigure`).
 */
export function attentionMaps(p: NotebookParams, variant: Variant, o: { n?: number; t?: number } = {}): { images: ImageSet; weights: Float32Array } {
  const n = o.n ?? 4;
  const samples = loadSamples(p, variant);
  const images = Float32Array.from({ length: n * 48 }, (_, i) => Number(samples.data[i]));
  if (samples.data.length < n * 48) throw new Error(`attention maps of ${n} samples, but only ${samples.data.length / 48} samples were saved`);
  const file = checkpointPath(p.paths, p.cfg, variant, p.cfg.seed);
  readFinishedCheckpoint(file, checkpointRequest(p.cfg, variant, p.cfg.seed)); // the model this config asks for, or an error
  const weights = attentionWeightsFromCheckpoint(file, variant, images, { t: o.t, weights: p.cfg.useEma ? "ema" : "raw" });
  return { images: { data: images, range: "pm1" }, weights };
}

/**
 * Writes figures as `<dir>/<name>.png|.svg|.pdf` with one Chromium (FigureExporter) and, in a
 * notebook, shows each PNG inline (a PNG renders in every notebook viewer):
 *
 *   const figs = await new FigurePublisher(dir).open();
 *   await figs.publish(fig, "fig1");
 *   const files = await figs.close();
 */
export class FigurePublisher {
  private readonly exporter = new FigureExporter();
  /** Files written so far. */
  readonly files: string[] = [];

  /** `scale`: PNG pixel density (the PNG is width*scale x height*scale pixels). */
  constructor(readonly dir: string, private readonly o: { scale?: number } = {}) {}

  async open(): Promise<this> {
    await this.exporter.open();
    return this;
  }

  async publish(fig: PlotlyFigure, name: string): Promise<void> {
    const files = await this.exporter.export(fig, path.join(this.dir, name), { scale: this.o.scale ?? 2 });
    this.files.push(...files);
    if (inTslab()) showPng(files[0]);
  }

  /** Close Chromium; returns every file written. */
  async close(): Promise<string[]> {
    await this.exporter.close();
    return [...this.files];
  }
}
