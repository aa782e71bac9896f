/**
 * No silent wrong results, round 2 (issue 16), the cases that run in this process: writes on a full
 * disk (an injected short write or ENOSPC, for results, tables, checkpoints, run records and
 * samples), caches that must not forget a setting (maxNonFinite, config.json, the samples readers),
 * selections that select nothing or twice, absurd sizes, locks of another host, and the theory and
 * discriminate entries on missing models. The cases that need other processes (signals, two runs
 * starting together, a real full file system, the notebook server, every entry point's flags) are in
 * reliability-processes.test.ts. Numbered as in the issue.
 */
import { spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../src/backend";
import { parseArgs } from "../src/cli/args";
import { discriminateMain, parseCheckpointList } from "../src/cli/discriminate";
import { theoryMain } from "../src/cli/theory";
import { resolveConfig } from "../src/config";
import { datasetImages, generateDataset } from "../src/data/dataset";
import { imagesToTokens } from "../src/data/layout";
import { lockOutputDir } from "../src/experiment/lock";
import { checkpointPath, runResultPath, samplesPath, sampleTask, trainTask } from "../src/experiment/tasks";
import { atomicFs, writeFileAtomic } from "../src/io/atomic";
import { loadNpy } from "../src/io/npy";
import { readCheckpoint, saveCheckpoint } from "../src/train/checkpoint";
import { initTrainState, makeContext } from "../src/train/state";
import { recordedSamples } from "../scripts/sample-range";
import { mismatch } from "../scripts/publish-results";
import { experiment, tiny, tmpDir } from "./helpers/tiny-study";

const tmp = () => tmpDir("reliab2-");
/** Every file under `dir` (relative), with its bytes. */
const snapshot = (dir: string): Map<string, string> => new Map(
  (fs.readdirSync(dir, { recursive: true }) as string[]).filter((f) => fs.statSync(path.join(dir, f)).isFile()).sort().map((f) => [f, fs.readFileSync(path.join(dir, f)).toString("base64")]),
);
const tempFiles = (dir: string) => (fs.readdirSync(dir, { recursive: true }) as string[]).filter((f) => /\.tmp$|\.new$/.test(f));

/**
 * Make writes into temp files of targets matching `target` fail like a full disk: the first call
 * writes half of what it was given (a short write, as write(2) does on a nearly full disk), the next
 * throw ENOSPC. The first `skip` matching calls pass. Returns the number of failures so far.
 */
function fullDiskFor(target: RegExp, o: { skip?: number } = {}): () => number {
  let seen = 0;
  let failures = 0;
  let short = false;
  atomicFs.writeSync = (fd, buf, off, len) => {
    if (!target.test(fs.readlinkSync(`/proc/self/fd/${fd}`)) || seen++ < (o.skip ?? 0)) return fs.writeSync(fd, buf, off, len);
    if (!short && len > 1) {
      short = true;
      return fs.writeSync(fd, buf, off, Math.floor(len / 2));
    }
    failures++;
    throw Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" });
  };
  return () => failures;
}
const realWrite = atomicFs.writeSync;

beforeAll(async () => {
  await initBackend();
});

afterEach(() => {
  atomicFs.writeSync = realWrite;
});

describe("1. a full disk: every write completes or leaves the previous file untouched", () => {
  it("short writes are continued until every byte is written", () => {
    const file = path.join(tmp(), "a.bin");
    const data = Buffer.from(Array.from({ length: 10_000 }, (_, i) => i % 251));
    atomicFs.writeSync = (fd, buf, off, len) => fs.writeSync(fd, buf, off, Math.min(len, 777)); // at most 777 bytes per call
    writeFileAtomic(file, data);
    expect(fs.readFileSync(file).equals(data)).toBe(true);
  });

  it("an experiment whose every write is short writes whole files: the same tables as without", async () => {
    const dir = tmp();
    const plain = await experiment(tiny(), path.join(dir, "plain"), ["cnn"]);
    atomicFs.writeSync = (fd, buf, off, len) => fs.writeSync(fd, buf, off, Math.min(len, 1000));
    const short = await experiment(tiny(), path.join(dir, "short"), ["cnn"]);
    atomicFs.writeSync = realWrite;
    expect(short.table1).toEqual(plain.table1);
    const out = path.join(dir, "short");
    const json = (d: string) => JSON.parse(fs.readFileSync(path.join(dir, d, "results.json"), "utf8"));
    expect(json("short").table1).toEqual(json("plain").table1);
    expect(() => readCheckpoint(short.training[0].checkpoint)).not.toThrow();
    expect(loadNpy(short.runs.find((r) => r.npy)!.npy!).shape).toEqual([32, 4, 4, 3]);
    expect(fs.readFileSync(path.join(out, "table1.csv"), "utf8")).toBe(fs.readFileSync(path.join(dir, "plain", "table1.csv"), "utf8"));
  });

  it("results.json and the tables: the error names the file, and the previous set (config.json too) stays whole", async () => {
    const dir = tmp();
    const out = path.join(dir, "r");
    await experiment(tiny(), out, ["cnn"]);
    const before = snapshot(out);
    for (const [name, re] of [["results.json", /results\.json\./], ["table1.md", /table1\.md\./], ["config.json", /config\.json\./]] as const) {
      fullDiskFor(re);
      // another config of the same folder: its results would replace every file of the set
      await expect(experiment(tiny({ epochs: 3 }), out, ["cnn"])).rejects.toThrow(new RegExp(`cannot write \\S*${name.replace(".", "\\.")}: ENOSPC: no space left on device, write; the previous version of \\S*${name.replace(".", "\\.")} is intact`));
      atomicFs.writeSync = realWrite;
      for (const f of ["results.json", "table1.csv", "table1.md", "runs.csv", "losses.csv", "config.json"]) expect(snapshot(out).get(f), `${f} after ENOSPC on ${name}`).toBe(before.get(f));
      expect(tempFiles(out)).toEqual([]);
      expect(fs.existsSync(path.join(out, ".lock"))).toBe(false);
    }
    const ok = await experiment(tiny({ epochs: 3 }), out, ["cnn"]);
    expect(JSON.parse(fs.readFileSync(path.join(out, "results.json"), "utf8")).config.epochs).toBe(3);
    expect(ok.runs.every((r) => r.status === "reused")).toBe(true); // the runs made before the full disk were kept
  });

  it("a checkpoint: the error names it, the last good checkpoint is kept, and training resumes from it", () => {
    const dir = tmp();
    const paths = { outDir: dir, dataDir: path.join(dir, "data") };
    const cfg = tiny({ epochs: 3 });
    const file = checkpointPath(paths, cfg, "attention", 0);
    const failures = fullDiskFor(/\.ckpt\.json\./, { skip: 1 }); // epoch 1 saves, epoch 2 meets a full disk
    expect(() => trainTask(cfg, paths, "attention", 0)).toThrow(new RegExp(`cannot write ${file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: ENOSPC: no space left on device, write; the previous version of \\S+ is intact`));
    expect(failures()).toBe(1);
    atomicFs.writeSync = realWrite;
    expect(readCheckpoint(file).epoch).toBe(1); // whole and sealed
    expect(tempFiles(path.join(dir, "checkpoints"))).toEqual([]);
    const resumed = trainTask(cfg, paths, "attention", 0);
    expect(resumed.status).toBe("resumed");
    const fresh = trainTask(cfg, { outDir: path.join(dir, "fresh"), dataDir: paths.dataDir }, "attention", 0);
    expect(resumed.weightsSha256).toBe(fresh.weightsSha256);
  });

  it("a samples file or a run record: the error names it, nothing half-written is left, a rerun samples the run again", () => {
    const dir = tmp();
    const paths = { outDir: dir, dataDir: path.join(dir, "data") };
    const cfg = tiny();
    trainTask(cfg, paths, "cnn", 0);
    const npy = samplesPath(paths, cfg, "cnn", 0, 0, "ema");
    const rec = runResultPath(paths, cfg, "cnn", 0, 0, "ema");
    fullDiskFor(/\.npy\./);
    expect(() => sampleTask(cfg, paths, "cnn", 0, 0, "ema", { saveNpy: true })).toThrow(new RegExp(`cannot write \\S*cnn-data0-seed0-run0-ema-\\w+\\.npy: ENOSPC.*; \\S+\\.npy was not created`));
    expect(fs.existsSync(npy)).toBe(false);
    expect(fs.existsSync(rec)).toBe(false);
    fullDiskFor(/runs\/.*\.json\./);
    expect(() => sampleTask(cfg, paths, "cnn", 0, 0, "ema", { saveNpy: true })).toThrow(new RegExp(`cannot write \\S*runs/cnn-data0-seed0-run0-ema-\\w+\\.json: ENOSPC.*was not created`));
    atomicFs.writeSync = realWrite;
    expect(fs.existsSync(rec)).toBe(false);
    expect(tempFiles(dir)).toEqual([]);
    const again = sampleTask(cfg, paths, "cnn", 0, 0, "ema", { saveNpy: true });
    expect(again.status).toBe("sampled");
    expect(loadNpy(npy).shape).toEqual([32, 4, 4, 3]);
  });
});

// 2. merge: in test/merge.test.ts, beside the merge test.

describe("3. caches record every setting that decides whether they may be used", () => {
  it("a run recorded under maxNonFinite 1 with every sample diverged is not reused under the default", async () => {
    const dir = tmp();
    const out = path.join(dir, "nf");
    const paths = { outDir: out, dataDir: path.join(dir, "data") };
    const loose = tiny({ maxNonFinite: 1 });
    trainTask(loose, paths, "cnn", 0);
    // the same model with finite but absurd EMA weights: its sampling chains diverge
    const file = checkpointPath(paths, loose, "cnn", 0);
    const ck = readCheckpoint(file);
    const ctx = makeContext(loose, imagesToTokens(datasetImages(generateDataset({ size: 128, seed: 0 }))));
    const s = initTrainState(ctx, "cnn", 0);
    Object.assign(s, { step: ck.totalSteps, epoch: ck.epoch, totalSteps: ck.totalSteps, ema: Float32Array.from(s.theta, (x) => x * 1e18) });
    saveCheckpoint(file, ctx, s);
    const r = await experiment(loose, out, ["cnn"]);
    expect(r.runs.every((x) => x.nonFiniteSamples === 32)).toBe(true); // allowed by maxNonFinite 1
    await expect(experiment(tiny(), out, ["cnn"])).rejects.toThrow(/sampling run 0 of cnn .*: 32 of 32 samples hold non-finite values, more than maxNonFinite 0.001 allows; nothing was scored/);
    expect(JSON.parse(fs.readFileSync(path.join(out, "results.json"), "utf8")).config.maxNonFinite).toBe(1);
  });

  it("a failed rerun with another config leaves config.json beside the results it describes; publish-results checks the pair", async () => {
    const out = path.join(tmp(), "cfg");
    const good = resolveConfig("smoke", { epochs: 20, datasetSize: 128, samples: 64, sampleBatch: 64, runs: 2, workers: 1 });
    await experiment(good, out, ["attention"]);
    await expect(experiment({ ...good, lr: 100 }, out, ["attention"])).rejects.toThrow(/non-finite|maxNonFinite/);
    const config = JSON.parse(fs.readFileSync(path.join(out, "config.json"), "utf8"));
    const results = JSON.parse(fs.readFileSync(path.join(out, "results.json"), "utf8"));
    expect(config.config.lr).toBe(0.001);
    expect(config.config).toEqual(results.config);
    expect(mismatch(out)).toBeNull();
    // a pair that does not belong together is refused by publish-results
    fs.writeFileSync(path.join(out, "config.json"), JSON.stringify({ ...config, config: { ...config.config, lr: 0.3 } }));
    expect(mismatch(out)).toMatch(/config.json and results.json differ in lr \(0.3 vs 0.001\)/);
    fs.writeFileSync(path.join(out, "config.json"), JSON.stringify(config));
    fs.appendFileSync(path.join(out, "table1.csv"), "x\n");
    expect(mismatch(out)).toMatch(/table1.csv was not made from this results.json/);
  });

  it("sample-range reads only the samples files results.json records, each checked", async () => {
    const dir = tmp();
    const out = path.join(dir, "sr");
    const a = await experiment(tiny({ epochs: 2 }), out, ["cnn"]);
    const stale = a.runs.find((r) => r.npy)!.npy!;
    const b = await experiment(tiny({ epochs: 3 }), out, ["cnn"]); // samples/ now holds the 2-epoch file too
    const current = b.runs.find((r) => r.npy)!.npy!;
    expect(fs.existsSync(stale) && stale !== current).toBe(true);
    expect(recordedSamples(out)).toEqual(new Map([["cnn", [current]]]));
    const bytes = fs.readFileSync(current);
    bytes[bytes.length - 1] ^= 0xff;
    fs.writeFileSync(current, bytes);
    expect(() => recordedSamples(out)).toThrow(/samples file .*\.npy was changed after the run recorded in .*results.json wrote it/);
    fs.rmSync(current);
    expect(() => recordedSamples(out)).toThrow(/samples file .*\.npy, recorded in .*results.json, is missing/);
  });
});

describe("4. selections that select nothing or twice are errors naming the value", () => {
  it("--runs 5-9 of a study of 2 runs; a range too long to hold", async () => {
    const out = path.join(tmp(), "sel");
    await expect(experiment(tiny(), out, ["cnn"], { runs: [5, 6, 7, 8, 9] })).rejects.toThrow(/--runs selects run\(s\) 5-9, which are not in this study: it has runs 0-1 \(config key runs = 2\)/);
    await expect(experiment(tiny(), out, ["cnn"], { runs: [1, 2] })).rejects.toThrow(/run\(s\) 2, which are not in this study/);
    expect(fs.existsSync(out)).toBe(false); // refused before the folder was touched
    const p = tiny({ protocolRuns: 4, datasets: 2, seeds: 1 });
    await expect(experiment(p, out, ["cnn"], { seeds: [1], runs: [3] })).rejects.toThrow(/the selection samples nothing: runs 3 of the selected models \(only the first model has runs 2-3\)/);
    expect(() => parseArgs(["--runs", "0-999999999"])).toThrow(/--runs '0-999999999' selects more than 1000000 indices/);
  });

  it("the same model twice in CHECKPOINTS or VARIANTS", () => {
    expect(() => parseCheckpointList("attention:0,attention:0")).toThrow(/CHECKPOINTS lists the model attention:0 twice/);
    expect(() => parseCheckpointList("attention:0-1,attention:1")).toThrow(/attention:1 twice/);
    expect(parseCheckpointList("attention:0,cnn:0").length).toBe(2);
  });
});

describe("5. sizes that cannot fit are config errors before any work, naming the key and the bound", () => {
  it("samples 1e12, runs 1e9 and others", async () => {
    expect(() => resolveConfig("smoke", { samples: 1e12 })).toThrow(/config key 'samples' must be at most 1000000 .*got 1000000000000/);
    expect(() => resolveConfig("smoke", { runs: 1_000_000_000 })).toThrow(/config key 'runs' must be at most 100000 .*got 1000000000/);
    expect(() => resolveConfig("smoke", { datasetSize: 1e9 })).toThrow(/'datasetSize' must be at most 1000000/);
    expect(() => resolveConfig("smoke", { sampleBatch: 1e8 })).toThrow(/'sampleBatch' must be at most 1000000/);
    expect(() => resolveConfig("smoke", { workers: 100000 })).toThrow(/'workers' must be at most 256/);
    expect(() => resolveConfig("smoke", { epochs: 1e6 })).toThrow(/'epochs' x 'top1EpochFactor' .* must be at most 1000000 epochs/);
    expect(() => resolveConfig("smoke", { datasets: 1000, seeds: 1000 })).toThrow(/'datasets' x 'seeds' \(1000 x 1000\) must be at most 10000 models/);
    expect(() => parseArgs(["--samples", "1e12"])).not.toThrow(); // a number; its size is checked by resolveConfig
    // each key fits, the study does not: refused before the folder is touched
    const out = path.join(tmp(), "big");
    const cfg = tiny({ runs: 100_000, seeds: 10 });
    await expect(experiment(cfg, out, ["cnn", "attention"])).rejects.toThrow(/this study has 2000000 sampling runs .* at most 250000 fit in one results.json/);
    expect(fs.existsSync(out)).toBe(false);
  });
});

describe("smaller cases", () => {
  it("a lock from another host is refused with the file to delete", () => {
    const out = tmp();
    fs.writeFileSync(path.join(out, ".lock"), JSON.stringify({ pid: 1, host: "elsewhere.example", procStart: null, startedAt: "2026-01-01T00:00:00Z", command: "npm run experiment", token: "x" }));
    expect(() => lockOutputDir(out, "test")).toThrow(new RegExp(`output folder ${out} is locked by a run on another host \\(pid 1 on elsewhere.example.*\\); this machine cannot tell whether it still runs. Check on elsewhere.example; if that run is over, delete ${out}/.lock and start again`));
  });

  it("a lock whose owner is alive and one whose owner died", async () => {
    const out = tmp();
    const holder = spawn("sleep", ["30"]);
    try {
      const release = lockOutputDir(out, "holder", { pid: holder.pid! });
      expect(JSON.parse(fs.readFileSync(path.join(out, ".lock"), "utf8")).pid).toBe(holder.pid); // whole content at once
      expect(() => lockOutputDir(out, "second")).toThrow(/in use by another run/);
      holder.kill("SIGKILL");
      await new Promise((r) => holder.once("exit", r));
      const mine = lockOutputDir(out, "second");
      mine();
      release();
      expect(fs.readdirSync(out)).toEqual([]); // no temp or stale files left
    } finally {
      holder.kill("SIGKILL");
    }
  });

  it("theory with OVERRIDES that do not match the experiment is an error naming the differing keys, not every variant skipped", async () => {
    const dir = tmp();
    const out = path.join(dir, "th");
    await experiment(tiny(), out, ["cnn"]);
    const env = { PROFILE: "smoke", OUT_DIR: out, DATA_DIR: path.join(dir, "data"), VARIANTS: "cnn", OVERRIDES: JSON.stringify({ datasetSize: 128, epochs: 3, samples: 32, sampleBatch: 32, runs: 2, checkpointEvery: 1 }) };
    await expect(theoryMain(env)).rejects.toThrow(/no trained model to compare in .*th:\n {2}cnn seed 0: no checkpoint at .*\nthe experiment in .*th ran with epochs 2; this command asks for epochs 3: set PROFILE and OVERRIDES as the experiment had them/);
    expect(fs.existsSync(path.join(out, "theory.json"))).toBe(false);
    await expect(theoryMain({ ...env, VARIANTS: "cnn,cnn" })).rejects.toThrow(/VARIANTS lists 'cnn' twice/);
  });

  it("discriminate naming a missing model is an error before any write (no dataset, no output)", async () => {
    const dir = tmp();
    const out = path.join(dir, "d");
    await experiment(tiny(), out, ["cnn"]);
    const data = path.join(dir, "fresh-data");
    const env = { PROFILE: "smoke", OUT_DIR: out, DATA_DIR: data, CHECKPOINTS: "cnn:0,attention:0", OVERRIDES: JSON.stringify({ datasetSize: 128, epochs: 2, samples: 32, sampleBatch: 32, runs: 2, checkpointEvery: 1, datasetSeed: 5 }) };
    const before = snapshot(out);
    await expect(discriminateMain(env)).rejects.toThrow(/2 of 2 model\(s\) are not trained in .*d:\n {2}cnn seed 0: no checkpoint at .*\n {2}attention seed 0: no checkpoint at .*\nthe experiment in .*d ran with datasetSeed 0; this command asks for datasetSeed 5/);
    expect(fs.existsSync(data)).toBe(false);
    expect(snapshot(out)).toEqual(before);
  });
});

describe("a run that outlives an edit of the library", () => {
  it("a worker started after src/ changed refuses to work, saying why", async () => {
    const { runTasks } = await import("../src/experiment/pool");
    const { TRAIN_TASKS } = await import("../src/experiment/tasks");
    const { resolveConfig } = await import("../src/config");
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "stamp-"));
    const cfg = resolveConfig("smoke", { datasetSize: 128, epochs: 2 });
    process.env.POOL_TEST_STAMP = "src a-fingerprint-of-other-code";
    try {
      await expect(runTasks([{ variant: "cnn", seed: 0 }, { variant: "cnn", seed: 1 }], {
        executor: TRAIN_TASKS, context: { cfg, paths: { outDir: dir, dataDir: path.join(dir, "data") } }, workers: 2,
      })).rejects.toThrow(/the library's code changed since this run started/);
      expect(fs.existsSync(path.join(dir, "checkpoints")), "nothing trained").toBe(false);
    } finally {
      delete process.env.POOL_TEST_STAMP;
    }
  });
});
