/**
 * Loading the fused kernels (src/kernels/*.wasm). The few WebAssembly API pieces used are typed
 * here: tsconfig's lib (ES2020, no DOM) and @types/node 20 declare no `WebAssembly` global.
 */
import * as fs from "fs";
import { Variant } from "../model/variants";

export interface WasmMemory { readonly buffer: ArrayBuffer; grow(pages: number): number }
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: unknown };
}
const WASM = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

/** Variant codes shared by assembly/train.ts and assembly/sample.ts. */
export const VARIANT_CODE: Record<Variant, number> = { cnn: 0, attention: 1, identity: 2, top1: 3 };

const compiled = new Map<string, object>();

/** A fresh instance (with its own memory) of the kernel in `file`, compiled once per process. */
export function instantiateKernel<T>(file: string): T {
  let module = compiled.get(file);
  if (!module) compiled.set(file, (module = new WASM.Module(fs.readFileSync(file))));
  return new WASM.Instance(module, {}).exports as T;
}
