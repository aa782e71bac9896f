/**
 * A finished sweep as one compact Markdown table for a README: a row per variant and cell, with the
 * functional consistency (mean over models, its 95 % CI, the one-model 95 % PI) and the paired
 * difference from the reference cell of the swept key (t-interval over shared dataset draws).
 * Numbers come from the sweep's own tables (sweep.json and the cells' results), nothing is typed in.
 *
 *   npx ts-node --transpile-only scripts/sweep-table.ts DIR [DIR ...]
 */
import { referenceValue } from "../src/sweep/grid";
import { LoadedSweep, loadSweep } from "../src/sweep/load";
import { cellRunsOf } from "../src/sweep/run";
import { cellDifferences, cellSummaries } from "../src/sweep/summary";

const pct = (x: number) => (100 * x).toFixed(1);
const iv = (c: [number, number] | null) => (c ? `[${pct(c[0])}, ${pct(c[1])}]` : "-");

/** The table of one loaded sweep, as Markdown lines. */
export function sweepTableLines(s: LoadedSweep): string[] {
  const runs = cellRunsOf(s.cells);
  const sums = cellSummaries(runs);
  const diffs = cellDifferences(runs, s.axes, (a) => referenceValue(s.profile, a));
  const keys = s.axes.map((a) => a.key);
  const lines = [
    `| variant | ${keys.join(" | ")} | models | functional % [95 % CI] | 95 % PI, one model | difference from the reference (points) [95 % CI, draws] |`,
    `| --- | ${keys.map(() => "---").join(" | ")} | --- | --- | --- | --- |`,
  ];
  for (const v of s.variants) {
    for (const c of sums.filter((x) => x.variant === v)) {
      // per swept key off its reference value: the paired difference, or why there is none
      const off = s.axes.filter((a) => c.values[a.key] !== referenceValue(s.profile, a));
      const dtext = off.length === 0 ? "reference" : off.map((a) => {
        const d = diffs.find((x) => x.variant === v && x.cell === c.cell && x.key === a.key);
        const label = off.length > 1 ? `${a.key}: ` : "";
        return d ? `${label}${(100 * d.diff).toFixed(1)} [${(100 * d.ci95[0]).toFixed(1)}, ${(100 * d.ci95[1]).toFixed(1)}, ${d.draws}]` : `${label}- (no paired difference: fewer than 2 shared dataset draws)`;
      }).join("; ");
      lines.push(`| ${v} | ${keys.map((k) => String(c.values[k])).join(" | ")} | ${c.models} | ${pct(c.mean)} ${iv(c.meanCi)} | ${iv(c.pi)} | ${dtext} |`);
    }
  }
  return lines;
}

function main(dirs: string[]): void {
  if (dirs.includes("--help") || dirs.includes("-h")) {
    console.log("usage: npx ts-node --transpile-only scripts/sweep-table.ts DIR [DIR ...]   (finished sweep folders)");
    return;
  }
  const flag = dirs.find((d) => d.startsWith("-"));
  if (flag) throw new Error(`unknown flag '${flag}' (usage: scripts/sweep-table.ts DIR [DIR ...])`);
  if (dirs.length === 0) throw new Error("usage: scripts/sweep-table.ts DIR [DIR ...]   (finished sweep folders)");
  for (const dir of dirs) {
    const s = loadSweep(dir);
    console.log(`\n${dir}: ${s.meta.command ?? ""}\n`);
    for (const l of sweepTableLines(s)) console.log(l);
  }
}

if (require.main === module) {
  try {
    main(process.argv.slice(2));
  } catch (e) {
    console.error(`error: ${(e as Error).message}`);
    process.exit(1);
  }
}
