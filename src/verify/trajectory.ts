/**
 * Export one training run, exactly as the default (wasm) engine consumes it, for an outside
 * implementation to replay step for step (bench/torch_trajectory.py, docs/torch-agreement.md).
 *
 * What is written to `dir` (arrays as .npy, token layout [.., 4, 12] of src/data/layout.ts):
 *   trajectory.json         hyperparameters, schedule, parameter layout, which steps were recorded
 *   images.npy              the training set, NHWC [n, 4, 4, 3] in [-1, 1] (tokens = imagesToTokens)
 *   theta0.npy              initial packed parameters [P] (src/model/packed.ts layout)
 *   batch.npy               examples per step [N]
 *   index.npy, t.npy        example indices and timesteps of every step, concatenated [sum B]
 *   eps.npy                 noise [sum B, 4, 12]; gumbel.npy (top1) Gumbel(0, 1) draws [sum B, 4, 4]
 *   ours/loss.npy           our loss of every step (before its update) [N], float64
 *   ours/theta.npy, ema.npy raw and EMA packed parameters after each recorded step [K, P]
 *
 * The run itself is the library's: `initTrainState` + `trainEpoch` on the wasm engine. The randomness is read
 * back by replaying the same seeded streams on a second, untrained state (`drawStepNoise`, the
 * permutation of `trainEpoch`), and the replay must end in the trained state's generator
 * states, so no draw can be missed or added.
 */
import * as fs from "fs";
import * as path from "path";
import { ExperimentConfig, resolveConfig } from "../config";
import { datasetImages, generateDataset } from "../data/dataset";
import { imagesToTokens } from "../data/layout";
import { writeJsonAtomic } from "../io/atomic";
import { saveNpy } from "../io/npy";
import { trainEngineFor } from "../engines/index";
import { getVariant, Variant } from "../model/variants";
import { trainEpoch } from "../train/loop";
import { drawStepNoise, initTrainState, makeContext, StepNoise, TrainState } from "../train/state";

export interface TrajectoryOptions {
  variant: Variant;
  /** Training seed (init, data order, noise, Gumbel). */
  seed: number;
  datasetSize: number;
  datasetSeed: number;
  /** Epochs of training; the OneCycle schedule spans exactly these (top1 is not lengthened). */
  epochs: number;
  /** Steps (1-based) after which raw and EMA weights are recorded; default `defaultRecordSteps`. */
  record?: number[];
  /** Straight-through hard Gumbel-softmax (config key gumbelHard; Gumbel variants). */
  gumbelHard?: boolean;
}

/** What `trajectory.json` holds: everything a replay needs besides the arrays. */
export interface TrajectoryMeta {
  format: 1;
  variant: Variant;
  seed: number;
  steps: number;
  batchSize: number;
  datasetSize: number;
  datasetSeed: number;
  optimizer: { lr: number; beta1: number; beta2: number; eps: number; weightDecay: number };
  /** torch.optim.lr_scheduler.OneCycleLR arguments (max_lr = optimizer.lr, cosine annealing). */
  oneCycle: { totalSteps: number; pctStart: number; divFactor: number; finalDivFactor: number; cycleMomentum: boolean; baseMomentum: number; maxMomentum: number };
  /** EMA after every step n (0-based): decay min(decay, (1 + n) / (10 + n)) when warmup. */
  ema: { decay: number; warmup: boolean };
  gumbelTau: number;
  gumbelHard: boolean;
  schedule: { steps: number; betaStart: number; betaEnd: number };
  /** Packed layout: named blocks of the parameter vector, shapes as src/model/params.ts. */
  params: { name: string; shape: number[]; offset: number; size: number }[];
  paramCount: number;
  /** Steps after which ours/theta.npy and ours/ema.npy rows were recorded (1-based, increasing). */
  recordSteps: number[];
  engine: "wasm";
}

/** 1..10, then every 10 to 100, every 100 to 1000, every 1000 after, and the last step. */
export function defaultRecordSteps(steps: number): number[] {
  const out = new Set<number>();
  for (let k = 1; k <= steps; k++) {
    const every = k <= 10 ? 1 : k <= 100 ? 10 : k <= 1000 ? 100 : 1000;
    if (k % every === 0) out.add(k);
  }
  out.add(steps);
  return [...out].sort((a, b) => a - b);
}

function trajectoryConfig(o: TrajectoryOptions): ExperimentConfig {
  return resolveConfig("paper", { datasetSize: o.datasetSize, datasetSeed: o.datasetSeed, epochs: o.epochs, top1EpochFactor: 1, seeds: 1, trainEngine: "wasm", gumbelHard: o.gumbelHard ?? false });
}

function concat<T extends Float32Array | Int32Array>(parts: T[], make: (n: number) => T): T {
  const out = make(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function sameGenerators(a: TrainState, b: TrainState): boolean {
  return (["data", "noise", "gumbel"] as const).every((k) => JSON.stringify(a.rngs[k].getState()) === JSON.stringify(b.rngs[k].getState()));
}

/**
 * Train `o.epochs` epochs with the wasm engine and write the run's inputs and our results to
 * `dir` (see the file comment). Returns the metadata written to trajectory.json.
 */
export function exportTrajectory(dir: string, o: TrajectoryOptions): TrajectoryMeta {
  const cfg = trajectoryConfig(o);
  const images = datasetImages(generateDataset({ size: o.datasetSize, seed: o.datasetSeed })); // [n, 4, 4, 3]
  const ctx = makeContext(cfg, imagesToTokens(images));
  const s = initTrainState(ctx, o.variant, o.seed);
  const replay = initTrainState(ctx, o.variant, o.seed); // same seed: same streams, never trained
  const engine = trainEngineFor("wasm", ctx, s);
  try {
    const N = s.totalSteps;
    const record = o.record ?? defaultRecordSteps(N);
    if (!record.every((k, i) => Number.isInteger(k) && k >= 1 && k <= N && (i === 0 || k > record[i - 1]))) {
      throw new Error(`record steps must be increasing integers in [1, ${N}], got [${record.join(", ")}]`);
    }
    const theta0 = s.theta.slice();
    const n = o.datasetSize;
    const batches: { index: Int32Array; noise: StepNoise }[] = [];
    const losses: number[] = [];
    const thetas: Float32Array[] = [];
    const emas: Float32Array[] = [];
    for (let e = 0; e < o.epochs; e++) {
      // 1. the epoch's randomness, drawn as trainEpoch draws it (permutation, then per batch)
      const perm = replay.rngs.data.permutation(n);
      for (let start = 0; start < n; start += cfg.batchSize) {
        const index = perm.slice(start, Math.min(n, start + cfg.batchSize));
        batches.push({ index, noise: drawStepNoise(replay, index.length, cfg.diffusionSteps) });
      }
      // 2. the epoch itself, recording weights after the chosen steps
      trainEpoch(ctx, s, engine, (loss) => {
        losses.push(loss);
        if (record.includes(losses.length)) {
          const P = s.layout.total;
          const st = { theta: new Float32Array(P), ema: new Float32Array(P), m: new Float32Array(P), v: new Float32Array(P) };
          engine.store(st);
          thetas.push(st.theta);
          emas.push(st.ema);
        }
      });
    }
    if (batches.length !== N || losses.length !== N || !sameGenerators(s, replay)) {
      throw new Error(`replayed randomness does not match the run: ${batches.length} batches, ${losses.length} steps, ${N} expected, generators ${sameGenerators(s, replay) ? "equal" : "differ"}`);
    }

    // 3. write everything
    const P = theta0.length;
    const B = batches.map((b) => b.index.length);
    const total = B.reduce((a, b) => a + b, 0);
    saveNpy(path.join(dir, "images.npy"), images, [n, 4, 4, 3]);
    saveNpy(path.join(dir, "theta0.npy"), theta0, [P]);
    saveNpy(path.join(dir, "batch.npy"), Int32Array.from(B), [N]);
    saveNpy(path.join(dir, "index.npy"), concat(batches.map((b) => b.index), (k) => new Int32Array(k)), [total]);
    saveNpy(path.join(dir, "t.npy"), concat(batches.map((b) => b.noise.t), (k) => new Int32Array(k)), [total]);
    saveNpy(path.join(dir, "eps.npy"), concat(batches.map((b) => b.noise.eps), (k) => new Float32Array(k)), [total, 4, 12]);
    if (getVariant(o.variant).gumbel) {
      saveNpy(path.join(dir, "gumbel.npy"), concat(batches.map((b) => b.noise.gumbel!), (k) => new Float32Array(k)), [total, 4, 4]);
    } else {
      fs.rmSync(path.join(dir, "gumbel.npy"), { force: true });
    }
    saveNpy(path.join(dir, "ours", "loss.npy"), Float64Array.from(losses), [N]);
    saveNpy(path.join(dir, "ours", "theta.npy"), concat(thetas, (k) => new Float32Array(k)), [record.length, P]);
    saveNpy(path.join(dir, "ours", "ema.npy"), concat(emas, (k) => new Float32Array(k)), [record.length, P]);
    const meta: TrajectoryMeta = {
      format: 1,
      variant: o.variant,
      seed: o.seed,
      steps: N,
      batchSize: cfg.batchSize,
      datasetSize: n,
      datasetSeed: o.datasetSeed,
      optimizer: { lr: cfg.lr, beta1: cfg.beta1, beta2: cfg.beta2, eps: cfg.adamEps, weightDecay: cfg.weightDecay },
      oneCycle: {
        totalSteps: N, pctStart: cfg.pctStart, divFactor: cfg.divFactor, finalDivFactor: cfg.finalDivFactor,
        cycleMomentum: cfg.cycleMomentum, baseMomentum: cfg.baseMomentum, maxMomentum: cfg.maxMomentum,
      },
      ema: { decay: cfg.emaDecay, warmup: cfg.emaWarmup },
      gumbelTau: cfg.gumbelTau,
      gumbelHard: cfg.gumbelHard,
      schedule: { steps: cfg.diffusionSteps, betaStart: cfg.betaStart, betaEnd: cfg.betaEnd },
      params: s.layout.specs.map((p) => ({ name: p.name, shape: p.shape, offset: p.offset, size: p.size })),
      paramCount: P,
      recordSteps: record,
      engine: "wasm",
    };
    writeJsonAtomic(path.join(dir, "trajectory.json"), meta);
    return meta;
  } finally {
    engine.dispose();
  }
}

/**
 * The packed EMA weights [P] after the same training as `exportTrajectory` (same config, seed,
 * engine), without exporting anything: weights to sample from.
 */
export function trainedEma(o: Omit<TrajectoryOptions, "record">): Float32Array {
  const cfg = trajectoryConfig(o);
  const ctx = makeContext(cfg, imagesToTokens(datasetImages(generateDataset({ size: o.datasetSize, seed: o.datasetSeed }))));
  const s = initTrainState(ctx, o.variant, o.seed);
  const engine = trainEngineFor("wasm", ctx, s);
  try {
    for (let e = 0; e < o.epochs; e++) trainEpoch(ctx, s, engine);
    return s.ema.slice();
  } finally {
    engine.dispose();
  }
}
