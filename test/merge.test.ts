/** Slices of one experiment (--runs 0 / --runs 1) merge into the table of the whole experiment. */
import { spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../src/backend";
import { resolveConfig } from "../src/config";
import { lockOutputDir } from "../src/experiment/lock";
import { mergeDirs } from "../src/experiment/merge";
import { retableDir } from "../src/experiment/retable";
import { atomicFs } from "../src/io/atomic";
import { runExperiment } from "../src/experiment/run";

beforeAll(async () => {
  await initBackend();
});

describe("merge", () => {
  it("merging run slices gives the full experiment's table", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "merge-"));
    const cfg = resolveConfig("smoke", { datasetSize: 128, epochs: 2, samples: 32, sampleBatch: 32, runs: 2, workers: 1 });
    const common = { cfg, variants: ["cnn", "identity"] as const, profile: "test", log: () => {}, progressWrite: () => {} };
    const paths = (name: string) => ({ outDir: path.join(dir, name), dataDir: path.join(dir, "data") });
    const full = await runExperiment({ ...common, paths: paths("full") });
    await runExperiment({ ...common, paths: paths("a"), runs: [0] });
    await runExperiment({ ...common, paths: paths("b"), runs: [1] });
    const merged = mergeDirs(path.join(dir, "merged"), [path.join(dir, "a"), path.join(dir, "b")]);
    expect(merged.runs.length).toBe(4);
    expect(merged.table1).toEqual(full.table1);
    expect(fs.readFileSync(path.join(dir, "merged", "table1.csv"), "utf8")).toBe(fs.readFileSync(path.join(dir, "full", "table1.csv"), "utf8"));
    // slices with a different config are refused
    const other = resolveConfig("smoke", { datasetSize: 128, epochs: 3, samples: 32, sampleBatch: 32, runs: 1, workers: 1 });
    await runExperiment({ ...common, cfg: other, paths: paths("c") });
    expect(() => mergeDirs(path.join(dir, "bad"), [path.join(dir, "a"), path.join(dir, "c")])).toThrow(/different config/);
    // re-tabling a folder from its results.json alone gives its table, elsewhere, and never over the input unasked
    const re = retableDir(path.join(dir, "full"), path.join(dir, "re"));
    expect(re.table1).toEqual(full.table1);
    expect(fs.readFileSync(path.join(dir, "re", "table1.csv"), "utf8")).toBe(fs.readFileSync(path.join(dir, "full", "table1.csv"), "utf8"));
    expect(fs.readFileSync(path.join(dir, "re", "table1.md"), "utf8")).toBe(fs.readFileSync(path.join(dir, "full", "table1.md"), "utf8"));
    const saved = JSON.parse(fs.readFileSync(path.join(dir, "re", "results.json"), "utf8"));
    expect(fs.existsSync(path.resolve(dir, "re", saved.training[0].checkpoint))).toBe(true); // paths still name the input's files
    expect(() => retableDir(path.join(dir, "full"), path.join(dir, "full"))).toThrow(/is the input folder; pass the in-place flag/);
  });
});

/** Issue 16, case 2: merge compares every key that changes a number and keys runs by their draw. */
describe("merge refuses what it cannot combine", () => {
  const tiny = (o: Record<string, unknown> = {}) => resolveConfig("smoke", { datasetSize: 128, epochs: 2, samples: 32, sampleBatch: 32, runs: 2, workers: 1, ...o });
  const quiet = { profile: "test", log: () => {}, progressWrite: () => {} };
  let dir = "";
  const run = (name: string, cfg: ReturnType<typeof tiny>, o: { variants?: ("cnn" | "identity")[]; seeds?: number[]; runs?: number[] } = {}) =>
    runExperiment({ cfg, variants: o.variants ?? ["cnn"], ...quiet, paths: { outDir: path.join(dir, name), dataDir: path.join(dir, "data") }, seeds: o.seeds, runs: o.runs });
  const at = (name: string) => path.join(dir, name);

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "merge2-"));
    await run("r2", tiny({ runs: 2 }));
    await run("r4", tiny({ runs: 4 }), { runs: [2, 3] });
  });

  it("a --runs 2 folder and a --runs 4 folder: an error naming both values, in either order", () => {
    expect(() => mergeDirs(at("m1"), [at("r2"), at("r4")])).toThrow(/merge: .*r4 was run with a different config than .*r2: runs 4 vs 2; only slices of one study merge/);
    expect(() => mergeDirs(at("m2"), [at("r4"), at("r2")])).toThrow(/merge: .*r2 was run with a different config than .*r4: runs 2 vs 4/);
    expect(fs.existsSync(path.join(at("m1"), "results.json"))).toBe(false);
  });

  it("sampling keys, seeds, draws, maxNonFinite and useEma must match too; workers and theory may differ", async () => {
    for (const [key, value] of [["sampleSeed", 7], ["samples", 16], ["maxNonFinite", 0.5], ["useEma", false], ["seeds", 2], ["datasets", 2]] as const) {
      const name = `k-${key}`;
      await run(name, tiny({ [key]: value, ...(key === "samples" ? { sampleBatch: 16 } : {}) }), { seeds: [0], runs: [0] });
      expect(() => mergeDirs(at(`m-${key}`), [at("r2"), at(name)]), key).toThrow(new RegExp(`different config than .*r2: ${key} ${value} vs `));
    }
    await run("w2", tiny({ runs: 2, workers: 2, theory: false }), { variants: ["identity"] });
    const merged = mergeDirs(at("m-ok"), [at("r2"), at("w2")]);
    expect(merged.runs.length).toBe(4);
  });

  it("runs are keyed by dataset draw: slices of a 2-draw study give 4 models, not 2 pooled ones", async () => {
    const cfg = tiny({ datasets: 2, seeds: 2 });
    const full = await run("full2", cfg);
    await run("s01", cfg, { seeds: [0, 1] });
    await run("s23", cfg, { seeds: [2, 3] });
    const merged = mergeDirs(at("m-draws"), [at("s01"), at("s23")]);
    expect(merged.training.length).toBe(4);
    expect(new Set(merged.runs.map((r) => `${r.dataSeed}/${r.seed}`))).toEqual(new Set(["0/0", "0/1", "1/2", "1/3"]));
    expect(merged.table1).toEqual(full.table1);
    // a slice recorded on another draw than this study gives its seed is refused
    const doctored = JSON.parse(fs.readFileSync(path.join(at("s23"), "results.json"), "utf8"));
    doctored.runs[0].dataSeed = 0;
    fs.mkdirSync(at("bad-draw"));
    fs.writeFileSync(path.join(at("bad-draw"), "results.json"), JSON.stringify(doctored));
    expect(() => mergeDirs(at("m-bad"), [at("s01"), at("bad-draw")])).toThrow(/cnn seed [23] in .*bad-draw is recorded on dataset draw 0, but in this study seed [23] trains on draw 1/);
  });

  it("an OUT_DIR that is, holds or lies in an input (symlinks too) is refused, and the input is untouched", () => {
    const before = fs.readFileSync(path.join(at("r2"), "table1.md"), "utf8");
    expect(() => mergeDirs(at("r2"), [at("r2"), at("w2")])).toThrow(/merge: the output folder .*r2 is the input .*r2/);
    fs.symlinkSync(at("r2"), at("link"));
    expect(() => mergeDirs(at("link"), [at("r2"), at("w2")])).toThrow(/merge: the output folder .*link is the input .*r2/);
    expect(() => mergeDirs(dir, [at("r2"), at("w2")])).toThrow(/contains the input/);
    expect(() => mergeDirs(path.join(at("r2"), "merged"), [at("r2"), at("w2")])).toThrow(/is inside the input/);
    expect(() => mergeDirs(at("m-twice"), [at("r2"), at("link")])).toThrow(/is listed twice/);
    expect(fs.readFileSync(path.join(at("r2"), "table1.md"), "utf8")).toBe(before);
  });

  it("an OUT_DIR or an input that a running experiment holds is refused; merge holds OUT_DIR's lock while it writes", async () => {
    const holder = spawn("sleep", ["30"]);
    try {
      const release = lockOutputDir(at("busy"), "npm run experiment (still running)", { pid: holder.pid! });
      expect(() => mergeDirs(at("busy"), [at("r2"), at("w2")])).toThrow(/output folder .*busy is in use by another run \(pid \d+ .*still running\)/);
      expect(fs.existsSync(path.join(at("busy"), "results.json"))).toBe(false);
      release();
      const r2lock = lockOutputDir(at("r2"), "npm run experiment (writing r2)", { pid: holder.pid! });
      expect(() => mergeDirs(at("m-while"), [at("r2"), at("w2")])).toThrow(/merge: the input .*r2 is being written by a running experiment \(pid \d+ .*writing r2\)/);
      r2lock();
    } finally {
      holder.kill("SIGKILL");
    }
    let lockedWhileWriting = false;
    const real = atomicFs.writeSync;
    atomicFs.writeSync = (fd, buf, off, len) => {
      if (/results\.json\./.test(fs.readlinkSync(`/proc/self/fd/${fd}`))) lockedWhileWriting = fs.existsSync(path.join(at("m-locked"), ".lock"));
      return real(fd, buf, off, len);
    };
    try {
      mergeDirs(at("m-locked"), [at("r2"), at("w2")]);
    } finally {
      atomicFs.writeSync = real;
    }
    expect(lockedWhileWriting).toBe(true);
    expect(fs.existsSync(path.join(at("m-locked"), ".lock"))).toBe(false);
    const config = JSON.parse(fs.readFileSync(path.join(at("m-locked"), "config.json"), "utf8"));
    expect(config.config).toEqual(JSON.parse(fs.readFileSync(path.join(at("m-locked"), "results.json"), "utf8")).config);
  });
});
