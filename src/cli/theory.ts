/**
 * Command-line entry for the theory phase on an experiment folder's checkpoints, configured like the
 * notebooks (environment variables):
 *
 *   PROFILE=quick npx ts-node --transpile-only src/cli/theory.ts            (npm run theory)
 *   PROFILE=paper OUT_DIR=... npx ts-node --transpile-only src/cli/discriminate.ts   (npm run discriminate: PARTS=discrimination)
 *
 *  - PROFILE    smoke | quick | paper (default quick)
 *  - OVERRIDES  JSON object of config overrides (checked; default {})
 *  - OUT_DIR    experiment folder whose checkpoints are compared (default results/<profile>)
 *  - DATA_DIR   dataset folder (default data)
 *  - OUT_FILE   output file (default <OUT_DIR>/theory.json)
 *  - PARTS      comma-separated: derivations, machines, discrimination (default all three)
 *  - VARIANTS   comma-separated trained variants (default all)
 *  - COMPARE_SAMPLES  trajectories, forward images and same-noise samples per comparison (default 200)
 *  machines part (Table-1 rows of the machines; each variant's model SEED along its trajectories):
 *  - SEED       training seed of the compared models (default the study's first)
 *  - DRAWS      dataset draws the machines are sampled on, e.g. 0-5 (default: every draw of the study)
 *  - MISSING    train | skip | error for a missing or unfinished checkpoint (default skip)
 *  discrimination part (every model given):
 *  - SEEDS      training seeds, e.g. 0-2 or 0,3 (default: every model of the study, studyModels)
 *  - CHECKPOINTS  explicit list instead of VARIANTS x SEEDS, e.g. cnn:0,attention:1-2
 *  - SWEEP      1 (default) to sweep the Eq. 8 machine's choices, 0 to skip; SWEEP_RUNS runs each (default 1)
 *
 * Every model a part needs is checked before any work: a missing one (with MISSING other than train)
 * is an error that writes nothing and names the keys where PROFILE/OVERRIDES differ from the
 * experiment's config.json. A variant or model listed twice is an error; `--help` prints this text.
 *
 * The work runs as the theory phase's cached units (src/experiment/theory-phase.ts) over worker
 * threads on all cores (config key `workers`); `npm run experiment` runs the same phase after sampling.
 */
import * as path from "path";
import { parseRangeList } from "./args";
import { ExperimentConfig, parseProfile, resolveConfig } from "../config";
import { studyModels } from "../experiment/models";
import { workerCount } from "../experiment/pool";
import { computeTheory, TheoryRequest, theoryPart } from "../experiment/theory-phase";
import { readTrainedResults, theoryMarkdown, theorySummary } from "../experiment/theory-report";
import { writeFileAtomic, writeJsonAtomic } from "../io/atomic";
import { parseVariant, Variant, VARIANTS } from "../model/variants";
import { CheckpointRef, discriminationSettings } from "../theory/discriminate";
import { configHint, fileDoc, helpOrNoArgs, missingModels, parseOverrides, parseVariantList } from "./env";
import { discriminationMarkdown } from "../theory/comparison-report";

const PART_NAMES = ["derivations", "machines", "discrimination"] as const;
type PartName = (typeof PART_NAMES)[number];

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

/** Parse PARTS ("derivations,machines,discrimination" or a subset); a bad name is an error naming the choices. */
export function parseParts(text: string): Set<PartName> {
  const parts = text.split(",").map((s) => s.trim()).filter((s) => s !== "");
  for (const p of parts) if (!(PART_NAMES as readonly string[]).includes(p)) throw new Error(`PARTS must list some of ${PART_NAMES.join(", ")}, got '${p}'`);
  if (parts.length === 0) throw new Error(`PARTS must list some of ${PART_NAMES.join(", ")}, got '${text}'`);
  return new Set(parts as PartName[]);
}

/** The request the environment asks for. */
export function requestFromEnv(cfg: ExperimentConfig, env: NodeJS.ProcessEnv, defaultParts = PART_NAMES.join(",")): TheoryRequest {
  const parts = parseParts(env.PARTS ?? defaultParts);
  const variants: Variant[] = env.VARIANTS ? parseVariantList("VARIANTS", env.VARIANTS) : [...VARIANTS];
  const models = studyModels(cfg);
  const compareSamples = env.COMPARE_SAMPLES ? Number(env.COMPARE_SAMPLES) : undefined;
  const missing = env.MISSING ?? "skip";
  if (missing !== "train" && missing !== "skip" && missing !== "error") throw new Error(`MISSING must be train, skip or error, got '${missing}'`);
  if (env.SWEEP !== undefined && env.SWEEP !== "0" && env.SWEEP !== "1") throw new Error(`SWEEP must be 0 or 1, got '${env.SWEEP}'`);
  const seeds = env.SEEDS ? parseRangeList("SEEDS", env.SEEDS) : models.map((m) => m.seed);
  const checkpoints = env.CHECKPOINTS ? parseCheckpointList(env.CHECKPOINTS) : variants.flatMap((variant) => seeds.map((seed) => ({ variant, seed })));
  return {
    derivations: parts.has("derivations"),
    theory: parts.has("machines")
      ? theoryPart(cfg, {
        variants, seed: env.SEED ? parseRangeList("SEED", env.SEED)[0] : models[0].seed, missing, compareSamples,
        draws: env.DRAWS ? parseRangeList("DRAWS", env.DRAWS) : [...new Set(models.map((m) => m.dataSeed))],
      })
      : null,
    discrimination: parts.has("discrimination")
      ? {
        checkpoints,
        settings: discriminationSettings({
          compareSamples, ...(env.SWEEP === "0" ? { sweep: null } : {}), ...(env.SWEEP_RUNS ? { sweepRuns: Number(env.SWEEP_RUNS) } : {}),
        }),
      }
      : null,
  };
}

/** Read the environment, run the phase, print the machines' Table 1 and the comparison tables. */
export async function theoryMain(env: NodeJS.ProcessEnv = process.env, defaultParts?: string): Promise<void> {
  const profile = parseProfile(env.PROFILE ?? "quick");
  const cfg = resolveConfig(profile, parseOverrides(env.OVERRIDES));
  const outDir = env.OUT_DIR ?? path.join("results", profile);
  const dataDir = env.DATA_DIR ?? "data";
  const request = requestFromEnv(cfg, env, defaultParts);
  // Every model a part needs, checked before any work (a missing one writes nothing, not even a dataset).
  const paths = { outDir, dataDir };
  const th = request.theory;
  if (th && th.missing !== "train") {
    const wanted = th.variants.map((variant) => ({ variant, seed: th.seed }));
    const gone = missingModels(cfg, paths, wanted);
    if (gone.length === wanted.length || (th.missing === "error" && gone.length > 0)) {
      throw new Error(`no trained model to compare in ${outDir}:\n  ${gone.join("\n  ")}${configHint(outDir, cfg)}\n(MISSING=train trains them; MISSING=skip skips the missing ones when others exist)`);
    }
  }
  if (request.discrimination) {
    const gone = missingModels(cfg, paths, request.discrimination.checkpoints);
    if (gone.length > 0) throw new Error(`${gone.length} of ${request.discrimination.checkpoints.length} model(s) are not trained in ${outDir}:\n  ${gone.join("\n  ")}${configHint(outDir, cfg)}`);
  }
  const command = `${Object.entries(env).filter(([k]) => ["PROFILE", "OVERRIDES", "OUT_DIR", "DATA_DIR", "OUT_FILE", "PARTS", "VARIANTS", "COMPARE_SAMPLES", "SEED", "DRAWS", "MISSING", "SEEDS", "CHECKPOINTS", "SWEEP", "SWEEP_RUNS"].includes(k)).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(" ")} ${process.argv.slice(1).map((a) => path.relative(process.cwd(), a)).join(" ")}`;
  const { results: r, seconds, computed, reused } = await computeTheory({
    cfg, paths, ...request, workers: workerCount(cfg), command, label: `${profile} theory`,
    file: env.OUT_FILE ?? path.join(outDir, "theory.json"),
  });
  if (r.machines) {
    console.log(r.machines.table1Markdown);
    for (const c of r.machines.consistency) console.log(`machine:${c.machine}: functional ${(100 * c.overDraws.mean).toFixed(2)} %${c.overDraws.ci95 ? ` [${(100 * c.overDraws.ci95[0]).toFixed(2)}, ${(100 * c.overDraws.ci95[1]).toFixed(2)}] (t over ${c.overDraws.draws} draws)` : ""}`);
    for (const c of r.machines.comparisons) {
      const round = (o: Record<string, number>) => JSON.stringify(Object.fromEntries(Object.entries(o).map(([k, v]) => [k, +v.toFixed(4)])));
      console.log(`${c.variant}: loss-weighted pooled r2 trajectories ${round(c.r2Pooled)}, forward ${round(c.r2ForwardPooled)}`);
      console.log(`${c.variant}: final images, median Pearson r ${round(Object.fromEntries(Object.entries(c.pearson).map(([k, v]) => [k, v.median])))}`);
    }
    for (const s of r.machines.skipped) console.log(`skipped ${s.variant}: ${s.reason}`);
    if (th && r.machines.skipped.length === th.variants.length) throw new Error(`every variant was skipped: nothing was compared${configHint(outDir, cfg)}`);
  }
  if (r.discrimination) console.log(discriminationMarkdown(r.discrimination));
  if (r.derivations.length > 0) console.log(`derivation checks: ${r.derivations.filter((d) => d.holds).length}/${r.derivations.length} hold`);
  // The whole report (with the one-model prediction intervals when the folder's results.json holds these models) and a summary JSON.
  const trained = readTrainedResults(outDir, cfg, request.theory?.variants ?? VARIANTS);
  console.log(trained.note);
  const base = (env.OUT_FILE ?? path.join(outDir, "theory.json")).replace(/\.json$/, "");
  writeFileAtomic(`${base}.md`, theoryMarkdown(r, trained.results));
  writeJsonAtomic(`${base}-summary.json`, theorySummary(r));
  console.log(`wrote ${base}.json, ${base}.md, ${base}-summary.json`);
  console.log(`${computed} unit(s) computed, ${reused} reused; ${seconds.toFixed(0)} s`);
}

/** The command line's entry: --help prints the usage, any argument is an error, errors without a stack trace. */
export function cliMain(defaultParts?: string, file = __filename): void {
  (async () => {
    const usage = fileDoc(file, "npm run theory (configured by PROFILE, OVERRIDES, OUT_DIR, DATA_DIR, OUT_FILE, PARTS, VARIANTS, ...)");
    if (helpOrNoArgs(process.argv.slice(2), usage)) console.log(usage);
    else await theoryMain(process.env, defaultParts);
  })().catch((e: Error) => {
    console.error(`error: ${e.message}`);
    process.exit(1);
  });
}

if (require.main === module) cliMain();
