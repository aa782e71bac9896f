import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../src/backend";
import { addNoise, ddpmStep, makeSchedule, predictX0 } from "../src/ddpm/schedule";
import { sampleTokens } from "../src/ddpm/sampler";
import { Rng } from "../src/rng";

beforeAll(async () => {
  await initBackend();
});

describe("DDPM schedule", () => {
  const s = makeSchedule();
  it("alphaBar decreases strictly from ~1 towards 0", () => {
    for (let t = 1; t < 1000; t++) expect(s.alphaBars[t]).toBeLessThan(s.alphaBars[t - 1]);
    expect(s.alphaBars[0]).toBeCloseTo(0.9999, 12);
    expect(s.alphaBars[999]).toBeLessThan(1e-4);
  });

  it("removing the true noise recovers x0", () => {
    const rng = new Rng(2);
    const x0 = tf.tensor2d(rng.fillNormal(new Float32Array(6 * 48)), [6, 48]);
    const eps = tf.tensor2d(rng.fillNormal(new Float32Array(6 * 48)), [6, 48]);
    for (const t of [0, 10, 500, 999]) {
      const xt = addNoise(s, x0, eps, tf.fill([6], t, "int32") as tf.Tensor1D);
      const err = tf.max(tf.abs(tf.sub(predictX0(s, xt, eps, t), x0))).dataSync()[0];
      // float32 division by sqrt(alphaBar) ~ 6e-3 amplifies rounding at t = 999
      expect(err).toBeLessThan(t === 999 ? 2e-3 : 1e-5);
    }
  });

  it("one ancestral step follows the SPEC formula, and t = 0 adds no noise", () => {
    const xt = tf.tensor1d([0.3, -1.2]);
    const eps = tf.tensor1d([0.5, 0.1]);
    const z = tf.tensor1d([1, -1]);
    const t = 400;
    const want = [0.3, -1.2].map((x, i) => (x - (s.betas[t] / Math.sqrt(1 - s.alphaBars[t])) * [0.5, 0.1][i]) / Math.sqrt(s.alphas[t]) + Math.sqrt(s.betas[t]) * [1, -1][i]);
    const got = ddpmStep(s, eps, t, xt, z).dataSync();
    want.forEach((w, i) => expect(got[i]).toBeCloseTo(w, 6));
    const last = ddpmStep(s, eps, 0, xt, z).dataSync();
    expect(last[0]).toBeCloseTo((0.3 - (s.betas[0] / Math.sqrt(1 - s.alphaBars[0])) * 0.5) / Math.sqrt(s.alphas[0]), 5);
  });

  it("the sampler with the exact eps of a point mass lands on it", () => {
    // For data = {x*}, the optimal eps is (x_t - sqrt(alphaBar) x*) / sqrt(1 - alphaBar).
    const target = Float32Array.from({ length: 48 }, (_, i) => (i % 3 === 0 ? 1 : -1));
    const xs = tf.tensor3d(target, [1, 4, 12]);
    const model = (xt: tf.Tensor3D, t: number) => tf.tidy(() => tf.div(tf.sub(xt, tf.mul(xs, s.sqrtAlphaBars[t])), s.sqrtOneMinusAlphaBars[t]) as tf.Tensor3D);
    const out = sampleTokens(model, s, { n: 3, batch: 2, rng: new Rng(0) });
    for (let i = 0; i < out.length; i++) expect(Math.abs(out[i] - target[i % 48])).toBeLessThan(1e-2);
  });
});
