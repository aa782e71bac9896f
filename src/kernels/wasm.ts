/**
 * Loading the fused kernels (src/kernels/*.wasm). The few WebAssembly API pieces used are typed
 * here: tsconfig's lib (ES2020, no DOM) and @types/node 20 declare no `WebAssembly` global.
 */
import * as fs from "fs";
import { getVariant, Variant } from "../model/variants";
import { kernelKinds } from "./constants";

export interface WasmMemory { readonly buffer: ArrayBuffer; grow(pages: number): number }
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: unknown };
}
const WASM = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

/**
 * The kernel kind (src/kernels/constants.ts `kernelKinds`, shared with assembly/ through the
 * generated assembly/_constants.ts) that computes `variant`. A variant whose descriptor has no
 * `wasm` part is an error that names the tfjs engine; one whose kind the compiled kernels predate
 * (a new variant before `npm run gen && npm run build:wasm`) is caught by the callers' layout checks.
 */
export function wasmKernelOf(variant: Variant, what: "training" | "sampling"): number {
  const k = getVariant(variant).wasm === null ? undefined : kernelKinds()[variant];
  if (k === undefined) {
    const flag = what === "training" ? "--trainEngine tfjs (config key trainEngine)" : "--sampleEngine tfjs (config key sampleEngine)";
    throw new Error(`the fused WebAssembly ${what} engine does not implement variant '${variant}'; use the tfjs engine: ${flag}`);
  }
  return k;
}

const compiled = new Map<string, object>();

/** A fresh instance (with its own memory) of the WebAssembly module in `file`, compiled once per process. */
export function instantiateWasm<T>(file: string): T {
  let module = compiled.get(file);
  if (!module) compiled.set(file, (module = new WASM.Module(fs.readFileSync(file))));
  return new WASM.Instance(module, {}).exports as T;
}

/**
 * A fresh instance (with its own memory) of the kernel in `file`, compiled once per process. A
 * kernel compiled for other variants than src/kernels/constants.ts lists now (a variant added
 * without rebuilding) is an error naming the commands that fix it.
 */
export function instantiateKernel<T extends { kinds(): number }>(file: string): T {
  const ex = instantiateWasm<T>(file);
  const want = Object.keys(kernelKinds()).length;
  if (ex.kinds() !== want) throw new Error(`${file} was compiled for ${ex.kinds()} variant kernel(s), src/variants/ declares ${want}: run npm run gen && npm run build:wasm`);
  return ex;
}
