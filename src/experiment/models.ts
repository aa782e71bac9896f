/**
 * The trained models of a study: every (dataset draw, training seed) pair. With `datasets` = 1 all
 * training seeds train on draw `datasetSeed`; with D > 1 the study nests seeds in draws, draw i
 * holding training seeds seed + i*seeds ... seed + (i+1)*seeds - 1, so that a training seed names
 * one model and a `--seeds` slice selects whole models.
 */
import { ExperimentConfig } from "../config";

export interface ModelKey {
  /** Seed of the model's dataset draw (its `datasetSeed`). */
  dataSeed: number;
  /** Training seed (init, data order, noise, Gumbel draws). */
  seed: number;
}

/** Every model of the study, draw-major. */
export function studyModels(cfg: ExperimentConfig): ModelKey[] {
  const out: ModelKey[] = [];
  for (let d = 0; d < cfg.datasets; d++) {
    for (let j = 0; j < cfg.seeds; j++) out.push({ dataSeed: cfg.datasetSeed + d, seed: cfg.seed + d * cfg.seeds + j });
  }
  return out;
}

/** The dataset draw a training seed trains on; a seed outside a multi-draw study is an error. */
export function dataSeedOf(cfg: ExperimentConfig, seed: number): number {
  if (!Number.isInteger(seed) || seed < 0) throw new Error(`training seed must be a non-negative integer, got ${seed}`);
  if (cfg.datasets === 1) return cfg.datasetSeed;
  const d = Math.floor((seed - cfg.seed) / cfg.seeds);
  if (seed < cfg.seed || d >= cfg.datasets) {
    throw new Error(`training seed ${seed} is not in this study (${cfg.datasets} dataset draws x ${cfg.seeds} seeds: training seeds ${cfg.seed}-${cfg.seed + cfg.datasets * cfg.seeds - 1}); raise 'datasets' or 'seeds'`);
  }
  return cfg.datasetSeed + d;
}

/** The study's models whose training seed is in `seeds` (in the given order; each must belong to the study). */
export function selectModels(cfg: ExperimentConfig, seeds: readonly number[]): ModelKey[] {
  return seeds.map((seed) => ({ dataSeed: dataSeedOf(cfg, seed), seed }));
}

/** The model that carries the paper's protocol (`protocolRuns` runs): the study's first. */
export function protocolModel(cfg: ExperimentConfig): ModelKey {
  return studyModels(cfg)[0];
}

/** Runs to sample for `m`: `runs` (a slice of run indices) cut to the model's share of the study. */
export function runsFor(cfg: ExperimentConfig, m: ModelKey, runs: readonly number[]): number[] {
  const p = protocolModel(cfg);
  const limit = cfg.protocolRuns > 0 && m.seed === p.seed && m.dataSeed === p.dataSeed ? cfg.protocolRuns : cfg.runs;
  return runs.filter((r) => r < limit);
}
