/**
 * The random baseline (SPEC): quadrants drawn independently and uniformly from the six valid
 * pairs. Exact by enumeration of all 6^4 images, and by Monte Carlo as the paper describes it.
 */
import { allTrainingImageKeys } from "../data/dataset";
import { VALID_PAIRS } from "../data/palette";
import { Rng } from "../rng";
import { evaluateColours, MetricValues } from "./metrics";

function fillQuadrant(out: Uint8Array, offset: number, q: number, pair: number): void {
  const [key, value] = VALID_PAIRS[pair];
  const r = 2 * (q >> 1);
  const c = 2 * (q & 1);
  for (let dy = 0; dy < 2; dy++) {
    out[offset + (r + dy) * 4 + c] = key;
    out[offset + (r + dy) * 4 + c + 1] = value;
  }
}

/** Exact metric values: every one of the 6^4 = 1296 images once. */
export function exactRandomBaseline(trainingKeys = allTrainingImageKeys()): MetricValues {
  const n = 6 ** 4;
  const colours = new Uint8Array(n * 16);
  for (let i = 0; i < n; i++) {
    let m = i;
    for (let q = 0; q < 4; q++) {
      fillQuadrant(colours, i * 16, q, m % 6);
      m = Math.floor(m / 6);
    }
  }
  return evaluateColours(colours, trainingKeys);
}

/** Monte Carlo: `runs` runs of `samples` random images each; one MetricValues per run. */
export function monteCarloRandomBaseline(o: { samples: number; runs: number; seed: number; trainingKeys?: Set<string> }): MetricValues[] {
  const rng = new Rng(o.seed).split("random-baseline");
  const keys = o.trainingKeys ?? allTrainingImageKeys();
  const out: MetricValues[] = [];
  const colours = new Uint8Array(o.samples * 16);
  for (let r = 0; r < o.runs; r++) {
    for (let i = 0; i < o.samples; i++) for (let q = 0; q < 4; q++) fillQuadrant(colours, i * 16, q, rng.int(6));
    out.push(evaluateColours(colours, keys));
  }
  return out;
}
