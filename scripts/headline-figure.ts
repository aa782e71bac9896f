/**
 * The README's figure: every trained model of each variant as a dot, with the mean, its 95 %
 * interval, the one-model 95 % prediction interval and the paper's value, each variant taken from the
 * published folder with the most models for it. Written as PNG, SVG and PDF.
 *
 *   npx ts-node --transpile-only scripts/headline-figure.ts --out docs/results/figures/table1-all-models \
 *     cnn=docs/results/paper attention=docs/results/paper-attention-16draws ...
 *
 * Each VARIANT=DIR names a folder whose results.json holds that variant's study summary.
 */
import * as path from "path";
import { readResults } from "../src/experiment/merge";
import { parseVariant } from "../src/model/variants";
import { FigureExporter } from "../src/plot/export";
import { studyStripFigure } from "../src/plot/figures";

async function main(argv: string[]): Promise<void> {
  if (argv.includes("--help") || argv.includes("-h")) {
    console.log("usage: scripts/headline-figure.ts --out BASE VARIANT=DIR [VARIANT=DIR ...]");
    return;
  }
  let out: string | null = null;
  const pairs: [string, string][] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--out") out = argv[++i] ?? null;
    else if (/^[a-z0-9]+=.+$/.test(argv[i])) pairs.push(argv[i].split("=", 2) as [string, string]);
    else throw new Error(`unknown argument '${argv[i]}' (expected --out BASE and VARIANT=DIR pairs)`);
  }
  if (!out || pairs.length === 0) throw new Error("usage: scripts/headline-figure.ts --out BASE VARIANT=DIR [VARIANT=DIR ...]");
  const rows = pairs.map(([v, dir]) => {
    const variant = parseVariant(v);
    const s = readResults(dir).summaries.find((x) => x.model === variant && x.weights !== "raw" && x.study);
    if (!s) throw new Error(`${dir}/results.json has no study summary of ${variant}`);
    return s;
  });
  const fig = studyStripFigure(rows, { title: "Functional consistency: every trained model (dots), mean and its 95 % CI (black),<br>95 % prediction interval for one new model (grey), the paper's single model (diamond)", width: 860, height: 480 });
  const ex = await new FigureExporter().open();
  try {
    const files = await ex.export(fig, path.resolve(out), { scale: 2 });
    console.log(`wrote ${files.join(", ")}`);
  } finally {
    await ex.close();
  }
}

main(process.argv.slice(2)).catch((e: Error) => {
  console.error(`error: ${e.message}`);
  process.exit(1);
});
