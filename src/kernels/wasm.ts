/**
 * Loading the fused kernels (src/kernels/*.wasm). The few WebAssembly API pieces used are typed
 * here: tsconfig's lib (ES2020, no DOM) and @types/node 20 declare no `WebAssembly` global.
 */
import * as fs from "fs";
import { getVariant, Variant } from "../model/variants";

export interface WasmMemory { readonly buffer: ArrayBuffer; grow(pages: number): number }
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: unknown };
}
const WASM = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

/**
 * The kernel kind (src/kernels/constants.ts KERNEL_KIND, shared with assembly/ through the
 * generated assembly/_constants.ts) that computes `variant`, from its descriptor. A variant the
 * fused kernels do not implement is an error that names the tfjs engine.
 */
export function wasmKernelOf(variant: Variant, what: "training" | "sampling"): number {
  const k = getVariant(variant).wasmKernel;
  if (k === null) {
    const flag = what === "training" ? "--trainer tfjs (config key trainer)" : "--sampler tfjs (config key sampler)";
    throw new Error(`the fused WebAssembly ${what} engine does not implement variant '${variant}'; use the tfjs engine: ${flag}`);
  }
  return k;
}

const compiled = new Map<string, object>();

/** A fresh instance (with its own memory) of the kernel in `file`, compiled once per process. */
export function instantiateKernel<T>(file: string): T {
  let module = compiled.get(file);
  if (!module) compiled.set(file, (module = new WASM.Module(fs.readFileSync(file))));
  return new WASM.Instance(module, {}).exports as T;
}
