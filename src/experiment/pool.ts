/**
 * Runs independent tasks (train one model, draw one sampling run) inline or over worker threads,
 * one per core: the wasm backend is single-threaded in Node, so threads are how all cores work.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Worker } from "worker_threads";
import { ExperimentConfig } from "../config";
import { Variant } from "../model/variants";
import { TheoryUnit, theoryUnitTask, TheoryUnitResult } from "../theory/units";
import { onStop, StopError, stopFlagBuffer, stopHandlersInstalled, StopReason } from "./signals";
import { OnProgress, Paths, sampleTask, SampleTaskResult, trainTask, TrainTaskResult } from "./tasks";

export type Task =
  | { kind: "train"; variant: Variant; seed: number }
  | { kind: "sample"; variant: Variant; seed: number; run: number; weights: "ema" | "raw"; saveNpy: boolean }
  | { kind: "theory"; unit: TheoryUnit };

export type TaskResult = TrainTaskResult | SampleTaskResult | TheoryUnitResult;

export interface TaskMessage {
  id: number;
  task: Task;
  cfg: ExperimentConfig;
  paths: Paths;
}

export type WorkerEvent =
  | { type: "progress"; id: number; done: number; total: number; note: string }
  | { type: "result"; id: number; result: TaskResult }
  | { type: "error"; id: number; message: string; stack: string; stop?: StopReason };

/** Run one task in this thread (the backend must be initialised). */
export function executeTask(m: TaskMessage, onProgress?: OnProgress): TaskResult {
  const t = m.task;
  switch (t.kind) {
    case "train":
      return trainTask(m.cfg, m.paths, t.variant, t.seed, onProgress);
    case "sample":
      return sampleTask(m.cfg, m.paths, t.variant, t.seed, t.run, t.weights, { saveNpy: t.saveNpy, onProgress });
    case "theory":
      return theoryUnitTask(m.cfg, m.paths, t.unit, onProgress);
    default: {
      const never: never = t;
      throw new Error(`unknown task ${JSON.stringify(never)}`);
    }
  }
}

export function workerCount(cfg: ExperimentConfig): number {
  return cfg.workers > 0 ? cfg.workers : Math.max(1, os.cpus().length);
}

function spawnWorker(): Worker {
  // Compiled (build/, as the notebooks load the library): the worker's JavaScript is beside this file.
  // (Not so when tslab compiles src/ through a symlink in a notebook folder: it names its in-memory
  // output src/experiment/pool.js, but no worker.js exists there.)
  const compiled = path.join(__dirname, "worker.js");
  const stop = stopFlagBuffer(); // stop requests reach the workers through this shared flag (signals.ts)
  if (fs.existsSync(compiled)) return new Worker(compiled, { workerData: { stop } });
  // From the TypeScript sources (CLI, tests): ts-node compiles the worker; type checking already
  // happened in the parent's build. realpath: through a symlink to src/, __dirname is the link.
  const here = fs.realpathSync(__dirname);
  const entry = path.join(here, "worker.ts");
  const root = path.resolve(here, "..", "..");
  const boot = `
    const { workerData } = require("worker_threads");
    require(require.resolve("ts-node", { paths: [workerData.root] })).register({ transpileOnly: true, project: workerData.root + "/tsconfig.json" });
    require(workerData.entry);`;
  return new Worker(boot, { eval: true, workerData: { entry, root, stop } });
}

/**
 * Run `tasks` with `workers` threads (1 = inline, in order). Results come back in task order.
 * The first failing task stops the pool and rejects with its message. With the stop handlers
 * installed (the CLI, src/experiment/signals.ts) tasks always run in worker threads, so the main
 * thread hears a signal; on a stop request no new task starts, training tasks save and stop at
 * their next epoch, and the pool rejects with a StopError once they have (other tasks are
 * abandoned: a sampling run is redone whole on the rerun).
 */
export async function runTasks(
  tasks: Task[], cfg: ExperimentConfig, paths: Paths, workers: number,
  onProgress?: (id: number, done: number, total: number, note: string) => void,
): Promise<TaskResult[]> {
  const results: TaskResult[] = new Array(tasks.length);
  if ((workers <= 1 || tasks.length <= 1) && !stopHandlersInstalled()) {
    tasks.forEach((task, id) => {
      results[id] = executeTask({ id, task, cfg, paths }, (d, t, n) => onProgress?.(id, d, t, n));
      onProgress?.(id, 1, 1, ""); // finished (a reused task reports no progress of its own)
    });
    return results;
  }
  if (tasks.length === 0) return results;
  const pool = Array.from({ length: Math.max(1, Math.min(workers, tasks.length)) }, spawnWorker);
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
          w.postMessage({ id, task: tasks[id], cfg, paths } satisfies TaskMessage);
        }
      };
      // Stopping: wait for the training tasks to save (they check between epochs), then reject.
      const settleStop = () => {
        if (stopping && ![...busy.values()].some((id) => tasks[id].kind === "train")) {
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
            results[e.id] = e.result;
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
