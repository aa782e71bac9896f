/**
 * The repository stands on its own: no tracked file refers to a folder beside the clone (the
 * `shared` folder the project was first specified in). Specifications live in docs/experiment.md,
 * golden values in test/fixtures/reference-values/ (made by bench/make-reference-values.py).
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { describe, expect, it } from "vitest";

const ROOT = path.resolve(__dirname, "..");

// Built from pieces so that this file does not match itself.
const SHARED = ["sha", "red"].join("");
const FORBIDDEN: readonly RegExp[] = [
  new RegExp(`\\.\\./+${SHARED}\\b`), // dot-dot, slash, the folder name
  new RegExp(`["'\`]\\.\\.["'\`]\\s*,\\s*["'\`]${SHARED}["'\`]`), // path.join(x, "..", <the folder name>)
  new RegExp(`\\b${SHARED}/(SPEC|STYLE|reference-values|paper)\\b`, "i"), // the folder name, slash, one of its files
];

/** Folders that hold no source: installed, built or produced by runs (what .gitignore ignores). */
const NOT_SOURCE = new Set(["node_modules", "build", "results", ".git", "scratch", "__pycache__", ".ipynb_checkpoints"]);

/** Every file under `dir` (relative to ROOT), skipping NOT_SOURCE folders. */
function walk(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) return NOT_SOURCE.has(e.name) ? [] : walk(full);
    return [path.relative(ROOT, full)];
  });
}

/**
 * Files tracked by git, plus new files not yet added (what the next commit may hold). From a source
 * archive without .git (a release tarball, a copy): every file under the root except the folders
 * .gitignore names (installed, built, run outputs).
 */
function repositoryFiles(): string[] {
  if (!fs.existsSync(path.join(ROOT, ".git"))) return walk(ROOT);
  const r = spawnSync("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], { cwd: ROOT, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`git ls-files failed in ${ROOT} (status ${r.status}): ${r.stderr || r.error}`);
  return [...new Set(r.stdout.split("\0").filter(Boolean))];
}

/** Lines of `text` that match a forbidden reference, as "file:line: text". */
function sharedReferences(file: string, text: string): string[] {
  const hits: string[] = [];
  text.split("\n").forEach((line, i) => {
    if (FORBIDDEN.some((re) => re.test(line))) hits.push(`${file}:${i + 1}: ${line.trim().slice(0, 160)}`);
  });
  return hits;
}

describe("the repository stands on its own", () => {
  it("the pattern catches each way of pointing at the sibling folder, and only those", () => {
    const bad = [
      "`../" + SHARED + "/SPEC.md` fixes the defaults",
      'const REF = path.resolve(__dirname, "..", "..", "' + SHARED + '", "reference-values");',
      'path.join(root, "..", "' + SHARED + '", "reference-values", "adamw.json")',
      "see " + SHARED + "/reference-values/adamw.json",
      "read /work/" + SHARED + "/paper/finn.md",
    ];
    for (const line of bad) expect(sharedReferences("x", line), line).toHaveLength(1);
    const fine = ["checkpoints are shared", "one shared MLP per quadrant", "const shared = bankFromRows(rows);", "docs/experiment.md"];
    for (const line of fine) expect(sharedReferences("x", line), line).toEqual([]);
  });

  it("without .git (a source archive) the files are found by walking the tree", () => {
    const walked = walk(ROOT);
    expect(walked).toContain("docs/experiment.md");
    expect(walked).toContain(path.join("src", "config.ts"));
    expect(walked.some((f) => f.startsWith("node_modules"))).toBe(false);
  });

  it("no tracked file refers to the sibling folder (its SPEC, reference values, paper)", () => {
    const files = repositoryFiles();
    expect(files.length, "git ls-files listed no files").toBeGreaterThan(50);
    expect(files).toContain("docs/experiment.md");
    const hits: string[] = [];
    for (const file of files) {
      const full = path.join(ROOT, file);
      let stat: fs.Stats;
      try {
        stat = fs.lstatSync(full);
      } catch {
        continue; // deleted in the work tree, not yet in the index
      }
      if (stat.isSymbolicLink()) {
        const target = fs.readlinkSync(full);
        hits.push(...sharedReferences(`${file} (symlink)`, target));
        if (path.resolve(path.dirname(full), target).startsWith(path.dirname(ROOT) + path.sep) && !path.resolve(path.dirname(full), target).startsWith(ROOT + path.sep)) {
          hits.push(`${file}: symlink leaves the repository: ${target}`);
        }
        continue;
      }
      if (!stat.isFile() || stat.size > 5_000_000) continue;
      const buf = fs.readFileSync(full);
      if (buf.subarray(0, 8000).includes(0)) continue; // binary (PNG, .npy, .wasm)
      hits.push(...sharedReferences(file, buf.toString("utf8")));
    }
    expect(hits, `references to the sibling folder:\n${hits.join("\n")}`).toEqual([]);
  });
});
