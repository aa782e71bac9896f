/**
 * The many-model Table 1 statistics (src/eval/nested.ts): variance components of a balanced
 * nested design and the interval of the grand mean, checked by simulation against known truth
 * (unbiased components, 95 % coverage), with the naive interval over models as a control that
 * under-covers when dataset draws matter; and a small case worked by hand.
 */
import { afterAll, describe, expect, it } from "vitest";
import { drawMeansInterval } from "../src/eval/draw-means";
import { fiellerRatio } from "../src/eval/fieller";
import { drawsNeeded, ModelRuns, NestedEstimate, nestedEstimate, pairedDrawDifference, pairedDrawRatio, studySummary } from "../src/eval/nested";
import { paperPosition } from "../src/eval/paper-position";
import { oneModelPrediction, oneRunPrediction } from "../src/eval/prediction";
import { shareUpperBounds } from "../src/eval/share-bounds";
import { studentTQuantile } from "../src/eval/stats";
import { METRIC_NAMES, MetricValues } from "../src/eval/metrics";
import { compareVariants, ratioSetText, RunMetrics, summarizeRuns, table1Markdown, table1Rows, toCsv } from "../src/eval/report";
import { paperConsistency } from "../src/model/variants";
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

/** Standard normal CDF (Abramowitz & Stegun 7.1.26 via erf; |error| < 1.5e-7, far below the Monte Carlo error here). */
function normalCdf(x: number): number {
  const z = Math.abs(x) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * z);
  const erf = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-z * z);
  return x >= 0 ? 0.5 * (1 + erf) : 0.5 * (1 - erf);
}

/** Mean and its Monte Carlo standard error. */
function meanSe(xs: number[]): { mean: number; se: number } {
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  const v = xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1);
  return { mean: m, se: Math.sqrt(v / xs.length) };
}

// Realistic components (variances, functional consistency as a fraction): our studies have a run
// variance of about 2.3e-5 (a 10 000-sample run), seed variances 0.001-0.012, draw variances 0-0.0014.
const RUN = 2.3e-5;

describe("coverage by simulation at our designs (D draws x 2 seeds x 10 runs)", () => {
  // Each line: design, true components, nominal 0.95, achieved, Monte Carlo standard error, simulations.
  const report: string[] = [];
  afterAll(() => console.info(report.join("\n")));

  it("one-model prediction interval: 95 % within +-0.01 (>= 4 Monte Carlo s.e.) with draw component 0, moderate and dominant", () => {
    const cases = [
      { D: 6, draw: 0, seed: 0.0096 }, // attention-like: no draw component
      { D: 6, draw: 0.0014, seed: 0.0053 }, // identity-like, 6 draws
      { D: 6, draw: 0.01, seed: 0.0025 }, // draw component dominant (80 %)
      { D: 6, draw: 0.01, seed: 0 }, // no seed component
      { D: 14, draw: 0.0014, seed: 0.0053 },
      { D: 16, draw: 0, seed: 0.0087 },
      { D: 17, draw: 0.01, seed: 0.0025 },
    ];
    const trials = 4000;
    for (const c of cases) {
      for (const runsNew of c.D === 6 && c.draw === 0.0014 ? [10, 100] : [10]) {
        const rng = new Rng(21).split(`pi-${c.D}-${c.draw}-${c.seed}-${runsNew}`);
        const truth = { D: c.D, S: 2, R: 10, mu: 0.5, sDraw: Math.sqrt(c.draw), sSeed: Math.sqrt(c.seed), sRun: Math.sqrt(RUN) };
        // The new model's score is N(mu, draw + seed + run / runsNew), independent of the study: the
        // probability that the interval holds it, given the study, is exact; its average is the coverage.
        const sdNew = Math.sqrt(c.draw + c.seed + RUN / runsNew);
        const cover: number[] = [];
        const coverZ: number[] = [];
        for (let i = 0; i < trials; i++) {
          const p = oneModelPrediction(nestedEstimate(simulate(rng, truth)), { runsNew });
          cover.push(normalCdf((p.interval[1] - truth.mu) / sdNew) - normalCdf((p.interval[0] - truth.mu) / sdNew));
          // Control: the same variance with 1.96 in place of t(Satterthwaite df).
          const hz = (1.959964 * (p.interval[1] - p.mean)) / studentTQuantile(0.975, p.df);
          coverZ.push(normalCdf((p.mean + hz - truth.mu) / sdNew) - normalCdf((p.mean - hz - truth.mu) / sdNew));
        }
        const r = meanSe(cover);
        const z = meanSe(coverZ);
        report.push(`PI, one new model (${runsNew} runs): ${c.D} draws x 2 x 10, s2Draw ${c.draw}, s2Seed ${c.seed}, s2Run ${RUN}: nominal 0.95, achieved ${r.mean.toFixed(4)} (s.e. ${r.se.toFixed(4)}; with 1.96 instead of t: ${z.mean.toFixed(4)}), ${trials} simulated studies`);
        expect(r.se).toBeLessThan(0.0025);
        expect(r.mean, `${JSON.stringify(c)} runsNew ${runsNew}`).toBeGreaterThan(0.94);
        expect(r.mean, `${JSON.stringify(c)} runsNew ${runsNew}`).toBeLessThan(0.96);
        // With 6 draws the degrees of freedom matter: a normal quantile under-covers.
        if (c.D === 6 && c.draw === 0.01) expect(z.mean).toBeLessThan(0.93);
      }
    }
  });

  it("one run per model (sweeps with --runs 1): the prediction interval covers 95 % within +-0.01 at 4 draws x 2 seeds", () => {
    const trials = 4000;
    for (const c of [{ draw: 0, seed: 0.0096 }, { draw: 0.0014, seed: 0.0053 }, { draw: 0.01, seed: 0.0025 }]) {
      const rng = new Rng(22).split(`pi1-${c.draw}-${c.seed}`);
      const truth = { D: 4, S: 2, R: 1, mu: 0.5, sDraw: Math.sqrt(c.draw), sSeed: Math.sqrt(c.seed), sRun: Math.sqrt(RUN) };
      const sdNew = Math.sqrt(c.draw + c.seed + RUN);
      const cover: number[] = [];
      for (let i = 0; i < trials; i++) {
        const models = simulate(rng, truth);
        const groups = [0, 1, 2, 3].map((d) => models.filter((m) => m.dataSeed === d).map((m) => m.values[0]));
        const p = oneRunPrediction(groups);
        cover.push(normalCdf((p.interval[1] - truth.mu) / sdNew) - normalCdf((p.interval[0] - truth.mu) / sdNew));
      }
      const r = meanSe(cover);
      report.push(`PI, one new model (1 run), one run per model: 4 draws x 2 x 1, s2Draw ${c.draw}, s2Seed ${c.seed}, s2Run ${RUN}: nominal 0.95, achieved ${r.mean.toFixed(4)} (s.e. ${r.se.toFixed(4)}), ${trials} simulated studies`);
      expect(r.mean, JSON.stringify(c)).toBeGreaterThan(0.94);
      expect(r.mean, JSON.stringify(c)).toBeLessThan(0.96);
    }
    // studySummary falls back to it when the nested estimate needs 2 runs, and says so
    const models = simulate(new Rng(3).split("pi1-summary"), { D: 4, S: 2, R: 1, mu: 0.5, sDraw: 0.03, sSeed: 0.08, sRun: 0.005 });
    const s = studySummary(models);
    expect(s.nested).toBeNull();
    expect(s.prediction?.runsNew).toBe(1);
    expect(s.predictionNote).toMatch(/one sampling run per model/);
    expect(() => oneRunPrediction([[0.1, 0.2], [0.3]])).toThrow(/unbalanced design, draw 1 has 1 models/);
    expect(() => oneRunPrediction([[0.1], [0.3]])).toThrow(/at least 2 seeds per draw, got 1/);
    expect(() => oneRunPrediction([[0.1, 0.2]])).toThrow(/at least 2 dataset draws, got 1/);
  });

  it("share upper bounds: one-sided 95 % (exact at the model level; conservative only by the run share)", () => {
    const cases = [
      { D: 6, draw: 0.0014, seed: 0.0053, run: RUN }, // identity-like
      { D: 6, draw: 0.01, seed: 0.0025, run: RUN }, // draw dominant
      { D: 17, draw: 0.0014, seed: 0.0053, run: RUN },
      { D: 14, draw: 0.0002, seed: 0.0053, run: RUN }, // a small draw component
      { D: 6, draw: 0.002, seed: 0.001, run: 0.01 }, // a large run component: conservative
    ];
    const trials = 6000; // binomial s.e. of 0.95: 0.0028
    for (const c of cases) {
      const rng = new Rng(22).split(`shares-${c.D}-${c.draw}-${c.run}`);
      const truth = { D: c.D, S: 2, R: 10, mu: 0.5, sDraw: Math.sqrt(c.draw), sSeed: Math.sqrt(c.seed), sRun: Math.sqrt(c.run) };
      const total = c.draw + c.seed + c.run;
      let drawCover = 0;
      let seedCover = 0;
      for (let i = 0; i < trials; i++) {
        const b = shareUpperBounds(nestedEstimate(simulate(rng, truth)));
        if (c.draw / total <= b.draw) drawCover++;
        if (c.seed / total <= b.seed) seedCover++;
      }
      const d = drawCover / trials;
      const s = seedCover / trials;
      report.push(`share upper bounds: ${c.D} draws x 2 x 10, s2Draw ${c.draw}, s2Seed ${c.seed}, s2Run ${c.run}: nominal 0.95, achieved draw share ${d.toFixed(4)}, seed share ${s.toFixed(4)} (s.e. 0.0028), ${trials} simulated studies`);
      expect(d, JSON.stringify(c)).toBeGreaterThan(0.94);
      expect(s, JSON.stringify(c)).toBeGreaterThan(0.94);
      if (c.run === RUN) {
        // exact up to the run share (< 0.5 % here): not conservative either
        expect(d, JSON.stringify(c)).toBeLessThan(0.96);
        expect(s, JSON.stringify(c)).toBeLessThan(0.96);
      }
    }
  });

  it("Fieller's ratio over paired draws: 95 % within +-0.01, also when the denominator is near 0 (unbounded sets)", () => {
    // Two variants trained on the same draws: draw effects correlated (rho) between them.
    const cases = [
      { D: 6, muA: 0.52, muB: 0.092, drawA: 0.0014, drawB: 0.0003, seedA: 0.0096, seedB: 0.001, rho: 0.5 }, // attention / cnn
      { D: 6, muA: 0.3, muB: 0.02, drawA: 0.0014, drawB: 0.001, seedA: 0.0053, seedB: 0.002, rho: 0 }, // denominator near 0
      { D: 16, muA: 0.52, muB: 0.3, drawA: 0.003, drawB: 0.002, seedA: 0.0087, seedB: 0.0053, rho: -0.5 },
    ];
    const trials = 10000; // binomial s.e. of 0.95: 0.0022
    for (const c of cases) {
      const rng = new Rng(23).split(`fieller-${c.D}-${c.muB}`);
      const truth = c.muA / c.muB;
      let cover = 0;
      let unbounded = 0;
      for (let i = 0; i < trials; i++) {
        const a: ModelRuns[] = [];
        const b: ModelRuns[] = [];
        for (let d = 0; d < c.D; d++) {
          const z1 = rng.normal();
          const z2 = c.rho * z1 + Math.sqrt(1 - c.rho ** 2) * rng.normal();
          for (let s = 0; s < 2; s++) {
            const ea = Math.sqrt(c.seedA) * rng.normal();
            const eb = Math.sqrt(c.seedB) * rng.normal();
            a.push({ dataSeed: d, seed: 2 * d + s, values: Array.from({ length: 10 }, () => c.muA + Math.sqrt(c.drawA) * z1 + ea + Math.sqrt(RUN) * rng.normal()) });
            b.push({ dataSeed: d, seed: 2 * d + s, values: Array.from({ length: 10 }, () => c.muB + Math.sqrt(c.drawB) * z2 + eb + Math.sqrt(RUN) * rng.normal()) });
          }
        }
        const r = pairedDrawRatio(a, b);
        if (r.shape !== "bounded") unbounded++;
        const inside = r.interval ? r.interval[0] <= truth && truth <= r.interval[1] : r.excluded ? truth <= r.excluded[0] || truth >= r.excluded[1] : true;
        if (inside) cover++;
      }
      report.push(`Fieller ratio: ${c.D} draws x 2 x 10, ratio ${truth.toFixed(2)} (${JSON.stringify(c)}): nominal 0.95, achieved ${(cover / trials).toFixed(4)} (s.e. 0.0022; unbounded in ${((100 * unbounded) / trials).toFixed(1)} %), ${trials} simulated studies`);
      expect(cover / trials, JSON.stringify(c)).toBeGreaterThan(0.94);
      expect(cover / trials, JSON.stringify(c)).toBeLessThan(0.96);
      if (c.muB === 0.02) expect(unbounded / trials).toBeGreaterThan(0.3);
      else expect(unbounded).toBe(0);
    }
  });

  it("unbalanced designs: the t-interval over draw means covers the mean over draws; the interval over models does not", () => {
    const cases = [
      { seeds: [2, 2, 2, 2, 1, 1], draw: 0, seed: 0.0096 },
      { seeds: [2, 1, 2, 1, 2, 1], draw: 0.01, seed: 0.0025 },
      { seeds: [3, 1, 1], draw: 0, seed: 0.0096 },
      { seeds: [2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 1], draw: 0.0014, seed: 0.0053 },
    ];
    const trials = 6000;
    for (const c of cases) {
      const rng = new Rng(24).split(`unbalanced-${c.seeds.join("")}-${c.draw}`);
      let cover = 0;
      let naive = 0;
      for (let i = 0; i < trials; i++) {
        const models: ModelRuns[] = [];
        c.seeds.forEach((S, d) => {
          const a = Math.sqrt(c.draw) * rng.normal();
          for (let s = 0; s < S; s++) {
            const b = Math.sqrt(c.seed) * rng.normal();
            const R = 2 + rng.int(9); // 2-10 runs: a partial slice
            models.push({ dataSeed: d, seed: models.length, values: Array.from({ length: R }, () => 0.5 + a + b + Math.sqrt(RUN) * rng.normal()) });
          }
        });
        const s = studySummary(models);
        const ci = s.meanInterval!.ci95;
        if (ci[0] <= 0.5 && 0.5 <= ci[1]) cover++;
        if (s.overModels.ci95[0] <= 0.5 && 0.5 <= s.overModels.ci95[1]) naive++;
      }
      report.push(`t over draw means (unbalanced, models per draw ${c.seeds.join(",")}, 2-10 runs each), s2Draw ${c.draw}, s2Seed ${c.seed}: nominal 0.95, achieved ${(cover / trials).toFixed(4)} (s.e. 0.0028; interval over models ${(naive / trials).toFixed(4)}), ${trials} simulated studies`);
      expect(cover / trials, JSON.stringify(c)).toBeGreaterThan(0.94);
      expect(cover / trials, JSON.stringify(c)).toBeLessThan(0.97);
      if (c.draw === 0.01) expect(naive / trials).toBeLessThan(0.93);
    }
  });
});

describe("the pieces around the intervals", () => {
  it("an unbalanced study has an interval over draw means, no prediction interval and no share bounds, and says why", () => {
    const m = simulate(new Rng(1), { D: 3, S: 2, R: 4, mu: 0.3, sDraw: 0.1, sSeed: 0.1, sRun: 0.01 });
    m[3].values.pop();
    const s = studySummary(m);
    expect(s.meanInterval!.over).toBe("draw means (unbalanced design)");
    expect(s.meanInterval!.estimand).toMatch(/mean over dataset draws/);
    expect(s.meanInterval!.df).toBe(2);
    expect(s.meanInterval!.ci95).toEqual(drawMeansInterval(m).ci95);
    expect(s.prediction).toBeNull();
    expect(s.predictionNote).toMatch(/no one-model prediction interval: .*unbalanced design: model \(draw 1, seed 3\) has 3 runs/);
    expect(s.shareBounds).toBeNull();
    // one draw: the interval over models, labelled as the mean on that draw; one model: none
    const one = studySummary(m.filter((x) => x.dataSeed === 0));
    expect(one.meanInterval!.over).toBe("trained models (one dataset draw)");
    expect(one.prediction).toBeNull();
    expect(studySummary(m.slice(0, 1)).meanInterval).toBeNull();
    expect(() => drawMeansInterval(m.filter((x) => x.dataSeed === 0))).toThrow(/needs at least 2 draws, got 1/);
  });

  it("prediction interval: zero and negative components, bad arguments", () => {
    // No draw and no seed component: every model the same up to run noise. The model part of the
    // variance is then estimated near 0 (set to 0 when negative), and the interval is about the
    // run noise of one model plus the grand mean's uncertainty.
    const rng = new Rng(5);
    const n = nestedEstimate(simulate(rng, { D: 6, S: 2, R: 10, mu: 0.4, sDraw: 0, sSeed: 0, sRun: 0.005 }));
    const p = oneModelPrediction(n);
    expect(p.parts.model).toBeGreaterThanOrEqual(0);
    expect(p.variance).toBeCloseTo(p.parts.model + p.parts.run + p.parts.grandMean, 15);
    expect(p.interval[1] - p.interval[0]).toBeLessThan(2 * 3 * Math.sqrt(0.005 ** 2 / 10 + p.parts.model + p.parts.grandMean));
    expect(() => oneModelPrediction(n, { runsNew: 0 })).toThrow(/runsNew must be a positive integer, got 0/);
    expect(() => oneModelPrediction(n, { level: 1.5 })).toThrow(/level must lie in \(0, 1\), got 1.5/);
    expect(() => oneModelPrediction({ ...n, draws: 1 } as NestedEstimate)).toThrow(/needs at least 2 dataset draws, got 1/);
    // one seed per draw: no seed / draw split, so no share bounds; the prediction interval still exists
    const single = nestedEstimate(simulate(rng, { D: 5, S: 1, R: 4, mu: 0.4, sDraw: 0.05, sSeed: 0.05, sRun: 0.005 }));
    expect(oneModelPrediction(single).df).toBeCloseTo(4, 0);
    expect(() => shareUpperBounds(single)).toThrow(/at least 2 training seeds per dataset draw .* got 1/);
  });

  it("Fieller: the set is where the paired t-test does not reject; unbounded sets say so; bad input is named", () => {
    const x = [0.52, 0.41, 0.6, 0.47, 0.55, 0.5];
    const y = [0.09, 0.1, 0.07, 0.11, 0.08, 0.1];
    const r = fiellerRatio(x, y);
    const tq = studentTQuantile(0.975, 5);
    const tStat = (rho: number) => {
      const z = x.map((xi, i) => xi - rho * y[i]);
      const m = z.reduce((a, b) => a + b, 0) / 6;
      const sd = Math.sqrt(z.reduce((a, b) => a + (b - m) ** 2, 0) / 5);
      return Math.abs(m) / (sd / Math.sqrt(6));
    };
    expect(tStat(r.interval![0])).toBeCloseTo(tq, 8); // the ends are where |t| = t(0.975, 5)
    expect(tStat(r.interval![1])).toBeCloseTo(tq, 8);
    expect(tStat(r.ratio)).toBeCloseTo(0, 10);
    const noisy = fiellerRatio([0.3, 0.31, 0.29, 0.3], [0.05, -0.04, 0.03, -0.02]);
    expect(noisy.interval).toBeNull();
    expect(noisy.shape).not.toBe("bounded");
    expect(noisy.note).toMatch(/unbounded.*not significantly different from 0/);
    expect(() => fiellerRatio([1, 2], [1])).toThrow(/2 numerators but 1 denominators/);
    expect(() => fiellerRatio([1], [1])).toThrow(/at least 2 pairs, got 1/);
  });

  it("the paper's value among our models: percentile, count at or beyond it, inside the prediction interval", () => {
    const ours = [0.346, 0.4, 0.45, 0.5, 0.5, 0.55, 0.6, 0.7];
    const low = paperPosition(0.2164, ours, 0.5, [0.32, 0.72]);
    expect(low).toMatchObject({ percentile: 0, side: "below", atOrBeyond: 0, models: 8, inPredictionInterval: false, lowest: 0.346 });
    const high = paperPosition(0.6, ours, 0.5, [0.32, 0.72]);
    expect(high.percentile).toBeCloseTo((100 * 6.5) / 8, 12); // 6 below, 1 tie counted half
    expect(high).toMatchObject({ side: "above", atOrBeyond: 2, inPredictionInterval: true });
    expect(paperPosition(0.5, ours, 0.52, null)).toMatchObject({ side: "below", atOrBeyond: 5, inPredictionInterval: null });
    expect(() => paperPosition(NaN, ours, 0.5, null)).toThrow(/must be finite, got NaN/);
    expect(() => paperPosition(0.5, [], 0.5, null)).toThrow(/no models/);
  });
});

describe("Table 1 with the new columns", () => {
  // Two variants on the same 6 draws x 2 seeds x 10 runs; cnn low, attention high, as in our study.
  const rng = new Rng(31).split("table");
  const runs: RunMetrics[] = [];
  for (const [variant, mu, sSeed] of [["cnn", 0.09, 0.03], ["attention", 0.52, 0.1]] as const) {
    const sim = simulate(rng, { D: 6, S: 2, R: 10, mu, sDraw: 0.01, sSeed, sRun: 0.005 });
    for (const m of sim) {
      m.values.forEach((v, run) => {
        const metrics = Object.fromEntries(METRIC_NAMES.map((k) => [k, v])) as MetricValues;
        runs.push({ variant, dataSeed: m.dataSeed, seed: m.seed, run, weights: "ema", metrics });
      });
    }
  }
  const summaries = summarizeRuns(runs, ["cnn", "attention"], { runsPerModel: 10 });
  const comparisons = compareVariants(summaries, ["cnn", "attention"]);

  it("rows carry the mean's interval (labelled), the one-model PI, the shares' upper bounds and the paper's place among our models", () => {
    const rows = table1Rows(summaries);
    const att = rows.find((r) => r.model === "attention")!;
    const s = summaries.find((x) => x.model === "attention")!;
    expect(att.functional_mean_over_models_ci_over).toBe("draws (nested)");
    expect(att.functional_mean_over_models_ci_lo).toBe(s.study!.nested!.ci95[0]);
    expect(att.functional_one_model_pi_lo).toBe(s.study!.prediction!.interval[0]);
    expect(att.functional_one_model_pi_runs).toBe(10);
    expect(att.share_draw_upper95).toBe(s.study!.shareBounds!.draw);
    expect(att.share_draw_upper95 as number).toBeGreaterThanOrEqual(att.share_draw as number);
    const means = s.study!.models.map((m) => m.mean);
    const paper = paperConsistency("attention")!;
    expect(att.paper_percentile_among_models).toBeCloseTo((100 * means.filter((m) => m < paper).length) / 12, 12);
    expect(att.paper_side_of_our_mean).toBe(paper < s.study!.nested!.grandMean ? "below" : "above");
    expect(att.paper_in_one_model_pi).toMatch(/^(yes|no)$/);
    // the PI for one model is wider than the interval for the mean over models
    expect((att.functional_one_model_pi_hi as number) - (att.functional_one_model_pi_lo as number)).toBeGreaterThan((att.functional_mean_over_models_ci_hi as number) - (att.functional_mean_over_models_ci_lo as number));
    const csv = toCsv(rows).split("\n")[0].split(",");
    expect(csv).toEqual(expect.arrayContaining(["functional_one_model_pi_lo", "functional_mean_over_models_ci_lo", "share_draw_upper95", "share_seed_upper95", "paper_percentile_among_models", "paper_models_at_or_beyond"]));
  });

  it("comparisons: Fieller's ratio beside the paired difference, in the markdown too", () => {
    const c = comparisons.find((x) => x.a === "attention" && x.b === "cnn")!;
    expect(c.ratio.shape).toBe("bounded");
    expect(c.ratio.interval![0]).toBeLessThan(c.ratio.ratio);
    expect(c.ratio.interval![1]).toBeGreaterThan(c.ratio.ratio);
    const md = table1Markdown(summaries, undefined, comparisons);
    expect(md).toMatch(/95 % CI, mean over models/);
    expect(md).toMatch(/95 % PI, one new model/);
    expect(md).toMatch(/our models at or beyond the paper/);
    expect(md).toMatch(/95 % upper bound, draw \/ seed share/);
    expect(md).toContain(`| attention vs cnn | 6 |`);
    expect(md).toContain(ratioSetText(c.ratio));
    expect(md).toMatch(/Fieller/);
    expect(md).not.toMatch(/bootstrap/);
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

  it("marks the paper's value on every variant and the one-model prediction interval where there is one", () => {
    const withPi = (model: "cnn" | "top1", pi: [number, number] | null) => {
      const e = entry(6);
      return { ...e, model, study: { ...e.study, prediction: pi ? { interval: pi } : null } };
    };
    const fig = studyStripFigure([withPi("cnn", [0.032, 0.152]), withPi("top1", null)]);
    const paper = fig.data.find((t) => t.name === "paper (Table 1)")!;
    expect(paper.y).toEqual([100 * paperConsistency("cnn")!, 100 * paperConsistency("top1")!]); // Table 1 of the paper, one diamond per variant
    expect(paper.x).toEqual([0.38, 1.38]);
    const pi = fig.data.filter((t) => String(t.name).startsWith("95 % prediction interval"));
    expect(pi).toHaveLength(1);
    expect(pi[0].y).toEqual([3.2, 15.2, null]); // cnn only: top1 has no interval here
    expect((pi[0].x as number[])[0]).toBeCloseTo(0.46, 12);
  });
});
