/**
 * Experiment configuration: one typed, read-only object with SPEC.md defaults, presets
 * (`smoke`, `quick`, `paper`) as data, and checked overrides (an unknown key or a wrong type is
 * an error naming the key and value, never ignored).
 */
import { SAMPLER_FORM_NAMES, SamplerFormName } from "./ddpm/sampler-forms";
import { GUMBEL_SAMPLING, GumbelSampling } from "./model/variant-registry";
import { getVariant } from "./model/variants";
import { checkSizes } from "./sizes";

export interface ExperimentConfig {
  // Dataset (SPEC "Dataset")
  readonly datasetSize: number;
  /** Seed of the first dataset draw; draw i uses datasetSeed + i. */
  readonly datasetSeed: number;
  /**
   * Dataset draws in the study (each a fresh set of `datasetSize` images). With 1, every training
   * seed trains on draw `datasetSeed`; with D > 1 the study is D draws x `seeds` training seeds,
   * draw i holding seeds seed + i*seeds ... seed + (i+1)*seeds - 1 (see src/experiment/models.ts).
   */
  readonly datasets: number;
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
  /**
   * Straight-through hard Gumbel-softmax in training (PyTorch's gumbel_softmax(hard=True)): the
   * forward pass uses the one-hot of the argmax, the gradient flows through the soft weights.
   * SPEC false (the soft form, PyTorch's default). Variants with Gumbel draws only.
   */
  readonly gumbelHard: boolean;
  /** First training seed. */
  readonly seed: number;
  /** Training seeds per dataset draw (consecutive; unique across draws). */
  readonly seeds: number;
  /** Save a checkpoint every this many epochs (and at the end). */
  readonly checkpointEvery: number;
  // Evaluation (SPEC "Evaluation")
  /** Samples per sampling run. */
  readonly samples: number;
  /** Sampling runs per trained model. */
  readonly runs: number;
  /**
   * The paper's protocol beside the many-model table: the study's first model (first draw, first
   * seed) of each variant gets this many sampling runs (runs 0..protocolRuns-1; 0 = off).
   */
  readonly protocolRuns: number;
  /** Largest batch pushed through the network at once while sampling. */
  readonly sampleBatch: number;
  /** Seed of sampling run r is sampleSeed + r. */
  readonly sampleSeed: number;
  /**
   * Reverse-step form of the sampler (src/ddpm/sampler-forms.ts): "ddpm" (SPEC: eps form,
   * sigma^2 = beta), "ddpm-posterior" (sigma^2 = beta-tilde) or "clamp-x0" (minimal-diffusion's step:
   * x0 clamped to [-1, 1], posterior mean, beta-tilde). Sampling only: checkpoints are reused.
   */
  readonly sampler: SamplerFormName;
  /**
   * How top-1 (Gumbel) attention picks its key while sampling: "argmax" (SPEC), "gumbel-hard" (argmax
   * of scores + fresh Gumbel draws at every step, as PyTorch's gumbel_softmax(hard=True) keeps
   * doing in eval mode) or "gumbel-soft" (softmax((scores + g) / gumbelTau)). Sampling only; other
   * variants ignore it.
   */
  readonly top1Sampling: GumbelSampling;
  /** Sample with the EMA weights (paper) rather than the raw weights. */
  readonly useEma: boolean;
  /** Also evaluate raw-weight samples (SPEC "EMA note"). */
  readonly rawSamples: boolean;
  /**
   * Largest share of a sampling run's samples that may hold a NaN or infinite value (a sampling
   * chain that diverged); they count as failing every rule and are reported beside Table 1. A run
   * with more is an error (a broken model or config, e.g. a diverged training), never a score.
   */
  readonly maxNonFinite: number;
  /** Worker threads for independent runs; 0 = one per CPU core. */
  readonly workers: number;
  /**
   * Training engine (src/engines/): the fused WebAssembly SIMD step or the tfjs formulation.
   * Same numbers to float32 rounding; checkpoints are shared.
   */
  readonly trainEngine: Engine;
  /**
   * Sampling engine (src/engines/): fused WebAssembly SIMD or tfjs. Same distribution;
   * the noise streams differ, so a given seed gives different samples per engine.
   */
  readonly sampleEngine: Engine;
  /**
   * After sampling, run the theory phase (src/experiment/theory-phase.ts): the derivation checks, and
   * score machines sampled like the models and compared with every trained network, written to
   * theory.json for notebook 09. Changes no other result.
   */
  readonly theory: boolean;
}

/** Engine names (src/engines/engine.ts EngineName). */
export type Engine = "wasm" | "tfjs";

/** Allowed values of the string-valued keys. */
const ENUM_KEYS: Partial<Record<keyof ExperimentConfig, readonly string[]>> = {
  trainEngine: ["wasm", "tfjs"],
  sampleEngine: ["wasm", "tfjs"],
  sampler: SAMPLER_FORM_NAMES,
  top1Sampling: GUMBEL_SAMPLING,
};

/** Keys renamed since results were first stored: old name -> new name (`upgradeStoredConfig`). */
const RENAMED_KEYS: Record<string, keyof ExperimentConfig> = { trainer: "trainEngine" };

export const DEFAULT_CONFIG: ExperimentConfig = Object.freeze({
  datasetSize: 2048,
  datasetSeed: 0,
  datasets: 1,
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
  gumbelHard: false,
  seed: 0,
  seeds: 3,
  checkpointEvery: 250,
  samples: 10000,
  runs: 100,
  protocolRuns: 0,
  sampleBatch: 10000,
  sampleSeed: 1000,
  sampler: "ddpm",
  top1Sampling: "argmax",
  useEma: true,
  rawSamples: false,
  maxNonFinite: 0.001,
  workers: 0,
  trainEngine: "wasm",
  sampleEngine: "wasm",
  theory: true,
});

export type ProfileName = "smoke" | "quick" | "paper";
export const PROFILE_NAMES: readonly ProfileName[] = ["smoke", "quick", "paper"];

/** Presets as data. `paper` is SPEC scale; the others cut samples first, epochs last. */
export const PROFILES: Record<ProfileName, Partial<ExperimentConfig>> = {
  // CI: seconds per variant; proves the pipeline runs end to end, not the paper's effect. No theory
  // phase: its work does not shrink with the samples (T = 1000 steps, 200 comparisons per model, the
  // Eq. 8 sweep), so it would make every smoke run minutes long; notebook 09 computes it when needed.
  smoke: { epochs: 4, seeds: 1, samples: 256, runs: 2, sampleBatch: 256, checkpointEvery: 2, theory: false },
  // Minutes: long enough training for the attention effect (SPEC: ~2000 epochs), few samples.
  quick: { epochs: 2000, seeds: 1, samples: 2000, runs: 5, sampleBatch: 2000, checkpointEvery: 100 },
  // Paper length (5000 / 10000 epochs), 12 trained models per variant over 6 dataset draws x 2
  // training seeds, 10 runs x 10 000 samples each; plus the paper's own protocol on the first model
  // (100 runs x 10 000 samples). docs/experiment.md says why 6 x 2.
  // The theory phase is off here: at 10 000 samples x 10 runs its machine sampling alone would take
  // hours; run it on these checkpoints with fewer samples (README "Theory": npm run discriminate).
  paper: { datasets: 6, seeds: 2, runs: 10, protocolRuns: 100, theory: false },
};

/** Integer-valued keys (checked as integers). */
const INTEGER_KEYS = new Set<keyof ExperimentConfig>([
  "datasetSize", "datasetSeed", "datasets", "diffusionSteps", "epochs", "top1EpochFactor", "batchSize", "seed", "seeds",
  "checkpointEvery", "samples", "runs", "protocolRuns", "sampleBatch", "sampleSeed", "workers",
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
  if (key in RENAMED_KEYS) throw new Error(`config key '${key}' is now '${RENAMED_KEYS[key]}'`);
  if (key === "sampler" && (value === "wasm" || value === "tfjs")) {
    throw new Error(`config key 'sampler' is the reverse-step form (${SAMPLER_FORM_NAMES.join(", ")}); the sampling engine '${value}' is config key 'sampleEngine'`);
  }
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

/**
 * A config as an earlier version of this library stored it (results.json, config.json, checkpoints),
 * in today's keys: `trainer` -> `trainEngine`, `sampler` "wasm" | "tfjs" -> `sampleEngine` (then
 * `sampler` is the SPEC's "ddpm"), and keys added since at their defaults (each added key's
 * default is what the library did before it existed). Unknown keys stay, for the caller to judge.
 */
export function upgradeStoredConfig(stored: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...stored };
  for (const [old, now] of Object.entries(RENAMED_KEYS)) {
    if (old in out) {
      if (!(now in out)) out[now] = out[old];
      delete out[old];
    }
  }
  if (out.sampler === "wasm" || out.sampler === "tfjs") {
    if (!("sampleEngine" in out)) out.sampleEngine = out.sampler;
    out.sampler = "ddpm";
  }
  for (const [k, v] of Object.entries(DEFAULT_CONFIG)) if (!(k in out)) out[k] = v;
  return out;
}

/** Defaults <- profile <- overrides, validated. */
export function resolveConfig(profile: ProfileName = "paper", overrides: Record<string, unknown> = {}): ExperimentConfig {
  const cfg: Record<string, unknown> = { ...DEFAULT_CONFIG, ...PROFILES[parseProfile(profile)] };
  for (const [key, value] of Object.entries(overrides)) {
    const [k, v] = checkOverride(key, value);
    cfg[k] = v;
  }
  const c = cfg as unknown as ExperimentConfig;
  checkDomains(c);
  checkSizes(c); // sizes that cannot fit in memory: an error now, not a crash after training
  return Object.freeze(c);
}

/**
 * The valid range of every numeric key: a value outside is an error naming the key, the value and
 * the range (a negative learning rate or a zero division factor would otherwise fail, or worse
 * train, far from where it was set).
 */
const DOMAINS: Partial<Record<keyof ExperimentConfig, [lo: number, hi: number, loOpen: boolean, hiOpen: boolean]>> = {
  datasetSize: [1, Infinity, false, true],
  datasetSeed: [0, 2 ** 32 - 1, false, false],
  datasets: [1, Infinity, false, true],
  diffusionSteps: [2, Infinity, false, true],
  betaStart: [0, 1, true, true],
  betaEnd: [0, 1, true, true],
  epochs: [1, Infinity, false, true],
  top1EpochFactor: [1, Infinity, false, true],
  batchSize: [1, Infinity, false, true],
  lr: [0, Infinity, true, true],
  beta1: [0, 1, false, true],
  beta2: [0, 1, false, true],
  adamEps: [0, Infinity, true, true],
  weightDecay: [0, Infinity, false, true],
  pctStart: [0, 1, true, true],
  divFactor: [0, Infinity, true, true],
  finalDivFactor: [0, Infinity, true, true],
  baseMomentum: [0, 1, false, true],
  maxMomentum: [0, 1, false, true],
  emaDecay: [0, 1, false, false],
  gumbelTau: [0, Infinity, true, true],
  seed: [0, 2 ** 32 - 1, false, false],
  seeds: [1, Infinity, false, true],
  checkpointEvery: [1, Infinity, false, true],
  samples: [1, Infinity, false, true],
  runs: [1, Infinity, false, true],
  protocolRuns: [0, Infinity, false, true],
  maxNonFinite: [0, 1, false, false],
  sampleBatch: [1, Infinity, false, true],
  sampleSeed: [0, 2 ** 32 - 1, false, false],
  workers: [0, Infinity, false, true],
};

function rangeText([lo, hi, loOpen, hiOpen]: [number, number, boolean, boolean]): string {
  const l = `${loOpen ? "(" : "["}${lo}`;
  const h = hi === Infinity ? "inf)" : `${hi}${hiOpen ? ")" : "]"}`;
  return `${l}, ${h}`;
}

function checkDomains(c: ExperimentConfig): void {
  for (const [k, d] of Object.entries(DOMAINS) as [keyof ExperimentConfig, [number, number, boolean, boolean]][]) {
    const v = c[k] as number;
    const [lo, hi, loOpen, hiOpen] = d;
    const ok = (loOpen ? v > lo : v >= lo) && (hiOpen ? v < hi : v <= hi);
    if (!ok) throw new Error(`config key '${k}' must be in ${rangeText(d)}, got ${v}`);
  }
  if (!(c.betaStart < c.betaEnd)) throw new Error(`config keys 'betaStart' (${c.betaStart}) and 'betaEnd' (${c.betaEnd}) must satisfy betaStart < betaEnd`);
  if (!(c.baseMomentum <= c.maxMomentum)) throw new Error(`config keys 'baseMomentum' (${c.baseMomentum}) and 'maxMomentum' (${c.maxMomentum}) must satisfy baseMomentum <= maxMomentum`);
  if (c.protocolRuns > 0 && c.protocolRuns < c.runs) throw new Error(`config key 'protocolRuns' must be 0 (off) or >= runs (${c.runs}), got ${c.protocolRuns}`);
  for (const epochs of [c.epochs, c.epochs * c.top1EpochFactor]) {
    // OneCycle's warm-up ends at step pctStart * totalSteps - 1; at exactly 0 its length is 0 and the
    // schedule divides by zero (so does PyTorch's OneCycleLR).
    const totalSteps = epochs * Math.ceil(c.datasetSize / c.batchSize);
    if (c.pctStart * totalSteps - 1 === 0) throw new Error(`config key 'pctStart' ${c.pctStart} gives a warm-up of zero length over ${totalSteps} steps; choose another pctStart`);
  }
  if (c.seed + c.datasets * c.seeds - 1 > 2 ** 32 - 1) throw new Error(`training seeds run past 2^32 - 1 (seed ${c.seed} + ${c.datasets} x ${c.seeds})`);
}

/** Training epochs for a variant (top1 trains `top1EpochFactor` times longer). */
export function epochsFor(cfg: ExperimentConfig, variant: string): number {
  return getVariant(variant).longTraining ? cfg.epochs * cfg.top1EpochFactor : cfg.epochs;
}
