/**
 * A minimal PNG decoder (8-bit gray, gray+alpha, RGB, RGBA; not interlaced), enough to check
 * exported figures: their size and whether they show anything. Uses only node's zlib.
 */
import * as zlib from "zlib";

export interface DecodedPng {
  width: number;
  height: number;
  /** Samples per pixel: 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA. */
  channels: number;
  /** Row-major samples, [height, width, channels]. */
  pixels: Uint8Array;
}

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const CHANNELS: Record<number, number> = { 0: 1, 4: 2, 2: 3, 6: 4 };

/** Width and height from the IHDR chunk, without decoding the image. */
export function pngSize(png: Uint8Array): { width: number; height: number } {
  const buf = Buffer.from(png.buffer, png.byteOffset, png.byteLength);
  if (buf.length < 24 || !buf.subarray(0, 8).equals(SIGNATURE) || buf.toString("latin1", 12, 16) !== "IHDR") {
    throw new Error(`not a PNG file (first bytes ${buf.subarray(0, 16).toString("hex")})`);
  }
  return { width: buf.readUInt32BE(16), height: buf.readUInt32BE(20) };
}

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/** Decode a PNG into raw samples. Throws on formats this decoder does not handle. */
export function decodePng(png: Uint8Array): DecodedPng {
  const { width, height } = pngSize(png);
  const buf = Buffer.from(png.buffer, png.byteOffset, png.byteLength);
  const [bitDepth, colorType, , , interlace] = buf.subarray(24, 29);
  const channels = CHANNELS[colorType];
  if (bitDepth !== 8 || channels === undefined || interlace !== 0) {
    throw new Error(`unsupported PNG: bit depth ${bitDepth}, color type ${colorType}, interlace ${interlace}`);
  }
  // 1. Concatenate the IDAT chunks and inflate them.
  const idat: Buffer[] = [];
  for (let at = 8; at + 8 <= buf.length; ) {
    const length = buf.readUInt32BE(at);
    const type = buf.toString("latin1", at + 4, at + 8);
    if (type === "IDAT") idat.push(buf.subarray(at + 8, at + 8 + length));
    if (type === "IEND") break;
    at += 12 + length; // length, type, data, crc
  }
  const raw = zlib.inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  if (raw.length !== height * (stride + 1)) {
    throw new Error(`PNG data has ${raw.length} bytes, expected ${height * (stride + 1)}`);
  }
  // 2. Undo the per-row filters (PNG spec, section 9).
  const pixels = new Uint8Array(height * stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    const src = y * (stride + 1) + 1;
    const row = y * stride;
    for (let x = 0; x < stride; x++) {
      const a = x >= channels ? pixels[row + x - channels] : 0;
      const b = y > 0 ? pixels[row - stride + x] : 0;
      const c = x >= channels && y > 0 ? pixels[row - stride + x - channels] : 0;
      let pred: number;
      switch (filter) {
        case 0: pred = 0; break;
        case 1: pred = a; break;
        case 2: pred = b; break;
        case 3: pred = (a + b) >> 1; break;
        case 4: pred = paeth(a, b, c); break;
        default: throw new Error(`bad PNG filter type ${filter} in row ${y}`);
      }
      pixels[row + x] = (raw[src + x] + pred) & 0xff;
    }
  }
  return { width, height, channels, pixels };
}

/** Number of distinct pixel values (all channels of a pixel together). */
export function countColors(img: DecodedPng): number {
  const seen = new Set<number>();
  for (let i = 0; i < img.pixels.length; i += img.channels) {
    let key = 0; // at most 4 bytes: exact in a double
    for (let c = 0; c < img.channels; c++) key = key * 256 + img.pixels[i + c];
    seen.add(key);
  }
  return seen.size;
}
