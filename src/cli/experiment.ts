/** CLI: `npm run experiment -- --variant all --profile quick [--epochs 500 ...]`. Wiring only. */
import * as path from "path";
import { resolveConfig } from "../config";
import { parseArgs, USAGE } from "./args";

async function main(): Promise<void> {
  // Ctrl-C / kill: exit through process.exit so the output folder's lock is released (finished
  // checkpoints and runs are on disk; a rerun resumes).
  for (const sig of ["SIGINT", "SIGTERM"] as const) process.on(sig, () => process.exit(sig === "SIGINT" ? 130 : 143));
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

main().catch((e: Error) => {
  console.error(`error: ${e.message}`);
  process.exit(1);
});
