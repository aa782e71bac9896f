/**
 * Training from a notebook: every model of a variant with a live progress line and a live loss
 * curve (the one call of the training notebooks 03-06), and the loss curves of existing checkpoints.
 */
import * as fs from "fs";
import * as path from "path";
import { initBackend } from "../backend";
import { withOutputLockSync } from "../experiment/lock";
import { checkpointPath, checkpointRequest, trainTask, TrainTaskResult } from "../experiment/tasks";
import { Variant, VARIANTS } from "../model/variants";
import { LossCurve, lossCurvesFigure } from "../plot/figures";
import { Progress } from "../progress";
import { checkIdentity, readCheckpoint } from "../train/checkpoint";
import { liveFigure, liveLine } from "./inline";
import { NotebookParams } from "./params";

/**
 * Train every training seed of `variant` with `trainTask` (a finished checkpoint of the same
 * training config is reused, an unfinished one resumed), reporting progress through `write`
 * (e.g. `liveLine().update`) and one status line per seed through `log`.
 */
export function trainSeeds(
  p: NotebookParams, variant: Variant, write: (line: string) => void, log: (line: string) => void = console.log,
  onCurves?: (curves: LossCurve[]) => void,
): TrainTaskResult[] {
  const curves: LossCurve[] = [];
  let lastDraw = 0;
  return withOutputLockSync(p.paths.outDir, `notebook: train ${variant}`, () => p.seeds.map((seed) => {
    const bar = new Progress({ label: `${variant} seed ${seed}`, total: 1, intervalMs: 1000, write: (s) => write(s) });
    const losses: number[] = [];
    const live: LossCurve = { variant, seed, losses };
    curves.push(live);
    // The per-epoch losses, redrawn at most every 2 s (a live loss curve while training runs).
    const onEpoch = (_epoch: number, loss: number, totalEpochs: number) => {
      losses.push(loss);
      if (onCurves && (Date.now() - lastDraw > 2000 || losses.length === totalEpochs)) {
        lastDraw = Date.now();
        onCurves(curves);
      }
    };
    const r = trainTask(p.cfg, p.paths, variant, seed, (done, total, note) => bar.update(done / total, note), onEpoch);
    live.losses = r.epochLosses; // complete history, also for reused or resumed checkpoints
    onCurves?.(curves);
    bar.finish(r.status);
    log(`${variant} draw ${r.dataSeed} seed ${seed}: ${r.status} (${r.epochs} epochs, ${r.steps} steps, final epoch loss ${r.epochLosses[r.epochLosses.length - 1]?.toFixed(4)}, ${r.seconds.toFixed(1)} s) -> ${path.basename(r.checkpoint)}`);
    return r;
  }));
}

/**
 * A training notebook's one cell: initialise the backend, then `trainSeeds` for `variant` with a
 * live progress line and a live loss curve (redrawn in place while training runs). Every training
 * notebook (03-06) is this call with its variant.
 */
export async function trainWithLiveCurve(p: NotebookParams, variant: Variant): Promise<TrainTaskResult[]> {
  await initBackend();
  const line = liveLine();
  const curve = liveFigure();
  return trainSeeds(p, variant, (s) => line.update(s), console.log, (curves) => curve.update(lossCurvesFigure(curves, { title: `Training loss: ${variant}` })));
}

/** Loss curves of the finished or partial checkpoints that exist for `variants` x training seeds. */
export function lossCurves(p: NotebookParams, variants: readonly Variant[] = VARIANTS): LossCurve[] {
  const out: LossCurve[] = [];
  for (const variant of variants) {
    for (const seed of p.seeds) {
      const file = checkpointPath(p.paths, p.cfg, variant, seed);
      if (!fs.existsSync(file)) continue;
      const ck = readCheckpoint(file);
      checkIdentity(ck, file, checkpointRequest(p.cfg, variant, seed));
      out.push({ variant, seed, losses: ck.epochLosses });
    }
  }
  return out;
}
