/**
 * The one place that picks an engine (config keys `trainEngine` and `sampleEngine`: "wasm" | "tfjs").
 * See engine.ts for what an engine is.
 */
import { Variant } from "../model/variants";
import { packedOf, TrainContext, TrainState } from "../train/state";
import { EngineName, SampleEngine, TrainEngine } from "./engine";
import { TfjsTrainEngine, tfjsSampleEngine } from "./tfjs";
import { WasmTrainEngine, wasmSampleEngine } from "./wasm";

export type { EngineName, SampleEngine, SampleRequest, TrainEngine } from "./engine";

/** A training engine for `variant` on `ctx`'s data (weights not loaded yet). */
export function makeTrainEngine(name: EngineName, ctx: TrainContext, variant: Variant): TrainEngine {
  switch (name) {
    case "wasm":
      return new WasmTrainEngine(ctx, variant);
    case "tfjs":
      return new TfjsTrainEngine(ctx, variant);
    default: {
      const never: never = name;
      throw new Error(`unknown training engine '${String(never)}' (expected wasm or tfjs)`);
    }
  }
}

/** A training engine loaded with state `s` (the usual way to start or resume training). */
export function trainEngineFor(name: EngineName, ctx: TrainContext, s: TrainState): TrainEngine {
  const e = makeTrainEngine(name, ctx, s.variant);
  try {
    e.load(packedOf(s));
  } catch (err) {
    e.dispose();
    throw err;
  }
  return e;
}

/** The sampling engine called `name`. */
export function sampleEngine(name: EngineName): SampleEngine {
  switch (name) {
    case "wasm":
      return wasmSampleEngine;
    case "tfjs":
      return tfjsSampleEngine;
    default: {
      const never: never = name;
      throw new Error(`unknown sampling engine '${String(never)}' (expected wasm or tfjs)`);
    }
  }
}
