import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { createHash } from "crypto";
import { describe, expect, it } from "vitest";
import { allTrainingImageKeys, census, datasetImages, generateDataset, imageKey } from "../src/data/dataset";
import { PAIR_PATTERN } from "../src/data/palette";
import { loadOrCreateDataset, saveDataset } from "../src/data/store";
import { loadNpy } from "../src/io/npy";
import { judgeImage } from "../src/eval/metrics";

describe("dataset", () => {
  const ds = generateDataset({ size: 2048, seed: 0 });

  it("holds only valid, consistent images of one pattern each", () => {
    const all = allTrainingImageKeys();
    expect(all.size).toBe(48);
    for (let i = 0; i < 2048; i++) {
      const v = judgeImage(ds.colours, i * 16);
      expect(v.strict && v.functional && v.bijective && v.validQuadrants === 4).toBe(true);
      expect(all.has(imageKey(ds.colours, i * 16))).toBe(true);
      // every quadrant's pair belongs to the image's pattern
      for (let q = 0; q < 4; q++) {
        const r = 2 * (q >> 1), c = 2 * (q & 1);
        expect(PAIR_PATTERN[ds.colours[i * 16 + r * 4 + c] * 4 + ds.colours[i * 16 + r * 4 + c + 1]]).toBe(ds.patterns[i]);
      }
    }
  });

  it("is seeded and byte-identical (pinned digest of seed 0)", () => {
    const again = generateDataset({ size: 2048, seed: 0 });
    expect(Buffer.compare(Buffer.from(again.colours), Buffer.from(ds.colours))).toBe(0);
    expect(createHash("sha256").update(ds.colours).digest("hex")).toBe(PINNED_SHA256);
    expect(Buffer.compare(Buffer.from(generateDataset({ size: 2048, seed: 1 }).colours), Buffer.from(ds.colours))).not.toBe(0);
  });

  it("census: all 48 images appear in 2048 draws, patterns roughly balanced", () => {
    const c = census(ds);
    expect(c.distinct).toBe(48);
    expect(c.counts.reduce((a, e) => a + e.count, 0)).toBe(2048);
    for (const n of c.perPattern) expect(Math.abs(n - 2048 / 3)).toBeLessThan(100);
  });

  it("scales pixels to [-1, 1] and saves/loads through .npy", () => {
    const x = datasetImages(ds);
    expect(new Set(x)).toEqual(new Set([-1, 1]));
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ds-"));
    const base = saveDataset(ds, dir);
    const { data, shape } = loadNpy(`${base}.npy`);
    expect(shape).toEqual([2048, 4, 4, 3]);
    expect(data[0]).toBe((x[0] + 1) / 2);
    expect(loadOrCreateDataset(dir, { size: 2048, seed: 0 }).colours).toEqual(ds.colours);
    // a stored file that disagrees with the generator is refused
    fs.copyFileSync(`${dir}/colour-pairs-n2048-seed0.colours.npy`, `${dir}/colour-pairs-n2048-seed1.colours.npy`);
    expect(() => loadOrCreateDataset(dir, { size: 2048, seed: 1 })).toThrow(/does not match/);
  });
});

// Digest of generateDataset({size: 2048, seed: 0}).colours; changes only if the generator changes.
const PINNED_SHA256 = "2c26652b2f9cb54fa755a7a1ba3abfbc322af8f2e55d3d9f5612605aabf02f19";
