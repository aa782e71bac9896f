/**
 * Analytic score machines for the colour key-value dataset: noise predictors computed exactly from
 * the training set, sampled with the same DDPM sampler as the trained networks (see docs/theory.md,
 * "Score machines"). This file is the float64 reference; src/kernels/machine-kernel.ts computes the
 * same machines in float32 WebAssembly SIMD for sampling (equal within a tested tolerance).
 *
 *  - `ideal`:       posterior mean over whole training images (the exact score of the empirical
 *                   distribution); it can only reproduce training images.
 *  - `local`:       each quadrant denoised from the training quadrants at the same position
 *                   (Kamb & Ganguli's LS machine with patch = quadrant; patches never overlap here).
 *  - `equivariant`: each quadrant denoised from the training quadrants of all four positions (ELS):
 *                   the MSE optimum over all functions of one quadrant token (and t).
 *  - `pair`:        each quadrant denoised from its own noisy token and its partner's, y*(x) =
 *                   PAIR_PARTNERS[x] = [1, 0, 3, 2]: the MSE optimum over all functions of (own token,
 *                   partner token) shared by the positions, i.e. the posterior mean under the training
 *                   images' co-occurring (own, partner) quadrant pairs pooled over positions.
 *  - `pairTop1`:    the pair machine with the partner chosen per image by the machine's own similarity:
 *                   y*(x) = argmax_{y != x} of the pointwise mutual information
 *                   log p_t(x_x, x_y) - log p_t(x_x) - log p_t(x_y) under the noised pair and quadrant banks.
 *  - `attention`:   Eq. 8 read on the current image: quadrant x is denoised under the mixture
 *                   (1 - lambda) pi_t(phi_x = Phi) + lambda N(Phi; sqrt(aBar) m_{y*(x)}, (1 - aBar) I),
 *                   where m_y is the equivariant machine's estimate of quadrant y and
 *                   y*(x) = argmax_{y != x} <m_x, m_y> (Eq. 5, top-1, self excluded). lambda = 1/2 is
 *                   Eq. 8's equal weighting of the two terms. Options: self included in the argmax,
 *                   and the partners of all four positions pooled (the sum over x of Eq. 8).
 *  - `top1Optimal`: the corrected top-1 optimum (docs/theory.md, "Eq. 28-32 on a continuous toy"):
 *                   with independent patches, one marginal shared by all positions (the equivariant
 *                   bank) and a fixed y* != x, the optimal table is g(Phi) = 1/2 grad log pi_t(Phi),
 *                   half the ELS score, and the model of Eq. 5 outputs
 *                   g~[phi](x) = g(phi_x) + g(phi_{y*(x)}), i.e. eps_x = (eps_ELS(x) + eps_ELS(y*(x))) / 2.
 *                   y* is chosen per image as in `attention` (self excluded, as the derivation needs).
 *
 * Baselines (src/theory/baselines.ts), for comparisons only: `trivial` (eps = sqrt(1 - aBar) x_t, the
 * exact eps of N(0, I) data), `gaussianPixel`, `gaussianShared` and `gaussianFull` (the exact eps of
 * a Gaussian with the training data's per-value mean and variance; one 12 x 12 covariance shared
 * by the four quadrants, which the CNN can represent; or the full 48 x 48 covariance).
 */
import * as tf from "@tensorflow/tfjs-core";
import { EpsModel } from "../ddpm/sampler";
import { Schedule } from "../ddpm/schedule";
import { gaussianMachine, trivialMachine } from "./baselines";
import { bankFromRows, mixtureMean, PatchBank, posteriorMean, quadrantRows, responsibilities } from "./patch-bank";
import { alphaBarAt, BaselineName, checkTokens, epsFromX0, machineFromDenoise, MachineName, ScoreMachine, TheoryMachineName } from "./score-machine";

export type { BaselineName, MachineName, ScoreMachine, TheoryMachineName } from "./score-machine";
export { alphaBarAt, checkTokens } from "./score-machine";
/** The machines derived from theory (sampled for Table 1 by default). */
export const THEORY_MACHINES: readonly TheoryMachineName[] = ["local", "equivariant", "ideal", "attention", "top1Optimal", "pair", "pairTop1"];
/** Baseline predictors: what any denoiser of this data gets without patch structure. */
export const BASELINES: readonly BaselineName[] = ["trivial", "gaussianPixel", "gaussianShared", "gaussianFull"];
export const MACHINE_NAMES: readonly MachineName[] = [...THEORY_MACHINES, ...BASELINES];
/** The fixed partner map of the `pair` machine: horizontal neighbours (quadrants 0-1 and 2-3). */
export const PAIR_PARTNERS: readonly number[] = [1, 0, 3, 2];

export const MACHINE_LABELS: Record<MachineName, string> = {
  local: "local patch machine (same position)",
  equivariant: "equivariant patch machine (ELS, all positions)",
  ideal: "ideal score machine (whole images)",
  attention: "attention machine (Eq. 8, top-1 partner)",
  top1Optimal: "top-1 optimum (corrected Eq. 32)",
  pair: "pair machine (own and partner quadrant, fixed pairs)",
  pairTop1: "pair machine, partner by its own similarity (top-1)",
  trivial: "baseline: sqrt(1 - aBar) x_t (N(0, I) data)",
  gaussianPixel: "baseline: Gaussian, per-pixel mean and variance",
  gaussianShared: "baseline: Gaussian, one 12 x 12 covariance shared by the quadrants",
  gaussianFull: "baseline: Gaussian, full covariance",
};

export interface MachineOptions {
  /** Merge identical training patches with log-count weights (exactly equivalent; default true). */
  aggregate?: boolean;
  /** Prior weight lambda of the partner term of the attention machine, in [0, 1) (default 0.5 = Eq. 8). */
  partnerWeight?: number;
  /** Patch bank of the attention machine's first term and of the partner estimates (default "equivariant"). */
  attentionBase?: "local" | "equivariant";
  /** Attention machine: allow y*(x) = x in Eq. 5's argmax (default false; the derivation needs y* != x). */
  includeSelf?: boolean;
  /**
   * Attention machine: "own" (default) puts only quadrant x's partner m_{y*(x)} in x's prior;
   * "pooled" reads the sum over x in Eq. 8 literally: every quadrant's prior holds the partners of all
   * four positions, lambda / 4 each.
   */
  partners?: "own" | "pooled";
}

export const MACHINE_DEFAULTS: Required<MachineOptions> = { aggregate: true, partnerWeight: 0.5, attentionBase: "equivariant", includeSelf: false, partners: "own" };

/** Quadrant banks per position: local = own position's quadrants; equivariant = all positions' (shared). */
function quadrantBanks(tokens: ArrayLike<number>, kind: "local" | "equivariant", aggregate: boolean): PatchBank[] {
  if (kind === "local") return [0, 1, 2, 3].map((q) => bankFromRows(quadrantRows(tokens, [q]), 12, { aggregate }));
  const shared = bankFromRows(quadrantRows(tokens, [0, 1, 2, 3]), 12, { aggregate });
  return [shared, shared, shared, shared];
}

/** Patch machine: every quadrant denoised independently under its position's bank. */
function patchDenoise(banks: PatchBank[], x: ArrayLike<number>, alphaBar: number): Float64Array {
  const B = checkTokens(x);
  const out = new Float64Array(x.length);
  const scratch = new Float64Array(Math.max(...banks.map((b) => b.size)));
  for (let b = 0; b < B; b++) for (let q = 0; q < 4; q++) posteriorMean(banks[q], x, b * 48 + q * 12, alphaBar, out, b * 48 + q * 12, scratch);
  return out;
}

/** Local (`"local"`) or equivariant (`"equivariant"`) patch machine from training tokens [N, 4, 12]. */
export function patchMachine(kind: "local" | "equivariant", tokens: ArrayLike<number>, s: Schedule, o: MachineOptions = {}): ScoreMachine {
  const banks = quadrantBanks(tokens, kind, o.aggregate ?? MACHINE_DEFAULTS.aggregate);
  return machineFromDenoise(kind, s, (x, aBar) => patchDenoise(banks, x, aBar));
}

/** Ideal score machine: posterior over whole training images (48-dimensional patches). */
export function idealMachine(tokens: ArrayLike<number>, s: Schedule, o: MachineOptions = {}): ScoreMachine {
  const bank = bankFromRows(tokens, 48, { aggregate: o.aggregate ?? MACHINE_DEFAULTS.aggregate });
  return machineFromDenoise("ideal", s, (x, aBar) => {
    const B = checkTokens(x);
    const out = new Float64Array(x.length);
    const scratch = new Float64Array(bank.size);
    for (let b = 0; b < B; b++) posteriorMean(bank, x, b * 48, aBar, out, b * 48, scratch);
    return out;
  });
}

/**
 * Top-1 partner of every quadrant (Eq. 5 on denoised estimates): y*(x) = argmax_{y != x} <m_x, m_y>
 * (y = x allowed with `includeSelf`), ties to the lowest index. m: estimates [B, 4, 12]; returns [B, 4].
 */
export function topPartners(m: ArrayLike<number>, includeSelf = false): Int32Array {
  const B = checkTokens(m);
  const out = new Int32Array(B * 4);
  for (let b = 0; b < B; b++) {
    for (let x = 0; x < 4; x++) {
      let best = -1;
      let bestDot = -Infinity;
      for (let y = 0; y < 4; y++) {
        if (y === x && !includeSelf) continue;
        let d = 0;
        for (let f = 0; f < 12; f++) d += m[b * 48 + x * 12 + f] * m[b * 48 + y * 12 + f];
        if (d > bestDot) {
          bestDot = d;
          best = y;
        }
      }
      out[b * 4 + x] = best;
    }
  }
  return out;
}

/**
 * Attention machine (Eq. 8 on the current image). For quadrant x the prior over clean patches is
 * (1 - lambda) * (training-patch mixture of the base bank) + lambda * delta(m_{y*(x)}) (own partner)
 * or + (lambda / 4) sum_{x'} delta(m_{y*(x')}) (pooled), so grad log of the noised mixture is Eq. 8
 * with the partner term a Gaussian centred at the partner's denoised estimate; m is held fixed under
 * the gradient (Eq. 8 differentiates w.r.t. Phi only).
 */
export function attentionMachine(tokens: ArrayLike<number>, s: Schedule, o: MachineOptions = {}): ScoreMachine {
  const lambda = o.partnerWeight ?? MACHINE_DEFAULTS.partnerWeight;
  if (!(lambda >= 0 && lambda < 1)) throw new Error(`partnerWeight must be in [0, 1), got ${lambda}`);
  const includeSelf = o.includeSelf ?? MACHINE_DEFAULTS.includeSelf;
  if (o.partners !== undefined && o.partners !== "own" && o.partners !== "pooled") throw new Error(`partners must be "own" or "pooled", got ${JSON.stringify(o.partners)}`);
  const pooled = (o.partners ?? MACHINE_DEFAULTS.partners) === "pooled";
  const nPartners = pooled ? 4 : 1;
  const banks = quadrantBanks(tokens, o.attentionBase ?? MACHINE_DEFAULTS.attentionBase, o.aggregate ?? MACHINE_DEFAULTS.aggregate);
  // Per position: centres [K + nPartners, 12] (last rows = partners, filled per call) and normalised log weights.
  const mixtures = banks.map((bank) => {
    const total = bank.counts.reduce((a, c) => a + c, 0);
    const K = bank.size + nPartners;
    const centres = new Float64Array(K * 12);
    centres.set(bank.patches);
    const logW = new Float64Array(K);
    for (let k = 0; k < bank.size; k++) logW[k] = bank.logWeights[k] - Math.log(total) + Math.log(1 - lambda);
    for (let k = bank.size; k < K; k++) logW[k] = Math.log(lambda / nPartners); // -Infinity when lambda = 0: the base machine
    return { K, first: bank.size, centres, logW };
  });
  return machineFromDenoise("attention", s, (x, aBar) => {
    const B = checkTokens(x);
    const m = patchDenoise(banks, x, aBar); // base estimates m_y, [B, 4, 12]
    const partner = topPartners(m, includeSelf);
    const out = new Float64Array(x.length);
    const resp = new Float64Array(Math.max(...mixtures.map((mx) => mx.K)));
    for (let b = 0; b < B; b++) {
      for (let q = 0; q < 4; q++) {
        const mx = mixtures[q];
        for (let j = 0; j < nPartners; j++) {
          const p = b * 48 + partner[b * 4 + (pooled ? j : q)] * 12;
          for (let f = 0; f < 12; f++) mx.centres[(mx.first + j) * 12 + f] = m[p + f];
        }
        responsibilities(mx.centres, mx.logW, mx.K, 12, x, b * 48 + q * 12, aBar, resp);
        mixtureMean(mx.centres, resp, mx.K, 12, out, b * 48 + q * 12);
      }
    }
    return out;
  });
}

/**
 * The corrected top-1 optimum as a machine: eps_x = (eps_ELS(x) + eps_ELS(y*(x))) / 2, i.e. the model
 * of Eq. 5, g~(x) = g(phi_x) + g(phi_{y*(x)}), with the optimal table g = 1/2 grad log pi_t of the
 * pooled (equivariant) quadrant marginal. y*(x) = argmax_{y != x} <m_x, m_y> on the ELS estimates
 * m, as in `attentionMachine`. Always equivariant: with position-dependent marginals the optimal
 * table depends on the whole map y*, which the derivation fixes and the machine does not.
 */
export function top1OptimalMachine(tokens: ArrayLike<number>, s: Schedule, o: MachineOptions = {}): ScoreMachine {
  const banks = quadrantBanks(tokens, "equivariant", o.aggregate ?? MACHINE_DEFAULTS.aggregate);
  const eps = (x: ArrayLike<number>, aBar: number): Float64Array => {
    const m = patchDenoise(banks, x, aBar);
    const e = epsFromX0(x, m, aBar); // eps_ELS, [B, 4, 12]
    const partner = topPartners(m, false);
    const out = new Float64Array(x.length);
    const B = x.length / 48;
    for (let b = 0; b < B; b++) {
      for (let q = 0; q < 4; q++) {
        const p = b * 48 + partner[b * 4 + q] * 12;
        for (let f = 0; f < 12; f++) out[b * 48 + q * 12 + f] = 0.5 * (e[b * 48 + q * 12 + f] + e[p + f]);
      }
    }
    return out;
  };
  return {
    name: "top1Optimal",
    eps: (x, t) => eps(x, alphaBarAt(s, t)),
    denoise: (x, t) => {
      const aBar = alphaBarAt(s, t);
      const e = eps(x, aBar);
      const a = Math.sqrt(aBar), sg = Math.sqrt(1 - aBar);
      return Float64Array.from(e, (v, i) => (x[i] - sg * v) / a);
    },
  };
}

/**
 * The pair bank: one 24-dim row (own quadrant, partner quadrant) per image and position x, the
 * partner being `partners[x]`, pooled over positions (identical rows merged with log-count weights
 * unless `aggregate` is false). Its mixture posterior is the MSE optimum among functions of (own,
 * partner) shared by the positions.
 */
export function pairBank(tokens: ArrayLike<number>, partners: readonly number[], aggregate: boolean): PatchBank {
  checkPartners(partners);
  const N = checkTokens(tokens);
  const rows = new Float64Array(N * 4 * 24);
  let o = 0;
  for (let i = 0; i < N; i++) {
    for (let q = 0; q < 4; q++) {
      for (let f = 0; f < 12; f++) rows[o++] = tokens[i * 48 + q * 12 + f];
      for (let f = 0; f < 12; f++) rows[o++] = tokens[i * 48 + partners[q] * 12 + f];
    }
  }
  return bankFromRows(rows, 24, { aggregate });
}

function checkPartners(p: readonly number[]): void {
  if (p.length !== 4 || p.some((y, x) => !(Number.isInteger(y) && y >= 0 && y < 4 && y !== x))) {
    throw new Error(`partner map must send each of the 4 quadrants to another quadrant, got [${p.join(", ")}]`);
  }
}

/** Posterior mean of quadrant q's own half under the pair bank, given x's quadrants q and y (writes 12 values at out[oo]). */
function pairPosterior(bank: PatchBank, x: ArrayLike<number>, b: number, q: number, y: number, aBar: number, out: Float64Array, oo: number, buf: Float64Array, resp: Float64Array): number {
  for (let f = 0; f < 12; f++) {
    buf[f] = x[b * 48 + q * 12 + f];
    buf[12 + f] = x[b * 48 + y * 12 + f];
  }
  const logp = responsibilities(bank.patches, bank.logWeights, bank.size, 24, buf, 0, aBar, resp);
  for (let f = 0; f < 12; f++) out[oo + f] = 0;
  for (let k = 0; k < bank.size; k++) {
    const r = resp[k];
    if (r === 0) continue;
    for (let f = 0; f < 12; f++) out[oo + f] += r * bank.patches[k * 24 + f];
  }
  return logp;
}

/** Pair machine with the fixed partner map PAIR_PARTNERS (or `partners`). */
export function pairMachine(tokens: ArrayLike<number>, s: Schedule, o: MachineOptions & { partners?: never } = {}, partners: readonly number[] = PAIR_PARTNERS): ScoreMachine {
  const bank = pairBank(tokens, partners, o.aggregate ?? MACHINE_DEFAULTS.aggregate);
  return machineFromDenoise("pair", s, (x, aBar) => {
    const B = checkTokens(x);
    const out = new Float64Array(x.length);
    const buf = new Float64Array(24), resp = new Float64Array(bank.size);
    for (let b = 0; b < B; b++) for (let q = 0; q < 4; q++) pairPosterior(bank, x, b, q, partners[q], aBar, out, b * 48 + q * 12, buf, resp);
    return out;
  });
}

/**
 * The partner of every quadrant under the pair machine's own similarity: the pointwise mutual
 * information PMI(x, y) = log p_t(x_x, x_y) - log p_t(x_x) - log p_t(x_y) of the noised pair bank
 * (pooled over every ordered pair of positions) and the noised quadrant bank (ELS), y != x, ties to
 * the lowest index. Returns [B, 4].
 */
export function pmiPartners(pairs: PatchBank, quadrants: PatchBank, x: ArrayLike<number>, aBar: number): Int32Array {
  const B = checkTokens(x);
  const out = new Int32Array(B * 4);
  const buf = new Float64Array(24), resp = new Float64Array(Math.max(pairs.size, quadrants.size));
  const logNorm = (bank: PatchBank) => Math.log(bank.counts.reduce((a, c) => a + c, 0));
  const lp = logNorm(pairs), lq = logNorm(quadrants);
  const single = new Float64Array(4);
  for (let b = 0; b < B; b++) {
    for (let q = 0; q < 4; q++) single[q] = responsibilities(quadrants.patches, quadrants.logWeights, quadrants.size, 12, x, b * 48 + q * 12, aBar, resp) - lq;
    for (let q = 0; q < 4; q++) {
      let best = -1, bestV = -Infinity;
      for (let y = 0; y < 4; y++) {
        if (y === q) continue;
        for (let f = 0; f < 12; f++) {
          buf[f] = x[b * 48 + q * 12 + f];
          buf[12 + f] = x[b * 48 + y * 12 + f];
        }
        // the Gaussian normalisers cancel: log p(u, v) has twice the dimension, and so has log p(u) + log p(v)
        const v = responsibilities(pairs.patches, pairs.logWeights, pairs.size, 24, buf, 0, aBar, resp) - lp - single[q] - single[y];
        if (v > bestV) {
          bestV = v;
          best = y;
        }
      }
      out[b * 4 + q] = best;
    }
  }
  return out;
}

/** Pair machine whose partner is chosen per image by the pointwise mutual information (`pmiPartners`). */
export function pairTop1Machine(tokens: ArrayLike<number>, s: Schedule, o: MachineOptions = {}): ScoreMachine {
  const aggregate = o.aggregate ?? MACHINE_DEFAULTS.aggregate;
  // every ordered pair of positions: the similarity must not prefer a position
  const all = bankFromRows(allPairRows(tokens), 24, { aggregate });
  const quadrants = bankFromRows(quadrantRows(tokens, [0, 1, 2, 3]), 12, { aggregate });
  return machineFromDenoise("pairTop1", s, (x, aBar) => {
    const B = checkTokens(x);
    const partner = pmiPartners(all, quadrants, x, aBar);
    const out = new Float64Array(x.length);
    const buf = new Float64Array(24), resp = new Float64Array(all.size);
    for (let b = 0; b < B; b++) for (let q = 0; q < 4; q++) pairPosterior(all, x, b, q, partner[b * 4 + q], aBar, out, b * 48 + q * 12, buf, resp);
    return out;
  });
}

/** Rows (own, partner) for every ordered pair of distinct positions of every image: [N * 12, 24]. */
export function allPairRows(tokens: ArrayLike<number>): Float64Array {
  const N = checkTokens(tokens);
  const rows = new Float64Array(N * 12 * 24);
  let o = 0;
  for (let i = 0; i < N; i++) {
    for (let q = 0; q < 4; q++) {
      for (let y = 0; y < 4; y++) {
        if (y === q) continue;
        for (let f = 0; f < 12; f++) rows[o++] = tokens[i * 48 + q * 12 + f];
        for (let f = 0; f < 12; f++) rows[o++] = tokens[i * 48 + y * 12 + f];
      }
    }
  }
  return rows;
}

/** Build a machine by name from training tokens [N, 4, 12] (model space [-1, 1]). */
export function makeMachine(name: MachineName, tokens: ArrayLike<number>, s: Schedule, o: MachineOptions = {}): ScoreMachine {
  switch (name) {
    case "local":
    case "equivariant":
      return patchMachine(name, tokens, s, o);
    case "ideal":
      return idealMachine(tokens, s, o);
    case "attention":
      return attentionMachine(tokens, s, o);
    case "top1Optimal":
      return top1OptimalMachine(tokens, s, o);
    case "pair":
      return pairMachine(tokens, s, { aggregate: o.aggregate });
    case "pairTop1":
      return pairTop1Machine(tokens, s, o);
    case "trivial":
      return trivialMachine(s);
    case "gaussianPixel":
    case "gaussianShared":
    case "gaussianFull":
      return gaussianMachine(name, tokens, s);
  }
}

/** Parse a machine name, failing with the bad value and the valid names. */
export function parseMachine(name: string): MachineName {
  if ((MACHINE_NAMES as readonly string[]).includes(name)) return name as MachineName;
  throw new Error(`unknown machine '${name}' (expected one of ${MACHINE_NAMES.join(", ")})`);
}

/** The machine as the sampler's EpsModel: xt [B, 4, 12] -> eps [B, 4, 12] (float64 math, float32 out). */
export function machineEpsModel(m: ScoreMachine): EpsModel {
  return (xt, t) => tf.tensor3d(new Float32Array(m.eps(xt.dataSync(), t)), xt.shape as [number, number, number]);
}
