/**
 * Atomic file writes: write a temp file beside the target (every byte, checked), fsync, then
 * rename over it. A write that fails (a full disk, an I/O error) removes the temp file, leaves the
 * previous version of the target as it was, and throws an error naming the target.
 */
import * as fs from "fs";
import * as path from "path";

let counter = 0;

/**
 * The file-system calls the writers use. Tests replace `writeSync` to inject a short write or an
 * ENOSPC (tests of a full disk that run where no small file system can be mounted).
 */
export const atomicFs = {
  writeSync: (fd: number, buf: Uint8Array, offset: number, length: number): number => fs.writeSync(fd, buf, offset, length),
  fsyncSync: (fd: number): void => fs.fsyncSync(fd),
};

/**
 * `mkdir -p` that fails instead of hanging: Node's own recursive mkdirSync loops forever on some
 * paths (e.g. under /proc), so parents are created one at a time, and an error names the folder.
 */
export function ensureDir(dir: string): void {
  const abs = path.resolve(dir);
  const missing: string[] = [];
  for (let d = abs; !fs.existsSync(d); d = path.dirname(d)) {
    missing.unshift(d);
    if (path.dirname(d) === d) break;
  }
  for (const d of missing) {
    try {
      fs.mkdirSync(d);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw new Error(`cannot create folder ${abs}: ${(e as Error).message}`);
    }
  }
  if (!fs.statSync(abs).isDirectory()) throw new Error(`cannot create folder ${abs}: a file of that name exists`);
}

/** Write all of `bytes` to `fd`: `write(2)` may write fewer bytes than asked (a full disk, a signal). */
export function writeFully(fd: number, bytes: Uint8Array): void {
  let off = 0;
  while (off < bytes.length) {
    const n = atomicFs.writeSync(fd, bytes, off, bytes.length - off);
    if (!(n > 0)) {
      const e = new Error(`write returned ${n} after ${off} of ${bytes.length} bytes (no space left on device?)`) as NodeJS.ErrnoException;
      e.code = "ENOSPC";
      throw e;
    }
    off += n;
  }
}

function toBytes(data: string | Uint8Array): Uint8Array {
  return typeof data === "string" ? Buffer.from(data, "utf8") : data;
}

/** The error of a failed write of `file`: names the file and says what is left. */
function writeError(file: string, e: unknown): Error {
  const err = e as NodeJS.ErrnoException;
  const left = fs.existsSync(file) ? `the previous version of ${file} is intact` : `${file} was not created`;
  const out = new Error(`cannot write ${file}: ${err.message}; ${left}`) as NodeJS.ErrnoException;
  if (err.code) out.code = err.code;
  return out;
}

/** Write `data` completely into a new temp file beside `file` and fsync it; returns the temp file. */
function stage(file: string, data: string | Uint8Array): string {
  try {
    ensureDir(path.dirname(path.resolve(file)));
  } catch (e) {
    throw writeError(file, e);
  }
  const tmp = `${file}.${process.pid}.${counter++}.tmp`;
  let fd = -1;
  try {
    fd = fs.openSync(tmp, "w");
    writeFully(fd, toBytes(data));
    atomicFs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = -1;
    return tmp;
  } catch (e) {
    if (fd >= 0) {
      try {
        fs.closeSync(fd);
      } catch {
        /* already failing */
      }
    }
    fs.rmSync(tmp, { force: true });
    throw writeError(file, e);
  }
}

function commit(tmp: string, file: string): void {
  try {
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw writeError(file, e);
  }
}

/**
 * Write `data` to `file` so that readers see either the old or the new file, never a torn one. On
 * a full disk or an I/O error it throws "cannot write <file>: ...; the previous version of <file> is
 * intact" and leaves no temp file.
 */
export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  commit(stage(file, data), file);
}

/**
 * Write several files as one: every file is written completely to its temp file first, and only
 * then are they renamed into place (in the given order). A full disk or an I/O error while writing
 * leaves every previous version as it was, so files that belong together (results.json, its tables
 * and config.json) never mix two runs.
 */
export function writeFilesAtomic(files: { file: string; data: string | Uint8Array }[]): void {
  const staged: string[] = [];
  try {
    for (const f of files) staged.push(stage(f.file, f.data));
  } catch (e) {
    for (const t of staged) fs.rmSync(t, { force: true });
    const failed = files[staged.length].file;
    const others = files.map((f) => f.file).filter((f) => f !== failed);
    const out = new Error(`${(e as Error).message}${others.length > 0 ? `; the files written with it (${others.map((f) => path.basename(f)).join(", ")}) are unchanged too` : ""}`) as NodeJS.ErrnoException;
    out.code = (e as NodeJS.ErrnoException).code;
    throw out;
  }
  files.forEach((f, i) => commit(staged[i], f.file));
}

/** JSON with two-space indentation, written atomically. */
export function writeJsonAtomic(file: string, value: unknown): void {
  writeFileAtomic(file, JSON.stringify(value, null, 2) + "\n");
}
