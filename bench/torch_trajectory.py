#!/usr/bin/python3
"""Replay an exported training run (or sampling run) in PyTorch, step for step.

The TypeScript side (src/verify/trajectory.ts, src/verify/sampling.ts) writes the initial weights,
the dataset, and every random number a run consumes. This script trains the same model the way a
PyTorch user would write it (nn.Conv2d, nn.ConvTranspose2d, torch.optim.AdamW,
torch.optim.lr_scheduler.OneCycleLR, an EMA with warm-up) on exactly those inputs, and writes its
own losses and weights, so that test/torch-agreement.test.ts can compare the two step for step.

  /usr/bin/python3 bench/torch_trajectory.py train DIR [DIR ...] [--perturb NAME ...] [--dtype float64]
  /usr/bin/python3 bench/torch_trajectory.py sample DIR VARIANT [VARIANT ...] [--perturb NAME ...] [--dtype float64]

train: reads DIR/trajectory.json and its arrays, writes DIR/torch[-NAME][-float64]/{loss,theta,ema}.npy
       (theta and ema: packed parameter vectors after each step listed in recordSteps).
sample: reads DIR/sampling.json, DIR/noise/{xT,z}.npy and DIR/VARIANT/params.{npy,json}, writes
        DIR/VARIANT/torch[-NAME][-float64].npy (NHWC samples [n, 4, 4, 3]).
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
import torch.nn as nn
import torch.nn.functional as F

D = 32  # token width, time embedding and attention (SPEC)
PERTURBATIONS = ("softmax_scale", "ema_decay", "pct_start", "loss_weight")
SAMPLE_PERTURBATIONS = ("softmax_scale", "sigma_tilde")


# ---------------------------------------------------------------- layout helpers
def tokens_to_nchw(x):
    """[B, 4, 12] patch tokens -> NCHW [B, 3, 4, 4]. Token q is quadrant (q // 2, q % 2) of the
    image, feature f = (dy * 2 + dx) * 3 + c is pixel (2 * (q // 2) + dy, 2 * (q % 2) + dx), channel c."""
    b = x.shape[0]
    x = x.reshape(b, 2, 2, 2, 2, 3)  # [B, qrow, qcol, dy, dx, c]
    return x.permute(0, 5, 1, 3, 2, 4).reshape(b, 3, 4, 4)


def nhwc_to_nchw(x):
    return x.permute(0, 3, 1, 2).contiguous()


# ---------------------------------------------------------------- the model
def timestep_embedding(t, dim=D):
    """Sinusoidal embedding [sin(t f_i), cos(t f_i)], f_i = exp(-ln(10000) i / (dim / 2)): [B] -> [B, dim]."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float64) / half).to(torch.get_default_dtype())
    args = t.to(freqs.dtype)[:, None] * freqs[None, :]
    return torch.cat([torch.sin(args), torch.cos(args)], dim=1)


class ScoreNet(nn.Module):
    """eps(x_t, t): conv 2x2/2 -> + time MLP -> SiLU -> attention residual -> transposed conv 2x2/2."""

    def __init__(self, variant, softmax_scale=1 / math.sqrt(D), tau=1.0):
        super().__init__()
        self.variant = variant
        self.softmax_scale = softmax_scale
        self.tau = tau
        self.conv1 = nn.Conv2d(3, D, 2, stride=2)
        self.time_mlp = nn.Sequential(nn.Linear(D, D), nn.SiLU(), nn.Linear(D, D))
        if variant in ("attention", "top1"):
            self.q = nn.Linear(D, D, bias=False)
            self.k = nn.Linear(D, D, bias=False)
        if variant != "cnn":
            self.v = nn.Linear(D, D, bias=False)
        self.out = nn.ConvTranspose2d(D, 3, 2, stride=2)

    def attention(self, h, gumbel):
        """Attention weights [B, 4 queries, 4 keys]."""
        if self.variant == "identity":
            q, k = h, h  # Q = K = identity, fixed
        else:
            q, k = self.q(h), self.k(h)
        scores = q @ k.transpose(1, 2) * self.softmax_scale
        if self.variant != "top1":
            return scores.softmax(dim=-1)
        if gumbel is None:  # sampling: hard top-1, one-hot argmax over keys
            return F.one_hot(scores.argmax(dim=-1), 4).to(scores.dtype)
        return ((scores + gumbel) / self.tau).softmax(dim=-1)  # training: Gumbel-softmax with given draws

    def forward(self, x, t, gumbel=None):
        b = x.shape[0]
        h = self.conv1(x).flatten(2).transpose(1, 2).contiguous()  # [B, 4, 32]: quadrants TL, TR, BL, BR
        h = F.silu(h + self.time_mlp(timestep_embedding(t))[:, None, :])
        if self.variant != "cnn":
            h = h + self.attention(h, gumbel) @ self.v(h)
        return self.out(h.transpose(1, 2).reshape(b, D, 2, 2))  # [B, 3, 4, 4]


# ---------------------------------------------------------------- the TypeScript packed vector <-> the module
def named_views(model):
    """Our parameter names -> (torch tensor, function ours-array -> torch layout, and back)."""
    views = {
        # conv1.w [12, 32]: rows are patch features (dy, dx, c) -> Conv2d weight [32, 3, 2, 2]
        "conv1.w": (model.conv1.weight, lambda a: a.reshape(2, 2, 3, D).permute(3, 2, 0, 1), lambda w: w.permute(2, 3, 1, 0).reshape(12, D)),
        "conv1.b": (model.conv1.bias, None, None),
        # dense layers are y = x W with W [in, out]; nn.Linear stores W^T
        "time.w1": (model.time_mlp[0].weight, lambda a: a.T, lambda w: w.T),
        "time.b1": (model.time_mlp[0].bias, None, None),
        "time.w2": (model.time_mlp[2].weight, lambda a: a.T, lambda w: w.T),
        "time.b2": (model.time_mlp[2].bias, None, None),
        # out.w [32, 12]: columns are output pixels (dy, dx, c) -> ConvTranspose2d weight [32, 3, 2, 2]
        "out.w": (model.out.weight, lambda a: a.reshape(D, 2, 2, 3).permute(0, 3, 1, 2), lambda w: w.permute(0, 2, 3, 1).reshape(D, 12)),
        "out.b": (model.out.bias, None, None),
    }
    for name in ("q", "k", "v"):
        if hasattr(model, name):
            views[f"attn.w{name}"] = (getattr(model, name).weight, lambda a: a.T, lambda w: w.T)
    return views


def load_packed(model, flat, layout):
    views = named_views(model)
    if sorted(views) != sorted(p["name"] for p in layout):
        raise ValueError(f"parameter names differ: model {sorted(views)}, export {sorted(p['name'] for p in layout)}")
    with torch.no_grad():
        for p in layout:
            tensor, to_torch, _ = views[p["name"]]
            a = torch.as_tensor(flat[p["offset"]:p["offset"] + p["size"]]).reshape(p["shape"])
            tensor.copy_(to_torch(a) if to_torch else a)


def to_packed(model, layout, total):
    views = named_views(model)
    out = np.zeros(total, dtype=np.float32)
    for p in layout:
        tensor, _, to_ours = views[p["name"]]
        w = tensor.detach()
        out[p["offset"]:p["offset"] + p["size"]] = (to_ours(w) if to_ours else w).reshape(-1).float().numpy()
    return out


# ---------------------------------------------------------------- DDPM schedule
def make_schedule(steps, beta_start, beta_end):
    """Linear betas. Computed in float64 (as Ho et al.'s reference code does), used in the run's dtype."""
    betas = torch.linspace(beta_start, beta_end, steps, dtype=torch.float64)
    alphas = 1 - betas
    alpha_bars = torch.cumprod(alphas, dim=0)
    return {"betas": betas, "alphas": alphas, "alpha_bars": alpha_bars,
            "alpha_bars_prev": torch.cat([torch.ones(1, dtype=torch.float64), alpha_bars[:-1]])}


def load(path):
    return torch.from_numpy(np.load(path))


# ---------------------------------------------------------------- training
def train(d, perturb=None, dtype=torch.float32):
    meta = json.load(open(os.path.join(d, "trajectory.json")))
    torch.set_default_dtype(dtype)
    variant, N = meta["variant"], meta["steps"]
    model = ScoreNet(variant, softmax_scale=1.0 if perturb == "softmax_scale" else 1 / math.sqrt(D), tau=meta["gumbelTau"])
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
    gumbel = load(os.path.join(d, "gumbel.npy")).to(dtype) if variant == "top1" else None
    record = set(meta["recordSteps"])
    ema_cfg = meta["ema"]

    losses, thetas, emas = [], [], []
    start = 0
    for n in range(N):
        sl = slice(start, start + int(sizes[n]))
        start = sl.stop
        x0, t, eps = images[index[sl]], ts[sl], tokens_to_nchw(noise[sl])
        xt = sqrt_ab[t].view(-1, 1, 1, 1) * x0 + sqrt_1m_ab[t].view(-1, 1, 1, 1) * eps
        eps_hat = model(xt, t, gumbel=gumbel[sl] if gumbel is not None else None)
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
def sample(d, variant, dtype=torch.float32, perturb=None):
    """Ancestral DDPM sampling with the exported x_T and z_t (SPEC: no noise at t = 0, no clipping)."""
    torch.set_default_dtype(dtype)
    s = json.load(open(os.path.join(d, "sampling.json")))["schedule"]
    sch = make_schedule(s["steps"], s["betaStart"], s["betaEnd"])
    model = ScoreNet(variant, softmax_scale=1.0 if perturb == "softmax_scale" else 1 / math.sqrt(D))
    load_packed(model, np.load(os.path.join(d, variant, "params.npy")), json.load(open(os.path.join(d, variant, "params.json"))))
    z = load(os.path.join(d, "noise", "z.npy")).to(dtype)  # [T, n, 4, 12]
    x = tokens_to_nchw(load(os.path.join(d, "noise", "xT.npy")).to(dtype))
    for t in range(s["steps"] - 1, -1, -1):
        beta, alpha, ab = sch["betas"][t], sch["alphas"][t], sch["alpha_bars"][t]
        eps_hat = model(x, torch.full((x.shape[0],), t, dtype=torch.long))
        x = (x - (beta / (1 - ab).sqrt()).to(dtype) * eps_hat) * (1 / alpha.sqrt()).to(dtype)
        if t > 0:
            variance = beta * (1 - sch["alpha_bars_prev"][t]) / (1 - ab) if perturb == "sigma_tilde" else beta
            x = x + variance.sqrt().to(dtype) * tokens_to_nchw(z[t])
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
    sa.add_argument("variants", nargs="+", metavar="VARIANT", choices=("cnn", "attention", "identity", "top1"))
    sa.add_argument("--perturb", nargs="+", choices=SAMPLE_PERTURBATIONS, help="one run per change (default: none)")
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
            if args.what == "train":
                out = os.path.join(target, name)
                os.makedirs(out, exist_ok=True)
                for key, a in zip(("loss", "theta", "ema"), train(target, perturb, dtype)):
                    save_npy(os.path.join(out, f"{key}.npy"), a)
            else:
                save_npy(os.path.join(args.dir, target, f"{name}.npy"), sample(args.dir, target, dtype, perturb))
            runs.append({"target": target, "perturb": perturb, "dtype": args.dtype, "output": name, "seconds": round(time.perf_counter() - t0, 2)})
            print(json.dumps(runs[-1]), file=sys.stderr, flush=True)
    print(json.dumps({"runs": runs, **versions()}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
