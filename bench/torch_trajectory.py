#!/usr/bin/python3
"""Replay an exported training run (or sampling run) in PyTorch, step for step.

The TypeScript side (src/verify/trajectory.ts, src/verify/sampling.ts) writes the initial weights,
the dataset, and every random number a run consumes. This script trains the same model the way a
PyTorch user would write it (nn.Conv2d, nn.ConvTranspose2d, torch.optim.AdamW,
torch.optim.lr_scheduler.OneCycleLR, an EMA with warm-up) on exactly those inputs, and writes its
own losses and weights, so that test/torch-agreement.test.ts can compare the two step for step.

  /usr/bin/python3 bench/torch_trajectory.py train DIR [DIR ...] [--perturb NAME ...] [--dtype float64]
  /usr/bin/python3 bench/torch_trajectory.py sample DIR VARIANT [VARIANT ...] [--perturb NAME ...] [--dtype float64]
      [--sampler ddpm|ddpm-posterior|clamp-x0] [--top1-sampling argmax|gumbel-hard|gumbel-soft]

train: reads DIR/trajectory.json and its arrays, writes DIR/torch[-NAME][-float64]/{loss,theta,ema}.npy
       (theta and ema: packed parameter vectors after each step listed in recordSteps).
sample: reads DIR/sampling.json, DIR/noise/{xT,z}.npy (and gumbel.npy) and DIR/VARIANT/params.{npy,json},
        writes DIR/VARIANT/torch[-NAME][-float64][-FORM][-RULE].npy (NHWC samples [n, 4, 4, 3]).
The model (bench/torch_model.py) takes each variant's attention from bench/_variants.py, generated
from the TypeScript descriptors.
One run per DIR (or VARIANT) and per NAME; the last stdout line is a JSON summary of the runs.
--dtype float64 runs the same code in float64: a yardstick of float32's own rounding error.
--perturb makes ONE deliberate one-line change per run (negative controls: the comparison must fail):
  softmax_scale  attention scores without the 1/sqrt(d) factor
  ema_decay      EMA warm-up counted from 1 instead of 0: min(decay, (2 + n) / (11 + n))
  pct_start      OneCycleLR pct_start 0.25 (fastai's default) instead of the exported 0.3
  loss_weight    weight 1 - alphaBar_{t-1} (diffusers' alphas_cumprod_prev) instead of 1 - alphaBar_t
  and for sample: softmax_scale as above, or
  sigma_tilde    sampling noise sqrt(posterior variance beta_t (1 - alphaBar_{t-1}) / (1 - alphaBar_t))
                 (DDPM's other choice) instead of sqrt(beta_t)
  no_clamp       (--sampler clamp-x0) the posterior mean without clamping x0
  gumbel_transpose (--top1-sampling gumbel-*) Gumbel draws g[key, query] instead of g[query, key]
Run with the Debian interpreter (torch 1.13 + numpy): see bench/setup-torch.sh.
"""
import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
PERTURBATIONS = ("softmax_scale", "ema_decay", "pct_start", "loss_weight")
SAMPLE_PERTURBATIONS = ("softmax_scale", "sigma_tilde", "no_clamp", "gumbel_transpose")


from torch_model import (D, SAMPLER_FORMS, VARIANTS, Ctx, ScoreNet, load_packed, make_schedule, nhwc_to_nchw,  # noqa: E402
                         reverse_step, to_packed, tokens_to_nchw)


def load(path):
    return torch.from_numpy(np.load(path))


# ---------------------------------------------------------------- training
def train(d, perturb=None, dtype=torch.float32):
    meta = json.load(open(os.path.join(d, "trajectory.json")))
    torch.set_default_dtype(dtype)
    variant, N = meta["variant"], meta["steps"]
    model = ScoreNet(variant, softmax_scale=1.0 if perturb == "softmax_scale" else 1 / math.sqrt(D))
    tau, hard = meta["gumbelTau"], meta.get("gumbelHard", False)
    load_packed(model, np.load(os.path.join(d, "theta0.npy")), meta["params"])
    ema = ScoreNet(variant).requires_grad_(False)
    ema.load_state_dict(model.state_dict())

    o, oc = meta["optimizer"], meta["oneCycle"]
    opt = torch.optim.AdamW(model.parameters(), lr=o["lr"], betas=(o["beta1"], o["beta2"]), eps=o["eps"], weight_decay=o["weightDecay"])
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=o["lr"], total_steps=oc["totalSteps"], pct_start=0.25 if perturb == "pct_start" else oc["pctStart"],
        anneal_strategy="cos", cycle_momentum=oc["cycleMomentum"], base_momentum=oc["baseMomentum"],
        max_momentum=oc["maxMomentum"], div_factor=oc["divFactor"], final_div_factor=oc["finalDivFactor"])

    s = meta["schedule"]
    sch = make_schedule(s["steps"], s["betaStart"], s["betaEnd"])
    sqrt_ab, sqrt_1m_ab = sch["alpha_bars"].sqrt().to(dtype), (1 - sch["alpha_bars"]).sqrt().to(dtype)
    weight = (1 - sch["alpha_bars_prev" if perturb == "loss_weight" else "alpha_bars"]).to(dtype)

    images = nhwc_to_nchw(load(os.path.join(d, "images.npy"))).to(dtype)  # [n, 3, 4, 4]
    sizes = np.load(os.path.join(d, "batch.npy"))
    index, ts = load(os.path.join(d, "index.npy")).long(), load(os.path.join(d, "t.npy")).long()
    noise = load(os.path.join(d, "eps.npy")).to(dtype)
    gumbel = load(os.path.join(d, "gumbel.npy")).to(dtype) if VARIANTS[variant]["gumbel"] else None
    record = set(meta["recordSteps"])
    ema_cfg = meta["ema"]

    losses, thetas, emas = [], [], []
    start = 0
    for n in range(N):
        sl = slice(start, start + int(sizes[n]))
        start = sl.stop
        x0, t, eps = images[index[sl]], ts[sl], tokens_to_nchw(noise[sl])
        xt = sqrt_ab[t].view(-1, 1, 1, 1) * x0 + sqrt_1m_ab[t].view(-1, 1, 1, 1) * eps
        eps_hat = model(xt, t, Ctx("train", gumbel[sl] if gumbel is not None else None, tau, hard))
        loss = (weight[t] * ((eps_hat - eps) ** 2).mean(dim=(1, 2, 3))).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        # EMA with warm-up, updated after every optimizer step n (0-based)
        k = n + 1 if perturb == "ema_decay" else n
        decay = min(ema_cfg["decay"], (1 + k) / (10 + k)) if ema_cfg["warmup"] else ema_cfg["decay"]
        with torch.no_grad():
            for pe, p in zip(ema.parameters(), model.parameters()):
                pe.lerp_(p, 1 - decay)
        losses.append(loss.item())
        if n + 1 in record:
            thetas.append(to_packed(model, meta["params"], meta["paramCount"]))
            emas.append(to_packed(ema, meta["params"], meta["paramCount"]))
    if start != len(index):
        raise ValueError(f"{len(index)} exported examples, {start} consumed by {N} steps")
    return np.array(losses, dtype=np.float64), np.stack(thetas), np.stack(emas)


# ---------------------------------------------------------------- sampling
@torch.no_grad()
def sample(d, variant, dtype=torch.float32, perturb=None, form="ddpm", rule="argmax"):
    """Ancestral DDPM sampling with the exported x_T, z_t (and, for a Gumbel variant sampled with a
    rule other than argmax, the exported Gumbel draws g_t [n, 4, 4]): reverse step `form`, no noise
    at t = 0."""
    torch.set_default_dtype(dtype)
    meta = json.load(open(os.path.join(d, "sampling.json")))
    s = meta["schedule"]
    sch = make_schedule(s["steps"], s["betaStart"], s["betaEnd"])
    model = ScoreNet(variant, softmax_scale=1.0 if perturb == "softmax_scale" else 1 / math.sqrt(D))
    load_packed(model, np.load(os.path.join(d, variant, "params.npy")), json.load(open(os.path.join(d, variant, "params.json"))))
    z = load(os.path.join(d, "noise", "z.npy")).to(dtype)  # [T, n, 4, 12]
    gumbel = None
    if VARIANTS[variant]["gumbel"] and rule != "argmax":
        gumbel = load(os.path.join(d, "noise", "gumbel.npy")).to(dtype)  # [T, n, 4 queries, 4 keys]
        if perturb == "gumbel_transpose":
            gumbel = gumbel.transpose(2, 3)
    x = tokens_to_nchw(load(os.path.join(d, "noise", "xT.npy")).to(dtype))
    step_form = "ddpm-posterior" if perturb == "no_clamp" and form == "clamp-x0" else ("ddpm-posterior" if perturb == "sigma_tilde" else form)
    for t in range(s["steps"] - 1, -1, -1):
        ctx = Ctx(rule, gumbel[t] if gumbel is not None else None, meta.get("tau", 1.0))
        eps_hat = model(x, torch.full((x.shape[0],), t, dtype=torch.long), ctx)
        x = reverse_step(step_form, sch, t, x, eps_hat, tokens_to_nchw(z[t]) if t > 0 else None, dtype)
    return x.permute(0, 2, 3, 1).contiguous().float().numpy()  # NHWC


def versions():
    return {"torch": torch.__version__, "numpy": np.__version__, "python": sys.version.split()[0]}


def save_npy(path, array):
    """np.save to a temporary file, then rename: readers never see a torn file."""
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "wb") as f:
        np.save(f, array)
    os.replace(tmp, path)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="what", required=True)
    tr = sub.add_parser("train", help="replay exported training runs")
    tr.add_argument("dirs", nargs="+", metavar="DIR")
    tr.add_argument("--perturb", nargs="+", choices=PERTURBATIONS, help="one run per change (default: none)")
    tr.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    sa = sub.add_parser("sample", help="sample from exported weights with exported noise")
    sa.add_argument("dir")
    sa.add_argument("variants", nargs="+", metavar="VARIANT", choices=tuple(VARIANTS))
    sa.add_argument("--perturb", nargs="+", choices=SAMPLE_PERTURBATIONS, help="one run per change (default: none)")
    sa.add_argument("--sampler", choices=SAMPLER_FORMS, default="ddpm", help="reverse-step form (default: the SPEC's ddpm)")
    sa.add_argument("--top1-sampling", choices=("argmax", "gumbel-hard", "gumbel-soft"), default="argmax",
                    help="attention rule of Gumbel variants while sampling (needs DIR/noise/gumbel.npy unless argmax)")
    sa.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    dtype = getattr(torch, args.dtype)
    runs = []
    # one run per (folder or variant, perturbation); a process imports torch once for all of them
    for target in (args.dirs if args.what == "train" else args.variants):
        for perturb in args.perturb or [None]:
            t0 = time.perf_counter()
            name = "torch" + (f"-{perturb}" if perturb else "") + ("-float64" if args.dtype == "float64" else "")
            if args.what == "sample":
                name += (f"-{args.sampler}" if args.sampler != "ddpm" else "") + (f"-{args.top1_sampling}" if args.top1_sampling != "argmax" else "")
            if args.what == "train":
                out = os.path.join(target, name)
                os.makedirs(out, exist_ok=True)
                for key, a in zip(("loss", "theta", "ema"), train(target, perturb, dtype)):
                    save_npy(os.path.join(out, f"{key}.npy"), a)
            else:
                save_npy(os.path.join(args.dir, target, f"{name}.npy"), sample(args.dir, target, dtype, perturb, args.sampler, args.top1_sampling))
            runs.append({"target": target, "perturb": perturb, "dtype": args.dtype, "output": name, "seconds": round(time.perf_counter() - t0, 2)})
            print(json.dumps(runs[-1]), file=sys.stderr, flush=True)
    print(json.dumps({"runs": runs, **versions()}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
