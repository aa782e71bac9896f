/** CLI: `npm run merge -- OUT_DIR IN_DIR [IN_DIR ...]` combines slices of one experiment. */
import * as fs from "fs";
import * as path from "path";
import { mergeDirs } from "../experiment/merge";

function main(): void {
  const [out, ...inputs] = process.argv.slice(2);
  if (!out || inputs.length === 0) {
    console.error("usage: npm run merge -- OUT_DIR IN_DIR [IN_DIR ...]   (each IN_DIR holds a results.json)");
    process.exit(2);
  }
  const merged = mergeDirs(out, inputs);
  console.log(`merged ${inputs.length} folder(s): ${merged.runs.length} sampling runs, ${merged.training.length} trained models`);
  console.log(fs.readFileSync(path.join(out, "table1.md"), "utf8"));
}

try {
  main();
} catch (e) {
  console.error(`error: ${(e as Error).message}`);
  process.exit(1);
}
