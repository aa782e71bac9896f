/**
 * Worker-thread entry of the generic pool (pool.ts): initialises its own tfjs backend, adopts the
 * main thread's stop flag (signals.ts), then runs the tasks it is sent, each with the executor named
 * in the message (a module path and an export name, loaded once), and posts progress, results and
 * errors back. Loaded by `pool.ts`: as build/experiment/worker.js when the library runs compiled
 * (notebooks), through ts-node otherwise.
 */
import { parentPort, workerData } from "worker_threads";
import { initBackend } from "../backend";
import type { Executor, TaskMessage, WorkerEvent } from "./pool";
import { adoptStopFlag, StopError } from "./signals";

if (!parentPort) throw new Error("experiment/worker.ts must run in a worker thread");
const port = parentPort;
adoptStopFlag((workerData as { stop?: SharedArrayBuffer } | null)?.stop); // stop requests of the main thread
const ready = initBackend();
const executors = new Map<string, Executor<unknown, unknown, unknown>>();

/** The executor `name` exported by `module` (loaded by path: the pool itself imports no task module). */
function executorOf(module: string, name: string): Executor<unknown, unknown, unknown> {
  const key = `${module}#${name}`;
  let e = executors.get(key);
  if (!e) {
    e = (require(module) as Record<string, Executor<unknown, unknown, unknown>>)[name];
    if (!e || typeof e.execute !== "function") throw new Error(`no executor '${name}' exported by ${module}`);
    executors.set(key, e);
  }
  return e;
}

port.on("message", async (msg: TaskMessage) => {
  const post = (e: WorkerEvent) => port.postMessage(e);
  try {
    await ready;
    const result = executorOf(msg.module, msg.name).execute(msg.task, msg.context, (done, total, note) => post({ type: "progress", id: msg.id, done, total, note }));
    post({ type: "result", id: msg.id, result });
  } catch (e) {
    const err = e as Error;
    post({ type: "error", id: msg.id, message: err.message, stack: err.stack ?? "", ...(err instanceof StopError ? { stop: err.reason } : {}) });
  }
});
