/**
 * The compiled library (`build/`, made by `npm run build` from `src/`) records which sources it was
 * built from, so that a stale build never silently runs old code: `build/build-info.json` holds a
 * SHA-256 per build input, and `checkBuildInSync` compares them with the current `src/`.
 *
 * Build inputs: every `.ts` file and every run-time asset (`ASSET_EXTENSIONS`) under `src/`, plus
 * `tsconfig.build.json` (it decides what the JavaScript looks like). Contents are hashed, not
 * mtimes: a `git checkout` that rewrites a file with the same bytes leaves the build valid.
 */
import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";

/** Files under src/ that the library reads at run time and the build copies beside the JavaScript. */
export const ASSET_EXTENSIONS: readonly string[] = [".wasm"];
/** The build's compiler settings, at the repository root; hashed as an input. */
export const BUILD_TSCONFIG = "tsconfig.build.json";
/** Written by the build into its output folder. */
export const BUILD_INFO_FILE = "build-info.json";

export interface BuildInfo {
  /** SHA-256 over `files` (sorted): one value to compare and print. */
  fingerprint: string;
  /** Build input (path relative to the repository root, `/`-separated) -> SHA-256 of its bytes. */
  files: Record<string, string>;
  /** ISO time the build finished. */
  builtAt: string;
  /** TypeScript version that compiled it. */
  typescript: string;
}

/** Is `rel` (a path under src/) a build input? */
export function isBuildInput(rel: string): boolean {
  if (rel.endsWith(".d.ts")) return false;
  return rel.endsWith(".ts") || ASSET_EXTENSIONS.includes(path.extname(rel));
}

function walk(dir: string, rel: string, out: string[]): void {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) walk(path.join(dir, e.name), r, out);
    else if (e.isFile() && isBuildInput(r)) out.push(r);
  }
}

/** SHA-256 over a sorted file -> hash table. */
export function combinedFingerprint(files: Record<string, string>): string {
  const h = createHash("sha256");
  for (const f of Object.keys(files).sort()) h.update(`${f}\0${files[f]}\n`);
  return h.digest("hex");
}

/**
 * Hash every build input of the repository at `root` (`root/src/**`, `root/tsconfig.build.json`).
 * About 500 kB of sources: milliseconds.
 */
export function sourceFingerprint(root: string): { fingerprint: string; files: Record<string, string> } {
  const src = path.join(root, "src");
  if (!fs.statSync(src, { throwIfNoEntry: false })?.isDirectory()) throw new Error(`no src/ folder in ${root}: cannot fingerprint the library's sources`);
  const rels: string[] = [];
  walk(src, "", rels);
  const files: Record<string, string> = {};
  for (const r of rels.sort()) files[`src/${r}`] = createHash("sha256").update(fs.readFileSync(path.join(src, r))).digest("hex");
  const tsconfig = path.join(root, BUILD_TSCONFIG);
  if (fs.existsSync(tsconfig)) files[BUILD_TSCONFIG] = createHash("sha256").update(fs.readFileSync(tsconfig)).digest("hex");
  return { fingerprint: combinedFingerprint(files), files };
}

/** The build info in `buildDir`, or undefined when there is none (never built, or the last build failed). */
export function readBuildInfo(buildDir: string): BuildInfo | undefined {
  const file = path.join(buildDir, BUILD_INFO_FILE);
  if (!fs.existsSync(file)) return undefined;
  const info = JSON.parse(fs.readFileSync(file, "utf8")) as BuildInfo;
  if (typeof info.fingerprint !== "string" || typeof info.files !== "object" || info.files === null) {
    throw new Error(`${file} is not a build info file (no fingerprint/files): run \`npm run build\``);
  }
  return info;
}

/** Inputs that differ between a build and the current sources, as "changed src/x.ts" etc. */
export function diffInputs(built: Record<string, string>, current: Record<string, string>): string[] {
  const out: string[] = [];
  for (const f of Object.keys(current).sort()) {
    if (!(f in built)) out.push(`added ${f}`);
    else if (built[f] !== current[f]) out.push(`changed ${f}`);
  }
  for (const f of Object.keys(built).sort()) if (!(f in current)) out.push(`removed ${f}`);
  return out;
}

/**
 * Throw unless the build in `buildDir` was made from the current sources of the repository at
 * `root`. The message names the differing files and the command that fixes it.
 */
export function checkBuildInSync(buildDir: string, root: string): BuildInfo {
  const info = readBuildInfo(buildDir);
  if (!info) {
    throw new Error(`${buildDir} has no ${BUILD_INFO_FILE}: the library was never built, its last build failed, or a build is running now: run \`npm run build\` in ${root}, then restart the kernel`);
  }
  const current = sourceFingerprint(root);
  if (current.fingerprint !== info.fingerprint) {
    const diff = diffInputs(info.files, current.files);
    const shown = diff.slice(0, 8).join(", ") + (diff.length > 8 ? `, and ${diff.length - 8} more` : "");
    throw new Error(`${buildDir} was built from an older src/ (${shown}): run \`npm run build\` in ${root}, then restart the kernel`);
  }
  return info;
}

/**
 * When this library runs compiled (from `build/`, as the notebooks load it), check that the build
 * matches `src/` beside it; from the TypeScript sources there is nothing to check (ts-node and
 * vitest name modules `.ts`; tslab, compiling src/ through a symlink, names them `.js` but
 * keeps them in memory, so no such file exists). `moduleFile` is the `__filename` of a module in
 * the build folder (the notebook entry, build/notebook/index.js).
 */
export function checkCompiledLibrary(moduleFile: string): void {
  if (!moduleFile.endsWith(".js") || !fs.existsSync(moduleFile)) return;
  // The build's root is the nearest folder above the module that holds the build record.
  let buildDir = path.dirname(fs.realpathSync(moduleFile));
  while (!fs.existsSync(path.join(buildDir, BUILD_INFO_FILE)) && path.dirname(buildDir) !== buildDir && path.basename(buildDir) !== "build") buildDir = path.dirname(buildDir);
  checkBuildInSync(buildDir, path.dirname(buildDir));
}
