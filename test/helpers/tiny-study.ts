/** The tiny studies the reliability tests run: a smoke config of seconds, a temp folder, a quiet experiment. */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { ExperimentConfig, resolveConfig } from "../../src/config";
import { runExperiment } from "../../src/experiment/run";
import { Variant } from "../../src/model/variants";

/** The smoke profile cut to 128 images, 2 epochs, 2 runs x 32 samples, one worker, a checkpoint every epoch. */
export const tiny = (o: Record<string, unknown> = {}) =>
  resolveConfig("smoke", { datasetSize: 128, epochs: 2, samples: 32, sampleBatch: 32, runs: 2, workers: 1, checkpointEvery: 1, ...o });

/** A fresh temp folder whose name starts with `prefix`. */
export const tmpDir = (prefix: string) => fs.mkdtempSync(path.join(os.tmpdir(), prefix));

/** Options that silence an experiment's log and progress bar. */
export const quiet = { log: () => {}, progressWrite: () => {} };

/** runExperiment into `outDir`, the data beside it (`<outDir>/../data`), quietly. */
export const experiment = (cfg: ExperimentConfig, outDir: string, variants: Variant[], extra: { seeds?: number[]; runs?: number[] } = {}) =>
  runExperiment({ cfg, variants, profile: "test", paths: { outDir, dataDir: path.join(outDir, "..", "data") }, ...quiet, ...extra });
