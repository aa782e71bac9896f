/**
 * The layout of src/: no import circles anywhere (type-only imports, `require(...)` and `import(...)`
 * with relative paths included), and the paper's mathematics (src/theory/) reaches nothing of the
 * experiment runner (src/experiment/), directly or through another module.
 */
import * as fs from "fs";
import * as path from "path";
import { describe, expect, it } from "vitest";
import { findCycles, importGraph, reachable } from "../scripts/import-graph";

const SRC = path.join(__dirname, "..", "src");

describe("import graph of src/", () => {
  const graph = importGraph(SRC);

  it("parses every module and resolves every relative import", () => {
    expect(graph.size).toBeGreaterThan(50);
    // a known edge of each kind, so that a parser that finds nothing cannot pass
    const edges = (from: string) => graph.get(path.join(SRC, from)) ?? new Set<string>();
    expect(edges("experiment/run.ts").has(path.join(SRC, "experiment/phase.ts"))).toBe(true); // import { } from
    expect(edges("experiment/worker.ts").has(path.join(SRC, "experiment/pool.ts"))).toBe(true); // import type
    expect(edges("backend.ts").size + edges("notebook/index.ts").size).toBeGreaterThan(5);
  });

  it("finds a cycle when there is one (the test's own control)", () => {
    const g = new Map<string, Set<string>>([["a", new Set(["b"])], ["b", new Set(["c"])], ["c", new Set(["a"])], ["d", new Set(["a"])]]);
    expect(findCycles(g)).toEqual([["a", "b", "c"]]);
    expect(findCycles(new Map([["a", new Set(["a"])]]))).toEqual([["a"]]);
    expect(findCycles(new Map([["a", new Set(["b"])], ["b", new Set<string>()]]))).toEqual([]);
  });

  it("has no import cycles", () => {
    const cycles = findCycles(graph).map((c) => c.map((f) => path.relative(SRC, f)).join(" -> "));
    expect(cycles, `import cycles in src/:\n${cycles.join("\n")}`).toEqual([]);
  });

  it("src/theory/ (the paper's mathematics) reaches nothing in src/experiment/", () => {
    const theory = [...graph.keys()].filter((f) => f.startsWith(path.join(SRC, "theory") + path.sep));
    expect(theory.length).toBeGreaterThan(10);
    const bad = theory.flatMap((f) => [...reachable(graph, f)].filter((g) => g.startsWith(path.join(SRC, "experiment") + path.sep)).map((g) => `${path.relative(SRC, f)} -> ${path.relative(SRC, g)}`));
    expect(bad, `src/theory/ reaches the experiment runner:\n${bad.join("\n")}`).toEqual([]);
  });

  it("names files in kebab-case", () => {
    const bad: string[] = [];
    const walk = (dir: string) => {
      for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
        if (e.isDirectory()) walk(path.join(dir, e.name));
        else if (e.name.endsWith(".ts") && !/^_?[a-z0-9]+(-[a-z0-9]+)*\.ts$/.test(e.name)) bad.push(path.relative(SRC, path.join(dir, e.name)));
      }
    };
    walk(SRC);
    expect(bad, `file names not in kebab-case: ${bad.join(", ")}`).toEqual([]);
  });
});
