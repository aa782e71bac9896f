/**
 * The theory phase's units of work (theory-phase.ts plans and assembles them), each a pool task that
 * runs inline or in a worker thread and is cached in `<outDir>/theory/` with its identity. The work
 * itself is src/theory/'s (pure functions of a config, training tokens and networks as EpsModels);
 * this file loads the dataset draws and checkpoints it needs, and caches:
 *
 *  - `machine-run`:     one sampling run of a score machine (cfg.samples, seed sampleSeed + run),
 *                       scored with every metric (the machines' Table-1 rows; a sweep setting's runs);
 *  - `machine-finals`:  a machine's final images from the comparison noise (n in one batch);
 *  - `draw-forward`:    every predictor against every other and the true noise, banded r^2 on the
 *                       forward process of one dataset draw (discrimination, no network);
 *  - `network-compare`: one trained network against the machines along its trajectories and on the
 *                       forward process, and its final images (the machines part's comparison);
 *  - `network-bands`:   one trained network against every predictor, banded r^2 on the forward
 *                       process, and its final images (discrimination's per-model work);
 *  - `derivations`:     every derivation check of the paper (`runAllDerivationChecks`; no config).
 *
 * None depends on another: the light work that combines them (Pearson r of final images, intervals,
 * tables) is done when the phase assembles theory.json.
 *
 * A cached unit records its identity (the unit, every config value it depends on, the training
 * hash of a compared checkpoint), the library version and, for network units, the weights of the
 * checkpoint it ran (`weightsSha256`). It is reused only when all match; a retrained checkpoint or
 * another library version computes it again; a file that holds another unit's identity, or that is
 * corrupt, is an error naming it.
 */
import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { ExperimentConfig } from "../config";
import { datasetImageKeys, datasetImages } from "../data/dataset";
import { imagesToTokens } from "../data/layout";
import { loadOrCreateDataset } from "../data/store";
import { writeFileAtomic } from "../io/atomic";
import { samplerForm } from "../ddpm/sampler-forms";
import { combinedFingerprint, sourceFingerprint } from "../build-info";
import { kernelMachine } from "../kernels/machine-kernel";
import { samplesWithGumbel, wasmNetwork, wasmSampleTokens } from "../kernels/sample-kernel";
import { packedLayout, unpackArrays } from "../model/packed";
import { Variant } from "../model/variants";
import { runAllDerivationChecks } from "../theory/derivations";
import { CheckResult } from "../theory/derivations-check";
import { DISCRIMINATION_DEFAULTS, DiscriminationSettings, drawForward, DrawWork, machineFinals, ModelNetworkWork, networkBands, scheduleOf, TrainedNetwork } from "../theory/discriminate";
import { compareNetwork, machineRun, MachineRunMetrics, NetworkComparison, sampleRng } from "../theory/machine-runs";
import { MACHINE_DEFAULTS, MachineName, MachineOptions } from "../theory/machines";
import { checkpointTensor, readFinishedCheckpoint } from "../train/checkpoint";
import { libraryVersion } from "../version";
import { dataSeedOf } from "./models";
import type { Executor } from "./pool";
import { checkpointPath, checkpointRequest, OnProgress, Paths, trainingHash } from "./tasks";

/** Version of the unit files' layout; another version is computed again. */
export const UNIT_FORMAT = 2;

/**
 * The sources that compute a unit (src/theory, the kernels and their .wasm, the sampler, the data,
 * the models, the metrics, this file): a unit computed by other code is computed again. Hashed by
 * content from the repository's src/ (the same from the compiled build/, which notebooks run), once.
 */
export const UNIT_SOURCES: readonly string[] = [
  "src/theory/", "src/kernels/", "src/ddpm/", "src/data/", "src/model/", "src/variants/", "src/eval/metrics.ts", "src/rng.ts", "src/experiment/theory-units.ts",
];
/** Report-only files under UNIT_SOURCES (tables, figures, the tally): they change no unit. */
export const UNIT_SOURCES_EXCLUDED: readonly string[] = ["src/theory/comparison-report.ts", "src/theory/figures.ts", "src/theory/claims.ts"];
let codeDigest: string | null = null;
export function unitCodeFingerprint(): string {
  if (codeDigest === null) {
    const root = path.resolve(fs.realpathSync(__dirname), "..", "..");
    const { files } = sourceFingerprint(root);
    codeDigest = combinedFingerprint(Object.fromEntries(Object.entries(files).filter(([f]) => UNIT_SOURCES.some((p) => f.startsWith(p)) && !UNIT_SOURCES_EXCLUDED.includes(f)))).slice(0, 16);
  }
  return codeDigest;
}

export type TheoryUnit =
  | { kind: "machine-run"; machine: MachineName; options: MachineOptions; dataSeed: number; run: number }
  | { kind: "machine-finals"; machine: MachineName; options: MachineOptions; dataSeed: number; n: number }
  | { kind: "draw-forward"; dataSeed: number; predictors: MachineName[]; options: Required<MachineOptions>; n: number; bandEdges: number[] }
  | { kind: "network-compare"; variant: Variant; seed: number; weights: "ema" | "raw"; machines: MachineName[]; options: Required<MachineOptions>; n: number }
  | { kind: "network-bands"; variant: Variant; seed: number; weights: "ema" | "raw"; predictors: MachineName[]; options: Required<MachineOptions>; n: number; bandEdges: number[] }
  | { kind: "derivations" };

export type UnitKind = TheoryUnit["kind"];

/** What each kind of unit computes. */
export interface UnitResults {
  "machine-run": MachineRunMetrics;
  /** Tokens [n, 4, 12]. */
  "machine-finals": { finals: Float32Array };
  "draw-forward": DrawWork["forward"];
  "network-compare": NetworkComparison & { dataSeed: number; checkpoint: string };
  "network-bands": Omit<ModelNetworkWork, "finals"> & { finals: Float32Array };
  derivations: CheckResult[];
}

export type TheoryUnitResult = {
  [K in UnitKind]: {
    kind: K;
    /** The unit's cache file. */
    file: string;
    status: "computed" | "reused";
    /** Seconds it took to compute (when it was computed). */
    seconds: number;
    result: UnitResults[K];
  };
}[UnitKind];

/** libraryVersion(), also inside tslab, where __dirname may run through a symlink to src/. */
export function versionOf(): string {
  try {
    return libraryVersion();
  } catch {
    return (JSON.parse(fs.readFileSync(path.join(fs.realpathSync(__dirname), "..", "..", "package.json"), "utf8")) as { version: string }).version;
  }
}

/**
 * The trained model (variant, seed) of the study `cfg`, from its checkpoint (`checkpointPath`),
 * checked to be that model and finished (`readFinishedCheckpoint`); with the dataset draw it was
 * trained on. Call `dispose` when done.
 */
export function loadTrainedNetwork(cfg: ExperimentConfig, paths: Paths, variant: Variant, seed: number, weights: "ema" | "raw"): TrainedNetwork & { file: string } {
  if (samplesWithGumbel(variant, cfg.top1Sampling)) {
    throw new Error(`the theory phase compares networks under the argmax rule; ${variant} is sampled with top1Sampling '${cfg.top1Sampling}' (set it to argmax for the theory phase)`);
  }
  const file = checkpointPath(paths, cfg, variant, seed);
  const ck = readFinishedCheckpoint(file, checkpointRequest(cfg, variant, seed));
  const params = unpackArrays(packedLayout(variant), checkpointTensor(ck, weights === "ema" ? "ema" : "theta", file));
  const net = wasmNetwork(params, variant);
  const s = scheduleOf(cfg);
  return {
    variant, seed, dataSeed: ck.dataSeed, checkpoint: path.relative(paths.outDir, file), file,
    eps: (x, t) => net.eps(x, t),
    sample: (o) => wasmSampleTokens(params, variant, s, { n: o.n, batch: o.n, rng: o.rng, noise: "wasm", form: samplerForm(o.form), onStep: o.onStep }),
  };
}

/** A machine's options as they affect it: only the attention machine reads more than `aggregate` (so units are shared). */
export function machineOptionsFor(machine: MachineName, o: MachineOptions): MachineOptions {
  const all = { ...MACHINE_DEFAULTS, ...o };
  return machine === "attention" ? all : { aggregate: all.aggregate };
}

/** JSON with sorted keys: equal values give equal text whatever order their keys were built in. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(",")}]`;
  if (v !== null && typeof v === "object") {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o).sort().filter((k) => o[k] !== undefined).map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`).join(",")}}`;
  }
  return JSON.stringify(v);
}

const isNetworkUnit = (u: TheoryUnit): u is Extract<TheoryUnit, { kind: "network-compare" | "network-bands" }> => u.kind === "network-compare" || u.kind === "network-bands";

/** Everything that decides a unit's result: the unit, the config values it reads, the compared model's training. */
export function unitIdentity(cfg: ExperimentConfig, u: TheoryUnit): Record<string, unknown> {
  if (u.kind === "derivations") return { format: UNIT_FORMAT, code: unitCodeFingerprint(), ...u }; // the checks read no config
  const base = {
    format: UNIT_FORMAT, code: unitCodeFingerprint(), datasetSize: cfg.datasetSize, diffusionSteps: cfg.diffusionSteps, betaStart: cfg.betaStart, betaEnd: cfg.betaEnd,
    sampleSeed: cfg.sampleSeed, ...u,
  };
  if (u.kind === "machine-run") return { ...base, samples: cfg.samples, sampleBatch: cfg.sampleBatch, sampler: cfg.sampler };
  if (u.kind === "machine-finals" || u.kind === "network-compare" || u.kind === "network-bands") Object.assign(base, { sampler: cfg.sampler });
  if (isNetworkUnit(u)) {
    const dataSeed = dataSeedOf(cfg, u.seed);
    return { ...base, dataSeed, trainingHash: trainingHash(cfg, dataSeed) };
  }
  return base;
}

/** Where a unit is cached: `<outDir>/theory/<kind>-<readable key>-<identity hash>.json`. */
export function unitPath(p: Paths, cfg: ExperimentConfig, u: TheoryUnit): string {
  const hash = createHash("sha256").update(canonicalJson(unitIdentity(cfg, u))).digest("hex").slice(0, 12);
  const key = (() => {
    switch (u.kind) {
      case "machine-run": return `${u.machine}-data${u.dataSeed}-run${u.run}`;
      case "machine-finals": return `${u.machine}-data${u.dataSeed}-n${u.n}`;
      case "draw-forward": return `data${u.dataSeed}-n${u.n}`;
      case "network-compare":
      case "network-bands": return `${u.variant}-data${dataSeedOf(cfg, u.seed)}-seed${u.seed}-${u.weights}-n${u.n}`;
      case "derivations": return "all";
    }
  })();
  return path.join(p.outDir, "theory", `${u.kind}-${key}-${hash}.json`);
}

/**
 * Relative cost of a unit (about microseconds on one core), for the progress bar's weights and to
 * start the longest units first. Sample-steps times the machines evaluated per step.
 */
export function unitWeight(cfg: ExperimentConfig, u: TheoryUnit): number {
  const cost = (m: MachineName): number => ({ local: 3, equivariant: 3, ideal: 8, attention: 6, top1Optimal: 3, pair: 5, pairTop1: 10, trivial: 1, gaussianPixel: 1, gaussianShared: 2, gaussianFull: 2 })[m];
  const sampler = 3, network = 8;
  const T = cfg.diffusionSteps;
  switch (u.kind) {
    case "machine-run": return cfg.samples * T * (sampler + cost(u.machine));
    case "machine-finals": return u.n * T * (sampler + cost(u.machine));
    case "draw-forward": return u.n * T * u.predictors.reduce((a, m) => a + cost(m), 0);
    case "network-compare": return u.n * T * (2 * (network + sampler) + 2 * u.machines.reduce((a, m) => a + cost(m), 0));
    case "network-bands": return u.n * T * (2 * network + sampler + u.predictors.reduce((a, m) => a + cost(m), 0));
    case "derivations": return 2e6; // about 2 s
  }
}

/** The compared checkpoint of a network unit, checked to be that finished model; its weights' fingerprint. */
function checkpointWeights(cfg: ExperimentConfig, p: Paths, u: TheoryUnit): string | null {
  if (!isNetworkUnit(u)) return null;
  return readFinishedCheckpoint(checkpointPath(p, cfg, u.variant, u.seed), checkpointRequest(cfg, u.variant, u.seed)).weightsSha256;
}

interface UnitFile {
  format: number;
  kind: UnitKind;
  identity: Record<string, unknown>;
  checkpointWeightsSha256: string | null;
  libraryVersion: string;
  seconds: number;
  result: unknown;
}

/** Float32Arrays as base64 in JSON (exact, a fifth of the decimal text). */
function encode(v: UnitFile): string {
  return JSON.stringify(v, (_k, x) => (x instanceof Float32Array ? { $float32: Buffer.from(x.buffer, x.byteOffset, x.byteLength).toString("base64") } : x));
}

function decode(text: string): UnitFile {
  return JSON.parse(text, (_k, x) => {
    if (x !== null && typeof x === "object" && typeof x.$float32 === "string" && Object.keys(x).length === 1) {
      const b = Buffer.from(x.$float32, "base64");
      return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
    }
    return x;
  });
}

/**
 * The cached result of `u`, or null when it must be computed: no file, another format or library
 * version, or (network units) a checkpoint that now holds other weights. A corrupt file, or one
 * that holds another unit, is an error naming it.
 */
export function readUnit(p: Paths, cfg: ExperimentConfig, u: TheoryUnit, weightsSha256: string | null = checkpointWeights(cfg, p, u)): { result: unknown; seconds: number } | null {
  const file = unitPath(p, cfg, u);
  if (!fs.existsSync(file)) return null;
  let f: UnitFile;
  try {
    f = decode(fs.readFileSync(file, "utf8"));
  } catch (e) {
    throw new Error(`theory unit ${file} is corrupt or truncated (${(e as Error).message}); delete it to compute the unit again`);
  }
  if (f.format !== UNIT_FORMAT || f.libraryVersion !== versionOf()) return null;
  const want = unitIdentity(cfg, u);
  if (canonicalJson(f.identity) !== canonicalJson(want)) {
    const have = f.identity ?? {};
    const keys = [...new Set([...Object.keys(want), ...Object.keys(have)])].filter((k) => canonicalJson(have[k]) !== canonicalJson(want[k]));
    throw new Error(`theory unit ${file} belongs to another unit (file vs request: ${keys.map((k) => `${k}: ${canonicalJson(have[k])} vs ${canonicalJson(want[k])}`).join("; ")}); delete it`);
  }
  if (f.checkpointWeightsSha256 !== weightsSha256) return null; // computed from other weights: compute again
  return { result: f.result, seconds: f.seconds };
}

/** Training tokens [N, 4, 12] and image keys of dataset draw `dataSeed`. */
export function drawData(cfg: ExperimentConfig, p: Paths, dataSeed: number): { tokens: Float32Array; keys: Set<string> } {
  const ds = loadOrCreateDataset(p.dataDir, { size: cfg.datasetSize, seed: dataSeed });
  return { tokens: imagesToTokens(datasetImages(ds)), keys: datasetImageKeys(ds) };
}

const settings = (u: { predictors: MachineName[]; options: Required<MachineOptions>; n: number; bandEdges: number[] }, weights: "ema" | "raw" = "ema"): DiscriminationSettings =>
  ({ ...DISCRIMINATION_DEFAULTS, predictors: u.predictors, machineOptions: u.options, compareSamples: u.n, bandEdges: u.bandEdges, weights });

/** Compute `u` (no cache). */
export function computeUnit<K extends UnitKind>(cfg: ExperimentConfig, p: Paths, u: Extract<TheoryUnit, { kind: K }>, onProgress?: OnProgress): UnitResults[K];
export function computeUnit(cfg: ExperimentConfig, p: Paths, u: TheoryUnit, onProgress?: OnProgress): UnitResults[UnitKind] {
  const s = scheduleOf(cfg);
  const every = (note: string) => (d: number, t: number) => { if (d % 50 === 0 || d === t) onProgress?.(d, t, note); };
  switch (u.kind) {
    case "machine-run": {
      const { tokens, keys } = drawData(cfg, p, u.dataSeed);
      const m = kernelMachine(u.machine, tokens, s, { ...MACHINE_DEFAULTS, ...u.options });
      return machineRun(cfg, m, keys, u.run, every(`machine:${u.machine} run ${u.run}`));
    }
    case "machine-finals":
      return { finals: machineFinals(cfg, drawData(cfg, p, u.dataSeed).tokens, u.machine, u.options, u.n, every(`machine:${u.machine} final images`)) };
    case "draw-forward":
      return drawForward(cfg, drawData(cfg, p, u.dataSeed).tokens, u.dataSeed, settings(u), every(`draw ${u.dataSeed}: predictors on the forward process`));
    case "network-compare": {
      const net = loadTrainedNetwork(cfg, p, u.variant, u.seed, u.weights);
      const { tokens } = drawData(cfg, p, net.dataSeed);
      const machines = u.machines.map((n) => kernelMachine(n, tokens, s, u.options));
      const c = compareNetwork({ model: net.eps, machines, tokens, schedule: s, rng: sampleRng(cfg, 0), n: u.n, form: cfg.sampler, onStep: every(`compare ${u.variant} seed ${u.seed}`) });
      return { ...c, dataSeed: net.dataSeed, checkpoint: net.checkpoint };
    }
    case "network-bands": {
      const net = loadTrainedNetwork(cfg, p, u.variant, u.seed, u.weights);
      const w = networkBands(cfg, net, drawData(cfg, p, net.dataSeed).tokens, settings(u, u.weights), (d, t, note) => every(note)(d, t));
      return { ...w, finals: Float32Array.from(w.finals) };
    }
    case "derivations":
      return runAllDerivationChecks();
  }
}

/** The pool task: the cached result of `u` when it matches, else compute it and cache it. */
export function theoryUnitTask(cfg: ExperimentConfig, p: Paths, u: TheoryUnit, onProgress?: OnProgress): TheoryUnitResult {
  const file = unitPath(p, cfg, u);
  const weightsSha256 = checkpointWeights(cfg, p, u);
  const cached = readUnit(p, cfg, u, weightsSha256);
  if (cached) return { kind: u.kind, file, status: "reused", seconds: cached.seconds, result: cached.result } as TheoryUnitResult;
  const t0 = Date.now();
  const result = computeUnit(cfg, p, u, onProgress);
  const seconds = (Date.now() - t0) / 1000;
  writeFileAtomic(file, encode({ format: UNIT_FORMAT, kind: u.kind, identity: unitIdentity(cfg, u), checkpointWeightsSha256: weightsSha256, libraryVersion: versionOf(), seconds, result }) + "\n");
  return { kind: u.kind, file, status: "computed", seconds, result } as TheoryUnitResult;
}

/** The pool's executor of theory units (`theoryUnitTask`). */
export const THEORY_UNITS: Executor<TheoryUnit, { cfg: ExperimentConfig; paths: Paths }, TheoryUnitResult> = {
  module: __filename,
  name: "THEORY_UNITS",
  execute: (u, c, onProgress) => theoryUnitTask(c.cfg, c.paths, u, onProgress),
};
