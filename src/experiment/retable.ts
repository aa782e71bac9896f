/**
 * Re-table a finished experiment: Table 1 (results.json `summaries`, `comparisons`, `table1`, and
 * table1.csv / table1.md) recomputed from the per-run metrics stored in its results.json, with the
 * current statistics (src/eval), without checkpoints or sampling. Used to re-table published
 * folders after the statistics change (`scripts/retable.ts`).
 */
import * as fs from "fs";
import * as path from "path";
import { Variant, variantNames } from "../model/variants";
import { withOutputLockSync } from "./lock";
import { readResults } from "./merge";
import { assembleResults, ExperimentResults, writeResults } from "./run";

/**
 * Recompute Table 1 of the experiment in `inDir` and write results.json, table1.csv, table1.md,
 * runs.csv and losses.csv into `outDir` (paths inside results.json made relative to `outDir`, so
 * they still name the input's checkpoints and samples). `outDir` equal to `inDir` overwrites the
 * input's tables and is refused unless `inPlace` is set. The per-run metrics, training records and
 * config are carried over unchanged; `meta.retabled` records when and from where.
 */
export function retableDir(inDir: string, outDir: string, o: { inPlace?: boolean; command?: string } = {}): ExperimentResults {
  const src = path.resolve(inDir);
  const dst = path.resolve(outDir);
  if (src === dst && !o.inPlace) throw new Error(`retable: the output folder ${dst} is the input folder; pass the in-place flag to overwrite its tables`);
  const r = readResults(src);
  if (!Array.isArray(r.runs) || r.runs.length === 0) throw new Error(`retable: ${src}/results.json holds no sampling runs`);
  const stored = (r.meta?.variants as string[] | undefined) ?? [];
  const known = new Set(variantNames());
  const present = new Set(r.runs.map((x) => x.variant));
  const variants = (stored.length > 0 ? stored : variantNames()).filter((v) => known.has(v) && present.has(v as Variant)) as Variant[];
  const missing = [...present].filter((v) => !variants.includes(v));
  if (missing.length > 0) throw new Error(`retable: ${src}/results.json has runs of unknown or unlisted variant(s) ${missing.join(", ")}`);
  // Paths in a results.json are relative to its folder: make them absolute (writeResults makes them relative to outDir).
  const abs = (f: string) => path.resolve(src, f);
  const training = r.training.map((t) => ({ ...t, checkpoint: abs(t.checkpoint) }));
  const runs = r.runs.map((x) => ({ ...x, checkpoint: abs(x.checkpoint), npy: x.npy ? abs(x.npy) : null }));
  const results = assembleResults({
    meta: { ...r.meta, retabled: { from: src, at: new Date().toISOString(), command: o.command ?? null } },
    cfg: r.config, variants, dataset: r.dataset, training, runs,
  });
  // config.json goes with the tables (written as one set): the input's, in today's config keys
  const cfgFile = path.join(src, "config.json");
  const config = fs.existsSync(cfgFile)
    ? (() => { const c = JSON.parse(fs.readFileSync(cfgFile, "utf8")) as Record<string, unknown>; return { ...c, config: r.config }; })()
    : { profile: r.meta?.profile ?? null, variants, config: r.config };
  withOutputLockSync(dst, o.command ?? `retable ${src}`, () => {
    fs.mkdirSync(dst, { recursive: true });
    writeResults(dst, results, config);
  });
  return results;
}
