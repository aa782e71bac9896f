/**
 * Saving the dataset to, and loading it from, `data/`: an `.npy` of NHWC images in [0, 1]
 * (for Python tools) plus the colour ids and a JSON census. Loading regenerates from the seed
 * and checks the saved bytes, so a stale or edited file is an error, not a silent surprise.
 */
import * as fs from "fs";
import * as path from "path";
import { createHash } from "crypto";
import { writeJsonAtomic } from "../io/atomic";
import { loadNpy, saveNpy } from "../io/npy";
import { census, Dataset, datasetImages, DatasetOptions, DEFAULT_DATASET, generateDataset } from "./dataset";

export function datasetBaseName(o: DatasetOptions): string {
  return `colour-pairs-n${o.size}-seed${o.seed}`;
}

function digest(ds: Dataset): string {
  return createHash("sha256").update(ds.colours).digest("hex");
}

/** Write `<dir>/<name>.npy` (images), `<name>.colours.npy` and `<name>.json` (census, sha256). */
export function saveDataset(ds: Dataset, dir: string): string {
  const base = path.join(dir, datasetBaseName(ds.options));
  const n = ds.patterns.length;
  saveNpy(`${base}.npy`, datasetImages(ds, false), [n, 4, 4, 3]);
  saveNpy(`${base}.colours.npy`, ds.colours, [n, 4, 4]);
  const c = census(ds);
  writeJsonAtomic(`${base}.json`, {
    options: ds.options,
    sha256Colours: digest(ds),
    distinct: c.distinct,
    possible: c.possible,
    perPattern: c.perPattern,
    counts: c.counts,
    note: "images: NHWC float32 in [0,1], palette red, green, yellow, blue; the network sees 2x-1",
  });
  return base;
}

/**
 * Load the dataset for `options` from `dir`, or generate and save it when absent. The stored
 * colours must equal what the generator produces for that seed.
 */
export function loadOrCreateDataset(dir: string, options: DatasetOptions = DEFAULT_DATASET): Dataset {
  const ds = generateDataset(options);
  const base = path.join(dir, datasetBaseName(options));
  if (!fs.existsSync(`${base}.colours.npy`)) {
    saveDataset(ds, dir);
    return ds;
  }
  const stored = loadNpy(`${base}.colours.npy`).data;
  if (stored.length !== ds.colours.length || !stored.every((v, i) => v === ds.colours[i])) {
    throw new Error(`${base}.colours.npy does not match the generator for ${JSON.stringify(options)}; delete it to regenerate`);
  }
  return ds;
}
