/**
 * theory.json as text: every table of the theory phase in one markdown report (the derivation checks
 * and their tally, the machines' Table 1, where the machines sit in each variant's one-model
 * prediction interval, the comparisons over trained models), and a summary JSON without the bulky
 * per-timestep curves and per-seed correlations (for docs/results/). The one-model prediction
 * intervals come from the study's results.json (`readTrainedResults`), checked to hold the same
 * trained models (training config and checkpoint weights; its sampling may differ from the machines').
 */
import * as fs from "fs";
import * as path from "path";
import { ExperimentConfig } from "../config";
import { Variant, VARIANTS } from "../model/variants";
import { claimsMarkdown, markdownTable, tallyClaims } from "../theory/derivations";
import { discriminationMarkdown } from "../theory/comparison-report";
import { MachineName } from "../theory/machines";
import { readCheckpoint, trainingDiff } from "../train/checkpoint";
import { studyModels } from "./models";
import { ExperimentResults } from "./run";
import { TheoryResults } from "./theory-phase";

/** Why results.json's trained models are not the ones `cfg` names in `outDir` (training config, seeds, variants, checkpoint weights), or null. */
export function trainedStaleReason(res: ExperimentResults, cfg: ExperimentConfig, variants: readonly Variant[], outDir: string): string | null {
  const diff = trainingDiff(res.config, cfg);
  if (diff.length > 0) return `its models were trained with other ${diff.join(", ")}`;
  for (const k of ["datasets", "seeds", "seed"] as const) if (res.config[k] !== cfg[k]) return `its study has other ${k} (${res.config[k]} vs ${cfg[k]})`;
  const models = studyModels(cfg).map((m) => m.seed).sort((a, b) => a - b).join(",");
  const have = [...new Set(res.training.map((t) => t.seed))].sort((a, b) => a - b).join(",");
  if (models !== have) return `it holds models of training seeds ${have}, this study has ${models}`;
  const missing = variants.filter((v) => !res.training.some((t) => t.variant === v));
  if (missing.length > 0) return `it lacks variant(s) ${missing.join(", ")}`;
  for (const t of res.training) {
    if (!variants.includes(t.variant)) continue;
    const file = path.resolve(outDir, t.checkpoint);
    if (!fs.existsSync(file)) return `its checkpoint ${t.checkpoint} is missing`;
    if (readCheckpoint(file).weightsSha256 !== t.weightsSha256) return `checkpoint ${t.checkpoint} holds other weights than the results were computed from`;
  }
  return null;
}

/** results.json of `outDir` when it holds the trained models `cfg` names (`trainedStaleReason`), else null and why. */
export function readTrainedResults(outDir: string, cfg: ExperimentConfig, variants: readonly Variant[] = VARIANTS): { results: ExperimentResults | null; note: string } {
  const file = path.join(outDir, "results.json");
  if (!fs.existsSync(file)) return { results: null, note: `no ${file}: machines only (run notebook 07 or the pipeline first)` };
  let res: ExperimentResults;
  try {
    res = JSON.parse(fs.readFileSync(file, "utf8")) as ExperimentResults;
  } catch (e) {
    throw new Error(`${file} is corrupt or truncated (${(e as Error).message}); delete it to recompute`);
  }
  const why = trainedStaleReason(res, cfg, variants, outDir);
  const runs = `${res.config.runs} runs x ${res.config.samples} samples per model`;
  return why === null ? { results: res, note: `trained models from ${file} (${runs})` } : { results: null, note: `not using ${file}: ${why}; machines only` };
}

/** Where one machine's functional consistency sits against one variant's one-model 95 % prediction interval. */
export interface MachineInPrediction {
  machine: MachineName;
  variant: Variant;
  /** The machine's functional consistency: mean over its draws (and its interval over draw means, when >= 2 draws). */
  machineFunctional: number;
  machineCi95: [number, number] | null;
  /** The variant's one-model prediction interval (src/eval/prediction.ts) and its grand mean over models. */
  interval: [number, number];
  variantMean: number;
  /** The 95 % interval of the variant's mean over models (Table 1's), for comparison: it shrinks with models, the PI does not. */
  meanCi95: [number, number] | null;
  models: number;
  /** "below", "inside" or "above" the interval. */
  position: "below" | "inside" | "above";
}

/**
 * Each of `machines`' functional consistency (theory.json) against every variant's one-model
 * prediction interval (results.json of the same study; needs >= 2 dataset draws, else no rows).
 */
export function machinesInPredictionIntervals(theory: TheoryResults, trained: ExperimentResults, machines: readonly MachineName[]): MachineInPrediction[] {
  if (!theory.machines) throw new Error("theory.json has no machines part");
  const out: MachineInPrediction[] = [];
  for (const m of machines) {
    const c = theory.machines.consistency.find((x) => x.machine === m);
    if (!c) throw new Error(`theory.json has no runs of machine '${m}' (it has ${theory.machines.consistency.map((x) => x.machine).join(", ")})`);
    for (const s of trained.summaries) {
      const pi = s.study?.prediction;
      if (s.model === "random" || !pi) continue;
      const [lo, hi] = pi.interval;
      const v = c.overDraws.mean;
      out.push({
        machine: m, variant: s.model, machineFunctional: v, machineCi95: c.overDraws.ci95, interval: [lo, hi], variantMean: pi.mean,
        meanCi95: s.study?.meanInterval?.ci95 ?? null, models: s.study!.models.length,
        position: v < lo ? "below" : v > hi ? "above" : "inside",
      });
    }
  }
  return out;
}

/** `machinesInPredictionIntervals` as a markdown table. */
export function predictionIntervalMarkdown(rows: readonly MachineInPrediction[]): string {
  const pct = (x: number) => `${(100 * x).toFixed(2)} %`;
  return [
    "| machine | functional (mean over draws) | variant | models | variant mean [95 % CI of the mean] | 95 % PI, one new model | machine sits in the PI |",
    "| --- | --- | --- | --- | --- | --- | --- |",
    ...rows.map((r) => `| ${r.machine} | ${pct(r.machineFunctional)}${r.machineCi95 ? ` [${pct(r.machineCi95[0])}, ${pct(r.machineCi95[1])}]` : ""} | ${r.variant} | ${r.models} | ${pct(r.variantMean)}${r.meanCi95 ? ` [${pct(r.meanCi95[0])}, ${pct(r.meanCi95[1])}]` : ""} | ${pct(r.interval[0])} - ${pct(r.interval[1])} | ${r.position} |`),
  ].join("\n");
}

/** The machines whose consistency is set against the prediction intervals by default. */
export const PI_MACHINES: readonly MachineName[] = ["pair", "pairTop1", "attention", "equivariant"];

/** Every table of theory.json as one markdown report (with the prediction intervals when `trained` is given). */
export function theoryMarkdown(r: TheoryResults, trained: ExperimentResults | null = null): string {
  const parts: string[] = [`# Theory phase: ${String(r.meta.command ?? "")}`, "", `Computed ${String(r.meta.started)} in ${Number(r.meta.seconds).toFixed(0)} s (${String(r.meta.computed)} unit(s) computed, ${String(r.meta.reused)} reused; ${String(r.meta.workers)} worker(s)).`];
  if (r.derivations.length > 0) parts.push("## Derivation checks", markdownTable(r.derivations), "", claimsMarkdown(tallyClaims(r.derivations)));
  if (r.machines) {
    const m = r.machines;
    parts.push("## Machines sampled like the trained models", `Draws ${m.draws.join(", ")}; ${r.config.runs} runs x ${r.config.samples} samples per machine and draw.`, "", m.table1Markdown, "",
      "| machine | functional per draw | mean over draws [95 % interval over draw means] |", "| --- | --- | --- |",
      ...m.consistency.map((c) => `| ${c.machine} | ${c.perDraw.map((d) => `${(100 * d.functional).toFixed(2)} %`).join(", ")} | ${(100 * c.overDraws.mean).toFixed(2)} %${c.overDraws.ci95 ? ` [${(100 * c.overDraws.ci95[0]).toFixed(2)}, ${(100 * c.overDraws.ci95[1]).toFixed(2)}]` : ""} |`));
    if (trained) {
      const rows = machinesInPredictionIntervals(r, trained, PI_MACHINES.filter((x) => m.consistency.some((c) => c.machine === x)));
      if (rows.length > 0) parts.push("", "### Against each variant's one-model 95 % prediction interval", predictionIntervalMarkdown(rows));
    }
    if (m.comparisons.length > 0) {
      const names = m.machines.map((x) => x.name);
      parts.push("", "### Along each variant's model (trajectories; final images from the same noise)",
        `| variant (seed ${m.comparisons[0].seed}) | ${names.map((n) => `${n}: pooled r² traj / fwd, median Pearson`).join(" | ")} |`, `| --- | ${names.map(() => "---").join(" | ")} |`,
        ...m.comparisons.map((c) => `| ${c.variant} | ${names.map((n) => `${c.r2Pooled[n].toFixed(3)} / ${c.r2ForwardPooled[n].toFixed(3)}, ${c.pearson[n].median.toFixed(3)}`).join(" | ")} |`));
    }
    for (const s of m.skipped) parts.push(`skipped ${s.variant}: ${s.reason}`);
  }
  if (r.discrimination) parts.push("## Comparisons over the trained models", discriminationMarkdown(r.discrimination));
  return parts.join("\n") + "\n";
}

/** theory.json without the per-timestep curves and the per-seed Pearson r (what docs/results/ keeps). */
export function theorySummary(r: TheoryResults): unknown {
  return {
    ...r,
    machines: r.machines && {
      ...r.machines,
      comparisons: r.machines.comparisons.map(({ r2, rho2, r2X0, r2Forward, ...rest }) => rest),
    },
    discrimination: r.discrimination && {
      ...r.discrimination,
      models: r.discrimination.models.map(({ pearson, ...rest }) => rest),
    },
  };
}
