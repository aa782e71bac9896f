/**
 * Where one published value (the paper's single model) sits among our trained models: its
 * percentile among our per-model means, how many of our models reach it (at or below it when it
 * lies below our mean, at or above when above), and whether it lies in our one-model prediction
 * interval (prediction.ts). A count of 0 out of 34 says more than "outside the interval of the mean".
 */

export interface PaperPosition {
  value: number;
  /** Our models compared (their per-model means). */
  models: number;
  /** Percent of our models below the value, ties counted half (mid-rank percentile, 0-100). */
  percentile: number;
  /** Which side of our mean the value lies on, and how many of our models lie at or beyond it on that side. */
  side: "below" | "above";
  atOrBeyond: number;
  /** Our lowest and highest model. */
  lowest: number;
  highest: number;
  /** Whether the value lies in the one-model prediction interval (null when there is none). */
  inPredictionInterval: boolean | null;
}

/**
 * The position of `value` among `modelMeans` (our models, each its mean over runs), relative to our
 * `center` (the grand mean), and against the one-model prediction interval `pi` if any.
 */
export function paperPosition(value: number, modelMeans: readonly number[], center: number, pi: [number, number] | null): PaperPosition {
  if (!Number.isFinite(value)) throw new Error(`paperPosition: the value must be finite, got ${value}`);
  if (modelMeans.length === 0) throw new Error("paperPosition: no models to compare with");
  if (!modelMeans.every(Number.isFinite)) throw new Error("paperPosition: every model mean must be finite");
  const below = modelMeans.filter((m) => m < value).length;
  const ties = modelMeans.filter((m) => m === value).length;
  const side = value < center ? "below" : "above";
  const atOrBeyond = side === "below" ? below + ties : modelMeans.length - below;
  return {
    value, models: modelMeans.length, percentile: (100 * (below + ties / 2)) / modelMeans.length, side, atOrBeyond,
    lowest: Math.min(...modelMeans), highest: Math.max(...modelMeans),
    inPredictionInterval: pi ? value >= pi[0] && value <= pi[1] : null,
  };
}
