/**
 * Re-table published experiment folders with the current statistics (src/eval): Table 1 recomputed
 * from each folder's results.json (no checkpoints needed), written to OUT/<folder name>/.
 *
 *   npx ts-node --transpile-only scripts/retable.ts --out /tmp/retable docs/results/paper docs/results/paper-top1-17draws
 *   npx ts-node --transpile-only scripts/retable.ts --in-place DIR      # overwrite DIR's tables (results.json too)
 *
 * Writes results.json, table1.csv, table1.md, runs.csv and losses.csv; never into an input folder
 * unless --in-place is given. Prints each new table1.md.
 */
import * as fs from "fs";
import * as path from "path";
import { retableDir } from "../src/experiment/retable";

function main(argv: string[]): void {
  if (argv.includes("--help") || argv.includes("-h")) {
    console.log("usage: npx ts-node --transpile-only scripts/retable.ts (--out OUT | --in-place) DIR [DIR ...]   (each DIR holds a results.json)");
    return;
  }
  let out: string | null = null;
  let inPlace = false;
  const dirs: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--out") {
      out = argv[++i] ?? null;
      if (!out) throw new Error("--out needs a folder");
    } else if (a === "--in-place") inPlace = true;
    else if (a.startsWith("--")) throw new Error(`unknown flag ${a} (use --out OUT or --in-place)`);
    else dirs.push(a);
  }
  if (dirs.length === 0 || (out === null) === !inPlace) {
    throw new Error("usage: scripts/retable.ts (--out OUT | --in-place) DIR [DIR ...]   (each DIR holds a results.json; OUT/<name of DIR>/ receives its tables)");
  }
  const names = dirs.map((d) => path.basename(path.resolve(d)));
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (out !== null && dup) throw new Error(`two input folders are named ${dup}: their tables would land in the same ${path.join(out, dup)}`);
  const command = `scripts/retable.ts ${argv.join(" ")}`;
  dirs.forEach((dir, i) => {
    const dst = inPlace ? dir : path.join(out!, names[i]);
    const r = retableDir(dir, dst, { inPlace, command });
    console.log(`# ${dir} -> ${dst} (${r.runs.length} sampling runs)\n`);
    console.log(fs.readFileSync(path.join(dst, "table1.md"), "utf8"));
  });
}

try {
  main(process.argv.slice(2));
} catch (e) {
  console.error(`error: ${(e as Error).message}`);
  process.exit(1);
}
