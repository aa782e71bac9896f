/**
 * No silent wrong results: every way a hostile but fair user found to get a wrong or mixed-up
 * number with exit status 0 (the cases of the issue "No silent wrong results", numbered as there)
 * is an error naming the problem, or a safe recompute. Smoke-sized: a few seconds each.
 */
import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../src/backend";
import { parseArgs } from "../src/cli/args";
import { resolveConfig } from "../src/config";
import { datasetImages, generateDataset } from "../src/data/dataset";
import { imagesToTokens } from "../src/data/layout";
import { lockOutputDir } from "../src/experiment/lock";
import { dataSeedOf, studyModels } from "../src/experiment/models";
import { decodeColours, evaluateTokens, NO_COLOUR } from "../src/eval/metrics";
import { checkpointPath, countNonFinite, runResultPath, sampleTask, trainTask } from "../src/experiment/tasks";
import { choiceParam, intParam } from "../src/notebook/params";
import { readCheckpoint, saveCheckpoint } from "../src/train/checkpoint";
import { initTrainState, makeContext } from "../src/train/state";
import { experiment, tiny, tmpDir } from "./helpers/tiny-study";

const ROOT = path.resolve(__dirname, "..");
const tmp = () => tmpDir("reliab-");

beforeAll(async () => {
  await initBackend();
});

describe("1. a checkpoint is checked against what was asked for", () => {
  it("a top1 checkpoint copied over an attention one is refused, naming the file and the differing keys", async () => {
    const out = path.join(tmp(), "x");
    const cfg = tiny();
    await experiment(cfg, out, ["attention", "top1"]);
    const paths = { outDir: out, dataDir: "" };
    fs.copyFileSync(checkpointPath(paths, cfg, "top1", 0), checkpointPath(paths, cfg, "attention", 0));
    fs.rmSync(path.join(out, "runs"), { recursive: true });
    fs.rmSync(path.join(out, "samples"), { recursive: true });
    await expect(experiment(cfg, out, ["attention"])).rejects.toThrow(/checkpoint .*attention-data0-seed0-\w+\.ckpt\.json holds another model .*variant: top1 vs attention; totalSteps: 8 vs 4/);
  });

  it("a checkpoint of another seed, length or variant in a slot is refused (cnn in attention's names the file, not a size)", () => {
    const dir = tmp();
    const paths = { outDir: dir, dataDir: path.join(dir, "data") };
    const c10 = tiny({ epochs: 1 });
    const c20 = tiny({ epochs: 2 });
    trainTask(c10, paths, "attention", 7);
    fs.copyFileSync(checkpointPath(paths, c10, "attention", 7), checkpointPath(paths, c10, "attention", 0));
    expect(() => trainTask(c10, paths, "attention", 0)).toThrow(/holds another model .*seed: 7 vs 0/);
    fs.copyFileSync(checkpointPath(paths, c10, "attention", 7), checkpointPath(paths, c20, "attention", 7));
    expect(() => trainTask(c20, paths, "attention", 7)).toThrow(/holds another model .*totalSteps: 2 vs 4; epochs: 1 vs 2/);
    expect(() => sampleTask(c20, paths, "attention", 7, 0, "ema", { saveNpy: false })).toThrow(/holds another model .*epochs: 1 vs 2/);
    trainTask(c10, paths, "cnn", 7);
    fs.copyFileSync(checkpointPath(paths, c10, "cnn", 7), checkpointPath(paths, c10, "attention", 7));
    expect(() => sampleTask(c10, paths, "attention", 7, 0, "ema", { saveNpy: false })).toThrow(/checkpoint .*attention-data0-seed7-\w+\.ckpt\.json holds another model .*variant: cnn vs attention/);
  });
});

describe("2. samples and run records belong to the model that made them", () => {
  it("20 -> 40 -> 20 epochs: the last run reuses the 20-epoch samples, not the 40-epoch ones", async () => {
    const dir = tmp();
    const out = path.join(dir, "y");
    const npyOf = (r: Awaited<ReturnType<typeof experiment>>) => r.runs.find((x) => x.run === 0)!.npy!;
    const a = await experiment(tiny({ epochs: 2 }), out, ["attention"]);
    const first = fs.readFileSync(npyOf(a));
    const b = await experiment(tiny({ epochs: 3 }), out, ["attention"]);
    expect(npyOf(b)).not.toBe(npyOf(a));
    expect(fs.readFileSync(npyOf(b)).equals(first)).toBe(false);
    const c = await experiment(tiny({ epochs: 2 }), out, ["attention"]);
    expect(c.runs.every((r) => r.status === "reused")).toBe(true);
    expect(fs.readFileSync(npyOf(c)).equals(first)).toBe(true);
    expect(c.table1).toEqual(a.table1);
  });

  it("a copied output folder is whole: its records point inside it, and the original may go", async () => {
    const dir = tmp();
    const a = path.join(dir, "a");
    const cfg = tiny();
    const first = await experiment(cfg, a, ["cnn"]);
    const b = path.join(dir, "b");
    fs.cpSync(a, b, { recursive: true });
    fs.rmSync(a, { recursive: true });
    const again = await experiment(cfg, b, ["cnn"]);
    expect(again.runs.every((r) => r.status === "reused")).toBe(true);
    expect(again.table1).toEqual(first.table1);
    const stored = JSON.parse(fs.readFileSync(path.join(b, "results.json"), "utf8"));
    for (const r of stored.runs) {
      expect(path.isAbsolute(r.checkpoint)).toBe(false);
      expect(fs.existsSync(path.join(b, r.checkpoint))).toBe(true);
      if (r.npy) expect(fs.existsSync(path.join(b, r.npy))).toBe(true);
    }
    for (const t of stored.training) expect(fs.existsSync(path.join(b, t.checkpoint))).toBe(true);
  });

  it("a relative output folder: results.json's paths are relative to the folder, not to the working directory", async () => {
    const abs = path.join(tmp(), "rel");
    const rel = path.relative(process.cwd(), abs);
    expect(path.isAbsolute(rel)).toBe(false);
    await experiment(tiny(), rel, ["cnn"]);
    const stored = JSON.parse(fs.readFileSync(path.join(abs, "results.json"), "utf8"));
    for (const t of stored.training) expect(fs.existsSync(path.join(abs, t.checkpoint)), t.checkpoint).toBe(true);
    for (const r of stored.runs) {
      expect(fs.existsSync(path.join(abs, r.checkpoint)), r.checkpoint).toBe(true);
      if (r.npy) expect(fs.existsSync(path.join(abs, r.npy)), r.npy).toBe(true);
    }
  });

  it("a record or samples file from another run in its place, or a truncated record, is an error naming the file", async () => {
    const out = path.join(tmp(), "z");
    const cfg = tiny();
    await experiment(cfg, out, ["identity"]);
    const p = { outDir: out, dataDir: path.join(out, "..", "data") };
    const rec0 = runResultPath(p, cfg, "identity", 0, 0, "ema");
    const rec1 = runResultPath(p, cfg, "identity", 0, 1, "ema");
    const saved = fs.readFileSync(rec0);
    fs.copyFileSync(rec1, rec0);
    await expect(experiment(cfg, out, ["identity"])).rejects.toThrow(/sampling run record .*identity-data0-seed0-run0-ema-\w+\.json belongs to another run .*run: 1 vs 0/);
    fs.writeFileSync(rec0, saved.subarray(0, saved.length / 2));
    await expect(experiment(cfg, out, ["identity"])).rejects.toThrow(/sampling run record .*run0-ema-\w+\.json is corrupt or truncated/);
    fs.writeFileSync(rec0, saved);
    const npy = path.join(out, JSON.parse(saved.toString()).npy);
    const bytes = fs.readFileSync(npy);
    bytes[bytes.length - 1] ^= 0xff;
    fs.writeFileSync(npy, bytes);
    await expect(experiment(cfg, out, ["identity"])).rejects.toThrow(/samples file .*run0-ema-\w+\.npy was changed after/);
  });

  it("results computed from a checkpoint that was retrained since are stale for the notebooks", async () => {
    const { staleReason } = await import("../src/notebook/results");
    const out = path.join(tmp(), "s");
    const cfg = tiny();
    const r = await experiment(cfg, out, ["cnn"]);
    const stored = JSON.parse(fs.readFileSync(path.join(out, "results.json"), "utf8"));
    expect(staleReason(stored, cfg, ["cnn"], out)).toBeNull();
    // retrain with the other engine: same config, slightly different weights
    fs.rmSync(r.training[0].checkpoint);
    trainTask({ ...cfg, trainEngine: "tfjs" }, { outDir: out, dataDir: path.join(out, "..", "data") }, "cnn", 0);
    expect(staleReason(stored, cfg, ["cnn"], out)).toMatch(/holds other weights than the results were computed from/);
  });
});

describe("3. non-finite numbers are errors when they appear", () => {
  it("lr 100: the run stops with an error and never scores NaN samples; no checkpoint holds a non-finite value", async () => {
    const out = path.join(tmp(), "lr");
    const cfg = resolveConfig("smoke", { epochs: 20, samples: 64, sampleBatch: 64, runs: 2, workers: 1, lr: 100 });
    await expect(experiment(cfg, out, ["attention"])).rejects.toThrow(/non-finite (loss|optimiser state) .*at step \d+|samples hold non-finite values \(first: sample \d+\), more than maxNonFinite 0.001 allows; nothing was scored/);
    expect(fs.existsSync(path.join(out, "results.json"))).toBe(false);
    for (const f of fs.readdirSync(path.join(out, "checkpoints"))) expect(() => readCheckpoint(path.join(out, "checkpoints", f))).not.toThrow();
  });

  it("weights that make the sampler overflow give an error naming the run and the first bad sample", () => {
    const dir = tmp();
    const paths = { outDir: dir, dataDir: path.join(dir, "data") };
    const cfg = tiny({ epochs: 1 });
    trainTask(cfg, paths, "cnn", 0);
    // the same model with finite but absurd EMA weights (x 1e18), saved through the library
    const ck = readCheckpoint(checkpointPath(paths, cfg, "cnn", 0));
    const ctx = makeContext(cfg, imagesToTokens(datasetImages(generateDataset({ size: 128, seed: 0 }))));
    const s = initTrainState(ctx, "cnn", 0);
    s.step = ck.totalSteps;
    s.epoch = ck.epoch;
    s.totalSteps = ck.totalSteps;
    s.ema = Float32Array.from(s.theta, (x) => x * 1e18);
    saveCheckpoint(checkpointPath(paths, cfg, "cnn", 0), ctx, s);
    expect(() => sampleTask(cfg, paths, "cnn", 0, 0, "ema", { saveNpy: true })).toThrow(/sampling run 0 of cnn .*: \d+ of 32 samples hold non-finite values \(first: sample \d+\), more than maxNonFinite 0.001 allows; nothing was scored/);
    expect(fs.existsSync(path.join(dir, "runs"))).toBe(false);
  });

  it("a rare diverged sample fails every rule and is counted; more than maxNonFinite is an error", () => {
    const tokens = new Float32Array(4000 * 48).fill(-1); // 4000 all-red images
    tokens[1234 * 48 + 7] = NaN;
    tokens[2000 * 48] = Infinity;
    expect(countNonFinite(tokens, { maxFraction: 0.001, what: "run x" })).toBe(2);
    expect(() => countNonFinite(tokens, { maxFraction: 0.0001, what: "run x" })).toThrow(/run x: 2 of 4000 samples hold non-finite values \(first: sample 1234\), more than maxNonFinite 0.0001 allows/);
    // decoded, the diverged images have no colour and fail every rule, whatever their other pixels
    const colours = decodeColours(tokens);
    expect(colours.subarray(1234 * 16, 1235 * 16).filter((c) => c === NO_COLOUR).length).toBe(1);
    expect(colours.subarray(1233 * 16, 1234 * 16).includes(NO_COLOUR)).toBe(false);
    const good = imagesToTokens(datasetImages(generateDataset({ size: 8, seed: 0 })));
    const mixed = new Float32Array(good);
    mixed.set([NaN], 5 * 48 + 11);
    const keys = new Set<string>();
    expect(evaluateTokens(good, keys).strict).toBe(1);
    const m = evaluateTokens(mixed, keys);
    expect(m.strict).toBe(7 / 8);
    expect(m.functionalLoose).toBe(7 / 8);
    expect(m.validQuadrants).toBe(7 / 8);
    expect(() => resolveConfig("smoke", { maxNonFinite: 2 })).toThrow(/'maxNonFinite' must be in \[0, 1\], got 2/);
  });

  it("an overflowing optimiser state is an error naming the step, and is never saved", () => {
    const ctx = makeContext(tiny(), imagesToTokens(datasetImages(generateDataset({ size: 128, seed: 0 }))));
    const s = initTrainState(ctx, "cnn", 0);
    s.opt.v = new Float32Array(s.layout.total).fill(Infinity);
    const file = path.join(tmp(), "inf.ckpt.json");
    expect(() => saveCheckpoint(file, ctx, s)).toThrow(/refusing to save checkpoint .*inf\.ckpt\.json: 'v'\[0\] is Infinity after step 0/);
    expect(fs.existsSync(file)).toBe(false);
  });

  it("config values outside their domain are rejected up front with the valid range", () => {
    expect(() => resolveConfig("smoke", { lr: -1 })).toThrow(/config key 'lr' must be in \(0, inf\), got -1/);
    expect(() => resolveConfig("smoke", { lr: 0 })).toThrow(/'lr' must be in \(0, inf\)/);
    expect(() => resolveConfig("smoke", { pctStart: 0 })).toThrow(/'pctStart' must be in \(0, 1\), got 0/);
    expect(() => resolveConfig("smoke", { divFactor: 0 })).toThrow(/'divFactor' must be in \(0, inf\), got 0/);
    expect(() => resolveConfig("smoke", { finalDivFactor: -2 })).toThrow(/'finalDivFactor' must be in \(0, inf\)/);
    expect(() => resolveConfig("smoke", { emaDecay: 1.5 })).toThrow(/'emaDecay' must be in \[0, 1\], got 1.5/);
    expect(() => resolveConfig("smoke", { beta2: 1 })).toThrow(/'beta2' must be in \[0, 1\), got 1/);
    expect(() => resolveConfig("smoke", { weightDecay: -1e-5 })).toThrow(/'weightDecay' must be in \[0, inf\)/);
    expect(() => resolveConfig("smoke", { gumbelTau: 0 })).toThrow(/'gumbelTau' must be in \(0, inf\)/);
    expect(() => resolveConfig("smoke", { betaStart: 0.03 })).toThrow(/betaStart < betaEnd/);
    expect(() => resolveConfig("smoke", { seed: -1 })).toThrow(/'seed' must be in \[0, 4294967295\], got -1/);
    expect(() => resolveConfig("smoke", { runs: 0 })).toThrow(/'runs' must be in \[1, inf\), got 0/);
    expect(() => resolveConfig("smoke", { datasetSize: 64, batchSize: 64, epochs: 1, pctStart: 1 / 1 })).toThrow(/'pctStart' must be in \(0, 1\)/);
    expect(() => resolveConfig("smoke", { datasetSize: 64, batchSize: 64, epochs: 4, pctStart: 0.25 })).toThrow(/warm-up of zero length over 4 steps/);
  });
});

describe("4. one model per task, one writer per folder", () => {
  it("a variant or seed listed twice is an error, in the CLI and in the library", async () => {
    expect(() => parseArgs(["--variant", "cnn,cnn"])).toThrow(/--variant lists 'cnn' twice/);
    await expect(experiment(tiny(), path.join(tmp(), "d"), ["cnn", "cnn"])).rejects.toThrow(/variant cnn is listed twice/);
  });

  it("a second writer gets an error naming the first; a lock left by a killed run is taken over", async () => {
    const out = path.join(tmp(), "shared");
    const holder = spawn("sleep", ["60"]);
    try {
      const release = lockOutputDir(out, "npm run experiment -- --profile quick (another run)", { pid: holder.pid! });
      await expect(experiment(tiny(), out, ["cnn"])).rejects.toThrow(new RegExp(`output folder .*shared is in use by another run \\(pid ${holder.pid} .*another run\\)`));
      expect(fs.existsSync(path.join(out, "results.json"))).toBe(false);
      holder.kill("SIGKILL");
      await new Promise((r) => holder.once("exit", r));
      const r = await experiment(tiny(), out, ["cnn"]); // the owner is dead: its lock is taken over
      expect(r.runs.length).toBe(2);
      release(); // the dead owner's release must not remove a lock it no longer holds
      expect(fs.existsSync(path.join(out, ".lock"))).toBe(false);
    } finally {
      holder.kill("SIGKILL");
    }
  });

  it("two configs in turn into one folder leave config.json and results.json agreeing", async () => {
    const out = path.join(tmp(), "two");
    await experiment(tiny({ epochs: 2 }), out, ["cnn"]);
    await experiment(tiny({ epochs: 3 }), out, ["cnn"]);
    const config = JSON.parse(fs.readFileSync(path.join(out, "config.json"), "utf8"));
    const results = JSON.parse(fs.readFileSync(path.join(out, "results.json"), "utf8"));
    expect(config.config).toEqual(results.config);
    expect(results.config.epochs).toBe(3);
  });

  it("two CLI runs at once into one folder: the second stops with an error naming the first, which finishes", () => {
    const out = path.join(tmp(), "cli");
    const cmd = `${ROOT}/node_modules/.bin/ts-node --transpile-only src/cli/experiment.ts --profile smoke --variant cnn --epochs 2 --datasetSize 128 --samples 2000 --sampleBatch 2000 --runs 8 --workers 1 --out ${out} --data ${out}-data`;
    // B starts once A holds the folder (A's 8 sampling runs take several seconds more).
    const script = `${cmd} > ${out}.a.log 2>&1 & a=$!
      for i in $(seq 600); do [ -e ${out}/.lock ] && break; sleep 0.1; done
      ${cmd} > ${out}.b.log 2>&1; echo "b=$?"; wait $a; echo "a=$?"`;
    const r = spawnSync("bash", ["-c", script], { cwd: ROOT, encoding: "utf8", timeout: 180_000 });
    const logs = `${r.stdout}\n${fs.readFileSync(`${out}.a.log`, "utf8")}\n${fs.readFileSync(`${out}.b.log`, "utf8")}`;
    expect(r.stdout.trim().split("\n"), logs).toEqual(["b=1", "a=0"]);
    expect(fs.readFileSync(`${out}.b.log`, "utf8")).toMatch(/error: output folder .*cli is in use by another run \(pid \d+ .*--out \S*cli --data/);
    expect(fs.existsSync(path.join(out, ".lock"))).toBe(false);
  });
});

describe("5. --runs and --seeds mean what --help says", () => {
  it("a bare integer is a count; a range or list is a slice; config.json records what ran", async () => {
    expect(parseArgs(["--runs", "2"])).toMatchObject({ runs: null, overrides: { runs: 2 } });
    expect(parseArgs(["--seeds", "3"])).toMatchObject({ seeds: null, overrides: { seeds: 3 } });
    expect(parseArgs(["--runs", "5-5"])).toMatchObject({ runs: [5] });
    expect(parseArgs(["--runs", "0,3"])).toMatchObject({ runs: [0, 3] });
    expect(() => parseArgs(["--runs", "0"])).toThrow(/count must be at least 1/);
    const out = path.join(tmp(), "count");
    const a = parseArgs(["--runs", "3", "--seeds", "2"]);
    const cfg = tiny(a.overrides);
    const r = await experiment(cfg, out, ["cnn"]);
    expect(r.runs.length).toBe(6);
    expect(new Set(r.runs.map((x) => x.seed))).toEqual(new Set([0, 1]));
    const config = JSON.parse(fs.readFileSync(path.join(out, "config.json"), "utf8"));
    expect(config.config).toMatchObject({ runs: 3, seeds: 2 });
    expect(config.selection).toMatchObject({ seeds: [0, 1], runs: [0, 1, 2] });
    const md = fs.readFileSync(path.join(out, "table1.md"), "utf8");
    expect(md).not.toMatch(/± 0\.00 %.*\n.*cnn/); // a count of 3 is not one run with no spread
  });

  it("the Slurm example selects one model per task with a slice, not a count", () => {
    const script = fs.readFileSync(path.join(ROOT, "scripts", "slurm-array.sh"), "utf8");
    const seeds = /--seeds "([^"]+)"/.exec(script);
    expect(seeds?.[1]).toBe("$seed-$seed");
    const cfg = resolveConfig("paper");
    const [lo, hi] = /--array=(\d+)-(\d+)/.exec(script)!.slice(1).map(Number);
    expect(hi - lo + 1).toBe(4 * studyModels(cfg).length);
    expect(parseArgs(["--seeds", "5-5"])).toMatchObject({ seeds: [5] });
  });

  it("seeds name models across dataset draws; a seed outside the study is refused", () => {
    const cfg = tiny({ datasets: 3, seeds: 2, seed: 10 });
    expect(studyModels(cfg)).toEqual([
      { dataSeed: 0, seed: 10 }, { dataSeed: 0, seed: 11 }, { dataSeed: 1, seed: 12 },
      { dataSeed: 1, seed: 13 }, { dataSeed: 2, seed: 14 }, { dataSeed: 2, seed: 15 },
    ]);
    expect(dataSeedOf(cfg, 13)).toBe(1);
    expect(() => dataSeedOf(cfg, 16)).toThrow(/training seed 16 is not in this study \(3 dataset draws x 2 seeds: training seeds 10-15\)/);
    expect(() => dataSeedOf(cfg, 9)).toThrow(/training seed 9 is not in this study/);
    expect(dataSeedOf(tiny(), 7)).toBe(0); // one draw: every seed trains on it
  });

  it("empty paths are refused", async () => {
    expect(() => parseArgs(["--out="])).toThrow(/--out needs a folder, got an empty path/);
    expect(() => parseArgs(["--data", ""])).toThrow(/--data needs a folder/);
    await expect(experiment(tiny(), "", ["cnn"])).rejects.toThrow(/output folder is an empty path/);
  });
});

describe("6. scripts/pipeline.sh passes overrides and the profile as given", () => {
  const dry = (env: Record<string, string>, args: string[] = []) =>
    spawnSync("bash", [path.join(ROOT, "scripts", "pipeline.sh"), "--dry-run", ...args], { encoding: "utf8", env: { ...process.env, PROFILE: "", OUT_DIR: "", OVERRIDES: "", ...env } });

  it("an override value is one flag, never split into more", () => {
    const r = dry({ OVERRIDES: JSON.stringify({ seed: "0 --lr NaN", epochs: 3 }) });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain("--seed=0\\ --lr\\ NaN --epochs=3");
    expect(() => parseArgs(["--seed=0 --lr NaN"])).toThrow(/'seed' expects a number, got "0 --lr NaN"/);
  });

  it("PROFILE and OUT_DIR from the environment are used; a flag wins", () => {
    expect(dry({ PROFILE: "smoke", OUT_DIR: "/tmp/p-out" }).stdout).toMatch(/profile smoke, out \/tmp\/p-out\n/);
    expect(dry({ PROFILE: "smoke" }, ["--profile", "paper"]).stdout).toMatch(/profile paper,/);
    const bad = dry({ PROFILE: "huge" });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/unknown profile 'huge'/);
  });

  it("an override that is not a number, string or boolean is an error naming key and value", () => {
    const r = dry({ OVERRIDES: '{"epochs":{"a":1}}' });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/OVERRIDES key "epochs" must be a number, string or boolean, got \{"a":1\}/);
    expect(dry({ OVERRIDES: "[1]" }).stderr).toMatch(/OVERRIDES must be a JSON object/);
    expect(dry({}, ["--out="]).stderr).toMatch(/--out needs a folder/);
  });

  it.skipIf(!fs.existsSync("/usr/bin/jupyter"))("a tslab kernel left by a moved clone is an error before any training", () => {
    // JUPYTER_PATH comes first in Jupyter's kernel search, so this spec shadows the machine's.
    const jp = tmp();
    fs.mkdirSync(path.join(jp, "kernels", "tslab"), { recursive: true });
    fs.writeFileSync(path.join(jp, "kernels", "tslab", "kernel.json"), JSON.stringify({ argv: ["/gone/clone/node_modules/.bin/tslab", "kernel", "--config-path", "{connection_file}"], display_name: "TypeScript", language: "typescript" }));
    const out = path.join(tmp(), "out");
    const r = spawnSync("bash", [path.join(ROOT, "scripts", "pipeline.sh"), "--profile", "smoke", "--out", out], { encoding: "utf8", timeout: 120_000, env: { ...process.env, PROFILE: "", OUT_DIR: "", OVERRIDES: "", JUPYTER_PATH: jp } });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/the tslab Jupyter kernel runs \/gone\/clone\/node_modules\/\.bin\/tslab, which does not exist/);
    expect(fs.existsSync(path.join(out, "checkpoints")), "trained before checking the kernel").toBe(false);
    expect(fs.existsSync(path.join(out, ".lock")), "left its lock behind").toBe(false);
  });
});

describe("7. smaller cases", () => {
  it("an output folder that cannot be created is an error at once, naming it", async () => {
    const t0 = Date.now();
    await expect(experiment(tiny(), "/proc/nope", ["cnn"])).rejects.toThrow(/cannot create output folder \/proc\/nope/);
    expect(Date.now() - t0).toBeLessThan(5000);
    const r = spawnSync(path.join(ROOT, "node_modules", ".bin", "ts-node"), ["--transpile-only", "src/cli/experiment.ts", "--profile", "smoke", "--out", "/proc/nope"], { cwd: ROOT, encoding: "utf8", timeout: 60_000 });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/error: cannot create output folder \/proc\/nope/);
  });

  it("notebook parameters given as text are checked", () => {
    expect(() => intParam("SHOW_IMAGES", "abc", { min: 1 })).toThrow(/notebook parameter SHOW_IMAGES must be an integer in \[1, \d+\], got 'abc'/);
    expect(() => intParam("GRID", "0", { min: 1, max: 32 })).toThrow(/GRID must be an integer in \[1, 32\], got '0'/);
    expect(intParam("GRID", " 8 ", { min: 1 })).toBe(8);
    expect(() => choiceParam("COLOURS", "rgb", ["raw", "palette"])).toThrow(/COLOURS must be one of raw, palette, got 'rgb'/);
    for (const nb of ["01_dataset", "08_figures", "09_score_machines"]) {
      const text = fs.readFileSync(path.join(ROOT, "notebooks", `${nb}.ipynb`), "utf8");
      expect(text, `${nb} reads a number from the environment without checking it`).not.toMatch(/Number\(process\.env/);
    }
  });
});
