/**
 * The experiment's theory phase (src/experiment/theory-phase.ts, src/experiment/theory-units.ts): it
 * writes theory.json as runTheory and runDiscrimination do, its cached units are reused (a second run
 * computes nothing), its progress bar never goes backwards, and neither the file nor a unit made for
 * another config, request or checkpoint is silently reused.
 * A tiny study (128 images, 20 diffusion steps) and a small request (24 comparisons, 3 predictors,
 * 2 sweep settings, 200 bootstrap resamples): seconds.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../src/backend";
import { resolveConfig } from "../src/config";
import { runExperiment } from "../src/experiment/run";
import { checkpointPath, trainTask } from "../src/experiment/tasks";
import { Variant } from "../src/model/variants";
import { notebookParams } from "../src/notebook/params";
import { theoryNotebookRequest } from "../src/notebook/theory";
import { DiscriminationSettings, discriminationSettings } from "../src/theory/discriminate";
import { THEORY_MACHINES } from "../src/theory/machines";
import {
  computeTheory, experimentTheoryRequest, loadOrComputeTheory, runDiscrimination, runTheory, TheoryRequest, theoryPart, theoryStaleReason,
} from "../src/experiment/theory-phase";
import { readUnit, unitPath } from "../src/experiment/theory-units";

const cfg = resolveConfig("smoke", { datasetSize: 128, epochs: 2, diffusionSteps: 20, samples: 16, sampleBatch: 16, runs: 2, workers: 1, checkpointEvery: 1, theory: true });
const variants: Variant[] = ["cnn", "identity"];
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "theory-phase-"));
const paths = { outDir: path.join(dir, "out"), dataDir: path.join(dir, "data") };
const read = (f: string) => JSON.parse(fs.readFileSync(path.join(paths.outDir, f), "utf8"));
/** A results file without what differs between two computations of the same numbers. */
const numbers = (r: Record<string, unknown>) => JSON.stringify({ ...r, meta: null, identity: null });
const unitFiles = () => fs.readdirSync(path.join(paths.outDir, "theory")).sort();
const small = {
  compareSamples: 24, predictors: ["equivariant", "attention", "trivial"] as const, bootstrapResamples: 200,
  sweep: [{ partnerWeight: 0.5, includeSelf: false, partners: "own" as const }, { partnerWeight: 0.25, includeSelf: true, partners: "pooled" as const }],
};
/** The theory phase's request in these tests (the experiment's default has 200 comparisons, 8 predictors, 12 sweep settings). */
const request = (): TheoryRequest => ({
  theory: theoryPart(cfg, { variants, compareSamples: small.compareSamples, missing: "error" }),
  discrimination: { checkpoints: variants.map((variant) => ({ variant, seed: 0 })), settings: discriminationSettings({ ...small, predictors: [...small.predictors] }) },
  derivations: true,
});

beforeAll(async () => {
  await initBackend();
});

describe("the experiment's theory phase", () => {
  let log: string[] = [];
  let bar: string[] = [];

  beforeAll(async () => {
    await runExperiment({
      cfg, variants, profile: "test", paths, theoryRequest: request(), log: (l) => log.push(l),
      progressWrite: (line) => bar.push(line),
    });
  }, 120_000);

  it("writes theory.json, one file with every part, with every unit cached", () => {
    expect(log.some((l) => /theory phase: wrote theory.json \((\d+) unit\(s\) computed, 0 reused/.test(l)), log.join("\n")).toBe(true);
    const t = read("theory.json");
    expect(t.machines.comparisons.map((c: { variant: string }) => c.variant)).toEqual(variants);
    const M = THEORY_MACHINES.length;
    expect(t.machines.table1).toHaveLength(M);
    expect(t.identity.checkpoints.map((c: { checkpoint: string }) => c.checkpoint)).toEqual(variants.map((v) => path.relative(paths.outDir, checkpointPath(paths, cfg, v, 0))));
    expect(t.discrimination.models.map((m: { variant: string }) => m.variant)).toEqual(variants);
    expect(t.discrimination.sweep).toHaveLength(2);
    expect(t.derivations.length).toBeGreaterThan(30);
    // machines part: M machines x 2 runs, M finals, 2 comparisons; the derivation checks; discrimination: 1 forward,
    // 1 finals (trivial; the machines' are shared), 2 bands, and for the sweep 1 run + 1 finals (its default
    // setting is Table 1's attention machine)
    expect(unitFiles()).toHaveLength(2 * M + M + 2 + 1 + 1 + 1 + 2 + 2);
  });

  it("by default computes what notebook 09 asks for with its default parameters (the experiment's variants, from results.json)", () => {
    const exp = experimentTheoryRequest(cfg, variants);
    const p = notebookParams({ PROFILE: "smoke", OUT_DIR: paths.outDir, DATA_DIR: paths.dataDir, OVERRIDES: JSON.stringify({ datasetSize: 128, epochs: 2, diffusionSteps: 20, samples: 16, sampleBatch: 16, runs: 2, workers: 1, checkpointEvery: 1, theory: true }), SEED: "" });
    const nb = theoryNotebookRequest(p, {});
    expect({ ...exp.theory!, missing: null }).toEqual({ ...nb.theory!, missing: null });
    const resolved = (st: DiscriminationSettings) => ({ ...st, machineOptions: { ...exp.theory!.machineOptions, ...st.machineOptions } });
    expect(resolved(exp.discrimination!.settings)).toEqual(resolved(nb.discrimination!.settings));
    expect(exp.discrimination!.checkpoints).toEqual(variants.map((variant) => ({ variant, seed: cfg.seed })));
    expect(nb.discrimination!.checkpoints).toEqual(exp.discrimination!.checkpoints);
    expect(nb.derivations).toBe(exp.derivations);
  });

  it("notebook 09's own parameters are checked: a bad value throws naming it", () => {
    const p = notebookParams({ PROFILE: "smoke", OUT_DIR: paths.outDir, DATA_DIR: paths.dataDir, OVERRIDES: JSON.stringify({ datasetSize: 128, epochs: 2, diffusionSteps: 20, samples: 16, sampleBatch: 16, runs: 2, workers: 1, checkpointEvery: 1, theory: true }), SEED: "" });
    expect(() => theoryNotebookRequest(p, { MISSING: "maybe" })).toThrow(/MISSING must be one of train, skip, error, got 'maybe'/);
    expect(() => theoryNotebookRequest(p, { COMPARE_SAMPLES: "lots" })).toThrow(/COMPARE_SAMPLES must be an integer/);
    expect(() => theoryNotebookRequest(p, { PARTNER_WEIGHT: "1.5" })).toThrow(/PARTNER_WEIGHT must be a number in \[0, 1\), got '1.5'/);
    expect(() => theoryNotebookRequest(p, { SWEEP: "yes" })).toThrow(/SWEEP must be one of 0, 1/);
    expect(() => theoryNotebookRequest(p, { SEEDS: "7" })).toThrow(/training seed 7 is not a model of this study/);
    expect(() => theoryNotebookRequest(p, { VARIANTS: "cnn,transformer" })).toThrow(/transformer/);
    expect(theoryNotebookRequest(p, { PARTNER_WEIGHT: "0.25", SWEEP: "0" }).discrimination!.settings.sweep).toBeNull();
  });

  it("its progress bar never goes backwards and ends at 100 %", () => {
    const pct = bar.filter((l) => l.startsWith("test theory")).map((l) => Number(/\]\s+([\d.]+)%/.exec(l)![1]));
    expect(pct.length).toBeGreaterThan(1);
    for (let i = 1; i < pct.length; i++) expect(pct[i]).toBeGreaterThanOrEqual(pct[i - 1]);
    expect(pct.at(-1)).toBe(100);
  });

  it("gives the numbers runTheory and runDiscrimination give (from its cache)", async () => {
    const r = await runTheory({ cfg, paths, variants, compareSamples: small.compareSamples, missing: "error", file: null, log: () => {}, onProgress: () => {} });
    const saved = read("theory.json");
    expect(JSON.stringify(r.machines)).toBe(JSON.stringify(saved.machines));
    expect(JSON.stringify(r.derivations)).toBe(JSON.stringify(saved.derivations));
    const checkpoints = variants.map((variant) => ({ variant, seed: 0 }));
    const d = await runDiscrimination({ cfg, paths, checkpoints, ...small, predictors: [...small.predictors], file: null, log: () => {}, onProgress: () => {} });
    expect(JSON.stringify(d.discrimination)).toBe(JSON.stringify(saved.discrimination));
    expect(r.meta.computed).toBe(0);
    expect(d.meta.computed).toBe(0);
  });

  it("a second run computes nothing and rewrites no unit; the notebook's loader loads both files", async () => {
    const before = unitFiles().map((f) => fs.statSync(path.join(paths.outDir, "theory", f)).mtimeMs);
    const again: string[] = [];
    await runExperiment({ cfg, variants, profile: "test", paths, theoryRequest: request(), log: (l) => again.push(l), progressWrite: () => {} });
    expect(again.some((l) => /theory phase: .*\(0 unit\(s\) computed, \d+ reused/.test(l)), again.join("\n")).toBe(true);
    expect(unitFiles().map((f) => fs.statSync(path.join(paths.outDir, "theory", f)).mtimeMs)).toEqual(before);
    const l = await loadOrComputeTheory({ cfg, paths, ...request(), log: () => {} });
    expect(l.source).toBe("loaded");
    expect(l.computed).toBe(0);
  });

  it("a file of another config or request is stale, naming what differs", () => {
    const req = request();
    const t = read("theory.json");
    expect(theoryStaleReason(t, cfg, req, paths)).toBeNull();
    const other = resolveConfig("smoke", { ...cfg, sampleSeed: 7 });
    expect(theoryStaleReason(t, other, req, paths)).toMatch(/config differs in sampleSeed \(1000 vs 7\)/);
    expect(theoryStaleReason(t, { ...cfg, workers: 2, theory: false }, req, paths)).toBeNull(); // change no number
    expect(theoryStaleReason(t, cfg, { ...req, theory: theoryPart(cfg, { variants, compareSamples: 100, missing: "error" }) }, paths)).toMatch(/other machines part: compareSamples/);
    expect(theoryStaleReason(t, cfg, { ...req, theory: theoryPart(cfg, { variants, compareSamples: 24, machineOptions: { partnerWeight: 0.25 }, missing: "error" }) }, paths)).toMatch(/other machines part: machineOptions/);
    expect(theoryStaleReason(t, cfg, { ...req, discrimination: { ...req.discrimination!, settings: { ...req.discrimination!.settings, sweep: null } } }, paths)).toMatch(/other settings: sweep/);
    expect(theoryStaleReason(t, cfg, { ...req, discrimination: { ...req.discrimination!, checkpoints: [{ variant: "cnn", seed: 0 }] } }, paths)).toMatch(/compares other models/);
    expect(theoryStaleReason(t, cfg, { ...req, derivations: false }, paths)).toMatch(/other derivations/);
    // files written before they recorded their identity (or in the old two-file layout) are never taken for current ones
    expect(theoryStaleReason({ ...t, identity: undefined }, cfg, req, paths)).toMatch(/does not record what it was computed for/);
    expect(theoryStaleReason({ ...t, identity: { ...t.identity, format: 1 } }, cfg, req, paths)).toMatch(/does not record what it was computed for/);
  });

  it("a unit file holding another unit, or a truncated one, is an error naming the file", async () => {
    const files = unitFiles().filter((f) => f.startsWith("machine-run-local-data0-run"));
    expect(files).toHaveLength(2);
    const [run0, run1] = files.map((f) => path.join(paths.outDir, "theory", f));
    const saved = fs.readFileSync(run0);
    fs.copyFileSync(run1, run0);
    const o = { ...request(), log: () => {}, progressWrite: () => {} };
    await expect(computeTheory({ cfg, paths, ...o })).rejects.toThrow(/theory unit .*machine-run-local-data0-run0-\w+\.json belongs to another unit .*run: 1 vs 0/);
    fs.writeFileSync(run0, saved.subarray(0, saved.length / 2));
    await expect(computeTheory({ cfg, paths, ...o })).rejects.toThrow(/theory unit .*machine-run-local-data0-run0-\w+\.json is corrupt or truncated/);
    fs.writeFileSync(run0, saved);
  });

  it("a retrained checkpoint: the file is stale, its units are computed again, every other unit is reused", async () => {
    const req = request();
    const t = read("theory.json");
    // retrain with the other engine: same config, slightly different weights
    fs.rmSync(checkpointPath(paths, cfg, "cnn", 0));
    trainTask({ ...cfg, trainEngine: "tfjs" }, paths, "cnn", 0);
    expect(theoryStaleReason(t, cfg, req, paths)).toMatch(/checkpoint checkpoints\/cnn-\S+ holds other weights than it was computed from/);
    const compareUnit = { kind: "network-compare" as const, variant: "cnn" as const, seed: 0, weights: "ema" as const, machines: req.theory!.machines, options: req.theory!.machineOptions, n: req.theory!.compareSamples };
    expect(fs.existsSync(unitPath(paths, cfg, compareUnit))).toBe(true);
    expect(readUnit(paths, cfg, compareUnit)).toBeNull();
    const lines: string[] = [];
    const l = await loadOrComputeTheory({ cfg, paths, ...req, log: (x) => lines.push(x), progressWrite: () => {} });
    expect(l.source).toBe("computed");
    expect(l.computed).toBe(2); // cnn's comparison and its banded r^2; machines and identity reused
    expect(lines.some((x) => /not using .*theory\.json: checkpoint .* holds other weights/.test(x))).toBe(true);
    expect(l.results.identity.checkpoints[0].weightsSha256).not.toBe(t.identity.checkpoints[0].weightsSha256);
    expect(theoryStaleReason(read("theory.json"), cfg, req, paths)).toBeNull();
  });

  it("a variant skipped for want of a checkpoint makes the file stale once it is trained", async () => {
    const part = theoryPart(cfg, { variants: ["cnn", "attention"], compareSamples: 24, missing: "skip" });
    const r = await runTheory({ cfg, paths, variants: ["cnn", "attention"], compareSamples: 24, missing: "skip", derivations: false, file: null, log: () => {}, onProgress: () => {} });
    expect(r.machines!.skipped.map((s) => s.variant)).toEqual(["attention"]);
    expect(theoryStaleReason(r, cfg, { theory: part }, paths)).toBeNull();
    expect(theoryStaleReason(r, cfg, { theory: { ...part, missing: "error" } }, paths)).toMatch(/it skipped attention/);
    trainTask(cfg, paths, "attention", 0);
    expect(theoryStaleReason(r, cfg, { theory: part }, paths)).toMatch(/attention was skipped .* but has a finished checkpoint now/);
  });
});
