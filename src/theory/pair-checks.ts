/**
 * The pair machine (machines.ts `pair`) on toy datasets where its optimum is known, and what it
 * samples (docs/theory.md, "The pair machine").
 *
 * The pair machine denoises quadrant x from its own noisy token and its partner's, y*(x) =
 * [1, 0, 3, 2]: E[x0_x | x_t,x, x_t,y*(x)] under the (own, partner) pairs of the training images
 * pooled over positions. That is the MSE optimum among functions of (own, partner) shared by the
 * positions. Two datasets make the optimum known in closed form:
 *  - `independentBlocks`: the two blocks (quadrants 0-1 and 2-3) are independent, each drawn from one
 *    symmetric distribution of quadrant pairs (every ordered pair of same-pattern quadrant contents).
 *    Then the exact posterior over whole images (the ideal machine) is itself a function of (own,
 *    partner), so the pair machine must equal it;
 *  - `independentQuadrants`: all four quadrants independent, each uniform over the six contents.
 *    Then the partner carries no information and the pair machine must equal the ELS machine (the
 *    independence result of independence.ts, in machine form).
 * Controls on the colour key-value dataset (quadrants share the image's pattern): the pair machine
 * differs from both the ELS machine and the exact posterior, so the equality checks can fail.
 *
 * `blockProductConsistency` gives the functional consistency of the distribution the pair machine
 * samples from (an exact score of two independent blocks, each from the pooled pair distribution of
 * the training set), by enumeration: what its samples should reach if the sampler were exact.
 */
import { datasetImages, generateDataset } from "../data/dataset";
import { imagesToTokens } from "../data/layout";
import { PATTERNS, QUADRANTS, VALID_PAIRS } from "../data/palette";
import { makeSchedule } from "../ddpm/schedule";
import { decodeColours, judgeImage } from "../eval/metrics";
import { CheckResult, CONTROL, FINDING, makeCheck, relErr } from "./derivations-check";
import { idealMachine, pairBank, PAIR_PARTNERS, pairMachine, patchMachine } from "./machines";
import { Rng } from "../rng";

/** The 12-value token of a quadrant showing the valid pair `pair` (index into VALID_PAIRS), in the model's [-1, 1] space. */
function quadrantToken(pair: number): Float32Array {
  // one image whose four quadrants all show `pair`: generate through the dataset's own layout
  const pattern = Math.floor(pair / 2), choice = pair % 2;
  const ds = { options: { size: 1, seed: 0 }, patterns: Uint8Array.of(pattern), pairs: Uint8Array.of(choice, choice, choice, choice), colours: new Uint8Array(16) };
  const [key, value] = PATTERNS[pattern][choice];
  for (let q = 0; q < QUADRANTS; q++) {
    const row = 2 * (q >> 1), col = 2 * (q & 1);
    for (let dy = 0; dy < 2; dy++) {
      ds.colours[(row + dy) * 4 + col] = key;
      ds.colours[(row + dy) * 4 + col + 1] = value;
    }
  }
  return imagesToTokens(datasetImages(ds)).slice(0, 12);
}

/** Tokens [N, 4, 12] of images given as four valid-pair indices each. */
function tokensOf(images: readonly (readonly number[])[]): Float32Array {
  const q = VALID_PAIRS.map((_, i) => quadrantToken(i));
  const out = new Float32Array(images.length * 48);
  images.forEach((img, i) => img.forEach((p, x) => out.set(q[p], i * 48 + x * 12)));
  return out;
}

export type PairToy = "independentBlocks" | "independentQuadrants" | "colourPairs";

/** The toy datasets (see module comment); `colourPairs` is the SPEC dataset (2048 images, seed 0). */
export function pairToyTokens(toy: PairToy): Float32Array {
  const six = VALID_PAIRS.map((_, i) => i);
  switch (toy) {
    case "independentBlocks": {
      // ordered pairs of contents from one pattern (a block of a training image can show any of them)
      const blocks = six.flatMap((a) => six.filter((b) => Math.floor(a / 2) === Math.floor(b / 2)).map((b) => [a, b]));
      return tokensOf(blocks.flatMap(([a, b]) => blocks.map(([c, d]) => [a, b, c, d])));
    }
    case "independentQuadrants":
      return tokensOf(six.flatMap((a) => six.flatMap((b) => six.flatMap((c) => six.map((d) => [a, b, c, d])))));
    case "colourPairs":
      return imagesToTokens(datasetImages(generateDataset({ size: 2048, seed: 0 })));
  }
}

/** Noised tokens x_t = sqrt(aBar) x0 + sqrt(1 - aBar) z of n images drawn from `tokens`. */
function noisedBatch(tokens: Float32Array, aBar: number, n: number, rng: Rng): Float64Array {
  const N = tokens.length / 48, a = Math.sqrt(aBar), s = Math.sqrt(1 - aBar);
  const x = new Float64Array(n * 48);
  for (let b = 0; b < n; b++) {
    const i = rng.int(N);
    for (let j = 0; j < 48; j++) x[b * 48 + j] = a * tokens[i * 48 + j] + s * rng.normal();
  }
  return x;
}

/** Largest relative L2 error of machine A's eps against machine B's over noised batches at `ts`. */
function epsGap(a: { eps(x: ArrayLike<number>, t: number): Float64Array }, b: { eps(x: ArrayLike<number>, t: number): Float64Array }, tokens: Float32Array, ts: readonly number[], seed: number): number {
  const S = makeSchedule();
  const rng = new Rng(seed).split("pair-checks");
  let worst = 0;
  for (const t of ts) {
    const x = noisedBatch(tokens, S.alphaBars[t], 64, rng);
    worst = Math.max(worst, relErr(a.eps(x, t), b.eps(x, t)));
  }
  return worst;
}

const TS = [50, 200, 400, 700];

/** The pair machine's checks (see module comment). */
export function checkPairMachine(): CheckResult[] {
  const S = makeSchedule();
  const out: CheckResult[] = [];
  const blocks = pairToyTokens("independentBlocks");
  out.push(makeCheck(FINDING, "pair-equals-posterior[independentBlocks]", "pair machine (beyond the paper)",
    "with two independent, identically distributed blocks of quadrant pairs, the pair machine's eps equals the exact posterior's (ideal machine): the restricted optimum is the optimum; largest relative L2 error over 64 noised images at t = 50, 200, 400, 700",
    epsGap(pairMachine(blocks, S), idealMachine(blocks, S), blocks, TS, 1), 1e-9, { images: blocks.length / 48 }));
  const quads = pairToyTokens("independentQuadrants");
  out.push(makeCheck(FINDING, "pair-equals-els[independentQuadrants]", "pair machine (beyond the paper)",
    "with four independent quadrants, the pair machine's eps equals the ELS machine's: the partner carries no information; largest relative L2 error over 64 noised images at t = 50, 200, 400, 700",
    epsGap(pairMachine(quads, S), patchMachine("equivariant", quads, S), quads, TS, 2), 1e-9, { images: quads.length / 48 }));
  const real = pairToyTokens("colourPairs");
  const pc = blockProductConsistency(real);
  out.push(makeCheck(CONTROL, "pair-equals-els[colourPairs]", "pair machine (beyond the paper)",
    "on the colour key-value dataset (quadrants share the image's pattern) the pair machine's eps is not the ELS machine's (the equality of the previous check fails here); largest relative L2 error at t = 50, 200, 400, 700",
    epsGap(pairMachine(real, S), patchMachine("equivariant", real, S), real, TS, 3), 1e-9, { blockProductFunctional: pc.functional, blockProductBijective: pc.bijective }));
  out.push(makeCheck(CONTROL, "pair-equals-posterior[colourPairs]", "pair machine (beyond the paper)",
    "on the colour key-value dataset the pair machine is not the exact posterior (the two blocks share the pattern); largest relative L2 error at t = 50, 200, 400, 700",
    epsGap(pairMachine(real, S), idealMachine(real, S), real, TS, 4), 1e-9));
  return out;
}

/**
 * Functional (and bijective) consistency of images made of two independent blocks, quadrants 0-1
 * and 2-3, each drawn from the pooled (own, partner) pair distribution of `tokens` (the pair
 * machine's bank with PAIR_PARTNERS): exact, by enumeration of block pairs.
 */
export function blockProductConsistency(tokens: Float32Array): { functional: number; bijective: number; blocks: number } {
  const bank = pairBank(tokens, PAIR_PARTNERS, true);
  const total = bank.counts.reduce((a, c) => a + c, 0);
  const K = bank.size;
  const img = new Float32Array(48);
  let functional = 0, bijective = 0;
  for (let i = 0; i < K; i++) {
    for (let j = 0; j < K; j++) {
      img.set(bank.patches.subarray(i * 24, i * 24 + 24), 0);
      img.set(bank.patches.subarray(j * 24, j * 24 + 24), 24);
      const v = judgeImage(decodeColours(img));
      const w = (bank.counts[i] / total) * (bank.counts[j] / total);
      if (v.functional) functional += w;
      if (v.bijective) bijective += w;
    }
  }
  return { functional, bijective, blocks: K };
}
