/**
 * One-cycle learning-rate and momentum schedule with PyTorch `OneCycleLR` semantics
 * (two phases, cosine annealing, beta1 cycled inversely to the learning rate).
 * `step` is the 0-based index of the optimizer step the values apply to.
 */
export interface OneCycleOptions {
  maxLr: number; // SPEC 1e-3
  totalSteps: number;
  pctStart: number; // 0.3
  divFactor: number; // 25
  finalDivFactor: number; // 1e4
  baseMomentum: number; // 0.85
  maxMomentum: number; // 0.95
}

function cosineAnneal(start: number, end: number, pct: number): number {
  return end + ((start - end) / 2) * (Math.cos(Math.PI * pct) + 1);
}

/** Learning rate and beta1 in effect for optimizer step `step` (0-based). */
export function oneCycleAt(step: number, o: OneCycleOptions): { lr: number; beta1: number } {
  if (!(step >= 0 && step < o.totalSteps)) {
    throw new Error(`OneCycle step ${step} is outside [0, ${o.totalSteps}) (totalSteps)`);
  }
  const initialLr = o.maxLr / o.divFactor;
  const minLr = initialLr / o.finalDivFactor;
  const phase1End = o.pctStart * o.totalSteps - 1;
  // 1. warm-up: lr initial -> max, beta1 max -> base
  if (step <= phase1End) {
    const pct = step / phase1End;
    return { lr: cosineAnneal(initialLr, o.maxLr, pct), beta1: cosineAnneal(o.maxMomentum, o.baseMomentum, pct) };
  }
  // 2. annealing: lr max -> min, beta1 base -> max
  const pct = (step - phase1End) / (o.totalSteps - 1 - phase1End);
  return { lr: cosineAnneal(o.maxLr, minLr, pct), beta1: cosineAnneal(o.baseMomentum, o.maxMomentum, pct) };
}
