/**
 * Copy a finished sweep into docs/results/<name>/ for the README to quote: sweep.json (the command,
 * grid, every cell's resolved config, versions, timings), the sweep's tables (sweep.md,
 * sweep-models/cells/differences as CSV and JSON), every cell's results.json, config.json and Table 1
 * (the per-run metrics; checkpoints, samples and run records stay in the sweep's folder), the
 * figures of every swept key (PNG, SVG, PDF), and the console logs given with --log (without their
 * progress-bar updates). The copy loads as a sweep (notebook 10: SWEEP_DIR=../docs/results/<name> RUN=never).
 *
 *   npx ts-node --transpile-only scripts/publish-sweep.ts SWEEP_DIR NAME [--log FILE ...]
 */
import * as fs from "fs";
import * as path from "path";
import { ensureDir, writeFileAtomic } from "../src/io/atomic";
import { writeSweepFigures } from "../src/sweep/figures";
import { loadSweep } from "../src/sweep/load";
import { parsePublishArgs, withoutProgressLines } from "./publish-results";

const USAGE = "usage: npx ts-node --transpile-only scripts/publish-sweep.ts SWEEP_DIR NAME [--log FILE ...]  (NAME: lower-case letters, digits, dashes)";

async function main(args: string[]): Promise<void> {
  const a = parsePublishArgs(args, USAGE);
  if (!a) {
    console.log(USAGE);
    return;
  }
  const { dir, name, logs } = a;
  const sweep = loadSweep(dir); // checks sweep.json against every cell's results before anything is copied
  const dest = path.join(path.resolve(__dirname, ".."), "docs", "results", name);
  if (path.resolve(dir) === dest) throw new Error(`${dir} is the destination itself`);
  ensureDir(dest);
  const copy = (rel: string) => {
    const from = path.join(dir, rel);
    if (!fs.existsSync(from)) throw new Error(`${from} is missing`);
    writeFileAtomic(path.join(dest, rel), fs.readFileSync(from));
  };
  for (const f of ["sweep.json", "sweep.md", "sweep-models.csv", "sweep-models.json", "sweep-cells.csv", "sweep-cells.json", "sweep-differences.csv", "sweep-differences.json"]) copy(f);
  for (const c of sweep.cells) for (const f of ["results.json", "config.json", "table1.csv", "table1.md"]) copy(path.join("cells", c.name, f));
  for (const l of logs) writeFileAtomic(path.join(dest, path.basename(l)), withoutProgressLines(fs.readFileSync(l, "utf8")));
  const figures = sweep.axes.length > 0 ? await writeSweepFigures(dest, sweep, sweep.axes, sweep.profile) : [];
  // what an earlier publication under this name left that this sweep does not have (cells of another
  // grid, figures of a key no longer swept) would otherwise be published beside it
  const stale = [
    ...listDir(path.join(dest, "cells")).filter((c) => !sweep.cells.some((x) => x.name === c)).map((c) => path.join(dest, "cells", c)),
    ...listDir(path.join(dest, "figures")).filter((f) => /^sweep-/.test(f) && !figures.some((g) => path.basename(g) === f)).map((f) => path.join(dest, "figures", f)),
  ];
  for (const f of stale) fs.rmSync(f, { recursive: true, force: true });
  if (stale.length > 0) console.log(`removed ${stale.length} file(s) or folder(s) of an earlier publication under this name: ${stale.map((f) => path.relative(dest, f)).join(", ")}`);
  // the copy must load as a sweep of its own (paths inside are relative)
  loadSweep(dest);
  console.log(`published ${dir} -> ${dest} (${sweep.cells.length} cells, ${figures.length} figure files)`);
}

function listDir(dir: string): string[] {
  return fs.existsSync(dir) ? fs.readdirSync(dir) : [];
}

main(process.argv.slice(2)).catch((e: Error) => {
  console.error(`error: ${e.message}`);
  process.exit(1);
});
