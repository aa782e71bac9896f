/**
 * The many-model Table 1 statistics (src/eval/nested.ts): variance components of a balanced
 * nested design and the interval of the grand mean, checked by simulation against known truth
 * (unbiased components, 95 % coverage), with the naive interval over models as a control that
 * under-covers when dataset draws matter; and a small case worked by hand.
 */
import { describe, expect, it } from "vitest";
import { drawMeansInterval } from "../src/eval/draw-means";
import { fiellerRatio } from "../src/eval/fieller";
import { drawsNeeded, ModelRuns, NestedEstimate, nestedEstimate, pairedDrawDifference, pairedDrawRatio, studySummary } from "../src/eval/nested";
import { paperPosition } from "../src/eval/paper-position";
import { oneModelPrediction } from "../src/eval/prediction";
import { shareUpperBounds } from "../src/eval/share-bounds";
import { studentTQuantile } from "../src/eval/stats";
import { studyStripFigure } from "../src/plot/figures";
import { Rng } from "../src/rng";

function simulate(rng: Rng, o: { D: number; S: number; R: number; mu: number; sDraw: number; sSeed: number; sRun: number }): ModelRuns[] {
  const out: ModelRuns[] = [];
  for (let d = 0; d < o.D; d++) {
    const a = o.sDraw * rng.normal();
    for (let s = 0; s < o.S; s++) {
      const b = o.sSeed * rng.normal();
      out.push({ dataSeed: d, seed: d * o.S + s, values: Array.from({ length: o.R }, () => o.mu + a + b + o.sRun * rng.normal()) });
    }
  }
  return out;
}

describe("nested draw / seed / run estimate", () => {
  it("worked by hand: 2 draws x 2 seeds x 2 runs", () => {
    // draw 0: models (1, 3) and (5, 7); draw 1: (2, 2) and (8, 10)
    const models: ModelRuns[] = [
      { dataSeed: 0, seed: 0, values: [1, 3] }, { dataSeed: 0, seed: 1, values: [5, 7] },
      { dataSeed: 1, seed: 2, values: [2, 2] }, { dataSeed: 1, seed: 3, values: [8, 10] },
    ];
    // model means 2, 6, 2, 9; draw means 4, 5.5; grand 4.75
    // SSE = 2 + 2 + 0 + 2 = 6, MS_E = 6 / (2*2*1) = 1.5
    // SSB = (2-4)^2 + (6-4)^2 + (2-5.5)^2 + (9-5.5)^2 = 32.5, MS_B = 2 * 32.5 / (2*1) = 32.5
    // SSA = (4-4.75)^2 + (5.5-4.75)^2 = 1.125, MS_A = 2*2 * 1.125 / 1 = 4.5
    const n = nestedEstimate(models);
    expect(n.grandMean).toBeCloseTo(4.75, 12);
    expect(n.s2Run).toBeCloseTo(1.5, 12);
    expect(n.s2Seed).toBeCloseTo((32.5 - 1.5) / 2, 12);
    expect(n.s2Draw).toBe(0); // (4.5 - 32.5) / 4 < 0, set to 0
    expect(n.se).toBeCloseTo(Math.sqrt(4.5 / 8), 12);
    expect(n.df).toBe(1);
    expect(n.ci95[1] - n.grandMean).toBeCloseTo(12.7062047 * Math.sqrt(4.5 / 8), 5); // t(0.975, 1)
    expect(n.meanSquares).toMatchObject({ dfDraw: 1, dfSeed: 2, dfRun: 4 });
    expect(n.meanSquares.draw).toBeCloseTo(4.5, 12);
    expect(n.meanSquares.seed!).toBeCloseTo(32.5, 12);
    expect(n.meanSquares.run).toBeCloseTo(1.5, 12);
    // One new model over R = 2 runs: s2Draw + s2Seed = (4.5 - 32.5) / 4 + (32.5 - 1.5) / 2 = 8.5 (the sum,
    // unbiased, although the draw part alone is negative); + s2Run / 2 = 0.75; + Var(grand mean) 4.5 / 8.
    // As mean squares: 0.375 MS_draw + 0.25 MS_seed; Satterthwaite df = V^2 / ((0.375 * 4.5)^2 / 1 + (0.25 * 32.5)^2 / 2).
    const p = oneModelPrediction(n);
    const V = 8.5 + 0.75 + 4.5 / 8;
    expect(p.variance).toBeCloseTo(V, 12);
    expect(p.df).toBeCloseTo(V ** 2 / ((0.375 * 4.5) ** 2 + (0.25 * 32.5) ** 2 / 2), 10);
    expect(p.df).toBeCloseTo(2.68536877655518, 10); // scipy
    expect(p.interval[1] - p.mean).toBeCloseTo(10.663463526283175, 8); // scipy: t.ppf(0.975, df) * sqrt(V)
    // Share bounds: f = 4.5 / 32.5 against F(1, 2): F_0.05 = 0.0050125313, F_0.95 = 18.5128205 (scipy).
    const b = shareUpperBounds(n);
    const thetaUp = (4.5 / 32.5 / 0.005012531328320802 - 1) / 2;
    expect(b.draw).toBeCloseTo(thetaUp / (1 + thetaUp), 8);
    expect(b.seed).toBe(1); // f < F_0.95: theta's lower bound is 0, so the seed share may be all of it
    expect(b.f).toBeCloseTo(4.5 / 32.5, 12);
  });

  it("recovers the components and covers the mean 95 % of the time; the interval over models does not", () => {
    const rng = new Rng(7).split("nested-sim");
    const truth = { D: 6, S: 2, R: 10, mu: 0.5, sDraw: 0.08, sSeed: 0.04, sRun: 0.005 };
    const trials = 3000;
    let nestedCover = 0;
    let naiveCover = 0;
    let s2d = 0;
    let s2s = 0;
    let s2r = 0;
    for (let i = 0; i < trials; i++) {
      const m = simulate(rng, truth);
      const s = studySummary(m);
      const n = s.nested!;
      if (n.ci95[0] <= truth.mu && truth.mu <= n.ci95[1]) nestedCover++;
      if (s.overModels.ci95[0] <= truth.mu && truth.mu <= s.overModels.ci95[1]) naiveCover++;
      s2d += n.s2Draw / trials;
      s2s += n.s2Seed / trials;
      s2r += n.s2Run / trials;
    }
    const cover = nestedCover / trials;
    // binomial sd of a 95 % coverage over 3000 trials is 0.004
    expect(cover).toBeGreaterThan(0.935);
    expect(cover).toBeLessThan(0.965);
    expect(naiveCover / trials).toBeLessThan(0.92);
    // truncation at 0 biases the components up a little; the run component has 108 df per trial
    expect(s2r / truth.sRun ** 2).toBeGreaterThan(0.98);
    expect(s2r / truth.sRun ** 2).toBeLessThan(1.02);
    expect(s2s / truth.sSeed ** 2).toBeGreaterThan(0.9);
    expect(s2s / truth.sSeed ** 2).toBeLessThan(1.15);
    expect(s2d / truth.sDraw ** 2).toBeGreaterThan(0.9);
    expect(s2d / truth.sDraw ** 2).toBeLessThan(1.15);
  });

  it("refuses an unbalanced design, naming it, and reports why nested is missing", () => {
    const m = simulate(new Rng(1), { D: 3, S: 2, R: 4, mu: 0.3, sDraw: 0.1, sSeed: 0.1, sRun: 0.01 });
    m[3].values.pop();
    expect(() => nestedEstimate(m)).toThrow(/unbalanced design: model \(draw 1, seed 3\) has 3 runs, others 4/);
    expect(studySummary(m).nested).toBeNull();
    expect(studySummary(m).nestedNote).toMatch(/unbalanced/);
    expect(studySummary(m.filter((x) => x.dataSeed === 0)).nestedNote).toMatch(/at least 2 dataset draws/);
  });

  it("paired differences and Fieller ratios over draws", () => {
    const rng = new Rng(3);
    const a = simulate(rng, { D: 6, S: 2, R: 3, mu: 0.5, sDraw: 0.05, sSeed: 0.02, sRun: 0.005 });
    // b = a's draws, shifted down by 0.3 and scaled by 0.4 -> difference known per draw
    const b = a.map((m) => ({ ...m, values: m.values.map((v) => 0.4 * v) }));
    const d = pairedDrawDifference(a, b);
    const meanA = a.flatMap((m) => m.values).reduce((x, y) => x + y, 0) / 36;
    expect(d.mean).toBeCloseTo(0.6 * meanA, 12);
    expect(d.draws).toBe(6);
    const r = pairedDrawRatio(a, b);
    expect(r.ratio).toBeCloseTo(2.5, 12);
    expect(r.shape).toBe("bounded");
    expect(r.interval![0]).toBeCloseTo(2.5, 9); // a constant ratio per draw: Fieller's interval is the point 2.5
    expect(r.interval![1]).toBeCloseTo(2.5, 9);
    expect(r.pairs).toBe(6);
    expect(r.df).toBe(5);
    expect(() => pairedDrawDifference(a.slice(0, 2), b)).toThrow(/needs >= 2 common dataset draws, got 1/);
    expect(() => pairedDrawRatio(a.slice(0, 2), b)).toThrow(/needs >= 2 common dataset draws, got 1/);
  });

  it("the draws a target interval needs: worked by hand and monotone", () => {
    // MS_A = 0.0001 + 10 * 0.0004 + 2 * 10 * 0.0025 = 0.0541; D = 6 -> t(5) = 2.5706, h = 2.5706 sqrt(0.0541 / 120) = 0.0546
    const c = { s2Run: 0.0001, s2Seed: 0.0004, s2Draw: 0.0025 };
    const six = drawsNeeded(c, 0.0546, { seedsPerDraw: 2, runsPerModel: 10 })!;
    expect(six.draws).toBe(6);
    expect(six.halfWidth).toBeCloseTo(2.5706 * Math.sqrt(0.0541 / 120), 3);
    const tighter = drawsNeeded(c, 0.04, { seedsPerDraw: 2, runsPerModel: 10 })!;
    expect(tighter.draws).toBeGreaterThan(6);
    expect(tighter.halfWidth).toBeLessThanOrEqual(0.04);
    expect(drawsNeeded(c, 1e-6, { seedsPerDraw: 2, runsPerModel: 10, maxDraws: 50 })).toBeNull();
  });
});

describe("strip plot of every trained model", () => {
  const entry = (draws: number) => {
    const models = Array.from({ length: draws * 2 }, (_, i) => ({ dataSeed: Math.floor(i / 2), seed: i, mean: 0.4 + 0.01 * i }));
    return { model: "attention" as const, weights: "ema", study: { models, overModels: { mean: 0.5, ci95: [0.45, 0.55] as [number, number] }, nested: { ci95: [0.44, 0.56] as [number, number] } } };
  };
  const dots = (fig: ReturnType<typeof studyStripFigure>) => fig.data.filter((t) => String(t.name).startsWith("dataset draw") || String(t.name).startsWith("trained model"));

  it("one colour per dataset draw while the palette has distinct colours, one trace beyond", () => {
    const six = dots(studyStripFigure([entry(6)]));
    expect(six.map((t) => t.name)).toEqual([0, 1, 2, 3, 4, 5].map((d) => `dataset draw ${d}`));
    expect(new Set(six.map((t) => (t.marker as { color: string }).color)).size).toBe(6);
    const sixteen = dots(studyStripFigure([entry(16)]));
    expect(sixteen.map((t) => t.name)).toEqual(["trained model (16 dataset draws)"]);
    expect((sixteen[0].y as number[]).length).toBe(32);
    expect((sixteen[0].text as string[])[31]).toBe("attention, draw 15, seed 31");
  });
});
