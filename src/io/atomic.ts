/** Atomic file writes: write a temp file beside the target, fsync, then rename over it. */
import * as fs from "fs";
import * as path from "path";

let counter = 0;

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

/** Write `data` to `file` so that readers see either the old or the new file, never a torn one. */
export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  ensureDir(path.dirname(path.resolve(file)));
  const tmp = `${file}.${process.pid}.${counter++}.tmp`;
  const fd = fs.openSync(tmp, "w");
  try {
    fs.writeSync(fd, typeof data === "string" ? Buffer.from(data, "utf8") : data);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  try {
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}

/** JSON with two-space indentation, written atomically. */
export function writeJsonAtomic(file: string, value: unknown): void {
  writeFileAtomic(file, JSON.stringify(value, null, 2) + "\n");
}
