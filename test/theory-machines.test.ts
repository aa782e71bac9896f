/**
 * Analytic score machines (src/theory/machines.ts): the posterior mean is exact (vs a brute-force
 * float64 score by finite differences over every training patch), aggregating identical patches
 * changes nothing, the ideal machine only reproduces training images, the local machine is a
 * "perfect CNN" (valid quadrants, functional at the independent-quadrant rate), the r^2 code gives 1
 * for a machine against itself, and runTheory runs end to end on a tiny training.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as tf from "@tensorflow/tfjs-core";
import { relErr } from "./helpers/numeric";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../src/backend";
import { resolveConfig } from "../src/config";
import { datasetImageKeys, datasetImages, generateDataset } from "../src/data/dataset";
import { imagesToTokens } from "../src/data/layout";
import { VALID_PAIRS } from "../src/data/palette";
import { sampleTokens } from "../src/ddpm/sampler";
import { makeSchedule } from "../src/ddpm/schedule";
import { evaluateTokens, judgeImage } from "../src/eval/metrics";
import { Rng } from "../src/rng";
import { compareAlongTrajectory, perSamplePearson, quantile } from "../src/theory/compare";
import { consistencyFigure, pearsonFigure, r2VsTFigure } from "../src/theory/figures";
import { MACHINE_NAMES, machineEpsModel, makeMachine, THEORY_MACHINES } from "../src/theory/machines";
import { bankFromRows, quadrantRows } from "../src/theory/patch-bank";
import { kernelMachine } from "../src/kernels/machine-kernel";
import { runTheory } from "../src/experiment/theory-phase";

const ds = generateDataset({ size: 2048, seed: 0 });
const tokens = imagesToTokens(datasetImages(ds)); // [2048, 4, 12]
const keys = datasetImageKeys(ds);
const S1000 = makeSchedule();
// 200 steps with the betas scaled by 1000/200 (so alphaBar_T is again ~4e-5): fast, still a full diffusion.
const S200 = makeSchedule({ steps: 200, betaStart: 5e-4, betaEnd: 0.1 });

/** Brute-force float64 log p_t(x) of one patch under every training row (unit weights). */
function bruteLogDensity(rows: Float64Array, D: number, x: Float64Array, aBar: number): number {
  const a = Math.sqrt(aBar);
  const ls: number[] = [];
  for (let i = 0; i < rows.length / D; i++) {
    let d2 = 0;
    for (let j = 0; j < D; j++) d2 += (x[j] - a * rows[i * D + j]) ** 2;
    ls.push(-d2 / (2 * (1 - aBar)));
  }
  const m = Math.max(...ls);
  return m + Math.log(ls.reduce((s, l) => s + Math.exp(l - m), 0));
}

/** eps = -sqrt(1 - aBar) grad log p_t by central differences (independent of Tweedie's formula). */
function bruteEps(rows: Float64Array, D: number, x: Float64Array, aBar: number): Float64Array {
  const h = 1e-5;
  return Float64Array.from(x, (_, j) => {
    const p = Float64Array.from(x); p[j] += h;
    const m = Float64Array.from(x); m[j] -= h;
    return (-Math.sqrt(1 - aBar) * (bruteLogDensity(rows, D, p, aBar) - bruteLogDensity(rows, D, m, aBar))) / (2 * h);
  });
}

/** Noised training images (realistic points) and pure noise, tokens [B, 4, 12]. */
function testPoints(t: number, seed: number): Float64Array {
  const rng = new Rng(seed);
  const aBar = S1000.alphaBars[t];
  const x = new Float64Array(3 * 48);
  for (let b = 0; b < 3; b++) {
    const img = rng.int(2048);
    for (let j = 0; j < 48; j++) x[b * 48 + j] = b === 2 ? rng.normal() : Math.sqrt(aBar) * tokens[img * 48 + j] + Math.sqrt(1 - aBar) * rng.normal();
  }
  return x;
}


beforeAll(async () => {
  await initBackend();
});

describe("posterior mean (Tweedie) is exact", () => {
  it("equivariant, local and ideal eps match a brute-force float64 score over all training patches", () => {
    const all = quadrantRows(tokens, [0, 1, 2, 3]); // 8192 quadrants
    for (const t of [40, 300, 800]) {
      const x = testPoints(t, t);
      const aBar = S1000.alphaBars[t];
      const eq = makeMachine("equivariant", tokens, S1000).eps(x, t);
      const loc = makeMachine("local", tokens, S1000).eps(x, t);
      const ideal = makeMachine("ideal", tokens, S1000).eps(x, t);
      for (const b of [0, 2]) {
        const q = b === 0 ? 1 : 3;
        const patch = x.slice(b * 48 + q * 12, b * 48 + q * 12 + 12);
        expect(relErr(eq.slice(b * 48 + q * 12, b * 48 + q * 12 + 12), bruteEps(all, 12, patch, aBar)), `equivariant t=${t}`).toBeLessThan(1e-6);
        expect(relErr(loc.slice(b * 48 + q * 12, b * 48 + q * 12 + 12), bruteEps(quadrantRows(tokens, [q]), 12, patch, aBar)), `local t=${t}`).toBeLessThan(1e-6);
      }
      const img = x.slice(0, 48);
      expect(relErr(ideal.slice(0, 48), bruteEps(Float64Array.from(tokens), 48, img, aBar)), `ideal t=${t}`).toBeLessThan(1e-6);
    }
  });

  it("is finite and snaps to the nearest patch at t = 0; the tfjs EpsModel agrees to float32 precision", () => {
    const m = makeMachine("equivariant", tokens, S1000);
    const x = testPoints(0, 7);
    const x0 = m.denoise(x, 0);
    expect(x0.every(Number.isFinite)).toBe(true);
    const bank = bankFromRows(quadrantRows(tokens, [0, 1, 2, 3]), 12, { aggregate: true });
    for (let p = 0; p < 12; p++) {
      let best = 0, bestD = Infinity;
      for (let k = 0; k < bank.size; k++) {
        let d = 0;
        for (let j = 0; j < 12; j++) d += (x[p * 12 + j] - Math.sqrt(S1000.alphaBars[0]) * bank.patches[k * 12 + j]) ** 2;
        if (d < bestD) { bestD = d; best = k; }
      }
      expect(relErr(x0.slice(p * 12, p * 12 + 12), bank.patches.slice(best * 12, best * 12 + 12))).toBeLessThan(1e-9);
    }
    const xt = tf.tensor3d(Float32Array.from(testPoints(500, 8)), [3, 4, 12]);
    const viaTf = machineEpsModel(m)(xt, 500);
    expect(relErr(viaTf.dataSync(), m.eps(xt.dataSync(), 500))).toBeLessThan(1e-6);
    xt.dispose();
    viaTf.dispose();
  });
});

describe("aggregated banks equal full softmax over all training patches", () => {
  it("bank sizes: 6 distinct quadrants (per position and overall), at most 48 images", () => {
    expect(bankFromRows(quadrantRows(tokens, [0, 1, 2, 3]), 12, { aggregate: true }).size).toBe(6);
    for (const q of [0, 1, 2, 3]) expect(bankFromRows(quadrantRows(tokens, [q]), 12, { aggregate: true }).size).toBe(6);
    const ideal = bankFromRows(tokens, 48, { aggregate: true });
    expect(ideal.size).toBeLessThanOrEqual(48);
    expect(ideal.counts.reduce((a, c) => a + c, 0)).toBe(2048);
  });

  it("every machine gives the same eps (relative 1e-10) with 6 / 48 aggregated or 8192 / 2048 separate patches", () => {
    for (const name of MACHINE_NAMES) {
      const agg = makeMachine(name, tokens, S1000, { aggregate: true });
      const full = makeMachine(name, tokens, S1000, { aggregate: false });
      for (const t of [0, 10, 200, 999]) {
        const x = testPoints(t, 100 + t);
        expect(relErr(agg.eps(x, t), full.eps(x, t)), `${name} t=${t}`).toBeLessThan(1e-10);
      }
    }
  });

  it("the attention machine with partner weight 0 is the equivariant machine", () => {
    const x = testPoints(100, 5);
    const a = makeMachine("attention", tokens, S1000, { partnerWeight: 0 }).eps(x, 100);
    expect(relErr(a, makeMachine("equivariant", tokens, S1000).eps(x, 100))).toBeLessThan(1e-12);
  });
});

describe("machine samples", () => {
  it("the ideal machine only reproduces training images (strict = 1, novel = 0)", () => {
    const out = sampleTokens(machineEpsModel(makeMachine("ideal", tokens, S200)), S200, { n: 40, batch: 40, rng: new Rng(1).split("sample") });
    const mt = evaluateTokens(out, keys);
    expect(mt.strict).toBe(1);
    expect(mt.novel).toBe(0);
  });

  it("the local machine draws quadrants independently: validQuadrants ~ 1, functional ~ the independent-quadrant rate (29 %)", () => {
    const n = 1500;
    const before = tf.memory().numTensors;
    const out = sampleTokens(machineEpsModel(makeMachine("local", tokens, S200)), S200, { n, batch: n, rng: new Rng(2).split("sample") });
    expect(tf.memory().numTensors).toBe(before);
    const mt = evaluateTokens(out, keys);
    // Exact functional rate for quadrants drawn independently from the dataset's per-position pair frequencies.
    const freq = [0, 1, 2, 3].map(() => new Float64Array(6));
    for (let i = 0; i < 2048; i++) for (let q = 0; q < 4; q++) freq[q][2 * ds.patterns[i] + ds.pairs[i * 4 + q]] += 1 / 2048;
    let expected = 0;
    const colours = new Uint8Array(16);
    for (let c = 0; c < 6 ** 4; c++) {
      let w = 1;
      for (let q = 0, m = c; q < 4; q++, m = Math.floor(m / 6)) {
        const [k, v] = VALID_PAIRS[m % 6];
        w *= freq[q][m % 6];
        const r = 2 * (q >> 1), col = 2 * (q & 1);
        for (let dy = 0; dy < 2; dy++) { colours[(r + dy) * 4 + col] = k; colours[(r + dy) * 4 + col + 1] = v; }
      }
      if (judgeImage(colours).functional) expected += w;
    }
    expect(Math.abs(expected - 0.2901)).toBeLessThan(0.01);
    expect(mt.validQuadrants).toBeGreaterThan(0.99);
    expect(Math.abs(mt.functional - expected)).toBeLessThan(4 * Math.sqrt((expected * (1 - expected)) / n));
  });
});

describe("comparison code", () => {
  it("a machine against itself: r^2 = 1 at every t, same final images (Pearson 1), the same chain as the fused sampler with that seed", () => {
    const m = kernelMachine("local", tokens, S200);
    const c = compareAlongTrajectory((x, t) => m.eps32(x, t), [m], S200, { n: 40, rng: new Rng(3).split("sample") });
    expect(c.r2.local).toHaveLength(200);
    expect(Math.min(...c.r2.local)).toBeGreaterThan(1 - 1e-9);
    expect(Math.min(...c.rho2.local)).toBeGreaterThan(1 - 1e-9);
    expect(c.r2Pooled.local).toBeGreaterThan(1 - 1e-9);
    const again = m.sample({ n: 40, batch: 40, rng: new Rng(3).split("sample") }); // 40 > one chunk of 32: the noise order across chunks
    expect(Array.from(c.finalTokens)).toEqual(Array.from(again));
    expect(quantile(perSamplePearson(c.finalTokens, again), 0.5)).toBeCloseTo(1, 12);
  });

  describe("runTheory end to end on a tiny training", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "theory-machines-"));
    afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

    it("trains cnn, skips a missing variant, writes theory.json with rows, curves, medians and checks; figures build", async () => {
      const cfg = resolveConfig("smoke", { datasetSize: 256, epochs: 2, diffusionSteps: 100, samples: 64, runs: 2, sampleBatch: 64 });
      const paths = { outDir: dir, dataDir: path.join(dir, "data") };
      const full = await runTheory({ cfg, paths, variants: ["cnn", "attention"], compareSamples: 100, missing: "train", log: () => {} });
      const r = full.machines!;
      expect(r.table1.map((row) => row.model)).toEqual(THEORY_MACHINES.map((n) => `machine:${n}`));
      expect(r.runs).toHaveLength(2 * THEORY_MACHINES.length);
      expect(r.comparisons.map((c) => c.variant)).toEqual(["cnn", "attention"]);
      for (const c of r.comparisons) for (const n of THEORY_MACHINES) {
        for (const curve of [c.r2[n], c.rho2[n], c.r2X0[n], c.r2Forward[n]]) expect(curve).toHaveLength(100);
        expect(Number.isFinite(c.pearson[n].median)).toBe(true);
      }
      expect(full.derivations.length).toBeGreaterThan(30);
      const saved = JSON.parse(fs.readFileSync(path.join(dir, "theory.json"), "utf8"));
      expect(saved.machines.table1).toHaveLength(THEORY_MACHINES.length);
      for (const measure of ["r2", "rho2", "r2X0", "r2Forward"] as const) expect(r2VsTFigure(r.comparisons[0], { measure }).data).toHaveLength(THEORY_MACHINES.length);
      expect(pearsonFigure(r).data).toHaveLength(THEORY_MACHINES.length);
      expect(consistencyFigure(r.table1).data).toHaveLength(1);
      const skip = await runTheory({ cfg, paths, variants: ["identity"], machines: ["local"], missing: "skip", derivations: false, file: null, log: () => {} });
      expect(skip.machines!.skipped.map((s) => s.variant)).toEqual(["identity"]);
    });
  });
});
