/**
 * The types shared by the nested statistics (nested.ts) and the pieces built on them (prediction.ts,
 * share-bounds.ts, draw-means.ts), in their own module so that none of those imports nested.ts back.
 */

/** One model's runs: its dataset draw, training seed and one value per sampling run. */
export interface ModelRuns {
  dataSeed: number;
  seed: number;
  values: number[];
}

export interface NestedEstimate {
  draws: number;
  seedsPerDraw: number;
  runsPerModel: number;
  grandMean: number;
  /** Variance components (>= 0) and their shares of the total. */
  s2Draw: number;
  s2Seed: number;
  s2Run: number;
  shares: { draw: number; seed: number; run: number };
  /**
   * The ANOVA mean squares (draws, seeds within draws, runs within models) and their degrees of
   * freedom; `seed` is null with one seed per draw. The prediction interval and the share bounds
   * (prediction.ts, share-bounds.ts) are built from these.
   */
  meanSquares: { draw: number; seed: number | null; run: number; dfDraw: number; dfSeed: number; dfRun: number };
  /** Standard error of the grand mean and its 95 % interval (t with draws - 1 df). */
  se: number;
  df: number;
  ci95: [number, number];
}
