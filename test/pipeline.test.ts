/**
 * End to end: scripts/pipeline.sh on the smoke profile (train, sample, evaluate on all cores, then
 * every notebook through Jupyter/tslab) into a temporary folder, and the files it must produce.
 * Needs Debian's Jupyter, the tslab kernel and Chromium (sudo sh scripts/setup-jupyter.sh): when
 * they are missing the test fails and says so. Takes a few minutes.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chromiumPath } from "../src/plot/export";
import { countColors, decodePng, pngSize } from "../src/plot/png";

const ROOT = path.resolve(__dirname, "..");
const NOTEBOOKS = fs.readdirSync(path.join(ROOT, "notebooks")).filter((f) => /^\d\d_.*\.ipynb$/.test(f)).sort();
/** Figures notebook 08 writes, each as PNG, SVG and PDF. */
const FIGURES = [
  "fig1-dataset-and-samples", "fig2-samples-attention", "fig3-samples-top1", "fig4-samples-identity", "fig5-samples-cnn",
  "attention-identity", "attention-attention", "attention-top1", "table1-bars", "loss-curves", "dataset-census",
];
const MODELS = ["random", "cnn", "attention", "identity", "top1"];

interface Cell { cell_type: string; source: string | string[]; outputs?: { output_type: string; name?: string; text?: string | string[] }[]; execution_count?: number | null }

function readNotebook(file: string): { cells: Cell[] } {
  return JSON.parse(fs.readFileSync(file, "utf8"));
}

describe("source notebooks", () => {
  it("are numbered and committed without outputs", () => {
    expect(NOTEBOOKS.length).toBeGreaterThanOrEqual(9);
    for (const name of NOTEBOOKS) {
      const nb = readNotebook(path.join(ROOT, "notebooks", name));
      expect(nb.cells[0].cell_type, `${name}: the first cell must be markdown saying what it shows`).toBe("markdown");
      for (const c of nb.cells.filter((c) => c.cell_type === "code")) {
        expect(c.outputs ?? [], `${name} has outputs: clear them before committing`).toEqual([]);
        expect(c.execution_count ?? null, `${name} has execution counts`).toBeNull();
      }
    }
  });
});

describe("scripts/pipeline.sh --profile smoke", () => {
  let out: string;
  let log = "";
  let status: number | null = null;

  beforeAll(() => {
    const specs = spawnSync("/usr/bin/jupyter", ["kernelspec", "list"], { encoding: "utf8" });
    expect(specs.stdout ?? "", "no Jupyter with a tslab kernel: run 'sudo sh scripts/setup-jupyter.sh'").toMatch(/\btslab\b/);
    expect(fs.existsSync(chromiumPath()), `Chromium is not installed at ${chromiumPath()}: run 'sudo sh scripts/setup-jupyter.sh'`).toBe(true);
    out = fs.mkdtempSync(path.join(os.tmpdir(), "pipeline-smoke-"));
    const r = spawnSync("bash", [path.join(ROOT, "scripts/pipeline.sh"), "--profile", "smoke", "--out", out], {
      cwd: ROOT, encoding: "utf8", timeout: 20 * 60_000, maxBuffer: 256 * 1024 * 1024,
      // Fewer samples than the smoke profile's 256: the pipeline, not the statistics, is under test.
      env: { ...process.env, OVERRIDES: JSON.stringify({ samples: 128, sampleBatch: 128 }) },
    });
    status = r.status;
    log = `${r.stdout}\n${r.stderr}${r.error ? `\n${r.error.message}` : ""}`;
  }, 21 * 60_000);

  afterAll(() => {
    if (out) fs.rmSync(out, { recursive: true, force: true });
  });

  it("exits 0", () => {
    expect(status, log.slice(-6000)).toBe(0);
  });

  it("writes table1.csv with a row per model, and table1.md", () => {
    const lines = fs.readFileSync(path.join(out, "table1.csv"), "utf8").trim().split("\n");
    const header = lines[0].split(",");
    const models = lines.slice(1).map((l) => l.split(",")[header.indexOf("model")]);
    for (const m of MODELS) expect(models, `table1.csv lacks model ${m}`).toContain(m);
    expect(header).toEqual(expect.arrayContaining(["functional_mean", "functional_ci_lo", "bijective_mean", "strict_mean", "paper"]));
    expect(fs.readFileSync(path.join(out, "table1.md"), "utf8")).toMatch(/\| random/);
  });

  it("writes every figure as PNG, SVG and PDF; the PNGs have the SVG's size x 2 and show something", () => {
    for (const name of FIGURES) {
      const base = path.join(out, "figures", name);
      for (const ext of ["png", "svg", "pdf"]) expect(fs.existsSync(`${base}.${ext}`), `${base}.${ext} missing`).toBe(true);
      const svg = fs.readFileSync(`${base}.svg`, "utf8");
      const m = /^<svg[^>]*\swidth="(\d+)"[^>]*\sheight="(\d+)"/.exec(svg);
      expect(m, `${name}.svg has no width/height`).not.toBeNull();
      const bytes = fs.readFileSync(`${base}.png`);
      expect(pngSize(bytes), `${name}.png size`).toEqual({ width: 2 * Number(m![1]), height: 2 * Number(m![2]) }); // exported at scale 2
      const png = decodePng(bytes);
      expect(countColors(png), `${name}.png looks blank`).toBeGreaterThan(8);
      expect(fs.readFileSync(`${base}.pdf`).subarray(0, 5).toString("latin1")).toBe("%PDF-");
    }
  });

  it("saves samples as .npy for every variant", () => {
    // named by model (variant, dataset draw, seed), run, weights and the sampling hash
    const files = fs.readdirSync(path.join(out, "samples"));
    for (const v of MODELS.slice(1)) expect(files.some((f) => new RegExp(`^${v}-data0-seed0-run0-ema-[0-9a-f]{10}\\.npy$`).test(f)), `${v}: ${files.join(", ")}`).toBe(true);
  });

  it("executes every notebook without error outputs", () => {
    for (const name of NOTEBOOKS) {
      const file = path.join(out, "notebooks", name);
      expect(fs.existsSync(file), `${name} was not executed`).toBe(true);
      const code = readNotebook(file).cells.filter((c) => c.cell_type === "code");
      for (const c of code) {
        expect(c.execution_count, `${name}: a cell was not executed`).toBeGreaterThan(0);
        for (const o of c.outputs ?? []) expect(o.output_type, `${name}: error output`).not.toBe("error");
      }
    }
  });

  it("writes run.json with versions, config, seeds and timings", () => {
    const run = JSON.parse(fs.readFileSync(path.join(out, "run.json"), "utf8"));
    for (const k of ["node", "tfjs", "tslab", "danfojs", "plotly", "chromium", "jupyter"]) {
      expect(run.versions[k], `run.json versions.${k}`).toBeTruthy();
      expect(String(run.versions[k])).not.toMatch(/^missing/);
    }
    expect(run.profile).toBe("smoke");
    expect(run.config.samples).toBe(128);
    expect(run.trainingSeeds).toEqual([0]);
    expect(run.timings.stepsSeconds.experiment).toBeGreaterThan(0);
    for (const k of ["train", "sample", "tables"]) expect(run.timings.phasesSeconds[k], `run.json timings.phasesSeconds.${k}`).toBeGreaterThan(0);
    expect(Object.keys(run.timings.notebooksSeconds).sort()).toEqual(NOTEBOOKS);
    // the notebooks ran one per core at a time (scripts/pipeline.sh: run_notebooks.py --jobs 0)
    expect(run.timings.notebooksAtOnce).toBe(Math.min(os.cpus().length, NOTEBOOKS.length));
  });
});
