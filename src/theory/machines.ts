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
 *                   Eq. 8's equal weighting of the two terms.
 */
import * as tf from "@tensorflow/tfjs-core";
import { EpsModel } from "../ddpm/sampler";
import { Schedule } from "../ddpm/schedule";
import { bankFromRows, epsFromX0, mixtureMean, PatchBank, posteriorMean, quadrantRows, responsibilities } from "./patchBank";

export type MachineName = "local" | "equivariant" | "ideal" | "attention";
export const MACHINE_NAMES: readonly MachineName[] = ["local", "equivariant", "ideal", "attention"];

export const MACHINE_LABELS: Record<MachineName, string> = {
  local: "local patch machine (same position)",
  equivariant: "equivariant patch machine (ELS, all positions)",
  ideal: "ideal score machine (whole images)",
  attention: "attention machine (Eq. 8, top-1 partner)",
};

export interface MachineOptions {
  /** Merge identical training patches with log-count weights (exactly equivalent; default true). */
  aggregate?: boolean;
  /** Prior weight lambda of the partner term of the attention machine, in [0, 1) (default 0.5 = Eq. 8). */
  partnerWeight?: number;
  /** Patch bank of the attention machine's first term and of the partner estimates (default "equivariant"). */
  attentionBase?: "local" | "equivariant";
}

export const MACHINE_DEFAULTS: Required<MachineOptions> = { aggregate: true, partnerWeight: 0.5, attentionBase: "equivariant" };

/** An analytic noise predictor on tokens [B, 4, 12] (flat, float64 arithmetic). */
export interface ScoreMachine {
  name: MachineName;
  /** E[x0 | x_t] for tokens [B, 4, 12] at timestep t. */
  denoise(x: ArrayLike<number>, t: number): Float64Array;
  /** eps(x_t, t) = (x_t - sqrt(aBar_t) E[x0 | x_t]) / sqrt(1 - aBar_t), tokens [B, 4, 12]. */
  eps(x: ArrayLike<number>, t: number): Float64Array;
}

function alphaBarAt(s: Schedule, t: number): number {
  if (!(Number.isInteger(t) && t >= 0 && t < s.alphaBars.length)) throw new Error(`timestep ${t} outside 0..${s.alphaBars.length - 1}`);
  return s.alphaBars[t];
}

function checkTokens(x: ArrayLike<number>): number {
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
 * Top-1 partner of every quadrant (Eq. 5 on denoised estimates): y*(x) = argmax_{y != x} <m_x, m_y>,
 * ties to the lowest index. m: estimates [B, 4, 12]; returns [B, 4].
 */
export function topPartners(m: ArrayLike<number>): Int32Array {
  const B = checkTokens(m);
  const out = new Int32Array(B * 4);
  for (let b = 0; b < B; b++) {
    for (let x = 0; x < 4; x++) {
      let best = -1;
      let bestDot = -Infinity;
      for (let y = 0; y < 4; y++) {
        if (y === x) continue;
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
 * (1 - lambda) * (training-patch mixture of the base bank) + lambda * delta(m_{y*(x)}), so
 * grad log of the noised mixture is Eq. 8 with the partner term a Gaussian centred at the partner's
 * denoised estimate; m is held fixed under the gradient (Eq. 8 differentiates w.r.t. Phi only).
 */
export function attentionMachine(tokens: ArrayLike<number>, s: Schedule, o: MachineOptions = {}): ScoreMachine {
  const lambda = o.partnerWeight ?? MACHINE_DEFAULTS.partnerWeight;
  if (!(lambda >= 0 && lambda < 1)) throw new Error(`partnerWeight must be in [0, 1), got ${lambda}`);
  const banks = quadrantBanks(tokens, o.attentionBase ?? MACHINE_DEFAULTS.attentionBase, o.aggregate ?? MACHINE_DEFAULTS.aggregate);
  // Per position: centres [K + 1, 12] (last row = partner, filled per call) and normalised log weights.
  const mixtures = banks.map((bank) => {
    const total = bank.counts.reduce((a, c) => a + c, 0);
    const centres = new Float64Array((bank.size + 1) * 12);
    centres.set(bank.patches);
    const logW = new Float64Array(bank.size + 1);
    for (let k = 0; k < bank.size; k++) logW[k] = bank.logWeights[k] - Math.log(total) + Math.log(1 - lambda);
    logW[bank.size] = Math.log(lambda); // -Infinity when lambda = 0: the base machine
    return { K: bank.size + 1, centres, logW };
  });
  return machineFromDenoise("attention", s, (x, aBar) => {
    const B = checkTokens(x);
    const m = patchDenoise(banks, x, aBar); // base estimates m_y, [B, 4, 12]
    const partner = topPartners(m);
    const out = new Float64Array(x.length);
    const resp = new Float64Array(Math.max(...mixtures.map((mx) => mx.K)));
    for (let b = 0; b < B; b++) {
      for (let q = 0; q < 4; q++) {
        const mx = mixtures[q];
        const p = b * 48 + partner[b * 4 + q] * 12;
        for (let f = 0; f < 12; f++) mx.centres[(mx.K - 1) * 12 + f] = m[p + f];
        responsibilities(mx.centres, mx.logW, mx.K, 12, x, b * 48 + q * 12, aBar, resp);
        mixtureMean(mx.centres, resp, mx.K, 12, out, b * 48 + q * 12);
      }
    }
    return out;
  });
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
  }
}

/** Parse a machine name, failing with the bad value and the valid names. */
export function parseMachine(name: string): MachineName {
  if ((MACHINE_NAMES as readonly string[]).includes(name)) return name as MachineName;
  throw new Error(`unknown machine '${name}' (expected one of ${MACHINE_NAMES.join(", ")})`);
}

/** The machine as the sampler's EpsModel: xt [B, 4, 12] -> eps [B, 4, 12] (float64 math, float32 out). */
export function machineEpsModel(m: ScoreMachine): EpsModel {
  return (xt, t) => tf.tensor3d(Float32Array.from(m.eps(xt.dataSync(), t)), xt.shape as [number, number, number]);
}
