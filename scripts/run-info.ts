/**
 * Write <out>/run.json at the end of scripts/pipeline.sh: versions of every tool, the resolved
 * config and seeds (from results.json), timings per step and per notebook, and the files made.
 *
 *   npx ts-node --transpile-only scripts/run-info.ts --out DIR --profile P --started ISO \
 *     --step experiment=12.3 --step notebooks=80.1 --notebook-log DIR/notebooks/run_notebooks.log
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { writeJsonAtomic } from "../src/io/atomic";
import { collectVersions } from "../src/notebook/environment";

function main(argv: string[]): void {
  const steps: Record<string, number> = {};
  let out = "";
  let profile = "";
  let started = "";
  let notebookLog = "";
  let overrides = "{}";
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (value === undefined) throw new Error(`flag ${flag} needs a value`);
    switch (flag) {
      case "--out": out = value; break;
      case "--profile": profile = value; break;
      case "--started": started = value; break;
      case "--notebook-log": notebookLog = value; break;
      case "--overrides": overrides = value; break;
      case "--step": {
        const m = /^([\w-]+)=([\d.]+)$/.exec(value);
        if (!m) throw new Error(`--step expects NAME=SECONDS, got '${value}'`);
        steps[m[1]] = Number(m[2]);
        break;
      }
      default: throw new Error(`unknown flag '${flag}'`);
    }
  }
  if (!out) throw new Error("--out is required");
  const resultsFile = path.join(out, "results.json");
  if (!fs.existsSync(resultsFile)) throw new Error(`${resultsFile} not found: the experiment step did not finish`);
  const results = JSON.parse(fs.readFileSync(resultsFile, "utf8"));
  // "== 01_dataset.ipynb: ok in 12.3 s -> ..." lines of scripts/run_notebooks.py
  const perNotebook: Record<string, number> = {};
  let notebooksAtOnce = 1; // "all 11 notebooks passed in 75.3 s, 2 at a time": their seconds overlap
  if (notebookLog && fs.existsSync(notebookLog)) {
    const text = fs.readFileSync(notebookLog, "utf8");
    for (const m of text.matchAll(/^== (\S+\.ipynb): ok in ([\d.]+) s/gm)) perNotebook[m[1]] = Number(m[2]);
    notebooksAtOnce = Number(/^all \d+ notebooks passed in [\d.]+ s, (\d+) at a time/m.exec(text)?.[1] ?? 1);
  }
  const list = (dir: string) => (fs.existsSync(dir) ? fs.readdirSync(dir).sort() : []);
  const info = {
    profile,
    overrides: JSON.parse(overrides),
    startedAt: started,
    finishedAt: new Date().toISOString(),
    versions: collectVersions(),
    backend: results.meta?.backend,
    workers: results.meta?.workers,
    config: results.config,
    variants: results.meta?.variants,
    trainingSeeds: results.meta?.seeds,
    samplingSeeds: Array.from({ length: results.config.runs }, (_, r) => results.config.sampleSeed + r),
    datasetSeed: results.config.datasetSeed,
    timings: {
      stepsSeconds: steps, notebooksSeconds: perNotebook, notebooksAtOnce, experimentInternalSeconds: results.meta?.seconds,
      // the experiment's phases (datasets, train, sample, tables, theory), wall clock, from its phases.json
      phasesSeconds: fs.existsSync(path.join(out, "phases.json")) ? JSON.parse(fs.readFileSync(path.join(out, "phases.json"), "utf8")).seconds : null,
      loadAverage: os.loadavg(),
    },
    files: {
      notebooks: list(path.join(out, "notebooks")).filter((f) => f.endsWith(".ipynb")),
      figures: list(path.join(out, "figures")),
      samples: list(path.join(out, "samples")),
      tables: ["table1.csv", "table1.md", "results.json", "runs.csv", "losses.csv"].filter((f) => fs.existsSync(path.join(out, f))),
    },
  };
  writeJsonAtomic(path.join(out, "run.json"), info);
  console.log(`wrote ${path.join(out, "run.json")}`);
}

try {
  main(process.argv.slice(2));
} catch (e) {
  console.error(`run-info: ${(e as Error).message}`);
  process.exit(1);
}
