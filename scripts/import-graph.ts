/**
 * The import graph of a TypeScript source tree, and its cycles. Every relative module reference
 * counts: `import ... from`, `import type ... from`, `export ... from`, side-effect `import "..."`,
 * `require("...")` and `import("...")`. Comments are stripped first so that an example in a doc
 * comment is not an edge. Used by test/import-cycles.test.ts; as a script it prints the cycles:
 *
 *   npx ts-node --transpile-only scripts/import-graph.ts [src]
 */
import * as fs from "fs";
import * as path from "path";

/**
 * Strip // and /* *\/ comments, keeping quoted string literals (a "//" inside a string stays) and
 * emptying template literals (generated code in a template is not an import of this file).
 */
export function stripComments(text: string): string {
  let out = "";
  let i = 0;
  while (i < text.length) {
    const c = text[i], d = text[i + 1];
    if (c === "/" && d === "/") {
      while (i < text.length && text[i] !== "\n") i++;
    } else if (c === "/" && d === "*") {
      i += 2;
      while (i < text.length && !(text[i] === "*" && text[i + 1] === "/")) i++;
      i += 2;
    } else if (c === '"' || c === "'" || c === "`") {
      const q = c;
      const keep = q !== "`";
      out += c;
      i++;
      while (i < text.length && text[i] !== q) {
        if (text[i] === "\\") {
          if (keep) out += text[i];
          i++;
        }
        if (keep) out += text[i];
        i++;
      }
      out += q;
      i++;
    } else out += text[i++];
  }
  return out;
}

/** Module specifiers a file refers to (relative or not). */
export function moduleRefs(text: string): string[] {
  const src = stripComments(text);
  const refs: string[] = [];
  const patterns = [
    /\b(?:import|export)\s+(?:type\s+)?[^'";]*?\bfrom\s*["']([^"']+)["']/g,
    /\bimport\s*["']([^"']+)["']/g,
    /\brequire\s*\(\s*["']([^"']+)["']\s*\)/g,
    /\bimport\s*\(\s*["']([^"']+)["']\s*\)/g,
  ];
  for (const re of patterns) for (const m of src.matchAll(re)) refs.push(m[1]);
  return refs;
}

function resolve(from: string, spec: string): string | null {
  const base = path.resolve(path.dirname(from), spec);
  for (const f of [base, `${base}.ts`, path.join(base, "index.ts")]) if (fs.existsSync(f) && fs.statSync(f).isFile() && f.endsWith(".ts")) return f;
  return null;
}

/** Every .ts file under `root` -> the .ts files under `root` it refers to by relative path. An unresolved relative reference is an error. */
export function importGraph(root: string): Map<string, Set<string>> {
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith(".ts") && !e.name.endsWith(".d.ts")) files.push(p);
    }
  };
  walk(root);
  const g = new Map<string, Set<string>>();
  for (const f of files.sort()) {
    const edges = new Set<string>();
    for (const spec of moduleRefs(fs.readFileSync(f, "utf8"))) {
      if (!spec.startsWith(".")) continue;
      const to = resolve(f, spec);
      if (to === null) {
        if (/\.(json|wasm)$/.test(spec)) continue;
        throw new Error(`${f}: cannot resolve import '${spec}'`);
      }
      if (to.startsWith(root + path.sep)) edges.add(to);
    }
    g.set(f, edges);
  }
  return g;
}

/**
 * The cycles of a graph: each strongly connected component with more than one node (or a node
 * that imports itself), nodes sorted, components sorted by their first node (Tarjan's algorithm).
 */
export function findCycles(g: Map<string, Set<string>>): string[][] {
  let index = 0;
  const idx = new Map<string, number>(), low = new Map<string, number>(), on = new Set<string>(), stack: string[] = [];
  const out: string[][] = [];
  const strong = (v: string) => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of g.get(v) ?? []) {
      if (!idx.has(w)) {
        strong(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const comp: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        comp.push(w);
      } while (w !== v);
      if (comp.length > 1 || g.get(v)?.has(v)) out.push(comp.sort());
    }
  };
  for (const v of [...g.keys()].sort()) if (!idx.has(v)) strong(v);
  return out.sort((a, b) => (a[0] < b[0] ? -1 : 1));
}

/** Every node reachable from `start` (not including it unless on a cycle). */
export function reachable(g: Map<string, Set<string>>, start: string): Set<string> {
  const seen = new Set<string>();
  const todo = [...(g.get(start) ?? [])];
  while (todo.length) {
    const v = todo.pop()!;
    if (seen.has(v)) continue;
    seen.add(v);
    todo.push(...(g.get(v) ?? []));
  }
  return seen;
}

if (require.main === module) {
  const root = path.resolve(process.argv[2] ?? "src");
  const cycles = findCycles(importGraph(root));
  for (const c of cycles) console.log(c.map((f) => path.relative(root, f)).join(" -> "));
  console.log(`${cycles.length} cycle(s) in ${root}`);
  process.exit(cycles.length > 0 ? 1 : 0);
}
