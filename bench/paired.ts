/**
 * Paired before/after timing of the fused wasm engines, for a noisy shared machine.
 *
 *   npx ts-node --transpile-only bench/paired.ts --baseline DIR [--pairs 40] [--variants cnn,attention,identity,top1]
 *
 * `npm run bench -- --baseline DIR` alternates whole processes, so a change of load between two
 * processes lands in the ratio. Here both trees' engines live in one process per variant (a fresh
 * child process each) and are timed in short interleaved chunks (the order inside each pair drawn at
 * random): a chunk of the baseline, a chunk of ours, again and again. Load that changes slower than a pair (a few hundred ms) hits both sides of
 * the pair alike, so the per-pair ratio ours / baseline cancels it. Reported per variant and step:
 * the median of the per-pair ratios and its distribution-free 95 % interval (order statistics of the
 * binomial, no assumption on the noise's shape), and each side's median ms per step.
 *
 * Both trees must be checkouts of this repository with node_modules (a git worktree with
 * node_modules symlinked to this one's works: tfjs is then shared). Only APIs that both the
 * current tree and commit 8ad0a37 have are used.
 */
import * as fs from "fs";
import * as path from "path";

const USAGE = "usage: npx ts-node --transpile-only bench/paired.ts --baseline DIR [--pairs 40] [--variants cnn,attention,...] [--out FILE]";
const PAPER_VARIANTS = ["cnn", "attention", "identity", "top1"];

interface Args { baseline: string; pairs: number; variants: string[]; out: string | null; child: boolean }

export function parsePairedArgs(argv: string[]): Args {
  const o: Args = { baseline: "", pairs: 40, variants: PAPER_VARIANTS, out: null, child: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = argv[i + 1];
    if (a === "--help" || a === "-h") { console.log(USAGE); process.exit(0); }
    else if (a === "--baseline") { if (!v) throw new Error("--baseline needs a folder"); o.baseline = path.resolve(v); i++; }
    else if (a === "--pairs") {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 8 || n > 10000) throw new Error(`--pairs ${v}: an integer in [8, 10000]`);
      o.pairs = n; i++;
    } else if (a === "--variants") { if (!v) throw new Error("--variants needs a list"); o.variants = v.split(","); i++; }
    else if (a === "--out") { if (!v) throw new Error("--out needs a file"); o.out = v; i++; }
    else if (a === "--child") o.child = true;
    else throw new Error(`unknown argument ${a}\n${USAGE}`);
  }
  if (!o.baseline) throw new Error(`--baseline is required\n${USAGE}`);
  for (const f of ["src/engines/index.ts", "node_modules"]) {
    if (!fs.existsSync(path.join(o.baseline, f))) throw new Error(`--baseline ${o.baseline}: no ${f} there (a checkout of this repository with node_modules)`);
  }
  for (const v of o.variants) if (!PAPER_VARIANTS.includes(v)) throw new Error(`--variants: unknown or non-paper variant "${v}" (the baseline tree may not have it); one of ${PAPER_VARIANTS.join(", ")}`);
  return o;
}

/** Distribution-free 95 % interval for the median of n values: order statistics k and n - 1 - k. */
export function medianInterval(xs: number[]): { median: number; lo: number; hi: number } {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  // largest k with P(Binomial(n, 1/2) <= k) <= 0.025
  let k = -1;
  let cdf = 0;
  let p = Math.pow(0.5, n);
  for (let j = 0; j <= n; j++) {
    cdf += p;
    if (cdf > 0.025) break;
    k = j;
    p = (p * (n - j)) / (j + 1);
  }
  if (k < 0) throw new Error(`medianInterval: ${n} values are too few for a 95 % interval`);
  const median = n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
  return { median, lo: s[k], hi: s[n - 1 - k] };
}

interface Side { run: () => void; stepsPerChunk: number }

async function sides(root: string, variant: string, what: "train" | "sample"): Promise<Side> {
  const r = (m: string) => require(path.join(root, "src", m));
  await r("backend").initBackend();
  const { resolveConfig } = r("config");
  const { generateDataset, datasetImages } = r("data/dataset");
  const { imagesToTokens } = r("data/layout");
  const { makeContext, initTrainState } = r("train/state");
  const { trainEngineFor, sampleEngine } = r("engines/index");
  const { trainStep } = r("train/loop");
  const { makeSchedule } = r("ddpm/schedule");
  const { Rng } = r("rng");
  const cfg = resolveConfig("smoke", { datasetSize: 256, epochs: 50000 });
  const ctx = makeContext(cfg, imagesToTokens(datasetImages(generateDataset({ size: 256, seed: 0 }))), 0);
  const s = initTrainState(ctx, variant, 3);
  if (what === "train") {
    const e = trainEngineFor("wasm", ctx, s);
    const idx = Int32Array.from({ length: 64 }, (_, i) => i);
    const steps = 100;
    return { run: () => { for (let i = 0; i < steps; i++) trainStep(ctx, s, e, idx); }, stepsPerChunk: steps };
  }
  const steps = 10;
  const sched = makeSchedule({ steps, betaStart: 1e-4, betaEnd: 0.02 });
  const eng = sampleEngine("wasm");
  let seed = 1;
  return { run: () => { eng.sample(s.theta, variant, sched, { n: 2000, batch: 2000, rng: new Rng(seed++).split("sample") }); }, stepsPerChunk: steps };
}

/** Time one variant (both steps) in this process; the rows as JSON on stdout's last line. */
async function measure(a: Args, variant: string): Promise<Record<string, unknown>[]> {
  const ours = path.resolve(__dirname, "..");
  const rows: Record<string, unknown>[] = [];
  let coin = 12345;
  const flip = () => ((coin = (coin * 1103515245 + 12345) >>> 0) & 0x10000) !== 0;
  for (const what of ["train", "sample"] as const) {
    const before = await sides(a.baseline, variant, what);
    const after = await sides(ours, variant, what);
    for (let w = 0; w < 3; w++) { before.run(); after.run(); } // warm-up (tier-up of both modules)
    const tb: number[] = [];
    const ta: number[] = [];
    const time = (sd: Side) => { const t0 = process.hrtime.bigint(); sd.run(); return Number(process.hrtime.bigint() - t0) / 1e6 / sd.stepsPerChunk; };
    for (let p = 0; p < a.pairs; p++) {
      if (flip()) { tb.push(time(before)); ta.push(time(after)); } else { ta.push(time(after)); tb.push(time(before)); }
    }
    rows.push({ variant, what, pairs: a.pairs, baselineMs: tb, oursMs: ta, ratio: medianInterval(ta.map((x, i) => x / tb[i])) });
  }
  return rows;
}

async function main(): Promise<void> {
  const a = parsePairedArgs(process.argv.slice(2));
  if (a.child) {
    if (a.variants.length !== 1) throw new Error("--child measures one variant");
    console.log(JSON.stringify(await measure(a, a.variants[0])));
    return;
  }
  // Each variant in a fresh process: engines left over from earlier variants in one process slowed
  // the later ones unevenly (seen as a 1.4x "regression" of the last variant that a fresh process,
  // and the same pair measured the other way round, did not show).
  const { execFileSync } = await import("child_process");
  const rows: Record<string, unknown>[] = [];
  for (const variant of a.variants) {
    process.stderr.write(`${variant}: ${a.pairs} pairs of train and sample chunks ...\n`);
    const out = execFileSync(process.execPath, [...process.execArgv, __filename, "--baseline", a.baseline, "--pairs", String(a.pairs), "--variants", variant, "--child"], { encoding: "utf8", maxBuffer: 1 << 28 });
    rows.push(...JSON.parse(out.trim().split("\n").pop()!));
  }
  const lines = ["| variant | step | baseline ms/step (median) | ours ms/step (median) | ours / baseline: median of pair ratios | 95 % interval | pairs |", "| --- | --- | --- | --- | --- | --- | --- |"];
  for (const r of rows as { variant: string; what: string; pairs: number; baselineMs: number[]; oursMs: number[]; ratio: { median: number; lo: number; hi: number } }[]) {
    const mb = medianInterval(r.baselineMs).median;
    const ma = medianInterval(r.oursMs).median;
    lines.push(`| ${r.variant} | ${r.what === "train" ? "train (batch 64)" : "sample (batch 2000)"} | ${mb.toFixed(3)} | ${ma.toFixed(3)} | ${r.ratio.median.toFixed(3)} | ${r.ratio.lo.toFixed(3)} - ${r.ratio.hi.toFixed(3)} | ${r.pairs} |`);
  }
  const os = await import("os");
  const report = {
    date: new Date().toISOString(),
    command: `npx ts-node --transpile-only bench/paired.ts ${process.argv.slice(2).join(" ")}`,
    baseline: a.baseline,
    machine: { cpu: os.cpus()[0]?.model, cores: os.cpus().length, loadavg: os.loadavg(), node: process.version },
    rows,
    table: lines,
  };
  console.log(lines.join("\n"));
  console.log(`load average ${os.loadavg().map((x) => x.toFixed(1)).join(" ")}`);
  if (a.out) {
    const { writeFileAtomic } = require(path.join(path.resolve(__dirname, ".."), "src/io/atomic"));
    writeFileAtomic(a.out, JSON.stringify(report, null, 1) + "\n");
    console.log(`wrote ${a.out}`);
  }
}

if (require.main === module) {
  main().catch((e) => { console.error(e instanceof Error ? e.message : e); process.exit(1); });
}
