/** CLI: `npm run merge -- OUT_DIR IN_DIR [IN_DIR ...]` combines slices of one experiment. */
import * as fs from "fs";
import * as path from "path";
import { mergeDirs } from "../experiment/merge";

export const MERGE_USAGE = `usage: npm run merge -- OUT_DIR IN_DIR [IN_DIR ...]

Combines result folders of slices of one study (each IN_DIR holds a results.json, made with
--seeds/--runs slices or --variant) into one Table 1 in OUT_DIR: results.json, table1.csv/.md,
runs.csv, losses.csv, config.json. The slices must share every config key that changes a number
(runs, seeds, datasets, samples, sampleSeed, sampler, maxNonFinite, ...; only workers and theory
may differ). OUT_DIR must be a new folder: not an input, not inside one, not holding one; it is
locked while merge writes, and a folder a running experiment holds is refused.`;

function main(argv: string[]): void {
  if (argv.includes("--help") || argv.includes("-h")) {
    console.log(MERGE_USAGE);
    return;
  }
  const flag = argv.find((a) => a.startsWith("-"));
  if (flag) throw new Error(`unknown flag '${flag}' (merge takes folders only)\n${MERGE_USAGE}`);
  const [out, ...inputs] = argv;
  if (!out || inputs.length === 0) {
    console.error(MERGE_USAGE);
    process.exit(2);
  }
  const merged = mergeDirs(out, inputs);
  console.log(`merged ${inputs.length} folder(s): ${merged.runs.length} sampling runs, ${merged.training.length} trained models`);
  console.log(fs.readFileSync(path.join(out, "table1.md"), "utf8"));
}

try {
  main(process.argv.slice(2));
} catch (e) {
  console.error(`error: ${(e as Error).message}`);
  process.exit(1);
}
