// The paired before/after timing's statistics and argument checks (bench/paired.ts); the timing
// itself is never a test (the machine is shared and noisy).
import { describe, expect, it } from "vitest";
import { medianInterval, parsePairedArgs } from "../bench/paired";

describe("bench/paired.ts", () => {
  it("the distribution-free 95 % interval of the median uses the binomial order statistics", () => {
    // n = 20: P(Bin(20, 1/2) <= 5) = 0.0207 <= 0.025 < P(<= 6) = 0.0577, so the 6th and 15th values
    const xs = Array.from({ length: 20 }, (_, i) => 20 - i); // 20 .. 1, unsorted on purpose
    expect(medianInterval(xs)).toEqual({ median: 10.5, lo: 6, hi: 15 });
    // n = 9: P(<= 1) = 0.0195, P(<= 2) = 0.0898 -> 2nd and 8th; odd n: the middle value
    expect(medianInterval([9, 1, 8, 2, 7, 3, 6, 4, 5])).toEqual({ median: 5, lo: 2, hi: 8 });
    // coverage by simulation: the interval holds the true median 0 in at least 95 % of draws
    let seed = 7;
    const u = () => ((seed = (seed * 1103515245 + 12345) >>> 0) + 0.5) / 4294967296;
    let hits = 0;
    for (let r = 0; r < 2000; r++) {
      const ci = medianInterval(Array.from({ length: 40 }, () => Math.log(u() / (1 - u()))));
      if (ci.lo <= 0 && 0 <= ci.hi) hits++;
    }
    expect(hits / 2000).toBeGreaterThanOrEqual(0.94);
    expect(() => medianInterval([1, 2, 3, 4, 5])).toThrow(/too few/);
  });

  it("bad arguments are errors naming the value", () => {
    expect(() => parsePairedArgs([])).toThrow(/--baseline is required/);
    expect(() => parsePairedArgs(["--baseline", "/nonexistent-tree"])).toThrow(/nonexistent-tree: no src\/engines\/index.ts/);
    expect(() => parsePairedArgs(["--baseline", ".", "--pairs", "3"])).toThrow(/--pairs 3/);
    expect(() => parsePairedArgs(["--baseline", ".", "--variants", "uniform"])).toThrow(/"uniform"/);
    expect(() => parsePairedArgs(["--baseline", ".", "--bogus"])).toThrow(/unknown argument --bogus/);
    expect(parsePairedArgs(["--baseline", ".", "--pairs", "30", "--variants", "top1"])).toMatchObject({ pairs: 30, variants: ["top1"], child: false });
  });
});
