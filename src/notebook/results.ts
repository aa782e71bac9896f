/**
 * Results in a notebook: the experiment's results.json when it stands for the notebook's
 * parameters (config, variants, and the weights of every checkpoint it came from), else a run;
 * Table 1 and its companions as display rows; the saved samples, training images and attention
 * maps behind the figures.
 */
import * as fs from "fs";
import * as path from "path";
import { DEFAULT_CONFIG, ExperimentConfig, upgradeStoredConfig } from "../config";
import { datasetImages } from "../data/dataset";
import { loadOrCreateDataset } from "../data/store";
import { exactRandomBaseline } from "../eval/baseline";
import { METRIC_NAMES } from "../eval/metrics";
import { headlineInterval, ratioSetText, VariantComparison } from "../eval/report";
import { ExperimentResults, runExperiment } from "../experiment/run";
import { checkpointPath, checkpointRequest, readRunResult, runIdentity, runResultPath } from "../experiment/tasks";
import { loadNpy } from "../io/npy";
import { paperConsistency, Variant, VARIANTS } from "../model/variants";
import { attentionWeightsFromCheckpoint } from "../plot/attention-maps";
import { modelLabel } from "../plot/figures";
import { ImageSet } from "../plot/images";
import { readCheckpoint, readFinishedCheckpoint } from "../train/checkpoint";
import { NotebookParams } from "./params";

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
    res = { ...res, config: upgradeStoredConfig(res.config as unknown as Record<string, unknown>) as unknown as ExperimentConfig }; // an earlier version's keys
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
    // Over trained models: the headline when a variant has several (see src/eval/nested.ts). The CI
    // is for the mean over models; the PI is where one new model falls (the yardstick for the paper's one model).
    const st = s.study;
    const h = headlineInterval(s);
    row.models = st ? st.models.length : "-";
    row["mean over models %"] = st ? pct(st.meanInterval?.mean ?? st.overModels.mean) : "-";
    row["std over models %"] = st && st.models.length > 1 ? pct(st.overModels.std) : "-";
    row["95 % CI, mean over models"] = s.model === "random" ? `${pct(f.ci95[0])} - ${pct(f.ci95[1])}` : `${pct(h.ci95[0])} - ${pct(h.ci95[1])}`;
    row["CI over"] = s.model === "random" ? "runs" : h.over;
    const pi = st?.prediction;
    row["95 % PI, one new model"] = pi ? `${pct(pi.interval[0])} - ${pct(pi.interval[1])}` : "-";
    const n = st?.nested;
    row["variance draw / seed / run"] = n ? `${(100 * n.shares.draw).toFixed(0)} / ${(100 * n.shares.seed).toFixed(0)} / ${(100 * n.shares.run).toFixed(0)} %` : "-";
    const b = st?.shareBounds;
    row["95 % upper bound draw / seed share"] = b ? `${(100 * b.draw).toFixed(0)} / ${(100 * b.seed).toFixed(0)} %` : "-";
    const pp = s.paperAmongModels;
    row["paper's percentile among our models"] = pp ? pp.percentile.toFixed(1) : "-";
    row["our models at or beyond the paper"] = pp ? `${pp.atOrBeyond} of ${pp.models} at or ${pp.side}` : "-";
    row["paper in PI"] = pp && pp.inPredictionInterval !== null && pp.inPredictionInterval !== undefined ? (pp.inPredictionInterval ? "yes" : "no") : "-";
    for (const m of METRIC_NAMES) if (m !== "functional") row[`${m} %`] = `${pct(s.perRun[m].mean)} ± ${pct(s.perRun[m].std)}`;
    return row;
  });
  // Every column of the other rows, in their order ("-" where the exact baseline has nothing): danfo
  // places a row's values by position, so a row with fewer or reordered keys would shift into wrong columns.
  const exactRow: Record<string, string | number> = Object.fromEntries(Object.keys(rows[0] ?? {}).map((k) => [k, "-"]));
  Object.assign(exactRow, {
    model: "random (exact)", label: modelLabel("random"), runs: "-", seeds: "-",
    "functional %": pct(exact.functional), "95 % CI": "-", "seed range": "-", "paper %": pct(paperConsistency("random")),
  });
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

/**
 * Differences and ratios between variants, paired by dataset draw, for display (empty with one
 * draw): the difference with its t-interval over draws, the ratio with Fieller's interval (or what
 * an unbounded set excludes). Results saved before the Fieller ratio show their old interval, labelled.
 */
export function comparisonsDisplay(res: ExperimentResults): Record<string, string | number>[] {
  const x = (v: number) => (Number.isFinite(v) ? `${v.toFixed(2)}x` : "-");
  return (res.comparisons ?? []).map((c) => {
    const r = c.ratio as VariantComparison["ratio"] & { ci95?: [number, number] };
    return {
      comparison: `${c.a} vs ${c.b}`, draws: c.difference.draws,
      "difference %": pct(c.difference.mean), "95 % CI (t over draws)": `${pct(c.difference.ci95[0])} - ${pct(c.difference.ci95[1])}`,
      ratio: x(r.ratio),
      "95 % CI (Fieller)": r.shape ? ratioSetText(r) : r.ci95 ? `${x(r.ci95[0])} - ${x(r.ci95[1])} (old results: bootstrap over draws)` : "-",
    };
  });
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
