/**
 * Sampling throughput: milliseconds per DDPM step for a batch, for the tfjs engine
 * (`sampleTokens` + `networkEpsModel`) and the fused wasm engine (`wasmSampleTokens`).
 *
 * A timed block is one full sampling run of `steps` steps on `batch` samples (x_T draw, every
 * step's noise and network, the final read-back), divided by `steps`; the result is the median
 * over `repeat` blocks after one short warm-up run. Comparable to `bench/torch_ref.py --what sample`,
 * which times blocks of single `sample_step` calls at batch 10 000.
 *
 *   npx ts-node --transpile-only bench/sample-bench.ts [--batch 10000] [--steps 20] [--repeat 5] [--variant attention] [--engine wasm]
 *
 * prints one JSON line per (variant, engine).
 */
import * as tf from "@tensorflow/tfjs-core";
import { backendInfo, initBackend } from "../src/backend";
import { sampleTokens } from "../src/ddpm/sampler";
import { makeSchedule } from "../src/ddpm/schedule";
import { wasmSampleTokens } from "../src/kernels/sample-kernel";
import { networkEpsModel } from "../src/model/eps-model";
import { ParamTensors } from "../src/model/network";
import { initParams, ParamArrays, paramSpecs } from "../src/model/params";
import { parseVariant, Variant, VARIANTS } from "../src/model/variants";
import { Rng } from "../src/rng";

export type SampleEngine = "tfjs" | "wasm";

export interface SampleBenchOptions {
  variant: Variant;
  /** Samples per batch (paper-scale runs use 10 000). */
  batch: number;
  /** DDPM steps per timed block. */
  steps: number;
  engine: SampleEngine;
  /** Timed blocks; the median is reported (default 5). */
  repeat?: number;
  /** Seed of the random weights and the noise (default 0). */
  seed?: number;
}

export interface SampleBenchResult {
  variant: Variant;
  engine: SampleEngine;
  batch: number;
  steps: number;
  /** Median over blocks of ms per DDPM step. */
  medianMs: number;
  /** ms per step of every block. */
  allMs: number[];
  /** tfjs backend (matters for the tfjs engine only). */
  backend: string;
}

function median(a: number[]): number {
  const s = [...a].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function sampler(engine: SampleEngine, params: ParamArrays, variant: Variant): { run: (steps: number, batch: number, rng: Rng) => void; dispose: () => void } {
  switch (engine) {
    case "wasm":
      return {
        run: (steps, batch, rng) => { wasmSampleTokens(params, variant, makeSchedule({ steps, betaStart: 1e-4, betaEnd: 0.02 }), { n: batch, batch, rng }); },
        dispose: () => undefined,
      };
    case "tfjs": {
      const tensors: ParamTensors = Object.fromEntries(paramSpecs(variant).map((s) => [s.name, tf.tensor(params[s.name], s.shape)]));
      const model = networkEpsModel(tensors, variant);
      return {
        run: (steps, batch, rng) => { sampleTokens(model, makeSchedule({ steps, betaStart: 1e-4, betaEnd: 0.02 }), { n: batch, batch, rng }); },
        dispose: () => Object.values(tensors).forEach((t) => t.dispose()),
      };
    }
    default: {
      const never: never = engine;
      throw new Error(`unknown engine '${never as string}' (expected "tfjs" or "wasm")`);
    }
  }
}

/** Timings of one (variant, engine, batch); see the file comment. */
export async function benchSamplingRuns(o: SampleBenchOptions): Promise<SampleBenchResult> {
  const repeat = o.repeat ?? 5;
  for (const [k, v] of [["batch", o.batch], ["steps", o.steps], ["repeat", repeat]] as const) {
    if (!Number.isInteger(v) || v < (k === "steps" ? 2 : 1)) throw new Error(`benchSampling: bad ${k} ${v}`);
  }
  await initBackend();
  const rng = new Rng(o.seed ?? 0);
  const s = sampler(o.engine, initParams(o.variant, rng.split("init")), o.variant);
  try {
    const noise = rng.split("sample");
    s.run(2, o.batch, noise); // warm-up: compile, allocate
    const allMs: number[] = [];
    for (let r = 0; r < repeat; r++) {
      const t0 = performance.now();
      s.run(o.steps, o.batch, noise);
      allMs.push((performance.now() - t0) / o.steps);
    }
    return { variant: o.variant, engine: o.engine, batch: o.batch, steps: o.steps, medianMs: median(allMs), allMs, backend: backendInfo().name };
  } finally {
    s.dispose();
  }
}

/** Median ms per DDPM step of `engine` for `variant` at `batch`. */
export async function benchSampling(o: SampleBenchOptions): Promise<number> {
  return (await benchSamplingRuns(o)).medianMs;
}

async function main(argv: string[]): Promise<void> {
  const arg = (name: string, def: string) => {
    const i = argv.indexOf(`--${name}`);
    if (i >= 0 && i + 1 >= argv.length) throw new Error(`--${name} needs a value`);
    return i >= 0 ? argv[i + 1] : def;
  };
  const known = new Set(["--batch", "--steps", "--repeat", "--variant", "--engine"]);
  for (let i = 0; i < argv.length; i += 2) if (!known.has(argv[i])) throw new Error(`unknown option '${argv[i]}' (expected ${[...known].join(", ")})`);
  const batch = Number(arg("batch", "10000"));
  const steps = Number(arg("steps", "20"));
  const repeat = Number(arg("repeat", "5"));
  const variants = arg("variant", "all") === "all" ? VARIANTS : [parseVariant(arg("variant", ""))];
  const engineArg = arg("engine", "all");
  if (!["all", "tfjs", "wasm"].includes(engineArg)) throw new Error(`--engine must be tfjs, wasm or all, got '${engineArg}'`);
  const engines: SampleEngine[] = engineArg === "all" ? ["tfjs", "wasm"] : [engineArg as SampleEngine];
  for (const variant of variants) {
    for (const engine of engines) {
      const r = await benchSamplingRuns({ variant, batch, steps, engine, repeat });
      console.log(JSON.stringify({ ...r, medianMs: +r.medianMs.toFixed(3), allMs: r.allMs.map((m) => +m.toFixed(3)) }));
    }
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
