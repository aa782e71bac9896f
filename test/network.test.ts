/**
 * The token-layout network equals the paper's convolutional formulation on the same weights:
 * conv1 as tf.conv2d (2x2, stride 2) and the output as tf.conv2dTranspose (2x2, stride 2) on
 * NHWC images. Also: gradient check of the attention block against finite differences.
 */
import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../src/backend";
import { imagesToTokens, tokensToImages } from "../src/data/layout";
import { attentionWeights, ParamTensors, scoreNet, timeEmbedding } from "../src/model/network";
import { initParams, HIDDEN } from "../src/model/params";
import { getVariant, Variant } from "../src/model/variants";
import { ALL_VARIANTS } from "../src/variants/index";

/** Every variant of src/variants/ (the registry's files): a new one is checked the day it is added. */
const VARIANTS: Variant[] = ALL_VARIANTS.map((d) => d.name);
import { Rng } from "../src/rng";

beforeAll(async () => {
  await initBackend();
});

function tensors(variant: Variant, seed: number): ParamTensors {
  const arr = initParams(variant, new Rng(seed));
  const specs = Object.fromEntries(Object.entries(arr).map(([k, v]) => [k, v.length]));
  const shapes: Record<string, number[]> = {
    "conv1.w": [12, HIDDEN], "out.w": [HIDDEN, 12], "out.b": [3], "time.w1": [HIDDEN, HIDDEN], "time.w2": [HIDDEN, HIDDEN],
    "attn.wq": [HIDDEN, HIDDEN], "attn.wk": [HIDDEN, HIDDEN], "attn.wv": [HIDDEN, HIDDEN],
  };
  return Object.fromEntries(Object.entries(arr).map(([k, v]) => [k, tf.tensor(v, shapes[k] ?? [specs[k]])]));
}

/** The paper's formulation on NHWC images [B, 4, 4, 3] with conv2d / conv2dTranspose. */
function convFormulation(p: ParamTensors, variant: Variant, images: tf.Tensor4D, t: tf.Tensor1D, gumbel?: tf.Tensor): tf.Tensor4D {
  return tf.tidy(() => {
    const B = images.shape[0];
    const filter1 = tf.reshape(p["conv1.w"], [2, 2, 3, HIDDEN]) as tf.Tensor4D;
    let h = tf.add(tf.conv2d(images, filter1, 2, "valid"), p["conv1.b"]) as tf.Tensor4D; // [B, 2, 2, 32]
    h = tf.add(h, tf.reshape(timeEmbedding(p, t), [-1, 1, 1, HIDDEN]));
    h = tf.mul(h, tf.sigmoid(h));
    if (getVariant(variant).attention) {
      const tok = tf.reshape(h, [B, 4, HIDDEN]) as tf.Tensor3D;
      const a = attentionWeights(p, variant, tok, { mode: gumbel ? "train" : "sample", gumbel });
      const v = tf.matMul(tok, tf.tile(tf.expandDims(p["attn.wv"], 0), [B, 1, 1]) as tf.Tensor3D);
      h = tf.reshape(tf.add(tok, tf.matMul(a, v)), [B, 2, 2, HIDDEN]);
    }
    // out.w [32, (dy, dx, c)] -> conv2dTranspose filter [2, 2, 3 out, 32 in]
    const filter2 = tf.transpose(tf.reshape(p["out.w"], [HIDDEN, 2, 2, 3]), [1, 2, 3, 0]) as tf.Tensor4D;
    return tf.add(tf.conv2dTranspose(h, filter2, [B, 4, 4, 3], 2, "valid"), p["out.b"]) as tf.Tensor4D;
  });
}

describe("token layout", () => {
  it("round-trips images", () => {
    const x = new Rng(1).fillNormal(new Float32Array(5 * 48));
    expect(Array.from(tokensToImages(imagesToTokens(x)))).toEqual(Array.from(x));
  });

  for (const variant of VARIANTS) {
    it(`${variant}: network equals the conv2d / conv2dTranspose formulation`, () => {
      const p = tensors(variant, 3);
      const B = 6;
      const imgs = new Rng(4).fillNormal(new Float32Array(B * 48));
      const t = tf.tensor1d([0, 5, 100, 499, 900, 999], "int32");
      const gumbel = getVariant(variant).gumbel ? tf.tensor3d(new Rng(5).fillNormal(new Float32Array(B * 16)), [B, 4, 4]) : undefined;
      const viaConv = convFormulation(p, variant, tf.tensor4d(imgs, [B, 4, 4, 3]), t, gumbel).dataSync();
      const opts = { mode: gumbel ? ("train" as const) : ("sample" as const), gumbel };
      const viaTokens = tokensToImages(scoreNet(p, variant, tf.tensor3d(imagesToTokens(imgs), [B, 4, 12]), t, opts).eps.dataSync() as Float32Array);
      let maxErr = 0;
      viaConv.forEach((x, i) => (maxErr = Math.max(maxErr, Math.abs(x - viaTokens[i]))));
      expect(maxErr).toBeLessThan(1e-5);
      // and the comparison can fail: a shifted bias breaks it
      expect(Math.abs(viaConv[0] + 0.01 - viaTokens[0])).toBeGreaterThan(1e-3);
    });
  }
});

/** Float64 reference of sum(probe * (h + softmax(h Wq (h Wk)^T / sqrt(d)) h Wv)) for one batch of tokens. */
function attentionObjective64(h: Float64Array, probe: Float64Array, wq: Float64Array, wk: Float64Array, wv: Float64Array, B: number): number {
  const d = HIDDEN;
  const proj = (w: Float64Array, b: number, i: number) => {
    const out = new Float64Array(d);
    for (let j = 0; j < d; j++) for (let k = 0; k < d; k++) out[j] += h[(b * 4 + i) * d + k] * w[k * d + j];
    return out;
  };
  let total = 0;
  for (let b = 0; b < B; b++) {
    const q = [0, 1, 2, 3].map((i) => proj(wq, b, i));
    const k = [0, 1, 2, 3].map((i) => proj(wk, b, i));
    const v = [0, 1, 2, 3].map((i) => proj(wv, b, i));
    for (let i = 0; i < 4; i++) {
      const s = k.map((kj) => kj.reduce((acc, x, c) => acc + x * q[i][c], 0) / Math.sqrt(d));
      const m = Math.max(...s);
      const e = s.map((x) => Math.exp(x - m));
      const z = e.reduce((a, x) => a + x, 0);
      for (let c = 0; c < d; c++) {
        let out = h[(b * 4 + i) * d + c];
        for (let j = 0; j < 4; j++) out += (e[j] / z) * v[j][c];
        total += probe[(b * 4 + i) * d + c] * out;
      }
    }
  }
  return total;
}

describe("top1 in sampling mode", () => {
  it("attends with exact one-hot weights on the argmax key", () => {
    const p = tensors("top1", 12);
    const h = tf.tensor3d(new Rng(13).fillNormal(new Float32Array(5 * 4 * HIDDEN)), [5, 4, HIDDEN]);
    const a = attentionWeights(p, "top1", h, { mode: "sample" }).arraySync();
    const soft = attentionWeights({ ...p }, "attention", h, { mode: "sample" }).arraySync();
    for (let b = 0; b < 5; b++) {
      for (let i = 0; i < 4; i++) {
        const best = soft[b][i].indexOf(Math.max(...soft[b][i]));
        expect(a[b][i]).toEqual([0, 1, 2, 3].map((j) => (j === best ? 1 : 0)));
      }
    }
  });
});

describe("attention block gradient", () => {
  it("tf.grad (float32) matches float64 central finite differences of a second implementation", () => {
    const p = tensors("attention", 7);
    const B = 2;
    const hArr = new Rng(8).fillNormal(new Float32Array(B * 4 * HIDDEN));
    const probeArr = new Rng(9).fillNormal(new Float32Array(B * 4 * HIDDEN));
    const h = tf.tensor3d(hArr, [B, 4, HIDDEN]);
    const probe = tf.tensor3d(probeArr, [B, 4, HIDDEN]);
    const f = (wq: tf.Tensor, wk: tf.Tensor, wv: tf.Tensor) => {
      const a = attentionWeights({ ...p, "attn.wq": wq, "attn.wk": wk }, "attention", h, { mode: "sample" });
      const v = tf.reshape(tf.matMul(tf.reshape(h, [B * 4, HIDDEN]), wv), [B, 4, HIDDEN]);
      return tf.sum(tf.mul(probe, tf.add(h, tf.matMul(a, v)))) as tf.Scalar;
    };
    const names = ["attn.wq", "attn.wk", "attn.wv"];
    const grads = tf.grads(f)(names.map((n) => p[n]));
    const w64 = names.map((n) => Float64Array.from(p[n].dataSync()));
    const rng = new Rng(10);
    let worst = 0;
    for (let trial = 0; trial < 30; trial++) {
      const which = trial % 3;
      const idx = rng.int(HIDDEN * HIDDEN);
      const at = (delta: number) => {
        const w = w64.map((a) => a.slice());
        w[which][idx] += delta;
        return attentionObjective64(Float64Array.from(hArr), Float64Array.from(probeArr), w[0], w[1], w[2], B);
      };
      const e = 1e-6;
      const fd = (at(e) - at(-e)) / (2 * e);
      const ad = grads[which].dataSync()[idx];
      worst = Math.max(worst, Math.abs(fd - ad) / Math.max(1e-3, Math.abs(fd)));
    }
    expect(worst).toBeLessThan(1e-3);
  });
});
