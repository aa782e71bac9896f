/** Slices of one experiment (--runs 0 / --runs 1) merge into the table of the whole experiment. */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../src/backend";
import { resolveConfig } from "../src/config";
import { mergeDirs } from "../src/experiment/merge";
import { retableDir } from "../src/experiment/retable";
import { runExperiment } from "../src/experiment/run";

beforeAll(async () => {
  await initBackend();
});

describe("merge", () => {
  it("merging run slices gives the full experiment's table", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "merge-"));
    const cfg = resolveConfig("smoke", { datasetSize: 128, epochs: 2, samples: 32, sampleBatch: 32, runs: 2, workers: 1 });
    const common = { cfg, variants: ["cnn", "identity"] as const, profile: "test", log: () => {}, progressWrite: () => {} };
    const paths = (name: string) => ({ outDir: path.join(dir, name), dataDir: path.join(dir, "data") });
    const full = await runExperiment({ ...common, paths: paths("full") });
    await runExperiment({ ...common, paths: paths("a"), runs: [0] });
    await runExperiment({ ...common, paths: paths("b"), runs: [1] });
    const merged = mergeDirs(path.join(dir, "merged"), [path.join(dir, "a"), path.join(dir, "b")]);
    expect(merged.runs.length).toBe(4);
    expect(merged.table1).toEqual(full.table1);
    expect(fs.readFileSync(path.join(dir, "merged", "table1.csv"), "utf8")).toBe(fs.readFileSync(path.join(dir, "full", "table1.csv"), "utf8"));
    // slices with a different config are refused
    const other = resolveConfig("smoke", { datasetSize: 128, epochs: 3, samples: 32, sampleBatch: 32, runs: 1, workers: 1 });
    await runExperiment({ ...common, cfg: other, paths: paths("c") });
    expect(() => mergeDirs(path.join(dir, "bad"), [path.join(dir, "a"), path.join(dir, "c")])).toThrow(/different config/);
    // re-tabling a folder from its results.json alone gives its table, elsewhere, and never over the input unasked
    const re = retableDir(path.join(dir, "full"), path.join(dir, "re"));
    expect(re.table1).toEqual(full.table1);
    expect(fs.readFileSync(path.join(dir, "re", "table1.csv"), "utf8")).toBe(fs.readFileSync(path.join(dir, "full", "table1.csv"), "utf8"));
    expect(fs.readFileSync(path.join(dir, "re", "table1.md"), "utf8")).toBe(fs.readFileSync(path.join(dir, "full", "table1.md"), "utf8"));
    const saved = JSON.parse(fs.readFileSync(path.join(dir, "re", "results.json"), "utf8"));
    expect(fs.existsSync(path.resolve(dir, "re", saved.training[0].checkpoint))).toBe(true); // paths still name the input's files
    expect(() => retableDir(path.join(dir, "full"), path.join(dir, "full"))).toThrow(/is the input folder; pass the in-place flag/);
  });
});
