/**
 * How far the saved samples (unclipped DDPM output) stray from [-1, 1]: per variant, the share of
 * values outside [-1, 1] and outside [-1.5, 1.5], and the 0.1 % / 99.9 % quantiles.
 *   npx ts-node --transpile-only scripts/sample-range.ts results/quick [--json out.json]
 */
import * as fs from "fs";
import * as path from "path";
import { writeJsonAtomic } from "../src/io/atomic";
import { loadNpy } from "../src/io/npy";

function main(): void {
  const [dir, ...rest] = process.argv.slice(2);
  if (!dir) throw new Error("usage: sample-range.ts OUT_DIR [--json FILE]");
  const sdir = path.join(dir, "samples");
  if (!fs.existsSync(sdir)) throw new Error(`no samples/ in ${dir}`);
  const byVariant = new Map<string, Float32Array[]>();
  for (const f of fs.readdirSync(sdir).filter((x) => x.endsWith(".npy")).sort()) {
    const variant = f.split("-")[0];
    const { data } = loadNpy(path.join(sdir, f));
    byVariant.set(variant, [...(byVariant.get(variant) ?? []), data as Float32Array]);
  }
  const out: Record<string, unknown> = {};
  for (const [variant, arrays] of byVariant) {
    const n = arrays.reduce((a, x) => a + x.length, 0);
    const all = new Float32Array(n);
    let o = 0;
    for (const a of arrays) {
      all.set(a, o);
      o += a.length;
    }
    let outside = 0;
    let far = 0;
    for (const v of all) {
      if (v < -1 || v > 1) outside++;
      if (v < -1.5 || v > 1.5) far++;
    }
    all.sort();
    const q = (p: number) => all[Math.min(n - 1, Math.floor(p * n))];
    out[variant] = { files: arrays.length, values: n, outside1: outside / n, outside15: far / n, q001: q(0.001), q999: q(0.999) };
    console.log(`${variant}: ${arrays.length} file(s), ${(100 * outside / n).toFixed(1)} % of values outside [-1, 1], ${(100 * far / n).toFixed(2)} % outside [-1.5, 1.5]; 0.1 %-99.9 % quantiles ${q(0.001).toFixed(2)} .. ${q(0.999).toFixed(2)}`);
  }
  const i = rest.indexOf("--json");
  if (i >= 0) writeJsonAtomic(rest[i + 1], { dir, command: `npx ts-node --transpile-only scripts/sample-range.ts ${process.argv.slice(2).join(" ")}`, variants: out });
}

try {
  main();
} catch (e) {
  console.error(`error: ${(e as Error).message}`);
  process.exit(1);
}
