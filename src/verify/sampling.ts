/**
 * Export one sampling run of the default (wasm) sampler with its noise, for an outside
 * implementation to replay (bench/torch_trajectory.py `sample`, docs/torch-agreement.md).
 *
 * `wasmSampleTokens` with `noise: "rng"` draws x_T and then z_t for t = T-1 .. 1 with
 * `rng.fillNormal`, one batch of n samples. The same draws are replayed here from an equal
 * generator and written out; the replay must end in the sampler's generator state.
 *
 *   sampling.json          n, seed, schedule, tau, the generator states after the last draw
 *   noise/xT.npy           x_T [n, 4, 12] (token layout of src/data/layout.ts)
 *   noise/z.npy            z [T, n, 4, 12]: z[t] is added in the step x_t -> x_{t-1}; z[0] = 0 (unused)
 *   noise/gumbel.npy       g [T, n, 4, 4] (with `gumbel`): the Gumbel draws of step t, [query, key], for a
 *                          Gumbel variant sampled with gumbel-hard or gumbel-soft, from their own generator
 *   <variant>/params.npy   the packed weights sampled with [P]; <variant>/params.json their layout
 *   <variant>/ours.npy     our samples, NHWC [n, 4, 4, 3] in [-1, 1] (as experiments save them)
 */
import * as fs from "fs";
import * as path from "path";
import { SamplerForm } from "../ddpm/sampler-forms";
import { Schedule, ScheduleOptions } from "../ddpm/schedule";
import { tokensToImages } from "../data/layout";
import { writeJsonAtomic } from "../io/atomic";
import { saveNpy } from "../io/npy";
import { wasmSampleTokens } from "../kernels/sample-kernel";
import { packedLayout, unpackArrays } from "../model/packed";
import type { GumbelSampling } from "../model/variant-registry";
import { Variant } from "../model/variants";
import { Rng } from "../rng";

/** The sampling generator of run seed `seed`, as src/experiment/tasks.ts makes it. */
export function samplingRng(seed: number): Rng {
  return new Rng(seed).split("sample");
}

/** The generator of a run's Gumbel draws (top-1 rules other than argmax), as src/experiment/tasks.ts makes it. */
export function samplingGumbelRng(seed: number): Rng {
  return new Rng(seed).split("sample-gumbel");
}

/**
 * Write x_T and every z_t that `wasmSampleTokens(.., { n, batch: n, rng: samplingRng(seed), noise: "rng" })`
 * draws, and with `gumbel` the Gumbel draws of every step t = T-1 .. 0 from `samplingGumbelRng(seed)`.
 */
export function exportSamplingNoise(dir: string, o: { n: number; seed: number; schedule: Schedule; gumbel?: boolean; tau?: number }): void {
  const T = o.schedule.options.steps;
  const rng = samplingRng(o.seed);
  const xT = rng.fillNormal(new Float32Array(o.n * 48));
  const z = new Float32Array(T * o.n * 48);
  for (let t = T - 1; t >= 1; t--) rng.fillNormal(z.subarray(t * o.n * 48, (t + 1) * o.n * 48));
  saveNpy(path.join(dir, "noise", "xT.npy"), xT, [o.n, 4, 12]);
  saveNpy(path.join(dir, "noise", "z.npy"), z, [T, o.n, 4, 12]);
  let gumbelEnd: number[] | null = null;
  if (o.gumbel) {
    const grng = samplingGumbelRng(o.seed);
    const g = new Float32Array(T * o.n * 16);
    for (let t = T - 1; t >= 0; t--) grng.fillGumbel(g.subarray(t * o.n * 16, (t + 1) * o.n * 16));
    saveNpy(path.join(dir, "noise", "gumbel.npy"), g, [T, o.n, 4, 4]);
    gumbelEnd = grng.getState();
  }
  const { steps, betaStart, betaEnd } = o.schedule.options;
  writeJsonAtomic(path.join(dir, "sampling.json"), { n: o.n, seed: o.seed, schedule: { steps, betaStart, betaEnd }, tau: o.tau ?? 1, end: rng.getState(), gumbelEnd });
}

/**
 * Sample n images from packed weights `theta` with the wasm sampler and the noise of
 * `exportSamplingNoise` (same n, seed), write weights and samples; returns the samples as tokens
 * [n, 4, 12].
 */
export function exportWasmSamples(dir: string, o: {
  variant: Variant; theta: Float32Array; n: number; seed: number; schedule: Schedule; form?: SamplerForm; gumbelSampling?: GumbelSampling; name?: string;
}): Float32Array {
  const noise = JSON.parse(fs.readFileSync(path.join(dir, "sampling.json"), "utf8")) as {
    n: number; seed: number; schedule: ScheduleOptions; tau: number; end: number[]; gumbelEnd: number[] | null;
  };
  const { steps, betaStart, betaEnd } = o.schedule.options;
  const want = { n: o.n, seed: o.seed, schedule: { steps, betaStart, betaEnd } };
  if (JSON.stringify({ n: noise.n, seed: noise.seed, schedule: noise.schedule }) !== JSON.stringify(want)) {
    throw new Error(`noise in ${dir} is for ${JSON.stringify({ n: noise.n, seed: noise.seed, schedule: noise.schedule })}; asked for ${JSON.stringify(want)}`);
  }
  const layout = packedLayout(o.variant);
  const rng = samplingRng(o.seed);
  const rule = o.gumbelSampling ?? "argmax";
  const gumbelRng = samplingGumbelRng(o.seed);
  const tokens = wasmSampleTokens(unpackArrays(layout, o.theta), o.variant, o.schedule, {
    n: o.n, batch: o.n, rng, noise: "rng", form: o.form, gumbelSampling: rule, tau: noise.tau, gumbelRng,
  });
  if (JSON.stringify(rng.getState()) !== JSON.stringify(noise.end)) {
    throw new Error("wasmSampleTokens drew other normals than the exported noise (generator states differ after sampling)");
  }
  if (rule !== "argmax" && JSON.stringify(gumbelRng.getState()) !== JSON.stringify(noise.gumbelEnd)) {
    throw new Error("wasmSampleTokens drew other Gumbel draws than the exported ones (generator states differ after sampling)");
  }
  saveNpy(path.join(dir, o.variant, "params.npy"), o.theta, [o.theta.length]);
  writeJsonAtomic(path.join(dir, o.variant, "params.json"), layout.specs.map((p) => ({ name: p.name, shape: p.shape, offset: p.offset, size: p.size })));
  saveNpy(path.join(dir, o.variant, `${o.name ?? "ours"}.npy`), tokensToImages(tokens), [o.n, 4, 4, 3]);
  return tokens;
}
