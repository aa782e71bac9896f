/**
 * The free choices of the Eq. 8 attention machine (src/theory/machines.ts), swept: the partner weight
 * lambda, whether Eq. 5's argmax may pick the query itself, and whether each quadrant's prior holds
 * only its own partner or the partners of all four positions (the sum over x of Eq. 8 read
 * literally). Each setting is sampled like the trained models (functional consistency) and from the
 * comparison noise (final images, for the same-noise Pearson r against each network), as the theory
 * phase's machine-run and machine-finals units (src/experiment/theory-phase.ts).
 */
import { MetricValues } from "../eval/metrics";
import { MACHINE_DEFAULTS } from "./machines";

/** One setting of the Eq. 8 machine's free choices. */
export interface SweepSetting {
  partnerWeight: number;
  includeSelf: boolean;
  partners: "own" | "pooled";
}

/** lambda in {1/4, 1/2, 3/4} x self excluded/included x own/pooled partners: 12 settings. */
export const DEFAULT_SWEEP: readonly SweepSetting[] = [0.25, 0.5, 0.75].flatMap((partnerWeight) =>
  [false, true].flatMap((includeSelf) => (["own", "pooled"] as const).map((partners) => ({ partnerWeight, includeSelf, partners }))));

/** Short label, e.g. "lambda=0.5 self=no partners=own". */
export const sweepLabel = (s: SweepSetting): string => `lambda=${s.partnerWeight} self=${s.includeSelf ? "yes" : "no"} partners=${s.partners}`;

/** Is this the machine's default setting (the `attention` machine of Table 1)? */
export const isDefaultSetting = (s: SweepSetting): boolean =>
  s.partnerWeight === MACHINE_DEFAULTS.partnerWeight && s.includeSelf === MACHINE_DEFAULTS.includeSelf && s.partners === MACHINE_DEFAULTS.partners;

/** What one setting gives on one dataset draw: metrics per sampling run, and final images from the comparison noise. */
export interface SweepSample {
  setting: SweepSetting;
  dataSeed: number;
  runs: { run: number; samples: number; metrics: MetricValues }[];
  /** Final images from `compareRng`, tokens [n, 4, 12] as a plain array (JSON). */
  finals: number[];
}
