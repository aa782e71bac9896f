/**
 * Command-line entry for `runDiscrimination` (comparisons that can tell machines apart), configured
 * like the notebooks (environment variables):
 *
 *   PROFILE=quick SEEDS=0-2 VARIANTS=cnn,attention,top1 npx ts-node --transpile-only src/cli/discriminate.ts (npm run discriminate)
 *
 *  - PROFILE      smoke | quick | paper (default quick)
 *  - OVERRIDES    JSON object of config overrides (checked; default {})
 *  - OUT_DIR      experiment folder whose checkpoints are compared (default results/<profile>)
 *  - DATA_DIR     dataset folder (default data)
 *  - VARIANTS     comma-separated trained variants (default all four)
 *  - SEEDS        training seeds, e.g. 0-2 or 0,3 (default: every model of the study, studyModels)
 *  - CHECKPOINTS  explicit list instead of VARIANTS x SEEDS, e.g. cnn:0,attention:1 (a model listed
 *                 twice is an error; every listed model must be trained, checked before any work)
 *  - COMPARE_SAMPLES  forward images and same-noise samples per model (default 200)
 *  - SWEEP        1 (default) to sweep the Eq. 8 machine's choices, 0 to skip; SWEEP_RUNS runs each (default 1)
 *  - OUT_FILE     output (default <OUT_DIR>/theory-discrimination.json)
 *
 * The work runs as the theory phase's cached units (src/theory/theoryPhase.ts) over worker threads on
 * all cores (config key `workers`); `npm run experiment` runs the same phase after sampling.
 */
import * as path from "path";
import { parseRangeList } from "./args";
import { parseProfile, resolveConfig } from "../config";
import { studyModels } from "../experiment/models";
import { workerCount } from "../experiment/pool";
import { parseVariant, VARIANTS } from "../model/variants";
import { configHint, fileDoc, helpOrNoArgs, missingModels, parseOverrides, parseVariantList } from "./env";
import { CheckpointRef, runDiscrimination } from "../theory/discriminate";
import { discriminationMarkdown } from "../theory/discriminateReport";

/** Parse "cnn:0,attention:1-2" into checkpoint references; a model listed twice is an error naming it. */
export function parseCheckpointList(text: string): CheckpointRef[] {
  const refs = text.split(",").filter((s) => s.trim() !== "").flatMap((item) => {
    const m = /^\s*([a-z0-9]+)\s*:\s*([0-9,-]+)\s*$/.exec(item);
    if (!m) throw new Error(`CHECKPOINTS expects variant:seeds items like cnn:0 or top1:0-2, got '${item}'`);
    return parseRangeList("checkpoints", m[2]).map((seed) => ({ variant: parseVariant(m[1]), seed }));
  });
  const keys = refs.map((r) => `${r.variant}:${r.seed}`);
  const dup = keys.find((k, i) => keys.indexOf(k) !== i);
  if (dup) throw new Error(`CHECKPOINTS lists the model ${dup} twice ('${text}'); list each model once`);
  if (refs.length === 0) throw new Error(`CHECKPOINTS selects no model ('${text}')`);
  return refs;
}

export async function discriminateMain(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const profile = parseProfile(env.PROFILE ?? "quick");
  const cfg = resolveConfig(profile, parseOverrides(env.OVERRIDES));
  const outDir = env.OUT_DIR ?? path.join("results", profile);
  const dataDir = env.DATA_DIR ?? "data";
  const variants = env.VARIANTS ? parseVariantList("VARIANTS", env.VARIANTS) : VARIANTS;
  const seeds = env.SEEDS ? parseRangeList("SEEDS", env.SEEDS) : studyModels(cfg).map((m) => m.seed);
  const checkpoints = env.CHECKPOINTS ? parseCheckpointList(env.CHECKPOINTS) : variants.flatMap((variant) => seeds.map((seed) => ({ variant, seed })));
  if (env.SWEEP !== undefined && env.SWEEP !== "0" && env.SWEEP !== "1") throw new Error(`SWEEP must be 0 or 1, got '${env.SWEEP}'`);
  // Every model must be trained: checked before any work, so a missing one writes nothing.
  const gone = missingModels(cfg, { outDir, dataDir }, checkpoints);
  if (gone.length > 0) throw new Error(`${gone.length} of ${checkpoints.length} model(s) are not trained in ${outDir}:\n  ${gone.join("\n  ")}${configHint(outDir, cfg)}`);
  const r = await runDiscrimination({
    cfg, paths: { outDir, dataDir }, checkpoints, workers: workerCount(cfg),
    ...(env.COMPARE_SAMPLES ? { compareSamples: Number(env.COMPARE_SAMPLES) } : {}),
    ...(env.SWEEP === "0" ? { sweep: null } : {}),
    ...(env.SWEEP_RUNS ? { sweepRuns: Number(env.SWEEP_RUNS) } : {}),
    outFile: env.OUT_FILE ?? path.join(outDir, "theory-discrimination.json"),
  });
  console.log(discriminationMarkdown(r));
  console.log(`${r.meta.seconds} s`);
}

if (require.main === module) {
  (async () => {
    const usage = fileDoc(__filename, "npm run discriminate (configured by PROFILE, OVERRIDES, OUT_DIR, DATA_DIR, VARIANTS, SEEDS, CHECKPOINTS, COMPARE_SAMPLES, SWEEP, SWEEP_RUNS, OUT_FILE)");
    if (helpOrNoArgs(process.argv.slice(2), usage)) console.log(usage);
    else await discriminateMain();
  })().catch((e: Error) => {
    console.error(`error: ${e.message}`);
    process.exit(1);
  });
}
