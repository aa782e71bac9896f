/** Library version, read from package.json (recorded in every checkpoint and result). */
import * as fs from "fs";
import * as path from "path";

export function libraryVersion(): string {
  // realpath: __dirname may run through a symlink to src/ (a notebook folder linking it).
  const pkg = JSON.parse(fs.readFileSync(path.join(fs.realpathSync(__dirname), "..", "package.json"), "utf8")) as { version: string };
  return pkg.version;
}
