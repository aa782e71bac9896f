/**
 * Paired bootstrap intervals for differences between two predictors scored on the same items (here:
 * the same-noise Pearson r of final images, one item per noise seed). Pairing matters: both
 * predictors see the same seeds, so the difference is resampled per item, not per predictor.
 *
 * With `groups` (e.g. the trained seed each item belongs to) the bootstrap is two-level: resample the
 * groups with replacement, then the items inside each chosen group, so that the interval includes the
 * spread between trained models, not only between noise seeds.
 */
import { Rng } from "../rng";
import { quantile } from "./compare";

export type Statistic = "mean" | "median";

/** A percentile interval for stat(a) - stat(b). */
export interface Interval {
  /** stat(a) - stat(b) on all items. */
  estimate: number;
  lo: number;
  hi: number;
  level: number;
  resamples: number;
  /** Items and groups (groups = 1 without `groups`). */
  n: number;
  groups: number;
  statistic: Statistic;
}

function stat(xs: Float64Array, s: Statistic): number {
  if (s === "mean") return xs.reduce((acc, v) => acc + v, 0) / xs.length;
  return quantile(xs, 0.5);
}

export interface BootstrapOptions {
  rng: Rng;
  /** Number of resamples (default 2000). */
  resamples?: number;
  /** Central coverage of the interval (default 0.95). */
  level?: number;
  statistic?: Statistic;
  /** Group label per item (two-level bootstrap). */
  groups?: ArrayLike<number>;
}

/** Percentile bootstrap interval for stat(a) - stat(b), a and b paired item by item. */
export function pairedBootstrap(a: ArrayLike<number>, b: ArrayLike<number>, o: BootstrapOptions): Interval {
  const n = a.length;
  if (n === 0 || b.length !== n) throw new Error(`pairedBootstrap: need two equal, non-empty samples, got ${a.length} and ${b.length}`);
  if (o.groups && o.groups.length !== n) throw new Error(`pairedBootstrap: ${o.groups.length} group labels for ${n} items`);
  for (let i = 0; i < n; i++) if (!Number.isFinite(a[i]) || !Number.isFinite(b[i])) throw new Error(`pairedBootstrap: item ${i} is not finite (${a[i]}, ${b[i]})`);
  const B = o.resamples ?? 2000, level = o.level ?? 0.95, s = o.statistic ?? "median";
  if (!(Number.isInteger(B) && B >= 100)) throw new Error(`pairedBootstrap: resamples must be an integer >= 100, got ${B}`);
  if (!(level > 0 && level < 1)) throw new Error(`pairedBootstrap: level must be in (0, 1), got ${level}`);
  const members = new Map<number, number[]>();
  for (let i = 0; i < n; i++) {
    const g = o.groups ? o.groups[i] : 0;
    if (!members.has(g)) members.set(g, []);
    members.get(g)!.push(i);
  }
  const groupList = [...members.values()];
  const A = Float64Array.from(a), Bv = Float64Array.from(b);
  const estimate = stat(A, s) - stat(Bv, s);
  const diffs = new Float64Array(B);
  const ra = new Float64Array(n), rb = new Float64Array(n);
  for (let k = 0; k < B; k++) {
    let m = 0;
    const picked = groupList.length > 1 ? groupList.map(() => groupList[o.rng.int(groupList.length)]) : groupList;
    // Keep the resample size n: each picked group contributes its own size.
    const total = picked.reduce((acc, g) => acc + g.length, 0);
    const ia = total === n ? ra : new Float64Array(total), ib = total === n ? rb : new Float64Array(total);
    for (const g of picked) {
      for (let j = 0; j < g.length; j++) {
        const i = g[o.rng.int(g.length)];
        ia[m] = A[i];
        ib[m++] = Bv[i];
      }
    }
    diffs[k] = stat(ia, s) - stat(ib, s);
  }
  const tail = (1 - level) / 2;
  return { estimate, lo: quantile(diffs, tail), hi: quantile(diffs, 1 - tail), level, resamples: B, n, groups: groupList.length, statistic: s };
}
