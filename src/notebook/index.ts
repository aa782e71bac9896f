/**
 * What the notebooks use, in one module: `import { notebookParams, ... } from "../build/notebook"`.
 * The notebooks load the compiled library (`npm run build`: src/ -> build/), so a fresh kernel
 * type-checks a cell against declarations instead of compiling src/ (about 1 s instead of 7-15 s).
 * Loading this module from build/ first checks that build/ was made from the current src/ (see
 * build-info.ts) and throws naming the changed files otherwise: a stale build never runs old code.
 *
 * The notebooks' own helpers live beside this file: parameters (params.ts), training (training.ts),
 * results and the data behind figures (results.ts), figure files (publish.ts), inline display
 * (inline.ts) and the environment report (environment.ts).
 */
import { checkCompiledLibrary } from "../build-info";

checkCompiledLibrary(__filename); // only from build/; from src/ (ts-node, vitest) nothing to check

// Set-up: backend, environment, worker threads
export { initBackend } from "../backend";
export type { BackendInfo } from "../backend";
export { checkDanfo, checkEnvironment, collectVersions } from "./environment";
export { workerCount } from "../experiment/pool";
export { parseRangeList } from "../cli/args";

// Parameters, training, results and the data behind the figures
export { choiceParam, describeParams, intParam, notebookParams } from "./params";
export type { NotebookEnv, NotebookParams } from "./params";
export { lossCurves, trainSeeds, trainWithLiveCurve } from "./training";
export {
  attentionMaps, comparisonsDisplay, datasetImageSet, experimentResults, loadSamples, protocolDisplay,
  RANDOM_BASELINE_NOTE, staleReason, table1Display,
} from "./results";
export { FigurePublisher } from "./publish";

// Sweeps (notebook 10)
export { gridFromJson, sweepCellRows, sweepDifferenceRows } from "./sweeps";
export { loadOrRunSweep, loadSweep } from "../sweep/load";
export { sweepFigure } from "../plot/sweep";
export { cellSummaries } from "../sweep/summary";
export { cellRunsOf } from "../sweep/run";

// Dataset and models
export { census } from "../data/dataset";
export type { Census, Dataset } from "../data/dataset";
export { loadOrCreateDataset } from "../data/store";
export { getVariant, parseVariant, registerVariant, VARIANT_LABELS, variantNames, VARIANTS } from "../model/variants";
export type { Variant, VariantDescriptor } from "../model/variants";

// Figures: plotly figure builders, inline display, files
export {
  attentionMapsFigure, censusFigure, imagePanelsFigure, lossCurvesFigure, residualsFigure, sampleGridFigure,
  studyStripFigure, table1Figure,
} from "../plot/figures";
export { liveFigure, liveLine, showFigure, showPng, showTable } from "./inline";
export { FigureExporter } from "../plot/export";
export { pngSize } from "../plot/png";

// Theory (notebooks 02 and 09): derivation checks, score machines, comparisons
export {
  checkIndependence, checkPairMachine, claimsMarkdown, continuousTop1Lines, formatCheck, makeContinuousScenario, markdownTable,
  runAllDerivationChecks, tallyClaims,
} from "../theory/derivations";
export { CONTINUOUS_SCENARIOS, checkContinuousTop1Scenario } from "../theory/derivations-top1-continuous";
export { discriminationSettings } from "../theory/discriminate";
export {
  bandedR2Figure, bandedTable, differencesTable, pairwiseTable, pearsonTable, REPORT_PAIRS, sweepTable,
} from "../theory/comparison-report";
export {
  consistencyFigure, continuousTop1Figure, pearsonFigure, predictionIntervalFigure, r2ByVariantFigure, r2VsTFigure, valueMapFigure,
} from "../theory/figures";
export { INDEPENDENCE_SCENARIOS, makeIndependenceToy, valueMapResult } from "../theory/independence";
export { blockProductConsistency, pairToyTokens } from "../theory/pair-checks";
export { loadOrComputeTheory, theoryPart } from "../experiment/theory-phase";
export type { TheoryResults } from "../experiment/theory-phase";
export {
  consistencyRows, machinesInPredictionIntervals, predictionIntervalMarkdown, theoryNotebookRequest, theoryResults, trainedResults,
} from "./theory";
