/**
 * Hostile cases of sweeps, sampling options and shared checkpoints, each one that gave a wrong
 * number with exit status 0, reused the wrong artefact, or crashed instead of saying what to do:
 * the sampling engine lost from a run's identity under a non-SPEC sampler form; run records whose
 * own fields contradict the request; merge refusing a Gumbel variant's runs under another top-1
 * rule; sweeps that sample nothing, grids too large to build, keys whose cells would share their
 * models; loadSweep accepting a cell's results.json copied from another cell; RUN "never" refusing
 * a published sweep; a variant file missing from the generated list; publish-sweep leaving an earlier
 * publication's cells.
 */
import { spawnSync } from "child_process";
import { createHash } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../src/backend";
import { parseSweepArgs } from "../src/cli/sweep";
import { ExperimentConfig } from "../src/config";
import { mergeResults, readResults } from "../src/experiment/merge";
import { runResultPath, samplingHash, trainingHash } from "../src/experiment/tasks";
import { unlistedVariantHint } from "../src/model/variant-registry";
import { gridCells, MAX_SWEEP_CELLS, parseAxis } from "../src/sweep/grid";
import { loadOrRunSweep, loadSweep } from "../src/sweep/load";
import { runSweep } from "../src/sweep/run";
import { sweepTableLines } from "../scripts/sweep-table";
import { experiment, quiet, tiny as tinyStudy, tmpDir } from "./helpers/tiny-study";

const ROOT = path.resolve(__dirname, "..");
const tiny = (o: Record<string, unknown> = {}) => tinyStudy({ runs: 1, seeds: 1, ...o });
const tmp = () => tmpDir("reliab-sweep-");

beforeAll(async () => {
  await initBackend();
});

describe("a sampling run's identity holds its engine under every sampler form", () => {
  it("six (engine, form) pairs, six hashes; the default engine's hashes as before", () => {
    const hashes = (["wasm", "tfjs"] as const).flatMap((sampleEngine) => (["ddpm", "ddpm-posterior", "clamp-x0"] as const).map((sampler) => samplingHash(tiny({ sampleEngine, sampler }), 0, "cnn")));
    expect(new Set(hashes).size).toBe(6);
    // the formula before the fix, for the default engine: runs already sampled keep their names
    const legacy = (cfg: ExperimentConfig) => createHash("sha256").update(JSON.stringify({
      train: trainingHash(cfg, 0), samples: cfg.samples, sampleBatch: cfg.sampleBatch, sampleSeed: cfg.sampleSeed, sampler: cfg.sampler === "ddpm" ? cfg.sampleEngine : cfg.sampler,
    })).digest("hex").slice(0, 10);
    for (const sampler of ["ddpm", "ddpm-posterior", "clamp-x0"] as const) expect(samplingHash(tiny({ sampler }), 0, "cnn")).toBe(legacy(tiny({ sampler })));
    expect(samplingHash(tiny({ sampleEngine: "tfjs" }), 0, "cnn")).toBe(legacy(tiny({ sampleEngine: "tfjs" })));
  });

  it("--sampler clamp-x0 --sampleEngine tfjs, then wasm, into one folder: the second run samples again with wasm", async () => {
    const out = path.join(tmp(), "out");
    const a = await experiment(tiny({ sampler: "clamp-x0", sampleEngine: "tfjs" }), out, ["cnn"]);
    expect(a.runs.map((r) => [r.engine, r.status])).toEqual([["tfjs", "sampled"]]);
    const b = await experiment(tiny({ sampler: "clamp-x0", sampleEngine: "wasm" }), out, ["cnn"]);
    expect(b.runs.map((r) => [r.engine, r.status])).toEqual([["wasm", "sampled"]]);
  }, 300_000);

  it("a record whose own engine, form or top-1 rule is not the request's is refused, whatever its name and hash say", async () => {
    const out = path.join(tmp(), "out");
    const cfg = tiny({ top1Sampling: "gumbel-hard" });
    await experiment(cfg, out, ["top1"]);
    const file = runResultPath({ outDir: out, dataDir: "" }, cfg, "top1", 0, 0, "ema");
    const record = JSON.parse(fs.readFileSync(file, "utf8"));
    for (const [k, v, says] of [["top1Sampling", "gumbel-soft", /top1Sampling: gumbel-soft vs gumbel-hard/], ["sampler", "clamp-x0", /sampler: clamp-x0 vs ddpm/], ["engine", "tfjs", /engine: tfjs vs wasm/]] as const) {
      fs.writeFileSync(file, JSON.stringify({ ...record, [k]: v }));
      await expect(experiment(cfg, out, ["top1"]), k).rejects.toThrow(says);
    }
    fs.writeFileSync(file, JSON.stringify(record));
    expect((await experiment(cfg, out, ["top1"])).runs[0].status).toBe("reused");
  }, 300_000);
});

describe("merge of a Gumbel variant's slices under another top-1 rule", () => {
  it("two --seeds slices of a top1 study with top1Sampling gumbel-hard merge", async () => {
    const dir = tmp();
    const cfg = tiny({ seeds: 2, top1Sampling: "gumbel-hard" });
    await experiment(cfg, path.join(dir, "a"), ["cnn", "top1"], { seeds: [0] });
    await experiment(cfg, path.join(dir, "b"), ["cnn", "top1"], { seeds: [1] });
    const merged = mergeResults(["a", "b"].map((d) => ({ dir: path.join(dir, d), results: readResults(path.join(dir, d)) })));
    expect(merged.runs.filter((r) => r.variant === "top1").length).toBe(2);
  }, 300_000);
});

describe("a sweep that cannot be what it says is an error before any work", () => {
  const cells = (argv: string[]) => {
    const s = parseSweepArgs(argv);
    return gridCells(s.args.profile, { protocolRuns: 0, ...s.args.overrides } as Record<string, number>, s.axes);
  };

  it("a grid of more than MAX_SWEEP_CELLS cells, at once and without building it", () => {
    const list = Array.from({ length: 10 }, (_, i) => String(i + 1)).join(",");
    const t0 = Date.now();
    expect(() => cells(["--profile", "smoke", "--epochs", list, "--samples", list, "--sampleSeed", list, "--batchSize", list, "--top1EpochFactor", list, "--checkpointEvery", list, "--seed", "0"]))
      .toThrow(new RegExp(`the grid has 1000000 cells .* more than ${MAX_SWEEP_CELLS}`));
    expect(Date.now() - t0).toBeLessThan(2000);
  });

  it("trainEngine (its cells would share one set of models) and protocolRuns (the design) cannot be swept", () => {
    expect(() => parseAxis("trainEngine", "wasm,tfjs")).toThrow(/'trainEngine' cannot be swept: the engines share checkpoints/);
    expect(() => cells(["--profile", "smoke", "--protocolRuns", "0,4"])).toThrow(/'protocolRuns' sets the study's design/);
  });

  it("a cell name longer than a folder name may be", () => {
    const axes = ["lr", "beta1", "beta2", "adamEps", "weightDecay", "pctStart", "divFactor", "finalDivFactor", "emaDecay", "gumbelTau", "betaStart", "baseMomentum"]
      .map((k) => parseAxis(k, k === "adamEps" ? "1.234567891234e-8,2.3456789123e-8" : "0.123456789012345,0.2345678901234567"));
    expect(() => gridCells("smoke", {}, axes)).toThrow(/longer than a folder name may be/);
  });

  it("--runs 5-6 of a study of 2 runs: refused, no folder written (it trained every model, sampled nothing and exited 0)", async () => {
    const out = path.join(tmp(), "out");
    const s = parseSweepArgs(["--variant", "cnn", "--profile", "smoke", "--epochs", "2,3", "--datasetSize", "128", "--runs", "5-6"]);
    const c = gridCells(s.args.profile, { protocolRuns: 0, ...s.args.overrides } as Record<string, number>, s.axes);
    await expect(runSweep({ profile: "smoke", variants: ["cnn"], axes: s.axes, cells: c, outDir: out, dataDir: path.join(out, "..", "data"), runs: s.args.runs ?? undefined, ...quiet }))
      .rejects.toThrow(/sweep: cell epochs-2: --runs selects run\(s\) 5-6, which are not in this study/);
    expect(fs.existsSync(out)).toBe(false);
  });
});

describe("a finished sweep is loaded only when every cell is what sweep.json says", () => {
  let dir: string;
  const axes = [parseAxis("top1Sampling", "argmax,gumbel-hard")];
  const base = { datasetSize: 128, epochs: 2, samples: 32, sampleBatch: 32, runs: 1, seeds: 1, datasets: 2, workers: 1, checkpointEvery: 1 };
  beforeAll(async () => {
    dir = path.join(tmp(), "sweep");
    await runSweep({ profile: "smoke", variants: ["cnn", "top1"], axes, cells: gridCells("smoke", { protocolRuns: 0, ...base }, axes), outDir: dir, dataDir: path.join(dir, "..", "data"), ...quiet });
  }, 600_000);
  const copy = () => {
    const to = path.join(tmp(), "copy");
    fs.cpSync(dir, to, { recursive: true });
    return to;
  };

  it("loads as it is; cnn's runs are the same in both cells, top1's are not", () => {
    const s = loadSweep(dir);
    const hashes = (cell: number, v: string) => s.cells[cell].results.runs.filter((r) => r.variant === v).map((r) => r.samplingHash);
    expect(hashes(0, "cnn")).toEqual(hashes(1, "cnn"));
    expect(hashes(0, "top1").some((h) => hashes(1, "top1").includes(h))).toBe(false);
  });

  it("a cell's results.json copied from the other cell, its config edited to match: refused", () => {
    const to = copy();
    const other = JSON.parse(fs.readFileSync(path.join(to, "cells", "top1Sampling-gumbel-hard", "results.json"), "utf8"));
    other.config.top1Sampling = "argmax";
    fs.writeFileSync(path.join(to, "cells", "top1Sampling-argmax", "results.json"), JSON.stringify(other));
    expect(() => loadSweep(to)).toThrow(/cell top1Sampling-argmax's results.json holds run 0 of top1 .* sampled under another config/);
  });

  it("a cell's results.json of other variants: refused", () => {
    const to = copy();
    const file = path.join(to, "cells", "top1Sampling-argmax", "results.json");
    const r = JSON.parse(fs.readFileSync(file, "utf8"));
    fs.writeFileSync(file, JSON.stringify({ ...r, meta: { ...r.meta, variants: ["cnn"] }, runs: r.runs.filter((x: { variant: string }) => x.variant === "cnn") }));
    expect(() => loadSweep(to)).toThrow(/results.json is of another study than sweep.json records \(variants: \["cnn"\] vs \["cnn","top1"\]\)/);
  });

  it("a cell's results.json with a run removed (or listed twice): refused", () => {
    const to = copy();
    const file = path.join(to, "cells", "top1Sampling-gumbel-hard", "results.json");
    const r = JSON.parse(fs.readFileSync(file, "utf8"));
    fs.writeFileSync(file, JSON.stringify({ ...r, runs: r.runs.slice(1) }));
    expect(() => loadSweep(to)).toThrow(/cell top1Sampling-gumbel-hard's results.json does not hold the cell's sampling runs \(missing cnn seed 0 run 0 ema\)/);
    fs.writeFileSync(file, JSON.stringify({ ...r, runs: [...r.runs.slice(1), r.runs[1]] }));
    expect(() => loadSweep(to)).toThrow(/missing cnn seed 0 run 0 ema; a run listed twice/);
  });

  it("sweep.json whose cell values contradict the cell's config: refused", () => {
    const to = copy();
    const file = path.join(to, "sweep.json");
    const s = JSON.parse(fs.readFileSync(file, "utf8"));
    s.cells[0].values.top1Sampling = "gumbel-hard";
    fs.writeFileSync(file, JSON.stringify(s));
    expect(() => loadSweep(to)).toThrow(/cell top1Sampling-argmax does not match its own values and config \(top1Sampling: gumbel-hard vs argmax\)/);
  });

  it("RUN never on a folder of another grid (a published sweep, notebook 10's defaults): the folder's sweep, as it is", async () => {
    const lines: string[] = [];
    const r = await loadOrRunSweep({ dir, dataDir: path.join(dir, "..", "data"), profile: "smoke", variants: ["cnn", "attention"], base: { datasetSize: 256 }, axes: [parseAxis("epochs", "4,8")], run: "never", log: (l) => lines.push(l) });
    expect(r.source).toBe("loaded");
    expect(r.sweep.axes).toEqual(axes);
    expect(lines.join("\n")).toMatch(/shown as it is: variants cnn, top1; top1Sampling = argmax, gumbel-hard/);
  });

  it("sweep-table: a cell off the reference without a paired difference (one shared draw) is not labelled the reference", () => {
    const s = loadSweep(dir);
    const oneDraw = { ...s, cells: s.cells.map((c) => ({ ...c, results: { ...c.results, runs: c.results.runs.filter((r) => r.dataSeed === c.results.runs[0].dataSeed) } })) };
    const rows = sweepTableLines(oneDraw).filter((l) => / gumbel-hard /.test(l));
    expect(rows.length).toBe(2);
    for (const r of rows) expect(r).toMatch(/\| - \(no paired difference: fewer than 2 shared dataset draws\) \|$/);
    expect(sweepTableLines(s).filter((l) => / gumbel-hard /.test(l)).every((l) => /\| -?\d+\.\d \[.*, 2\] \|$/.test(l))).toBe(true);
  });

  it("publish-sweep under a name published before with other cells: only this sweep's cells and figures remain", () => {
    const name = `zz-test-${process.pid}`;
    const dest = path.join(ROOT, "docs", "results", name);
    try {
      fs.mkdirSync(path.join(dest, "cells", "epochs-4"), { recursive: true });
      fs.writeFileSync(path.join(dest, "cells", "epochs-4", "results.json"), "{}");
      fs.mkdirSync(path.join(dest, "figures"), { recursive: true });
      fs.writeFileSync(path.join(dest, "figures", "sweep-epochs.svg"), "<svg/>");
      const r = spawnSync(path.join(ROOT, "node_modules", ".bin", "ts-node"), ["--transpile-only", path.join(ROOT, "scripts", "publish-sweep.ts"), dir, name], { cwd: ROOT, encoding: "utf8", timeout: 300_000 });
      expect(r.status, r.stderr).toBe(0);
      expect(fs.readdirSync(path.join(dest, "cells")).sort()).toEqual(["top1Sampling-argmax", "top1Sampling-gumbel-hard"]);
      expect(fs.readdirSync(path.join(dest, "figures")).sort()).toEqual(["sweep-top1Sampling.pdf", "sweep-top1Sampling.png", "sweep-top1Sampling.svg"]);
      expect(loadSweep(dest).cells.length).toBe(2);
    } finally {
      fs.rmSync(dest, { recursive: true, force: true });
    }
  }, 300_000);
});

describe("a variant file that the generated list does not hold", () => {
  it("the unknown-variant error names the command that adds it", () => {
    const dir = tmp();
    fs.writeFileSync(path.join(dir, "zeta.ts"), "export {};\n");
    expect(unlistedVariantHint("zeta", dir)).toMatch(/zeta.ts exists but is not in the generated list src\/variants\/_all.ts: run npm run gen/);
    expect(unlistedVariantHint("eta", dir)).toBe("");
    expect(unlistedVariantHint("index")).toBe("");
  });
});

describe("the code stamp of a run is the code it loaded", () => {
  it("src/ edited after the library loaded, before its first worker starts (a notebook kernel open for hours): the workers refuse", () => {
    const t = fs.mkdtempSync(path.join(os.tmpdir(), "stamp-load-"));
    fs.cpSync(path.join(ROOT, "src"), path.join(t, "src"), { recursive: true });
    fs.copyFileSync(path.join(ROOT, "tsconfig.json"), path.join(t, "tsconfig.json"));
    fs.symlinkSync(path.join(ROOT, "node_modules"), path.join(t, "node_modules"));
    fs.writeFileSync(path.join(t, "exec.js"), 'exports.X = { module: __filename, name: "X", execute: (n) => 2 * n };\n');
    const script = `
      const fs = require("fs");
      const t = ${JSON.stringify(t)};
      require(t + "/node_modules/ts-node").register({ transpileOnly: true, project: t + "/tsconfig.json" });
      const { runTasks } = require(t + "/src/experiment/pool.ts");
      fs.appendFileSync(t + "/src/version.ts", "\\n// edited while the run had the library loaded\\n");
      runTasks([1, 2], { executor: require(t + "/exec.js").X, context: {}, workers: 2 })
        .then((r) => console.log("ran " + r.join(",")), (e) => console.log("refused: " + e.message.split("\\n")[0]));`;
    const r = spawnSync(process.execPath, ["-e", script], { cwd: t, encoding: "utf8", timeout: 300_000, env: { ...process.env, POOL_TEST_STAMP: "" } });
    expect(r.stdout, r.stderr).toMatch(/refused: .*the library's code changed since this run started/);
  }, 300_000);
});
