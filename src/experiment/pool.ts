/**
 * A generic worker pool: runs independent tasks of any type, inline or over worker threads (one per
 * core: the wasm backend is single-threaded in Node, so threads are how all cores work).
 *
 * What a task does is its executor's business: an `Executor` is a value owned by the module that
 * implements the task kind (src/experiment/tasks.ts: training and sampling; src/experiment/theory-units.ts:
 * the theory phase's units; src/sweep/run.ts: a sweep's cells), passed by whoever runs a phase. The
 * pool imports none of them; a worker thread loads the executor from the module path and export
 * name it carries.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Worker } from "worker_threads";
import { BUILD_INFO_FILE, sourceFingerprint } from "../build-info";
import type { ExperimentConfig } from "../config";
import { onStop, StopError, stopFlagBuffer, stopHandlersInstalled, StopReason } from "./signals";

/** Progress callback: units done of total, and a short note. */
export type OnProgress = (done: number, total: number, note: string) => void;

/**
 * How to run tasks of type T with a context C (shared by every task of a phase) to results R.
 * `module` (the implementing file's `__filename`) and `name` (the export holding this value) let a
 * worker thread load the same executor. `savesOnStop`: its tasks check for a stop request at safe
 * points and save before they stop (training: at the next epoch), so a stop waits for them; other
 * tasks are abandoned and redone whole on the rerun.
 */
export interface Executor<T, C, R> {
  readonly module: string;
  readonly name: string;
  readonly savesOnStop?: boolean;
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
  | { type: "error"; id: number; message: string; stack: string; stop?: StopReason };

/** Worker threads for config key `workers` (0 = one per CPU core). */
export function workerCount(cfg: Pick<ExperimentConfig, "workers">): number {
  return cfg.workers > 0 ? cfg.workers : Math.max(1, os.cpus().length);
}

/**
 * What the code a thread loads is: the compiled build's record (build/build-info.json) when running
 * compiled, else the fingerprint of src/. Worker threads load the library anew when they start, so
 * a worker started after src/ (or build/) changed would run other code than the main thread: the
 * worker compares its stamp with the main thread's and refuses to work (worker.ts).
 */
export function codeStamp(dir: string = __dirname): string {
  const compiled = path.join(dir, "worker.js");
  if (fs.existsSync(compiled)) {
    let d = dir;
    while (!fs.existsSync(path.join(d, BUILD_INFO_FILE)) && path.dirname(d) !== d) d = path.dirname(d);
    const f = path.join(d, BUILD_INFO_FILE);
    return fs.existsSync(f) ? `build ${(JSON.parse(fs.readFileSync(f, "utf8")) as { fingerprint: string }).fingerprint}` : "build (no record)";
  }
  return `src ${sourceFingerprint(path.resolve(fs.realpathSync(dir), "..", "..")).fingerprint}`;
}

/**
 * The stamp of the code this thread loaded, taken when this module loads (with the library, at the
 * start of a run or when a notebook kernel imports it): taken at the first worker's start instead,
 * a rebuild or an edit between the two (a kernel open for hours) would give the main thread's old
 * code the new stamp, and its workers' new code would pass as the same.
 */
const loadedStamp: string | null = (() => {
  try {
    return codeStamp();
  } catch {
    return null; // no stamp here (an unusual layout): taken when the first worker starts, as before
  }
})();

/** The main thread's stamp, fixed when it first starts a worker. */
let mainStamp: string | null = null;

function spawnWorker(): Worker {
  // Compiled (build/, as the notebooks load the library): the worker's JavaScript is beside this file.
  // (Not so when tslab compiles src/ through a symlink in a notebook folder: it names its in-memory
  // output src/experiment/pool.js, but no worker.js exists there.)
  const compiled = path.join(__dirname, "worker.js");
  const stop = stopFlagBuffer(); // stop requests reach the workers through this shared flag (signals.ts)
  mainStamp ??= process.env.POOL_TEST_STAMP || loadedStamp || codeStamp(); // POOL_TEST_STAMP: tests stand in for an edited src/
  const stamp = mainStamp;
  if (fs.existsSync(compiled)) return new Worker(compiled, { workerData: { stop, stamp } });
  // From the TypeScript sources (CLI, tests): ts-node compiles the worker; type checking already
  // happened in the parent's build. realpath: through a symlink to src/, __dirname is the link.
  const here = fs.realpathSync(__dirname);
  const entry = path.join(here, "worker.ts");
  const root = path.resolve(here, "..", "..");
  const boot = `
    const { workerData } = require("worker_threads");
    require(require.resolve("ts-node", { paths: [workerData.root] })).register({ transpileOnly: true, project: workerData.root + "/tsconfig.json" });
    require(workerData.entry);`;
  return new Worker(boot, { eval: true, workerData: { entry, root, stop, stamp } });
}

export interface RunTasksOptions<T, C, R> {
  executor: Executor<T, C, R>;
  context: C;
  /** Threads (1 = inline, in order, unless the stop handlers are installed). */
  workers: number;
  onProgress?: (id: number, done: number, total: number, note: string) => void;
}

/**
 * Run `tasks` with `o.workers` threads (1 = inline, in order). Results come back in task order.
 * The first failing task stops the pool and rejects with its message. With the stop handlers
 * installed (the CLI, src/experiment/signals.ts) tasks always run in worker threads, so the main
 * thread hears a signal; on a stop request no new task starts, tasks whose executor `savesOnStop`
 * save and stop at their next safe point, and the pool rejects with a StopError once they have
 * (other tasks are abandoned: a sampling run is redone whole on the rerun).
 */
export async function runTasks<T, C, R>(tasks: T[], o: RunTasksOptions<T, C, R>): Promise<R[]> {
  const results: R[] = new Array(tasks.length);
  const { executor, context, onProgress } = o;
  if ((o.workers <= 1 || tasks.length <= 1) && !stopHandlersInstalled()) {
    tasks.forEach((task, id) => {
      results[id] = executor.execute(task, context, (d, t, n) => onProgress?.(id, d, t, n));
      onProgress?.(id, 1, 1, ""); // finished (a reused task reports no progress of its own)
    });
    return results;
  }
  if (tasks.length === 0) return results;
  const pool = Array.from({ length: Math.max(1, Math.min(o.workers, tasks.length)) }, spawnWorker);
  let next = 0;
  let unsubscribe = () => {};
  try {
    await new Promise<void>((resolve, reject) => {
      let finished = 0;
      let stopping: StopReason | null = null;
      let stopMessage = "";
      const busy = new Map<Worker, number>(); // worker -> task id
      const feed = (w: Worker) => {
        if (next < tasks.length && !stopping) {
          const id = next++;
          busy.set(w, id);
          w.postMessage({ id, module: executor.module, name: executor.name, task: tasks[id], context } satisfies TaskMessage);
        }
      };
      // Stopping: wait for the tasks that save (they check between epochs), then reject.
      const settleStop = () => {
        if (stopping && !(executor.savesOnStop && busy.size > 0)) {
          reject(new StopError(stopMessage || `stopped by ${stopping.why}`, stopping));
        }
      };
      unsubscribe = onStop((r) => {
        stopping = r;
        settleStop();
      });
      for (const w of pool) {
        w.on("message", (e: WorkerEvent) => {
          if (e.type === "progress") onProgress?.(e.id, e.done, e.total, e.note);
          else if (e.type === "error") {
            busy.delete(w);
            if (e.stop) {
              stopping = stopping ?? e.stop;
              stopMessage = stopMessage ? `${stopMessage}; ${e.message}` : e.message;
              settleStop();
            } else reject(new Error(`task ${JSON.stringify(tasks[e.id])} failed: ${e.message}\n${e.stack}`));
          } else {
            busy.delete(w);
            results[e.id] = e.result as R;
            onProgress?.(e.id, 1, 1, ""); // finished (a reused task reports no progress of its own)
            if (++finished === tasks.length) resolve();
            else if (stopping) settleStop();
            else feed(w);
          }
        });
        w.on("error", reject);
        w.on("exit", (code) => { if (code !== 0 && finished < tasks.length) reject(new Error(`worker exited with code ${code}`)); });
        feed(w);
      }
    });
  } finally {
    unsubscribe();
    await Promise.all(pool.map((w) => w.terminate()));
  }
  return results;
}
