/**
 * Experiment configuration: one typed, read-only object with SPEC.md defaults, presets
 * (`smoke`, `quick`, `paper`) as data, and checked overrides (an unknown key or a wrong type is
 * an error naming the key and value, never ignored).
 */
export interface ExperimentConfig {
  // Dataset (SPEC "Dataset")
  readonly datasetSize: number;
  readonly datasetSeed: number;
  // DDPM (SPEC "DDPM")
  readonly diffusionSteps: number;
  readonly betaStart: number;
  readonly betaEnd: number;
  // Training (SPEC "Training")
  readonly epochs: number;
  /** top1 trains this many times longer (paper: 10 000 vs 5000 epochs). */
  readonly top1EpochFactor: number;
  readonly batchSize: number;
  readonly lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly adamEps: number;
  readonly weightDecay: number;
  /** OneCycle: cycle beta1 between baseMomentum and maxMomentum (PyTorch default true). */
  readonly cycleMomentum: boolean;
  readonly pctStart: number;
  readonly divFactor: number;
  readonly finalDivFactor: number;
  readonly baseMomentum: number;
  readonly maxMomentum: number;
  readonly emaDecay: number;
  readonly emaWarmup: boolean;
  readonly gumbelTau: number;
  /** First training seed; `seeds` consecutive seeds are trained per variant. */
  readonly seed: number;
  readonly seeds: number;
  /** Save a checkpoint every this many epochs (and at the end). */
  readonly checkpointEvery: number;
  // Evaluation (SPEC "Evaluation")
  /** Samples per sampling run. */
  readonly samples: number;
  /** Sampling runs per trained model. */
  readonly runs: number;
  /** Largest batch pushed through the network at once while sampling. */
  readonly sampleBatch: number;
  /** Seed of sampling run r is sampleSeed + r. */
  readonly sampleSeed: number;
  /** Sample with the EMA weights (paper) rather than the raw weights. */
  readonly useEma: boolean;
  /** Also evaluate raw-weight samples (SPEC "EMA note"). */
  readonly rawSamples: boolean;
  /** Worker threads for independent runs; 0 = one per CPU core. */
  readonly workers: number;
  /**
   * Training engine: the fused WebAssembly SIMD step (src/kernels/trainer.ts) or the tfjs
   * formulation (src/train/trainer.ts). Same numbers to float32 rounding; checkpoints are shared.
   */
  readonly trainer: Engine;
  /**
   * Sampling engine: fused WebAssembly SIMD (src/kernels/sampler.ts) or tfjs. Same distribution;
   * the noise streams differ, so a given seed gives different samples per engine.
   */
  readonly sampler: Engine;
}

export type Engine = "wasm" | "tfjs";

/** Allowed values of the string-valued keys. */
const ENUM_KEYS: Partial<Record<keyof ExperimentConfig, readonly string[]>> = {
  trainer: ["wasm", "tfjs"],
  sampler: ["wasm", "tfjs"],
};

export const DEFAULT_CONFIG: ExperimentConfig = Object.freeze({
  datasetSize: 2048,
  datasetSeed: 0,
  diffusionSteps: 1000,
  betaStart: 1e-4,
  betaEnd: 0.02,
  epochs: 5000,
  top1EpochFactor: 2,
  batchSize: 64,
  lr: 1e-3,
  beta1: 0.9,
  beta2: 0.999,
  adamEps: 1e-8,
  weightDecay: 1e-5,
  cycleMomentum: true,
  pctStart: 0.3,
  divFactor: 25,
  finalDivFactor: 1e4,
  baseMomentum: 0.85,
  maxMomentum: 0.95,
  emaDecay: 0.9999,
  emaWarmup: true,
  gumbelTau: 1,
  seed: 0,
  seeds: 3,
  checkpointEvery: 250,
  samples: 10000,
  runs: 100,
  sampleBatch: 10000,
  sampleSeed: 1000,
  useEma: true,
  rawSamples: false,
  workers: 0,
  trainer: "wasm",
  sampler: "wasm",
});

export type ProfileName = "smoke" | "quick" | "paper";
export const PROFILE_NAMES: readonly ProfileName[] = ["smoke", "quick", "paper"];

/** Presets as data. `paper` is SPEC scale; the others cut samples first, epochs last. */
export const PROFILES: Record<ProfileName, Partial<ExperimentConfig>> = {
  // CI: seconds per variant; proves the pipeline runs end to end, not the paper's effect.
  smoke: { epochs: 4, seeds: 1, samples: 256, runs: 2, sampleBatch: 256, checkpointEvery: 2 },
  // Minutes: long enough training for the attention effect (SPEC: ~2000 epochs), few samples.
  quick: { epochs: 2000, seeds: 1, samples: 2000, runs: 5, sampleBatch: 2000, checkpointEvery: 100 },
  // SPEC scale: 5000 / 10000 epochs, 10k x 100 samples, 3 training seeds.
  paper: {},
};

/** Integer-valued keys (checked as integers). */
const INTEGER_KEYS = new Set<keyof ExperimentConfig>([
  "datasetSize", "datasetSeed", "diffusionSteps", "epochs", "top1EpochFactor", "batchSize", "seed", "seeds",
  "checkpointEvery", "samples", "runs", "sampleBatch", "sampleSeed", "workers",
]);

export function parseProfile(name: string): ProfileName {
  if ((PROFILE_NAMES as readonly string[]).includes(name)) return name as ProfileName;
  throw new Error(`unknown profile '${name}' (expected one of ${PROFILE_NAMES.join(", ")})`);
}

/**
 * Check one override against the default's type. Strings (from the CLI, env or a notebook) are
 * parsed; anything else must already have the right type.
 */
export function checkOverride(key: string, value: unknown): [keyof ExperimentConfig, number | boolean | string] {
  if (!(key in DEFAULT_CONFIG)) {
    throw new Error(`unknown config key '${key}' (valid keys: ${Object.keys(DEFAULT_CONFIG).join(", ")})`);
  }
  const k = key as keyof ExperimentConfig;
  const expected = typeof DEFAULT_CONFIG[k];
  const allowed = ENUM_KEYS[k];
  if (allowed) {
    if (typeof value !== "string" || !allowed.includes(value)) {
      throw new Error(`config key '${key}' expects one of ${allowed.join(", ")}, got ${JSON.stringify(value)}`);
    }
    return [k, value];
  }
  let v = value;
  if (typeof v === "string") {
    if (expected === "boolean") {
      if (v !== "true" && v !== "false") throw new Error(`config key '${key}' expects true or false, got '${value}'`);
      v = v === "true";
    } else {
      v = v.trim() === "" ? NaN : Number(v);
    }
  }
  if (typeof v !== expected || (expected === "number" && !Number.isFinite(v as number))) {
    throw new Error(`config key '${key}' expects a ${expected}, got ${JSON.stringify(value)}`);
  }
  if (INTEGER_KEYS.has(k) && !Number.isInteger(v)) throw new Error(`config key '${key}' expects an integer, got ${JSON.stringify(value)}`);
  return [k, v as number | boolean];
}

/** Defaults <- profile <- overrides, validated. */
export function resolveConfig(profile: ProfileName = "paper", overrides: Record<string, unknown> = {}): ExperimentConfig {
  const cfg: Record<string, unknown> = { ...DEFAULT_CONFIG, ...PROFILES[parseProfile(profile)] };
  for (const [key, value] of Object.entries(overrides)) {
    const [k, v] = checkOverride(key, value);
    cfg[k] = v;
  }
  const c = cfg as unknown as ExperimentConfig;
  const positive: (keyof ExperimentConfig)[] = ["datasetSize", "diffusionSteps", "epochs", "batchSize", "seeds", "samples", "runs", "sampleBatch", "checkpointEvery", "top1EpochFactor"];
  for (const k of positive) if (!((c[k] as number) > 0)) throw new Error(`config key '${k}' must be positive, got ${c[k]}`);
  if (c.workers < 0) throw new Error(`config key 'workers' must be >= 0, got ${c.workers}`);
  return Object.freeze(c);
}

/** Training epochs for a variant (top1 trains `top1EpochFactor` times longer). */
export function epochsFor(cfg: ExperimentConfig, variant: string): number {
  return variant === "top1" ? cfg.epochs * cfg.top1EpochFactor : cfg.epochs;
}
