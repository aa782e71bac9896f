/**
 * The fused score-machine kernel (assembly/machines.ts, src/kernels/machine-kernel.ts) against the
 * float64 reference (src/theory/machines.ts, src/theory/baselines.ts): eps of every machine within a
 * stated tolerance, sampling on the same noise (final images equal within 2e-6, except the
 * corrected top-1 optimum, whose chain amplifies any difference; see below), the same noise stream as
 * the networks' fused sampler (a network and a machine sampled from one seed see the same noise),
 * and the committed machines.wasm rebuilt byte for byte.
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../src/backend";
import { datasetImageKeys, datasetImages, generateDataset } from "../src/data/dataset";
import { imagesToTokens } from "../src/data/layout";
import { sampleTokens } from "../src/ddpm/sampler";
import { kernelStepTable, samplerForm } from "../src/ddpm/sampler-forms";
import { makeSchedule } from "../src/ddpm/schedule";
import { evaluateTokens } from "../src/eval/metrics";
import { kernelMachine, MACHINES_WASM, WasmNoise } from "../src/kernels/machine-kernel";
import { wasmNetwork, wasmSampleTokens } from "../src/kernels/sample-kernel";
import { initParams } from "../src/model/params";
import { Rng } from "../src/rng";
import { symmetricEigen, tokenMoments } from "../src/theory/baselines";
import { kernelStep } from "../src/theory/compare";
import { MACHINE_NAMES, machineEpsModel, makeMachine } from "../src/theory/machines";

const root = path.join(__dirname, "..");
const ds = generateDataset({ size: 2048, seed: 0 });
const tokens = imagesToTokens(datasetImages(ds));
const keys = datasetImageKeys(ds);
const S = makeSchedule();

function noised(t: number, B: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  const a = Math.sqrt(S.alphaBars[t]), s = Math.sqrt(1 - S.alphaBars[t]);
  const x = new Float32Array(B * 48);
  for (let b = 0; b < B; b++) {
    const i = rng.int(2048);
    for (let j = 0; j < 48; j++) x[b * 48 + j] = a * tokens[i * 48 + j] + s * rng.normal();
  }
  return x;
}

/** Relative L2 error of a against ref, per image: [B]. */
function perImageRelErr(a: ArrayLike<number>, ref: ArrayLike<number>): number[] {
  return Array.from({ length: ref.length / 48 }, (_, i) => {
    let n = 0, d = 0;
    for (let j = i * 48; j < i * 48 + 48; j++) { n += (a[j] - ref[j]) ** 2; d += ref[j] ** 2; }
    return Math.sqrt(n / d);
  });
}

beforeAll(async () => {
  await initBackend();
});

describe("machine kernel: eps equals the float64 machines", () => {
  // float32 inside: ~1e-7 relative where nothing cancels; 1e-5 covers the posterior at t = 0 (logits ~ -1e5).
  // pairTop1: 1e-4, its partner is an argmax of mutual informations that are all near 0 at t near T,
  // where float32 and float64 may pick different partners that give nearly the same eps (1.3e-5 seen).
  const tolOf = (name: string) => (name === "pairTop1" ? 1e-4 : 1e-5);
  for (const name of MACHINE_NAMES) {
    const TOL = tolOf(name);
    it(`${name}: every image within ${TOL} relative at t = 0, 10, 100, 300, 600, 999${name === "top1Optimal" ? " (t = 100: see the next test)" : ""}`, () => {
      const k = kernelMachine(name, tokens, S), m = makeMachine(name, tokens, S);
      for (const t of [0, 10, 100, 300, 600, 999]) {
        if (name === "top1Optimal" && t === 100) continue;
        const x = noised(t, 100, t + 1);
        const worst = Math.max(...perImageRelErr(k.eps(x, t), m.eps(x, t)));
        expect(worst, `${name} t = ${t}`).toBeLessThan(TOL);
      }
    });
  }

  it("top1Optimal at t = 100: its partner is an argmax over near-equal dot products (two quadrants showing one content), so float32 picks another partner than float64 on many images; those images differ by O(1), the others agree", () => {
    const k = kernelMachine("top1Optimal", tokens, S), m = makeMachine("top1Optimal", tokens, S);
    const errs = perImageRelErr(k.eps(noised(100, 400, 100), 100), m.eps(noised(100, 400, 100), 100));
    const off = errs.filter((e) => e > 1e-5);
    expect(off.length).toBeGreaterThan(20); // the effect is real, not a rounding artefact of a few images
    expect(Math.min(...off)).toBeGreaterThan(1e-2); // a flipped partner, not an inaccurate one
  });
});

describe("machine kernel: sampling equals the float64 path on the same noise", () => {
  // noise "rng": x_T and every z_t drawn as sampleTokens draws them, so both chains see the same noise.
  for (const name of MACHINE_NAMES.filter((m) => m !== "top1Optimal")) {
    it(`${name}: final images within 2e-6 (max abs), same metrics`, () => {
      const n = 64;
      const a = kernelMachine(name, tokens, S).sample({ n, batch: 40, rng: new Rng(11), noise: "rng" });
      const b = sampleTokens(machineEpsModel(makeMachine(name, tokens, S)), S, { n, batch: 40, rng: new Rng(11) });
      let worst = 0;
      for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
      expect(worst).toBeLessThan(2e-6);
      expect(evaluateTokens(a, keys)).toEqual(evaluateTokens(b, keys));
    });
  }

  it("top1Optimal: its chains diverge (mutual partners' differences are divided by sqrt(alpha_t) at every step, a factor 157 over the chain), and both produce (almost) no functional image", () => {
    const n = 64;
    const a = kernelMachine("top1Optimal", tokens, S).sample({ n, batch: n, rng: new Rng(11), noise: "rng" });
    const b = sampleTokens(machineEpsModel(makeMachine("top1Optimal", tokens, S)), S, { n, batch: n, rng: new Rng(11) });
    expect(evaluateTokens(a, keys).functional).toBeLessThan(0.05);
    expect(evaluateTokens(b, keys).functional).toBeLessThan(0.05);
  });

  it("the clamped-x0 form too (the ELS machine)", () => {
    const form = samplerForm("clamp-x0");
    const a = kernelMachine("equivariant", tokens, S).sample({ n: 32, batch: 32, rng: new Rng(4), noise: "rng", form });
    const b = sampleTokens(machineEpsModel(makeMachine("equivariant", tokens, S)), S, { n: 32, batch: 32, rng: new Rng(4), form });
    let worst = 0;
    for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
    expect(worst).toBeLessThan(2e-6);
  });
});

describe("machine kernel: the networks' noise", () => {
  it("a network sampled by the fused sampler equals a loop over WasmNoise with the network's eps and the float32 step, bit for bit (so machines and networks share noise)", () => {
    const S200 = makeSchedule({ steps: 200, betaStart: 1e-3, betaEnd: 0.1 });
    const params = initParams("attention", new Rng(8));
    const n = 70; // three chunks of 32, the last partial
    const fused = wasmSampleTokens(params, "attention", S200, { n, batch: n, rng: new Rng(21), noise: "wasm" });
    const net = wasmNetwork(params, "attention");
    const coef = kernelStepTable(S200, samplerForm("ddpm"));
    const noise = new WasmNoise(n, new Rng(21), 200, (t) => coef[t * 8 + 2] === 0);
    let x = noise.xT();
    for (let t = 199; t >= 0; t--) x = kernelStep(coef.subarray(t * 8, t * 8 + 8), "eps", x, net.eps(x, t), t > 0 ? noise.z(t) : new Float32Array(x.length));
    expect(Buffer.from(x.buffer).equals(Buffer.from(fused.buffer))).toBe(true);
    expect(() => noise.z(5)).toThrow(/next step/);
  });

  it("a machine's wasm-noise samples: same seed, same samples; another seed, other samples", () => {
    const k = kernelMachine("pair", tokens, S);
    const a = k.sample({ n: 50, batch: 50, rng: new Rng(3) });
    const b = k.sample({ n: 50, batch: 50, rng: new Rng(3) });
    const c = k.sample({ n: 50, batch: 50, rng: new Rng(4) });
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(Array.from(a)).not.toEqual(Array.from(c));
  });
});

describe("machine kernel: pieces and errors", () => {
  it("symmetricEigen reconstructs the 48 x 48 covariance (1e-12) with orthonormal vectors", () => {
    const { cov } = tokenMoments(tokens);
    const { values, vectors } = symmetricEigen(cov, 48);
    let err = 0, nrm = 0, orth = 0;
    for (let i = 0; i < 48; i++) {
      for (let j = 0; j < 48; j++) {
        let v = 0, o = 0;
        for (let k = 0; k < 48; k++) { v += vectors[i * 48 + k] * values[k] * vectors[j * 48 + k]; o += vectors[k * 48 + i] * vectors[k * 48 + j]; }
        err += (v - cov[i * 48 + j]) ** 2;
        nrm += cov[i * 48 + j] ** 2;
        orth = Math.max(orth, Math.abs(o - (i === j ? 1 : 0)));
      }
    }
    expect(Math.sqrt(err / nrm)).toBeLessThan(1e-12);
    expect(orth).toBeLessThan(1e-12);
  });

  it("bad input is an error naming it", () => {
    const k = kernelMachine("equivariant", tokens, S);
    expect(() => k.eps(new Float32Array(47), 3)).toThrow(/\[B, 4, 12\]/);
    expect(() => k.eps(new Float32Array(48), 1000)).toThrow(/timestep 1000/);
    expect(() => k.sample({ n: 0, batch: 4, rng: new Rng(1) })).toThrow(/n must be/);
    expect(() => k.sample({ n: 4, batch: 4, rng: new Rng(1), noise: "torch" as "rng" })).toThrow(/noise must be/);
    const rng = new Rng(2);
    const many = Float32Array.from({ length: 20 * 48 }, () => rng.normal());
    expect(() => kernelMachine("equivariant", many, S)).toThrow(/at most 16 distinct quadrants/);
    expect(() => kernelMachine("attention", tokens, S, { partnerWeight: 1 })).toThrow(/partnerWeight/);
  });
});

describe("build", () => {
  it("src/kernels/machines.wasm is up to date with assembly/machines.ts", () => {
    // Same asc flags as scripts/build-wasm.sh (read from it); asc output is deterministic.
    const script = fs.readFileSync(path.join(root, "scripts", "build-wasm.sh"), "utf8").replace(/\\\n\s*/g, "");
    const m = script.match(/npx asc "\$f" --outFile "[^"]+" ([^\n]+)/);
    expect(m, "asc command line in scripts/build-wasm.sh").not.toBeNull();
    const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "asc-")), "machines.wasm");
    execFileSync(path.join(root, "node_modules", ".bin", "asc"), [path.join(root, "assembly", "machines.ts"), "--outFile", out, ...m![1].trim().split(/\s+/)], { cwd: root });
    expect(fs.readFileSync(out).equals(fs.readFileSync(MACHINES_WASM)), "run `npm run build:wasm` and commit src/kernels/machines.wasm").toBe(true);
  });
});
