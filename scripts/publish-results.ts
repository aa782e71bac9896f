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

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const [outDir, name] = args;
  if (!outDir || !name || !/^[a-z0-9-]+$/.test(name)) throw new Error("usage: publish-results.ts OUT_DIR NAME [--log FILE ...]  (NAME: lower-case letters, digits, dashes)");
  const root = path.resolve(__dirname, "..");
  const dest = path.join(root, "docs", "results", name);
  const results = JSON.parse(fs.readFileSync(path.join(outDir, "results.json"), "utf8"));
  ensureDir(dest);
  for (const f of ["results.json", "config.json", "runs.csv", "table1.csv", "table1.md"]) {
    fs.copyFileSync(path.join(outDir, f), path.join(dest, f));
  }
  const logs = args.flatMap((a, i) => (a === "--log" ? [args[i + 1]] : []));
  for (const l of logs) {
    if (!l || !fs.existsSync(l)) throw new Error(`--log needs an existing file, got '${l ?? ""}'`);
    writeFileAtomic(path.join(dest, path.basename(l)), withoutProgressLines(fs.readFileSync(l, "utf8")));
  }
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
