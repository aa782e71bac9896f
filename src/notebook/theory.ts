/**
 * Notebook 09's side of the theory phase: its parameter cell's values checked and turned into the
 * phase's request (with every parameter at its default, exactly what the experiment's theory phase
 * computes, so the notebook loads the experiment's theory.json), the checked loader, and the tables
 * that set the machines beside the trained models' Table 1.
 */
import * as fs from "fs";
import * as path from "path";
import { parseRangeList } from "../cli/args";
import { exactRandomBaseline } from "../eval/baseline";
import { workerCount } from "../experiment/pool";
import { ExperimentResults } from "../experiment/run";
import { experimentTheoryRequest, LoadedTheory, loadOrComputeTheory, TheoryRequest, TheoryResults, theoryPart } from "../experiment/theory-phase";
import { readTrainedResults } from "../experiment/theory-report";
import { parseVariant, Variant, variantNames } from "../model/variants";
import { discriminationSettings } from "../theory/discriminate";
import { choiceParam, intParam, NotebookParams } from "./params";

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
  /** Variants, comma-separated (default the experiment's, from results.json; else every registered variant). */
  VARIANTS?: string;
  /** "1" sweeps the Eq. 8 machine's free choices, "0" does not (default 1). */
  SWEEP?: string;
}

export { machinesInPredictionIntervals, predictionIntervalMarkdown } from "../experiment/theory-report";
export type { MachineInPrediction } from "../experiment/theory-report";

/** The theory phase's request for notebook 09's parameters; a bad value throws naming the parameter. */
export function theoryNotebookRequest(p: NotebookParams, e: TheoryNotebookEnv): TheoryRequest {
  const has = (v: string | undefined): v is string => v !== undefined && v.trim() !== "";
  const variants: Variant[] = has(e.VARIANTS) ? e.VARIANTS.split(",").map((v) => parseVariant(v.trim())) : defaultVariants(p);
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
 * The variants the experiment in the output folder ran (its results.json's `meta.variants`, the same
 * list its theory phase compared), else every registered variant (`--variant all`).
 */
export function defaultVariants(p: NotebookParams): Variant[] {
  const file = path.join(p.paths.outDir, "results.json");
  if (fs.existsSync(file)) {
    try {
      const v = (JSON.parse(fs.readFileSync(file, "utf8")) as ExperimentResults).meta?.variants as string[] | undefined;
      if (Array.isArray(v) && v.length > 0) return v.map((x) => parseVariant(x));
    } catch {
      // a corrupt results.json is reported where it is read (trainedResults)
    }
  }
  return variantNames() as Variant[];
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

/** Table-1 rows of the trained models (when `trained` is given) and of the machines, and the exact random baseline. */
export function consistencyRows(theory: TheoryResults, trained: ExperimentResults | null): { rows: Record<string, string | number>[]; randomExact: number } {
  if (!theory.machines) throw new Error("theory.json has no machines part");
  return { rows: [...(trained?.table1 ?? []), ...theory.machines.table1], randomExact: trained?.baseline.exact.functional ?? exactRandomBaseline().functional };
}

/**
 * The experiment's results.json of the output folder when its trained models are the ones these
 * parameters name (`readTrainedResults`: same training config, same checkpoint weights; sampling
 * keys may differ), else null with the reason; notebook 09 then shows the machines alone.
 */
export function trainedResults(p: NotebookParams, variants: readonly Variant[] = defaultVariants(p)): { results: ExperimentResults | null; note: string } {
  return readTrainedResults(p.paths.outDir, p.cfg, variants);
}
