/**
 * One variant, one place: a variant defined here (nothing else edited) trains, samples and gets its
 * Table 1 row on the tfjs engine; the fused engines refuse it and name the tfjs engine; a variant
 * file dropped in a folder is discovered; and everything the AssemblyScript kernels and the PyTorch
 * scripts share with the descriptors is generated from one source.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../src/backend";
import { parseArgs } from "../src/cli/args";
import { epochsFor, resolveConfig } from "../src/config";
import { runExperiment } from "../src/experiment/run";
import { sampleTask, trainCost, trainTask } from "../src/experiment/tasks";
import { generatedFiles, staleGenerated } from "../src/codegen";
import { kernelKinds, wasmVariants } from "../src/kernels/constants";
import { attendValues, square } from "../src/model/layers";
import { packedLayout } from "../src/model/packed";
import { getVariant, registerVariant, VariantDescriptor, variantNames, VARIANTS } from "../src/model/variants";
import { discoverVariants } from "../src/variants/index";

const ROOT = path.resolve(__dirname, "..");

/** A toy fifth variant: every query attends to every key equally (mean pooling of the values). */
const meanpool: VariantDescriptor = {
  name: "meanpool",
  label: "CNN + mean-pool attention (toy)",
  paper: null,
  colour: "#17becf",
  attention: {
    params: [square("attn.wv")],
    forward: (p, h) => {
      const [B, N] = h.shape;
      const weights = tf.fill([B, N, N], 1 / N) as tf.Tensor3D;
      return { update: attendValues(weights, h, p["attn.wv"]), weights };
    },
  },
  gumbel: false,
  longTraining: false,
  wasm: null, // the fused kernels do not implement it
  torch: null,
};

beforeAll(async () => {
  await initBackend();
  registerVariant(meanpool);
});

describe("a variant defined in this file", () => {
  it("is picked up by the CLI, the config, training, sampling and Table 1 (tfjs engine)", async () => {
    expect(variantNames()).toContain("meanpool");
    expect(VARIANTS).toEqual(["cnn", "attention", "identity", "top1"]); // the paper's, in its order
    expect(parseArgs(["--variant", "all"]).variants).toContain("meanpool");
    expect(parseArgs(["--variant", "meanpool,cnn"]).variants).toEqual(["meanpool", "cnn"]);
    expect(packedLayout("meanpool").specs.map((s) => s.name)).toEqual(["conv1.w", "conv1.b", "time.w1", "time.b1", "time.w2", "time.b2", "attn.wv", "out.w", "out.b"]);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "toy-variant-"));
    const cfg = resolveConfig("smoke", { datasetSize: 256, epochs: 30, samples: 64, sampleBatch: 64, runs: 2, workers: 1, trainEngine: "tfjs", sampleEngine: "tfjs" });
    expect(epochsFor(cfg, "meanpool")).toBe(30);
    const r = await runExperiment({ cfg, variants: ["meanpool"], profile: "test", paths: { outDir: dir, dataDir: path.join(dir, "data") }, log: () => {}, progressWrite: () => {} });
    const losses = r.training[0].epochLosses;
    expect(losses.length).toBe(30);
    expect(losses.slice(-5).reduce((a, b) => a + b) / 5).toBeLessThan(0.8 * losses[0]); // it learns
    expect(r.runs.map((x) => x.variant)).toEqual(["meanpool", "meanpool"]);
    expect(r.table1.map((x) => x.model)).toEqual(["random", "meanpool"]);
    expect(fs.readFileSync(path.join(dir, "table1.md"), "utf8")).toMatch(/\| meanpool \|/);
  });

  it("the fused engines refuse it, naming the tfjs engine", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "toy-wasm-"));
    const paths = { outDir: dir, dataDir: path.join(dir, "data") };
    const cfg = resolveConfig("smoke", { datasetSize: 128, epochs: 1, samples: 32, sampleBatch: 32, workers: 1 });
    expect(() => trainTask(cfg, paths, "meanpool", 0)).toThrow(/fused WebAssembly training engine does not implement variant 'meanpool'; use the tfjs engine: --trainEngine tfjs/);
    trainTask({ ...cfg, trainEngine: "tfjs" }, paths, "meanpool", 0);
    expect(() => sampleTask(cfg, paths, "meanpool", 0, 0, "ema", { saveNpy: false })).toThrow(/fused WebAssembly sampling engine does not implement variant 'meanpool'; use the tfjs engine: --sampleEngine tfjs/);
  });

  it("bad descriptors and unknown names are errors naming them", () => {
    expect(() => registerVariant({ ...meanpool })).toThrow(/a variant named 'meanpool' is already registered/);
    expect(() => registerVariant({ ...meanpool, name: "Bad-Name" })).toThrow(/variant name 'Bad-Name' must be lower-case/);
    expect(() => registerVariant({ ...meanpool, name: "badparam", attention: { ...meanpool.attention!, params: [square("wv")] } })).toThrow(/attention parameter 'wv' must be named 'attn\.\*'/);
    // the message lists the registry: the paper's four first, every other variant, and this file's toy
    expect(variantNames().slice(0, 4)).toEqual(["cnn", "attention", "identity", "top1"]);
    expect(variantNames().at(-1)).toBe("meanpool");
    expect(() => getVariant("transformer")).toThrow(`unknown variant 'transformer' (expected one of ${variantNames().join(", ")})`);
  });
});

describe("a variant file in another folder", () => {
  it("is discovered and registered by discoverVariants (src/variants/ itself is listed in the generated _all.ts)", () => {
    // ts-node compiles the file, as it does for the CLI; the folder sits inside the repository so
    // that the file resolves the project's packages.
    (require("ts-node") as { register: (o: object) => void }).register({ transpileOnly: true, compilerOptions: { module: "commonjs" } });
    const dir = fs.mkdtempSync(path.join(ROOT, "test", ".variants-"));
    try {
      const layers = path.relative(dir, path.join(ROOT, "src", "model", "layers")).split(path.sep).join("/");
      fs.writeFileSync(path.join(dir, "halfres.ts"), `
        import * as tf from "@tensorflow/tfjs-core";
        import { attendValues, square } from "${layers}";
        /** Identity attention at half strength: a one-file variant. */
        export const halfres = {
          name: "halfres", label: "half residual", paper: null, colour: "#000000", gumbel: false, longTraining: false, wasm: null, torch: null,
          attention: {
            params: [square("attn.wv")],
            forward: (p: Record<string, tf.Tensor>, h: tf.Tensor3D) => {
              const weights = tf.softmax(tf.matMul(h, h, false, true)) as tf.Tensor3D;
              return { update: tf.mul(attendValues(weights, h, p["attn.wv"]), 0.5) as tf.Tensor3D, weights };
            },
          },
        };
      `);
      fs.writeFileSync(path.join(dir, "README.md"), "not a variant");
      expect(discoverVariants(dir)).toEqual(["halfres"]);
      expect(getVariant("halfres").label).toBe("half residual");
      fs.writeFileSync(path.join(dir, "broken.ts"), "export const x = 1;");
      expect(() => discoverVariants(dir)).toThrow(/variant file .*broken\.ts exports no VariantDescriptor/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("trainCost (the order the pool starts training tasks in)", () => {
  it("is epochs x parameters for every registered variant: more parameters cost more, top1's doubled epochs double it", () => {
    const cfg = resolveConfig("quick");
    for (const v of variantNames()) {
      expect(trainCost(cfg, v) / packedLayout(v).total, v).toBe(epochsFor(cfg, v));
      expect(trainCost({ ...cfg, epochs: 2 * cfg.epochs }, v), v).toBe(2 * trainCost(cfg, v));
    }
    // the quick profile's heaviest model starts first and the CNN (fewest parameters) last
    const order = [...VARIANTS].sort((a, b) => trainCost(cfg, b) - trainCost(cfg, a));
    expect(order[0]).toBe("top1");
    expect(order.at(-1)).toBe("cnn");
    expect(trainCost(cfg, "attention")).toBeGreaterThan(trainCost(cfg, "identity"));
  });
});

describe("the training notebooks", () => {
  it("are one library call each and differ only in their variant", () => {
    const files = ["03_train_cnn", "04_train_attention", "05_train_identity", "06_train_top1"];
    const normalised = files.map((name, i) => {
      const variant = VARIANTS[i];
      const nb = JSON.parse(fs.readFileSync(path.join(ROOT, "notebooks", `${name}.ipynb`), "utf8")) as { cells: { cell_type: string; source: string[] }[] };
      const code = nb.cells.filter((c) => c.cell_type === "code").map((c) => c.source.join(""));
      expect(code.join("\n"), `${name} trains through trainWithLiveCurve`).toMatch(/await trainWithLiveCurve\(p, VARIANT\)/);
      expect(code.join("\n"), name).toContain(`const VARIANT: Variant = "${variant}";`);
      // the variant's name in code; in prose also its label and the measured times, which differ
      const prose = nb.cells[0].source.join("").split("\n").slice(2).join("\n").replace(/about \d+ s per seed for quick \(\d+ epochs\)/, "T").replace(/\(\d+ epochs\)/g, "E");
      return { code: code.join("\n").split(`"${variant}"`).join('"V"'), prose: prose.split(`\`${variant}\``).join("`V`").replace(/ \(it trains .*? as the others\)/, "") };
    });
    for (let i = 1; i < files.length; i++) {
      expect(normalised[i].code, `${files[i]} code differs from ${files[0]} beyond the variant`).toBe(normalised[0].code);
    }
    expect(new Set(normalised.map((n) => n.prose.replace(/\s+/g, " "))).size, "the training notebooks' descriptions differ beyond variant, times and epochs").toBe(1);
  });
});

describe("generated files: what must agree with the variants in other places and languages", () => {
  it("src/variants/_all.ts, assembly/_constants.ts, assembly/_blocks.ts and bench/_variants.py are current", () => {
    expect(staleGenerated(), "run `npm run gen && npm run build:wasm`").toEqual([]);
    for (const g of generatedFiles()) expect(fs.readFileSync(path.join(ROOT, g.file), "utf8"), g.file).toBe(g.make());
    for (const k of ["train", "sample"]) {
      const src = fs.readFileSync(path.join(ROOT, "assembly", `${k}.ts`), "utf8");
      expect(src, `assembly/${k}.ts must import its shared constants, not copy them`).toMatch(/from "\.\/_constants"/);
      expect(src).not.toMatch(/^const (KIND_\w+|H|F|SCALE|O_C1W|OFF_W1T)\b/m);
      expect(src, `assembly/${k}.ts must not branch on variant kinds (the blocks do that)`).not.toMatch(/KIND_(?!COUNT\b)[A-Z0-9]+/);
    }
    // each paper variant's kernel kind is its place in the paper's order
    expect(VARIANTS.map((v) => kernelKinds()[v])).toEqual([0, 1, 2, 3]);
    // every registered variant with a wasm block has its block file and its dispatch case
    const blocks = fs.readFileSync(path.join(ROOT, "assembly", "_blocks.ts"), "utf8");
    for (const v of wasmVariants()) {
      const b = getVariant(v).wasm!.block;
      if (b === null) continue;
      expect(fs.existsSync(path.join(ROOT, "assembly", "blocks", `${b}.ts`)), `assembly/blocks/${b}.ts`).toBe(true);
      expect(blocks).toContain(`case KIND_${v.toUpperCase()}: b_${b}.trainForward(`);
    }
  });

  it("bad wasm and torch parts of a descriptor are errors naming the variant", () => {
    expect(() => registerVariant({ ...meanpool, name: "noblock", wasm: { block: null } })).toThrow(/variant 'noblock': a variant with attention names its AssemblyScript block/);
    expect(() => registerVariant({ ...meanpool, name: "badblock", wasm: { block: "Bad Block" } })).toThrow(/wasm block name 'Bad Block'/);
    expect(() => registerVariant({ ...meanpool, name: "novalue", wasm: { block: "novalue" }, attention: { ...meanpool.attention!, params: [square("attn.wq")] } }))
      .toThrow(/the last attention parameter must be 'attn\.wv'/);
    expect(() => registerVariant({ ...meanpool, name: "cnnlike", attention: null, torch: "return h" })).toThrow(/without attention has no PyTorch weights/);
  });
});
