/** Training end to end on small settings: learning, no tensor leaks, resume, and bad input. */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../src/backend";
import { parseArgs } from "../src/cli/args";
import { resolveConfig } from "../src/config";
import { datasetImages, generateDataset } from "../src/data/dataset";
import { imagesToTokens } from "../src/data/layout";
import { sampleTokens } from "../src/ddpm/sampler";
import { sampleTask, trainTask } from "../src/experiment/tasks";
import { networkEpsModel } from "../src/model/eps-model";
import { disposeParams } from "../src/model/packed";
import { parseVariant, variantNames, VARIANTS } from "../src/model/variants";
import { Rng } from "../src/rng";
import { readCheckpoint, restoreTrainState, saveCheckpoint } from "../src/train/checkpoint";
import { trainEngineFor } from "../src/engines/index";
import { paramsOf, trainEpoch, trainStep } from "../src/train/loop";
import { initTrainState, makeContext } from "../src/train/state";

beforeAll(async () => {
  await initBackend();
});

const small = resolveConfig("smoke", { datasetSize: 256, epochs: 6, checkpointEvery: 1, samples: 64, sampleBatch: 64, runs: 1 });
const tokens = imagesToTokens(datasetImages(generateDataset({ size: 256, seed: 0 })));
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), "train-"));

describe("training", () => {
  it("the loss falls (attention, 6 epochs of 256 images)", () => {
    const ctx = makeContext(resolveConfig("smoke", { datasetSize: 256, epochs: 30 }), tokens);
    const s = initTrainState(ctx, "attention", 0);
    const engine = trainEngineFor("tfjs", ctx, s);
    const losses = Array.from({ length: 30 }, () => trainEpoch(ctx, s, engine));
    expect(losses.slice(-5).reduce((a, b) => a + b) / 5).toBeLessThan(0.6 * losses[0]);
    engine.dispose();
  });

  for (const variant of VARIANTS) {
    it(`${variant}: tf.memory().numTensors does not grow after warm-up train and sample steps`, () => {
      const ctx = makeContext(small, tokens);
      const s = initTrainState(ctx, variant, 1);
      const engine = trainEngineFor("tfjs", ctx, s);
      const idx = Int32Array.from({ length: 64 }, (_, i) => i);
      trainStep(ctx, s, engine, idx);
      const before = tf.memory().numTensors;
      for (let i = 0; i < 3; i++) trainStep(ctx, s, engine, idx);
      expect(tf.memory().numTensors).toBe(before);
      const p = paramsOf(s, "ema");
      const model = networkEpsModel(p, variant);
      const rng = new Rng(0);
      sampleTokens(model, ctx.schedule, { n: 8, batch: 8, rng });
      const beforeSample = tf.memory().numTensors;
      sampleTokens(model, ctx.schedule, { n: 8, batch: 4, rng });
      expect(tf.memory().numTensors).toBe(beforeSample);
      disposeParams(p);
      engine.dispose();
    });
  }

  it("an interrupted training resumes from its last checkpoint and ends where an uninterrupted one does", () => {
    const dir = tmp();
    const paths = { outDir: dir, dataDir: path.join(dir, "data") };
    const straight = trainTask(small, { ...paths, outDir: path.join(dir, "a") }, "top1", 3);
    expect(straight.status).toBe("trained");
    // interrupt during epoch 4: checkpoints exist for epochs 1..3
    const b = { ...paths, outDir: path.join(dir, "b") };
    expect(() => trainTask(small, b, "top1", 3, (done) => { if (done >= 3.5 * 8) throw new Error("power cut"); })).toThrow(/power cut/);
    const resumed = trainTask(small, b, "top1", 3);
    expect(resumed.status).toBe("resumed");
    const ca = readCheckpoint(straight.checkpoint);
    const cb = readCheckpoint(resumed.checkpoint);
    expect(cb.step).toBe(ca.step);
    expect(cb.tensors).toEqual(ca.tensors);
    expect(cb.epochLosses).toEqual(ca.epochLosses);
    // a finished checkpoint with the same config is reused, not retrained
    expect(trainTask(small, b, "top1", 3).status).toBe("reused");
    // and sampling from it is deterministic per run seed
    const r1 = sampleTask(small, b, "top1", 3, 0, "ema", { saveNpy: true });
    expect(r1.status).toBe("sampled");
    expect(fs.existsSync(r1.npy!)).toBe(true);
    // a finished run is kept: an interrupted experiment does not redo it
    expect(sampleTask(small, b, "top1", 3, 0, "ema", { saveNpy: true })).toMatchObject({ status: "reused", metrics: r1.metrics });
    fs.rmSync(path.join(b.outDir, "runs"), { recursive: true });
    const r2 = sampleTask(small, b, "top1", 3, 0, "ema", { saveNpy: false });
    expect(r2.status).toBe("sampled");
    expect(r2.metrics).toEqual(r1.metrics);
  });

  it("saving and restoring a state round-trips exactly", () => {
    const ctx = makeContext(small, tokens);
    const s = initTrainState(ctx, "identity", 5);
    const engine = trainEngineFor("tfjs", ctx, s);
    trainEpoch(ctx, s, engine);
    engine.dispose();
    const file = path.join(tmp(), "x.ckpt.json");
    saveCheckpoint(file, ctx, s);
    const r = restoreTrainState(file, ctx);
    expect(Array.from(r.theta)).toEqual(Array.from(s.theta));
    expect(r.rngs.noise.nextU32()).toBe(s.rngs.noise.nextU32());
  });
});

describe("bad input gives a clear error naming the problem", () => {
  it("a truncated or edited checkpoint", () => {
    const ctx = makeContext(small, tokens);
    const s = initTrainState(ctx, "cnn", 0);
    const file = path.join(tmp(), "c.ckpt.json");
    saveCheckpoint(file, ctx, s);
    const text = fs.readFileSync(file, "utf8");
    fs.writeFileSync(file, text.slice(0, text.length / 2));
    expect(() => readCheckpoint(file)).toThrow(/c\.ckpt\.json is corrupt or truncated/);
    fs.writeFileSync(file, text.replace(/"step\\":0/, '"step\\":1'));
    expect(() => readCheckpoint(file)).toThrow(/SHA-256 does not match/);
  });

  it("a NaN loss names the step", () => {
    const bad = tokens.slice();
    bad[5] = NaN;
    const ctx = makeContext(small, bad);
    const s = initTrainState(ctx, "attention", 0);
    const engine = trainEngineFor("tfjs", ctx, s);
    expect(() => trainEpoch(ctx, s, engine)).toThrow(/non-finite loss NaN at step \d+/);
    engine.dispose();
  });

  it("an unknown variant, config key, type or flag", () => {
    expect(() => parseVariant("transformer")).toThrow(/unknown variant 'transformer'/);
    expect(() => resolveConfig("quick", { epochz: 3 })).toThrow(/unknown config key 'epochz'/);
    expect(() => resolveConfig("quick", { epochs: "many" })).toThrow(/'epochs' expects a number, got "many"/);
    expect(() => resolveConfig("quick", { epochs: 2.5 })).toThrow(/'epochs' expects an integer/);
    expect(() => resolveConfig("quick", { useEma: "yes" })).toThrow(/'useEma' expects true or false/);
    expect(() => resolveConfig("huge" as never)).toThrow(/unknown profile 'huge'/);
    expect(() => resolveConfig("quick", { sampleEngine: "gpu" })).toThrow(/'sampleEngine' expects one of wasm, tfjs, got "gpu"/);
    expect(() => resolveConfig("quick", { sampler: "gpu" })).toThrow(/'sampler' expects one of ddpm, ddpm-posterior, clamp-x0, got "gpu"/);
    expect(() => resolveConfig("quick", { sampler: "tfjs" })).toThrow(/the sampling engine 'tfjs' is config key 'sampleEngine'/);
    expect(() => resolveConfig("quick", { trainer: "tfjs" })).toThrow(/config key 'trainer' is now 'trainEngine'/);
    expect(() => resolveConfig("quick", { top1Sampling: "hard" })).toThrow(/'top1Sampling' expects one of argmax, gumbel-hard, gumbel-soft, got "hard"/);
    expect(() => parseArgs(["--variant", "cnn,rnn"])).toThrow(/unknown variant 'rnn'/);
    expect(() => parseArgs(["--lrr", "0.1"])).toThrow(/unknown flag --lrr/);
    expect(() => parseArgs(["--seeds", "3-1"])).toThrow(/empty range/);
    expect(parseArgs(["--variant", "all", "--epochs", "7", "--seeds", "1,3-4"])).toMatchObject({ variants: variantNames(), overrides: { epochs: 7 }, seeds: [1, 3, 4] });
  });
});
