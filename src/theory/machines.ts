/**
 * Analytic score machines for the colour key-value dataset: noise predictors computed exactly from
 * the training set, sampled with the same DDPM sampler as the trained networks (see docs/theory.md,
 * "Score machines").
 *
 *  - `ideal`:       posterior mean over whole training images (the exact score of the empirical
 *                   distribution); it can only reproduce training images.
 *  - `local`:       each quadrant denoised from the training quadrants at the same position
 *                   (Kamb & Ganguli's LS machine with patch = quadrant; patches never overlap here).
 *  - `equivariant`: each quadrant denoised from the training quadrants of all four positions (ELS).
 *                   The trained CNN sees one quadrant per token with shared weights and no position
 *                   input, so this is exactly the optimum of its function class.
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
 * exact eps of N(0, I) data), `gaussianPixel` and `gaussianFull` (the exact eps of a Gaussian with
 * the training data's per-pixel mean and variance, or its full covariance).
 */
import * as tf from "@tensorflow/tfjs-core";
import { EpsModel } from "../ddpm/sampler";
import { Schedule } from "../ddpm/schedule";
import { gaussianMachine, trivialMachine } from "./baselines";
import { bankFromRows, epsFromX0, mixtureMean, PatchBank, posteriorMean, quadrantRows, responsibilities } from "./patchBank";

export type TheoryMachineName = "local" | "equivariant" | "ideal" | "attention" | "top1Optimal";
export type BaselineName = "trivial" | "gaussianPixel" | "gaussianFull";
export type MachineName = TheoryMachineName | BaselineName;
/** The machines derived from theory (sampled for Table 1 by default). */
export const THEORY_MACHINES: readonly TheoryMachineName[] = ["local", "equivariant", "ideal", "attention", "top1Optimal"];
/** Baseline predictors: what any denoiser of this data gets without patch structure. */
export const BASELINES: readonly BaselineName[] = ["trivial", "gaussianPixel", "gaussianFull"];
export const MACHINE_NAMES: readonly MachineName[] = [...THEORY_MACHINES, ...BASELINES];

export const MACHINE_LABELS: Record<MachineName, string> = {
  local: "local patch machine (same position)",
  equivariant: "equivariant patch machine (ELS, all positions)",
  ideal: "ideal score machine (whole images)",
  attention: "attention machine (Eq. 8, top-1 partner)",
  top1Optimal: "top-1 optimum (corrected Eq. 32)",
  trivial: "baseline: sqrt(1 - aBar) x_t (N(0, I) data)",
  gaussianPixel: "baseline: Gaussian, per-pixel mean and variance",
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

/** An analytic noise predictor on tokens [B, 4, 12] (flat, float64 arithmetic). */
export interface ScoreMachine {
  name: MachineName;
  /** E[x0 | x_t] for tokens [B, 4, 12] at timestep t. */
  denoise(x: ArrayLike<number>, t: number): Float64Array;
  /** eps(x_t, t) = (x_t - sqrt(aBar_t) E[x0 | x_t]) / sqrt(1 - aBar_t), tokens [B, 4, 12]. */
  eps(x: ArrayLike<number>, t: number): Float64Array;
}

export function alphaBarAt(s: Schedule, t: number): number {
  if (!(Number.isInteger(t) && t >= 0 && t < s.alphaBars.length)) throw new Error(`timestep ${t} outside 0..${s.alphaBars.length - 1}`);
  return s.alphaBars[t];
}

export function checkTokens(x: ArrayLike<number>): number {
  if (x.length % 48 !== 0 || x.length === 0) throw new Error(`expected tokens [B, 4, 12], got ${x.length} values`);
  return x.length / 48;
}

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

function machineFromDenoise(name: MachineName, s: Schedule, denoise: (x: ArrayLike<number>, aBar: number) => Float64Array): ScoreMachine {
  return {
    name,
    denoise: (x, t) => denoise(x, alphaBarAt(s, t)),
    eps: (x, t) => {
      const aBar = alphaBarAt(s, t);
      return epsFromX0(x, denoise(x, aBar), aBar);
    },
  };
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
    case "trivial":
      return trivialMachine(s);
    case "gaussianPixel":
      return gaussianMachine("gaussianPixel", tokens, s);
    case "gaussianFull":
      return gaussianMachine("gaussianFull", tokens, s);
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
