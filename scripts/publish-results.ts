/**
 * Copy an experiment's output folder into docs/results/<name>/ for the README to quote: the tables,
 * results.json (every run's metrics, the resolved config, the command, seeds and versions),
 * config.json, runs.csv, the strip plot of every trained model (PNG, SVG, PDF) and how far the saved
 * samples stray from [-1, 1]. Checkpoints, samples and loss histories stay in the output folder
 * (losses are in results.json `training[].epochLosses`).
 *
 *   npx ts-node --transpile-only scripts/publish-results.ts OUT_DIR NAME [--log FILE ...]
 *
 * Extra `--log` files (the experiment's console output) are copied too, for its timings, without
 * their progress-bar updates (each bar's last line, with the phase's elapsed time, is kept).
 */
import * as fs from "fs";
import * as path from "path";
import { spawnSync } from "child_process";
import { toCsv } from "../src/eval/report";
import type { ExperimentResults } from "../src/experiment/run";
import { ensureDir, writeFileAtomic } from "../src/io/atomic";
import { FigureExporter } from "../src/plot/export";
import { studyStripFigure } from "../src/plot/figures";

/** A progress-bar line of src/progress.ts: "<label> [####....]  12.3% ...". */
const PROGRESS = /^(\S+(?: \S+)?) \[[#.]+\]/;

/**
 * A console log without its progress-bar updates (a line every 10 s), keeping each bar's last line,
 * which holds that phase's elapsed time.
 */
export function withoutProgressLines(text: string): string {
  const lines = text.split("\n");
  return lines.filter((line, i) => {
    const m = PROGRESS.exec(line);
    return !m || PROGRESS.exec(lines[i + 1] ?? "")?.[1] !== m[1];
  }).join("\n");
}

const USAGE = "usage: npx ts-node --transpile-only scripts/publish-results.ts OUT_DIR NAME [--log FILE ...]  (NAME: lower-case letters, digits, dashes; copies OUT_DIR's tables to docs/results/NAME)";

/**
 * Why the files of `outDir` do not belong together, or null: config.json must describe the config
 * results.json was made with, and table1.csv must be its Table 1 (a failed or interrupted rerun
 * must not publish a mixed set).
 */
export function mismatch(outDir: string): string | null {
  const read = (f: string) => {
    const file = path.join(outDir, f);
    if (!fs.existsSync(file)) throw new Error(`${file} is missing`);
    return fs.readFileSync(file, "utf8");
  };
  const results = JSON.parse(read("results.json")) as ExperimentResults;
  const config = JSON.parse(read("config.json")) as { config?: Record<string, unknown> };
  const a = config.config ?? {};
  const b = results.config as unknown as Record<string, unknown>;
  const diff = [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k]));
  if (diff.length > 0) return `config.json and results.json differ in ${diff.map((k) => `${k} (${JSON.stringify(a[k])} vs ${JSON.stringify(b[k])})`).join(", ")}`;
  // Table 1 as results.json holds it (its markdown and runs.csv follow the library version's format).
  if (read("table1.csv") !== toCsv(results.table1)) return "table1.csv was not made from this results.json";
  return null;
}

/**
 * The arguments of a publish script, `DIR NAME [--log FILE ...]`, all checked before any work (an
 * unknown flag, a missing log file or a bad NAME is an error naming it); null for --help.
 */
export function parsePublishArgs(args: string[], usage: string): { dir: string; name: string; logs: string[] } | null {
  if (args.includes("--help") || args.includes("-h")) return null;
  const positional: string[] = [];
  const logs: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "--log") {
      const l = args[++i];
      if (!l || !fs.existsSync(l)) throw new Error(`--log needs an existing file, got '${l ?? ""}'`);
      logs.push(l);
    } else if (args[i].startsWith("-")) throw new Error(`unknown flag '${args[i]}'\n${usage}`);
    else positional.push(args[i]);
  }
  const [dir, name] = positional;
  if (!dir || !name || positional.length > 2 || !/^[a-z0-9-]+$/.test(name)) throw new Error(usage);
  return { dir, name, logs };
}

async function main(): Promise<void> {
  const a = parsePublishArgs(process.argv.slice(2), USAGE);
  if (!a) {
    console.log(USAGE);
    return;
  }
  const { dir: outDir, name, logs } = a;
  const root = path.resolve(__dirname, "..");
  const dest = path.join(root, "docs", "results", name);
  const why = mismatch(outDir);
  if (why) throw new Error(`${outDir} does not hold one run's results (${why}); rerun the experiment there, or publish another folder`);
  const results = JSON.parse(fs.readFileSync(path.join(outDir, "results.json"), "utf8"));
  ensureDir(dest);
  for (const f of ["results.json", "config.json", "runs.csv", "table1.csv", "table1.md"]) {
    fs.copyFileSync(path.join(outDir, f), path.join(dest, f));
  }
  for (const l of logs) writeFileAtomic(path.join(dest, path.basename(l)), withoutProgressLines(fs.readFileSync(l, "utf8")));
  // the strip plot of every trained model
  const ex = await new FigureExporter().open();
  try {
    await ex.export(studyStripFigure(results.summaries), path.join(dest, "figures", "table1-models"));
  } finally {
    await ex.close();
  }
  // how far the (unclipped) samples stray from [-1, 1]
  const r = spawnSync(path.join(root, "node_modules", ".bin", "ts-node"), ["--transpile-only", path.join(root, "scripts", "sample-range.ts"), outDir, "--json", path.join(dest, "sample-range.json")], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`sample-range.ts failed: ${r.stderr}`);
  writeFileAtomic(path.join(dest, "sample-range.txt"), r.stdout);
  console.log(`published ${outDir} -> ${dest}`);
}

if (require.main === module) {
  main().catch((e: Error) => {
    console.error(`error: ${e.message}`);
    process.exit(1);
  });
}
