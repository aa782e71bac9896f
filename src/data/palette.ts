/**
 * The "colour key-value pairs" world of SPEC.md: a 4-colour palette, three pattern types, and
 * the six valid ordered (key, value) pairs.
 */

/** Palette colours, RGB in [0, 1]. Index = colour id. */
export const PALETTE: readonly (readonly [number, number, number])[] = [
  [1, 0, 0], // 0 red
  [0, 1, 0], // 1 green
  [1, 1, 0], // 2 yellow
  [0, 0, 1], // 3 blue
];
export const COLOUR_NAMES = ["red", "green", "yellow", "blue"] as const;

export const RED = 0;
export const GREEN = 1;
export const YELLOW = 2;
export const BLUE = 3;

/** A (key, value) colour pair: key fills a quadrant's left column, value its right column. */
export type Pair = readonly [key: number, value: number];

/** Pattern types P0, P1, P2: each is two ordered pairs that use all four colours once. */
export const PATTERNS: readonly (readonly [Pair, Pair])[] = [
  [[RED, GREEN], [YELLOW, BLUE]],
  [[RED, YELLOW], [GREEN, BLUE]],
  [[RED, BLUE], [GREEN, YELLOW]],
];

/** The six valid ordered pairs, in pattern order. */
export const VALID_PAIRS: readonly Pair[] = PATTERNS.flatMap((p) => [p[0], p[1]]);

/** pairPattern[key * 4 + value] = pattern index of a valid pair, or -1. */
export const PAIR_PATTERN: Int8Array = (() => {
  const out = new Int8Array(16).fill(-1);
  PATTERNS.forEach((pat, i) => pat.forEach(([k, v]) => (out[k * 4 + v] = i)));
  return out;
})();

/** Number of quadrants (= tokens) per image and features per quadrant token (2x2 pixels x RGB). */
export const QUADRANTS = 4;
export const TOKEN_DIM = 12;
export const IMAGE_SIZE = 4;
