/**
 * Command-line entry for `runTheory`, configured like the notebooks (environment variables):
 *
 *   PROFILE=quick npx ts-node --transpile-only src/cli/theory.ts (npm run theory)
 *
 *  - PROFILE    smoke | quick | paper (default quick)
 *  - OVERRIDES  JSON object of config overrides (checked; default {})
 *  - OUT_DIR    experiment folder whose checkpoints are compared (default results/<profile>)
 *  - DATA_DIR   dataset folder (default data)
 *  - THEORY_OUT output file (default <OUT_DIR>/theory.json)
 *  - VARIANTS   comma-separated trained variants (default all four)
 *  - MISSING    train | skip | error for a missing or unfinished checkpoint (default skip; when
 *               every variant's checkpoint is missing it is an error, before any work)
 *  - COMPARE_SAMPLES trajectories per comparison (default 200)
 *
 * The work runs as the theory phase's cached units (src/theory/theoryPhase.ts) over worker threads on
 * all cores (config key `workers`); `npm run experiment` runs the same phase after sampling.
 */
import * as path from "path";
import { parseProfile, resolveConfig } from "../config";
import { VARIANTS } from "../model/variants";
import { workerCount } from "../experiment/pool";
import { runTheory } from "../theory/runTheory";
import { configHint, fileDoc, helpOrNoArgs, missingModels, parseOverrides, parseVariantList } from "./env";

/** Read the environment, run `runTheory`, print the machines' Table 1 and the comparison summary. */
export async function theoryMain(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const profile = parseProfile(env.PROFILE ?? "quick");
  const cfg = resolveConfig(profile, parseOverrides(env.OVERRIDES));
  const outDir = env.OUT_DIR ?? path.join("results", profile);
  const dataDir = env.DATA_DIR ?? "data";
  const missing = env.MISSING ?? "skip";
  if (missing !== "train" && missing !== "skip" && missing !== "error") throw new Error(`MISSING must be train, skip or error, got '${missing}'`);
  const variants = env.VARIANTS ? parseVariantList("VARIANTS", env.VARIANTS) : VARIANTS;
  // A missing model is found before any work (nothing written); every variant missing is an error
  // (a PROFILE/OVERRIDES that do not match the experiment's), not a theory.json of skipped rows.
  if (missing !== "train") {
    const gone = missingModels(cfg, { outDir, dataDir }, variants.map((variant) => ({ variant, seed: cfg.seed })));
    if (gone.length === variants.length || (missing === "error" && gone.length > 0)) {
      throw new Error(`no trained model to compare in ${outDir}:\n  ${gone.join("\n  ")}${configHint(outDir, cfg)}\n(MISSING=train trains them; MISSING=skip skips the missing ones when others exist)`);
    }
  }
  const r = await runTheory({
    cfg, paths: { outDir, dataDir }, variants, missing, workers: workerCount(cfg),
    compareSamples: env.COMPARE_SAMPLES ? Number(env.COMPARE_SAMPLES) : undefined,
    outFile: env.THEORY_OUT ?? path.join(outDir, "theory.json"),
  });
  console.log(r.table1Markdown);
  for (const c of r.comparisons) {
    const round = (o: Record<string, number>) => JSON.stringify(Object.fromEntries(Object.entries(o).map(([k, v]) => [k, +v.toFixed(4)])));
    console.log(`${c.variant}: eps r2 along trajectories at t ${JSON.stringify(c.r2At)}`);
    console.log(`${c.variant}: eps r2 on the forward process at t ${JSON.stringify(c.r2ForwardAt)}`);
    console.log(`${c.variant}: loss-weighted pooled r2 trajectories ${round(c.r2Pooled)}, forward ${round(c.r2ForwardPooled)}`);
    console.log(`${c.variant}: final images, median Pearson r ${round(Object.fromEntries(Object.entries(c.pearson).map(([k, v]) => [k, v.median])))}, median r2 ${round(c.finalR2Median)}`);
  }
  for (const s of r.skipped) console.log(`skipped ${s.variant}: ${s.reason}`);
  if (r.skipped.length === variants.length) throw new Error(`every variant was skipped: nothing was compared${configHint(outDir, cfg)}`);
  console.log(`derivation checks: ${r.derivations.filter((d) => d.holds).length}/${r.derivations.length} hold; ${r.meta.seconds} s`);
}

if (require.main === module) {
  (async () => {
    const usage = fileDoc(__filename, "npm run theory (configured by PROFILE, OVERRIDES, OUT_DIR, DATA_DIR, THEORY_OUT, VARIANTS, MISSING, COMPARE_SAMPLES)");
    if (helpOrNoArgs(process.argv.slice(2), usage)) console.log(usage);
    else await theoryMain();
  })().catch((e: Error) => {
    console.error(`error: ${e.message}`);
    process.exit(1);
  });
}
