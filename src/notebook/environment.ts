/**
 * What the notebooks and the pipeline run on: tool versions (recorded in run.json) and a loud
 * check that everything the notebooks need is there (00_environment, scripts/pipeline.sh).
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as tf from "@tensorflow/tfjs-core";
import { chromiumPath } from "../plot/export";
import { plotlyVersion } from "../plot/plotly";

export const JUPYTER = "/usr/bin/jupyter";

/** Version of an installed npm package, read from its package.json (the package is not loaded). */
export function packageVersion(name: string): string {
  let dir = path.dirname(require.resolve(name));
  for (;;) {
    const file = path.join(dir, "package.json");
    if (fs.existsSync(file)) {
      const pkg = JSON.parse(fs.readFileSync(file, "utf8")) as { name?: string; version?: string };
      if (pkg.name === name && pkg.version) return pkg.version;
    }
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`cannot find package.json of '${name}'`);
    dir = up;
  }
}

function run(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 60_000 }).trim();
}

/** `jupyter --version` as { jupyter_core: "5.7.2", nbclient: ..., ... } (empty if Jupyter is missing). */
export function jupyterVersions(): Record<string, string> {
  if (!fs.existsSync(JUPYTER)) return {};
  const out: Record<string, string> = {};
  for (const line of run(JUPYTER, ["--version"]).split("\n")) {
    const m = /^\s*([\w-]+)\s*:\s*(\S+)/.exec(line);
    if (m) out[m[1]] = m[2];
  }
  return out;
}

/** Versions of everything a run depends on; a missing tool reads "missing (...)". */
export function collectVersions(): Record<string, string | Record<string, string>> {
  const safe = (f: () => string) => {
    try {
      return f();
    } catch (e) {
      return `missing (${(e as Error).message.split("\n")[0]})`;
    }
  };
  return {
    node: process.version,
    tfjs: tf.version_core,
    tfjsBackendWasm: safe(() => packageVersion("@tensorflow/tfjs-backend-wasm")),
    tslab: safe(() => packageVersion("tslab")),
    danfojs: safe(() => packageVersion("danfojs-node")),
    plotly: safe(() => plotlyVersion()),
    playwrightCore: safe(() => packageVersion("playwright-core")),
    typescript: safe(() => packageVersion("typescript")),
    chromium: safe(() => run(chromiumPath(), ["--version"])),
    jupyter: safe(() => {
      const v = jupyterVersions();
      if (Object.keys(v).length === 0) throw new Error(`${JUPYTER} not found`);
      return Object.entries(v).map(([k, x]) => `${k} ${x}`).join(", ");
    }),
    python: safe(() => run("/usr/bin/python3", ["--version"])),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    cpus: `${os.cpus().length} x ${os.cpus()[0]?.model ?? "?"}`,
  };
}

export interface DanfoCheck {
  version: string;
  loadMs: number;
  /** tfjs backend before and after loading danfo. */
  backendBefore: string;
  backendAfter: string;
  /** Backends registered in our tfjs-core after loading danfo. */
  registered: string[];
  /** Distinct @tensorflow/tfjs-core copies loaded in this process (1 = danfo shares ours). */
  tfjsCoreCopies: string[];
}

/**
 * Load danfojs-node and report what it costs and whether it disturbed tfjs (it pulls in pure
 * @tensorflow/tfjs through the npm override, which registers the cpu backend).
 */
export function checkDanfo(): DanfoCheck {
  const backendBefore = tf.getBackend();
  const t0 = Date.now();
  require("danfojs-node");
  const loadMs = Date.now() - t0;
  const cores = new Set<string>();
  for (const f of Object.keys(require.cache)) {
    const m = /^(.*[\\/]@tensorflow[\\/]tfjs-core)[\\/]dist[\\/]/.exec(f);
    if (m) cores.add(fs.realpathSync(m[1]));
  }
  return {
    version: packageVersion("danfojs-node"), loadMs, backendBefore, backendAfter: tf.getBackend(),
    registered: Object.keys(tf.engine().registryFactory), tfjsCoreCopies: [...cores],
  };
}

/**
 * Throw one error listing everything missing that the notebooks need: Chromium (figure export),
 * Jupyter with the tslab kernel, the dataset folder, plotly.js, playwright-core, danfojs-node.
 */
export function checkEnvironment(o: { dataDir: string }): void {
  const problems: string[] = [];
  const need = (ok: boolean, what: string) => { if (!ok) problems.push(what); };
  need(fs.existsSync(chromiumPath()), `Chromium not found at ${chromiumPath()} (figure export): run 'sudo sh scripts/setup-jupyter.sh' or set CHROMIUM_PATH`);
  need(fs.existsSync(JUPYTER), `${JUPYTER} not found: run 'sudo sh scripts/setup-jupyter.sh'`);
  if (fs.existsSync(JUPYTER)) {
    let specs = "";
    try {
      specs = run(JUPYTER, ["kernelspec", "list"]);
    } catch (e) {
      specs = (e as Error).message;
    }
    need(/\btslab\b/.test(specs), "no 'tslab' Jupyter kernel registered: run 'sudo sh scripts/setup-jupyter.sh'");
  }
  need(fs.existsSync(o.dataDir) && fs.statSync(o.dataDir).isDirectory(), `dataset folder ${o.dataDir} does not exist (it is committed as data/; set DATA_DIR)`);
  for (const pkg of ["plotly.js-dist-min", "playwright-core", "danfojs-node", "tslab"]) {
    try {
      packageVersion(pkg);
    } catch (e) {
      problems.push(`npm package '${pkg}' is missing (${(e as Error).message.split("\n")[0]}): run 'npm ci'`);
    }
  }
  if (problems.length > 0) throw new Error(`environment is incomplete:\n - ${problems.join("\n - ")}`);
}
