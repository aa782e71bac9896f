/**
 * Reference values made with PyTorch 1.13: test/fixtures/reference-values/*.json, written by
 * bench/make-reference-values.py (each file's "source" and "versions" say how and with what).
 * Tolerance: 1e-6 relative (float32 where PyTorch ran float32).
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../src/backend";
import { makeSchedule } from "../src/ddpm/schedule";
import { exactRandomBaseline } from "../src/eval/baseline";
import { adamwInit, adamwStep } from "../src/train/adamw";
import { oneCycleAt } from "../src/train/onecycle";

const ROOT = path.resolve(__dirname, "..");
const REF = path.join(ROOT, "test", "fixtures", "reference-values");
const FIXTURES = ["adamw.json", "ddpm_linear.json", "onecycle.json", "random_baseline_valid_pairs.json"];
const ref = (name: string) => JSON.parse(fs.readFileSync(path.join(REF, name), "utf8"));

function expectRel(actual: number, expected: number, rel = 1e-6) {
  expect(Math.abs(actual - expected)).toBeLessThanOrEqual(rel * Math.max(Math.abs(expected), 1e-30));
}

beforeAll(async () => {
  await initBackend();
});

describe("OneCycle (torch.optim.lr_scheduler.OneCycleLR)", () => {
  const r = ref("onecycle.json");
  for (const key of ["total_steps_1000", "total_steps_160000"]) {
    const totalSteps = Number(key.split("_").at(-1));
    it(`matches lr and beta1 at every listed step, ${totalSteps} steps`, () => {
      for (const e of r[key] as { step: number; lr: number; beta1: number }[]) {
        const got = oneCycleAt(e.step, { maxLr: 1e-3, totalSteps, pctStart: 0.3, divFactor: 25, finalDivFactor: 1e4, baseMomentum: 0.85, maxMomentum: 0.95 });
        expectRel(got.lr, e.lr);
        expectRel(got.beta1, e.beta1);
      }
    });
  }
  it("rejects a step past the end", () => {
    expect(() => oneCycleAt(1000, { maxLr: 1e-3, totalSteps: 1000, pctStart: 0.3, divFactor: 25, finalDivFactor: 1e4, baseMomentum: 0.85, maxMomentum: 0.95 })).toThrow(/1000/);
  });
});

describe("AdamW (torch.optim.AdamW, float32)", () => {
  it("matches three steps", () => {
    const r = ref("adamw.json");
    let theta = tf.tensor1d(r.init as number[]);
    const s = adamwInit(3);
    (r.grads as number[][]).forEach((g, i) => {
      const grad = tf.tensor1d(g);
      const next = adamwStep(theta, grad, s, { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 1e-5 });
      theta.dispose();
      grad.dispose();
      theta = next;
      const got = Array.from(theta.dataSync());
      got.forEach((x, j) => expectRel(x, r.params_after_each_step[i][j]));
    });
  });
});

describe("DDPM linear schedule (torch.linspace float64, cumprod)", () => {
  it("matches beta, alphaBar and the loss weight", () => {
    const r = ref("ddpm_linear.json");
    const s = makeSchedule();
    (r.t as number[]).forEach((t, i) => {
      expectRel(s.betas[t], r.beta[i], 1e-12);
      expectRel(s.alphaBars[t], r.alpha_bar[i], 1e-12);
      expectRel(s.lossWeights[t], r.loss_weight_one_minus_alpha_bar[i], 1e-9);
    });
  });
});

describe("random baseline (exact enumeration of 6^4 quadrant assignments)", () => {
  it("matches strict, functional, bijective and novel", () => {
    const r = ref("random_baseline_valid_pairs.json");
    const got = exactRandomBaseline();
    for (const k of ["strict", "functional", "bijective", "novel"] as const) {
      expect(Math.round(got[k] * 1296)).toBe(r[k][0]);
      expectRel(got[k], r[k][2], 1e-12);
    }
  });
});

describe("the fixtures themselves", () => {
  it("state their source script, command and versions", () => {
    expect(fs.readdirSync(REF).filter((f) => f.endsWith(".json")).sort()).toEqual(FIXTURES);
    for (const name of FIXTURES) {
      const r = ref(name);
      expect(r.source?.script, `${name}: source.script`).toBe("bench/make-reference-values.py");
      expect(fs.existsSync(path.join(ROOT, r.source.script)), `${name}: ${r.source.script} is missing`).toBe(true);
      expect(r.source.command, `${name}: source.command`).toMatch(/make-reference-values\.py/);
      expect(String(r.source.computation ?? "").length, `${name}: source.computation`).toBeGreaterThan(40);
      expect(r.versions?.python, `${name}: versions.python`).toMatch(/^3\.\d+/);
      expect(r.versions?.torch, `${name}: versions.torch`).toMatch(/^1\.13/);
      expect(r.versions?.numpy, `${name}: versions.numpy`).toMatch(/^\d+\.\d+/);
    }
  });

  // Needs Debian's torch (sudo bash scripts/setup.sh); without it the test fails and says so.
  it("are what bench/make-reference-values.py computes with this machine's torch", () => {
    const r = spawnSync("/usr/bin/python3", [path.join(ROOT, "bench", "make-reference-values.py"), "--check"], {
      encoding: "utf8",
      env: { ...process.env, PYDEVD_DISABLE_FILE_VALIDATION: "1" },
      timeout: 300_000,
    });
    const output = `${r.stdout ?? ""}${r.stderr ?? ""}${r.error ? String(r.error) : ""}`;
    expect(r.status, `make-reference-values.py --check failed (torch missing? run 'sudo bash scripts/setup.sh'):\n${output}`).toBe(0);
    expect(output.match(/^compare: \S+\.json: \d+ numbers/gm) ?? [], output).toHaveLength(FIXTURES.length);
  }, 300_000);
});
