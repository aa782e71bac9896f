/**
 * Ratio of two means from paired observations by Fieller's method: with pairs (x_i, y_i), i = 1..n
 * (here: two variants' means on the same dataset draw), the ratio rho = E[x] / E[y] makes
 * z_i = x_i - rho y_i have mean 0, so
 *   (xbar - rho ybar)^2 <= t^2 (v11 - 2 rho v12 + rho^2 v22),   v = sample covariance / n,
 * t = t(0.5 + level / 2, n - 1), is a `level` confidence set for rho, exact when the pairs are
 * bivariate normal (the draw means are, under the nested model of nested.ts). The set is the
 * solution of a quadratic a rho^2 - 2 b rho + c <= 0 with a = ybar^2 - t^2 v22: an interval when
 * a > 0 (ybar significantly different from 0), else unbounded: two rays outside the roots or the
 * whole line. No resampling: unlike a percentile bootstrap over a handful of draws it does not
 * under-cover.
 */
import { studentTQuantile } from "./stats";

export interface RatioInterval {
  /** xbar / ybar. */
  ratio: number;
  /** Pairs (dataset draws) and the t's degrees of freedom (pairs - 1). */
  pairs: number;
  df: number;
  level: number;
  /**
   * "bounded": the set is `interval`; "two rays": (-inf, excluded[0]] and [excluded[1], inf);
   * "whole line": every ratio. The last two when the denominator is not significantly different from 0.
   */
  shape: "bounded" | "two rays" | "whole line";
  /** The confidence interval when bounded, else null. */
  interval: [number, number] | null;
  /** The ratios outside the set when it is two rays, else null. */
  excluded: [number, number] | null;
  /** Why the set is unbounded, else null. */
  note: string | null;
}

const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

/** Sample covariance (n - 1) of two equal-length series. */
function cov(x: readonly number[], y: readonly number[]): number {
  const mx = mean(x);
  const my = mean(y);
  return x.reduce((a, xi, i) => a + (xi - mx) * (y[i] - my), 0) / (x.length - 1);
}

/**
 * Fieller's `level` confidence set for E[x] / E[y] from paired values x[i], y[i] (t with n - 1
 * df, the pairs' covariance included). It covers the ratio of the two population means; an
 * unbounded set is reported as such (shape and note), never as a finite interval.
 */
export function fiellerRatio(x: readonly number[], y: readonly number[], level = 0.95): RatioInterval {
  const n = x.length;
  if (y.length !== n) throw new Error(`fiellerRatio: ${n} numerators but ${y.length} denominators; pairs must match`);
  if (n < 2) throw new Error(`fiellerRatio needs at least 2 pairs, got ${n}`);
  if (!(level > 0 && level < 1)) throw new Error(`fiellerRatio: level must lie in (0, 1), got ${level}`);
  if (![...x, ...y].every(Number.isFinite)) throw new Error("fiellerRatio: every value must be finite");
  const xm = mean(x);
  const ym = mean(y);
  const v11 = cov(x, x) / n;
  const v22 = cov(y, y) / n;
  const v12 = cov(x, y) / n;
  const t = studentTQuantile(0.5 + level / 2, n - 1);
  const t2 = t * t;
  const a = ym * ym - t2 * v22;
  const b = xm * ym - t2 * v12;
  // b^2 - a c, rearranged to avoid cancellation: t^2 [Var(ybar x - xbar y) / n - t^2 det(v)], with
  // the first term the variance of z_i = ybar x_i - xbar y_i (0 when x is a constant multiple of y).
  const z = x.map((xi, i) => ym * xi - xm * y[i]);
  const residual = cov(z, z) / n;
  // det(v) = v22 * Var(x - (v12 / v22) y) / n >= 0, again without cancellation.
  const slope = v22 > 0 ? v12 / v22 : 0;
  const det = v22 * (cov(x.map((xi, i) => xi - slope * y[i]), x.map((xi, i) => xi - slope * y[i])) / n);
  const disc = t2 * (residual - t2 * det);
  const base = { ratio: xm / ym, pairs: n, df: n - 1, level };
  if (a > 0) {
    const r = Math.sqrt(Math.max(0, disc));
    return { ...base, shape: "bounded", interval: [(b - r) / a, (b + r) / a], excluded: null, note: null };
  }
  const why = `the denominator's mean (${ym}) is not significantly different from 0 at this level (|mean| / se = ${(Math.abs(ym) / Math.sqrt(v22)).toFixed(2)} <= t = ${t.toFixed(2)})`;
  if (a < 0 && disc > 0) {
    const r = Math.sqrt(disc);
    const roots = [(b - r) / a, (b + r) / a].sort((p, q) => p - q) as [number, number];
    return { ...base, shape: "two rays", interval: null, excluded: roots, note: `unbounded: ${why}` };
  }
  return { ...base, shape: "whole line", interval: null, excluded: null, note: `unbounded (every ratio): ${why}` };
}
