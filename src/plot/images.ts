/**
 * Figures made of 4x4 RGB images: sample grids (appendix Figures 2-5), the dataset | samples
 * panels of Figure 1, and attention maps beside their image. Builders return plotly figure JSON
 * (`PlotlyFigure`); nothing here renders or writes files.
 *
 * A grid is one plotly `image` trace: the images side by side with a 1-pixel white gutter, one
 * data pixel per image pixel (plotly keeps pixels square), so a grid stays sharp at any size.
 */
import { PALETTE } from "../data/palette";
import { PlotlyFigure } from "./plotly";

/** NHWC images [N, 4, 4, 3], flat, in [-1, 1] (the model's space) unless `range` says [0, 1]. */
export interface ImageSet {
  data: ArrayLike<number>;
  /** Value range of `data`: "pm1" = [-1, 1] (samples, training data as the net sees it), "01" = [0, 1]. */
  range: "pm1" | "01";
}

export interface GridOptions {
  /** Images to show (the first n); default all, at most 256. */
  n?: number;
  /** Images per row; default ceil(sqrt(n)). */
  cols?: number;
  /** "raw": the values, clipped to [0, 1]; "palette": each pixel snapped to its nearest palette colour. */
  colours?: "raw" | "palette";
}

const GUTTER: [number, number, number] = [255, 255, 255];

/** One image pixel as 0-255 RGB. */
function pixelRgb(set: ImageSet, index: number, colours: "raw" | "palette"): [number, number, number] {
  const rgb = [0, 1, 2].map((c) => {
    const v = Number(set.data[index + c]);
    return set.range === "pm1" ? (v + 1) / 2 : v;
  });
  if (colours === "palette") {
    let best = 0;
    let bestD = Infinity;
    PALETTE.forEach((p, i) => {
      const d = (rgb[0] - p[0]) ** 2 + (rgb[1] - p[1]) ** 2 + (rgb[2] - p[2]) ** 2;
      if (d < bestD) [best, bestD] = [i, d];
    });
    return PALETTE[best].map((x) => Math.round(255 * x)) as [number, number, number];
  }
  return rgb.map((x) => Math.round(255 * Math.min(1, Math.max(0, x)))) as [number, number, number];
}

/** Number of images in a set (checks the length). */
export function imageCount(set: ImageSet): number {
  if (set.data.length % 48 !== 0) throw new Error(`expected NHWC 4x4x3 images (a multiple of 48 values), got ${set.data.length} values`);
  return set.data.length / 48;
}

/** Pixel rows of a grid: z[row][col] = [r, g, b] in 0-255, for a plotly `image` trace. */
export function gridPixels(set: ImageSet, o: GridOptions = {}): number[][][] {
  const total = imageCount(set);
  const n = Math.min(o.n ?? total, total, 256);
  if (n < 1) throw new Error(`image grid needs at least one image, got n=${o.n ?? total} of ${total}`);
  const cols = o.cols ?? Math.ceil(Math.sqrt(n));
  if (!Number.isInteger(cols) || cols < 1) throw new Error(`image grid cols must be a positive integer, got ${cols}`);
  const rows = Math.ceil(n / cols);
  const H = rows * 5 - 1;
  const W = cols * 5 - 1;
  const z = Array.from({ length: H }, () => Array.from({ length: W }, () => [...GUTTER]));
  for (let i = 0; i < n; i++) {
    const top = Math.floor(i / cols) * 5;
    const left = (i % cols) * 5;
    for (let y = 0; y < 4; y++) for (let x = 0; x < 4; x++) z[top + y][left + x] = pixelRgb(set, i * 48 + (y * 4 + x) * 3, o.colours ?? "raw");
  }
  return z;
}

function hiddenAxis(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { visible: false, showgrid: false, zeroline: false, ...extra };
}

export interface Panel extends GridOptions {
  title: string;
  images: ImageSet;
}

/**
 * Image grids side by side, one per panel (Figure 1: dataset | CNN samples | attention samples).
 * `width`/`height` are the figure's size in CSS pixels (defaults fit a paper column per 2 panels).
 */
export function imagePanelsFigure(panels: Panel[], o: { title?: string; width?: number; height?: number } = {}): PlotlyFigure {
  if (panels.length === 0) throw new Error("imagePanelsFigure needs at least one panel");
  const gap = 0.04;
  const w = (1 - gap * (panels.length - 1)) / panels.length;
  const layout: Record<string, unknown> = {
    width: o.width ?? 300 * panels.length,
    height: o.height ?? 340 + (o.title ? 30 : 0),
    margin: { l: 10, r: 10, t: o.title ? 70 : 40, b: 10 },
    plot_bgcolor: "white",
    paper_bgcolor: "white",
    annotations: [] as Record<string, unknown>[],
    ...(o.title ? { title: { text: o.title, x: 0.5 } } : {}),
  };
  const data = panels.map((p, i) => {
    const s = i === 0 ? "" : String(i + 1);
    const x0 = i * (w + gap);
    layout[`xaxis${s}`] = hiddenAxis({ domain: [x0, x0 + w], constrain: "domain" });
    layout[`yaxis${s}`] = hiddenAxis({ anchor: `x${s}`, scaleanchor: `x${s}`, constrain: "domain", autorange: "reversed" });
    (layout.annotations as Record<string, unknown>[]).push({
      text: p.title, x: x0 + w / 2, y: 1, xref: "paper", yref: "paper", xanchor: "center", yanchor: "bottom", showarrow: false, font: { size: 14 },
    });
    return { type: "image", z: gridPixels(p.images, p), xaxis: `x${s}`, yaxis: `y${s}`, hoverinfo: "skip", name: p.title };
  });
  return { data, layout };
}

/** One grid of samples (appendix Figures 2-5: "More samples from ..."). */
export function sampleGridFigure(images: ImageSet, o: GridOptions & { title: string; size?: number }): PlotlyFigure {
  const size = o.size ?? 520;
  return imagePanelsFigure([{ ...o, title: "", images }], { title: o.title, width: size, height: size + 50 });
}

/** Quadrant names, in token order (token q = row q>>1, column q&1). */
export const QUADRANT_NAMES = ["top-left", "top-right", "bottom-left", "bottom-right"] as const;

/**
 * Attention maps: one row per sample, the image on the left and its 4x4 attention weights
 * (query quadrant x key quadrant, rows sum to 1) as a heatmap on the right.
 * `weights` is [n, 4, 4] flat; `images` holds at least n images.
 */
export function attentionMapsFigure(images: ImageSet, weights: ArrayLike<number>, o: { title: string; colours?: "raw" | "palette" }): PlotlyFigure {
  if (weights.length % 16 !== 0) throw new Error(`attention weights must be [n, 4, 4], got ${weights.length} values`);
  const n = weights.length / 16;
  if (imageCount(images) < n) throw new Error(`attention maps for ${n} samples need as many images, got ${imageCount(images)}`);
  const rowH = 1 / n;
  const layout: Record<string, unknown> = {
    width: 560, height: 90 + 200 * n, margin: { l: 110, r: 20, t: 90, b: 20 },
    title: { text: `${o.title}<br><sub>rows: query quadrant, columns: key quadrant (T/B top/bottom, L/R left/right)</sub>`, x: 0.5 }, paper_bgcolor: "white", plot_bgcolor: "white",
  };
  const short = QUADRANT_NAMES.map((q) => q.replace("top-", "T").replace("bottom-", "B").replace("left", "L").replace("right", "R"));
  const data: Record<string, unknown>[] = [];
  for (let i = 0; i < n; i++) {
    const ya = [1 - (i + 1) * rowH + 0.03, 1 - i * rowH - 0.03];
    const a = 2 * i + 1;
    const b = 2 * i + 2;
    const one: ImageSet = { data: Array.from({ length: 48 }, (_, j) => Number(images.data[i * 48 + j])), range: images.range };
    layout[`xaxis${a}`] = hiddenAxis({ domain: [0, 0.36], anchor: `y${a}`, constrain: "domain" });
    layout[`yaxis${a}`] = hiddenAxis({ domain: ya, anchor: `x${a}`, scaleanchor: `x${a}`, constrain: "domain", autorange: "reversed" });
    layout[`xaxis${b}`] = { domain: [0.5, 1], anchor: `y${b}`, side: "top", tickfont: { size: 10 } };
    layout[`yaxis${b}`] = { domain: ya, anchor: `x${b}`, autorange: "reversed", tickfont: { size: 10 }, title: { text: "query", standoff: 2 } };
    data.push({ type: "image", z: gridPixels(one, { colours: o.colours ?? "raw" }), xaxis: `x${a}`, yaxis: `y${a}`, hoverinfo: "skip" });
    const z = [0, 1, 2, 3].map((q) => [0, 1, 2, 3].map((k) => Number(weights[i * 16 + q * 4 + k])));
    data.push({
      type: "heatmap", z, x: short, y: short, xaxis: `x${b}`, yaxis: `y${b}`, zmin: 0, zmax: 1, colorscale: "Viridis",
      showscale: i === 0, colorbar: { title: { text: "weight" }, len: 0.5, y: 1, yanchor: "top" },
      texttemplate: "%{z:.2f}", textfont: { size: 10 }, hovertemplate: "query %{y}, key %{x}: %{z:.3f}<extra></extra>",
    });
  }
  return { data, layout };
}
