/**
 * Command-line entry for `runDiscrimination` (comparisons that can tell machines apart), configured
 * like the notebooks (environment variables):
 *
 *   PROFILE=quick SEEDS=0-2 VARIANTS=cnn,attention,top1 npx ts-node --transpile-only src/cli/discriminate.ts (npm run discriminate)
 *
 *  - PROFILE      smoke | quick | paper (default quick)
 *  - OVERRIDES    JSON object of config overrides (checked; default {})
 *  - OUT_DIR      experiment folder whose checkpoints are compared (default results/<profile>)
 *  - VARIANTS     comma-separated trained variants (default all four)
 *  - SEEDS        training seeds, e.g. 0-2 or 0,3 (default: every model of the study, studyModels)
 *  - CHECKPOINTS  explicit list instead of VARIANTS x SEEDS, e.g. cnn:0,attention:1
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
import { CheckpointRef, runDiscrimination } from "../theory/discriminate";
import { discriminationMarkdown } from "../theory/discriminateReport";

/** Parse "cnn:0,attention:1-2" into checkpoint references. */
export function parseCheckpointList(text: string): CheckpointRef[] {
  return text.split(",").filter((s) => s.trim() !== "").flatMap((item) => {
    const m = /^\s*([a-z0-9]+)\s*:\s*([0-9,-]+)\s*$/.exec(item);
    if (!m) throw new Error(`CHECKPOINTS expects variant:seeds items like cnn:0 or top1:0-2, got '${item}'`);
    return parseRangeList("checkpoints", m[2]).map((seed) => ({ variant: parseVariant(m[1]), seed }));
  });
}

export async function discriminateMain(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const profile = parseProfile(env.PROFILE ?? "quick");
  const cfg = resolveConfig(profile, JSON.parse(env.OVERRIDES ?? "{}"));
  const outDir = env.OUT_DIR ?? path.join("results", profile);
  const variants = env.VARIANTS ? env.VARIANTS.split(",").map((v) => parseVariant(v.trim())) : VARIANTS;
  const seeds = env.SEEDS ? parseRangeList("SEEDS", env.SEEDS) : studyModels(cfg).map((m) => m.seed);
  const checkpoints = env.CHECKPOINTS ? parseCheckpointList(env.CHECKPOINTS) : variants.flatMap((variant) => seeds.map((seed) => ({ variant, seed })));
  if (env.SWEEP !== undefined && env.SWEEP !== "0" && env.SWEEP !== "1") throw new Error(`SWEEP must be 0 or 1, got '${env.SWEEP}'`);
  const r = await runDiscrimination({
    cfg, paths: { outDir, dataDir: "data" }, checkpoints, workers: workerCount(cfg),
    ...(env.COMPARE_SAMPLES ? { compareSamples: Number(env.COMPARE_SAMPLES) } : {}),
    ...(env.SWEEP === "0" ? { sweep: null } : {}),
    ...(env.SWEEP_RUNS ? { sweepRuns: Number(env.SWEEP_RUNS) } : {}),
    outFile: env.OUT_FILE ?? path.join(outDir, "theory-discrimination.json"),
  });
  console.log(discriminationMarkdown(r));
  console.log(`${r.meta.seconds} s`);
}

if (require.main === module) {
  discriminateMain().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
