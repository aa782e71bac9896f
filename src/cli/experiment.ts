/** CLI: `npm run experiment -- --variant all --profile quick [--epochs 500 ...]`. Wiring only. */
import * as path from "path";
import { resolveConfig } from "../config";
import { installStopHandlers } from "../experiment/signals";
import { exitOnError, parseArgs, USAGE } from "./args";

async function main(): Promise<void> {
  // Ctrl-C, kill, a closed terminal or a vanished parent: tasks run in worker threads, training
  // saves a checkpoint at its next epoch, the lock is released and the exit status is 130/143/129
  // (src/experiment/signals.ts). Finished checkpoints and runs are on disk; a rerun resumes.
  installStopHandlers();
  const args = parseArgs(process.argv.slice(2));
  if (args.help) {
    console.log(USAGE);
    return;
  }
  const cfg = resolveConfig(args.profile, args.overrides);
  const outDir = args.outDir ?? path.join("results", args.profile);
  const command = `npm run experiment -- ${process.argv.slice(2).join(" ")}`;
  console.log(`profile ${args.profile}, variants ${args.variants.join(", ")}, out ${outDir}`);
  // Loaded after argument checks, so `--help` and bad flags answer without loading tfjs.
  const { runExperiment } = await import("../experiment/run");
  const res = await runExperiment({
    cfg, variants: args.variants, profile: args.profile, command,
    paths: { outDir, dataDir: args.dataDir },
    seeds: args.seeds ?? undefined, runs: args.runs ?? undefined,
  });
  console.log(`\nTable 1 (${args.profile}; headline = functional consistency):`);
  const fs = await import("fs");
  console.log(fs.readFileSync(path.join(outDir, "table1.md"), "utf8"));
  console.log(`wrote ${outDir}/results.json, table1.csv, table1.md, runs.csv, losses.csv (${(res.meta.seconds as number).toFixed(0)} s)`);
}

main().catch(exitOnError);
