/**
 * TensorFlow.js backend selection.
 *
 * Order of preference: `tensorflow` (the native binding from @tensorflow/tfjs-node, when it
 * really loads), then `wasm` (SIMD, single thread in Node), then `cpu`. The module name is not
 * trusted: in this project `@tensorflow/tfjs-node` may resolve to pure tfjs through the npm
 * override that danfojs-node needs, so we check the backend that is active afterwards.
 */
import * as tf from "@tensorflow/tfjs-core";

export type BackendName = "tensorflow" | "wasm" | "cpu";
export const BACKEND_NAMES: readonly BackendName[] = ["tensorflow", "wasm", "cpu"];

export interface BackendInfo {
  /** Backend that is active now. */
  name: BackendName;
  /** Backends that were tried and why each one was not taken. */
  skipped: { name: BackendName; reason: string }[];
  tfjsVersion: string;
}

let active: BackendInfo | undefined;

function parseBackend(name: string): BackendName {
  if ((BACKEND_NAMES as readonly string[]).includes(name)) return name as BackendName;
  throw new Error(`unknown tfjs backend '${name}' (expected one of ${BACKEND_NAMES.join(", ")})`);
}

async function tryNative(): Promise<string | undefined> {
  try {
    // Loads only where the user installed the real native package; never a dependency of ours.
    const mod = "@tensorflow/tfjs-node";
    require(mod);
  } catch (e) {
    return `not installed (${(e as Error).message.split("\n")[0]})`;
  }
  if (!tf.engine().registryFactory["tensorflow"]) {
    return "module '@tensorflow/tfjs-node' loaded but registered no 'tensorflow' backend (it is pure tfjs, mapped by an npm override)";
  }
  const ok = await tf.setBackend("tensorflow");
  return ok && tf.getBackend() === "tensorflow" ? undefined : "the 'tensorflow' backend failed to initialise";
}

async function tryWasm(): Promise<string | undefined> {
  try {
    require("@tensorflow/tfjs-backend-wasm");
  } catch (e) {
    return `cannot load @tensorflow/tfjs-backend-wasm: ${(e as Error).message}`;
  }
  const ok = await tf.setBackend("wasm");
  return ok && tf.getBackend() === "wasm" ? undefined : "the 'wasm' backend failed to initialise";
}

async function tryCpu(): Promise<string | undefined> {
  require("@tensorflow/tfjs-backend-cpu");
  const ok = await tf.setBackend("cpu");
  return ok && tf.getBackend() === "cpu" ? undefined : "the 'cpu' backend failed to initialise";
}

/**
 * Select and initialise a backend once per process. `prefer` (or the environment variable
 * `TFJS_BACKEND`) forces one backend and fails loudly if it cannot run.
 */
export async function initBackend(prefer?: BackendName): Promise<BackendInfo> {
  const forced = prefer ?? (process.env.TFJS_BACKEND ? parseBackend(process.env.TFJS_BACKEND) : undefined);
  if (active && (!forced || forced === active.name)) return active;
  const tries: [BackendName, () => Promise<string | undefined>][] = [
    ["tensorflow", tryNative],
    ["wasm", tryWasm],
    ["cpu", tryCpu],
  ];
  const skipped: BackendInfo["skipped"] = [];
  for (const [name, attempt] of tries) {
    if (forced && name !== forced) continue;
    const reason = await attempt();
    if (reason === undefined) {
      await tf.ready();
      active = { name, skipped, tfjsVersion: tf.version_core };
      return active;
    }
    if (forced) throw new Error(`tfjs backend '${forced}' was requested but ${reason}`);
    skipped.push({ name, reason });
  }
  throw new Error(`no tfjs backend could start: ${skipped.map((s) => `${s.name}: ${s.reason}`).join("; ")}`);
}

/** The active backend, or an error if `initBackend` has not run. */
export function backendInfo(): BackendInfo {
  if (!active) throw new Error("tfjs backend not initialised: call `await initBackend()` first");
  return active;
}
