/** Each rule's pass and fail cases on hand-made images, and the decoding to the nearest colour. */
import { describe, expect, it } from "vitest";
import { allTrainingImageKeys } from "../src/data/dataset";
import { imagesToTokens } from "../src/data/layout";
import { BLUE as B, GREEN as G, PALETTE, RED as R, YELLOW as Y } from "../src/data/palette";
import { decodeColours, evaluateColours, judgeImage } from "../src/eval/metrics";
import { summarize, studentTQuantile } from "../src/eval/stats";

/** Build a 4x4 colour map from four quadrants given as [key, value] (row-major quadrants). */
function img(...quads: [number, number][]): Uint8Array {
  const c = new Uint8Array(16);
  quads.forEach(([k, v], q) => {
    const r = 2 * (q >> 1), col = 2 * (q & 1);
    for (let dy = 0; dy < 2; dy++) {
      c[(r + dy) * 4 + col] = k;
      c[(r + dy) * 4 + col + 1] = v;
    }
  });
  return c;
}

describe("rules", () => {
  it("a training image passes every rule", () => {
    expect(judgeImage(img([R, G], [Y, B], [Y, B], [R, G]))).toEqual({ validQuadrants: 4, strict: true, functional: true, bijective: true, functionalLoose: true });
  });

  it("mixing patterns with consistent keys: functional but not strict", () => {
    // (R,G) from P0 and (G,B) from P1: keys R->G, G->B are each one value; values G, B each one key
    const v = judgeImage(img([R, G], [G, B], [R, G], [G, B]));
    expect(v).toEqual({ validQuadrants: 4, strict: false, functional: true, bijective: true, functionalLoose: true });
  });

  it("functional but not bijective: two keys share a value", () => {
    // (R,B) P2 and (G,B) P1: value B has keys R and G
    const v = judgeImage(img([R, B], [G, B], [R, B], [R, B]));
    expect(v.functional).toBe(true);
    expect(v.bijective).toBe(false);
    expect(v.strict).toBe(false);
  });

  it("a key with two values fails functional", () => {
    const v = judgeImage(img([R, G], [R, Y], [Y, B], [Y, B]));
    expect(v.validQuadrants).toBe(4);
    expect(v.functional).toBe(false);
    expect(v.functionalLoose).toBe(false);
  });

  it("well-formed but invalid pairs pass only functionalLoose", () => {
    // (G,R) is well-formed (key != value) but not one of the six valid ordered pairs
    const v = judgeImage(img([G, R], [G, R], [Y, B], [Y, B]));
    expect(v).toEqual({ validQuadrants: 2, strict: false, functional: false, bijective: false, functionalLoose: true });
  });

  it("a malformed quadrant fails everything but counts the others", () => {
    const c = img([R, G], [Y, B], [Y, B], [R, G]);
    c[0] = B; // top-left key pixels disagree
    const v = judgeImage(c);
    expect(v).toEqual({ validQuadrants: 3, strict: false, functional: false, bijective: false, functionalLoose: false });
    const same = img([R, R], [Y, B], [Y, B], [R, G]); // key == value
    expect(judgeImage(same).functionalLoose).toBe(false);
  });

  it("novel counts functional images outside the training set", () => {
    const both = new Uint8Array(32);
    both.set(img([R, G], [Y, B], [Y, B], [R, G]), 0); // training image
    both.set(img([R, G], [G, B], [R, G], [G, B]), 16); // consistent, creative
    const m = evaluateColours(both, allTrainingImageKeys());
    expect(m.functional).toBe(1);
    expect(m.strict).toBe(0.5);
    expect(m.novel).toBe(0.5);
    expect(m.novelBijective).toBe(0.5);
  });
});

describe("decoding", () => {
  it("maps noisy pixels to the nearest palette colour", () => {
    const colours = img([R, G], [Y, B], [G, Y], [B, R]);
    const nhwc = new Float32Array(48);
    for (let p = 0; p < 16; p++) for (let c = 0; c < 3; c++) nhwc[p * 3 + c] = 2 * PALETTE[colours[p]][c] - 1 + (c === 0 ? 0.3 : -0.2);
    expect(Array.from(decodeColours(imagesToTokens(nhwc)))).toEqual(Array.from(colours));
  });
});

describe("stats", () => {
  it("t quantiles and the interval", () => {
    expect(studentTQuantile(0.975, 1)).toBeCloseTo(12.7062047, 5);
    expect(studentTQuantile(0.975, 2)).toBeCloseTo(4.30265273, 6);
    expect(studentTQuantile(0.975, 99)).toBeCloseTo(1.98421695, 6);
    const s = summarize([1, 2, 3, 4]);
    expect(s.mean).toBe(2.5);
    expect(s.std).toBeCloseTo(Math.sqrt(5 / 3), 12);
    expect(s.ci95[1] - s.mean).toBeCloseTo(3.18244631 * Math.sqrt(5 / 3) / 2, 6);
  });
});
