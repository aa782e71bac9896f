/**
 * The compiled library the notebooks load (`npm run build`: src/ -> build/, scripts/build.ts):
 * it matches src/ after a build, a stale build refuses to load (naming the changed files), the
 * build removes outputs of deleted sources, and worker threads started from build/ run its
 * JavaScript directly (no ts-node). The real src/ is never modified: the stale cases run on a
 * temporary copy of the tree.
 */
import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BUILD_INFO_FILE, checkBuildInSync, diffInputs, readBuildInfo, sourceFingerprint } from "../src/build-info";

const ROOT = path.resolve(__dirname, "..");
const BUILD = path.join(ROOT, "build");
const TS_NODE = path.join(ROOT, "node_modules", ".bin", "ts-node");

/** Run scripts/build.ts of the tree at `root`. */
function build(root: string, ...args: string[]) {
  const r = spawnSync(TS_NODE, ["--transpile-only", path.join(root, "scripts", "build.ts"), ...args], { cwd: root, encoding: "utf8", timeout: 300_000 });
  return { status: r.status, output: `${r.stdout}\n${r.stderr}${r.error ? `\n${r.error.message}` : ""}` };
}

/** Start scripts/build.ts of the tree at `root` without waiting. */
function buildAsync(root: string): Promise<{ status: number | null; output: string }> {
  return new Promise((resolve) => {
    const c = spawn(TS_NODE, ["--transpile-only", path.join(root, "scripts", "build.ts")], { cwd: root });
    let output = "";
    c.stdout.on("data", (d) => (output += d));
    c.stderr.on("data", (d) => (output += d));
    c.on("close", (status) => resolve({ status, output }));
  });
}

/** Run `code` in a fresh Node process in `cwd`. */
function node(cwd: string, code: string) {
  const r = spawnSync(process.execPath, ["-e", code], { cwd, encoding: "utf8", timeout: 120_000 });
  return { status: r.status, output: `${r.stdout}\n${r.stderr}` };
}

function copyTree(from: string, to: string): void {
  fs.cpSync(from, to, { recursive: true });
}

describe("npm run build", () => {
  let first: { status: number | null; output: string };

  beforeAll(() => {
    first = build(ROOT);
  }, 300_000);

  it("compiles src/ into build/ and records the sources it was built from", () => {
    expect(first.status, first.output).toBe(0);
    const info = checkBuildInSync(BUILD, ROOT); // throws when out of sync
    expect(Object.keys(info.files)).toEqual(expect.arrayContaining(["src/notebook/index.ts", "src/experiment/worker.ts", "src/kernels/train.wasm", "tsconfig.build.json"]));
    for (const f of ["notebook/index.js", "notebook/index.d.ts", "experiment/worker.js", "kernels/train.wasm", "kernels/sample.wasm"]) {
      expect(fs.existsSync(path.join(BUILD, f)), `build/${f} missing`).toBe(true);
    }
    expect(fs.readFileSync(path.join(BUILD, "kernels/train.wasm")).equals(fs.readFileSync(path.join(ROOT, "src/kernels/train.wasm")))).toBe(true);
  });

  it("does nothing when build/ is up to date", () => {
    const again = build(ROOT);
    expect(again.status, again.output).toBe(0);
    expect(again.output).toMatch(/build\/ is up to date with src\//);
  }, 120_000);

  it("build/notebook/index.js loads in a fresh process and exports what the notebooks import", () => {
    const r = node(ROOT, `const nb = require("./build/notebook/index.js");
      for (const k of ["notebookParams", "describeParams", "initBackend", "trainSeeds", "experimentResults", "FigurePublisher", "showFigure", "liveLine"])
        if (typeof nb[k] !== "function") throw new Error("build/notebook/index.js does not export " + k);
      console.log("loaded");`);
    expect(r.status, r.output).toBe(0);
    expect(r.output).toContain("loaded");
  });

  it("worker threads started from build/ run build/experiment/worker.js, not ts-node", async () => {
    // An executor the worker cannot find: it must start, initialise, and report the error from
    // build/experiment/worker.js (a ts-node worker would report src/experiment/worker.ts).
    const r = node(ROOT, `
      const { runTasks } = require("./build/experiment/pool.js");
      const bogus = { module: require.resolve("./build/experiment/tasks.js"), name: "NO_SUCH_EXECUTOR", execute: () => { throw new Error("inline"); } };
      runTasks([{ variant: "cnn", seed: 0 }, { variant: "cnn", seed: 1 }], { executor: bogus, context: {}, workers: 2 })
        .then(() => { console.log("no error"); process.exit(3); })
        .catch((e) => { console.log(e.message); process.exit(0); });`);
    expect(r.status, r.output).toBe(0);
    expect(r.output).toContain("no executor 'NO_SUCH_EXECUTOR' exported by");
    expect(r.output).toMatch(/build\/experiment\/worker\.js/);
    expect(r.output).not.toMatch(/src\/experiment\/worker\.ts/);
  }, 120_000);
});

describe("a stale build refuses to run", () => {
  let tmp: string;

  beforeAll(() => {
    // The tree a build needs, in a temporary folder; build/ copied too (incremental, and already in sync).
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "build-sync-"));
    // scripts/gen.ts --check (the build's first step) compares the generated files in assembly/ and bench/
    for (const f of ["src", "build", "scripts/build.ts", "scripts/gen.ts", "assembly", "bench/_variants.py"]) copyTree(path.join(ROOT, f), path.join(tmp, f));
    for (const f of ["tsconfig.json", "tsconfig.build.json", "package.json"]) fs.copyFileSync(path.join(ROOT, f), path.join(tmp, f));
    fs.symlinkSync(path.join(ROOT, "node_modules"), path.join(tmp, "node_modules"));
    const r = build(tmp); // nothing to do, unless someone edited src/ since the build above
    expect(r.status, r.output).toBe(0);
  }, 300_000);

  afterAll(() => {
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it("a copy of an up-to-date tree passes the check (the control)", () => {
    expect(readBuildInfo(path.join(tmp, "build"))!.fingerprint).toBe(sourceFingerprint(tmp).fingerprint);
    expect(() => checkBuildInSync(path.join(tmp, "build"), tmp)).not.toThrow();
  });

  it("a changed, added or removed source fails the check, naming the file and `npm run build`", () => {
    const built = readBuildInfo(path.join(tmp, "build"))!.files;
    const current = { ...built, "src/rng.ts": "0".repeat(64), "src/new.ts": "1".repeat(64) };
    delete (current as Record<string, string>)["src/io/npy.ts"];
    expect(diffInputs(built, current)).toEqual(["added src/new.ts", "changed src/rng.ts", "removed src/io/npy.ts"]);

    fs.appendFileSync(path.join(tmp, "src", "rng.ts"), "\n// edited after the build\n");
    expect(() => checkBuildInSync(path.join(tmp, "build"), tmp)).toThrow(/built from an older src\/ \(changed src\/rng\.ts\): run `npm run build`/);
    // Importing the notebook entry runs that check first.
    const r = node(tmp, 'require("./build/notebook/index.js")');
    expect(r.status).not.toBe(0);
    expect(r.output).toMatch(/build was built from an older src\/ \(changed src\/rng\.ts\): run `npm run build`/);
  });

  it("two builds started together take turns: one compiles, the other finds it up to date", async () => {
    fs.writeFileSync(path.join(tmp, "src", "extra.ts"), "export const EXTRA = 42;\n");
    const both = await Promise.all([buildAsync(tmp), buildAsync(tmp)]);
    for (const r of both) expect(r.status, r.output).toBe(0);
    const compiled = both.filter((r) => /build: src\/ -> build\/ in/.test(r.output));
    expect(compiled, both.map((r) => r.output).join("\n---\n")).toHaveLength(1);
    expect(both.filter((r) => /build\/ is up to date/.test(r.output))).toHaveLength(1);
    expect(fs.existsSync(path.join(tmp, "build", ".build.lock"))).toBe(false);
  }, 300_000);

  it("after a rebuild the check passes again, and outputs of a deleted source are gone", () => {
    expect(fs.existsSync(path.join(tmp, "build", "extra.js"))).toBe(true);
    expect(() => checkBuildInSync(path.join(tmp, "build"), tmp)).not.toThrow();
    fs.rmSync(path.join(tmp, "src", "extra.ts"));
    expect(() => checkBuildInSync(path.join(tmp, "build"), tmp)).toThrow(/removed src\/extra\.ts/);
    const r = build(tmp);
    expect(r.status, r.output).toBe(0);
    for (const f of ["extra.js", "extra.d.ts", "extra.js.map", "extra.d.ts.map"]) expect(fs.existsSync(path.join(tmp, "build", f)), f).toBe(false);
    expect(() => checkBuildInSync(path.join(tmp, "build"), tmp)).not.toThrow();
    const load = node(tmp, 'require("./build/notebook/index.js"); console.log("loaded")');
    expect(load.status, load.output).toBe(0);
  }, 300_000);

  it("a type error fails the build and leaves no record, so the notebooks do not load", () => {
    fs.appendFileSync(path.join(tmp, "src", "rng.ts"), "\nexport const BROKEN: number = \"not a number\";\n");
    const r = build(tmp);
    expect(r.status, r.output).toBe(1);
    expect(r.output).toMatch(/src\/rng\.ts.*TS2322/);
    expect(fs.existsSync(path.join(tmp, "build", BUILD_INFO_FILE))).toBe(false);
    expect(() => checkBuildInSync(path.join(tmp, "build"), tmp)).toThrow(/has no build-info\.json.*run `npm run build`/);
  }, 300_000);
});
