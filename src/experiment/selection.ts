/**
 * What a run (or a slice of a study) selects, checked before any work: sampling runs outside the
 * study, a selection that samples nothing, and a study too large to record (its task list, its
 * results.json and losses.csv must fit in memory and in a JavaScript string) are errors naming the
 * value and the valid range.
 */
import { epochsFor, ExperimentConfig } from "../config";
import { Variant } from "../model/variants";
import { ModelKey, protocolModel } from "./models";

/** Most sampling runs one results.json records (about 1 KB each in results.json and runs.csv). */
export const MAX_STUDY_RUNS = 250_000;
/** Most epoch losses one results.json and losses.csv hold (variants x models x epochs). */
export const MAX_STUDY_EPOCHS = 5_000_000;

/** "0-3, 7, 9-12" for sorted integers. */
export function rangeText(xs: readonly number[]): string {
  const s = [...xs].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < s.length; ) {
    let j = i;
    while (j + 1 < s.length && s[j + 1] === s[j] + 1) j++;
    parts.push(i === j ? `${s[i]}` : `${s[i]}-${s[j]}`);
    i = j + 1;
  }
  return parts.join(", ");
}

/**
 * Check a study's selection: every selected run index is a run of the study (0 .. max(runs,
 * protocolRuns) - 1), at least one sampling run is selected, and the study fits the bounds above.
 */
export function checkSelection(cfg: ExperimentConfig, variants: readonly Variant[], models: readonly ModelKey[], runs: readonly number[], o: { sliced: boolean }): void {
  const limit = Math.max(cfg.runs, cfg.protocolRuns);
  const outside = runs.filter((r) => !(Number.isInteger(r) && r >= 0 && r < limit));
  if (outside.length > 0) {
    const study = cfg.protocolRuns > 0 ? `runs 0-${cfg.runs - 1} per model, 0-${cfg.protocolRuns - 1} for the first model (config keys runs = ${cfg.runs}, protocolRuns = ${cfg.protocolRuns})` : `runs 0-${cfg.runs - 1} (config key runs = ${cfg.runs})`;
    throw new Error(`--runs selects run(s) ${rangeText(outside)}, which are not in this study: it has ${study}; choose runs in that range or raise 'runs'`);
  }
  const p = protocolModel(cfg);
  const below = (n: number) => runs.filter((r) => r < n).length;
  const hasProtocol = cfg.protocolRuns > 0 && models.some((m) => m.seed === p.seed && m.dataSeed === p.dataSeed);
  const perVariant = hasProtocol ? (models.length - 1) * below(cfg.runs) + below(cfg.protocolRuns) : models.length * below(cfg.runs);
  const weightSets = cfg.rawSamples ? 2 : 1;
  const total = perVariant * variants.length * weightSets;
  if (total === 0) {
    throw new Error(`the selection samples nothing: runs ${rangeText(runs)} of ${o.sliced ? "the selected models" : "the study's models"} (only the first model has runs ${cfg.runs}-${limit - 1}); select runs 0-${cfg.runs - 1}`);
  }
  if (total > MAX_STUDY_RUNS) {
    throw new Error(`this study has ${total} sampling runs (${variants.length} variant(s) x ${models.length} model(s) x runs, x ${weightSets} weight set(s)); at most ${MAX_STUDY_RUNS} fit in one results.json: lower 'runs', 'seeds' or 'datasets', or split the study with --seeds/--runs slices`);
  }
  const epochs = variants.reduce((a, v) => a + models.length * epochsFor(cfg, v), 0);
  if (epochs > MAX_STUDY_EPOCHS) {
    throw new Error(`this study keeps ${epochs} epoch losses (${variants.length} variant(s) x ${models.length} model(s) x 'epochs' ${cfg.epochs}); at most ${MAX_STUDY_EPOCHS} fit in one results.json and losses.csv: lower 'epochs', 'seeds' or 'datasets', or split the study with --seeds slices`);
  }
}
