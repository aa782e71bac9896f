/**
 * Patch banks and the exact Gaussian-mixture posterior mean behind every score machine.
 *
 * Under the forward process x_t = sqrt(alphaBar_t) x0 + sqrt(1 - alphaBar_t) eps with x0 drawn
 * from an empirical set of patches {P_k} with prior weights w_k, the density of x_t is the mixture
 *   p_t(x) = sum_k w_k N(x; sqrt(alphaBar_t) P_k, (1 - alphaBar_t) I)
 * (Kamb & Ganguli 2024, Eq. 36-40; the paper's Eq. 8 is a sum of such terms). Its score is given by
 * Tweedie's formula through the posterior mean of x0,
 *   E[x0 | x_t] = sum_k softmax_k(log w_k - ||x_t - sqrt(aBar) P_k||^2 / (2 (1 - aBar))) P_k,
 *   eps(x_t)    = (x_t - sqrt(aBar) E[x0 | x_t]) / sqrt(1 - aBar)  = -sqrt(1 - aBar) grad log p_t,
 * computed here in float64 with the max subtracted before exponentiating, so it stays exact down
 * to t = 0 (where 1 - aBar = 1e-4 and the logits reach -1e5).
 *
 * A bank may list every training patch (weight 1 each) or each distinct patch once with log-count
 * weight; identical patches have identical logits, so sum_{i in group} e^{l_i} = e^{l + log c} and
 * the two banks give the same posterior (pinned by test/theory-machines.test.ts).
 */

/** A weighted set of patches of dimension `dim` (12 for a quadrant token, 48 for a whole image). */
export interface PatchBank {
  /** Patch dimension D. */
  dim: number;
  /** Number of components K. */
  size: number;
  /** Patch values, [K, D] row-major, in the model's [-1, 1] space. */
  patches: Float64Array;
  /** Unnormalised log prior weight of each component, [K]. */
  logWeights: Float64Array;
  /** Training patches each component stands for (1 each in a full bank), [K]. */
  counts: Float64Array;
}

/**
 * A bank from `rows` ([N, dim] flat). `aggregate: true` merges identical rows into one component
 * with log-count weight (exactly the same posterior, far fewer components); `false` keeps every
 * row with weight 1 (log weight 0).
 */
export function bankFromRows(rows: ArrayLike<number>, dim: number, o: { aggregate: boolean }): PatchBank {
  if (!(Number.isInteger(dim) && dim > 0) || rows.length % dim !== 0 || rows.length === 0) {
    throw new Error(`bankFromRows: ${rows.length} values do not form rows of dimension ${dim}`);
  }
  const n = rows.length / dim;
  const index = new Map<string, number>();
  const order: number[] = [];
  const counts: number[] = [];
  for (let i = 0; i < n; i++) {
    let key = String(i);
    if (o.aggregate) {
      key = "";
      for (let j = 0; j < dim; j++) key += `${rows[i * dim + j]},`;
    }
    const k = index.get(key);
    if (k === undefined) {
      index.set(key, order.length);
      order.push(i);
      counts.push(1);
    } else counts[k]++;
  }
  const K = order.length;
  const patches = new Float64Array(K * dim);
  order.forEach((i, k) => {
    for (let j = 0; j < dim; j++) patches[k * dim + j] = rows[i * dim + j];
  });
  return { dim, size: K, patches, logWeights: Float64Array.from(counts, Math.log), counts: Float64Array.from(counts) };
}

/** Quadrant tokens at `positions` (subset of 0..3) of training tokens [N, 4, 12], as rows [N * |positions|, 12]. */
export function quadrantRows(tokens: ArrayLike<number>, positions: readonly number[]): Float64Array {
  if (tokens.length % 48 !== 0) throw new Error(`quadrantRows: expected tokens [N, 4, 12], got ${tokens.length} values`);
  for (const q of positions) if (!(Number.isInteger(q) && q >= 0 && q < 4)) throw new Error(`quadrantRows: bad position ${q}`);
  const n = tokens.length / 48;
  const out = new Float64Array(n * positions.length * 12);
  let o = 0;
  for (let i = 0; i < n; i++) {
    for (const q of positions) {
      for (let f = 0; f < 12; f++) out[o++] = tokens[i * 48 + q * 12 + f];
    }
  }
  return out;
}

/** Reused copy of the current patch (monomorphic float64 reads in the inner loop). */
let xBuffer = new Float64Array(48);

/**
 * Posterior over the components of a Gaussian mixture at noise level alphaBar (stable softmax).
 * Reads x[xo .. xo + D); writes responsibilities into `resp` [K] and returns log sum_k exp(logit_k)
 * (i.e. log p_t(x) up to the Gaussian normaliser). `centres` are the clean patches; the mixture's
 * means are sqrt(alphaBar) * centres.
 */
export function responsibilities(
  centres: Float64Array, logWeights: Float64Array, K: number, D: number,
  x: ArrayLike<number>, xo: number, alphaBar: number, resp: Float64Array,
): number {
  if (!(alphaBar > 0 && alphaBar < 1)) throw new Error(`alphaBar must be in (0, 1), got ${alphaBar}`);
  const a = Math.sqrt(alphaBar);
  const inv2var = 1 / (2 * (1 - alphaBar));
  const xs = xBuffer.length >= D ? xBuffer : (xBuffer = new Float64Array(D));
  for (let j = 0; j < D; j++) xs[j] = x[xo + j];
  let max = -Infinity;
  for (let k = 0; k < K; k++) {
    let d2 = 0;
    const c = k * D;
    for (let j = 0; j < D; j++) {
      const diff = xs[j] - a * centres[c + j];
      d2 += diff * diff;
    }
    const l = logWeights[k] - d2 * inv2var;
    resp[k] = l;
    if (l > max) max = l;
  }
  if (max === -Infinity) throw new Error("responsibilities: every component has weight 0");
  let sum = 0;
  for (let k = 0; k < K; k++) sum += resp[k] = Math.exp(resp[k] - max);
  for (let k = 0; k < K; k++) resp[k] /= sum;
  return max + Math.log(sum);
}

/** E[x0 | x_t] = sum_k resp_k centre_k, written to out[oo .. oo + D). */
export function mixtureMean(centres: Float64Array, resp: Float64Array, K: number, D: number, out: Float64Array, oo: number): void {
  for (let j = 0; j < D; j++) out[oo + j] = 0;
  for (let k = 0; k < K; k++) {
    const r = resp[k];
    if (r === 0) continue;
    const c = k * D;
    for (let j = 0; j < D; j++) out[oo + j] += r * centres[c + j];
  }
}

/** Posterior mean E[x0 | x_t] of one patch under `bank` (Tweedie / Kamb & Ganguli Eq. 36-40). */
export function posteriorMean(bank: PatchBank, x: ArrayLike<number>, xo: number, alphaBar: number, out: Float64Array, oo: number, scratch?: Float64Array): void {
  const resp = scratch && scratch.length >= bank.size ? scratch : new Float64Array(bank.size);
  responsibilities(bank.patches, bank.logWeights, bank.size, bank.dim, x, xo, alphaBar, resp);
  mixtureMean(bank.patches, resp, bank.size, bank.dim, out, oo);
}
