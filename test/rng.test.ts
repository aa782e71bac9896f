import { describe, expect, it } from "vitest";
import { Rng } from "../src/rng";

describe("Rng", () => {
  it("is deterministic per seed and purpose, and purposes differ", () => {
    const a = new Rng(7).split("init");
    const b = new Rng(7).split("init");
    const c = new Rng(7).split("data");
    const xs = Array.from({ length: 5 }, () => a.nextU32());
    expect(Array.from({ length: 5 }, () => b.nextU32())).toEqual(xs);
    expect(Array.from({ length: 5 }, () => c.nextU32())).not.toEqual(xs);
  });

  it("draws normals with mean 0 and variance 1", () => {
    const r = new Rng(1);
    const x = r.fillNormal(new Float32Array(200_000));
    let m = 0;
    for (const v of x) m += v;
    m /= x.length;
    let s = 0;
    for (const v of x) s += (v - m) ** 2;
    s /= x.length;
    expect(Math.abs(m)).toBeLessThan(0.01);
    expect(Math.abs(s - 1)).toBeLessThan(0.01);
  });

  it("restores its state exactly", () => {
    const r = new Rng(3);
    r.normal();
    const st = r.getState();
    const x = [r.normal(), r.nextU32()];
    r.setState(st);
    expect([r.normal(), r.nextU32()]).toEqual(x);
  });

  it("rejects a non-integer seed", () => {
    expect(() => new Rng(1.5)).toThrow(/1.5/);
  });
});

describe("Gumbel draws", () => {
  it("are finite even where a float32 uniform would round to 1", () => {
    const r = new Rng(11);
    const g = r.fillGumbel(new Float32Array(1 << 20));
    let mean = 0;
    let nonFinite = 0;
    for (const x of g) {
      if (!Number.isFinite(x)) nonFinite++;
      mean += x / g.length;
    }
    expect(nonFinite).toBe(0);
    expect(Math.abs(mean - 0.5772156649)).toBeLessThan(0.01); // Euler-Mascheroni
    // the largest uniform the generator can give rounds to 1 in float32: the old path overflowed
    expect(Math.fround((4294967295 + 0.5) / 4294967296)).toBe(1);
  });
});
