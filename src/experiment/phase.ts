/**
 * One phase of an experiment (training, sampling, theory): independent tasks of one kind over the
 * generic worker pool, with one progress bar that never goes backwards.
 */
import { Progress } from "../progress";
import { Executor, runTasks } from "./pool";

export interface PhaseOptions<T, C, R> {
  /** Bar label, e.g. "quick train". */
  label: string;
  tasks: T[];
  /** What runs a task (its module's executor, e.g. src/experiment/tasks.ts EXPERIMENT_TASKS) and its shared context. */
  executor: Executor<T, C, R>;
  context: C;
  /**
   * Each task's share of the phase, known up front (training: its epochs; sampling: one run; theory:
   * its estimated cost), so the bar moves only forward: a task's progress only grows, and a finished
   * task counts whole.
   */
  weights: number[];
  workers: number;
  /** Where the bar's lines go (default: a bar on a terminal, else a line every 10 s). */
  write?: (line: string, final: boolean) => void;
  /** Least time between two lines (default: 100 ms on a terminal, else 10 s). */
  intervalMs?: number;
  /** Sees the phase's progress (done of total = fraction x 1000 of 1000) and the latest task note. */
  onProgress?: (done: number, total: number, note: string) => void;
}

/**
 * Run the phase; results in task order. Tasks start heaviest first (ties in the given order), so a
 * long task (top1's doubled training, an expensive theory unit) does not start last and run alone.
 */
export async function runPhase<T, C, R>(o: PhaseOptions<T, C, R>): Promise<R[]> {
  const { tasks, weights } = o;
  if (weights.length !== tasks.length || weights.some((w) => !(w > 0 && Number.isFinite(w)))) {
    throw new Error(`runPhase ${o.label}: need one positive finite weight per task, got ${weights.length} for ${tasks.length} tasks`);
  }
  const order = tasks.map((_, i) => i).sort((a, b) => weights[b] - weights[a] || a - b);
  const totalWeight = weights.reduce((a, b) => a + b, 0);
  const fraction = new Float64Array(tasks.length);
  const bar = new Progress({ label: o.label, total: 1, write: o.write, intervalMs: o.intervalMs });
  let shown = 0;
  const res = await runTasks(order.map((i) => tasks[i]), { executor: o.executor, context: o.context, workers: o.workers, onProgress: (id, d, t, note) => {
    const i = order[id];
    fraction[i] = Math.max(fraction[i], t > 0 ? Math.min(1, d / t) : 0);
    let sum = 0;
    for (let k = 0; k < tasks.length; k++) sum += fraction[k] * weights[k];
    shown = Math.max(shown, Math.min(sum / totalWeight, 0.999));
    bar.update(shown, note || undefined); // "" = a finished task: keep the last note
    o.onProgress?.(Math.round(shown * 1000), 1000, note);
  } });
  bar.finish(`${tasks.length} task(s) done`);
  o.onProgress?.(1000, 1000, `${o.label}: ${tasks.length} task(s) done`);
  const out: R[] = new Array(tasks.length);
  order.forEach((i, k) => { out[i] = res[k]; });
  return out;
}
