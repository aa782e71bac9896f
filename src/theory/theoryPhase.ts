/**
 * The theory phase: score machines beside the trained models (`runTheory`: theory.json) and the
 * comparisons that can tell machines apart (`runDiscrimination`: theory-discrimination.json), as
 * independent units (units.ts) run over the worker pool and cached in `<outDir>/theory/`, then
 * assembled into the two files in the parent. The experiment runs it after sampling (config key
 * `theory`); runTheory, runDiscrimination and notebook 09 call the same function, so the numbers are
 * the same whoever computes them. Units shared by both parts (a machine's final images, the Eq. 8
 * machine's default setting in the sweep and in Table 1) are computed once.
 *
 * Each file records what it was computed for (`identity`: the request, and every compared
 * checkpoint with the weights it held) beside its config; `loadOrComputeTheory` reuses a file only
 * when all of it matches and every checkpoint still holds those weights (`theoryStaleReason`,
 * `discriminationStaleReason`), and otherwise computes it (reusing whichever units match).
 */
import * as fs from "fs";
import * as path from "path";
import { initBackend } from "../backend";
import { DEFAULT_CONFIG, epochsFor, ExperimentConfig } from "../config";
import { table1Markdown, table1Rows } from "../eval/report";
import { withOutputLock } from "../experiment/lock";
import { dataSeedOf, studyModels } from "../experiment/models";
import { runPhase } from "../experiment/phase";
import { checkpointPath, checkpointRequest, OnProgress, Paths, TRAIN_TASKS } from "../experiment/tasks";
import { writeJsonAtomic } from "../io/atomic";
import { Variant } from "../model/variants";
import { readCheckpoint, readFinishedCheckpoint } from "../train/checkpoint";
import {
  CheckpointRef, DiscriminationResults, DiscriminationSettings, discriminationSettings, drawFromParts, DrawWork, modelFromParts, ModelWork, summarise,
} from "./discriminate";
import { MACHINE_DEFAULTS, MACHINE_LABELS, MACHINE_NAMES, MachineName, MachineOptions, THEORY_MACHINES } from "./machines";
import { finishComparison, MachineRunMetrics, summarizeMachineRuns, TheoryResults, VariantComparison, versionOf } from "./runTheory";
import { SweepSample } from "./sweep";
import { canonicalJson, machineOptionsFor, readUnit, THEORY_UNITS, TheoryUnit, TheoryUnitResult, UnitResults, unitPath, unitWeight } from "./units";

/** Version of the `identity` block of theory.json and theory-discrimination.json. */
export const THEORY_FILE_FORMAT = 1;

/** What `runTheory` compares: machines sampled like the trained models, and each variant's model `seed`. */
export interface TheoryPart {
  variants: Variant[];
  /** Training seed of the compared models (on draw cfg.datasetSeed, the draw the machines are built from). */
  seed: number;
  weights: "ema" | "raw";
  machines: MachineName[];
  machineOptions: Required<MachineOptions>;
  /** Trajectories (and final images) per comparison. */
  compareSamples: number;
  /** A missing or unfinished checkpoint: "train" it, "skip" the variant (recorded), or "error". */
  missing: "train" | "skip" | "error";
}

/** What `runDiscrimination` compares: these trained models, with these settings. */
export interface DiscriminationPart {
  checkpoints: CheckpointRef[];
  settings: DiscriminationSettings;
}

/** theory.json's `identity`: the request (without `missing`) and the weights of every compared checkpoint. */
export interface TheoryIdentity {
  format: number;
  request: Omit<TheoryPart, "missing">;
  checkpoints: { variant: Variant; seed: number; checkpoint: string; weightsSha256: string }[];
}

/** theory-discrimination.json's `identity`: the settings (machine options resolved) and every compared checkpoint's weights. */
export interface DiscriminationIdentity {
  format: number;
  settings: DiscriminationSettings;
  checkpoints: { variant: Variant; seed: number; dataSeed: number; checkpoint: string; weightsSha256: string }[];
}

/** runTheory's request with defaults filled in (seed cfg.seed, EMA weights when cfg.useEma, all theory machines, 200 comparisons, missing: train). */
export function theoryPart(cfg: ExperimentConfig, o: {
  variants: readonly Variant[]; seed?: number; weights?: "ema" | "raw"; machines?: readonly MachineName[]; machineOptions?: MachineOptions;
  compareSamples?: number; missing?: "train" | "skip" | "error";
}): TheoryPart {
  const part: TheoryPart = {
    variants: [...o.variants], seed: o.seed ?? cfg.seed, weights: o.weights ?? (cfg.useEma ? "ema" : "raw"), machines: [...(o.machines ?? THEORY_MACHINES)],
    machineOptions: { ...MACHINE_DEFAULTS, ...o.machineOptions }, compareSamples: o.compareSamples ?? 200, missing: o.missing ?? "train",
  };
  if (!(Number.isInteger(part.compareSamples) && part.compareSamples >= 2)) throw new Error(`compareSamples must be an integer >= 2, got ${part.compareSamples}`);
  for (const m of part.machines) if (!MACHINE_NAMES.includes(m)) throw new Error(`unknown machine '${m}' (expected one of ${MACHINE_NAMES.join(", ")})`);
  if (!["train", "skip", "error"].includes(part.missing)) throw new Error(`missing must be train, skip or error, got '${part.missing}'`);
  return part;
}

/**
 * What the experiment computes (notebook 09's defaults): runTheory over `variants` at the study's
 * first model, and runDiscrimination over every model of the study with the default settings.
 */
export function experimentTheoryRequest(cfg: ExperimentConfig, variants: readonly Variant[]): { theory: TheoryPart; discrimination: DiscriminationPart } {
  const models = studyModels(cfg);
  return {
    theory: theoryPart(cfg, { variants, seed: models[0].seed, missing: "error" }),
    discrimination: { checkpoints: variants.flatMap((variant) => models.map((m) => ({ variant, seed: m.seed }))), settings: discriminationSettings({}) },
  };
}

export interface ComputeTheoryOptions {
  cfg: ExperimentConfig;
  paths: Paths;
  /** runTheory's part (theory.json); null or absent: not computed. */
  theory?: TheoryPart | null;
  /** runDiscrimination's part (theory-discrimination.json); null or absent: not computed. */
  discrimination?: DiscriminationPart | null;
  /** Worker threads (default 1: every unit in this thread, in order). */
  workers?: number;
  /** Include `runAllDerivationChecks()` in theory.json (default true). */
  derivations?: boolean;
  /** Output files (defaults `<outDir>/theory.json`, `<outDir>/theory-discrimination.json`); null writes nothing. */
  theoryFile?: string | null;
  discriminationFile?: string | null;
  /** Progress bar label (default "theory") and where its lines go (default: a bar on a terminal, else a line every 10 s). */
  label?: string;
  progressWrite?: (line: string, final: boolean) => void;
  /** Least time between two progress lines (default: 100 ms on a terminal, else 10 s). */
  progressIntervalMs?: number;
  /** The phase's progress (done of total) and the latest unit's note. */
  onProgress?: OnProgress;
  log?: (line: string) => void;
  /** Recorded in the output folder's lock. */
  command?: string;
}

export interface ComputedTheory {
  theory: TheoryResults | null;
  discrimination: DiscriminationResults | null;
  /** Units computed now and units reused from `<outDir>/theory/`. */
  computed: number;
  reused: number;
  seconds: number;
}

/**
 * Compute the requested parts through their units (cached units reused, the rest over `workers`
 * threads), assemble and write theory.json / theory-discrimination.json. Holds the output
 * folder's lock.
 */
export async function computeTheory(o: ComputeTheoryOptions): Promise<ComputedTheory> {
  return withOutputLock(o.paths.outDir, o.command ?? "theory phase", () => computeLocked(o));
}

const finishedCheckpoint = (cfg: ExperimentConfig, paths: Paths, variant: Variant, seed: number): boolean => {
  const file = checkpointPath(paths, cfg, variant, seed);
  if (!fs.existsSync(file)) return false;
  const ck = readCheckpoint(file);
  return ck.step >= ck.totalSteps;
};

async function computeLocked(o: ComputeTheoryOptions): Promise<ComputedTheory> {
  const { cfg, paths } = o;
  const log = o.log ?? ((line: string) => console.log(line));
  const workers = o.workers ?? 1;
  const th = o.theory ?? null;
  const di = o.discrimination ?? null;
  const info = await initBackend();
  const started = new Date();
  const phase = { context: { cfg, paths }, workers, write: o.progressWrite, intervalMs: o.progressIntervalMs, onProgress: o.onProgress };

  // 1. checkpoints: runTheory trains, skips or refuses a missing one; runDiscrimination needs every one
  const skipped: TheoryResults["skipped"] = [];
  let compared: Variant[] = [];
  if (th) {
    if (dataSeedOf(cfg, th.seed) !== cfg.datasetSeed) {
      throw new Error(`training seed ${th.seed} trains on dataset draw ${dataSeedOf(cfg, th.seed)}, the machines on draw ${cfg.datasetSeed}; use runDiscrimination (src/theory/discriminate.ts) for several draws`);
    }
    const missing = th.variants.filter((v) => !finishedCheckpoint(cfg, paths, v, th.seed));
    const why = (v: Variant) => { const f = checkpointPath(paths, cfg, v, th.seed); return fs.existsSync(f) ? `checkpoint ${f} is unfinished` : `no checkpoint ${f}`; };
    if (missing.length > 0 && th.missing === "error") throw new Error(`${missing.map(why).join("; ")}; train it first or pass missing: "train" | "skip"`);
    if (missing.length > 0 && th.missing === "train") {
      const tasks = missing.map((variant) => ({ variant, seed: th.seed }));
      await runPhase({ ...phase, executor: TRAIN_TASKS, label: `${o.label ?? "theory"}: train`, tasks, weights: missing.map((v) => epochsFor(cfg, v)) });
    }
    if (th.missing === "skip") for (const v of missing) { skipped.push({ variant: v, reason: why(v) }); log(`skip ${v}: ${why(v)}`); }
    compared = th.variants.filter((v) => !skipped.some((s) => s.variant === v));
  }
  if (di) {
    if (di.checkpoints.length === 0) throw new Error("runDiscrimination: no checkpoints given");
    for (const r of di.checkpoints) readFinishedCheckpoint(checkpointPath(paths, cfg, r.variant, r.seed), checkpointRequest(cfg, r.variant, r.seed));
  }

  // 2. the units, each once (keyed by its cache file, which names its identity)
  const units = new Map<string, TheoryUnit>();
  const add = (u: TheoryUnit): string => {
    const f = unitPath(paths, cfg, u);
    if (!units.has(f)) units.set(f, u);
    return f;
  };
  const runUnit = (machine: MachineName, options: MachineOptions, dataSeed: number, run: number) =>
    add({ kind: "machine-run", machine, options: machineOptionsFor(machine, options), dataSeed, run });
  const finalsUnit = (machine: MachineName, options: MachineOptions, dataSeed: number, n: number) =>
    add({ kind: "machine-finals", machine, options: machineOptionsFor(machine, options), dataSeed, n });
  const plan = {
    runs: new Map<string, string[]>(), finals: new Map<string, string>(), compare: new Map<Variant, string>(),
    forward: new Map<number, string>(), drawFinals: new Map<string, string>(), bands: [] as string[], sweep: [] as { runs: string[]; finals: string }[],
    derivations: null as string | null,
  };
  if (th) {
    const d = cfg.datasetSeed;
    for (const m of th.machines) {
      plan.runs.set(m, Array.from({ length: cfg.runs }, (_, run) => runUnit(m, th.machineOptions, d, run)));
      plan.finals.set(m, finalsUnit(m, th.machineOptions, d, th.compareSamples));
    }
    for (const variant of compared) {
      plan.compare.set(variant, add({ kind: "network-compare", variant, seed: th.seed, weights: th.weights, machines: th.machines, options: th.machineOptions, n: th.compareSamples }));
    }
    if (o.derivations !== false) plan.derivations = add({ kind: "derivations" });
  }
  const st = di?.settings;
  const mo: Required<MachineOptions> = { ...MACHINE_DEFAULTS, ...st?.machineOptions };
  const refs = (di?.checkpoints ?? []).map((r) => ({ ...r, dataSeed: dataSeedOf(cfg, r.seed) }));
  const drawSeeds = [...new Set(refs.map((r) => r.dataSeed))];
  if (di && st) {
    const common = { predictors: [...st.predictors], options: mo, n: st.compareSamples, bandEdges: [...st.bandEdges] };
    for (const d of drawSeeds) {
      plan.forward.set(d, add({ kind: "draw-forward", dataSeed: d, ...common }));
      for (const p of st.predictors) plan.drawFinals.set(`${d}/${p}`, finalsUnit(p, mo, d, st.compareSamples));
    }
    for (const r of refs) plan.bands.push(add({ kind: "network-bands", variant: r.variant, seed: r.seed, weights: st.weights, ...common }));
    for (const setting of st.sweep ?? []) {
      const options = { ...mo, ...setting };
      for (const d of drawSeeds) {
        plan.sweep.push({ runs: Array.from({ length: st.sweepRuns }, (_, run) => runUnit("attention", options, d, run)), finals: finalsUnit("attention", options, d, st.compareSamples) });
      }
    }
  }

  // 3. cached units from disk; the rest over the pool (runPhase starts the longest first)
  const done = new Map<string, TheoryUnitResult>();
  const todo: [string, TheoryUnit][] = [];
  for (const [file, u] of units) {
    const c = readUnit(paths, cfg, u);
    if (c) done.set(file, { kind: u.kind, file, status: "reused", seconds: c.seconds, result: c.result } as TheoryUnitResult);
    else todo.push([file, u]);
  }
  const reused = done.size;
  log(`theory: ${units.size} units, ${reused} cached in ${path.join(paths.outDir, "theory")}; computing ${todo.length} on ${Math.min(workers, Math.max(1, todo.length))} worker(s)`);
  if (todo.length > 0) {
    const res = await runPhase({
      ...phase, executor: THEORY_UNITS, label: o.label ?? "theory", tasks: todo.map(([, unit]) => unit), weights: todo.map(([, u]) => unitWeight(cfg, u)),
    });
    todo.forEach(([file], i) => done.set(file, res[i]));
  }
  const get = <K extends keyof UnitResults>(file: string, kind: K): UnitResults[K] => {
    const r = done.get(file);
    if (!r || r.kind !== kind) throw new Error(`theory phase: no ${kind} result for ${file}`);
    return r.result as UnitResults[K];
  };
  const computed = todo.length;
  const unitsMeta = { workers, units: units.size, computed, reused };

  // 4. theory.json, as runTheory writes it
  let theory: TheoryResults | null = null;
  if (th) {
    const runs: MachineRunMetrics[] = [];
    for (const m of th.machines) {
      const mine = plan.runs.get(m)!.map((f) => get(f, "machine-run"));
      runs.push(...mine);
      log(`machine:${m}: functional ${(100 * mine.reduce((a, r) => a + r.metrics.functional, 0) / mine.length).toFixed(2)} % over ${cfg.runs} x ${cfg.samples} samples`);
    }
    const summaries = summarizeMachineRuns(runs, th.machines);
    const finals = Object.fromEntries(th.machines.map((m) => [m, get(plan.finals.get(m)!, "machine-finals").finals]));
    const comparisons: VariantComparison[] = compared.map((variant) => {
      const { dataSeed: _d, checkpoint, ...c } = get(plan.compare.get(variant)!, "network-compare");
      const r = finishComparison(c, finals, th.machines);
      const at = (curve: number[]) => [0, 100, 500].map((t) => curve[t]?.toFixed(3)).join("/");
      const names = th.machines;
      log(`${variant}: eps r2 at t=0/100/500 along trajectories ${names.map((n) => `${n} ${at(r.r2[n])}`).join(", ")}; on the forward process ${names.map((n) => `${n} ${at(r.r2Forward[n])}`).join(", ")}; loss-weighted pooled ${names.map((n) => `${n} ${r.r2Pooled[n].toFixed(3)}/${r.r2ForwardPooled[n].toFixed(3)}`).join(", ")}; median Pearson ${names.map((n) => `${n} ${r.pearson[n].median.toFixed(3)}`).join(", ")}`);
      return { variant, seed: th.seed, weights: th.weights, checkpoint, ...r };
    });
    const derivations = plan.derivations ? get(plan.derivations, "derivations") : [];
    const { missing: _m, ...request } = th;
    theory = {
      meta: {
        libraryVersion: versionOf(), backend: info.name, tfjsVersion: info.tfjsVersion, started: started.toISOString(), seconds: (Date.now() - started.getTime()) / 1000,
        seed: th.seed, weights: th.weights, compareSamples: th.compareSamples, comparisonNoise: `new Rng(sampleSeed + 0).split("sample"), batch = compareSamples`, ...unitsMeta,
      },
      config: cfg,
      machineOptions: th.machineOptions,
      machines: th.machines.map((n) => ({ name: n, model: `machine:${n}`, label: MACHINE_LABELS[n] })),
      runs,
      table1: table1Rows(summaries),
      table1Markdown: table1Markdown(summaries),
      comparisons,
      skipped,
      derivations,
      identity: { format: THEORY_FILE_FORMAT, request, checkpoints: compared.map((variant) => checkpointWeights(cfg, paths, variant, th.seed)) },
    };
    const file = o.theoryFile === undefined ? path.join(paths.outDir, "theory.json") : o.theoryFile;
    if (file) writeJsonAtomic(file, theory);
  }

  // 5. theory-discrimination.json, as runDiscrimination writes it
  let discrimination: DiscriminationResults | null = null;
  if (di && st) {
    const draws: DrawWork[] = drawSeeds.map((d) => {
      const finals = Object.fromEntries(st.predictors.map((p) => [p, Array.from(get(plan.drawFinals.get(`${d}/${p}`)!, "machine-finals").finals)]));
      log(`draw ${d}: predictors compared and sampled`);
      return drawFromParts(d, get(plan.forward.get(d)!, "draw-forward"), finals, st.predictors);
    });
    const models: ModelWork[] = refs.map((r, i) => {
      const net = get(plan.bands[i], "network-bands");
      const m = modelFromParts(cfg, { ...net, finals: Array.from(net.finals) }, draws.find((d) => d.dataSeed === r.dataSeed)!, st);
      log(`${r.variant} seed ${r.seed}: median Pearson ${Object.entries(m.pearsonMedian).map(([k, v]) => `${k} ${v.toFixed(3)}`).join(", ")}`);
      return m;
    });
    let sweep: SweepSample[] | null = null;
    if (st.sweep) {
      let k = 0;
      sweep = st.sweep.flatMap((setting) => drawSeeds.map((dataSeed) => {
        const p = plan.sweep[k++];
        return {
          setting: { ...setting }, dataSeed, finals: Array.from(get(p.finals, "machine-finals").finals),
          runs: p.runs.map((f) => { const r = get(f, "machine-run"); return { run: r.run, samples: r.samples, metrics: r.metrics }; }),
        };
      }));
    }
    const meta = { backend: info.name, tfjsVersion: info.tfjsVersion, started: started.toISOString(), seconds: 0, comparisonNoise: `new Rng(sampleSeed + 0).split("sample"), batch = compareSamples`, ...unitsMeta };
    discrimination = summarise(cfg, st, draws, models, sweep, meta);
    discrimination.meta.seconds = (Date.now() - started.getTime()) / 1000;
    discrimination.identity = {
      format: THEORY_FILE_FORMAT, settings: { ...st, machineOptions: mo },
      checkpoints: refs.map((r) => ({ ...checkpointWeights(cfg, paths, r.variant, r.seed), dataSeed: r.dataSeed })),
    };
    const file = o.discriminationFile === undefined ? path.join(paths.outDir, "theory-discrimination.json") : o.discriminationFile;
    if (file) writeJsonAtomic(file, discrimination);
  }
  return { theory, discrimination, computed, reused, seconds: (Date.now() - started.getTime()) / 1000 };
}

/** A compared model's checkpoint (relative to the output folder) and the fingerprint of its weights. */
function checkpointWeights(cfg: ExperimentConfig, paths: Paths, variant: Variant, seed: number) {
  const file = checkpointPath(paths, cfg, variant, seed);
  return { variant, seed, checkpoint: path.relative(paths.outDir, file), weightsSha256: readCheckpoint(file).weightsSha256 };
}

/** Config keys that differ (all but `workers` and `theory`, which change no number). */
function configDiff(a: ExperimentConfig, b: ExperimentConfig): string[] {
  return (Object.keys(DEFAULT_CONFIG) as (keyof ExperimentConfig)[])
    .filter((k) => k !== "workers" && k !== "theory" && a?.[k] !== b[k])
    .map((k) => `${k} (${a?.[k]} vs ${b[k]})`);
}

/** Keys of two records whose values differ. */
function keyDiff(a: Record<string, unknown>, b: Record<string, unknown>): string[] {
  return [...new Set([...Object.keys(a ?? {}), ...Object.keys(b)])].filter((k) => canonicalJson(a?.[k]) !== canonicalJson(b[k]));
}

/** Checkpoints recorded in a file that are gone or hold other weights now. */
function checkpointsChanged(outDir: string, cks: { checkpoint: string; weightsSha256: string }[]): string | null {
  for (const c of cks) {
    const file = path.resolve(outDir, c.checkpoint);
    if (!fs.existsSync(file)) return `its checkpoint ${c.checkpoint} is missing`;
    if (readCheckpoint(file).weightsSha256 !== c.weightsSha256) return `checkpoint ${c.checkpoint} holds other weights than it was computed from`;
  }
  return null;
}

/**
 * Why theory.json's content `r` cannot stand for `part` under `cfg` in `paths`, or null if it can:
 * its format, config, request, the weights of every compared checkpoint, and the variants it skipped
 * (a skipped variant that has a finished checkpoint now makes it stale).
 */
export function theoryStaleReason(r: TheoryResults, cfg: ExperimentConfig, part: TheoryPart, paths: Paths): string | null {
  const id = r.identity;
  if (!id || id.format !== THEORY_FILE_FORMAT) return "it does not record what it was computed for (written by an older version)";
  const cd = configDiff(r.config, cfg);
  if (cd.length > 0) return `its config differs in ${cd.join(", ")}`;
  const { missing: _m, ...request } = part;
  const rd = keyDiff(id.request as unknown as Record<string, unknown>, request as unknown as Record<string, unknown>);
  if (rd.length > 0) return `it was computed with other ${rd.join(", ")}`;
  if (r.skipped.length > 0 && part.missing !== "skip") return `it skipped ${r.skipped.map((s) => s.variant).join(", ")} (missing: ${part.missing} asks to ${part.missing === "train" ? "train them" : "fail"})`;
  for (const s of r.skipped) if (finishedCheckpoint(cfg, paths, s.variant, part.seed)) return `${s.variant} was skipped (${s.reason}) but has a finished checkpoint now`;
  return checkpointsChanged(paths.outDir, id.checkpoints);
}

/** Why theory-discrimination.json's content `r` cannot stand for `part` under `cfg` in `paths`, or null if it can. */
export function discriminationStaleReason(r: DiscriminationResults, cfg: ExperimentConfig, part: DiscriminationPart, paths: Paths): string | null {
  const id = r.identity;
  if (!id || id.format !== THEORY_FILE_FORMAT) return "it does not record what it was computed for (written by an older version)";
  const cd = configDiff(r.config, cfg);
  if (cd.length > 0) return `its config differs in ${cd.join(", ")}`;
  const want = { ...part.settings, machineOptions: { ...MACHINE_DEFAULTS, ...part.settings.machineOptions } };
  const sd = keyDiff(id.settings as unknown as Record<string, unknown>, want as unknown as Record<string, unknown>);
  if (sd.length > 0) return `it was computed with other settings (${sd.join(", ")})`;
  const have = id.checkpoints.map((c) => `${c.variant}:${c.seed}`).join(",");
  const asked = part.checkpoints.map((c) => `${c.variant}:${c.seed}`).join(",");
  if (have !== asked) return `it compares other models (${have} vs ${asked})`;
  return checkpointsChanged(paths.outDir, id.checkpoints);
}

function readJson<T>(file: string): T {
  try {
    return JSON.parse(fs.readFileSync(file, "utf8")) as T;
  } catch (e) {
    throw new Error(`${file} is corrupt or truncated (${(e as Error).message}); delete it to compute it again`);
  }
}

export interface LoadedTheory extends ComputedTheory {
  /** Per part: read from its file ("loaded"), "computed" now, or null when not asked for. */
  source: { theory: "loaded" | "computed" | null; discrimination: "loaded" | "computed" | null };
}

/**
 * theory.json and theory-discrimination.json of the output folder when they match the request
 * (`theoryStaleReason`, `discriminationStaleReason`), else `computeTheory` for the parts that do not
 * (notebook 09; the experiment's theory phase writes what its defaults ask for).
 */
export async function loadOrComputeTheory(o: ComputeTheoryOptions): Promise<LoadedTheory> {
  const log = o.log ?? ((line: string) => console.log(line));
  const t0 = Date.now();
  const load = <T extends { meta: Record<string, unknown> }>(part: unknown, file: string | null | undefined, fallback: string, stale: (r: T) => string | null): T | null => {
    if (!part) return null;
    const f = file === undefined ? path.join(o.paths.outDir, fallback) : file;
    if (!f || !fs.existsSync(f)) return null;
    const r = readJson<T>(f);
    const why = stale(r);
    if (why === null) {
      log(`loaded ${f} (computed ${String(r.meta.started)} in ${Number(r.meta.seconds).toFixed(0)} s)`);
      return r;
    }
    log(`not using ${f}: ${why}; computing it`);
    return null;
  };
  const theory = load<TheoryResults>(o.theory, o.theoryFile, "theory.json", (r) => theoryStaleReason(r, o.cfg, o.theory!, o.paths));
  const discrimination = load<DiscriminationResults>(o.discrimination, o.discriminationFile, "theory-discrimination.json", (r) => discriminationStaleReason(r, o.cfg, o.discrimination!, o.paths));
  const need = { theory: o.theory && !theory ? o.theory : null, discrimination: o.discrimination && !discrimination ? o.discrimination : null };
  const c = need.theory || need.discrimination ? await computeTheory({ ...o, ...need }) : { theory: null, discrimination: null, computed: 0, reused: 0 };
  return {
    theory: theory ?? c.theory, discrimination: discrimination ?? c.discrimination, computed: c.computed, reused: c.reused, seconds: (Date.now() - t0) / 1000,
    source: { theory: o.theory ? (theory ? "loaded" : "computed") : null, discrimination: o.discrimination ? (discrimination ? "loaded" : "computed") : null },
  };
}
