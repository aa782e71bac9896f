/**
 * No silent wrong results, round 2 (issue 16), the cases that need other processes: Ctrl-C and a
 * vanished `npm` while one model trains, two runs taking one folder's lock at the same moment, a
 * real full file system (a small tmpfs, where this process may mount one), the notebook server's
 * token and port, and every entry point's --help and unknown flags. Numbered as in the issue; the
 * in-process cases are in reliability-round2.test.ts.
 */
import { ChildProcess, spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { describe, expect, it } from "vitest";
import { initBackend } from "../src/backend";
import { parseArgs } from "../src/cli/args";
import { resolveConfig } from "../src/config";
import { runExperiment } from "../src/experiment/run";
import { readCheckpoint } from "../src/train/checkpoint";

const ROOT = path.resolve(__dirname, "..");
const TS_NODE = path.join(ROOT, "node_modules", ".bin", "ts-node");
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), "reliab-proc-"));
/** The issue's `E`: one smoke-sized attention model, long enough to be interrupted mid-training. */
const E = ["--profile", "smoke", "--epochs", "3000", "--datasetSize", "128", "--samples", "64", "--sampleBatch", "64", "--variant", "attention", "--checkpointEvery", "50", "--workers", "1"];

interface Done { status: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }

function run(cmd: string, args: string[], o: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): { child: ChildProcess; done: Promise<Done> } {
  const child = spawn(cmd, args, { cwd: ROOT, env: { ...process.env, ...o.env }, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (d) => (stdout += d));
  child.stderr!.on("data", (d) => (stderr += d));
  const timer = setTimeout(() => child.kill("SIGKILL"), o.timeoutMs ?? 180_000);
  const done = new Promise<Done>((resolve) => child.on("close", (status, signal) => {
    clearTimeout(timer);
    resolve({ status, signal, stdout, stderr });
  }));
  return { child, done };
}
const experimentCli = (args: string[], o: { env?: NodeJS.ProcessEnv } = {}) => run(TS_NODE, ["--transpile-only", "src/cli/experiment.ts", ...args], o);

async function waitFor(what: string, f: () => boolean, ms = 120_000): Promise<void> {
  const t0 = Date.now();
  while (!f()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
const checkpoints = (out: string) => (fs.existsSync(path.join(out, "checkpoints")) ? fs.readdirSync(path.join(out, "checkpoints")).filter((f) => f.endsWith(".ckpt.json")).map((f) => path.join(out, "checkpoints", f)) : []);
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
/** The experiment the CLI runs for `args` (config flags only), run in this process. */
async function inProcess(args: string[], dataDir: string, outDir: string): Promise<void> {
  const a = parseArgs(args.filter((x, i) => !["--data", "--out"].includes(x) && !["--data", "--out"].includes(args[i - 1])));
  await initBackend();
  await runExperiment({ cfg: resolveConfig(a.profile, a.overrides), variants: a.variants, profile: a.profile, paths: { outDir, dataDir }, log: () => {}, progressWrite: () => {} });
}
const results = (out: string) => JSON.parse(fs.readFileSync(path.join(out, "results.json"), "utf8"));

describe("6. Ctrl-C while one model trains", { timeout: 300_000 }, () => {
  it("SIGINT stops a one-model run within seconds (exit 130, lock released); the rerun resumes to the uninterrupted result", async () => {
    const dir = tmp();
    const data = ["--data", path.join(dir, "data")];
    // the uninterrupted reference, in this process (the same numbers as the CLI's worker threads)
    await inProcess(E, path.join(dir, "data"), path.join(dir, "whole"));

    const out = path.join(dir, "cut");
    const p = experimentCli([...E, ...data, "--out", out]);
    await waitFor("the first checkpoint", () => checkpoints(out).length > 0);
    const t0 = Date.now();
    p.child.kill("SIGINT");
    const cut = await p.done;
    const stopSeconds = (Date.now() - t0) / 1000;
    expect(cut.status, cut.stdout + cut.stderr).toBe(130);
    expect(stopSeconds).toBeLessThan(10);
    expect(cut.stderr).toMatch(/stopped \(SIGINT \(Ctrl-C\)\): training of attention seed 0 stopped after epoch \d+ of 3000; saved \S+\.ckpt\.json/);
    expect(fs.existsSync(path.join(out, ".lock")), "the lock was left behind").toBe(false);
    expect(fs.existsSync(path.join(out, "results.json"))).toBe(false);
    const ck = readCheckpoint(checkpoints(out)[0]);
    expect(ck.step).toBeGreaterThan(0);
    expect(ck.step, "training finished before the signal: make E longer").toBeLessThan(ck.totalSteps);

    const again = await experimentCli([...E, ...data, "--out", out]).done;
    expect(again.status, again.stderr).toBe(0);
    const a = results(path.join(dir, "whole"));
    const b = results(out);
    expect(b.training[0].status).toBe("resumed");
    expect(b.training[0].weightsSha256).toBe(a.training[0].weightsSha256);
    expect(b.runs.map((r: { metrics: unknown }) => r.metrics)).toEqual(a.runs.map((r: { metrics: unknown }) => r.metrics));
    expect(fs.readFileSync(path.join(out, "table1.csv"), "utf8")).toBe(fs.readFileSync(path.join(dir, "whole", "table1.csv"), "utf8"));
  });

  it("a run started by npm stops, saves and releases its lock when npm is killed (no orphan training on)", async () => {
    const dir = tmp();
    const out = path.join(dir, "under-npm");
    const p = run("npm", ["run", "--silent", "experiment", "--", ...E, "--epochs", "20000", "--data", path.join(dir, "data"), "--out", out]);
    await waitFor("the first checkpoint", () => checkpoints(out).length > 0);
    const node = JSON.parse(fs.readFileSync(path.join(out, ".lock"), "utf8")).pid as number;
    expect(node).not.toBe(p.child.pid);
    p.child.kill("SIGKILL"); // npm itself, as a `kill -9` of the npm process would
    await p.done;
    await waitFor(`node ${node} to stop after npm went away`, () => !alive(node), 15_000);
    expect(fs.existsSync(path.join(out, ".lock")), "the orphan's lock was left behind").toBe(false);
    const ck = readCheckpoint(checkpoints(out)[0]);
    expect(ck.step).toBeLessThan(ck.totalSteps);
  });
});

describe("7. two runs that start together", () => {
  it("exactly one takes the lock, also with a delay after the lock file appears", async () => {
    const dir = tmp();
    const out = path.join(dir, "race");
    const go = path.join(dir, "go");
    const script = path.join(dir, "racer.js");
    fs.writeFileSync(script, `
      require(${JSON.stringify(path.join(ROOT, "node_modules", "ts-node"))}).register({ transpileOnly: true, project: ${JSON.stringify(path.join(ROOT, "tsconfig.json"))} });
      const fs = require("fs");
      const { lockOutputDir } = require(${JSON.stringify(path.join(ROOT, "src", "experiment", "lock.ts"))});
      const sleep = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
      console.log("ready");
      while (!fs.existsSync(${JSON.stringify(go)})) sleep(1);
      try {
        const release = lockOutputDir(${JSON.stringify(out)}, "racer " + process.pid);
        console.log("got");
        sleep(1500);
        release();
      } catch (e) {
        console.log("refused: " + e.message);
      }`);
    const racers = Array.from({ length: 3 }, () => run(process.execPath, [script], { env: { OUTPUT_LOCK_TEST_DELAY_MS: "300" } }));
    let ready = 0;
    await Promise.all(racers.map((r) => new Promise<void>((resolve) => r.child.stdout!.on("data", (d) => { if (String(d).includes("ready")) { ready++; resolve(); } }))));
    expect(ready).toBe(3);
    fs.writeFileSync(go, "");
    const outs = (await Promise.all(racers.map((r) => r.done))).map((d) => d.stdout.replace("ready\n", "").trim());
    expect(outs.filter((o) => o === "got"), outs.join("\n")).toHaveLength(1);
    for (const o of outs.filter((x) => x !== "got")) expect(o).toMatch(/^refused: output folder .*race is in use by another run \(pid \d+ .*racer \d+\)/);
    expect(fs.readdirSync(out)).toEqual([]);
  });
});

/** Mounting a tmpfs needs root (CAP_SYS_ADMIN); where it is not allowed the injected tests in reliability-round2 still run. */
function canMount(): string | null {
  if (process.getuid?.() !== 0) return "not root: cannot mount a tmpfs (the injected ENOSPC tests in reliability-round2.test.ts cover the writes)";
  const probe = tmp();
  const r = spawnSync("mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", probe], { encoding: "utf8" });
  if (r.status !== 0) return `mount -t tmpfs is not permitted here (${(r.stderr || r.error?.message || "").trim()}); the injected ENOSPC tests cover the writes`;
  spawnSync("umount", [probe]);
  return null;
}
const mountRefusal = canMount();

describe("1. a full disk, for real (a small tmpfs)", { timeout: 300_000 }, () => {
  it.skipIf(mountRefusal !== null)(`a rerun on a full disk exits 1 naming the file and keeps the previous results whole; so does training${mountRefusal ? ` (skipped: ${mountRefusal})` : ""}`, async () => {
    const dir = tmp();
    const mnt = path.join(dir, "mnt");
    fs.mkdirSync(mnt);
    expect(spawnSync("mount", ["-t", "tmpfs", "-o", "size=4m", "tmpfs", mnt]).status).toBe(0);
    try {
      const out = path.join(mnt, "out");
      const args = ["--profile", "smoke", "--epochs", "20", "--datasetSize", "128", "--samples", "64", "--sampleBatch", "64", "--variant", "attention", "--workers", "1", "--data", path.join(dir, "data"), "--out", out];
      await inProcess(args, path.join(dir, "data"), out);
      const before = fs.readFileSync(path.join(out, "results.json"));
      // fill the file system, then free two pages (the lock file takes one)
      const filler = path.join(mnt, "filler");
      const fd = fs.openSync(filler, "w");
      let size = 0;
      for (const chunk of [65536, 4096, 512]) {
        const buf = Buffer.alloc(chunk);
        for (;;) {
          try {
            const n = fs.writeSync(fd, buf);
            size += n;
            if (n < chunk) break;
          } catch {
            break;
          }
        }
      }
      fs.ftruncateSync(fd, Math.max(0, size - 8192));
      fs.closeSync(fd);
      const full = await experimentCli(args).done;
      expect(full.status, full.stdout).toBe(1);
      expect(full.stderr).toMatch(/error: cannot write \S+: ENOSPC: no space left on device, write; (the previous version of \S+ is intact|\S+ was not created)/);
      expect(full.stdout).not.toMatch(/wrote .*results\.json/);
      expect(fs.readFileSync(path.join(out, "results.json")).equals(before)).toBe(true);
      const train = await experimentCli([...args, "--epochs", "21"]).done;
      expect(train.status).toBe(1);
      expect(train.stderr).toMatch(/cannot write \S+attention-data0-seed0-\w+\.ckpt\.json: ENOSPC: no space left on device, write; \S+ was not created/);
      const left = fs.readdirSync(out, { recursive: true }) as string[];
      expect(left.filter((f) => /\.tmp$|\.new$/.test(f)), "temp files left").toEqual([]);
      expect(left.filter((f) => f.endsWith(".ckpt.json"))).toHaveLength(1); // no truncated 21-epoch checkpoint
      expect(left).not.toContain(".lock");
      expect(fs.readFileSync(path.join(out, "results.json")).equals(before)).toBe(true);
    } finally {
      spawnSync("umount", ["-l", mnt]);
    }
  });
});

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

describe("8. the notebook server", { timeout: 300_000 }, () => {
  it("a busy port is an error before anything else, and no URL is printed", async () => {
    const s = net.createServer();
    await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
    const port = (s.address() as net.AddressInfo).port;
    try {
      const r = await run("bash", [path.join(ROOT, "scripts", "notebook.sh"), "--port", String(port)], { timeoutMs: 60_000 }).done;
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(new RegExp(`notebook: port ${port} on 127.0.0.1 is in use; choose another with --port N`));
      expect(r.stdout).not.toMatch(/http:/);
    } finally {
      s.close();
    }
  });

  it.skipIf(!fs.existsSync("/usr/bin/jupyter"))("the token is not on the server's command line; the server listens on 127.0.0.1 only", async () => {
    // a tslab kernel spec for this clone, first in Jupyter's search path (the machine's registration is left alone)
    const jp = tmp();
    fs.mkdirSync(path.join(jp, "kernels", "tslab"), { recursive: true });
    fs.writeFileSync(path.join(jp, "kernels", "tslab", "kernel.json"), JSON.stringify({ argv: [path.join(ROOT, "node_modules", ".bin", "tslab"), "kernel", "--config-path", "{connection_file}"], display_name: "TypeScript", language: "typescript" }));
    const port = await freePort();
    const p = run("bash", [path.join(ROOT, "scripts", "notebook.sh"), "--port", String(port)], { env: { JUPYTER_PATH: jp, JUPYTER_TOKEN: "" }, timeoutMs: 300_000 });
    let stdout = "";
    p.child.stdout!.on("data", (d) => (stdout += d));
    try {
      await waitFor("the notebook URL", () => /notebook: open http/.test(stdout) || p.child.exitCode !== null, 240_000);
      const url = /notebook: open (http:\/\/127\.0\.0\.1:(\d+)\/tree\?token=([0-9a-f]+))/.exec(stdout);
      expect(url, stdout).not.toBeNull();
      const token = url![3];
      expect(token.length).toBeGreaterThanOrEqual(32);
      const pid = Number(/process (\d+)/.exec(stdout)![1]);
      const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ");
      expect(cmdline).toMatch(/jupyter-notebook .*--ip=127\.0\.0\.1/);
      expect(cmdline).not.toContain(token);
      expect(cmdline).not.toMatch(/token/i);
      expect((fs.statSync(`/proc/${pid}/environ`).mode & 0o077), "the environment (holding the token) is readable by others").toBe(0);
      const res = await fetch(`http://127.0.0.1:${port}/api/status`, { headers: { Authorization: `token ${token}` } });
      expect(res.status).toBe(200);
      expect((await fetch(`http://127.0.0.1:${port}/api/contents`)).status).toBe(403); // no token, no access
    } finally {
      p.child.kill("SIGTERM");
      await p.done;
    }
  });
});

describe("entry points: --help answers, an unknown flag is an error before any work", { timeout: 300_000 }, () => {
  it("experiment, sweep, merge, theory, discriminate, bench, the scripts, pipeline, notebook", async () => {
    const ts = (file: string) => [TS_NODE, ["--transpile-only", file]] as const;
    const entries: [string, string, string[]][] = [
      ["experiment", ...ts("src/cli/experiment.ts")], ["merge", ...ts("src/cli/merge.ts")], ["theory", ...ts("src/cli/theory.ts")],
      ["discriminate", ...ts("src/cli/discriminate.ts")], ["bench", ...ts("bench/bench.ts")], ["publish-results", ...ts("scripts/publish-results.ts")],
      ["sample-range", ...ts("scripts/sample-range.ts")], ["torch-agreement", ...ts("scripts/torch-agreement.ts")],
      ["sweep", ...ts("src/cli/sweep.ts")], ["publish-sweep", ...ts("scripts/publish-sweep.ts")], ["sweep-table", ...ts("scripts/sweep-table.ts")],
      ["retable", ...ts("scripts/retable.ts")], ["headline-figure", ...ts("scripts/headline-figure.ts")], ["gen", ...ts("scripts/gen.ts")],
      ["pipeline", "bash", ["scripts/pipeline.sh"]], ["notebook", "bash", ["scripts/notebook.sh"]],
    ].map(([n, c, a]) => [n as string, c as string, [...(a as readonly string[])]]);
    const out = tmp();
    const jobs = entries.flatMap(([name, cmd, args]) => [
      run(cmd, [...args, "--help"], { env: { OUT_DIR: out } }).done.then((r) => ({ name, kind: "help", r })),
      run(cmd, [...args, "--no-such-flag"], { env: { OUT_DIR: out } }).done.then((r) => ({ name, kind: "unknown", r })),
    ]);
    jobs.push(experimentCli(["--profile", "smoke", "--samples", "1e12", "--out", path.join(out, "big")]).done.then((r) => ({ name: "experiment --samples 1e12", kind: "size", r })));
    for (const { name, kind, r } of await Promise.all(jobs)) {
      if (kind === "help") {
        expect(r.status, `${name} --help: ${r.stderr}`).toBe(0);
        expect(r.stdout, `${name} --help`).toMatch(/usage|npm run|PROFILE/i);
      } else if (kind === "unknown") {
        expect(r.status, `${name} --no-such-flag: ${r.stdout}`).not.toBe(0);
        expect(r.stderr, `${name} --no-such-flag`).toMatch(/no-such-flag/);
        expect(r.stderr, `${name} --no-such-flag printed a stack trace`).not.toMatch(/\n\s+at /);
      } else {
        expect(r.status).toBe(1);
        expect(r.stderr).toMatch(/error: config key 'samples' must be at most 1000000 .*got 1000000000000/);
      }
    }
    expect(fs.readdirSync(out), "an entry point wrote into OUT_DIR").toEqual([]);
  });

  it("pipeline: OVERRIDES cannot override what the pipeline sets itself", () => {
    const dry = (overrides: string) => spawnSync("bash", [path.join(ROOT, "scripts", "pipeline.sh"), "--dry-run", "--profile", "smoke"], { encoding: "utf8", env: { ...process.env, PROFILE: "", OUT_DIR: "", OVERRIDES: overrides } });
    for (const key of ["profile", "out", "variant", "data"]) {
      const r = dry(JSON.stringify({ epochs: 3, [key]: "x" }));
      expect(r.status, key).toBe(2);
      expect(r.stderr).toMatch(new RegExp(`OVERRIDES cannot set "${key}": the pipeline sets it itself`));
    }
    expect(dry(JSON.stringify({ epochs: 3 })).stdout).toMatch(/--profile smoke --out \S+ --epochs=3\n/);
  });
});
