/**
 * The corrected top-1 machine, the baseline predictors, the Eq. 8 machine's options, banded r^2, the
 * paired bootstrap, and `runDiscrimination` end to end on a tiny training with two seeds.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as tf from "@tensorflow/tfjs-core";
import { relErr } from "./helpers/numeric";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../src/backend";
import { resolveConfig } from "../src/config";
import { datasetImages, generateDataset } from "../src/data/dataset";
import { imagesToTokens } from "../src/data/layout";
import { ddpmStep, makeSchedule } from "../src/ddpm/schedule";
import { trainTask } from "../src/experiment/tasks";
import { Rng } from "../src/rng";
import { bandsFor, forwardBands } from "../src/theory/bands";
import { flatFromTensorModel } from "../src/theory/compare";
import { tokenMoments } from "../src/theory/baselines";
import { pairedBootstrap } from "../src/theory/bootstrap";
import { runDiscrimination } from "../src/experiment/theory-phase";
import { bandedR2Figure, discriminationMarkdown } from "../src/theory/comparison-report";
import { machineEpsModel, makeMachine, topPartners } from "../src/theory/machines";
import { solveLinear } from "../src/theory/toy-top1";

const tokens = imagesToTokens(datasetImages(generateDataset({ size: 2048, seed: 0 })));
const S = makeSchedule();

/** Noised training images, tokens [B, 4, 12]. */
function noised(t: number, B: number, seed: number): Float64Array {
  const rng = new Rng(seed);
  const a = Math.sqrt(S.alphaBars[t]), s = Math.sqrt(1 - S.alphaBars[t]);
  const x = new Float64Array(B * 48);
  for (let b = 0; b < B; b++) {
    const i = rng.int(2048);
    for (let j = 0; j < 48; j++) x[b * 48 + j] = a * tokens[i * 48 + j] + s * rng.normal();
  }
  return x;
}


beforeAll(async () => {
  await initBackend();
});

describe("top1Optimal: the corrected top-1 optimum as a machine", () => {
  it("eps_x = (eps_ELS(x) + eps_ELS(y*(x))) / 2, so mutual partners get identical eps", () => {
    const t = 300;
    const x = noised(t, 40, 1);
    const e = makeMachine("top1Optimal", tokens, S).eps(x, t);
    const els = makeMachine("equivariant", tokens, S);
    const eEls = els.eps(x, t);
    const partner = topPartners(els.denoise(x, t));
    let mutual = 0;
    for (let b = 0; b < 40; b++) {
      for (let q = 0; q < 4; q++) {
        const y = partner[b * 4 + q];
        for (let f = 0; f < 12; f++) expect(Math.abs(e[b * 48 + q * 12 + f] - 0.5 * (eEls[b * 48 + q * 12 + f] + eEls[b * 48 + y * 12 + f]))).toBeLessThan(1e-12);
        if (partner[b * 4 + y] === q) {
          mutual++;
          for (let f = 0; f < 12; f++) expect(e[b * 48 + q * 12 + f]).toBe(e[b * 48 + y * 12 + f]);
        }
      }
    }
    expect(mutual).toBeGreaterThan(0);
  });

  it("a sampler step does not contract the difference of mutual partners: it is divided by sqrt(alpha_t)", () => {
    const t = 500;
    const x = noised(t, 20, 2);
    const m = makeMachine("top1Optimal", tokens, S);
    const partner = topPartners(makeMachine("equivariant", tokens, S).denoise(x, t));
    const xt = tf.tensor3d(Float32Array.from(x), [20, 4, 12]);
    const eps = machineEpsModel(m)(xt, t);
    const stepped = ddpmStep(S, eps, t, xt, null); // no noise: the deterministic part of the update
    const next = stepped.dataSync();
    const xs = xt.dataSync();
    let checked = 0;
    for (let b = 0; b < 20; b++) {
      for (let q = 0; q < 4; q++) {
        const y = partner[b * 4 + q];
        if (partner[b * 4 + y] !== q || y < q) continue;
        for (let f = 0; f < 12; f++) {
          const before = xs[b * 48 + q * 12 + f] - xs[b * 48 + y * 12 + f];
          const after = next[b * 48 + q * 12 + f] - next[b * 48 + y * 12 + f];
          expect(Math.abs(after - before / Math.sqrt(S.alphas[t]))).toBeLessThan(1e-5);
        }
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(0);
    tf.dispose([xt, eps, stepped]);
  });
});

describe("baselines are the exact eps of their Gaussians", () => {
  const { mean, cov } = tokenMoments(tokens);
  for (const t of [0, 100, 600]) {
    it(`t = ${t}: trivial, per-pixel and full-covariance Gaussian`, () => {
      const aBar = S.alphaBars[t], a = Math.sqrt(aBar), s = Math.sqrt(1 - aBar);
      const x = noised(t, 5, 10 + t);
      expect(relErr(makeMachine("trivial", tokens, S).eps(x, t), x.map((v) => s * v))).toBeLessThan(1e-12);
      // eps = -s grad log N(x; a mu, a^2 Sigma + s^2 I) = s (a^2 Sigma + s^2 I)^(-1) (x - a mu)
      const pixel = x.map((v, i) => (s * (v - a * mean[i % 48])) / (aBar * cov[(i % 48) * 49] + s * s));
      expect(relErr(makeMachine("gaussianPixel", tokens, S).eps(x, t), pixel)).toBeLessThan(1e-10);
      const A = Float64Array.from(cov, (c, i) => aBar * c + (i % 49 === 0 ? s * s : 0));
      const rhs = new Float64Array(48 * 5);
      for (let b = 0; b < 5; b++) for (let j = 0; j < 48; j++) rhs[j * 5 + b] = s * (x[b * 48 + j] - a * mean[j]);
      const sol = solveLinear(A, rhs, 48, 5); // Gaussian elimination, not the Cholesky route of baselines.ts
      const full = Float64Array.from({ length: 5 * 48 }, (_, i) => sol[(i % 48) * 5 + Math.floor(i / 48)]);
      expect(relErr(makeMachine("gaussianFull", tokens, S).eps(x, t), full)).toBeLessThan(1e-8);
    });
  }
});

describe("Eq. 8 machine options", () => {
  it("pooled partners with lambda = 0 is the equivariant machine; a bad option is an error", () => {
    const x = noised(200, 6, 3);
    const a = makeMachine("attention", tokens, S, { partnerWeight: 0, partners: "pooled", includeSelf: true }).eps(x, 200);
    expect(relErr(a, makeMachine("equivariant", tokens, S).eps(x, 200))).toBeLessThan(1e-12);
    expect(() => makeMachine("attention", tokens, S, { partners: "all" as "own" })).toThrow(/partners/);
  });

  it("options change the machine (pooled and self-included differ from the default)", () => {
    const x = noised(150, 20, 4);
    const base = makeMachine("attention", tokens, S).eps(x, 150);
    expect(relErr(makeMachine("attention", tokens, S, { partners: "pooled" }).eps(x, 150), base)).toBeGreaterThan(1e-3);
    expect(relErr(makeMachine("attention", tokens, S, { includeSelf: true }).eps(x, 150), base)).toBeGreaterThan(1e-3);
  });

  it("topPartners: with four identical estimates, self excluded picks another quadrant, self included picks the first", () => {
    const m = new Float64Array(48);
    for (let q = 0; q < 4; q++) for (let f = 0; f < 12; f++) m[q * 12 + f] = f % 2 ? 1 : -1;
    expect(Array.from(topPartners(m))).toEqual([1, 0, 0, 0]);
    expect(Array.from(topPartners(m, true))).toEqual([0, 0, 0, 0]);
  });
});

describe("banded r^2", () => {
  it("bandsFor tiles 0..T and rejects bad edges", () => {
    expect(bandsFor(1000)).toEqual([{ lo: 0, hi: 50 }, { lo: 50, hi: 150 }, { lo: 150, hi: 300 }, { lo: 300, hi: 500 }, { lo: 500, hi: 1000 }]);
    expect(() => bandsFor(1000, [0, 0.5, 0.4, 1])).toThrow(/increase/);
  });

  it("a machine as the network: r^2 = 1 in every band against itself; shares sum to 1; pairwise is finite and < 1 between different machines", () => {
    const S100 = makeSchedule({ steps: 100, betaStart: 1e-3, betaEnd: 0.2 });
    const eq = makeMachine("equivariant", tokens, S100), att = makeMachine("attention", tokens, S100), triv = makeMachine("trivial", tokens, S100);
    const f = forwardBands({ model: flatFromTensorModel(machineEpsModel(eq)), predictors: [eq, att, triv], schedule: S100, tokens, n: 30, rng: new Rng(5), bands: bandsFor(100) });
    for (const v of f.vsNetwork!.r2.equivariant) expect(v).toBeGreaterThan(1 - 1e-6); // float32 round trip through tfjs
    expect(f.vsNetwork!.pooled.equivariant).toBeGreaterThan(1 - 1e-6);
    expect(f.vsNetwork!.weightShare.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    expect(Math.min(...f.pairwise.equivariant.r2.trivial)).toBeLessThan(0.99);
    for (const v of [...f.pairwise.attention.r2.equivariant, ...f.vsNoise.r2.network]) expect(Number.isFinite(v)).toBe(true);
    // The network here is the equivariant machine (float32): same r^2 against the noise.
    f.vsNoise.r2.network.forEach((v, b) => expect(Math.abs(v - f.vsNoise.r2.equivariant[b])).toBeLessThan(1e-5));
  });
});

describe("paired bootstrap", () => {
  it("a constant shift gives exactly that difference, with a degenerate interval", () => {
    const rng = new Rng(1);
    const b = Float64Array.from({ length: 100 }, () => rng.normal());
    const i = pairedBootstrap(b.map((v) => v + 0.1), b, { rng: new Rng(2), resamples: 500 });
    expect(i.estimate).toBeCloseTo(0.1, 12);
    expect(i.hi - i.lo).toBeLessThan(1e-12);
  });

  it("covers a known shift of the median and excludes 0; pairing narrows it; groups widen it", () => {
    const rng = new Rng(3);
    const common = Float64Array.from({ length: 300 }, () => rng.normal());
    const a = common.map((v) => v + 0.3 + 0.2 * rng.normal());
    const i = pairedBootstrap(a, common, { rng: new Rng(4), statistic: "mean" });
    expect(i.lo).toBeLessThan(0.3);
    expect(i.hi).toBeGreaterThan(0.3);
    expect(i.lo).toBeGreaterThan(0);
    // Unpaired (b shuffled) the common part no longer cancels: a much wider interval.
    const shuffled = Float64Array.from(common).reverse();
    const u = pairedBootstrap(a, shuffled, { rng: new Rng(4), statistic: "mean" });
    expect(u.hi - u.lo).toBeGreaterThan(3 * (i.hi - i.lo));
    // Three groups whose shifts differ: the two-level interval is wider than the item-level one.
    const groups = Float64Array.from({ length: 300 }, (_, k) => k % 3);
    const ag = a.map((v, k) => v + [0, 0.2, -0.2][k % 3]);
    const flat = pairedBootstrap(ag, common, { rng: new Rng(5), statistic: "mean" });
    const two = pairedBootstrap(ag, common, { rng: new Rng(5), statistic: "mean", groups });
    expect(two.groups).toBe(3);
    expect(two.hi - two.lo).toBeGreaterThan(1.5 * (flat.hi - flat.lo));
  });
});

describe("runDiscrimination end to end on a tiny training (2 seeds of cnn)", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "theory-discriminate-"));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("loads each seed through checkpointPath, pools seeds, intervals over models, sweeps, writes JSON", async () => {
    const cfg = resolveConfig("smoke", { datasetSize: 256, epochs: 2, diffusionSteps: 50, samples: 48, runs: 1, sampleBatch: 48 });
    const paths = { outDir: dir, dataDir: path.join(dir, "data") };
    for (const seed of [0, 1]) trainTask(cfg, paths, "cnn", seed);
    const r = (await runDiscrimination({
      cfg, paths, checkpoints: [{ variant: "cnn", seed: 0 }, { variant: "cnn", seed: 1 }],
      predictors: ["equivariant", "attention", "trivial"], compareSamples: 24, bootstrapResamples: 200,
      sweep: [{ partnerWeight: 0.5, includeSelf: false, partners: "own" }, { partnerWeight: 0.25, includeSelf: true, partners: "pooled" }],
      log: () => {},
    })).discrimination!;
    expect(r.models.map((m) => [m.variant, m.seed])).toEqual([["cnn", 0], ["cnn", 1]]);
    expect(r.variants).toHaveLength(1);
    const v = r.variants[0];
    expect(v.seeds).toEqual([0, 1]);
    expect(v.vsNetwork.attention).toHaveLength(r.bands.length);
    expect(v.differences.map((d) => `${d.a}-${d.b}`)).toEqual(["equivariant-attention", "equivariant-trivial", "attention-trivial"]);
    // two models of one dataset draw: a t-interval over the two models' differences (never a bootstrap over models)
    for (const d of v.differences) {
      expect(d.interval.models).toBe(2);
      expect(d.interval.over).toBe("models (one draw)");
      const per = r.models.map((m) => m.pearsonMedian[d.a] - m.pearsonMedian[d.b]);
      expect(d.interval.mean).toBeCloseTo((per[0] + per[1]) / 2, 12);
    }
    expect(r.models[0].pearson.equivariant).toHaveLength(24);
    expect(r.sweep!.map((s) => s.isDefault)).toEqual([true, false]);
    expect(r.sweep![0].pearson).toHaveLength(2);
    const saved = JSON.parse(fs.readFileSync(path.join(dir, "theory.json"), "utf8"));
    expect(saved.discrimination.models[0].finals).toBeUndefined(); // final images stay out of the report
    expect(discriminationMarkdown(r)).toContain("equivariant");
    expect(bandedR2Figure(r, "cnn").data).toHaveLength(3);
    // The two seeds are different networks: their banded r^2 are not identical.
    expect(r.models[0].forward.vsNetwork!.r2.equivariant).not.toEqual(r.models[1].forward.vsNetwork!.r2.equivariant);
  });
});
