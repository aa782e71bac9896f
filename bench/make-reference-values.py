#!/usr/bin/python3
"""Regenerate the PyTorch golden values that test/reference.test.ts and test/kernels-train.test.ts
check the TypeScript code against: test/fixtures/reference-values/*.json.

Run with the Debian interpreter, which has torch 1.13 (bench/setup-torch.sh installs it; a pyenv
python3 on PATH has none):

  /usr/bin/python3 bench/make-reference-values.py                 # write the fixtures
  /usr/bin/python3 bench/make-reference-values.py --check         # compare with the committed ones, write nothing
  /usr/bin/python3 bench/make-reference-values.py --out DIR --compare OLD_DIR

Each file states what computed it ("source": script, command, computation) and with which versions
("versions": torch, numpy, python). No dates or host names, so rerunning on the same versions
rewrites the same bytes. `--compare DIR` prints, per file, the largest absolute and relative
difference between every number here and the number at the same place in DIR's file of the same
name (exit 1 when a difference is above 1e-12 relative, or a file or key is missing).

Contents:
  adamw.json        torch.optim.AdamW, float32, three steps with fixed gradients
  ddpm_linear.json  the linear DDPM schedule (float64) at a few timesteps
  onecycle.json     torch.optim.lr_scheduler.OneCycleLR: lr and beta1 in effect at listed steps
  random_baseline_valid_pairs.json
                    exact consistency of random images (quadrants uniform over the six valid
                    pairs), by enumerating all 6^4 images; plain Python, no torch, written
                    independently of src/eval/metrics.ts
"""
import argparse
import itertools
import json
import math
import os
import platform
import sys
import warnings

import numpy
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = "bench/make-reference-values.py"
COMMAND = "/usr/bin/python3 bench/make-reference-values.py"
DEFAULT_OUT = os.path.join(ROOT, "test", "fixtures", "reference-values")
REL_TOL = 1e-12


def versions():
    return {"torch": torch.__version__, "numpy": numpy.__version__, "python": platform.python_version()}


def header(computation):
    """Where a file comes from. Versions are those of the run (the random baseline uses plain Python only)."""
    return {"source": {"script": SCRIPT, "command": COMMAND, "computation": computation}, "versions": versions()}


# ---------------------------------------------------------------- AdamW (float32)
ADAMW = dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-5)
ADAMW_INIT = [0.5, -1.0, 2.0]
ADAMW_GRADS = [[0.1, -0.2, 0.3], [0.05, 0.4, -0.1], [-0.3, 0.0, 0.2]]


def adamw():
    theta = torch.nn.Parameter(torch.tensor(ADAMW_INIT, dtype=torch.float32))
    opt = torch.optim.AdamW([theta], **ADAMW)
    after = []
    for g in ADAMW_GRADS:
        theta.grad = torch.tensor(g, dtype=torch.float32)
        opt.step()
        after.append([float(x) for x in theta.detach()])  # float32 values, printed exactly as float64
    return {
        **header("torch.optim.AdamW(lr=1e-3, betas=(0.9,0.999), eps=1e-8, weight_decay=1e-5), float32 parameters "
                 "and gradients; params_after_each_step[i] = parameters after optimizer step i with grads[i]"),
        "init": ADAMW_INIT,
        "grads": ADAMW_GRADS,
        "params_after_each_step": after,
    }


# ---------------------------------------------------------------- DDPM linear schedule (float64)
DDPM_T = [0, 1, 10, 100, 499, 500, 998, 999]


def ddpm_linear():
    betas = torch.linspace(1e-4, 0.02, 1000, dtype=torch.float64)
    alpha_bar = torch.cumprod(1 - betas, dim=0)
    return {
        **header("betas = torch.linspace(1e-4, 0.02, 1000, dtype=float64); alpha_bar = torch.cumprod(1 - betas); "
                 "loss weight = 1 - alpha_bar; values at the listed t (0-based)"),
        "t": DDPM_T,
        "beta": [float(betas[t]) for t in DDPM_T],
        "alpha_bar": [float(alpha_bar[t]) for t in DDPM_T],
        "loss_weight_one_minus_alpha_bar": [float(1 - alpha_bar[t]) for t in DDPM_T],
    }


# ---------------------------------------------------------------- OneCycleLR
def onecycle_steps(total):
    """Listed steps: the start, around the peak (pct_start 0.3), the middle, and the end."""
    peak = round(0.3 * total)
    return sorted({0, 1, 2, total // 10, peak - 1, peak, peak + 1, total // 2, total - 2, total - 1})


def onecycle(total):
    """lr and beta1 that optimizer step `step` (0-based) runs with, as PyTorch sets them."""
    wanted = set(onecycle_steps(total))
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.AdamW([p], lr=1e-3, betas=(0.9, 0.999), weight_decay=1e-5)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=1e-3, total_steps=total)
    out = []
    for step in range(total):
        if step in wanted:
            g = opt.param_groups[0]
            out.append({"step": step, "lr": float(g["lr"]), "beta1": float(g["betas"][0])})
        if step == total - 1:
            break  # OneCycleLR raises when stepped past total_steps
        opt.step()  # no gradient: the parameter is skipped, but the scheduler sees a real step
        sched.step()
    return out


def onecycle_file():
    return {
        **header("torch.optim.lr_scheduler.OneCycleLR(max_lr=1e-3, total_steps=N, defaults: pct_start 0.3, cos, "
                 "div_factor 25, final_div_factor 1e4, cycle_momentum, base 0.85, max 0.95) on "
                 "AdamW(lr=1e-3, betas=(0.9,0.999), weight_decay=1e-5); lr and beta1 in effect for the optimizer "
                 "step with this 0-based index"),
        "total_steps_1000": onecycle(1000),
        "total_steps_160000": onecycle(160000),
    }


# ---------------------------------------------------------------- exact random baseline
# Colours: 0 red, 1 green, 2 yellow, 3 blue. Each pattern type is two ordered (key, value) pairs.
PATTERNS = [((0, 1), (2, 3)), ((0, 2), (1, 3)), ((0, 3), (1, 2))]
PAIR_TO_PATTERN = {pair: i for i, pat in enumerate(PATTERNS) for pair in pat}
VALID_PAIRS = [pair for pat in PATTERNS for pair in pat]


def judge(quadrants):
    """quadrants: four (key, value) pairs, each one of the six valid pairs. Returns the verdicts."""
    key_to_values, value_to_keys = {}, {}
    for k, v in quadrants:
        key_to_values.setdefault(k, set()).add(v)
        value_to_keys.setdefault(v, set()).add(k)
    functional = all(len(vs) == 1 for vs in key_to_values.values())
    bijective = functional and all(len(ks) == 1 for ks in value_to_keys.values())
    strict = len({PAIR_TO_PATTERN[q] for q in quadrants}) == 1
    return strict, functional, bijective


def random_baseline():
    training = {quads for pat in PATTERNS for quads in itertools.product(pat, repeat=4)}  # 3 x 2^4 = 48 images
    counts = {"strict": 0, "functional": 0, "bijective": 0, "novel": 0}
    images = list(itertools.product(VALID_PAIRS, repeat=4))
    for quads in images:
        strict, functional, bijective = judge(quads)
        counts["strict"] += strict
        counts["functional"] += functional
        counts["bijective"] += bijective
        counts["novel"] += functional and quads not in training
    n = len(images)
    assert n == 6 ** 4 and len(training) == 48, (n, len(training))
    return {
        **header("exact enumeration of all 6^4 = 1296 images whose four quadrants are drawn from the six valid "
                 "(key, value) pairs; strict = one pattern type, functional = each key colour has one value colour, "
                 "bijective = functional and each value colour has one key colour, novel = functional and not one "
                 "of the 48 training images; [count, total, fraction]; plain Python, no torch"),
        **{k: [c, n, c / n] for k, c in counts.items()},
    }


# ---------------------------------------------------------------- writing and comparing
def all_files():
    return {
        "adamw.json": adamw(),
        "ddpm_linear.json": ddpm_linear(),
        "onecycle.json": onecycle_file(),
        "random_baseline_valid_pairs.json": random_baseline(),
    }


def numbers(value, where=""):
    """Every number in a JSON value with its path; metadata (source, versions) skipped."""
    if isinstance(value, bool):
        return
    if isinstance(value, (int, float)):
        yield where, float(value)
    elif isinstance(value, list):
        for i, x in enumerate(value):
            yield from numbers(x, f"{where}[{i}]")
    elif isinstance(value, dict):
        for k, x in value.items():
            if k not in ("source", "versions"):
                yield from numbers(x, f"{where}.{k}")


def compare(new, old_dir):
    """Print the largest differences per file; return True when all agree to REL_TOL."""
    ok = True
    for name, data in new.items():
        path = os.path.join(old_dir, name)
        if not os.path.exists(path):
            print(f"compare: {path} is missing", file=sys.stderr)
            ok = False
            continue
        with open(path) as f:
            old = dict(numbers(json.load(f)))
        mine = dict(numbers(data))
        if set(old) != set(mine):
            print(f"compare: {name}: different entries: only new {sorted(set(mine) - set(old))[:5]}, "
                  f"only old {sorted(set(old) - set(mine))[:5]}", file=sys.stderr)
            ok = False
        worst_abs, worst_rel, at = 0.0, 0.0, None
        for k in set(old) & set(mine):
            d = abs(mine[k] - old[k])
            rel = d / max(abs(old[k]), 1e-300)
            worst_abs = max(worst_abs, d)
            if rel > worst_rel:
                worst_rel, at = rel, k
        ok = ok and worst_rel <= REL_TOL
        print(f"compare: {name}: {len(mine)} numbers, largest |difference| {worst_abs:.3g}, "
              f"largest relative {worst_rel:.3g}" + (f" at {at}" if at else ""))
    return ok


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=DEFAULT_OUT, help="output folder (default test/fixtures/reference-values)")
    ap.add_argument("--compare", metavar="DIR", help="compare with the files of the same names in DIR")
    ap.add_argument("--check", action="store_true", help="compare with the files in --out and write nothing")
    args = ap.parse_args()

    warnings.filterwarnings("ignore", category=UserWarning)  # OneCycleLR/optimizer order notices
    print(f"make-reference-values: torch {torch.__version__}, numpy {numpy.__version__}, "
          f"python {platform.python_version()}", file=sys.stderr)
    files = all_files()
    if args.check:
        sys.exit(0 if compare(files, args.out) else 1)
    os.makedirs(args.out, exist_ok=True)
    for name, data in files.items():
        path = os.path.join(args.out, name)
        with open(path + ".tmp", "w") as f:
            json.dump(data, f, indent=1)
            f.write("\n")
        os.replace(path + ".tmp", path)
        print(f"make-reference-values: wrote {os.path.relpath(path, ROOT)}", file=sys.stderr)
    if args.compare and not compare(files, args.compare):
        sys.exit(1)


if __name__ == "__main__":
    main()
