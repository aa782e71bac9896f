/**
 * CLI: `npm run sweep -- --variant attention,cnn --epochs 250,500,1000,2000,5000 --datasets 4 --seeds 2 --profile paper`
 *
 * A sweep is an experiment's command line in which any config key may take a comma-separated
 * list: the cells are the cartesian product of the lists, each a normal experiment run of the
 * study design (dataset draws x training seeds) in <out>/cells/<cell>/, sharing one checkpoint
 * folder (keys that act only at sampling time reuse the cell's models). Every cell's config is
 * checked before any work; an unknown key, a value out of range, an empty list or a key given twice
 * is an error naming it. One progress bar over the whole sweep; Ctrl-C saves at the next epoch and
 * a rerun of the same command resumes, recomputing nothing finished.
 *
 *   --out DIR          the sweep's folder (default results/sweep-<profile>)
 *   --checkpoints DIR  take (and put) the models there, e.g. results/paper/checkpoints to reuse a
 *                      study's models; default <out>/checkpoints
 *   --seeds, --runs    a count or a slice of the design, as for npm run experiment
 *   --variant, --profile, --data, --<configKey> VALUE[,VALUE...]
 *
 * Writes <out>/sweep.md, sweep.json, sweep-models.csv|json (every metric per cell and model),
 * sweep-cells.csv|json (per cell: mean, 95 % interval over models, one-model PI),
 * sweep-differences.csv|json (paired by dataset draw against each key's reference value) and
 * figures/sweep-<key>.{png,svg,pdf} (npm run sweep -- ... --figures false to skip them).
 */
import * as path from "path";
import { DEFAULT_CONFIG } from "../config";
import { installStopHandlers } from "../experiment/signals";
import { Axis, gridCells, parseAxis } from "../sweep/grid";
import { exitOnError, parseArgs } from "./args";
import { fileDoc } from "./env";

export interface SweepArgs {
  args: ReturnType<typeof parseArgs>;
  axes: Axis[];
  checkpointDir: string | null;
  figures: boolean;
}

/** Split the sweep's flags into the experiment's (parseArgs) and the swept lists; every key at most once. */
export function parseSweepArgs(argv: string[]): SweepArgs {
  const rest: string[] = [];
  const axes: Axis[] = [];
  const seen = new Set<string>();
  let checkpointDir: string | null = null;
  let figures = true;
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    if (!flag.startsWith("--")) {
      rest.push(flag);
      continue;
    }
    const eq = flag.indexOf("=");
    const name = eq > 0 ? flag.slice(2, eq) : flag.slice(2);
    const value = eq > 0 ? flag.slice(eq + 1) : argv[i + 1];
    if (name === "help" || name === "h") {
      rest.push(flag);
      continue;
    }
    if (!["variant", "profile", "out", "data", "seeds", "runs", "checkpoints", "figures"].includes(name) && !(name in DEFAULT_CONFIG)) {
      throw new Error(`unknown flag --${name} (flags: --variant, --profile, --out, --data, --seeds, --runs, --checkpoints, --figures, or a config key)`);
    }
    if (seen.has(name)) throw new Error(`sweep: --${name} is given twice; give it once (a list of values: --${name} a,b,c)`);
    seen.add(name);
    if (value === undefined) throw new Error(`flag --${name} needs a value`);
    if (eq < 0) i++;
    if (name === "checkpoints") {
      if (value.trim() === "") throw new Error("--checkpoints needs a folder, got an empty path");
      checkpointDir = value;
    } else if (name === "figures") {
      if (value !== "true" && value !== "false") throw new Error(`--figures expects true or false, got '${value}'`);
      figures = value === "true";
    } else if (name in DEFAULT_CONFIG && name !== "seeds" && name !== "runs" && value.includes(",")) {
      axes.push(parseAxis(name, value));
    } else {
      rest.push(`--${name}`, value);
    }
  }
  return { args: parseArgs(rest), axes, checkpointDir, figures };
}

async function main(): Promise<void> {
  installStopHandlers();
  const argv = process.argv.slice(2);
  const s = parseSweepArgs(argv);
  if (s.args.help) {
    console.log(fileDoc(__filename, "usage: npm run sweep -- [--<configKey> a,b,c ...] [experiment flags]"));
    return;
  }
  const { args, axes } = s;
  // Sweeps have no paper's-protocol table: one cell's first model would get protocolRuns runs.
  const base = { protocolRuns: 0, ...args.overrides } as Record<string, number | boolean | string>;
  const cells = gridCells(args.profile, base, axes); // every cell checked before any work
  const outDir = args.outDir ?? path.join("results", `sweep-${args.profile}`);
  const command = `npm run sweep -- ${argv.join(" ")}`;
  console.log(`sweep ${outDir}: profile ${args.profile}, variants ${args.variants.join(", ")}, ${cells.length} cell(s): ${cells.map((c) => c.name).join(" ")}`);
  // Loaded after the checks, so --help and bad grids answer without loading tfjs.
  const { runSweep } = await import("../sweep/run");
  const res = await runSweep({
    profile: args.profile, variants: args.variants, axes, cells, outDir, dataDir: args.dataDir, checkpointDir: s.checkpointDir ?? undefined,
    seeds: args.seeds ?? undefined, runs: args.runs ?? undefined, command,
  });
  if (s.figures && axes.length > 0) {
    const { writeSweepFigures } = await import("../sweep/figures");
    const files = await writeSweepFigures(outDir, res, axes, args.profile);
    console.log(`figures: ${files.join(", ")}`);
  }
  const fs = await import("fs");
  console.log(fs.readFileSync(path.join(outDir, "sweep.md"), "utf8"));
}

if (require.main === module) {
  main().catch(exitOnError);
}
