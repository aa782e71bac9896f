/**
 * `npm run bench`: our training and sampling speed against a PyTorch reference of the identical
 * model and update (bench/torch_ref.py, Debian python3-torch + OpenBLAS), measured in ONE run,
 * alternating the two, because this machine is shared and noisy. Prints medians and ratios
 * (PyTorch time / our time: > 1 means we are faster), one-process and all-cores rows, the
 * end-to-end time of the `quick` profile, and the `paper` workload extrapolated from the measured
 * rates. Writes bench/results/<date>.json. Nothing here asserts a time.
 *
 *   npm run bench -- [--variants all] [--rounds 3] [--cores N] [--no-e2e] [--no-torch]
 *
 * A before/after comparison with another commit is bench/paired.ts (interleaved in one process,
 * which cancels the shared machine's load; whole processes alternated did not).
 */
import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { initBackend } from "../src/backend";
import { DEFAULT_CONFIG, epochsFor, resolveConfig } from "../src/config";
import { runExperiment } from "../src/experiment/run";
import { writeJsonAtomic } from "../src/io/atomic";
import { parseVariant, Variant, VARIANTS } from "../src/model/variants";
import { fmtTime } from "../src/progress";
import { benchSamplingRuns } from "./sample-bench";
import { benchTrainingBlocks } from "./train-bench";

const ROOT = path.resolve(__dirname, "..");
const TORCH = path.join(__dirname, "torch_ref.py");
const SAMPLE_BATCH = 10_000;

interface Row {
  variant: Variant;
  what: "train" | "sample";
  /** "1 process" or "<N> processes" (one thread each, all running at once). */
  cores: number;
  /** Median ms per step per process: ours (wasm engines), ours (tfjs engine), PyTorch. */
  ours: number[];
  oursTfjs: number[];
  /** PyTorch, best of its two formulations (conv: Conv2d/ConvTranspose2d; token: Linear on patches). */
  torch: number[];
  torchConv: number[];
  torchToken: number[];
  torchBlas?: string;
}

function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

type Layout = "conv" | "token";

function torchOnce(variant: Variant, what: "train" | "sample", layout: Layout): { ms: number; blas: string } {
  const r = spawnSync("/usr/bin/python3", [TORCH, "--variant", variant, "--what", what, "--threads", "1", "--repeat", "3", "--layout", layout], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`bench/torch_ref.py failed (exit ${r.status}); run 'sudo bash bench/setup-torch.sh'. ${r.stderr.slice(-400)}`);
  const j = JSON.parse(r.stdout.trim().split("\n").pop() ?? "{}");
  return { ms: j.median_ms, blas: j.blas };
}

/** Run `n` copies of a command at once; each prints one JSON line; returns each copy's value. */
async function concurrent(n: number, cmd: string, args: string[], pick: (j: Record<string, unknown>) => number): Promise<number[]> {
  const one = () => new Promise<number>((resolve, reject) => {
    const p = spawn(cmd, args, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, OMP_NUM_THREADS: "1" } });
    let out = "";
    let err = "";
    p.stdout.on("data", (d) => (out += d));
    p.stderr.on("data", (d) => (err += d));
    p.on("close", (code) => {
      if (code !== 0) return reject(new Error(`${cmd} ${args.join(" ")} failed (${code}): ${err.slice(-400)}`));
      resolve(pick(JSON.parse(out.trim().split("\n").pop() ?? "{}")));
    });
  });
  return Promise.all(Array.from({ length: n }, one));
}

const tsNode = [require.resolve("ts-node/dist/bin.js"), "--transpile-only"];

const USAGE = `usage: npm run bench -- [--variants all|cnn,attention,...] [--rounds 3] [--cores N] [--no-e2e] [--no-torch]
  --variants  variants to time (default all)
  --rounds    alternating rounds of ours and PyTorch (default 3)
  --cores     processes in the all-cores rows (default: one per core)
  --no-e2e    skip the end-to-end time of the quick profile
  --no-torch  skip the PyTorch reference
Before/after another commit: bench/paired.ts.
Writes bench/results/<date>.json; takes tens of minutes.`;

/** The bench's flags; unknown flags and bad values are errors (before any timing starts). */
export function parseBenchArgs(argv: string[]): { help: boolean; variants: Variant[]; rounds: number; cores: number; e2e: boolean; torch: boolean } {
  const o = { help: false, variants: [...VARIANTS] as Variant[], rounds: 3, cores: os.cpus().length, e2e: true, torch: true };
  const count = (name: string, v: string | undefined) => {
    const n = Number(v);
    if (v === undefined || !Number.isInteger(n) || n < 1 || n > 1000) throw new Error(`--${name} must be an integer in [1, 1000], got '${v ?? ""}'`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--help" || a === "-h") o.help = true;
    else if (a === "--no-e2e") o.e2e = false;
    else if (a === "--no-torch") o.torch = false;
    else if (a === "--rounds") o.rounds = count("rounds", argv[++i]);
    else if (a === "--cores") o.cores = count("cores", argv[++i]);
    else if (a === "--variants") {
      const v = argv[++i];
      if (!v) throw new Error("--variants needs a value (all, or a list like cnn,attention)");
      o.variants = v === "all" ? [...VARIANTS] : v.split(",").map((x) => parseVariant(x.trim()));
    } else throw new Error(`unknown flag '${a}'\n${USAGE}`);
  }
  return o;
}

async function main(argv: string[]): Promise<void> {
  const opts = parseBenchArgs(argv);
  if (opts.help) {
    console.log(USAGE);
    return;
  }
  const { variants, rounds, cores } = opts;
  const torch = opts.torch;
  const info = await initBackend();
  const rows: Row[] = [];
  const row = (variant: Variant, what: Row["what"], c: number) => {
    let r = rows.find((x) => x.variant === variant && x.what === what && x.cores === c);
    if (!r) rows.push((r = { variant, what, cores: c, ours: [], oursTfjs: [], torch: [], torchConv: [], torchToken: [] }));
    return r;
  };
  const torchBoth = (r: Row, v: Variant, what: Row["what"]) => {
    const conv = torchOnce(v, what, "conv");
    const token = torchOnce(v, what, "token");
    r.torchConv.push(conv.ms);
    r.torchToken.push(token.ms);
    r.torch.push(Math.min(conv.ms, token.ms));
    r.torchBlas = conv.blas;
  };
  const bestLayout = (r: Row): Layout => (median(r.torchToken) < median(r.torchConv) ? "token" : "conv");
  // 1. one process, alternating ours and PyTorch, `rounds` times
  for (let round = 0; round < rounds; round++) {
    for (const v of variants) {
      console.error(`round ${round + 1}/${rounds}: ${v}`);
      const tr = row(v, "train", 1);
      tr.ours.push((await benchTrainingBlocks({ variant: v, engine: "wasm", steps: 640 })).medianMs);
      if (round === 0) tr.oursTfjs.push((await benchTrainingBlocks({ variant: v, engine: "tfjs", steps: 96 })).medianMs);
      if (torch) torchBoth(tr, v, "train");
      const sr = row(v, "sample", 1);
      sr.ours.push((await benchSamplingRuns({ variant: v, engine: "wasm", batch: SAMPLE_BATCH, steps: 10, repeat: 3 })).medianMs);
      if (round === 0) sr.oursTfjs.push((await benchSamplingRuns({ variant: v, engine: "tfjs", batch: SAMPLE_BATCH, steps: 3, repeat: 1 })).medianMs);
      if (torch) torchBoth(sr, v, "sample");
    }
  }
  // 2. all cores: `cores` single-thread processes at once (independent runs/seeds/variants are how
  //    this workload uses cores), ours then PyTorch
  if (cores > 1) {
    for (const v of variants) {
      console.error(`all cores (${cores} processes): ${v}`);
      const tr = row(v, "train", cores);
      tr.ours = await concurrent(cores, process.execPath, [...tsNode, "bench/train-bench.ts", "--variant", v, "--engines", "wasm", "--steps", "640"], (j) => (j.msPerStep as Record<string, number>).wasm);
      const sr = row(v, "sample", cores);
      sr.ours = await concurrent(cores, process.execPath, [...tsNode, "bench/sample-bench.ts", "--variant", v, "--engine", "wasm", "--batch", String(SAMPLE_BATCH), "--steps", "10", "--repeat", "3"], (j) => j.medianMs as number);
      if (torch) {
        // PyTorch in the formulation that was faster for it in one process
        const tl = bestLayout(row(v, "train", 1));
        const sl = bestLayout(row(v, "sample", 1));
        tr.torch = await concurrent(cores, "/usr/bin/python3", [TORCH, "--variant", v, "--what", "train", "--threads", "1", "--repeat", "3", "--layout", tl], (j) => j.median_ms as number);
        sr.torch = await concurrent(cores, "/usr/bin/python3", [TORCH, "--variant", v, "--what", "sample", "--threads", "1", "--repeat", "3", "--layout", sl], (j) => j.median_ms as number);
      }
    }
  }
  // 3. end to end: the quick profile, fresh, all cores
  let e2e: { seconds: number; outDir: string } | null = null;
  if (opts.e2e) {
    const outDir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-quick-"));
    console.error(`end to end: quick profile into ${outDir}`);
    const t0 = Date.now();
    await runExperiment({ cfg: resolveConfig("quick"), variants, profile: "quick", paths: { outDir, dataDir: path.join(ROOT, "data") }, log: () => {}, progressWrite: () => {} });
    e2e = { seconds: (Date.now() - t0) / 1000, outDir };
  }
  // 4. report
  const lines: string[] = [];
  const fmt = (x: number) => (Number.isFinite(x) ? x.toFixed(x < 10 ? 3 : 1) : "-");
  lines.push(`| variant | what | processes | ours ms/step (wasm) | ours tfjs engine | PyTorch conv / token layout | PyTorch best | PyTorch / ours |`, "| --- | --- | --- | --- | --- | --- | --- | --- |");
  for (const r of rows) {
    const o = median(r.ours);
    const t = median(r.torch);
    const layouts = r.cores === 1 ? `${fmt(median(r.torchConv))} / ${fmt(median(r.torchToken))}` : "-";
    lines.push(`| ${r.variant} | ${r.what} ${r.what === "train" ? "(batch 64)" : `(batch ${SAMPLE_BATCH})`} | ${r.cores} | ${fmt(o)} | ${fmt(median(r.oursTfjs))} | ${layouts} | ${fmt(t)} | ${Number.isFinite(t) ? (t / o).toFixed(2) + "x" : "-"} |`);
  }
  // paper workload: 4 variants at paper epochs, one training seed each, 10k x 100 samples each,
  // at the all-cores aggregate rate (cores processes at once).
  const paper = DEFAULT_CONFIG;
  let oursMs = 0;
  let torchMs = 0;
  for (const v of variants) {
    const c = rows.some((r) => r.cores === cores) ? cores : 1;
    const tr = rows.find((r) => r.variant === v && r.what === "train" && r.cores === c)!;
    const sr = rows.find((r) => r.variant === v && r.what === "sample" && r.cores === c)!;
    const trainSteps = epochsFor(paper, v) * Math.ceil(paper.datasetSize / paper.batchSize);
    const sampleSteps = (paper.runs * paper.samples / SAMPLE_BATCH) * paper.diffusionSteps;
    oursMs += (trainSteps * median(tr.ours) + sampleSteps * median(sr.ours)) / c;
    torchMs += (trainSteps * median(tr.torch) + sampleSteps * median(sr.torch)) / c;
  }
  lines.push("", `paper workload (${variants.length} variants at paper epochs, 1 training seed each, ${paper.runs} x ${paper.samples} samples each, ${cores} cores busy), extrapolated from the rates above: ours ${fmtTime(oursMs / 1000)}, PyTorch ${Number.isFinite(torchMs) ? fmtTime(torchMs / 1000) : "-"}`);
  if (e2e) lines.push(`quick profile end to end (${variants.join(", ")}; train + sample + evaluate, ${cores} workers): ${fmtTime(e2e.seconds)}`);
  const blas = rows.find((r) => r.torchBlas)?.torchBlas ?? "not run";
  lines.push(`machine: ${os.cpus()[0]?.model} x ${os.cpus().length}, load average ${os.loadavg().map((x) => x.toFixed(1)).join(" ")}; node ${process.version}, tfjs backend ${info.name}; PyTorch BLAS: ${blas}`);
  console.log(lines.join("\n"));
  const date = new Date().toISOString().replace(/[:]/g, "-").slice(0, 19);
  const file = path.join(__dirname, "results", `${date}.json`);
  writeJsonAtomic(file, {
    date: new Date().toISOString(), command: `npm run bench -- ${argv.join(" ")}`,
    machine: { cpu: os.cpus()[0]?.model, cores: os.cpus().length, loadavg: os.loadavg(), node: process.version, platform: `${os.platform()} ${os.release()}` },
    backend: info.name, torchBlas: blas, rounds, rows, paperEstimateMinutes: { ours: oursMs / 60000, torch: torchMs / 60000 },
    quickEndToEndSeconds: e2e?.seconds ?? null, table: lines,
  });
  console.log(`wrote ${path.relative(ROOT, file)}`);
}

main(process.argv.slice(2)).catch((e) => {
  console.error(`error: ${(e as Error).message}`);
  process.exit(1);
});
