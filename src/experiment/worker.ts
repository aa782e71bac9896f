/**
 * Worker-thread entry of the generic pool (pool.ts): initialises its own tfjs backend, adopts the
 * main thread's stop flag (signals.ts), then runs the tasks it is sent, each with the executor named
 * in the message (a module path and an export name, loaded once), and posts progress, results and
 * errors back. Loaded by `pool.ts`: as build/experiment/worker.js when the library runs compiled
 * (notebooks), through ts-node otherwise.
 */
import { parentPort, workerData } from "worker_threads";
import { initBackend } from "../backend";
import { codeStamp, Executor, TaskMessage, WorkerEvent } from "./pool";
import { adoptStopFlag, StopError } from "./signals";

if (!parentPort) throw new Error("experiment/worker.ts must run in a worker thread");
const port = parentPort;
const data = workerData as { stop?: SharedArrayBuffer; stamp?: string } | null;
adoptStopFlag(data?.stop); // stop requests of the main thread
// The code this worker loaded must be the main thread's: a run that outlives an edit of src/ (or a
// rebuild) would otherwise mix two versions of the library in one result.
const mine = codeStamp();
const mismatch = data?.stamp && data.stamp !== mine
  ? `the library's code changed since this run started (${data.stamp.slice(0, 20)} then, ${mine.slice(0, 20)} now): a worker started now would run other code than the rest of the run; stop it and run the same command again (finished work is kept)`
  : null;
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
    if (mismatch) throw new Error(mismatch);
    await ready;
    const result = executorOf(msg.module, msg.name).execute(msg.task, msg.context, (done, total, note) => post({ type: "progress", id: msg.id, done, total, note }));
    post({ type: "result", id: msg.id, result });
  } catch (e) {
    const err = e as Error;
    post({ type: "error", id: msg.id, message: err.message, stack: err.stack ?? "", ...(err instanceof StopError ? { stop: err.reason } : {}) });
  }
});
