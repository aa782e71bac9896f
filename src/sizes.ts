/**
 * Sizes that cannot fit: a config whose arrays, files or task lists would not fit in memory (or in
 * a typed array, a wasm memory, a JavaScript string) is an error naming the key and the bound,
 * before any work, not a crash after hours of training ("Invalid typed array length", "heap out of
 * memory"). The bounds are far above the paper's settings (in brackets) and well inside what one
 * machine holds.
 */
/** The config keys that size arrays, files or task lists (src/config.ts ExperimentConfig). */
export type SizeKey = "datasetSize" | "datasets" | "seeds" | "diffusionSteps" | "batchSize" | "samples" | "sampleBatch" | "runs" | "protocolRuns" | "workers";

/** Largest value of each size key, and why. */
export const SIZE_LIMITS: Record<SizeKey, [max: number, why: string]> = {
  datasetSize: [1_000_000, "the training set is held in wasm memory, 192 bytes per image [2048]"],
  datasets: [10_000, "one dataset file per draw [6]"],
  seeds: [10_000, "one model per seed [2]"],
  diffusionSteps: [100_000, "per-step tables in every sampler and trainer [1000]"],
  batchSize: [65_536, "a batch's activations are held in wasm memory [64]"],
  samples: [1_000_000, "a run's samples are held in memory, 192 bytes each, and saved as one .npy [10 000]"],
  sampleBatch: [1_000_000, "a batch of sampling chains is held in wasm memory [10 000]"],
  runs: [100_000, "every run is a task and a record in results.json [10]"],
  protocolRuns: [100_000, "every run is a task and a record in results.json [100]"],
  workers: [256, "each worker thread holds its own wasm memories [one per core]"],
};

/** Most training epochs of one model (top1's `epochs x top1EpochFactor`): every epoch's loss is kept. */
export const MAX_EPOCHS = 1_000_000;
/** Most models in a study (datasets x seeds). */
export const MAX_MODELS = 10_000;

/** The per-key bounds; throws naming the key, the value and the bound. */
export function checkSizes(c: Readonly<Record<SizeKey | "epochs" | "top1EpochFactor", number>>): void {
  for (const [k, [max, why]] of Object.entries(SIZE_LIMITS) as [SizeKey, [number, string]][]) {
    const v = c[k];
    if (v > max) throw new Error(`config key '${k}' must be at most ${max} (${why}), got ${v}`);
  }
  if (c.epochs * c.top1EpochFactor > MAX_EPOCHS) {
    throw new Error(`config keys 'epochs' x 'top1EpochFactor' (${c.epochs} x ${c.top1EpochFactor}, top1's training) must be at most ${MAX_EPOCHS} epochs (every epoch's loss is kept in the checkpoint and results.json), got ${c.epochs * c.top1EpochFactor}`);
  }
  if (c.datasets * c.seeds > MAX_MODELS) {
    throw new Error(`config keys 'datasets' x 'seeds' (${c.datasets} x ${c.seeds}) must be at most ${MAX_MODELS} models per variant, got ${c.datasets * c.seeds}`);
  }
}
