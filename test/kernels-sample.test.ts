/**
 * The fused wasm sampler (assembly/sample.ts, src/kernels/sample-kernel.ts) against the tfjs engine
 * (`scoreNet`, `sampleTokens` + `networkEpsModel`), its Gaussian and Gumbel generators and vectorised
 * exp/log. Every variant the fused kernels implement (the registry), every sampler form
 * (src/ddpm/sampler-forms.ts) and every top-1 rule of the Gumbel variants is checked.
 *
 * Gumbel-variant references run on the tfjs *cpu* backend: on tfjs-backend-wasm 4.22,
 * `tf.oneHot(indices, depth, 1, 0, "float32")` returns the int32 bit pattern 1 (1.4e-45) instead of
 * 1.0, so `scoreNet`'s hard top-1 attention there is ~0 (see the report of this change).
 * Full-sampler references also copy every noise draw: on the cpu backend `tf.tensor3d(values)`
 * keeps a reference to `values`, and `sampleTokens` reuses one buffer for x_T and every z_t.
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../src/backend";
import { sampleTokens } from "../src/ddpm/sampler";
import { SAMPLER_FORMS, samplerForm } from "../src/ddpm/sampler-forms";
import { makeSchedule, stepCoefficients } from "../src/ddpm/schedule";
import { wasmVariants } from "../src/kernels/constants";
import { SAMPLE_WASM, wasmEps, wasmGumbels, wasmMath, wasmNormals, wasmSampleTokens } from "../src/kernels/sample-kernel";
import { networkEpsModel } from "../src/model/eps-model";
import { ParamTensors, scoreNet } from "../src/model/network";
import { initParams, ParamArrays, paramSpecs } from "../src/model/params";
import { GUMBEL_SAMPLING, GumbelSampling } from "../src/model/variant-registry";
import { getVariant, Variant } from "../src/model/variants";
import { Rng } from "../src/rng";

let mainBackend = "";
beforeAll(async () => {
  mainBackend = (await initBackend()).name;
});
afterEach(async () => {
  await tf.setBackend(mainBackend);
});

const root = path.join(__dirname, "..");

/** Backend for tfjs references of `variant` (see the file comment). */
async function referenceBackend(variant: Variant): Promise<void> {
  await tf.setBackend(getVariant(variant).gumbel ? "cpu" : mainBackend);
}

/** Each variant of the fused kernels with each sampling rule it has (Gumbel variants: every top-1 rule). */
const RULES: { variant: Variant; rule: GumbelSampling; name: string }[] = wasmVariants().flatMap((variant) =>
  getVariant(variant).gumbel ? GUMBEL_SAMPLING.map((rule) => ({ variant, rule, name: `${variant} (${rule})` })) : [{ variant, rule: "argmax" as const, name: variant }]);

function tensors(p: ParamArrays, variant: Variant): ParamTensors {
  return Object.fromEntries(paramSpecs(variant).map((s) => [s.name, tf.tensor(p[s.name], s.shape)]));
}

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** An Rng whose fillNormal / fillGumbel return a fresh copy of each draw (same stream as `new Rng(seed)`). */
function copyingRng(seed: number): Rng {
  const r = new Rng(seed);
  return { fillNormal: (b: Float32Array) => r.fillNormal(b).slice(), fillGumbel: (b: Float32Array) => r.fillGumbel(b).slice() } as unknown as Rng;
}

describe("wasm sampler: eps equals scoreNet", () => {
  for (const { variant, rule, name } of RULES) {
    it(`${name}: eps(x, t) within 1e-5 at several t`, async () => {
      await referenceBackend(variant);
      const p = initParams(variant, new Rng(11));
      const pt = tensors(p, variant);
      const B = 37; // not a multiple of the kernel's chunk or of 4
      const x = new Rng(12).fillNormal(new Float32Array(B * 48)).map((v) => 2 * v);
      const gumbel = rule === "argmax" ? undefined : new Rng(13).fillGumbel(new Float32Array(B * 16));
      for (const t of [0, 1, 250, 999]) {
        const ref = tf.tidy(() => scoreNet(pt, variant, tf.tensor3d(x, [B, 4, 12]), tf.tensor1d([t], "int32"), {
          mode: "sample", sampling: rule, tau: 0.7, gumbel: gumbel && tf.tensor3d(gumbel, [B, 4, 4]),
        }).eps.dataSync());
        const got = wasmEps(p, variant, x, t, { gumbelSampling: rule, tau: 0.7, gumbel });
        expect(maxAbsDiff(got, ref), `${name} t=${t}`).toBeLessThan(1e-5 * Math.max(1, maxAbs(ref)));
      }
      Object.values(pt).forEach((v) => v.dispose());
    });
  }

  it("top-1 rules differ where they should: gumbel draws change the chosen keys", () => {
    const variant = wasmVariants().find((v) => getVariant(v).gumbel)!;
    const p = initParams(variant, new Rng(11));
    const B = 64;
    const x = new Rng(12).fillNormal(new Float32Array(B * 48));
    const gumbel = new Rng(13).fillGumbel(new Float32Array(B * 16)).map((g) => 5 * g); // large draws: many flips
    const hard = wasmEps(p, variant, x, 500, { gumbelSampling: "gumbel-hard", gumbel });
    const soft = wasmEps(p, variant, x, 500, { gumbelSampling: "gumbel-soft", gumbel, tau: 1 });
    const argmax = wasmEps(p, variant, x, 500);
    expect(maxAbsDiff(hard, argmax)).toBeGreaterThan(1e-3);
    expect(maxAbsDiff(soft, hard)).toBeGreaterThan(1e-3);
    expect(() => wasmEps(p, variant, x, 500, { gumbelSampling: "gumbel-hard" })).toThrow(/gumbel/);
  });

  it("rejects missing or mis-sized parameters", () => {
    const p = initParams("attention", new Rng(1));
    expect(() => wasmEps({ ...p, "attn.wq": new Float32Array(3) }, "attention", new Float32Array(48), 0)).toThrow(/attn\.wq/);
    const { ["attn.wv"]: _, ...noV } = initParams("identity", new Rng(1));
    expect(() => wasmEps(noV, "identity", new Float32Array(48), 0)).toThrow(/attn\.wv/);
    expect(() => wasmEps(p, "attention", new Float32Array(47), 0)).toThrow(/\[B, 4, 12\]/);
  });
});

describe("wasm sampler: full sampling equals sampleTokens on the same noise", () => {
  // Random weights are no denoiser: x grows over the steps, so out.w is scaled down and the
  // comparison is relative to max |x|.
  function params(variant: Variant): ParamArrays {
    const p = initParams(variant, new Rng(3));
    p["out.w"] = p["out.w"].map((v) => 0.1 * v);
    return p;
  }

  for (const { variant, rule, name } of RULES) {
    it(`${name}: 50 steps, 3 batches (16, 16, 8)`, async () => {
      await referenceBackend(variant);
      const p = params(variant);
      const pt = tensors(p, variant);
      const s = makeSchedule({ steps: 50, betaStart: 1e-4, betaEnd: 0.02 });
      const ref = sampleTokens(networkEpsModel(pt, variant, { sampling: rule, tau: 0.8, gumbelRng: copyingRng(8) }), s, { n: 40, batch: 16, rng: copyingRng(7) });
      const steps: number[] = [];
      const got = wasmSampleTokens(p, variant, s, {
        n: 40, batch: 16, rng: new Rng(7), noise: "rng", onStep: (d, total) => steps.push(d / total), gumbelSampling: rule, tau: 0.8, gumbelRng: new Rng(8),
      });
      expect(maxAbsDiff(got, ref)).toBeLessThan(1e-5 * maxAbs(ref));
      expect(steps.length).toBe(150);
      expect(steps[149]).toBe(1);
      Object.values(pt).forEach((v) => v.dispose());
    });
  }

  // Every reverse-step form on both engines, with trained-like scale: out.w small, so x stays near the data range
  // and clamp-x0's clamp is active at some steps and not at others.
  for (const form of SAMPLER_FORMS) {
    for (const variant of wasmVariants()) {
      it(`sampler ${form.name}, ${variant}: 50 steps equal sampleTokens`, async () => {
        await referenceBackend(variant);
        const p = params(variant);
        const pt = tensors(p, variant);
        const s = makeSchedule({ steps: 50, betaStart: 1e-4, betaEnd: 0.2 });
        const ref = sampleTokens(networkEpsModel(pt, variant), s, { n: 40, batch: 16, rng: copyingRng(7), form });
        const got = wasmSampleTokens(p, variant, s, { n: 40, batch: 16, rng: new Rng(7), noise: "rng", form });
        expect(maxAbsDiff(got, ref)).toBeLessThan(1e-5 * Math.max(1, maxAbs(ref)));
        Object.values(pt).forEach((v) => v.dispose());
      });
    }
  }

  it("the forms differ: clamp-x0 ends inside [-1, 1], ddpm and ddpm-posterior share the mean but not the noise", () => {
    const variant = wasmVariants()[0];
    const p = params(variant);
    const s = makeSchedule({ steps: 50, betaStart: 1e-4, betaEnd: 0.2 });
    const run = (name: string) => wasmSampleTokens(p, variant, s, { n: 200, batch: 200, rng: new Rng(7), form: samplerForm(name) });
    const [a, b, c] = ["ddpm", "ddpm-posterior", "clamp-x0"].map(run);
    expect(maxAbs(c)).toBeLessThanOrEqual(1);
    expect(maxAbs(a)).toBeGreaterThan(1);
    expect(maxAbsDiff(a, b)).toBeGreaterThan(1e-3);
    expect(maxAbsDiff(b, c)).toBeGreaterThan(1e-3);
  });

  it("attention: 1000 steps (SPEC schedule) stay within 1e-5 relative", async () => {
    const p = params("attention");
    const pt = tensors(p, "attention");
    const s = makeSchedule();
    const ref = sampleTokens(networkEpsModel(pt, "attention"), s, { n: 12, batch: 12, rng: copyingRng(5) });
    const got = wasmSampleTokens(p, "attention", s, { n: 12, batch: 12, rng: new Rng(5), noise: "rng" });
    expect(maxAbsDiff(got, ref)).toBeLessThan(1e-5 * maxAbs(ref));
    Object.values(pt).forEach((v) => v.dispose());
  });

  it("internal noise: zero weights give the analytic Gaussian x_0 (mean and variance per feature)", () => {
    // All weights 0, out.b = b: eps = b everywhere, so x_{t-1} = c1 (x_t - c2 b) + sigma z is a
    // linear Gaussian recursion with mean m_{t-1} = c1 (m_t - c2 b), var v_{t-1} = c1^2 v_t + sigma^2.
    const variant: Variant = "attention";
    const p = initParams(variant, new Rng(1));
    for (const k of Object.keys(p)) p[k] = new Float32Array(p[k].length);
    p["out.b"] = Float32Array.from([0.1, -0.2, 0.3]);
    const s = makeSchedule({ steps: 60, betaStart: 1e-4, betaEnd: 0.02 });
    const n = 5000;
    const x = wasmSampleTokens(p, variant, s, { n, batch: 2000, rng: new Rng(9) }); // chunks and blocks split unevenly
    for (let c = 0; c < 3; c++) {
      let m = 0;
      let v = 1;
      for (let t = s.options.steps - 1; t >= 0; t--) {
        const { c1, c2, sigma } = stepCoefficients(s, t);
        m = c1 * (m - c2 * p["out.b"][c]);
        v = c1 * c1 * v + sigma * sigma;
      }
      const vals: number[] = [];
      for (let i = 0; i < n; i++) for (let q = 0; q < 4; q++) for (let f = c; f < 12; f += 3) vals.push(x[i * 48 + q * 12 + f]);
      const N = vals.length;
      const mean = vals.reduce((a, b) => a + b, 0) / N;
      const variance = vals.reduce((a, b) => a + (b - mean) ** 2, 0) / N;
      expect(Math.abs(mean - m), `channel ${c} mean ${mean} vs ${m}`).toBeLessThan(5 * Math.sqrt(v / N));
      expect(Math.abs(variance / v - 1), `channel ${c} variance ${variance} vs ${v}`).toBeLessThan(5 * Math.sqrt(2 / N));
    }
  });

  it("internal noise: deterministic per seed, different across seeds", () => {
    const p = initParams("cnn", new Rng(2));
    const s = makeSchedule({ steps: 10, betaStart: 1e-4, betaEnd: 0.02 });
    const a = wasmSampleTokens(p, "cnn", s, { n: 50, batch: 50, rng: new Rng(1) });
    const b = wasmSampleTokens(p, "cnn", s, { n: 50, batch: 50, rng: new Rng(1) });
    const c = wasmSampleTokens(p, "cnn", s, { n: 50, batch: 50, rng: new Rng(2) });
    expect(Buffer.from(a.buffer).equals(Buffer.from(b.buffer))).toBe(true);
    expect(maxAbsDiff(a, c)).toBeGreaterThan(0.1);
    expect(a.every(Number.isFinite)).toBe(true);
  });

  it("rejects bad options", () => {
    const p = initParams("cnn", new Rng(2));
    const s = makeSchedule({ steps: 10, betaStart: 1e-4, betaEnd: 0.02 });
    expect(() => wasmSampleTokens(p, "cnn", s, { n: 0, batch: 4, rng: new Rng(1) })).toThrow(/n must be/);
    expect(() => wasmSampleTokens(p, "cnn", s, { n: 4, batch: 1.5, rng: new Rng(1) })).toThrow(/batch must be/);
    expect(() => wasmSampleTokens(p, "cnn", s, { n: 4, batch: 4, rng: new Rng(1), noise: "torch" as "rng" })).toThrow(/noise must be/);
  });
});

describe("wasm sampler: Gaussian generator (xoshiro128** x 8 + Box-Muller)", () => {
  const N = 1 << 21;
  const z = wasmNormals(new Rng(2024), N);
  // Standard normal CDF at a few points and two-sided tails (exact values, e.g. scipy.stats.norm).
  const CDF: [number, number][] = [[-2, 0.022750131948179], [-1, 0.158655253931457], [-0.5, 0.308537538725987], [0, 0.5],
    [0.5, 0.691462461274013], [1, 0.841344746068543], [2, 0.977249868051821]];

  it("moments: mean 0, variance 1, skewness 0, kurtosis 3 (5 standard errors)", () => {
    let s1 = 0, s2 = 0, s3 = 0, s4 = 0;
    for (const v of z) { s1 += v; s2 += v * v; s3 += v * v * v; s4 += v * v * v * v; }
    expect(Math.abs(s1 / N)).toBeLessThan(5 / Math.sqrt(N));
    expect(Math.abs(s2 / N - 1)).toBeLessThan(5 * Math.sqrt(2 / N));
    expect(Math.abs(s3 / N)).toBeLessThan(5 * Math.sqrt(15 / N));
    expect(Math.abs(s4 / N - 3)).toBeLessThan(5 * Math.sqrt(96 / N));
  });

  it("CDF at 7 points and tails beyond 3 and 4 sigma", () => {
    for (const [x, p] of CDF) {
      const f = z.reduce((a, v) => a + (v <= x ? 1 : 0), 0) / N;
      expect(Math.abs(f - p), `F(${x})`).toBeLessThan(5 * Math.sqrt((p * (1 - p)) / N) + 1e-9);
    }
    for (const [k, p] of [[3, 0.00269979606326], [4, 6.334248366624e-5]]) {
      const count = z.reduce((a, v) => a + (Math.abs(v) > k ? 1 : 0), 0);
      expect(Math.abs(count - p * N), `|z| > ${k}: ${count}, expected ${p * N}`).toBeLessThan(5 * Math.sqrt(p * N));
    }
    expect(maxAbs(z)).toBeLessThan(6.7); // radius from a 32-bit uniform: at most sqrt(64 ln 2) = 6.66
    expect(maxAbs(z)).toBeGreaterThan(4.5);
  });

  it("no correlation between neighbouring values, lanes and vectors", () => {
    for (const lag of [1, 2, 4, 8, 16]) {
      let c = 0;
      for (let i = 0; i + lag < N; i++) c += z[i] * z[i + lag];
      expect(Math.abs(c / (N - lag)), `lag ${lag}`).toBeLessThan(5 / Math.sqrt(N));
    }
  });

  it("same seed, same stream; another seed, another stream", () => {
    expect(Buffer.from(wasmNormals(new Rng(2024), 64).buffer).equals(Buffer.from(z.slice(0, 64).buffer))).toBe(true);
    expect(maxAbsDiff(wasmNormals(new Rng(2025), 64), z.slice(0, 64))).toBeGreaterThan(0.5);
  });
});

describe("wasm sampler: Gumbel generator (xoshiro128** + -log(-log u))", () => {
  const N = 1 << 20;
  const g = wasmGumbels(new Rng(77), N);
  const EULER = 0.5772156649015329;

  it("moments: mean Euler's gamma, variance pi^2 / 6 (5 standard errors); finite, bounded", () => {
    let s1 = 0, s2 = 0;
    for (const v of g) { s1 += v; s2 += v * v; }
    const mean = s1 / N;
    const variance = s2 / N - mean * mean;
    const v = (Math.PI ** 2) / 6;
    expect(Math.abs(mean - EULER)).toBeLessThan(5 * Math.sqrt(v / N));
    expect(Math.abs(variance / v - 1)).toBeLessThan(5 * Math.sqrt(4.4 / N)); // Var(s^2) / sigma^4 = (kurtosis 5.4 - 1) / N
    expect(g.every(Number.isFinite)).toBe(true);
    expect(Math.max(...g.subarray(0, 1 << 16))).toBeLessThan(17);
  });

  it("CDF exp(-exp(-x)) at 5 points", () => {
    for (const x of [-1, 0, 0.5, 2, 4]) {
      const p = Math.exp(-Math.exp(-x));
      const f = g.reduce((a, v) => a + (v <= x ? 1 : 0), 0) / N;
      expect(Math.abs(f - p), `F(${x})`).toBeLessThan(5 * Math.sqrt((p * (1 - p)) / N));
    }
  });

  it("same seed, same stream; another seed, another stream; lag correlation 0", () => {
    expect(Buffer.from(wasmGumbels(new Rng(77), 64).buffer).equals(Buffer.from(g.slice(0, 64).buffer))).toBe(true);
    expect(maxAbsDiff(wasmGumbels(new Rng(78), 64), g.slice(0, 64))).toBeGreaterThan(0.5);
    for (const lag of [1, 4]) {
      let c = 0;
      for (let i = 0; i + lag < N; i++) c += (g[i] - EULER) * (g[i + lag] - EULER);
      expect(Math.abs(c / (N - lag) / ((Math.PI ** 2) / 6)), `lag ${lag}`).toBeLessThan(5 / Math.sqrt(N));
    }
  });
});

describe("wasm sampler: vectorised exp and log", () => {
  it("exp: relative error < 1e-6 on [-87, 88]; clamped outside", () => {
    const x = Float32Array.from({ length: 200_000 }, (_, i) => -87 + (175 * i) / 199_999);
    const e = wasmMath("exp", x);
    let worst = 0;
    for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(e[i] / Math.exp(x[i]) - 1));
    expect(worst).toBeLessThan(1e-6);
    const edge = wasmMath("exp", Float32Array.from([0, -200, 200, 1]));
    expect(edge[0]).toBe(1);
    expect(edge[1]).toBeGreaterThan(0);
    expect(edge[1]).toBeLessThan(1e-37);
    expect(Number.isFinite(edge[2])).toBe(true);
    expect(Math.abs(edge[3] / Math.E - 1)).toBeLessThan(1e-6);
  });

  it("log: error < 2e-7 absolute or relative on (2^-32, 1] and up to 1e6", () => {
    const u = Float32Array.from({ length: 100_000 }, (_, i) => Math.pow(2, -32 + (52 * (i + 1)) / 100_000));
    const l = wasmMath("log", u);
    for (let i = 0; i < u.length; i++) {
      const ref = Math.log(u[i]);
      expect(Math.abs(l[i] - ref), `log(${u[i]})`).toBeLessThan(2e-7 * Math.max(1, Math.abs(ref)));
    }
  });
});

describe("build", () => {
  it("src/kernels/sample.wasm is up to date with assembly/sample.ts", () => {
    // Same asc flags as scripts/build-wasm.sh (read from it); asc output is deterministic.
    const script = fs.readFileSync(path.join(root, "scripts", "build-wasm.sh"), "utf8").replace(/\\\n\s*/g, "");
    const m = script.match(/npx asc "\$f" --outFile "[^"]+" ([^\n]+)/);
    expect(m, "asc command line in scripts/build-wasm.sh").not.toBeNull();
    const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "asc-")), "sample.wasm");
    execFileSync(path.join(root, "node_modules", ".bin", "asc"), [path.join(root, "assembly", "sample.ts"), "--outFile", out, ...m![1].trim().split(/\s+/)], { cwd: root });
    expect(fs.readFileSync(out).equals(fs.readFileSync(SAMPLE_WASM)), "run `npm run build:wasm` and commit src/kernels/sample.wasm").toBe(true);
  });
});
