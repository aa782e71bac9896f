/**
 * A generic worker pool: runs independent tasks of any type, inline or over worker threads (one per
 * core: the wasm backend is single-threaded in Node, so threads are how all cores work).
 *
 * What a task does is its executor's business: an `Executor` is a value owned by the module that
 * implements the task kind (src/experiment/tasks.ts: training and sampling; src/experiment/theory-units.ts:
 * the theory phase's units), passed by whoever runs a phase. The pool imports none of them; a worker
 * thread loads the executor from the module path and export name it carries.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Worker } from "worker_threads";
import type { ExperimentConfig } from "../config";

/** Progress callback: units done of total, and a short note. */
export type OnProgress = (done: number, total: number, note: string) => void;

/**
 * How to run tasks of type T with a context C (shared by every task of a phase) to results R.
 * `module` (the implementing file's `__filename`) and `name` (the export holding this value) let a
 * worker thread load the same executor.
 */
export interface Executor<T, C, R> {
  readonly module: string;
  readonly name: string;
  execute(task: T, context: C, onProgress?: OnProgress): R;
}

/** Message to a worker: one task and where its executor lives. */
export interface TaskMessage {
  id: number;
  module: string;
  name: string;
  task: unknown;
  context: unknown;
}

export type WorkerEvent =
  | { type: "progress"; id: number; done: number; total: number; note: string }
  | { type: "result"; id: number; result: unknown }
  | { type: "error"; id: number; message: string; stack: string };

/** Worker threads for config key `workers` (0 = one per CPU core). */
export function workerCount(cfg: Pick<ExperimentConfig, "workers">): number {
  return cfg.workers > 0 ? cfg.workers : Math.max(1, os.cpus().length);
}

function spawnWorker(): Worker {
  // Compiled (build/, as the notebooks load the library): the worker's JavaScript is beside this file.
  // (Not so when tslab compiles src/ through a symlink in a notebook folder: it names its in-memory
  // output src/experiment/pool.js, but no worker.js exists there.)
  const compiled = path.join(__dirname, "worker.js");
  if (fs.existsSync(compiled)) return new Worker(compiled);
  // From the TypeScript sources (CLI, tests): ts-node compiles the worker; type checking already
  // happened in the parent's build. realpath: through a symlink to src/, __dirname is the link.
  const here = fs.realpathSync(__dirname);
  const entry = path.join(here, "worker.ts");
  const root = path.resolve(here, "..", "..");
  const boot = `
    const { workerData } = require("worker_threads");
    require(require.resolve("ts-node", { paths: [workerData.root] })).register({ transpileOnly: true, project: workerData.root + "/tsconfig.json" });
    require(workerData.entry);`;
  return new Worker(boot, { eval: true, workerData: { entry, root } });
}

export interface RunTasksOptions<T, C, R> {
  executor: Executor<T, C, R>;
  context: C;
  /** Threads (1 = inline, in order). */
  workers: number;
  onProgress?: (id: number, done: number, total: number, note: string) => void;
}

/**
 * Run `tasks` with `o.workers` threads (1 = inline, in order). Results come back in task order.
 * The first failing task stops the pool and rejects with its message.
 */
export async function runTasks<T, C, R>(tasks: T[], o: RunTasksOptions<T, C, R>): Promise<R[]> {
  const results: R[] = new Array(tasks.length);
  const { executor, context, onProgress } = o;
  if (o.workers <= 1 || tasks.length <= 1) {
    tasks.forEach((task, id) => {
      results[id] = executor.execute(task, context, (d, t, n) => onProgress?.(id, d, t, n));
      onProgress?.(id, 1, 1, ""); // finished (a reused task reports no progress of its own)
    });
    return results;
  }
  const pool = Array.from({ length: Math.min(o.workers, tasks.length) }, spawnWorker);
  let next = 0;
  try {
    await new Promise<void>((resolve, reject) => {
      let finished = 0;
      const feed = (w: Worker) => {
        if (next < tasks.length) {
          const id = next++;
          w.postMessage({ id, module: executor.module, name: executor.name, task: tasks[id], context } satisfies TaskMessage);
        }
      };
      for (const w of pool) {
        w.on("message", (e: WorkerEvent) => {
          if (e.type === "progress") onProgress?.(e.id, e.done, e.total, e.note);
          else if (e.type === "error") reject(new Error(`task ${JSON.stringify(tasks[e.id])} failed: ${e.message}\n${e.stack}`));
          else {
            results[e.id] = e.result as R;
            onProgress?.(e.id, 1, 1, ""); // finished (a reused task reports no progress of its own)
            if (++finished === tasks.length) resolve();
            else feed(w);
          }
        });
        w.on("error", reject);
        w.on("exit", (code) => { if (code !== 0 && finished < tasks.length) reject(new Error(`worker exited with code ${code}`)); });
        feed(w);
      }
    });
  } finally {
    await Promise.all(pool.map((w) => w.terminate()));
  }
  return results;
}
