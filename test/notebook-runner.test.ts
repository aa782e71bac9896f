import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// Needs the Debian Jupyter packages and the tslab kernel (sudo sh scripts/setup-jupyter.sh);
// without them the test fails and says so.
const ROOT = path.resolve(__dirname, "..");
const PYTHON = "/usr/bin/python3";

/** A notebook for the tslab kernel whose code cells are `sources`. */
function notebook(sources: string[]): string {
  const cells = sources.map((source) => ({ cell_type: "code", metadata: {}, execution_count: null, outputs: [], source }));
  const metadata = { kernelspec: { name: "tslab", display_name: "TypeScript", language: "typescript" } };
  return JSON.stringify({ cells, metadata, nbformat: 4, nbformat_minor: 5 });
}

function run(dir: string, name: string, ...extra: string[]) {
  const r = spawnSync(PYTHON, [path.join(ROOT, "scripts/run_notebooks.py"), "--out", path.join(dir, "out"), "--timeout", "120", ...extra, path.join(dir, name)], {
    encoding: "utf8",
    env: { ...process.env, PYDEVD_DISABLE_FILE_VALIDATION: "1" },
  });
  return { status: r.status, output: `${r.stdout}\n${r.stderr}` };
}

describe("scripts/run_notebooks.py", () => {
  let dir: string;

  beforeAll(() => {
    const specs = spawnSync("/usr/bin/jupyter", ["kernelspec", "list"], { encoding: "utf8" });
    expect(specs.stdout ?? "", "no tslab Jupyter kernel: run 'sudo sh scripts/setup-jupyter.sh'").toMatch(/\btslab\b/);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "nb-runner-"));
    fs.symlinkSync(path.join(ROOT, "src"), path.join(dir, "src")); // as notebooks/src -> ../src
    fs.writeFileSync(
      path.join(dir, "pass.ipynb"),
      notebook([
        'import { Rng } from "./src/rng";\nconst TOKEN = process.env.RUNNER_TOKEN ?? "unset";',
        'console.log(`token=${TOKEN} normal=${new Rng(1).normal().toFixed(3)}`);',
      ]),
    );
    fs.writeFileSync(path.join(dir, "fail.ipynb"), notebook(['console.log("before");', 'throw new Error("boom-123");', 'console.log("never");']));
  });

  afterAll(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it("runs a passing notebook with env parameters, importing src through the symlink", () => {
    const { status, output } = run(dir, "pass.ipynb", "--env", "RUNNER_TOKEN=tok-42");
    expect(status, output).toBe(0);
    expect(output).toMatch(/token=tok-42 normal=-?\d\.\d{3}/);
    const executed = JSON.parse(fs.readFileSync(path.join(dir, "out", "pass.ipynb"), "utf8"));
    expect(JSON.stringify(executed.cells[1].outputs)).toContain("token=tok-42");
  });

  it("stops at a failing cell with status 1 and shows the real error, cell index and source", () => {
    const { status, output } = run(dir, "fail.ipynb");
    expect(status, output).toBe(1);
    expect(output).toContain("FAILED: fail.ipynb, cell 1");
    expect(output).toContain('throw new Error("boom-123");');
    expect(output).toMatch(/Error: boom-123/);
    const partial = JSON.parse(fs.readFileSync(path.join(dir, "out", "fail.ipynb"), "utf8"));
    expect(JSON.stringify(partial.cells[0].outputs)).toContain("before");
    expect(partial.cells[2].outputs).toEqual([]); // not executed
  });

  it("--jobs 2 runs notebooks at once, names each line's notebook, and still fails with status 1", () => {
    fs.copyFileSync(path.join(dir, "pass.ipynb"), path.join(dir, "pass2.ipynb"));
    const ok = run(dir, "pass.ipynb", "--jobs", "2", "--env", "RUNNER_TOKEN=par-7", path.join(dir, "pass2.ipynb"));
    expect(ok.status, ok.output).toBe(0);
    expect(ok.output).toMatch(/^pass: +\| token=par-7 /m); // each line says whose it is
    expect(ok.output).toMatch(/^pass2: +\| token=par-7 /m);
    expect(ok.output).toMatch(/^== pass2?\.ipynb: ok in [\d.]+ s/m); // what scripts/run-info.ts parses
    expect(ok.output).toContain("all 2 notebooks passed");
    for (const name of ["pass.ipynb", "pass2.ipynb"]) {
      expect(JSON.stringify(JSON.parse(fs.readFileSync(path.join(dir, "out", name), "utf8")).cells[1].outputs)).toContain("token=par-7");
    }
    // A failure among parallel notebooks: status 1, its real error, and the summary naming it.
    fs.copyFileSync(path.join(dir, "pass.ipynb"), path.join(dir, "late.ipynb"));
    const bad = run(dir, "fail.ipynb", "--jobs", "2", path.join(dir, "pass2.ipynb"), path.join(dir, "late.ipynb"));
    expect(bad.status, bad.output).toBe(1);
    expect(bad.output).toContain("FAILED: fail.ipynb, cell 1");
    expect(bad.output).toMatch(/Error: boom-123/);
    expect(bad.output).toMatch(/failed: fail\.ipynb/);
  });

  it("refuses a negative --jobs, naming the value", () => {
    const { status, output } = run(dir, "pass.ipynb", "--jobs", "-3");
    expect(status).toBe(2);
    expect(output).toContain("--jobs must be 0 (one per core) or a positive number of notebooks at once, got -3");
  });
});
