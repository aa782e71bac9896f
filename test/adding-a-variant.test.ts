/**
 * The example of docs/adding-a-variant.md, run: its code block is the part of this file between the
 * two marker lines (a test below checks that they are identical, so the document cannot drift).
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../src/backend";
import { resolveConfig } from "../src/config";
import { runExperiment } from "../src/experiment/run";

// --- docs/adding-a-variant.md example: begin
import * as tf from "@tensorflow/tfjs-core";
import { attendValues, square } from "../src/model/layers";
import { registerVariant, VariantDescriptor } from "../src/model/variants";

/** A toy: every query attends to itself only, so the block adds h Wv to each token. */
export const selfonly: VariantDescriptor = {
  name: "selfonly",
  label: "CNN + self-only attention (toy)",
  paper: null, // the paper has no number for it
  colour: "#8c564b",
  attention: {
    params: [square("attn.wv")], // learnable values; the shared value path needs attn.wv last
    forward: (p, h) => {
      const [B, N] = h.shape;
      const weights = tf.tile(tf.expandDims(tf.eye(N), 0), [B, 1, 1]) as tf.Tensor3D; // [B, 4, 4]
      return { update: attendValues(weights, h, p["attn.wv"]), weights };
    },
  },
  gumbel: false, // no Gumbel draws in training
  longTraining: false, // trains `epochs`, not top1EpochFactor times as long
  wasm: null, // tfjs engine only; a fused version adds assembly/blocks/selfonly.ts
  torch: "return torch.eye(4, dtype=h.dtype).expand(h.shape[0], 4, 4)", // for bench/ and the PyTorch tests
};

registerVariant(selfonly);
// --- docs/adding-a-variant.md example: end

const ROOT = path.resolve(__dirname, "..");

beforeAll(async () => {
  await initBackend();
});

describe("docs/adding-a-variant.md", () => {
  it("its example is this file's, verbatim", () => {
    const doc = fs.readFileSync(path.join(ROOT, "docs", "adding-a-variant.md"), "utf8");
    const me = fs.readFileSync(__filename, "utf8");
    const region = /\/\/ --- docs\/adding-a-variant\.md example: begin\n([\s\S]*?)\/\/ --- docs\/adding-a-variant\.md example: end/.exec(me);
    const block = /<!-- example: test\/adding-a-variant\.test\.ts -->\n```ts\n([\s\S]*?)```/.exec(doc);
    expect(region, "marker lines in this file").not.toBeNull();
    expect(block, "the marked ts block in docs/adding-a-variant.md").not.toBeNull();
    expect(block![1], "docs/adding-a-variant.md's example differs from test/adding-a-variant.test.ts: copy the region between the markers").toBe(region![1]);
  });

  it("the toy variant trains, samples and gets its Table 1 row with nothing else edited (tfjs engines)", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "selfonly-"));
    const cfg = resolveConfig("smoke", { datasetSize: 128, epochs: 6, samples: 64, sampleBatch: 64, runs: 2, workers: 1, trainEngine: "tfjs", sampleEngine: "tfjs" });
    const r = await runExperiment({ cfg, variants: ["selfonly"], profile: "test", paths: { outDir: dir, dataDir: path.join(dir, "data") }, log: () => {}, progressWrite: () => {} });
    expect(r.training[0].epochLosses.length).toBe(6);
    expect(r.training[0].epochLosses.every(Number.isFinite)).toBe(true);
    expect(r.runs.map((x) => x.variant)).toEqual(["selfonly", "selfonly"]);
    expect(r.table1.map((x) => x.model)).toEqual(["random", "selfonly"]);
  });
});
