/**
 * bench/torch_population.py: PyTorch trains, samples and scores whole models with its own random
 * draws (docs/results/torch-population/README.md). This runs its `--smoke` mode (4 epochs, 2 runs
 * x 64 samples, every variant, draw 0, seeds 0 and 1) and checks
 * - the structure of the per-model files and of the summary;
 * - the census of PyTorch's dataset draw, read back from the pixels: every image has valid pairs
 *   of one pattern type, keys in the left and values in the right column, all three pattern types
 *   and both pairs of every quadrant in binomial proportions; and that the census can fail (the
 *   same images with key and value columns swapped have no valid quadrant);
 * - resuming: a run killed after a checkpoint (in training, then in sampling) and started again ends with the same samples as an
 *   uninterrupted run (top1, whose Gumbel draws come from the same generator), and a rerun skips
 *   finished models.
 *
 * Needs /usr/bin/python3 with torch and numpy. Like test/torch-agreement.test.ts, the test then
 * fails with the set-up command (sudo bash bench/setup-torch.sh); it is never skipped.
 * About 1 minute of wall clock on a busy 2-core machine.
 */
import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { census, generateDataset } from "../src/data/dataset";
import { PYTHON, torchVersions } from "../src/verify/agreement";

const SCRIPT = path.join(__dirname, "..", "bench", "torch_population.py");
const work = fs.mkdtempSync(path.join(os.tmpdir(), "torch-population-"));
const VARIANTS = ["cnn", "attention", "identity", "top1"];
const METRICS = ["strict", "functional", "bijective", "functionalLoose", "validQuadrants", "novel", "novelBijective"];

function run(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(PYTHON, [SCRIPT, ...args], { encoding: "utf8", maxBuffer: 64 << 20 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function ok(args: string[]): Record<string, unknown> {
  const r = run(args);
  if (r.status !== 0) throw new Error(`torch_population.py ${args.join(" ")} exited ${r.status}:\n${r.stderr.split("\n").slice(-20).join("\n")}`);
  const lines = r.stdout.trim().split("\n");
  return JSON.parse(lines[lines.length - 1]);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Rec = any;
const readModel = (dir: string, id: string): Rec => JSON.parse(fs.readFileSync(path.join(dir, "models", `${id}.json`), "utf8"));

const smoke = path.join(work, "smoke");

beforeAll(() => {
  const v = torchVersions(); // throws "... Install them with: sudo bash bench/setup-torch.sh"
  console.log(`PyTorch side: python ${v.python}, torch ${v.torch}, numpy ${v.numpy}; work dir ${work}`);
  const s = ok(["train", "--smoke", "--out", smoke]);
  expect(s.trained).toBe(8);
}, 300_000);

afterAll(() => {
  fs.rmSync(work, { recursive: true, force: true });
});

describe("torch_population.py --smoke", () => {
  it("writes one complete file per model: config, seeds, versions, timings, runs with every metric", () => {
    const files = fs.readdirSync(path.join(smoke, "models")).sort();
    expect(files).toEqual(VARIANTS.flatMap((v) => [0, 1].map((s) => `${v}-d0-s${s}.json`)).sort());
    for (const v of VARIANTS) {
      for (const seed of [0, 1]) {
        const r = readModel(smoke, `${v}-d0-s${seed}`);
        expect(r).toMatchObject({ variant: v, draw: 0, seed, smoke: true });
        expect(r.config).toMatchObject({ epochs: 4, samples: 64, runs: 2, batchSize: 64, datasetSize: 2048, diffusionSteps: 1000 });
        expect(r.training.epochs).toBe(v === "top1" ? 8 : 4);
        expect(r.training.steps).toBe(r.training.epochs * 32);
        expect(r.seeds.torchManualSeed).toBe(seed);
        expect(r.seeds.sampleManualSeeds).toHaveLength(2);
        expect(r.environment.torch).toMatch(/^\d+\.\d+/);
        expect(typeof r.environment.blas).toBe("string");
        expect(r.environment.torchThreads).toBe(1);
        expect(r.wallSeconds).toBeGreaterThan(0);
        expect(r.runs).toHaveLength(2);
        for (const x of r.runs) {
          expect(x.samples).toBe(64);
          expect(Object.keys(x.metrics).sort()).toEqual([...METRICS].sort());
          for (const m of METRICS) expect(x.metrics[m]).toBeGreaterThanOrEqual(0);
          expect(x.counts.functional).toBeLessThanOrEqual(x.counts.functionalLoose);
          expect(x.counts.bijective).toBeLessThanOrEqual(x.counts.functional);
          expect(x.counts.novel).toBeLessThanOrEqual(x.counts.functional);
        }
        expect(r.mean.functional).toBeCloseTo((r.runs[0].metrics.functional + r.runs[1].metrics.functional) / 2, 12);
      }
    }
    // the two seeds of a draw share the dataset, not the model
    const a = readModel(smoke, "top1-d0-s0");
    const b = readModel(smoke, "top1-d0-s1");
    expect(a.dataset).toEqual(b.dataset);
    expect(a.training.initAbsMean).not.toEqual(b.training.initAbsMean);
    // no leftovers: checkpoints, run files and claims are removed once a model is finished
    expect(fs.readdirSync(path.join(smoke, "work"))).toEqual([]);
  });

  it("PyTorch's dataset draw: the census read back from the pixels matches the specification", () => {
    const c = readModel(smoke, "cnn-d0-s0").dataset;
    const n = 2048;
    expect(c.images).toBe(n);
    expect(c.exactPixels).toBe(true); // pixels are 2x - 1 of palette colours
    expect(c.wellFormedColumns).toBe(n); // key = left column, value = right column of every quadrant
    expect(c.validQuadrants4).toBe(n); // four of the six valid (key, value) pairs
    expect(c.onePattern).toBe(n); // ... all of one pattern type
    // pattern types uniform over 3, each quadrant's pair uniform over 2: within 5 binomial sd
    const sd3 = Math.sqrt((n * 2) / 9);
    for (const k of c.perPattern) expect(Math.abs(k - n / 3)).toBeLessThan(5 * sd3);
    expect(c.pairCounts).toHaveLength(4);
    for (const [k0, k1] of c.pairCounts) {
      expect(k0 + k1).toBe(n);
      expect(Math.abs(k0 - n / 2)).toBeLessThan(5 * Math.sqrt(n / 4));
    }
    expect(c.distinct).toBe(48); // 2048 draws of 48 images: all appear (P(one missing) ~ 1e-17)
    // the image counts against uniform 1/48: chi-square with 47 df, far below its 1e-6 tail (~105)
    expect(c.imageChi2).toBeLessThan(105);
    // the same facts hold for our draw 0 (src/data/dataset.ts)
    const ours = census(generateDataset({ size: n, seed: 0 }));
    expect(ours.distinct).toBe(c.distinct);
    expect(ours.perPattern.reduce((x, y) => x + y, 0)).toBe(n);
  });

  it("the census can fail: key and value columns swapped, no quadrant is valid", () => {
    const code = [
      "import sys, json, torch",
      `sys.path.insert(0, ${JSON.stringify(path.dirname(SCRIPT))})`,
      "import torch_population as tp",
      "x = tp.dataset(0, 2048)",
      "swapped = x[:, :, :, [1, 0, 3, 2]]",
      "print(json.dumps([tp.census(x)['validQuadrants4'], tp.census(swapped)['validQuadrants4'], tp.census(swapped)['wellFormedColumns']]))",
    ].join("\n");
    const [orig, swapped, columns] = JSON.parse(execFileSync(PYTHON, ["-c", code], { encoding: "utf8" }).trim());
    expect(orig).toBe(2048);
    expect(columns).toBe(2048); // still two-column quadrants ...
    expect(swapped).toBe(0); // ... but (value, key) is never one of the six pairs
  });

  it("a rerun skips finished models; summarize writes models.csv and summary.json", () => {
    const again = ok(["train", "--smoke", "--out", smoke]);
    expect(again).toMatchObject({ trained: 0, skipped: 8 });
    const s = ok(["summarize", "--out", smoke]);
    expect(s.models).toBe(8);
    const csv = fs.readFileSync(path.join(smoke, "models.csv"), "utf8").trim().split("\n");
    expect(csv).toHaveLength(9);
    expect(csv[0].split(",")).toEqual(expect.arrayContaining(["variant", "draw", "seed", "functional", "bijective", "trainSeconds", "torch", "blas"]));
    const summary = JSON.parse(fs.readFileSync(path.join(smoke, "summary.json"), "utf8"));
    expect(Object.keys(summary.functionalPercentByVariant).sort()).toEqual([...VARIANTS].sort());
  });

  it("resuming: killed in training and in sampling and restarted, top1 ends with the same samples as without the kill", () => {
    const dir = path.join(work, "resume");
    const killed = run(["train", "--smoke", "--plan", "top1:1", "--out", dir, "--stop-after-epoch", "3"]);
    expect(killed.status, killed.stderr).toBe(3);
    expect(fs.existsSync(path.join(dir, "work", "top1-d0-s0.pt"))).toBe(true);
    expect(fs.existsSync(path.join(dir, "models", "top1-d0-s0.json"))).toBe(false);
    // killed again, this time in the middle of the first sampling run (after its checkpoint at step 400)
    const killed2 = run(["train", "--smoke", "--plan", "top1:1", "--out", dir, "--stop-after-sample-step", "400"]);
    expect(killed2.status, killed2.stderr).toBe(3);
    expect(fs.existsSync(path.join(dir, "work", "top1-d0-s0-run0.partial.pt"))).toBe(true);
    expect(ok(["train", "--smoke", "--plan", "top1:1", "--out", dir])).toMatchObject({ trained: 2 });
    for (const seed of [0, 1]) {
      const resumed = readModel(dir, `top1-d0-s${seed}`);
      const straight = readModel(smoke, `top1-d0-s${seed}`);
      expect(resumed.training.resumes).toBe(seed === 0 ? 2 : 0); // from the epoch-3 and the end-of-training checkpoints
      // equal counts of every metric and equal largest |pixel|: the same samples, bit for bit
      expect(resumed.runs.map((x: Rec) => [x.counts, x.absMax])).toEqual(straight.runs.map((x: Rec) => [x.counts, x.absMax]));
    }
  });
});
