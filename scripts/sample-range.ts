/**
 * How far the saved samples (unclipped DDPM output) stray from [-1, 1]: per variant, the share of
 * values outside [-1, 1] and outside [-1.5, 1.5], and the 0.1 % / 99.9 % quantiles.
 *   npx ts-node --transpile-only scripts/sample-range.ts results/quick [--json out.json]
 * Reads only the samples files that OUT_DIR/results.json records (like the notebooks, through the
 * run records): a stale .npy of another config left in samples/ is not counted, and a recorded file
 * that was changed (SHA-256) or is missing is an error naming it.
 */
import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { writeJsonAtomic } from "../src/io/atomic";
import { loadNpy } from "../src/io/npy";

const USAGE = `usage: npx ts-node --transpile-only scripts/sample-range.ts OUT_DIR [--json FILE]
  OUT_DIR  an experiment's output folder (its results.json names the samples files read)
  --json   also write the numbers to FILE`;

/** The samples files `dir`/results.json records, by variant, each checked against its SHA-256. */
export function recordedSamples(dir: string): Map<string, string[]> {
  const file = path.join(dir, "results.json");
  if (!fs.existsSync(file)) throw new Error(`no results.json in ${dir}: the samples are read through its run records`);
  let res: { runs?: { variant: string; npy: string | null; npySha256: string | null }[] };
  try {
    res = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (e) {
    throw new Error(`${file} is corrupt or truncated (${(e as Error).message})`);
  }
  const byVariant = new Map<string, string[]>();
  for (const r of res.runs ?? []) {
    if (!r.npy) continue;
    const npy = path.resolve(dir, r.npy);
    if (!fs.existsSync(npy)) throw new Error(`samples file ${npy}, recorded in ${file}, is missing`);
    if (createHash("sha256").update(fs.readFileSync(npy)).digest("hex") !== r.npySha256) {
      throw new Error(`samples file ${npy} was changed after the run recorded in ${file} wrote it (SHA-256 differs)`);
    }
    byVariant.set(r.variant, [...(byVariant.get(r.variant) ?? []), npy]);
  }
  if (byVariant.size === 0) throw new Error(`${file} records no samples files`);
  return byVariant;
}

function parse(argv: string[]): { dir: string; json: string | null } | null {
  let dir: string | null = null;
  let json: string | null = null;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--help" || a === "-h") return null;
    if (a === "--json") {
      json = argv[++i] ?? "";
      if (!json) throw new Error(`--json needs a file\n${USAGE}`);
    } else if (a.startsWith("-")) throw new Error(`unknown flag '${a}'\n${USAGE}`);
    else if (dir === null) dir = a;
    else throw new Error(`unexpected argument '${a}'\n${USAGE}`);
  }
  if (dir === null) throw new Error(USAGE);
  return { dir, json };
}

function main(): void {
  const opts = parse(process.argv.slice(2));
  if (!opts) {
    console.log(USAGE);
    return;
  }
  const { dir } = opts;
  const byVariant = new Map<string, Float32Array[]>();
  for (const [variant, files] of recordedSamples(dir)) {
    byVariant.set(variant, files.map((f) => loadNpy(f).data as Float32Array));
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
  if (opts.json) writeJsonAtomic(opts.json, { dir, command: `npx ts-node --transpile-only scripts/sample-range.ts ${process.argv.slice(2).join(" ")}`, variants: out });
}

if (require.main === module) {
  try {
    main();
  } catch (e) {
    console.error(`error: ${(e as Error).message}`);
    process.exit(1);
  }
}
