/**
 * Notebook 09's side of the theory phase: its parameter cell's values checked and turned into the
 * phase's request (with every parameter at its default, exactly what the experiment's theory phase
 * computes, so the notebook loads the experiment's theory.json), the checked loader, and the tables
 * that set the machines beside the trained models' Table 1.
 */
import * as fs from "fs";
import * as path from "path";
import { parseRangeList } from "../cli/args";
import { ExperimentResults } from "../experiment/run";
import { experimentTheoryRequest, LoadedTheory, loadOrComputeTheory, TheoryRequest, TheoryResults, theoryPart } from "../experiment/theory-phase";
import { workerCount } from "../experiment/pool";
import { exactRandomBaseline } from "../eval/baseline";
import { parseVariant, Variant, VARIANTS } from "../model/variants";
import { discriminationSettings } from "../theory/discriminate";
import { MachineName } from "../theory/machines";
import { choiceParam, intParam, NotebookParams } from "./params";
import { staleReason } from "./results";

/** Notebook 09's own parameters (text, as environment variables give them); "" or absent keeps the default. */
export interface TheoryNotebookEnv {
  /** A missing checkpoint of the machines part: train | skip | error (default skip). */
  MISSING?: string;
  /** Trajectories, forward images and same-noise samples per comparison (default 200). */
  COMPARE_SAMPLES?: string;
  /** The Eq. 8 machine's partner weight lambda in [0, 1) (default 0.5). */
  PARTNER_WEIGHT?: string;
  /** Training seeds of the compared models, e.g. "0-2" (default every model of the study). */
  SEEDS?: string;
  /** Variants, comma-separated (default every variant). */
  VARIANTS?: string;
  /** "1" sweeps the Eq. 8 machine's free choices, "0" does not (default 1). */
  SWEEP?: string;
}

/** The theory phase's request for notebook 09's parameters; a bad value throws naming the parameter. */
export function theoryNotebookRequest(p: NotebookParams, e: TheoryNotebookEnv): TheoryRequest {
  const has = (v: string | undefined): v is string => v !== undefined && v.trim() !== "";
  const variants: Variant[] = has(e.VARIANTS) ? e.VARIANTS.split(",").map((v) => parseVariant(v.trim())) : [...VARIANTS];
  const def = experimentTheoryRequest(p.cfg, variants);
  const missing = choiceParam("MISSING", has(e.MISSING) ? e.MISSING.trim() : "skip", ["train", "skip", "error"] as const);
  const compareSamples = has(e.COMPARE_SAMPLES) ? intParam("COMPARE_SAMPLES", e.COMPARE_SAMPLES, { min: 2 }) : def.theory!.compareSamples;
  let partnerWeight = def.theory!.machineOptions.partnerWeight;
  if (has(e.PARTNER_WEIGHT)) {
    partnerWeight = Number(e.PARTNER_WEIGHT);
    if (!(/^\s*[0-9.eE+-]+\s*$/.test(e.PARTNER_WEIGHT) && partnerWeight >= 0 && partnerWeight < 1)) throw new Error(`notebook parameter PARTNER_WEIGHT must be a number in [0, 1), got '${e.PARTNER_WEIGHT}'`);
  }
  const sweep = choiceParam("SWEEP", has(e.SWEEP) ? e.SWEEP.trim() : "1", ["0", "1"] as const) === "1";
  const seeds = has(e.SEEDS) ? parseRangeList("SEEDS", e.SEEDS) : p.seeds;
  for (const s of seeds) if (!p.seeds.includes(s)) throw new Error(`notebook parameter SEEDS: training seed ${s} is not a model of this study (seeds ${p.seeds.join(", ")})`);
  const machineOptions = { ...def.theory!.machineOptions, partnerWeight };
  return {
    derivations: true,
    theory: theoryPart(p.cfg, { ...def.theory!, variants, missing, compareSamples, machineOptions }),
    discrimination: {
      checkpoints: variants.flatMap((variant) => seeds.map((seed) => ({ variant, seed }))),
      settings: discriminationSettings({ ...def.discrimination!.settings, compareSamples, machineOptions: { partnerWeight }, ...(sweep ? {} : { sweep: null }) }),
    },
  };
}

/**
 * theory.json of the output folder when it stands for `request` (config, request, and every compared
 * checkpoint's weights), else computed with the same library function over all cores (cached units reused).
 */
export async function theoryResults(p: NotebookParams, request: TheoryRequest, o: {
  log?: (line: string) => void; progressWrite?: (line: string, final: boolean) => void; command?: string;
} = {}): Promise<LoadedTheory> {
  return loadOrComputeTheory({
    cfg: p.cfg, paths: p.paths, ...request, workers: workerCount(p.cfg), command: o.command ?? "notebook 09_score_machines",
    log: o.log, progressWrite: o.progressWrite, progressIntervalMs: 2000,
  });
}

/**
 * The experiment's results.json of the output folder when it stands for these parameters and
 * variants (`staleReason`), else null with the reason (notebook 09 shows the machines without the
 * trained models' rows then; it never trains or samples the models itself).
 */
export function trainedResults(p: NotebookParams, variants: readonly Variant[] = VARIANTS): { results: ExperimentResults | null; note: string } {
  const file = path.join(p.paths.outDir, "results.json");
  if (!fs.existsSync(file)) return { results: null, note: `no ${file}: machines only (run notebook 07 or the pipeline first)` };
  let res: ExperimentResults;
  try {
    res = JSON.parse(fs.readFileSync(file, "utf8")) as ExperimentResults;
  } catch (e) {
    throw new Error(`${file} is corrupt or truncated (${(e as Error).message}); delete it to recompute`);
  }
  const why = staleReason(res, p.cfg, variants, p.paths.outDir);
  return why === null ? { results: res, note: `trained models from ${file}` } : { results: null, note: `not using ${file}: ${why}; machines only` };
}

/** Table-1 rows of the trained models (when `trained` is given) and of the machines, and the exact random baseline. */
export function consistencyRows(theory: TheoryResults, trained: ExperimentResults | null): { rows: Record<string, string | number>[]; randomExact: number } {
  if (!theory.machines) throw new Error("theory.json has no machines part");
  return { rows: [...(trained?.table1 ?? []), ...theory.machines.table1], randomExact: trained?.baseline.exact.functional ?? exactRandomBaseline().functional };
}

/** Where one machine's functional consistency sits against each variant's one-model 95 % prediction interval. */
export interface MachineInPrediction {
  machine: MachineName;
  variant: Variant;
  /** The machine's functional consistency: mean over its draws (and its interval over draw means, when >= 2 draws). */
  machineFunctional: number;
  machineCi95: [number, number] | null;
  /** The variant's one-model prediction interval (src/eval/prediction.ts) and its grand mean over models. */
  interval: [number, number];
  variantMean: number;
  models: number;
  /** "below", "inside" or "above" the interval. */
  position: "below" | "inside" | "above";
}

/**
 * Each `machines` entry's functional consistency (theory.json) against every variant's one-model
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
        machine: m, variant: s.model, machineFunctional: v, machineCi95: c.overDraws.ci95, interval: [lo, hi], variantMean: pi.mean, models: s.study!.models.length,
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
    "| machine | functional (mean over draws) | variant | models | variant mean | 95 % PI, one new model | machine sits |",
    "| --- | --- | --- | --- | --- | --- | --- |",
    ...rows.map((r) => `| ${r.machine} | ${pct(r.machineFunctional)}${r.machineCi95 ? ` [${pct(r.machineCi95[0])}, ${pct(r.machineCi95[1])}]` : ""} | ${r.variant} | ${r.models} | ${pct(r.variantMean)} | ${pct(r.interval[0])} - ${pct(r.interval[1])} | ${r.position} |`),
  ].join("\n");
}
