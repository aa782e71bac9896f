/**
 * Training-step speed: ms per optimizer step at batch 64 on the SPEC dataset (2048 images,
 * 32 steps per epoch), for the tfjs and the fused wasm engine (src/engines/) through the one
 * training loop (`trainEpoch`). A timed step is everything a real run does per step: drawing the
 * randomness, the OneCycle lr/beta1, forward, backward, AdamW, EMA, the finiteness checks, and
 * the once-per-epoch copy back into the state's arrays.
 *
 *   npx ts-node --transpile-only bench/train-bench.ts --variant attention --steps 320
 *   npx ts-node --transpile-only bench/train-bench.ts --variant all --rounds 3 --torch
 *
 * `--torch` alternates each round with bench/torch_ref.py (PyTorch, --threads 1) and prints the
 * ratios, measured within one run because the machine is shared and noisy.
 */
import { spawnSync } from "child_process";
import * as path from "path";
import { initBackend } from "../src/backend";
import { resolveConfig } from "../src/config";
import { datasetImages, generateDataset } from "../src/data/dataset";
import { imagesToTokens } from "../src/data/layout";
import { EngineName, trainEngineFor } from "../src/engines/index";
import { trainEpoch } from "../src/train/loop";
import { parseVariant, Variant, VARIANTS } from "../src/model/variants";
import { initTrainState, makeContext } from "../src/train/state";

export interface TrainBenchOptions {
  variant: Variant;
  engine: EngineName;
  /** Timed steps (rounded up to whole blocks of `block` steps). */
  steps: number;
  /** Steps per timed block (default 32 = one epoch); the median is over blocks. */
  block?: number;
  /** Untimed steps first (default 64). */
  warmup?: number;
}

export interface TrainBenchResult {
  variant: Variant;
  engine: EngineName;
  /** Median over blocks of ms per step. */
  medianMs: number;
  /** ms per step of each block (wall clock). */
  blockMs: number[];
  /** Median over blocks of this process's CPU ms per step: less sensitive to a busy machine. */
  cpuMedianMs: number;
  steps: number;
}

function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Timing with details; see `benchTraining`. */
export async function benchTrainingBlocks(o: TrainBenchOptions): Promise<TrainBenchResult> {
  await initBackend();
  const block = o.block ?? 32;
  const warmup = o.warmup ?? 64;
  if (!(block >= 1 && o.steps >= 1 && warmup >= 0)) throw new Error(`bad bench options ${JSON.stringify(o)}`);
  // batch 64 and a dataset of `block` batches, so one epoch is one timed block
  const cfg = resolveConfig("paper", { datasetSize: 64 * block });
  const ctx = makeContext(cfg, imagesToTokens(datasetImages(generateDataset({ size: cfg.datasetSize, seed: 0 }))));
  const s = initTrainState(ctx, o.variant, 0);
  const engine = trainEngineFor(o.engine, ctx, s); // an unknown name is an error naming it
  const epoch = () => trainEpoch(ctx, s, engine);
  try {
    for (let done = 0; done < warmup; done += block) epoch();
    const blockMs: number[] = [];
    const cpuMs: number[] = [];
    for (let done = 0; done < o.steps; done += block) {
      const t0 = process.hrtime.bigint();
      const c0 = process.cpuUsage();
      epoch();
      const c = process.cpuUsage(c0);
      blockMs.push(Number(process.hrtime.bigint() - t0) / 1e6 / block);
      cpuMs.push((c.user + c.system) / 1e3 / block);
    }
    return { variant: o.variant, engine: o.engine, medianMs: median(blockMs), blockMs, cpuMedianMs: median(cpuMs), steps: blockMs.length * block };
  } finally {
    engine.dispose();
  }
}

/** Median ms per training step at batch 64 (LR schedule, AdamW and EMA included). */
export async function benchTraining(o: { variant: Variant; engine: EngineName; steps: number }): Promise<number> {
  return (await benchTrainingBlocks(o)).medianMs;
}

/** PyTorch's median ms per step from bench/torch_ref.py (single thread), or an error. */
export function torchTrainMs(variant: Variant, threads = 1): number {
  const script = path.join(__dirname, "torch_ref.py");
  const r = spawnSync("/usr/bin/python3", [script, "--variant", variant, "--what", "train", "--threads", String(threads)], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`torch_ref.py failed (${r.status}): ${r.stderr.slice(-500)}`);
  const line = r.stdout.trim().split("\n").pop() ?? "";
  return JSON.parse(line).median_ms as number;
}

async function main(argv: string[]): Promise<void> {
  const arg = (name: string, def: string) => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : def;
  };
  const variantArg = arg("variant", "all");
  const variants = variantArg === "all" ? [...VARIANTS] : variantArg.split(",").map(parseVariant);
  const steps = Number(arg("steps", "320"));
  const rounds = Number(arg("rounds", "1"));
  const torch = argv.includes("--torch");
  const engines = arg("engines", "tfjs,wasm").split(",") as EngineName[];
  for (let round = 0; round < rounds; round++) {
    for (const variant of variants) {
      const row: Record<string, number> = {};
      const cpu: Record<string, number> = {};
      if (torch) row.torch = torchTrainMs(variant);
      for (const engine of engines) {
        const r = await benchTrainingBlocks({ variant, engine, steps });
        row[engine] = r.medianMs;
        cpu[engine] = +r.cpuMedianMs.toFixed(4);
      }
      const ratios = torch ? Object.fromEntries(engines.map((e) => [`torch/${e}`, +(row.torch / row[e]).toFixed(2)])) : {};
      const round4 = (o: Record<string, number>) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, +v.toFixed(4)]));
      console.log(JSON.stringify({ round, variant, msPerStep: round4(row), ...ratios, cpuMsPerStep: cpu }));
    }
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
