/**
 * All parameters of a network packed into one float32 vector, so the optimizer and EMA run a few
 * kernels per step. `unpack` gives the named tensors the network reads.
 */
import * as tf from "@tensorflow/tfjs-core";
import { ParamArrays, paramSpecs, ParamSpec } from "./params";
import { ParamTensors } from "./network";
import { Variant } from "./variants";

export interface PackedLayout {
  variant: Variant;
  specs: (ParamSpec & { offset: number; size: number })[];
  total: number;
}

export function packedLayout(variant: Variant): PackedLayout {
  let offset = 0;
  const specs = paramSpecs(variant).map((s) => {
    const size = s.shape.reduce((a, b) => a * b, 1);
    const e = { ...s, offset, size };
    offset += size;
    return e;
  });
  return { variant, specs, total: offset };
}

export function packArrays(layout: PackedLayout, params: ParamArrays): Float32Array {
  const out = new Float32Array(layout.total);
  for (const s of layout.specs) {
    const a = params[s.name];
    if (!a || a.length !== s.size) throw new Error(`parameter '${s.name}' missing or of size ${a?.length}, expected ${s.size}`);
    out.set(a, s.offset);
  }
  return out;
}

export function unpackArrays(layout: PackedLayout, flat: Float32Array): ParamArrays {
  if (flat.length !== layout.total) throw new Error(`packed vector has ${flat.length} values, layout needs ${layout.total}`);
  const out: ParamArrays = {};
  for (const s of layout.specs) out[s.name] = flat.slice(s.offset, s.offset + s.size);
  return out;
}

/** Named parameter tensors sliced out of a packed vector (caller disposes them). */
export function unpackTensors(layout: PackedLayout, flat: tf.Tensor1D): ParamTensors {
  const out: ParamTensors = {};
  for (const s of layout.specs) out[s.name] = tf.reshape(tf.slice(flat, s.offset, s.size), s.shape);
  return out;
}

/** Concatenate per-parameter tensors (e.g. gradients) in layout order: [total]. */
export function packTensors(layout: PackedLayout, named: ParamTensors): tf.Tensor1D {
  return tf.tidy(() => tf.concat(layout.specs.map((s) => tf.reshape(named[s.name], [s.size])), 0) as tf.Tensor1D);
}

export function disposeParams(p: ParamTensors): void {
  for (const t of Object.values(p)) t.dispose();
}
