/**
 * Image <-> token layout.
 *
 * Images are NHWC [N, 4, 4, 3]. The network works on tokens [N, 4, 12]: token q is quadrant
 * (row q>>1, col q&1) and feature f = (dy * 2 + dx) * 3 + c is pixel (2*row+dy, 2*col+dx),
 * channel c. This is exactly the flattening of a 2x2 stride-2 convolution's receptive field
 * (tf.conv2d filter [2, 2, 3, C] reshaped to [12, C]), so a dense layer on tokens equals that
 * convolution (see test/layout.test.ts).
 */
import { QUADRANTS, TOKEN_DIM } from "./palette";

/** Index into a flat NHWC 4x4x3 image for (token q, feature f). */
export function pixelIndex(q: number, f: number): number {
  const dy = f >= 6 ? 1 : 0;
  const dx = Math.floor(f / 3) % 2;
  const c = f % 3;
  const row = 2 * (q >> 1) + dy;
  const col = 2 * (q & 1) + dx;
  return (row * 4 + col) * 3 + c;
}

const PERM: Int32Array = (() => {
  const p = new Int32Array(QUADRANTS * TOKEN_DIM);
  for (let q = 0; q < QUADRANTS; q++) for (let f = 0; f < TOKEN_DIM; f++) p[q * TOKEN_DIM + f] = pixelIndex(q, f);
  return p;
})();

/** NHWC images [N, 4, 4, 3] (flat) -> tokens [N, 4, 12] (flat). */
export function imagesToTokens(images: Float32Array): Float32Array {
  const n = checkLength(images.length);
  const out = new Float32Array(images.length);
  for (let i = 0; i < n; i++) {
    const o = i * 48;
    for (let j = 0; j < 48; j++) out[o + j] = images[o + PERM[j]];
  }
  return out;
}

/** Tokens [N, 4, 12] (flat) -> NHWC images [N, 4, 4, 3] (flat). */
export function tokensToImages(tokens: Float32Array): Float32Array {
  const n = checkLength(tokens.length);
  const out = new Float32Array(tokens.length);
  for (let i = 0; i < n; i++) {
    const o = i * 48;
    for (let j = 0; j < 48; j++) out[o + PERM[j]] = tokens[o + j];
  }
  return out;
}

function checkLength(len: number): number {
  if (len % 48 !== 0) throw new Error(`expected a multiple of 48 values (4x4x3 per image), got ${len}`);
  return len / 48;
}
