/**
 * The output-folder lock for shell scripts (src/experiment/lock.ts):
 *   ts-node scripts/output-lock.ts acquire DIR --pid PID --command TEXT   prints the lock's token
 *   ts-node scripts/output-lock.ts release DIR --token TOKEN
 * scripts/pipeline.sh takes the lock for its own pid and exports the token as OUTPUT_LOCK_TOKEN,
 * so the experiment and the notebooks it starts write under its lock and nobody else can.
 */
import * as fs from "fs";
import * as path from "path";
import { lockOutputDir, lockToken } from "../src/experiment/lock";

function flag(args: string[], name: string): string | undefined {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
}

function main(): void {
  const [what, dir, ...rest] = process.argv.slice(2);
  if (!dir || (what !== "acquire" && what !== "release")) throw new Error("usage: output-lock.ts acquire|release DIR [--pid PID --command TEXT | --token TOKEN]");
  if (what === "acquire") {
    const pid = Number(flag(rest, "pid") ?? process.ppid);
    if (!Number.isInteger(pid) || pid <= 0) throw new Error(`--pid must be a process id, got '${flag(rest, "pid")}'`);
    lockOutputDir(dir, flag(rest, "command") ?? "shell script", { pid });
    console.log(lockToken(dir));
    return;
  }
  const token = flag(rest, "token");
  const file = path.join(path.resolve(dir), ".lock");
  if (token && lockToken(dir) === token) fs.rmSync(file, { force: true });
}

try {
  main();
} catch (e) {
  console.error(`error: ${(e as Error).message}`);
  process.exit(1);
}
