/**
 * The result type shared by every numeric check of the paper's derivations, and the small
 * float64 vector helpers the checks use. A check compares a printed expression with a reference
 * (autodiff, finite differences or an exact solve) and reports `holds` honestly: an expression
 * that is wrong on paper gives `holds: false` and the size of the discrepancy.
 */
import type { ClaimKey } from "./claim-list";

/**
 * What a check is evidence of (set where the check is made, `makeCheck`'s label):
 *  - "claim":      a statement of the paper as printed, checked where its assumptions hold;
 *  - "reading":    a statement of the paper under a stated reading other than the literal one (the
 *                  paper does not commit to it); counted apart from "as printed";
 *  - "identity":   true by algebra or by construction (e.g. at any minimiser): checks the machinery,
 *                  cannot fail unless the code is wrong;
 *  - "control":    a case with a known answer, or an assumption deliberately broken;
 *  - "correction": our corrected expression, not a statement of the paper;
 *  - "finding":    a result of ours beyond the paper's statements, checked on a toy.
 * Only claims and readings are counted as the paper's results holding or failing (claims.ts).
 */
export type CheckRole = "claim" | "reading" | "identity" | "control" | "correction" | "finding";

/** A check's role; a claim or reading names the distinct claim (claims.ts CLAIMS) and a reading states itself. */
export type CheckLabel =
  | { role: "claim"; claim: ClaimKey }
  | { role: "reading"; claim: ClaimKey; reading: string }
  | { role: "identity" | "control" | "correction" | "finding" };

/** One numeric check of one equation of Finn et al. (2025). */
export interface CheckResult {
  /** Stable identifier, e.g. "eq26-printed-vs-autodiff". */
  name: string;
  /** Paper equation(s) checked, e.g. "Eq. 26". */
  equation: string;
  /** The claim being tested, in words, including how a printed expression was read. */
  claim: string;
  /** True when residual <= tolerance. */
  holds: boolean;
  /** Discrepancy; how it is measured is stated in `claim` (usually a relative L2 error). */
  residual: number;
  /** Threshold that `residual` is compared with (chosen for float32 or float64 as stated). */
  tolerance: number;
  /** Extra numbers: per-term residuals, norms, settings. */
  details?: Record<string, number | string | boolean | number[]>;
  /** What the check is evidence of (see CheckRole). */
  role: CheckRole;
  /** The distinct claim of the paper this check bears on (roles "claim" and "reading"). */
  claimKey?: ClaimKey;
  /** The reading under which a "reading" check reads the claim. */
  reading?: string;
}

/** Build a CheckResult; `holds` is derived from residual and tolerance, never set by hand; the role comes with the check. */
export function makeCheck(
  label: CheckLabel,
  name: string,
  equation: string,
  claim: string,
  residual: number,
  tolerance: number,
  details?: CheckResult["details"],
): CheckResult {
  if (!Number.isFinite(residual)) throw new Error(`check ${name}: residual is ${residual}`);
  const r: CheckResult = { name, equation, claim, holds: residual <= tolerance, residual, tolerance, details, role: label.role };
  if (label.role === "claim" || label.role === "reading") r.claimKey = label.claim;
  if (label.role === "reading") r.reading = label.reading;
  return r;
}

/** Labels, for brevity at the call sites. */
export const IDENTITY: CheckLabel = { role: "identity" };
export const CONTROL: CheckLabel = { role: "control" };
export const CORRECTION: CheckLabel = { role: "correction" };
export const FINDING: CheckLabel = { role: "finding" };
export const claimOf = (claim: ClaimKey): CheckLabel => ({ role: "claim", claim });
export const readingOf = (claim: ClaimKey, reading: string): CheckLabel => ({ role: "reading", claim, reading });

type Vec = ArrayLike<number>;

/** Euclidean norm of a flat vector. */
export function norm(a: Vec): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * a[i];
  return Math.sqrt(s);
}

/** ||a - b|| (flat vectors of equal length). */
export function distance(a: Vec, b: Vec): number {
  if (a.length !== b.length) throw new Error(`distance: lengths ${a.length} and ${b.length} differ`);
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] - b[i]) ** 2;
  return Math.sqrt(s);
}

/** Relative L2 error ||a - ref|| / ||ref|| (absolute error when ||ref|| is 0). */
export function relErr(a: Vec, ref: Vec): number {
  const n = norm(ref);
  const e = distance(a, ref);
  return n > 0 ? e / n : e;
}

/** Element-wise sum of flat vectors of equal length. */
export function addAll(...xs: Vec[]): Float64Array {
  const out = new Float64Array(xs[0].length);
  for (const x of xs) {
    if (x.length !== out.length) throw new Error(`addAll: lengths ${x.length} and ${out.length} differ`);
    for (let i = 0; i < out.length; i++) out[i] += x[i];
  }
  return out;
}

/** Dot product of rows: sum_k a[ia + k] * b[ib + k], k < d. */
export function dotAt(a: Vec, ia: number, b: Vec, ib: number, d: number): number {
  let s = 0;
  for (let k = 0; k < d; k++) s += a[ia + k] * b[ib + k];
  return s;
}

/** Numerically stable softmax of `logits` (float64). */
export function softmax64(logits: Vec): Float64Array {
  let m = -Infinity;
  for (let i = 0; i < logits.length; i++) m = Math.max(m, logits[i]);
  const out = new Float64Array(logits.length);
  let z = 0;
  for (let i = 0; i < logits.length; i++) z += out[i] = Math.exp(logits[i] - m);
  for (let i = 0; i < out.length; i++) out[i] /= z;
  return out;
}

/** Array of `n` standard normals (float64) times `std`, from a seeded Rng-like source. */
export function normals(rng: { normal(): number }, n: number, std = 1): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = std * rng.normal();
  return out;
}
