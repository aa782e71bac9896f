/**
 * `npm run build`: compile src/ into build/ (CommonJS JavaScript + .d.ts, tsconfig.build.json), copy
 * the run-time assets (src/**\/*.wasm) beside it, drop outputs whose source is gone, and record the
 * sources it was built from in build/build-info.json (src/build-info.ts). The notebooks load
 * build/notebook/index.js, which refuses to run when src/ has changed since.
 *
 *   npm run build                  # nothing to do when build-info.json matches src/ (about a second)
 *   npm run build -- --force       # clean build: delete build/ and compile everything
 *
 * Runs on `npm ci`/`npm install` (the `prepare` script), and first thing in scripts/pipeline.sh and
 * scripts/notebook.sh. A type error stops the build with tsc's messages and exit status 1, and
 * leaves no build-info.json, so the notebooks say the build is missing rather than run old code.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { ASSET_EXTENSIONS, BUILD_INFO_FILE, BuildInfo, isBuildInput, readBuildInfo, sourceFingerprint } from "../src/build-info";

const ROOT = path.resolve(__dirname, "..");
const SRC = path.join(ROOT, "src");
const BUILD = path.join(ROOT, "build");
const TSC = require.resolve("typescript/bin/tsc", { paths: [ROOT] });

/** A build that cannot go on: its message is printed, the exit status is 1. */
class BuildFailure extends Error {}

function fail(message: string): never {
  throw new BuildFailure(message);
}

/** Every file under `dir`, as paths relative to it with `/`. */
function files(dir: string, rel = ""): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const r = rel ? `${rel}/${e.name}` : e.name;
    return e.isDirectory() ? files(path.join(dir, e.name), r) : [r];
  });
}

/** The src/ file a build output comes from (undefined: not an output of ours). */
function sourceOf(out: string): string | undefined {
  const m = /^(.*)\.(js|js\.map|d\.ts|d\.ts\.map)$/.exec(out);
  if (m) return `${m[1]}.ts`;
  return ASSET_EXTENSIONS.includes(path.extname(out)) ? out : undefined;
}

const sleep = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Run `fn` holding build/.build.lock: builds started together (the tests run the pipeline and this
 * script in parallel) take turns instead of writing the same files at once. A lock left by a dead
 * process is taken over.
 */
function withBuildLock(fn: () => void): void {
  fs.mkdirSync(BUILD, { recursive: true });
  const lock = path.join(BUILD, ".build.lock");
  const t0 = Date.now();
  let told = false;
  for (;;) {
    try {
      fs.writeFileSync(lock, String(process.pid), { flag: "wx" });
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    }
    let holder: number;
    try {
      holder = Number(fs.readFileSync(lock, "utf8").trim() || "0");
    } catch {
      continue; // released meanwhile
    }
    if (holder > 0 && !alive(holder)) {
      fs.rmSync(lock, { force: true }); // left by a build that died
      continue;
    }
    if (Date.now() - t0 > 10 * 60_000) fail(`another build (process ${holder}) has held ${lock} for 10 minutes; remove the file if that process is gone`);
    if (!told) console.log(`build: waiting for the build in process ${holder}`);
    told = true;
    sleep(200);
  }
  try {
    fn();
  } finally {
    fs.rmSync(lock, { force: true });
  }
}

function main(argv: string[]): void {
  for (const a of argv) if (a !== "--force") fail(`unknown argument '${a}' (usage: npm run build [-- --force])`);
  withBuildLock(() => build(argv.includes("--force")));
}

function build(force: boolean): void {
  const t0 = Date.now();
  // 1. Fingerprint the sources first: if they change while tsc runs, the record is the older
  //    state and the next check fails (a rebuild fixes it), never the other way round.
  const current = sourceFingerprint(ROOT);
  const count = Object.keys(current.files).length;
  let previous: BuildInfo | undefined;
  try {
    previous = readBuildInfo(BUILD);
  } catch {
    previous = undefined; // unreadable: rebuild
  }
  if (force) {
    for (const e of fs.readdirSync(BUILD)) if (e !== ".build.lock") fs.rmSync(path.join(BUILD, e), { recursive: true, force: true });
  } else if (previous?.fingerprint === current.fingerprint) {
    console.log(`build: build/ is up to date with src/ (${count} inputs, ${current.fingerprint.slice(0, 12)})`);
    return;
  }
  // 2. The generated files (src/codegen.ts: the variant list, kernel constants, block dispatch,
  //    PyTorch variants) must match the sources, or the build would compile a stale variant list.
  fs.rmSync(path.join(BUILD, BUILD_INFO_FILE), { force: true });
  const gen = spawnSync(process.execPath, [require.resolve("ts-node/dist/bin.js", { paths: [ROOT] }), "--transpile-only", path.join(ROOT, "scripts", "gen.ts"), "--check"], { cwd: ROOT, encoding: "utf8" });
  if (gen.status !== 0) fail((gen.stderr || gen.stdout || `scripts/gen.ts --check failed (status ${gen.status})`).trim().replace(/^gen: /, ""));
  // 3. Compile (incremental: build/.tsbuildinfo). The old record goes first, so a failed build
  //    cannot leave a record that claims the new sources.
  const tsc = spawnSync(process.execPath, [TSC, "-p", path.join(ROOT, "tsconfig.build.json")], { cwd: ROOT, stdio: "inherit" });
  if (tsc.error) fail(`could not run ${TSC}: ${tsc.error.message}`);
  if (tsc.status !== 0) {
    process.stdout.write("\n"); // tsc's last message ends without one
    fail(`tsc -p tsconfig.build.json failed (status ${tsc.status}); build/ is not usable until it compiles`);
  }
  // 4. Assets the library reads at run time from beside its JavaScript (path.join(__dirname, ...)).
  for (const rel of files(SRC).filter((f) => isBuildInput(f) && ASSET_EXTENSIONS.includes(path.extname(f)))) {
    const from = path.join(SRC, rel);
    const to = path.join(BUILD, rel);
    fs.mkdirSync(path.dirname(to), { recursive: true });
    fs.copyFileSync(from, to);
  }
  // 5. Outputs whose source was deleted or renamed would still load: remove them.
  const removed: string[] = [];
  for (const out of files(BUILD)) {
    const src = sourceOf(out);
    if (src !== undefined && !fs.existsSync(path.join(SRC, src))) {
      fs.rmSync(path.join(BUILD, out));
      removed.push(out);
    }
  }
  // 6. The record, written last and atomically.
  const typescript = (JSON.parse(fs.readFileSync(require.resolve("typescript/package.json", { paths: [ROOT] }), "utf8")) as { version: string }).version;
  const info: BuildInfo = { fingerprint: current.fingerprint, files: current.files, builtAt: new Date().toISOString(), typescript };
  const tmp = path.join(BUILD, `${BUILD_INFO_FILE}.${process.pid}.tmp`);
  fs.writeFileSync(tmp, JSON.stringify(info, null, 1) + "\n");
  fs.renameSync(tmp, path.join(BUILD, BUILD_INFO_FILE));
  const note = removed.length ? `; removed ${removed.length} stale output(s): ${removed.join(", ")}` : "";
  console.log(`build: src/ -> build/ in ${((Date.now() - t0) / 1000).toFixed(1)} s (${count} inputs, ${current.fingerprint.slice(0, 12)})${note}`);
}

try {
  main(process.argv.slice(2));
} catch (e) {
  if (!(e instanceof BuildFailure)) throw e;
  console.error(`build: ${e.message}`);
  process.exitCode = 1;
}
