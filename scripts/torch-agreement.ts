/**
 * The long PyTorch agreement check (docs/torch-agreement.md): every variant trained N steps
 * (default 2000) by our wasm engine and by bench/torch_trajectory.py on identical inputs, in
 * float32 and float64; the negative controls on attention; 256 samples per variant from the final
 * EMA weights with the same noise; bench/torch_metrics.py on our samples. Writes results.json and
 * results.md to --out (default docs/results/torch-agreement). 2-3 minutes on a busy 2-core machine.
 *
 *   npx ts-node --transpile-only scripts/torch-agreement.ts [--steps 2000] [--out DIR] [--keep]
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { initBackend } from "../src/backend";
import { datasetImageKeys, generateDataset } from "../src/data/dataset";
import { imagesToTokens } from "../src/data/layout";
import { makeSchedule } from "../src/ddpm/schedule";
import { evaluateTokens, METRIC_NAMES } from "../src/eval/metrics";
import { writeFileAtomic, writeJsonAtomic } from "../src/io/atomic";
import { loadNpy } from "../src/io/npy";
import { VARIANTS, Variant } from "../src/model/variants";
import { packageVersion } from "../src/notebook/environment";
import { libraryVersion } from "../src/version";
import {
  compareSamples, compareTrajectory, DiffSummary, limited, PERTURBATIONS, pythonMetrics, SAMPLE_TOLERANCE, SampleDiff,
  summarize, torchRunName, torchSample, torchTrain, torchVersions, trajectoryTolerance,
} from "../src/verify/agreement";
import { exportSamplingNoise, exportWasmSamples } from "../src/verify/sampling";
import { exportTrajectory } from "../src/verify/trajectory";

const tol = trajectoryTolerance;
const SAMPLE_TOL = SAMPLE_TOLERANCE;
const DATA = { datasetSize: 1000, datasetSeed: 0 };
const STEPS_PER_EPOCH = Math.ceil(DATA.datasetSize / 64);
const SAMPLES = 256;
const SAMPLE_SEED = 1000;

const USAGE = "usage: npx ts-node --transpile-only scripts/torch-agreement.ts [--steps 2000] [--out DIR] [--keep]\n  --steps  training steps compared (a multiple of the steps per epoch)\n  --out    output folder (default docs/results/torch-agreement)\n  --keep   keep the work folder";

function parseArgs(argv: string[]): { steps: number; out: string; keep: boolean; help: boolean } {
  const o = { steps: 2000, out: path.join("docs", "results", "torch-agreement"), keep: false, help: false };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    if (flag === "--help" || flag === "-h") o.help = true;
    else if (flag === "--keep") o.keep = true;
    else if (flag === "--steps" || flag === "--out") {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${flag} needs a value`);
      if (flag === "--out") o.out = v;
      else o.steps = Number(v);
    } else throw new Error(`unknown flag '${flag}' (expected --steps N, --out DIR, --keep)`);
  }
  if (!(Number.isInteger(o.steps) && o.steps > 0 && o.steps % STEPS_PER_EPOCH === 0)) {
    throw new Error(`--steps must be a positive multiple of ${STEPS_PER_EPOCH} (steps per epoch of ${DATA.datasetSize} images), got ${o.steps}`);
  }
  return o;
}

const e = (x: number) => x.toExponential(1);

function table(title: string, s: DiffSummary, own: DiffSummary): string[] {
  const rows = Object.keys(s.at).map(Number).map((k) => {
    const a = s.at[k];
    const b = own.at[k];
    return `| ${k} | ${e(a.loss)} | ${e(a.theta)} | ${e(a.ema)} | ${e(b.loss)} | ${e(b.theta)} | ${e(b.ema)} | ${e(tol(k))} |`;
  });
  return [`### ${title}`, "", "| step | loss | params | EMA | float32's own: loss | params | EMA | tolerance |", "| --- | --- | --- | --- | --- | --- | --- | --- |", ...rows, ""];
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  if (o.help) {
    console.log(USAGE);
    return;
  }
  const started = Date.now();
  const py = torchVersions();
  const backend = await initBackend();
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "torch-agreement-"));
  const dirOf = (v: Variant) => path.join(work, v);
  const sampleDir = path.join(work, "sampling");
  const epochs = o.steps / STEPS_PER_EPOCH;
  console.log(`${o.steps} steps (${epochs} epochs of ${DATA.datasetSize} images); work dir ${work}`);

  // 1. our runs: training per variant, then 256 samples from its final EMA weights
  const schedule = makeSchedule();
  exportSamplingNoise(sampleDir, { n: SAMPLES, seed: SAMPLE_SEED, schedule });
  for (const variant of VARIANTS) {
    const meta = exportTrajectory(dirOf(variant), { variant, seed: 0, epochs, ...DATA });
    const ema = loadNpy(path.join(dirOf(variant), "ours", "ema.npy"));
    exportWasmSamples(sampleDir, { variant, theta: (ema.data as Float32Array).slice((ema.shape[0] - 1) * meta.paramCount), n: SAMPLES, seed: SAMPLE_SEED, schedule });
  }
  console.log(`our side done in ${((Date.now() - started) / 1000).toFixed(1)} s`);

  // 2. PyTorch: float32, float64, the negative controls; sampling in float32 and float64
  await limited(2, [
    () => torchTrain(VARIANTS.map(dirOf)),
    () => torchTrain(VARIANTS.map(dirOf), { float64: true }),
    () => torchTrain([dirOf("attention")], { perturb: [...PERTURBATIONS] }),
    () => torchSample(sampleDir, [...VARIANTS]),
    () => torchSample(sampleDir, [...VARIANTS], { float64: true }),
  ]);

  // 3. compare
  const md: string[] = [];
  const training: Record<string, unknown> = {};
  for (const variant of VARIANTS) {
    const d = compareTrajectory(dirOf(variant), torchRunName());
    const d64 = compareTrajectory(dirOf(variant), torchRunName({ float64: true }));
    const s = summarize(d, tol);
    const own = summarize(d64, tol);
    training[variant] = {
      vsTorchFloat32: s, vsTorchFloat64: own, worstBlockAtEnd: d.worstBlock,
      growth: { recordSteps: d.recordSteps, params: d.theta.map(Number), ema: d.ema.map(Number), params64: d64.theta.map(Number) },
      pass: Math.max(s.worstRatio.loss, s.worstRatio.theta, s.worstRatio.ema) <= 1,
    };
    md.push(...table(`${variant}: relative differences, ours vs PyTorch float32 (and ours vs PyTorch float64)`, s, own));
  }
  const controls: Record<string, unknown> = {};
  md.push("### Negative controls (attention): worst difference / tolerance over all steps", "", "| --perturb | loss | params | EMA |", "| --- | --- | --- | --- |");
  for (const perturb of PERTURBATIONS) {
    const s = summarize(compareTrajectory(dirOf("attention"), torchRunName({ perturb })), tol);
    controls[perturb] = s;
    md.push(`| ${perturb} | ${s.worstRatio.loss.toFixed(1)} | ${s.worstRatio.theta.toFixed(1)} | ${s.worstRatio.ema.toFixed(1)} |`);
  }
  md.push("", `### Sampling: ${SAMPLES} samples, 1000 steps, from the final EMA weights (tolerance ${SAMPLE_TOL} per sample)`, "",
    "| variant | largest per-sample relative difference | over all samples | decoded colours differ | float32's own: largest per sample |", "| --- | --- | --- | --- | --- |");
  const sampling: Record<string, { vsTorchFloat32: SampleDiff; vsTorchFloat64: SampleDiff; pass: boolean }> = {};
  for (const variant of VARIANTS) {
    const a = compareSamples(path.join(sampleDir, variant, "ours.npy"), path.join(sampleDir, variant, `${torchRunName()}.npy`));
    const b = compareSamples(path.join(sampleDir, variant, "ours.npy"), path.join(sampleDir, variant, `${torchRunName({ float64: true })}.npy`));
    sampling[variant] = { vsTorchFloat32: a, vsTorchFloat64: b, pass: a.maxSample <= SAMPLE_TOL };
    md.push(`| ${variant} | ${e(a.maxSample)} | ${e(a.all)} | ${a.decodedDiffer} of ${a.n} | ${e(b.maxSample)} |`);
  }
  const files = VARIANTS.map((v) => path.join(sampleDir, v, "ours.npy"));
  const theirs = await pythonMetrics(files, path.join(dirOf("cnn"), "images.npy"));
  const keys = datasetImageKeys(generateDataset({ size: DATA.datasetSize, seed: DATA.datasetSeed }));
  const metrics: Record<string, { ours: Record<string, number>; numpy: Record<string, number>; equal: boolean }> = {};
  md.push("", "### Metrics: counts on our samples, ours = numpy (bench/torch_metrics.py)", "", `| variant | ${METRIC_NAMES.join(" | ")} | equal |`, `| --- | ${METRIC_NAMES.map(() => "---").join(" | ")} | --- |`);
  VARIANTS.forEach((variant, i) => {
    const images = loadNpy(files[i]);
    const n = images.shape[0];
    const ours = evaluateTokens(imagesToTokens(images.data as Float32Array), keys);
    const counts = Object.fromEntries(METRIC_NAMES.map((k) => [k, Math.round(ours[k] * (k === "validQuadrants" ? 4 * n : n))]));
    const numpy = theirs[files[i]].counts;
    const equal = METRIC_NAMES.every((k) => counts[k] === numpy[k]);
    metrics[variant] = { ours: counts, numpy, equal };
    md.push(`| ${variant} | ${METRIC_NAMES.map((k) => String(counts[k])).join(" | ")} | ${equal ? "yes" : "NO"} |`);
  });

  // 4. write
  const command = `npx ts-node --transpile-only scripts/torch-agreement.ts --steps ${o.steps}`;
  const versions = {
    library: libraryVersion(), node: process.version, tfjs: packageVersion("@tensorflow/tfjs-core"),
    tfjsBackendWasm: packageVersion("@tensorflow/tfjs-backend-wasm"), backend: backend.name, ...py,
    os: `${os.type()} ${os.release()} ${os.arch()}`, cpus: `${os.cpus().length} x ${os.cpus()[0]?.model ?? "?"}`,
  };
  const seconds = (Date.now() - started) / 1000;
  const result = {
    command, date: new Date().toISOString(), seconds, versions,
    setup: { steps: o.steps, epochs, ...DATA, batchSize: 64, trainingSeed: 0, oneCycleTotalSteps: o.steps, samples: SAMPLES, sampleSeed: SAMPLE_SEED, engine: "wasm" },
    tolerance: { relative: "2e-6 + 1e-8 * step", samplePerSample: SAMPLE_TOL },
    training, negativeControls: controls, sampling, metrics,
    pass: Object.values(training).every((t) => (t as { pass: boolean }).pass) && Object.values(sampling).every((s) => s.pass) && Object.values(metrics).every((m) => m.equal),
  };
  writeJsonAtomic(path.join(o.out, "results.json"), result);
  const head = [
    `# PyTorch agreement, ${o.steps} steps`, "",
    `Command \`${command}\`, ${result.date.slice(0, 10)}, ${seconds.toFixed(0)} s. Library ${versions.library}, Node ${versions.node},`,
    `tfjs ${versions.tfjs} (${versions.backend}), our wasm engines; Python ${py.python}, torch ${py.torch}, numpy ${py.numpy}; ${versions.cpus}.`,
    `Data: ${DATA.datasetSize} images (seed ${DATA.datasetSeed}), batch 64, training seed 0, one OneCycle cycle over the ${o.steps} steps.`,
    "Relative differences: loss |ours - torch| / |torch| at that step; params and EMA the largest relative L2 distance over",
    `parameter blocks. Tolerance 2e-6 + 1e-8 k after k steps. Overall: ${result.pass ? "PASS" : "FAIL"}. Details in results.json.`, "",
  ];
  writeFileAtomic(path.join(o.out, "results.md"), [...head, ...md, ""].join("\n"));
  console.log([...head, ...md].join("\n"));
  if (!o.keep) fs.rmSync(work, { recursive: true, force: true });
  if (!result.pass) process.exitCode = 1;
}

main().catch((err) => {
  console.error(`torch-agreement: ${(err as Error).message}`);
  process.exit(1);
});
