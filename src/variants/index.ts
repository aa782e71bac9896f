/**
 * The variants: the paper's four, then any other `<name>.ts` (or compiled `.js`) file in this
 * folder that exports a `VariantDescriptor` (picked up by the CLI, notebooks and worker threads,
 * which load the library through ts-node or the compiled build). See docs/adding-a-variant.md.
 */
import * as fs from "fs";
import * as path from "path";
import { registerVariant, VariantDescriptor } from "../model/variant-registry";
import { attention } from "./attention";
import { cnn } from "./cnn";
import { identity } from "./identity";
import { top1 } from "./top1";

/** The paper's variants, in its order. */
export const PAPER_VARIANTS: readonly VariantDescriptor[] = [cnn, attention, identity, top1];
const BUILT_IN = new Set(["index", ...PAPER_VARIANTS.map((d) => d.name)]);

const isDescriptor = (x: unknown): x is VariantDescriptor =>
  typeof x === "object" && x !== null && typeof (x as VariantDescriptor).name === "string" && "attention" in x && "wasmKernel" in x;

/**
 * Register every descriptor exported by the variant files in `dir` (other than the paper's four):
 * `<name>.ts` under ts-node, `<name>.js` in the compiled build. A file that fails to load, or
 * exports no descriptor, is an error naming it. Returns the names registered.
 */
export function discoverVariants(dir: string = __dirname): string[] {
  const found: string[] = [];
  for (const f of fs.readdirSync(dir).sort()) {
    const m = /^([a-z][a-z0-9]*)\.(ts|js)$/.exec(f);
    if (!m || f.endsWith(".d.ts") || BUILT_IN.has(m[1])) continue;
    // Under vitest a .ts file cannot be required; ts-node (CLI, workers) and the build can.
    if (m[2] === "ts" && !require.extensions[".ts"]) continue;
    let mod: Record<string, unknown>;
    try {
      mod = require(path.join(dir, f)) as Record<string, unknown>;
    } catch (e) {
      throw new Error(`variant file ${path.join(dir, f)} failed to load: ${(e as Error).message}`);
    }
    const ds = Object.values(mod).filter(isDescriptor);
    if (ds.length === 0) throw new Error(`variant file ${path.join(dir, f)} exports no VariantDescriptor`);
    for (const d of ds) found.push(registerVariant(d).name);
  }
  return found;
}

for (const d of PAPER_VARIANTS) registerVariant(d);
discoverVariants();
