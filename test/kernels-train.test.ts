/**
 * The fused wasm training step (assembly/train.ts, src/kernels/train-kernel.ts, the "wasm" engine)
 * against the tfjs formulation (`tf.valueAndGrads` over `diffusionLoss`, the "tfjs" engine), and
 * AdamW against PyTorch.
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../src/backend";
import { resolveConfig } from "../src/config";
import { datasetImages, generateDataset } from "../src/data/dataset";
import { imagesToTokens } from "../src/data/layout";
import { trainEngineFor } from "../src/engines/index";
import { wasmVariants } from "../src/kernels/constants";
import { adamwSteps, TRAIN_WASM } from "../src/kernels/train-kernel";
import { packTensors, unpackTensors } from "../src/model/packed";
import { getVariant } from "../src/model/variants";
import { restoreTrainState, saveCheckpoint } from "../src/train/checkpoint";
import { diffusionLoss } from "../src/train/loss";
import { trainEpoch, trainStep } from "../src/train/loop";
import { drawStepNoise, initTrainState, makeContext, StepNoise, TrainContext, TrainState } from "../src/train/state";

beforeAll(async () => {
  await initBackend();
});

const root = path.join(__dirname, "..");
const tokens = imagesToTokens(datasetImages(generateDataset({ size: 320, seed: 0 })));
// 320 images = 5 steps per epoch; 10 epochs = 50 steps of the one-cycle schedule
const cfg = resolveConfig("smoke", { datasetSize: 320, epochs: 10 });
/**
 * Every variant the fused kernels implement (the registry: a new block is checked the day it is
 * added), and the Gumbel variants once more with the straight-through hard form (config key gumbelHard).
 */
const CASES = [
  ...wasmVariants().map((variant) => ({ variant, hard: false, name: variant })),
  ...wasmVariants().filter((v) => getVariant(v).gumbel).map((variant) => ({ variant, hard: true, name: `${variant} (gumbelHard)` })),
];

/** Loss and packed gradient of the tfjs formulation, written out here (the tfjs engine builds the same). */
function tfjsLossAndGrad(ctx: TrainContext, s: TrainState, index: Int32Array, noise: StepNoise): { loss: number; grad: Float32Array } {
  const B = index.length;
  const [value, grad] = tf.tidy(() => {
    const t = tf.tensor1d(noise.t, "int32");
    const data = tf.tensor3d(ctx.tokens, [ctx.n, 4, 12]);
    const lossWeights = tf.tensor1d(Float32Array.from(ctx.schedule.lossWeights));
    const batch = {
      x0: tf.gather(data, tf.tensor1d(index, "int32")) as tf.Tensor3D,
      eps: tf.tensor3d(noise.eps, [B, 4, 12]),
      t,
      weight: tf.gather(lossWeights, t) as tf.Tensor1D,
      gumbel: noise.gumbel ? tf.tensor3d(noise.gumbel, [B, 4, 4]) : undefined,
    };
    const p = unpackTensors(s.layout, tf.tensor1d(s.theta));
    const names = s.layout.specs.map((x) => x.name);
    const { value, grads } = tf.valueAndGrads((...xs: tf.Tensor[]) =>
      diffusionLoss(Object.fromEntries(names.map((n, i) => [n, xs[i]])), s.variant, ctx.schedule, batch, { tau: ctx.cfg.gumbelTau, hard: ctx.cfg.gumbelHard }),
    )(names.map((n) => p[n]));
    return [value, packTensors(s.layout, Object.fromEntries(names.map((n, i) => [n, grads[i]])))];
  });
  const out = { loss: value.dataSync()[0], grad: grad.dataSync() as Float32Array };
  value.dispose();
  grad.dispose();
  return out;
}

/** max |a - b| over a parameter block, relative to max |b| of the block. */
function blockError(s: TrainState, a: Float32Array, b: Float32Array): Record<string, number> {
  const out: Record<string, number> = {};
  for (const sp of s.layout.specs) {
    let diff = 0;
    let scale = 0;
    for (let i = sp.offset; i < sp.offset + sp.size; i++) {
      diff = Math.max(diff, Math.abs(a[i] - b[i]));
      scale = Math.max(scale, Math.abs(b[i]));
    }
    out[sp.name] = scale === 0 ? diff : diff / scale;
  }
  return out;
}

describe("fused wasm training step", () => {
  for (const { variant, hard, name } of CASES) {
    it(`${name}: loss and gradient equal the tfjs formulation`, () => {
      const ctx = makeContext({ ...cfg, gumbelHard: hard }, tokens);
      const s = initTrainState(ctx, variant, 7);
      const index = Int32Array.from({ length: 64 }, (_, i) => (i * 37 + 11) % 320);
      // a few tfjs steps first, so the weights are not the symmetric initial ones
      const tfjs = trainEngineFor("tfjs", ctx, s);
      for (let i = 0; i < 2; i++) trainEpoch(ctx, s, tfjs);
      tfjs.dispose();
      const noise = drawStepNoise(s, 64, cfg.diffusionSteps);
      const want = tfjsLossAndGrad(ctx, s, index, noise);
      const got = trainEngineFor("wasm", ctx, s).lossAndGrad(index, noise);
      expect(Math.abs(got.loss - want.loss) / want.loss).toBeLessThan(1e-5);
      // Per parameter block, relative to the block's largest entry: single entries that are sums
      // with heavy cancellation have no stable float32 relative error of their own.
      for (const [name, err] of Object.entries(blockError(s, got.grad, want.grad))) {
        expect(err, `gradient of ${name}`).toBeLessThan(1e-5);
      }
    });
  }

  for (const { variant, hard, name } of CASES) {
    it(`${name}: 50 steps of both engines end at the same parameters`, () => {
      const ctx = makeContext({ ...cfg, gumbelHard: hard }, tokens);
      const a = initTrainState(ctx, variant, 3);
      const b = initTrainState(ctx, variant, 3);
      const ea = trainEngineFor("tfjs", ctx, a);
      const eb = trainEngineFor("wasm", ctx, b);
      const lossA: number[] = [];
      const lossB: number[] = [];
      for (let e = 0; e < 10; e++) {
        trainEpoch(ctx, a, ea, (l) => lossA.push(l));
        trainEpoch(ctx, b, eb, (l) => lossB.push(l));
      }
      ea.dispose();
      eb.dispose();
      expect(b.step).toBe(50);
      expect(b.opt.step).toBe(a.opt.step);
      // identical random numbers consumed, in the same order
      expect(b.rngs.noise.getState()).toEqual(a.rngs.noise.getState());
      expect(b.rngs.gumbel.getState()).toEqual(a.rngs.gumbel.getState());
      expect(b.rngs.data.getState()).toEqual(a.rngs.data.getState());
      lossB.forEach((l, i) => expect(Math.abs(l - lossA[i]) / lossA[i]).toBeLessThan(1e-5));
      // Drift budget. Gradients agree to ~3e-7 of their scale (test above), and Adam maps a
      // relative gradient error d to an update error of about lr * d per step, except for
      // components whose gradient is near zero (m / sqrt(v) is ill-conditioned there), which can
      // differ by up to ~lr per step. Measured after 50 steps: <= 6e-8 absolute (a couple of
      // float32 ulps of weights ~0.3) while the weights moved ~3e-2. We allow 1e-6: 20x the
      // measured drift, still 4 orders below the distance travelled; an engine off by one step or
      // with another lr (Adam's steps move weights by ~lr >= 4e-5 here) fails.
      const ta = a.theta;
      const tb = b.theta;
      let worst = 0;
      for (let i = 0; i < ta.length; i++) worst = Math.max(worst, Math.abs(ta[i] - tb[i]));
      expect(worst).toBeLessThan(1e-6);
      let worstEma = 0;
      for (let i = 0; i < a.ema.length; i++) worstEma = Math.max(worstEma, Math.abs(a.ema[i] - b.ema[i]));
      expect(worstEma).toBeLessThan(1e-6);
      for (const [name, err] of Object.entries(blockError(a, b.opt.v, a.opt.v))) {
        expect(err, `second moment of ${name}`).toBeLessThan(1e-5);
      }
    });
  }

  it("AdamW alone matches torch.optim.AdamW (test/fixtures/reference-values/adamw.json)", () => {
    const r = JSON.parse(fs.readFileSync(path.join(root, "test", "fixtures", "reference-values", "adamw.json"), "utf8"));
    const after = adamwSteps(Float32Array.from(r.init), (r.grads as number[][]).map((g) => Float32Array.from(g)),
      { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 1e-5 });
    after.forEach((p, i) => p.forEach((x, j) => {
      const want = r.params_after_each_step[i][j];
      expect(Math.abs(x - want) / Math.abs(want)).toBeLessThan(1e-6);
    }));
  });

  it("switching engines through a checkpoint resumes exactly, and wasm steps leak no tensors", () => {
    const ctx = makeContext(cfg, tokens);
    const s = initTrainState(ctx, "top1", 2);
    const es = trainEngineFor("wasm", ctx, s);
    trainEpoch(ctx, s, es);
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "ktrain-")), "k.ckpt.json");
    saveCheckpoint(file, ctx, s);
    const r = restoreTrainState(file, ctx);
    expect(Array.from(r.theta)).toEqual(Array.from(s.theta));
    // the same next step on both: wasm on the original, a fresh wasm engine on the restored state
    const idx = Int32Array.from({ length: 64 }, (_, i) => i);
    const before = tf.memory().numTensors;
    const er = trainEngineFor("wasm", ctx, r);
    const l1 = trainStep(ctx, s, es, idx);
    const l2 = trainStep(ctx, r, er, idx);
    expect(l2).toBe(l1);
    expect(Array.from(r.theta)).toEqual(Array.from(s.theta));
    expect(Array.from(r.opt.v)).toEqual(Array.from(s.opt.v));
    trainStep(ctx, s, es, idx);
    trainStep(ctx, r, er, idx);
    expect(tf.memory().numTensors).toBe(before);
  });

  it("a non-finite loss names the step and leaves the state at that step", () => {
    const bad = tokens.slice();
    bad[5] = NaN;
    const ctx = makeContext(cfg, bad);
    const s = initTrainState(ctx, "attention", 0);
    let message = "";
    try {
      trainEpoch(ctx, s, trainEngineFor("wasm", ctx, s));
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(/non-finite loss NaN at step \d+/);
    expect(s.step).toBe(Number(/at step (\d+)/.exec(message)![1]));
    expect(s.theta.every(Number.isFinite)).toBe(true);
  });

  it("src/kernels/train.wasm is up to date with assembly/train.ts", () => {
    // Same asc flags as scripts/build-wasm.sh (read from it), into a temporary file.
    const script = fs.readFileSync(path.join(root, "scripts", "build-wasm.sh"), "utf8").replace(/\\\n\s*/g, "");
    const m = script.match(/npx asc "\$f" --outFile "[^"]+" ([^\n]+)/);
    expect(m, "asc command line in scripts/build-wasm.sh").not.toBeNull();
    const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "asc-")), "train.wasm");
    const flags = m![1].trim().split(/\s+/);
    execFileSync(path.join(root, "node_modules", ".bin", "asc"), [path.join(root, "assembly", "train.ts"), "--outFile", out, ...flags], { cwd: root });
    // asc output is deterministic (same bytes on a rebuild), so the bytes must be equal
    expect(fs.readFileSync(out).equals(fs.readFileSync(TRAIN_WASM)), "run `npm run build:wasm` and commit src/kernels/train.wasm").toBe(true);
  });
});
