#!/usr/bin/python3
"""The consistency metrics of the experiment (Evaluation section of the spec), written from their
definitions in numpy, independently of src/eval/metrics.ts, to check our numbers on our samples.

  /usr/bin/python3 bench/torch_metrics.py SAMPLES.npy [SAMPLES.npy ...] --training IMAGES.npy

SAMPLES.npy: NHWC float [n, 4, 4, 3] in [-1, 1] (what experiments save in samples/*.npy).
IMAGES.npy: the training images, NHWC in [-1, 1] or [0, 1] (any exact palette colours).
Prints one JSON object: per file the number of samples and the COUNT behind every metric
(validQuadrants counts quadrants, out of 4 n; every other metric counts images).

Definitions:
- decode: every pixel -> nearest palette colour, Euclidean distance in RGB after (x + 1) / 2
  (red, green, yellow, blue = (1,0,0), (0,1,0), (1,1,0), (0,0,1)).
- a quadrant is one 2x2 block; its key is the left column, its value the right column; it is
  well-formed when both key pixels agree, both value pixels agree, and key != value; valid when
  well-formed and (key, value) is one of the six pairs of the three patterns.
- strict: all four quadrants valid and all from one pattern.
- functional: all four valid, and a key colour that appears more than once has one value colour.
- bijective: functional, and a value colour that appears more than once has one key colour.
- functionalLoose: as functional, with "well-formed" in place of "valid".
- validQuadrants: valid quadrants / (4 n).
- novel: functional and not one of the training images; novelBijective: bijective and novel.
"""
import argparse
import json
import sys

import numpy as np

PALETTE = np.array([(1, 0, 0), (0, 1, 0), (1, 1, 0), (0, 0, 1)], dtype=np.float64)  # red, green, yellow, blue
RED, GREEN, YELLOW, BLUE = range(4)
PATTERNS = (
    ((RED, GREEN), (YELLOW, BLUE)),
    ((RED, YELLOW), (GREEN, BLUE)),
    ((RED, BLUE), (GREEN, YELLOW)),
)
PATTERN_OF_PAIR = {pair: p for p, pairs in enumerate(PATTERNS) for pair in pairs}


def decode(images):
    """NHWC [n, 4, 4, 3] in [-1, 1] -> palette ids [n, 4, 4] (nearest colour; first on a tie)."""
    rgb = (images.astype(np.float64) + 1) / 2
    dist = ((rgb[..., None, :] - PALETTE) ** 2).sum(axis=-1)  # [n, 4, 4, 4 colours]
    return dist.argmin(axis=-1)


def quadrants(colours):
    """One decoded image [4, 4] -> list of (key, value, well_formed), quadrants in row-major order."""
    out = []
    for r in (0, 2):
        for c in (0, 2):
            key, value = colours[r:r + 2, c], colours[r:r + 2, c + 1]
            well_formed = key[0] == key[1] and value[0] == value[1] and key[0] != value[0]
            out.append((int(key[0]), int(value[0]), bool(well_formed)))
    return out


def one_to_one(pairs, side):
    """True when every colour on `side` (0 = keys, 1 = values) is paired with one colour only."""
    seen = {}
    for pair in pairs:
        if seen.setdefault(pair[side], pair[1 - side]) != pair[1 - side]:
            return False
    return True


def count_metrics(images, training_keys):
    counts = dict.fromkeys(("strict", "functional", "bijective", "functionalLoose", "validQuadrants", "novel", "novelBijective"), 0)
    for colours in decode(images):
        quads = quadrants(colours)
        pairs = [(k, v) for k, v, _ in quads]
        valid = [wf and (k, v) in PATTERN_OF_PAIR for k, v, wf in quads]
        all_valid = all(valid)
        functional = all_valid and one_to_one(pairs, 0)
        bijective = functional and one_to_one(pairs, 1)
        novel = functional and colours.tobytes() not in training_keys
        counts["validQuadrants"] += sum(valid)
        counts["strict"] += all_valid and len({PATTERN_OF_PAIR[p] for p in pairs}) == 1
        counts["functional"] += functional
        counts["bijective"] += bijective
        counts["functionalLoose"] += all(wf for _, _, wf in quads) and one_to_one(pairs, 0)
        counts["novel"] += novel
        counts["novelBijective"] += novel and bijective
    return {k: int(v) for k, v in counts.items()}


def load_images(path):
    a = np.load(path)
    if a.ndim != 4 or a.shape[1:] != (4, 4, 3):
        raise ValueError(f"{path}: expected NHWC images [n, 4, 4, 3], got shape {a.shape}")
    if not np.isfinite(a).all():
        raise ValueError(f"{path}: contains non-finite values")
    return a


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("samples", nargs="+")
    p.add_argument("--training", required=True, help="training images .npy, NHWC in [-1, 1] or [0, 1]")
    args = p.parse_args(argv)
    train = load_images(args.training)
    if train.min() >= 0:  # [0, 1] images (data/*.npy) -> [-1, 1]
        train = 2 * train - 1
    training_keys = {c.tobytes() for c in decode(train)}
    out = {"trainingDistinct": len(training_keys), "files": {}}
    for path in args.samples:
        images = load_images(path)
        out["files"][path] = {"n": int(images.shape[0]), "counts": count_metrics(images, training_keys)}
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
