/**
 * Worker-thread entry: initialises its own tfjs backend, then runs tasks sent by the pool and
 * posts progress, results and errors back. Loaded by `pool.ts`: as build/experiment/worker.js when the
 * library runs compiled (notebooks), through ts-node otherwise.
 */
import { parentPort, workerData } from "worker_threads";
import { initBackend } from "../backend";
import { executeTask, TaskMessage, WorkerEvent } from "./pool";
import { adoptStopFlag, StopError } from "./signals";

if (!parentPort) throw new Error("experiment/worker.ts must run in a worker thread");
const port = parentPort;
adoptStopFlag((workerData as { stop?: SharedArrayBuffer } | null)?.stop); // stop requests of the main thread
const ready = initBackend();

port.on("message", async (msg: TaskMessage) => {
  const post = (e: WorkerEvent) => port.postMessage(e);
  try {
    await ready;
    const result = executeTask(msg, (done, total, note) => post({ type: "progress", id: msg.id, done, total, note }));
    post({ type: "result", id: msg.id, result });
  } catch (e) {
    const err = e as Error;
    post({ type: "error", id: msg.id, message: err.message, stack: err.stack ?? "", ...(err instanceof StopError ? { stop: err.reason } : {}) });
  }
});
