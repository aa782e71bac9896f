/**
 * Theory claims of Finn et al. (2025), Section 2 and Appendix A, as tests. Each check can fail:
 * expressions that are right must hold to float32/float64 tolerance, and expressions that are
 * wrong on paper must fail by a large margin (residual >= 100 x tolerance), with the corrected
 * expression holding. See docs/theory.md for the readings of the printed formulas.
 */
import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../src/backend";
import {
  CheckResult, TOP1_SCENARIOS, checkEq1VsEq2, checkEq25, checkEq26, checkEq27Stationary, checkTop1Scenario,
  makeTop1Toy, solveTop1, top1ClosedForm,
} from "../src/theory/derivations";
import { positionMarginal } from "../src/theory/toy-distribution";

function byName(results: CheckResult[], name: string): CheckResult {
  const r = results.find((c) => c.name === name);
  if (!r) throw new Error(`no check named ${name} among ${results.map((c) => c.name).join(", ")}`);
  return r;
}

/** A claim that is wrong on paper: must fail clearly, not by rounding. */
function expectFailsClearly(r: CheckResult): void {
  expect(r.holds, r.name).toBe(false);
  expect(r.residual, r.name).toBeGreaterThan(100 * r.tolerance);
  expect(r.residual, r.name).toBeGreaterThan(1e-2);
}

function expectHolds(r: CheckResult): void {
  expect(r.holds, `${r.name}: residual ${r.residual} > ${r.tolerance}`).toBe(true);
}

beforeAll(async () => {
  await initBackend();
});

describe("Eq. 1-2: parameter-free attention and the softmax scale", () => {
  it("Eq. 1 equals Eq. 2 only with scale 1, or with X rescaled by d^(-1/4) (weights)", () => {
    const r = checkEq1VsEq2({ dim: 4 });
    expectHolds(byName(r, "eq1-vs-eq2-scale1"));
    expectFailsClearly(byName(r, "eq1-vs-eq2-printed-scale"));
    expectHolds(byName(r, "eq1-rescaled-vs-eq2-printed"));
    // The rescaled outputs differ from Eq. 2 only by the value scale d^(-1/4).
    expect(byName(r, "eq1-rescaled-vs-eq2-printed").details?.attentionOutputRelErr as number).toBeLessThan(1e-5);
  });

  it("at d = 1 the 1/sqrt(d) scale is 1, so the printed Eq. 2 matches (control)", () => {
    expectHolds(byName(checkEq1VsEq2({ dim: 1 }), "eq1-vs-eq2-printed-scale"));
  });
});

describe("Eq. 23-25: softmax attention derivative", () => {
  let r: CheckResult[] = [];
  beforeAll(() => {
    r = checkEq25();
  });
  it("Eq. 25 (query gradient, keys fixed) matches tf.grad and float64 finite differences", () => {
    expectHolds(byName(r, "eq25-vs-tfgrad"));
    expectHolds(byName(r, "eq25-vs-finite-differences"));
  });

  it("Eq. 25 alone misses the key part when x = y; Eq. 24 with the correct key gradient is the total derivative", () => {
    const total = byName(r, "eq25-vs-total-derivative");
    expectFailsClearly(total);
    expect(total.details?.eq24WithCorrectKeyPartialRelErr as number).toBeLessThan(1e-7);
  });

  it("the key factor printed in Eq. 26 is not grad_{g_y} alpha_xy = alpha_xy (1 - alpha_xy) g_x", () => {
    const key = byName(r, "eq26-key-factor-vs-key-gradient");
    expectFailsClearly(key);
    expect(key.details?.correctKeyRelErr as number).toBeLessThan(1e-7);
  });
});

describe("Eq. 26-27: full-attention gradient and stationary condition", () => {
  for (const dim of [3, 1]) {
    it(`d = ${dim}: printed Eq. 26/27 disagree with autodiff, the corrected Eq. 26 agrees`, () => {
      const r = checkEq26({ dim });
      expectHolds(byName(r, "eq26-cancelled-vector-is-zero"));
      expectFailsClearly(byName(r, "eq26-query-term-vanishes"));
      const printed = byName(r, "eq26-printed-vs-autodiff");
      expectFailsClearly(printed);
      expectFailsClearly(byName(r, "eq27-vs-autodiff"));
      const corrected = byName(r, "eq26-corrected-vs-autodiff");
      expectHolds(corrected);
      expectHolds(byName(r, "eq26-corrected-vs-finite-differences"));
      // Term by term: the direct and value terms are right as printed; query and key terms are not.
      for (const t of ["directTermRelErr", "valueTermRelErr"]) expect(printed.details?.[t] as number, t).toBeLessThan(1e-4);
      for (const t of ["queryTermRelErr", "keyTermRelErr"]) expect(printed.details?.[t] as number, t).toBeGreaterThan(0.5);
      for (const t of ["directTermRelErr", "valueTermRelErr", "queryTermRelErr", "keyTermRelErr"]) {
        expect(corrected.details?.[t] as number, t).toBeLessThan(1e-4);
      }
    });
  }

  it("Eq. 27 does not vanish at a minimiser of L, where the true gradient does", () => {
    const r = checkEq27Stationary();
    expectFailsClearly(r);
    expect(r.details?.trueGradientAtMinimiser as number).toBeLessThan(1e-8);
  });

  it("does not leak tensors", () => {
    checkEq26();
    const before = tf.memory().numTensors;
    checkEq26();
    checkEq25();
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe("Eq. 28-31: top-1 closed form", () => {
  it("Eq. 28 matches autodiff with y* fixed, and the average reading holds, in every scenario", () => {
    for (const s of TOP1_SCENARIOS) {
      const r = checkTop1Scenario(s);
      expectHolds(byName(r, `top1-eq28-vs-autodiff[${s}]`));
      expectHolds(byName(r, `top1-closed-form-average[${s}]`));
      // Eq. 29 as printed (output constant over the occurrences of Phi) fails even under the assumptions.
      expectFailsClearly(byName(r, `top1-closed-form-output[${s}]`));
    }
  });

  it("g*[Phi] = C[Phi] holds under the assumptions and fails when any one is broken", () => {
    expectHolds(byName(checkTop1Scenario("assumptions"), "top1-closed-form-table[assumptions]"));
    for (const s of TOP1_SCENARIOS.filter((x) => x !== "assumptions")) {
      expectFailsClearly(byName(checkTop1Scenario(s), `top1-closed-form-table[${s}]`));
    }
  });

  it("non-centred scores shift the optimum by exactly -E[C]/2 (derived: g* = C - E_p[C] / 2)", () => {
    const p = makeTop1Toy("nonCentred");
    const g = solveTop1(p);
    const { C } = top1ClosedForm(p);
    const m = positionMarginal(p.dist, 0);
    const d = p.dim;
    for (let k = 0; k < d; k++) {
      let meanC = 0;
      for (let v = 0; v < m.length; v++) meanC += m[v] * C[v * d + k];
      for (let v = 0; v < m.length; v++) expect(Math.abs(g[v * d + k] - (C[v * d + k] - meanC / 2))).toBeLessThan(1e-12);
    }
  });
});
