/**
 * What independence removes (src/theory/independence.ts) and the pair machine (src/theory/machines.ts
 * `pair`, `pairTop1`; src/theory/pair-checks.ts): the optimal partner term of a top-1 layer with a
 * value map is constant under independence and exchangeability (and is not when either is broken);
 * the pair machine is the exact posterior where that is a function of (own, partner), reduces to ELS
 * when quadrants are independent, and samples about 5/9 functional images when its two blocks are
 * independent; the shared-covariance Gaussian baseline is the exact eps of its Gaussian.
 */
import { describe, expect, it } from "vitest";
import { datasetImages, generateDataset } from "../src/data/dataset";
import { imagesToTokens } from "../src/data/layout";
import { makeSchedule } from "../src/ddpm/schedule";
import { exactRandomBaseline } from "../src/eval/baseline";
import { Rng } from "../src/rng";
import { quadrantMoments } from "../src/theory/baselines";
import { checkIndependence, makeIndependenceToy, valueMapResult } from "../src/theory/independence";
import { allPairRows, makeMachine, pairBank, PAIR_PARTNERS, pmiPartners } from "../src/theory/machines";
import { blockProductConsistency, checkPairMachine, pairToyTokens } from "../src/theory/pair-checks";
import { bankFromRows, quadrantRows } from "../src/theory/patch-bank";
import { solveLinear } from "../src/theory/toy-top1";
import { relErr } from "./helpers/numeric";

const S = makeSchedule();
const tokens = imagesToTokens(datasetImages(generateDataset({ size: 2048, seed: 0 })));

function noised(src: Float32Array, t: number, B: number, seed: number): Float64Array {
  const rng = new Rng(seed);
  const a = Math.sqrt(S.alphaBars[t]), s = Math.sqrt(1 - S.alphaBars[t]);
  const N = src.length / 48;
  const x = new Float64Array(B * 48);
  for (let b = 0; b < B; b++) {
    const i = rng.int(N);
    for (let j = 0; j < 48; j++) x[b * 48 + j] = a * src[i * 48 + j] + s * rng.normal();
  }
  return x;
}

describe("independence: the partner term of a top-1 layer with a value map", () => {
  it("independent, exchangeable patches: k is constant and f is the per-patch score (float64 precision, two grids)", () => {
    for (const nodes of [101, 141]) {
      const r = valueMapResult(makeIndependenceToy("exchangeable", { nodes }));
      expect(r.kSpread, `nodes ${nodes}`).toBeLessThan(1e-12);
      expect(r.fVsScore, `nodes ${nodes}`).toBeLessThan(1e-12);
    }
  });

  it("dependent patches: k is far from constant and buys a lower loss (the control can fail)", () => {
    const r = valueMapResult(makeIndependenceToy("dependent"));
    expect(r.kSpread).toBeGreaterThan(0.3);
    expect(r.lossKConstant).toBeGreaterThan(1.5 * r.loss);
  });

  it("independent but not exchangeable (a marginal per position): k is not constant", () => {
    const r = valueMapResult(makeIndependenceToy("notExchangeable"));
    expect(r.kSpread).toBeGreaterThan(0.05);
  });

  it("the checks: finding holds, both controls fail, each with its role", () => {
    const c = Object.fromEntries(checkIndependence().map((x) => [x.name, x]));
    expect(c["indep-value-map-constant[exchangeable]"]).toMatchObject({ role: "finding", holds: true });
    expect(c["indep-query-map-is-score[exchangeable]"]).toMatchObject({ role: "finding", holds: true });
    expect(c["indep-value-map-constant[dependent]"]).toMatchObject({ role: "control", holds: false });
    expect(c["indep-value-map-constant[notExchangeable]"]).toMatchObject({ role: "control", holds: false });
  });
});

describe("the pair machine", () => {
  it("checks on toy datasets: equals the exact posterior (independent blocks) and ELS (independent quadrants); differs from both on the real data", () => {
    const c = Object.fromEntries(checkPairMachine().map((x) => [x.name, x]));
    expect(c["pair-equals-posterior[independentBlocks]"].residual).toBeLessThan(1e-12);
    expect(c["pair-equals-els[independentQuadrants]"].residual).toBeLessThan(1e-12);
    expect(c["pair-equals-els[colourPairs]"].residual).toBeGreaterThan(0.05);
    expect(c["pair-equals-posterior[colourPairs]"].residual).toBeGreaterThan(0.05);
    expect(c["pair-equals-els[colourPairs]"].role).toBe("control");
  });

  it("two independent blocks with uniform patterns are functional 5/9 of the time; four independent quadrants 29.01 % (the exact random baseline)", () => {
    expect(blockProductConsistency(pairToyTokens("independentBlocks")).functional).toBeCloseTo(5 / 9, 12);
    expect(blockProductConsistency(pairToyTokens("independentQuadrants")).functional).toBeCloseTo(exactRandomBaseline().functional, 9);
    const real = blockProductConsistency(tokens);
    expect(real.functional).toBeGreaterThan(0.5);
    expect(real.functional).toBeLessThan(0.62);
  });

  it("its bank: one (own, partner) row per image and position, pooled; 12 same-pattern contents; the partner map is checked", () => {
    const bank = pairBank(tokens, PAIR_PARTNERS, true);
    expect(bank.counts.reduce((a, c) => a + c, 0)).toBe(2048 * 4);
    expect(bank.size).toBe(12);
    expect(bankFromRows(allPairRows(tokens), 24, { aggregate: true }).size).toBe(12);
    expect(() => pairBank(tokens, [0, 1, 2, 3], true)).toThrow(/partner map/);
    expect(() => pairBank(tokens, [1, 0, 3], true)).toThrow(/partner map/);
  });

  it("every (own, partner) aggregation gives the same eps as the full bank (relative 1e-10)", () => {
    const x = noised(tokens, 300, 8, 5);
    for (const name of ["pair", "pairTop1"] as const) {
      const a = makeMachine(name, tokens, S).eps(x, 300);
      const b = makeMachine(name, tokens, S, { aggregate: false }).eps(x, 300);
      expect(relErr(a, b), name).toBeLessThan(1e-10);
    }
  });

  it("pairTop1: the partner chosen by mutual information is always another quadrant; nearly clean images are denoised to their training image", () => {
    const pairs = bankFromRows(allPairRows(tokens), 24, { aggregate: true });
    const quads = bankFromRows(quadrantRows(tokens, [0, 1, 2, 3]), 12, { aggregate: true });
    const x = noised(tokens, 250, 30, 6);
    const p = pmiPartners(pairs, quads, x, S.alphaBars[250]);
    for (let b = 0; b < 30; b++) for (let q = 0; q < 4; q++) expect(p[b * 4 + q]).not.toBe(q);
    // clean images: every partner co-occurs (same pattern), so the machine's denoised image keeps the pattern
    const m = makeMachine("pairTop1", tokens, S).denoise(noised(tokens, 20, 10, 7), 20);
    const clean = makeMachine("ideal", tokens, S).denoise(noised(tokens, 20, 10, 7), 20);
    expect(relErr(m, clean)).toBeLessThan(1e-3);
  });
});

describe("gaussianShared: one 12 x 12 covariance shared by the quadrants", () => {
  const { mean, cov } = quadrantMoments(tokens);
  for (const t of [0, 150, 600]) {
    it(`t = ${t}: the exact eps of N(mu_q, C_q) per quadrant (Gaussian elimination, not the Cholesky route)`, () => {
      const aBar = S.alphaBars[t], a = Math.sqrt(aBar), s = Math.sqrt(1 - aBar);
      const x = noised(tokens, t, 5, 20 + t);
      const A = Float64Array.from(cov, (c, i) => aBar * c + (i % 13 === 0 ? s * s : 0));
      const B = 5 * 4;
      const rhs = new Float64Array(12 * B);
      for (let b = 0; b < B; b++) for (let j = 0; j < 12; j++) rhs[j * B + b] = s * (x[b * 12 + j] - a * mean[j]);
      const sol = solveLinear(A, rhs, 12, B);
      const want = Float64Array.from({ length: B * 12 }, (_, i) => sol[(i % 12) * B + Math.floor(i / 12)]);
      expect(relErr(makeMachine("gaussianShared", tokens, S).eps(x, t), want)).toBeLessThan(1e-8);
    });
  }

  it("its mean and covariance pool the four positions (each quadrant's moments averaged)", () => {
    const q = quadrantMoments(tokens);
    const per = [0, 1, 2, 3].map((p) => quadrantRows(tokens, [p]));
    for (let j = 0; j < 12; j++) {
      const m = per.reduce((acc, rows) => acc + rows.reduce((a, _, i) => (i % 12 === j ? a + rows[i] : a), 0) / (rows.length / 12), 0) / 4;
      expect(q.mean[j]).toBeCloseTo(m, 12);
    }
  });
});
