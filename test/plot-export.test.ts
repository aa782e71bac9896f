import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as zlib from "zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chromiumPath, FigureExporter } from "../src/plot/export";
import { countColors, decodePng, pngSize } from "../src/plot/png";

// CI installs Debian's chromium (scripts/setup-jupyter.sh): a missing browser is a failure, not a skip.
const BAR_COLOR: [number, number, number] = [31, 119, 180]; // plotly's first colorway entry, #1f77b4
const fig = {
  data: [{ type: "bar", x: ["a", "b", "c"], y: [3, 1, 2], marker: { color: "#1f77b4" } }],
  layout: { title: { text: "export test" } },
};

describe("FigureExporter", () => {
  let dir: string;
  const exporter = new FigureExporter();

  beforeAll(async () => {
    expect(fs.existsSync(chromiumPath()), `Chromium is not installed at ${chromiumPath()}: run 'sudo sh scripts/setup-jupyter.sh' or set CHROMIUM_PATH`).toBe(true);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "plot-export-"));
    await exporter.open();
  });

  afterAll(async () => {
    await exporter.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it("writes a non-blank PNG of the requested size, an SVG and a one-page vector PDF", async () => {
    const files = await exporter.export(fig, path.join(dir, "sub", "bar"), { width: 320, height: 240 });
    expect(files.map((f) => path.basename(f))).toEqual(["bar.png", "bar.svg", "bar.pdf"]);
    expect(fs.readdirSync(path.join(dir, "sub")).sort()).toEqual(["bar.pdf", "bar.png", "bar.svg"]); // no temp files left

    const png = decodePng(fs.readFileSync(files[0]));
    expect([png.width, png.height]).toEqual([320, 240]);
    expect(countColors(png)).toBeGreaterThan(20); // text antialiasing, grid, bars
    let bar = 0;
    for (let i = 0; i < png.pixels.length; i += png.channels) {
      if (BAR_COLOR.every((v, c) => png.pixels[i + c] === v)) bar++;
    }
    expect(bar / (png.width * png.height)).toBeGreaterThan(0.05); // the bars are drawn

    const svg = fs.readFileSync(files[1], "utf8");
    expect(svg).toMatch(/^<svg[^>]*width="320"[^>]*height="240"/);

    const pdf = fs.readFileSync(files[2]);
    expect(pdf.subarray(0, 5).toString("latin1")).toBe("%PDF-");
    const text = pdf.toString("latin1");
    const box = /MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)\s*\]/.exec(text);
    expect(box, "PDF has no MediaBox").not.toBeNull();
    expect(Number(box![1])).toBeCloseTo(240, 0); // 320 px * 0.75 pt/px
    expect(Number(box![2])).toBeCloseTo(180, 0);
    expect(text.match(/\/Type\s*\/Page\b(?!s)/g)).toHaveLength(1);
    expect(text).toContain("/Font"); // text stays text: a vector PDF, not a bitmap
  });

  it("scales the PNG, writes only the requested formats and checks its options", async () => {
    const [file] = await exporter.export(fig, path.join(dir, "scaled"), { width: 200, height: 150, scale: 2, formats: ["png"] });
    expect(pngSize(fs.readFileSync(file))).toEqual({ width: 400, height: 300 });
    expect(fs.existsSync(path.join(dir, "scaled.svg"))).toBe(false);
    await expect(exporter.export(fig, path.join(dir, "bad"), { width: 0 })).rejects.toThrow(/width .* got 0/);
    await expect(exporter.export(fig, path.join(dir, "bad"), { formats: ["gif" as "png"] })).rejects.toThrow(/unknown image format 'gif'/);
  });
});

describe("decodePng", () => {
  it("undoes the row filters (hand-made 2x2 RGB image, filters None and Up)", () => {
    const chunk = (type: string, data: Buffer) => {
      const len = Buffer.alloc(4);
      len.writeUInt32BE(data.length);
      return Buffer.concat([len, Buffer.from(type, "latin1"), data, Buffer.alloc(4)]); // CRC is not checked
    };
    const ihdr = Buffer.alloc(13);
    ihdr.writeUInt32BE(2, 0);
    ihdr.writeUInt32BE(2, 4);
    ihdr.set([8, 2, 0, 0, 0], 8); // 8-bit RGB
    // Row 0 raw; row 1 "Up": each byte is stored minus the byte above it (mod 256).
    const rows = Buffer.from([0, 10, 20, 30, 250, 0, 5, 2, 5, 5, 5, 10, 0, 0]);
    const png = Buffer.concat([
      Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
      chunk("IHDR", ihdr),
      chunk("IDAT", zlib.deflateSync(rows)),
      chunk("IEND", Buffer.alloc(0)),
    ]);
    const img = decodePng(png);
    expect([img.width, img.height, img.channels]).toEqual([2, 2, 3]);
    expect(Array.from(img.pixels)).toEqual([10, 20, 30, 250, 0, 5, 15, 25, 35, 4, 0, 5]);
    expect(countColors(img)).toBe(4);
  });
});
