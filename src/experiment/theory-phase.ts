/**
 * The theory phase: the derivation checks, score machines sampled beside the trained models (the
 * machines part: Table-1 rows, and each variant's model compared along its trajectories) and the
 * comparisons that can tell machines apart over many trained models (the discrimination part), as
 * independent units (theory-units.ts) run over the worker pool and cached in `<outDir>/theory/`,
 * then assembled into one file, `<outDir>/theory.json`. The experiment runs it after sampling
 * (config key `theory`); `runTheory`, `runDiscrimination`, the CLIs and notebook 09 call the same
 * function, so the numbers are the same whoever computes them. Units shared by both parts (a
 * machine's final images, the Eq. 8 machine's default setting in the sweep and in Table 1) are
 * computed once.
 *
 * The file records what it was computed for (`identity`: the request, and every compared checkpoint
 * with the weights it held) beside its config; `loadOrComputeTheory` reuses it only when all of it
 * matches and every checkpoint still holds those weights (`theoryStaleReason`), and otherwise
 * computes it (reusing whichever units match).
 */
import * as fs from "fs";
import * as path from "path";
import { initBackend } from "../backend";
import { DEFAULT_CONFIG, epochsFor, ExperimentConfig } from "../config";
import { table1Markdown, table1Rows } from "../eval/report";
import { writeJsonAtomic } from "../io/atomic";
import { Variant } from "../model/variants";
import { CheckResult } from "../theory/derivations-check";
import {
  CheckpointRef, DiscriminationResults, DiscriminationSettings, discriminationSettings, drawFromParts, DrawWork, modelFromParts, ModelWork,
  OverModels, overModels, summarise,
} from "../theory/discriminate";
import { finishComparison, MachineRunMetrics, summarizeMachineRuns, VariantComparison } from "../theory/machine-runs";
import { MACHINE_DEFAULTS, MACHINE_LABELS, MACHINE_NAMES, MachineName, MachineOptions, THEORY_MACHINES } from "../theory/machines";
import { SweepSample } from "../theory/sweep";
import { readCheckpoint, readFinishedCheckpoint } from "../train/checkpoint";
import { withOutputLock } from "./lock";
import { dataSeedOf, studyModels } from "./models";
import { runPhase } from "./phase";
import { checkpointPath, checkpointRequest, OnProgress, Paths, TRAIN_TASKS } from "./tasks";
import { canonicalJson, machineOptionsFor, readUnit, THEORY_UNITS, TheoryUnit, TheoryUnitResult, UnitResults, unitPath, unitWeight, versionOf } from "./theory-units";

/** Version of theory.json's layout and `identity` block. */
export const THEORY_FILE_FORMAT = 2;

/** The machines part: machines sampled like the trained models on `draws`, and each variant's model `seed` compared along its trajectories. */
export interface TheoryPart {
  variants: Variant[];
  /** Training seed of the compared models (one per variant; its dataset draw must be among `draws`). */
  seed: number;
  weights: "ema" | "raw";
  machines: MachineName[];
  machineOptions: Required<MachineOptions>;
  /** Trajectories (and final images) per comparison. */
  compareSamples: number;
  /** Dataset draws the machines are built from and sampled on (cfg.runs runs of cfg.samples each). */
  draws: number[];
  /** A missing or unfinished checkpoint: "train" it, "skip" the variant (recorded), or "error". */
  missing: "train" | "skip" | "error";
}

/** The discrimination part: these trained models, with these settings. */
export interface DiscriminationPart {
  checkpoints: CheckpointRef[];
  settings: DiscriminationSettings;
}

/** What the phase computes: any of the three parts (null or false: not computed). */
export interface TheoryRequest {
  theory: TheoryPart | null;
  discrimination: DiscriminationPart | null;
  /** Run every derivation check of the paper (`runAllDerivationChecks`). */
  derivations: boolean;
}

/** A compared checkpoint and the fingerprint of the weights it held. */
export interface CheckpointRecord {
  variant: Variant;
  seed: number;
  dataSeed: number;
  checkpoint: string;
  weightsSha256: string;
}

/** theory.json's `identity`: the request (machine options resolved, without `missing`) and every compared checkpoint's weights. */
export interface TheoryIdentity {
  format: number;
  request: { theory: Omit<TheoryPart, "missing"> | null; discrimination: DiscriminationPart | null; derivations: boolean };
  checkpoints: CheckpointRecord[];
}

/** A machine's functional consistency per dataset draw (mean over its runs) and over draws. */
export interface MachineConsistency {
  machine: MachineName;
  perDraw: { dataSeed: number; runs: number; functional: number }[];
  /** Mean over draws; with >= 2 draws a t-interval over draw means. */
  overDraws: OverModels;
}

/** The machines part of theory.json. */
export interface MachinesResults {
  machineOptions: Required<MachineOptions>;
  machines: { name: MachineName; model: string; label: string }[];
  draws: number[];
  /** Every sampling run of every machine on every draw. */
  runs: (MachineRunMetrics & { dataSeed: number })[];
  /** Same columns as the experiment's Table 1 (src/eval/report.ts table1Rows), runs of every draw pooled. */
  table1: Record<string, string | number>[];
  table1Markdown: string;
  consistency: MachineConsistency[];
  /** Machines vs each variant's model `seed`, along its trajectories and on final images from the same noise. */
  comparisons: VariantComparison[];
  skipped: { variant: Variant; reason: string }[];
}

/** theory.json. */
export interface TheoryResults {
  meta: Record<string, unknown>;
  config: ExperimentConfig;
  identity: TheoryIdentity;
  /** Every derivation check (empty when not asked for). */
  derivations: CheckResult[];
  machines: MachinesResults | null;
  discrimination: DiscriminationResults | null;
}

/** The machines part with defaults filled in (seed cfg.seed, EMA weights when cfg.useEma, all theory machines, 200 comparisons, draw cfg.datasetSeed, missing: train). */
export function theoryPart(cfg: ExperimentConfig, o: {
  variants: readonly Variant[]; seed?: number; weights?: "ema" | "raw"; machines?: readonly MachineName[]; machineOptions?: MachineOptions;
  compareSamples?: number; draws?: readonly number[]; missing?: "train" | "skip" | "error";
}): TheoryPart {
  const part: TheoryPart = {
    variants: [...o.variants], seed: o.seed ?? cfg.seed, weights: o.weights ?? (cfg.useEma ? "ema" : "raw"), machines: [...(o.machines ?? THEORY_MACHINES)],
    machineOptions: { ...MACHINE_DEFAULTS, ...o.machineOptions }, compareSamples: o.compareSamples ?? 200, draws: [...(o.draws ?? [cfg.datasetSeed])], missing: o.missing ?? "train",
  };
  if (!(Number.isInteger(part.compareSamples) && part.compareSamples >= 2)) throw new Error(`compareSamples must be an integer >= 2, got ${part.compareSamples}`);
  for (const m of part.machines) if (!MACHINE_NAMES.includes(m)) throw new Error(`unknown machine '${m}' (expected one of ${MACHINE_NAMES.join(", ")})`);
  if (!["train", "skip", "error"].includes(part.missing)) throw new Error(`missing must be train, skip or error, got '${part.missing}'`);
  if (part.draws.length === 0 || part.draws.some((d) => !(Number.isInteger(d) && d >= 0)) || new Set(part.draws).size !== part.draws.length) {
    throw new Error(`draws must be distinct non-negative integers, got [${part.draws.join(", ")}]`);
  }
  if (!part.draws.includes(dataSeedOf(cfg, part.seed))) {
    throw new Error(`training seed ${part.seed} trains on dataset draw ${dataSeedOf(cfg, part.seed)}, which is not among the machines' draws [${part.draws.join(", ")}]`);
  }
  return part;
}

/**
 * What the experiment computes (notebook 09's defaults): the derivation checks; the machines on every
 * dataset draw of the study with each variant's first model along its trajectories; and the
 * discrimination over every model of the study with the default settings.
 */
export function experimentTheoryRequest(cfg: ExperimentConfig, variants: readonly Variant[]): TheoryRequest {
  const models = studyModels(cfg);
  return {
    theory: theoryPart(cfg, { variants, seed: models[0].seed, draws: [...new Set(models.map((m) => m.dataSeed))], missing: "error" }),
    discrimination: { checkpoints: variants.flatMap((variant) => models.map((m) => ({ variant, seed: m.seed }))), settings: discriminationSettings({}) },
    derivations: true,
  };
}

export interface ComputeTheoryOptions extends Partial<TheoryRequest> {
  cfg: ExperimentConfig;
  paths: Paths;
  /** Worker threads (default 1: every unit in this thread, in order). */
  workers?: number;
  /** Output file (default `<outDir>/theory.json`); null writes nothing. */
  file?: string | null;
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
  results: TheoryResults;
  /** Units computed now and units reused from `<outDir>/theory/`. */
  computed: number;
  reused: number;
  seconds: number;
}

/** The request of a call (absent parts null, derivations false unless asked). */
function requestOf(o: Partial<TheoryRequest>): TheoryRequest {
  const r = { theory: o.theory ?? null, discrimination: o.discrimination ?? null, derivations: o.derivations ?? false };
  if (!r.theory && !r.discrimination && !r.derivations) throw new Error("the theory phase was asked for nothing: give theory, discrimination or derivations");
  return r;
}

/** The identity's request: the machines part without `missing`, the discrimination settings with machine options resolved. */
function identityRequest(r: TheoryRequest): TheoryIdentity["request"] {
  const theory = r.theory ? (({ missing: _m, ...rest }) => rest)(r.theory) : null;
  const discrimination = r.discrimination
    ? { checkpoints: r.discrimination.checkpoints.map((c) => ({ variant: c.variant, seed: c.seed })), settings: { ...r.discrimination.settings, machineOptions: { ...MACHINE_DEFAULTS, ...r.discrimination.settings.machineOptions } } }
    : null;
  return { theory, discrimination, derivations: r.derivations };
}

/**
 * Compute the request through its units (cached units reused, the rest over `workers` threads),
 * assemble and write theory.json. Holds the output folder's lock.
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
  const req = requestOf(o);
  const log = o.log ?? ((line: string) => console.log(line));
  const workers = o.workers ?? 1;
  const th = req.theory;
  const di = req.discrimination;
  const info = await initBackend();
  const started = new Date();
  const phase = { context: { cfg, paths }, workers, write: o.progressWrite, intervalMs: o.progressIntervalMs, onProgress: o.onProgress };

  // 1. checkpoints: the machines part trains, skips or refuses a missing one; the discrimination needs every one
  const skipped: MachinesResults["skipped"] = [];
  let compared: Variant[] = [];
  if (th) {
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
    if (di.checkpoints.length === 0) throw new Error("the discrimination part has no checkpoints");
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
    const home = dataSeedOf(cfg, th.seed);
    for (const m of th.machines) {
      for (const d of th.draws) plan.runs.set(`${d}/${m}`, Array.from({ length: cfg.runs }, (_, run) => runUnit(m, th.machineOptions, d, run)));
      plan.finals.set(m, finalsUnit(m, th.machineOptions, home, th.compareSamples));
    }
    for (const variant of compared) {
      plan.compare.set(variant, add({ kind: "network-compare", variant, seed: th.seed, weights: th.weights, machines: th.machines, options: th.machineOptions, n: th.compareSamples }));
    }
  }
  if (req.derivations) plan.derivations = add({ kind: "derivations" });
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
  const unitSeconds = [...done.values()].filter((r) => r.status === "computed").reduce((a, r) => a + r.seconds, 0);

  // 4. the machines part
  let machines: MachinesResults | null = null;
  if (th) {
    const runs: MachinesResults["runs"] = [];
    const consistency: MachineConsistency[] = [];
    for (const m of th.machines) {
      const perDraw = th.draws.map((d) => {
        const mine = plan.runs.get(`${d}/${m}`)!.map((f) => get(f, "machine-run"));
        runs.push(...mine.map((r) => ({ ...r, dataSeed: d })));
        return { dataSeed: d, runs: mine.length, functional: mine.reduce((a, r) => a + r.metrics.functional, 0) / mine.length };
      });
      const overDraws = overModels(perDraw.map((x) => ({ dataSeed: x.dataSeed, seed: 0, value: x.functional })));
      consistency.push({ machine: m, perDraw, overDraws });
      log(`machine:${m}: functional ${(100 * overDraws.mean).toFixed(2)} % over ${th.draws.length} draw(s) x ${cfg.runs} x ${cfg.samples} samples`);
    }
    const summaries = summarizeMachineRuns(runs, th.machines);
    const finals = Object.fromEntries(th.machines.map((m) => [m, get(plan.finals.get(m)!, "machine-finals").finals]));
    const comparisons: VariantComparison[] = compared.map((variant) => {
      const { dataSeed: _d, checkpoint, ...c } = get(plan.compare.get(variant)!, "network-compare");
      const r = finishComparison(c, finals, th.machines);
      log(`${variant}: median Pearson of final images ${th.machines.map((n) => `${n} ${r.pearson[n].median.toFixed(3)}`).join(", ")}`);
      return { variant, seed: th.seed, weights: th.weights, checkpoint, ...r };
    });
    machines = {
      machineOptions: th.machineOptions, machines: th.machines.map((n) => ({ name: n, model: `machine:${n}`, label: MACHINE_LABELS[n] })), draws: th.draws,
      runs, table1: table1Rows(summaries), table1Markdown: table1Markdown(summaries), consistency, comparisons, skipped,
    };
  }

  // 5. the discrimination part
  let discrimination: DiscriminationResults | null = null;
  if (di && st) {
    const draws: DrawWork[] = drawSeeds.map((d) => {
      const finals = Object.fromEntries(st.predictors.map((p) => [p, Array.from(get(plan.drawFinals.get(`${d}/${p}`)!, "machine-finals").finals)]));
      return drawFromParts(d, get(plan.forward.get(d)!, "draw-forward"), finals, st.predictors);
    });
    const models: ModelWork[] = refs.map((r, i) => {
      const net = get(plan.bands[i], "network-bands");
      return modelFromParts(cfg, { ...net, finals: Array.from(net.finals) }, draws.find((d) => d.dataSeed === r.dataSeed)!, st);
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
    discrimination = summarise(cfg, st, draws, models, sweep);
    log(`discrimination: ${models.length} trained model(s) over ${drawSeeds.length} draw(s)`);
  }

  const checkpoints: CheckpointRecord[] = [];
  const seen = new Set<string>();
  const record = (variant: Variant, seed: number) => {
    const key = `${variant}:${seed}`;
    if (seen.has(key)) return;
    seen.add(key);
    checkpoints.push(checkpointWeights(cfg, paths, variant, seed));
  };
  for (const v of compared) record(v, th!.seed);
  for (const r of refs) record(r.variant, r.seed);
  const seconds = (Date.now() - started.getTime()) / 1000;
  const results: TheoryResults = {
    meta: {
      libraryVersion: versionOf(), backend: info.name, tfjsVersion: info.tfjsVersion, command: o.command ?? null, started: started.toISOString(), seconds,
      workers, units: units.size, computed, reused, unitSeconds, comparisonNoise: `new Rng(sampleSeed + 0).split("sample"), batch = compareSamples`,
    },
    config: cfg,
    identity: { format: THEORY_FILE_FORMAT, request: identityRequest(req), checkpoints },
    derivations: plan.derivations ? get(plan.derivations, "derivations") : [],
    machines,
    discrimination,
  };
  const file = o.file === undefined ? path.join(paths.outDir, "theory.json") : o.file;
  if (file) writeJsonAtomic(file, results);
  return { results, computed, reused, seconds };
}

/** A compared model's checkpoint (relative to the output folder) and the fingerprint of its weights. */
function checkpointWeights(cfg: ExperimentConfig, paths: Paths, variant: Variant, seed: number): CheckpointRecord {
  const file = checkpointPath(paths, cfg, variant, seed);
  return { variant, seed, dataSeed: dataSeedOf(cfg, seed), checkpoint: path.relative(paths.outDir, file), weightsSha256: readCheckpoint(file).weightsSha256 };
}

/** Config keys that differ (all but `workers` and `theory`, which change no number). */
function configDiff(a: ExperimentConfig, b: ExperimentConfig): string[] {
  return (Object.keys(DEFAULT_CONFIG) as (keyof ExperimentConfig)[])
    .filter((k) => k !== "workers" && k !== "theory" && a?.[k] !== b[k])
    .map((k) => `${k} (${a?.[k]} vs ${b[k]})`);
}

/** Keys of two records whose values differ, with the part they are in. */
function keyDiff(a: Record<string, unknown> | null, b: Record<string, unknown> | null, prefix = ""): string[] {
  if (a === null || b === null) return canonicalJson(a) === canonicalJson(b) ? [] : [prefix.replace(/\.$/, "") || "request"];
  return [...new Set([...Object.keys(a ?? {}), ...Object.keys(b)])].filter((k) => canonicalJson(a?.[k]) !== canonicalJson(b[k])).map((k) => `${prefix}${k}`);
}

/**
 * Why theory.json's content `r` cannot stand for `request` under `cfg` in `paths`, or null if it can:
 * its format, config, request, the weights of every compared checkpoint, and the variants it skipped
 * (a skipped variant that has a finished checkpoint now makes it stale).
 */
export function theoryStaleReason(r: TheoryResults, cfg: ExperimentConfig, request: Partial<TheoryRequest>, paths: Paths): string | null {
  const id = r.identity;
  if (!id || id.format !== THEORY_FILE_FORMAT) return "it does not record what it was computed for in this layout (written by an older version)";
  const cd = configDiff(r.config, cfg);
  if (cd.length > 0) return `its config differs in ${cd.join(", ")}`;
  const req = requestOf(request);
  const want = identityRequest(req);
  const parts: string[] = [];
  if (want.derivations !== id.request.derivations) parts.push(`derivations (${id.request.derivations} vs ${want.derivations})`);
  parts.push(...keyDiff(id.request.theory as unknown as Record<string, unknown>, want.theory as unknown as Record<string, unknown>, "machines part: "));
  const dHave = id.request.discrimination, dWant = want.discrimination;
  if (canonicalJson(dHave?.checkpoints ?? null) !== canonicalJson(dWant?.checkpoints ?? null)) {
    const names = (x: typeof dHave) => (x ? x.checkpoints.map((c) => `${c.variant}:${c.seed}`).join(",") : "none");
    return `it compares other models (${names(dHave)} vs ${names(dWant)})`;
  }
  parts.push(...keyDiff((dHave?.settings ?? null) as unknown as Record<string, unknown> | null, (dWant?.settings ?? null) as unknown as Record<string, unknown> | null, "settings: "));
  if (parts.length > 0) return `it was computed with other ${parts.join(", ")}`;
  const skipped = r.machines?.skipped ?? [];
  if (skipped.length > 0 && req.theory && req.theory.missing !== "skip") return `it skipped ${skipped.map((s) => s.variant).join(", ")} (missing: ${req.theory.missing} asks to ${req.theory.missing === "train" ? "train them" : "fail"})`;
  for (const s of skipped) if (req.theory && finishedCheckpoint(cfg, paths, s.variant, req.theory.seed)) return `${s.variant} was skipped (${s.reason}) but has a finished checkpoint now`;
  for (const c of id.checkpoints) {
    const file = path.resolve(paths.outDir, c.checkpoint);
    if (!fs.existsSync(file)) return `its checkpoint ${c.checkpoint} is missing`;
    if (readCheckpoint(file).weightsSha256 !== c.weightsSha256) return `checkpoint ${c.checkpoint} holds other weights than it was computed from`;
  }
  return null;
}

/** Read theory.json (or another file of its layout); a corrupt file is an error naming it. */
export function readTheoryFile(file: string): TheoryResults {
  try {
    return JSON.parse(fs.readFileSync(file, "utf8")) as TheoryResults;
  } catch (e) {
    throw new Error(`${file} is corrupt or truncated (${(e as Error).message}); delete it to compute it again`);
  }
}

export interface LoadedTheory extends ComputedTheory {
  /** Read from its file ("loaded") or "computed" now. */
  source: "loaded" | "computed";
}

/**
 * theory.json of the output folder (or `file`) when it stands for the request (`theoryStaleReason`),
 * else `computeTheory` (reusing every cached unit that matches). Notebook 09 loads through this.
 */
export async function loadOrComputeTheory(o: ComputeTheoryOptions): Promise<LoadedTheory> {
  const log = o.log ?? ((line: string) => console.log(line));
  const t0 = Date.now();
  const f = o.file === undefined ? path.join(o.paths.outDir, "theory.json") : o.file;
  if (f && fs.existsSync(f)) {
    const r = readTheoryFile(f);
    const why = theoryStaleReason(r, o.cfg, o, o.paths);
    if (why === null) {
      log(`loaded ${f} (computed ${String(r.meta.started)} in ${Number(r.meta.seconds).toFixed(0)} s)`);
      return { results: r, computed: 0, reused: 0, seconds: (Date.now() - t0) / 1000, source: "loaded" };
    }
    log(`not using ${f}: ${why}; computing it`);
  }
  const c = await computeTheory(o);
  return { ...c, seconds: (Date.now() - t0) / 1000, source: "computed" };
}

/** The machines part (and by default the derivation checks): `computeTheory` with `theoryPart`'s defaults. */
export async function runTheory(o: {
  cfg: ExperimentConfig; paths: Paths; variants: readonly Variant[]; seed?: number; weights?: "ema" | "raw"; machines?: readonly MachineName[];
  machineOptions?: MachineOptions; compareSamples?: number; draws?: readonly number[]; missing?: "train" | "skip" | "error"; derivations?: boolean;
  file?: string | null; workers?: number; onProgress?: OnProgress; log?: (line: string) => void;
}): Promise<TheoryResults> {
  const r = await computeTheory({
    cfg: o.cfg, paths: o.paths, workers: o.workers ?? 1, log: o.log, onProgress: o.onProgress, file: o.file,
    theory: theoryPart(o.cfg, o), derivations: o.derivations ?? true,
  });
  return r.results;
}

/** The discrimination part over `checkpoints`: `computeTheory` with `discriminationSettings`' defaults for what is not given. */
export async function runDiscrimination(o: Partial<DiscriminationSettings> & {
  cfg: ExperimentConfig; paths: Paths; checkpoints: readonly CheckpointRef[]; file?: string | null; workers?: number;
  onProgress?: OnProgress; log?: (line: string) => void;
}): Promise<TheoryResults> {
  const { cfg, paths, checkpoints, file, onProgress, log, workers, ...rest } = o;
  const r = await computeTheory({
    cfg, paths, workers: workers ?? 1, log, onProgress, file,
    discrimination: { checkpoints: [...checkpoints], settings: discriminationSettings(rest) },
  });
  return r.results;
}
