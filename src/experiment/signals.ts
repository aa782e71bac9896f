/**
 * Stopping long work cleanly: Ctrl-C (SIGINT), `kill`/`timeout` (SIGTERM), a closed terminal
 * (SIGHUP) or a parent that went away (`npm run` killed) request a stop. Training checks the request
 * between epochs, saves a checkpoint there and ends with a `StopError`; the experiment then releases
 * its output folder's lock and the CLI exits with 128 + the signal's number (130, 143, 129).
 *
 * Node runs signal handlers on the main thread's event loop, which a model training on that thread
 * would block until the model is done. So when the handlers are installed (the CLI), the worker pool
 * runs every task in a worker thread, also a single one (`--workers 1`, a phase of one task): the
 * main thread stays free to receive the signal, and passes it on through a shared flag that the
 * workers read between epochs. The library without the handlers (tests, notebooks) runs as before.
 */
import * as fs from "fs";
import { isMainThread } from "worker_threads";
import { procStart } from "./lock";

/** Why the work stops, and the exit status that reports it. */
export interface StopReason {
  signal: "SIGINT" | "SIGTERM" | "SIGHUP";
  /** 128 + signal number. */
  exitCode: number;
  /** What happened, for messages ("SIGINT (Ctrl-C)", "the parent process 1234 went away"). */
  why: string;
}

const CODES = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 } as const;
const SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;

/** Shared between the main thread and the workers: 0 = run on, else the index in SIGNALS + 1. */
let flag = new Int32Array(new SharedArrayBuffer(4));
let why = "";
let installed = false;
const listeners = new Set<(r: StopReason) => void>();

/** A stop requested by a signal: thrown by a task that saved its state and stopped. */
export class StopError extends Error {
  constructor(message: string, readonly reason: StopReason) {
    super(message);
    this.name = "StopError";
  }
}

/** The buffer to hand to a worker thread (`adoptStopFlag` there). */
export function stopFlagBuffer(): SharedArrayBuffer {
  return flag.buffer as SharedArrayBuffer;
}

/** In a worker: read stop requests from the main thread's flag. */
export function adoptStopFlag(buffer: SharedArrayBuffer | undefined): void {
  if (buffer) flag = new Int32Array(buffer);
}

/** The pending stop request, or null. Cheap: call it between training epochs. */
export function stopRequested(): StopReason | null {
  const v = Atomics.load(flag, 0);
  if (v === 0) return null;
  const signal = SIGNALS[v - 1];
  return { signal, exitCode: CODES[signal], why: why || signal };
}

/** Request a stop (the signal handlers call this; tests may too). The first request wins. */
export function requestStop(signal: StopReason["signal"], reason?: string): void {
  if (Atomics.compareExchange(flag, 0, 0, SIGNALS.indexOf(signal) + 1) !== 0) return;
  why = reason ?? (signal === "SIGINT" ? "SIGINT (Ctrl-C)" : signal);
  const r = stopRequested()!;
  for (const l of listeners) l(r);
}

/** Call `f` when a stop is requested (at once if one is pending); returns the unsubscribe function. */
export function onStop(f: (r: StopReason) => void): () => void {
  const r = stopRequested();
  if (r) f(r);
  listeners.add(f);
  return () => listeners.delete(f);
}

/** Are the handlers installed (then tasks run in worker threads, see the file comment)? */
export function stopHandlersInstalled(): boolean {
  return installed;
}

/**
 * Install the handlers (the CLI, once): SIGINT, SIGTERM and SIGHUP request a stop; so does the
 * `npm run` that started this process going away (checked every `parentCheckMs`, so a `kill -9` of
 * npm does not leave an orphan training on). Work has `graceMs` to save and stop; then, or on a second signal,
 * the process exits at once (the lock is released by the exit hook; finished checkpoints and runs
 * are on disk).
 */
export function installStopHandlers(o: { log?: (line: string) => void; graceMs?: number; parentCheckMs?: number } = {}): void {
  if (installed || !isMainThread) return;
  installed = true;
  const log = o.log ?? ((s: string) => console.error(s));
  const graceMs = o.graceMs ?? 30_000;
  const hardExit = (r: StopReason) => process.exit(r.exitCode);
  for (const sig of SIGNALS) {
    process.on(sig, () => {
      const pending = stopRequested();
      if (pending) {
        log(`${sig} again: exiting now`);
        hardExit(pending);
      }
      requestStop(sig);
    });
  }
  onStop((r) => {
    log(`\nstopping (${r.why}): saving at the next safe point (up to ${Math.round(graceMs / 1000)} s; again to exit at once)`);
    setTimeout(() => {
      log(`stopping took longer than ${Math.round(graceMs / 1000)} s: exiting`);
      hardExit(r);
    }, graceMs).unref();
  });
  // Under `npm run`, the chain of parents up to npm (npm -> sh -c -> node): if one goes away (npm
  // killed with -9), stop rather than train on as an orphan holding the lock. Run directly (nohup, a
  // job array), the parent may come and go; only the signals count then.
  const chain = npmAncestors();
  const timer = setInterval(() => {
    const gone = chain.find((a) => procStart(a.pid) !== a.start);
    if (gone) {
      clearInterval(timer);
      requestStop("SIGHUP", `the parent process ${gone.pid} (${gone.name}) went away`);
    }
  }, o.parentCheckMs ?? 500);
  timer.unref();
}

/**
 * The parents of this process up to the `npm` that started it (empty when not started by `npm
 * run`, or when /proc cannot tell), with their kernel start times.
 */
export function npmAncestors(): { pid: number; start: string; name: string }[] {
  if (!process.env.npm_lifecycle_event) return [];
  const out: { pid: number; start: string; name: string }[] = [];
  let pid = process.ppid;
  for (let depth = 0; depth < 4 && pid > 1; depth++) {
    const start = procStart(pid);
    let argv: string[] = [];
    let ppid = 0;
    try {
      argv = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean);
      const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
      ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
    } catch {
      return [];
    }
    if (start === null) return [];
    // npm sets its process title to "npm run ..." (one string); before that it is node .../npm-cli.js or node .../npm
    const isNpm = /^npm( |$)/.test(argv[0] ?? "") || /^\S*\/npm$/.test(argv[0] ?? "") || argv.slice(0, 2).some((a) => /(^|\/)npm-cli\.js$/.test(a)) || (/(^|\/)node$/.test(argv[0] ?? "") && /(^|\/)npm$/.test(argv[1] ?? ""));
    out.push({ pid, start, name: isNpm ? "npm" : argv[0] ?? "?" });
    if (isNpm) return out;
    pid = ppid;
  }
  return []; // no npm within reach: do not guess
}
