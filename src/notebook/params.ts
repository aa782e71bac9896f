/**
 * A notebook's parameter cell: raw text values (environment variables), parsed and checked
 * like config keys (a bad value throws naming it), and described back to the reader.
 */
import * as path from "path";
import { DEFAULT_CONFIG, ExperimentConfig, parseProfile, ProfileName, resolveConfig } from "../config";
import { studyModels } from "../experiment/models";
import { Paths } from "../experiment/tasks";

/** The raw parameter values of a notebook's parameter cell (strings, as env vars give them). */
export interface NotebookEnv {
  PROFILE: string;
  /** Output folder; relative paths are relative to the notebook's folder. */
  OUT_DIR: string;
  DATA_DIR: string;
  /** JSON object of config overrides, e.g. '{"epochs": 500, "samples": 1000}'. */
  OVERRIDES: string;
  /** First training seed; "" keeps the profile's. */
  SEED: string;
}

export interface NotebookParams {
  profile: ProfileName;
  overrides: Record<string, unknown>;
  cfg: ExperimentConfig;
  /** Absolute output and dataset folders. */
  paths: Paths;
  /** Training seeds of the study's models (cfg.datasets draws x cfg.seeds seeds; see experiment/models.ts). */
  seeds: number[];
}

/** Parse and check the parameter cell's values; bad values throw naming the parameter and value. */
export function notebookParams(e: NotebookEnv): NotebookParams {
  const profile = parseProfile(e.PROFILE);
  let overrides: unknown;
  try {
    overrides = JSON.parse(e.OVERRIDES.trim() === "" ? "{}" : e.OVERRIDES);
  } catch (err) {
    throw new Error(`OVERRIDES must be a JSON object of config overrides, got '${e.OVERRIDES}' (${(err as Error).message})`);
  }
  if (typeof overrides !== "object" || overrides === null || Array.isArray(overrides)) {
    throw new Error(`OVERRIDES must be a JSON object like {"epochs": 500}, got '${e.OVERRIDES}'`);
  }
  const all: Record<string, unknown> = { ...(overrides as Record<string, unknown>) };
  if (e.SEED.trim() !== "") all.seed = e.SEED;
  const cfg = resolveConfig(profile, all);
  const seeds = studyModels(cfg).map((m) => m.seed);
  return { profile, overrides: all, cfg, paths: { outDir: path.resolve(e.OUT_DIR), dataDir: path.resolve(e.DATA_DIR) }, seeds };
}

/** A whole-number notebook parameter given as text (env var); a bad value throws naming it and the range. */
export function intParam(name: string, text: string, o: { min?: number; max?: number } = {}): number {
  const min = o.min ?? 0;
  const max = o.max ?? Number.MAX_SAFE_INTEGER;
  const v = /^\s*-?\d+\s*$/.test(text) ? Number(text) : NaN;
  if (!Number.isInteger(v) || v < min || v > max) throw new Error(`notebook parameter ${name} must be an integer in [${min}, ${max}], got '${text}'`);
  return v;
}

/** A notebook parameter that takes one of `choices`; a bad value throws naming it and the choices. */
export function choiceParam<T extends string>(name: string, text: string, choices: readonly T[]): T {
  if ((choices as readonly string[]).includes(text)) return text as T;
  throw new Error(`notebook parameter ${name} must be one of ${choices.join(", ")}, got '${text}'`);
}

/** The resolved parameters as text: folders, seeds, and every config value (overridden ones marked). */
export function describeParams(p: NotebookParams): string {
  const lines = [
    `profile ${p.profile}; out ${p.paths.outDir}; data ${p.paths.dataDir}`,
    `training seeds ${p.seeds.join(", ")}; overrides ${JSON.stringify(p.overrides)}`,
  ];
  const keys = Object.keys(DEFAULT_CONFIG) as (keyof ExperimentConfig)[];
  const cells = keys.map((k) => `${k}=${p.cfg[k]}${k in p.overrides ? "*" : ""}`);
  for (let i = 0; i < cells.length; i += 6) lines.push("  " + cells.slice(i, i + 6).join("  "));
  return lines.join("\n");
}
