/**
 * The paper's effect at the `quick` training length (2000 epochs, SPEC's "order of 2000 epochs"):
 * attention's functional consistency beats the CNN's. Full quick training on the fused engines
 * (about a minute on 2 cores); fewer samples than the profile, which is the cheap cut.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../src/backend";
import { resolveConfig } from "../src/config";
import { runExperiment } from "../src/experiment/run";

beforeAll(async () => {
  await initBackend();
});

describe("quick profile", () => {
  it("attention beats cnn on functional consistency", async () => {
    const outDir = fs.mkdtempSync(path.join(os.tmpdir(), "quick-effect-"));
    const cfg = resolveConfig("quick", { samples: 1000, sampleBatch: 1000, runs: 2, theory: false }); // the effect, not the theory phase
    const r = await runExperiment({
      cfg, variants: ["cnn", "attention"], profile: "quick", paths: { outDir, dataDir: path.resolve(__dirname, "..", "data") },
      log: () => {}, progressWrite: () => {},
    });
    const f = (m: string) => r.summaries.find((s) => s.model === m)!.perRun.functional.mean;
    console.log(`quick effect: functional cnn ${(100 * f("cnn")).toFixed(2)} %, attention ${(100 * f("attention")).toFixed(2)} %`);
    expect(f("attention")).toBeGreaterThan(2 * f("cnn"));
    expect(f("attention")).toBeGreaterThan(0.2);
  }, 900_000);
});
