/**
 * Shared by the command-line entries configured through environment variables (`npm run theory`,
 * `npm run discriminate`): --help, no other arguments, checked variable values, and the checks
 * that find a missing model before any work (so nothing is written, not even a dataset).
 */
import * as fs from "fs";
import * as path from "path";
import { ExperimentConfig } from "../config";
import { checkpointPath, checkpointRequest, Paths } from "../experiment/tasks";
import { parseVariant, Variant } from "../model/variants";
import { readFinishedCheckpoint } from "../train/checkpoint";

/** The leading doc comment of a source file (the usage an entry prints for --help), or `fallback`. */
export function fileDoc(file: string, fallback: string): string {
  try {
    const text = fs.readFileSync(file, "utf8");
    const a = text.indexOf("/**");
    const b = text.indexOf("*/");
    if (a < 0 || b < a) return fallback;
    return text.slice(a + 3, b).split("\n").map((l) => l.replace(/^ \* ?/, "")).join("\n").trim();
  } catch {
    return fallback;
  }
}

/** True when `argv` asks for help (print `usage`); any other argument is an error (these entries take none). */
export function helpOrNoArgs(argv: string[], usage: string): boolean {
  if (argv.includes("--help") || argv.includes("-h")) return true;
  if (argv.length > 0) throw new Error(`unknown argument '${argv[0]}' (this command is configured through environment variables)\n${usage}`);
  return false;
}

/** OVERRIDES as a JSON object (a readable error otherwise). */
export function parseOverrides(text: string | undefined): Record<string, unknown> {
  let o: unknown;
  try {
    o = JSON.parse(text === undefined || text.trim() === "" ? "{}" : text);
  } catch (e) {
    throw new Error(`OVERRIDES must be a JSON object of config overrides, got '${text}' (${(e as Error).message})`);
  }
  if (typeof o !== "object" || o === null || Array.isArray(o)) throw new Error(`OVERRIDES must be a JSON object like {"epochs": 500}, got '${text}'`);
  return o as Record<string, unknown>;
}

/** A comma-separated variant list; a variant listed twice is an error naming it. */
export function parseVariantList(name: string, text: string): Variant[] {
  const vs = text.split(",").map((v) => parseVariant(v.trim()));
  const dup = vs.find((v, i) => vs.indexOf(v) !== i);
  if (dup) throw new Error(`${name} lists '${dup}' twice; list each variant once`);
  return vs;
}

/**
 * How `cfg` differs from the config the experiment in `outDir` ran with (its config.json), as a
 * hint for a missing checkpoint (a line to print after the list of missing models), or "".
 */
export function configHint(outDir: string, cfg: ExperimentConfig): string {
  const file = path.join(outDir, "config.json");
  if (!fs.existsSync(file)) return `\nthere is no experiment in ${outDir} (no config.json)`;
  let stored: Record<string, unknown>;
  try {
    stored = (JSON.parse(fs.readFileSync(file, "utf8")) as { config: Record<string, unknown> }).config;
  } catch {
    return "";
  }
  const mine = cfg as unknown as Record<string, unknown>;
  const diff = Object.keys(mine).filter((k) => k !== "workers" && k !== "theory" && JSON.stringify(stored[k]) !== JSON.stringify(mine[k]));
  if (diff.length === 0) return "";
  return `\nthe experiment in ${outDir} ran with ${diff.map((k) => `${k} ${JSON.stringify(stored[k])}`).join(", ")}; this command asks for ${diff.map((k) => `${k} ${JSON.stringify(mine[k])}`).join(", ")}: set PROFILE and OVERRIDES as the experiment had them`;
}

/** The (variant, seed) models whose finished checkpoint is not in `paths.outDir`, with the reason. */
export function missingModels(cfg: ExperimentConfig, paths: Paths, models: { variant: Variant; seed: number }[]): string[] {
  const out: string[] = [];
  for (const m of models) {
    try {
      readFinishedCheckpoint(checkpointPath(paths, cfg, m.variant, m.seed), checkpointRequest(cfg, m.variant, m.seed));
    } catch (e) {
      out.push(`${m.variant} seed ${m.seed}: ${(e as Error).message}`);
    }
  }
  return out;
}
