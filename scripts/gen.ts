/**
 * `npm run gen`: write every generated file (src/codegen.ts): the variant list first, from the
 * files in src/variants/ alone, then, with the registry loaded from that list, the kernel constants,
 * the block dispatch and the PyTorch variants. Then `npm run build:wasm` if assembly/ changed.
 *
 *   npm run gen            # write what is stale, say what changed
 *   npm run gen -- --check # write nothing; exit 1 naming the stale files
 */
import * as fs from "fs";
import * as path from "path";
import { writeFileAtomic } from "../src/io/atomic";
import { variantListSource } from "../src/model/variant-files";

const ROOT = path.resolve(__dirname, "..");
const args = process.argv.slice(2);
if (args.includes("--help") || args.includes("-h")) {
  console.log("usage: npm run gen [-- --check]   write the generated files (src/codegen.ts), or only check them");
  process.exit(0);
}
const unknown = args.filter((a) => a !== "--check");
if (unknown.length > 0) {
  console.error(`gen: unknown argument(s) ${unknown.join(" ")} (expected --check or --help)`);
  process.exit(2);
}
const check = args.includes("--check");

// 1. The variant list, before anything imports the registry (which reads it).
const list = path.join(ROOT, "src", "variants", "_all.ts");
const listText = variantListSource();
const listStale = !fs.existsSync(list) || fs.readFileSync(list, "utf8") !== listText;
if (listStale && !check) writeFileAtomic(list, listText);

// 2. The rest, from the registry of the (new) list. Loaded here, after step 1, on purpose.
// eslint-disable-next-line @typescript-eslint/no-var-requires
const { generatedFiles } = require("../src/codegen") as typeof import("../src/codegen");
const stale: string[] = listStale ? ["src/variants/_all.ts"] : [];
for (const g of generatedFiles()) {
  if (g.file === "src/variants/_all.ts") continue;
  const file = path.join(ROOT, g.file);
  const text = g.make();
  if (fs.existsSync(file) && fs.readFileSync(file, "utf8") === text) continue;
  stale.push(g.file);
  if (!check) writeFileAtomic(file, text);
}
if (check) {
  if (stale.length > 0) {
    console.error(`gen: stale generated file(s): ${stale.join(", ")}; run npm run gen (then npm run build:wasm if assembly/ changed)`);
    process.exit(1);
  }
  console.log("gen: every generated file is current");
} else {
  console.log(stale.length > 0 ? `gen: wrote ${stale.join(", ")}${stale.some((f) => f.startsWith("assembly/")) ? "; now run npm run build:wasm" : ""}` : "gen: every generated file is current");
}
