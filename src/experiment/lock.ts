/**
 * One writer per output folder: `<outDir>/.lock` holds the owner's pid, host, start time and
 * command. A second writer gets an error naming the owner; a lock whose owner is gone (killed,
 * `kill -9`, power cut) is taken over. Locks are re-entrant within a process, so a notebook kernel
 * can call several locking functions in turn, and a cell interrupted while holding one does not
 * lock the kernel out of its own folder. A parent process that holds the lock (scripts/pipeline.sh,
 * through scripts/output-lock.ts) passes its token in OUTPUT_LOCK_TOKEN; its children then write
 * under the parent's lock.
 */
import { randomBytes } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { ensureDir, writeFileAtomic } from "../io/atomic";

interface LockInfo {
  pid: number;
  host: string;
  /** Kernel start time of the process (Linux /proc/<pid>/stat field 22), to tell a reused pid apart. */
  procStart: string | null;
  startedAt: string;
  command: string;
  /** Random; children of the owner that carry it in OUTPUT_LOCK_TOKEN write under this lock. */
  token: string;
}

/** Locks this process holds: absolute lock file -> hold count. */
const held = new Map<string, number>();
let exitHook = false;

/** Kernel start time of process `pid` (tells a reused pid apart), or null when it is gone or unknown. */
export function procStart(pid: number): string | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    // Field 2 (comm) may hold spaces and parentheses: split after its closing parenthesis.
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19] ?? null;
  } catch {
    return null;
  }
}

/** Is the lock's owner a live process (on this host)? Owners on other hosts count as live. */
function ownerAlive(l: LockInfo): boolean {
  if (l.host !== os.hostname()) return true;
  try {
    process.kill(l.pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ESRCH") return false;
  }
  const start = procStart(l.pid);
  return l.procStart === null || start === null || start === l.procStart;
}

function readLock(file: string): LockInfo | null {
  try {
    return JSON.parse(fs.readFileSync(file, "utf8")) as LockInfo;
  } catch {
    return null; // vanished, or torn by a crash between open and write: treat as no owner
  }
}

function describe(l: LockInfo): string {
  return `pid ${l.pid} on ${l.host}, since ${l.startedAt}: ${l.command}`;
}

/**
 * Take the lock of `outDir` (creating the folder) for `command`; returns the release function.
 * Throws, naming the owner, when another live process holds it, and naming the folder when it
 * cannot be created or written.
 */
export function lockOutputDir(outDir: string, command: string, o: { pid?: number } = {}): () => void {
  const dir = path.resolve(outDir);
  try {
    ensureDir(dir);
  } catch (e) {
    throw new Error(`cannot create output folder ${dir}: ${(e as Error).message.replace(/^cannot create folder \S+: /, "")}`);
  }
  const file = path.join(dir, ".lock");
  const count = held.get(file);
  if (count !== undefined) {
    held.set(file, count + 1);
    return once(() => release(file));
  }
  const pid = o.pid ?? process.pid;
  const me: LockInfo = { pid, host: os.hostname(), procStart: procStart(pid), startedAt: new Date().toISOString(), command, token: randomBytes(12).toString("hex") };
  const inherited = process.env.OUTPUT_LOCK_TOKEN;
  const deadline = Date.now() + 3000;
  for (let attempt = 0; attempt < 8 || Date.now() < deadline; attempt++) {
    if (createExclusive(file, JSON.stringify(me) + "\n", dir)) {
      testDelay();
      if (o.pid !== undefined && o.pid !== process.pid) return once(() => { if (readLock(file)?.token === me.token) fs.rmSync(file, { force: true }); }); // held for another process
      held.set(file, 1);
      if (!exitHook) {
        exitHook = true;
        process.on("exit", () => { for (const f of held.keys()) fs.rmSync(f, { force: true }); });
      }
      return once(() => release(file));
    }
    const owner = readLock(file);
    if (owner === null && fs.existsSync(file) && Date.now() - mtimeMs(file) < 2000) {
      // Unreadable but fresh: a lock being written by an older version of this library (which
      // created the file first and wrote it after). Wait for its content.
      sleepMs(50);
      continue;
    }
    if (owner && inherited && owner.token === inherited && ownerAlive(owner)) return () => {}; // the parent's lock
    const mine = owner && owner.pid === process.pid && owner.host === me.host;
    if (owner && !mine && owner.host !== me.host) {
      throw new Error(`output folder ${dir} is locked by a run on another host (${describe(owner)}); this machine cannot tell whether it still runs. Check on ${owner.host}; if that run is over, delete ${file} and start again`);
    }
    if (owner && !mine && ownerAlive(owner)) {
      throw new Error(`output folder ${dir} is in use by another run (${describe(owner)}); wait for it to finish or choose another output folder (a lock left by a dead process is taken over)`);
    }
    // The owner is gone (or it is this process, whose holder was interrupted): take over. Move the
    // stale file aside first, and only if it is still the one we judged stale (another process may
    // have taken over between our read and our rename).
    const aside = `${file}.stale.${process.pid}.${attempt}`;
    try {
      fs.renameSync(file, aside);
    } catch {
      continue; // someone else moved it: try again
    }
    const moved = readLock(aside);
    if (owner && moved && JSON.stringify(moved) !== JSON.stringify(owner) && ownerAlive(moved)) {
      try {
        fs.renameSync(aside, file); // it was a live owner's fresh lock: put it back
      } catch {
        /* the owner re-created it meanwhile */
      }
      throw new Error(`output folder ${dir} is in use by another run (${describe(moved)}); wait for it to finish or choose another output folder`);
    }
    fs.rmSync(aside, { force: true });
  }
  throw new Error(`could not take the lock ${file} (several runs starting at once?); try again`);
}

/**
 * Create `file` holding `content`, or return false when it exists. The lock appears with its whole
 * content in one step: the content goes to a temp file, which is hard-linked to the lock's name
 * (link(2) fails with EEXIST if the name exists), so no other process can ever read a lock that is
 * still empty and judge it stale. Where hard links are not supported, falls back to an exclusive
 * create.
 */
function createExclusive(file: string, content: string, dir: string): boolean {
  const tmp = `${file}.${process.pid}.${randomBytes(6).toString("hex")}.new`;
  try {
    writeFileAtomic(tmp, content);
  } catch (e) {
    throw new Error(`cannot write to output folder ${dir}: ${(e as Error).message}`);
  }
  try {
    fs.linkSync(tmp, file);
    return true;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "EEXIST") return false;
    if (code !== "EPERM" && code !== "ENOTSUP" && code !== "EOPNOTSUPP" && code !== "ENOSYS") throw new Error(`cannot write to output folder ${dir}: ${(e as Error).message}`);
    try {
      fs.writeFileSync(file, content, { flag: "wx" });
      return true;
    } catch (e2) {
      if ((e2 as NodeJS.ErrnoException).code === "EEXIST") return false;
      throw new Error(`cannot write to output folder ${dir}: ${(e2 as Error).message}`);
    }
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

function mtimeMs(file: string): number {
  try {
    return fs.statSync(file).mtimeMs;
  } catch {
    return 0;
  }
}

function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * Test hook: OUTPUT_LOCK_TEST_DELAY_MS holds a new lock that long before using it, widening the
 * window in which a second process starting at the same moment could misread it.
 */
function testDelay(): void {
  const ms = Number(process.env.OUTPUT_LOCK_TEST_DELAY_MS ?? 0);
  if (ms > 0) sleepMs(ms);
}

/**
 * The live owner of `outDir`'s lock other than this process (and its parent's lock), or null:
 * for readers that must not read a folder while another run writes it (merge).
 */
export function lockHolder(outDir: string): string | null {
  const owner = readLock(path.join(path.resolve(outDir), ".lock"));
  if (!owner) return null;
  if (owner.host === os.hostname() && owner.pid === process.pid) return null;
  if (process.env.OUTPUT_LOCK_TOKEN && owner.token === process.env.OUTPUT_LOCK_TOKEN) return null;
  return ownerAlive(owner) ? describe(owner) : null;
}

function release(file: string): void {
  const count = held.get(file);
  if (count === undefined) return;
  if (count > 1) {
    held.set(file, count - 1);
    return;
  }
  held.delete(file);
  const owner = readLock(file);
  if (owner && owner.pid === process.pid) fs.rmSync(file, { force: true });
}

function once(f: () => void): () => void {
  let done = false;
  return () => {
    if (!done) {
      done = true;
      f();
    }
  };
}

/** The token of the lock file in `outDir` (for OUTPUT_LOCK_TOKEN), or null. */
export function lockToken(outDir: string): string | null {
  return readLock(path.join(path.resolve(outDir), ".lock"))?.token ?? null;
}

/** Run `f` holding the lock of `outDir`. */
export async function withOutputLock<T>(outDir: string, command: string, f: () => Promise<T> | T): Promise<T> {
  const unlock = lockOutputDir(outDir, command);
  try {
    return await f();
  } finally {
    unlock();
  }
}

/** The same, for synchronous work. */
export function withOutputLockSync<T>(outDir: string, command: string, f: () => T): T {
  const unlock = lockOutputDir(outDir, command);
  try {
    return f();
  } finally {
    unlock();
  }
}
