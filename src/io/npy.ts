/**
 * NumPy `.npy` (format 1.0) reading and writing for float32, float64, int32 and uint8 arrays,
 * so that samples and datasets can be opened with `numpy.load`.
 */
import * as fs from "fs";
import { writeFileAtomic } from "./atomic";

export type NpyArray = Float32Array | Float64Array | Int32Array | Uint8Array;

const DTYPES: [string, new (n: number) => NpyArray][] = [
  ["<f4", Float32Array],
  ["<f8", Float64Array],
  ["<i4", Int32Array],
  ["|u1", Uint8Array],
];

function dtypeOf(a: NpyArray): string {
  if (a instanceof Float32Array) return "<f4";
  if (a instanceof Float64Array) return "<f8";
  if (a instanceof Int32Array) return "<i4";
  return "|u1";
}

/** Encode an array with its shape as .npy bytes. */
export function encodeNpy(data: NpyArray, shape: readonly number[]): Uint8Array {
  const count = shape.reduce((a, b) => a * b, 1);
  if (count !== data.length) throw new Error(`npy: shape [${shape}] holds ${count} values, array has ${data.length}`);
  const shapeStr = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(", ")})`;
  let header = `{'descr': '${dtypeOf(data)}', 'fortran_order': False, 'shape': ${shapeStr}, }`;
  const pad = 64 - ((10 + header.length + 1) % 64);
  header += " ".repeat(pad % 64) + "\n";
  const out = new Uint8Array(10 + header.length + data.byteLength);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]); // \x93NUMPY v1.0
  out[8] = header.length & 0xff;
  out[9] = header.length >> 8;
  for (let i = 0; i < header.length; i++) out[10 + i] = header.charCodeAt(i);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), 10 + header.length);
  return out;
}

/** Write an array as .npy, atomically. */
export function saveNpy(file: string, data: NpyArray, shape: readonly number[]): void {
  writeFileAtomic(file, encodeNpy(data, shape));
}

/** Read a .npy file written by `saveNpy` or NumPy (little-endian, C order). */
export function loadNpy(file: string): { data: NpyArray; shape: number[] } {
  const buf = fs.readFileSync(file);
  if (buf.length < 10 || buf[0] !== 0x93 || buf.toString("latin1", 1, 6) !== "NUMPY") {
    throw new Error(`${file} is not a .npy file (bad magic)`);
  }
  const major = buf[6];
  const hlen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const start = major === 1 ? 10 : 12;
  const header = buf.toString("latin1", start, start + hlen);
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const shapeStr = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (/'fortran_order':\s*True/.test(header)) throw new Error(`${file}: Fortran-order arrays are not supported`);
  const ctor = DTYPES.find(([d]) => d === descr)?.[1];
  if (!ctor || shapeStr === undefined) throw new Error(`${file}: unsupported npy header ${header.trim()}`);
  const shape = shapeStr.split(",").map((s) => s.trim()).filter((s) => s.length > 0).map(Number);
  const count = shape.reduce((a, b) => a * b, 1);
  const data = new ctor(count);
  const bytes = new Uint8Array(data.buffer);
  const body = buf.subarray(start + hlen);
  if (body.length < bytes.length) throw new Error(`${file} is truncated: expected ${bytes.length} data bytes, found ${body.length}`);
  bytes.set(body.subarray(0, bytes.length));
  return { data, shape };
}
