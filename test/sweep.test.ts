/**
 * `npm run sweep`: a bad grid is an error before any work; a tiny sweep killed halfway (kill -9)
 * resumes on a rerun without recomputing or losing anything, and its tables equal an uninterrupted
 * sweep's; cells that differ only at sampling time share their models; the figure builder draws one
 * line per variant with the paper's value marked.
 */
import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { describe, expect, it } from "vitest";
import { parseSweepArgs } from "../src/cli/sweep";
import { sweepFigure } from "../src/plot/sweep";
import { gridCells, parseAxis } from "../src/sweep/grid";
import { cellSummaries, CellRuns } from "../src/sweep/summary";

const ROOT = path.resolve(__dirname, "..");
const TS_NODE = path.join(ROOT, "node_modules", ".bin", "ts-node");
const CLI = path.join(ROOT, "src", "cli", "sweep.ts");
const TINY = ["--profile", "smoke", "--datasetSize", "128", "--samples", "64", "--sampleBatch", "64", "--datasets", "2", "--seeds", "2", "--runs", "2", "--workers", "2", "--figures", "false"];

function sweep(args: string[], out: string) {
  return spawnSync(TS_NODE, ["--transpile-only", CLI, ...args, "--out", out, "--data", path.join(out, "..", "data")], { cwd: ROOT, encoding: "utf8", timeout: 600_000 });
}

describe("a bad grid is an error before any work, naming it", () => {
  const cases: [string[], RegExp][] = [
    [["--epochz", "4,8"], /unknown flag --epochz/],
    [["--lr", "0,0.1"], /config key 'lr' must be in \(0, inf\), got 0/],
    [["--epochs", "4,"], /--epochs '4,' has an empty value/],
    [["--epochs", "4,8", "--epochs", "16"], /--epochs is given twice/],
    [["--epochs", "4,4"], /--epochs lists 4 twice/],
    [["--sampler", "ddpm,euler"], /'sampler' expects one of ddpm, ddpm-posterior, clamp-x0, got "euler"/],
    [["--workers", "1,2"], /'workers' sets the study's design or where it runs; it cannot be swept/],
    [["--samples", "64,1e12"], /cell samples-1000000000000: config key 'samples' must be at most 1000000/],
  ];
  for (const [argv, message] of cases) {
    it(argv.join(" "), () => {
      expect(() => {
        const s = parseSweepArgs(argv);
        gridCells(s.args.profile, s.args.overrides as Record<string, number>, s.axes);
      }).toThrow(message);
    });
  }

  it("on the command line: exit 1, the message, and no output folder", () => {
    const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "sweep-bad-")), "out");
    const r = sweep(["--variant", "cnn", "--epochs", "4,8", "--lr", "-1,0.1", ...TINY], out);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/cell epochs-4__lr--1: config key 'lr' must be in \(0, inf\), got -1/);
    expect(fs.existsSync(out)).toBe(false);
  });

  it("a grid of 2 x 3 cells in order, every config resolved", () => {
    const cells = gridCells("smoke", { samples: 64 }, [parseAxis("epochs", "4,8"), parseAxis("sampler", "ddpm,ddpm-posterior,clamp-x0")]);
    expect(cells.map((c) => c.name)).toEqual([
      "epochs-4__sampler-ddpm", "epochs-4__sampler-ddpm-posterior", "epochs-4__sampler-clamp-x0",
      "epochs-8__sampler-ddpm", "epochs-8__sampler-ddpm-posterior", "epochs-8__sampler-clamp-x0",
    ]);
    expect(cells[5].config).toMatchObject({ epochs: 8, sampler: "clamp-x0", samples: 64, checkpointEvery: 2 });
  });
});

describe("kill -9 halfway, rerun: nothing recomputed or lost, the same tables", () => {
  it("cnn and attention x epochs 6,12 x sampler ddpm,clamp-x0 (2 draws x 2 seeds, 2 runs each)", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sweep-kill-"));
    const grid = ["--variant", "cnn,attention", "--epochs", "6,12", "--sampler", "ddpm,clamp-x0", ...TINY];
    const killed = path.join(dir, "killed");
    // 1. start, and kill -9 once some sampling runs are recorded (training done, sampling half-way)
    const child = spawn(TS_NODE, ["--transpile-only", CLI, ...grid, "--out", killed, "--data", path.join(dir, "data")], { cwd: ROOT, stdio: "ignore" });
    const runsDone = () => {
      const cells = path.join(killed, "cells");
      if (!fs.existsSync(cells)) return 0;
      return fs.readdirSync(cells).reduce((n, c) => n + (fs.existsSync(path.join(cells, c, "runs")) ? fs.readdirSync(path.join(cells, c, "runs")).filter((f) => f.endsWith(".json")).length : 0), 0);
    };
    const t0 = Date.now();
    while (runsDone() < 8 && child.exitCode === null && Date.now() - t0 < 300_000) await new Promise((r) => setTimeout(r, 100));
    child.kill("SIGKILL");
    await new Promise((r) => child.on("exit", r));
    const before = runsDone();
    expect(before, "killed while sampling").toBeGreaterThanOrEqual(8);
    expect(before, "killed before the end (64 runs)").toBeLessThan(64);
    expect(fs.existsSync(path.join(killed, "sweep.json")), "no tables yet").toBe(false);
    const ckpts = fs.readdirSync(path.join(killed, "checkpoints")).filter((f) => f.endsWith(".ckpt.json"));
    // cells that differ only in the sampler share their models: 2 lengths x 2 variants x 4 models
    expect(ckpts.length).toBe(16);
    const stamp = (f: string) => fs.statSync(f).mtimeMs;
    const recorded = fs.readdirSync(path.join(killed, "cells")).flatMap((c) => {
      const runs = path.join(killed, "cells", c, "runs");
      return fs.existsSync(runs) ? fs.readdirSync(runs).map((f) => path.join(runs, f)) : [];
    });
    const mtimes = new Map([...recorded, ...ckpts.map((f) => path.join(killed, "checkpoints", f))].map((f) => [f, stamp(f)]));
    // 2. rerun: resumes (the stale lock of the killed run is taken over)
    const r = sweep(grid, killed);
    expect(r.status, r.stderr).toBe(0);
    for (const [f, m] of mtimes) expect(stamp(f), `${path.relative(killed, f)} was rewritten`).toBe(m);
    const results = JSON.parse(fs.readFileSync(path.join(killed, "cells", "epochs-6__sampler-ddpm", "results.json"), "utf8"));
    expect(results.training.every((t: { status: string }) => t.status === "reused")).toBe(true);
    const reusedRuns = fs.readdirSync(path.join(killed, "cells")).flatMap((c) => JSON.parse(fs.readFileSync(path.join(killed, "cells", c, "results.json"), "utf8")).runs)
      .filter((x: { status: string }) => x.status === "reused").length;
    expect(reusedRuns).toBe(before);
    // 3. an uninterrupted sweep gives the same tables
    const clean = path.join(dir, "clean");
    expect(sweep(grid, clean).status).toBe(0);
    for (const f of ["sweep-models.csv", "sweep-cells.csv", "sweep-differences.csv"]) {
      expect(fs.readFileSync(path.join(killed, f), "utf8"), f).toBe(fs.readFileSync(path.join(clean, f), "utf8"));
    }
    const rows = fs.readFileSync(path.join(clean, "sweep-models.csv"), "utf8").trim().split("\n");
    expect(rows.length).toBe(1 + 4 * 2 * 4); // header + cells x variants x models
    // 4. a third run with one more sampler value reuses every model and every earlier cell
    const more = sweep(["--variant", "cnn,attention", "--epochs", "6,12", "--sampler", "ddpm,clamp-x0,ddpm-posterior", ...TINY], clean);
    expect(more.status, more.stderr).toBe(0);
    const added = JSON.parse(fs.readFileSync(path.join(clean, "cells", "epochs-12__sampler-ddpm-posterior", "results.json"), "utf8"));
    expect(added.training.every((t: { status: string }) => t.status === "reused")).toBe(true);
  }, 900_000);
});

describe("the sweep figure", () => {
  it("one line per variant over the swept key, models as dots, the paper marked at its setting", () => {
    const run = (variant: string, dataSeed: number, seed: number, f: number) => [0, 1].map((r) => ({ variant, dataSeed, seed, run: r, metrics: { functional: f } as never }));
    const cells: CellRuns[] = [2000, 5000].map((epochs) => ({
      name: `epochs-${epochs}`, values: { epochs }, runsPerModel: 2,
      runs: ["cnn", "attention"].flatMap((v) => [0, 1].flatMap((d) => [0, 1].flatMap((s) => run(v, d, 2 * d + s, (v === "cnn" ? 0.05 : 0.3) + epochs / 1e5 + 0.01 * s)))),
    }));
    const fig = sweepFigure(cellSummaries(cells), { key: "epochs", values: [2000, 5000] }, { profile: "paper" });
    const lines = fig.data.filter((d) => d.mode === "lines+markers");
    expect(lines.map((d) => d.name)).toEqual(["CNN", "CNN + Attention"]);
    expect(lines[0].x).toEqual([2000, 5000]);
    const paper = fig.data.find((d) => d.name === "paper (Table 1)")!;
    expect(paper.x).toEqual([5000, 5000]);
    expect((paper.y as number[]).map((y) => Math.round(y * 100) / 100)).toEqual([10.88, 64.03]);
    const dots = fig.data.filter((d) => d.mode === "markers" && d.showlegend === false);
    expect(dots.reduce((n, d) => n + (d.x as number[]).length, 0)).toBe(2 * 2 * 4);
  });
});
