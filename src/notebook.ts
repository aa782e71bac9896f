/**
 * What the notebooks use, in one module: `import { notebookParams, ... } from "../build/notebook"`.
 * The notebooks load the compiled library (`npm run build`: src/ -> build/), so a fresh kernel
 * type-checks a cell against declarations instead of compiling src/ (about 1 s instead of 7-15 s).
 * Loading this module from build/ first checks that build/ was made from the current src/ (see
 * build-info.ts) and throws naming the changed files otherwise: a stale build never runs old code.
 */
import { checkCompiledLibrary } from "./build-info";

checkCompiledLibrary(__filename); // only from build/; from src/ (ts-node, vitest) nothing to check

// Set-up: backend, environment, worker threads
export { initBackend } from "./backend";
export type { BackendInfo } from "./backend";
export { checkDanfo, checkEnvironment, collectVersions } from "./plot/environment";
export { workerCount } from "./experiment/pool";

// Parameters, training, results and the data behind the figures
export {
  attentionMaps, choiceParam, comparisonsDisplay, datasetImageSet, describeParams, experimentResults, FigurePublisher, intParam,
  loadSamples, lossCurves, notebookParams, protocolDisplay, RANDOM_BASELINE_NOTE, table1Display, trainSeeds, trainWithLiveCurve,
} from "./plot/notebook";
export type { NotebookEnv, NotebookParams } from "./plot/notebook";

// Dataset and models
export { census } from "./data/dataset";
export type { Census, Dataset } from "./data/dataset";
export { loadOrCreateDataset } from "./data/store";
export { VARIANT_LABELS, VARIANTS } from "./model/variants";
export type { Variant } from "./model/variants";

// Figures: plotly figure builders, inline display, files
export {
  attentionMapsFigure, censusFigure, imagePanelsFigure, lossCurvesFigure, sampleGridFigure, studyStripFigure, table1Figure,
} from "./plot/figures";
export { liveFigure, liveLine, showFigure, showPng, showTable } from "./plot/inline";
export { FigureExporter } from "./plot/export";
export { pngSize } from "./plot/png";
