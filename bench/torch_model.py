"""The score network and DDPM pieces in PyTorch, shared by bench/torch_trajectory.py (step-for-step
replays), bench/torch_ref.py (benchmark) and bench/torch_population.py.

The variants come from bench/_variants.py, generated from the TypeScript descriptors
(src/variants/*.ts, `npm run gen`): each variant's attention parameters (attn.<name> becomes the
nn.Linear(32, 32, bias=False) `self.<name>`) and its attention weights. The values h Wv, the residual
and everything else are shared here, as in the fused kernels.
"""
import math
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _variants import VARIANTS  # noqa: E402  (generated; see the module docstring)

D = 32  # token width, time embedding and attention (SPEC)


class Ctx:
    """How the attention weights are computed for one call: mode "train" (Gumbel-softmax with the
    given draws, straight-through if `hard`), or a sampling rule "argmax" | "gumbel-hard" |
    "gumbel-soft" (variants with Gumbel draws; others ignore it)."""

    def __init__(self, mode="argmax", gumbel=None, tau=1.0, hard=False):
        self.mode, self.gumbel, self.tau, self.hard = mode, gumbel, tau, hard


def timestep_embedding(t, dim=D):
    """Sinusoidal embedding [sin(t f_i), cos(t f_i)], f_i = exp(-ln(10000) i / (dim / 2)): [B] -> [B, dim]."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float64) / half).to(torch.get_default_dtype())
    args = t.to(freqs.dtype)[:, None] * freqs[None, :]
    return torch.cat([torch.sin(args), torch.cos(args)], dim=1)


def tokens_to_nchw(x):
    """[B, 4, 12] patch tokens -> NCHW [B, 3, 4, 4]. Token q is quadrant (q // 2, q % 2) of the
    image, feature f = (dy * 2 + dx) * 3 + c is pixel (2 * (q // 2) + dy, 2 * (q % 2) + dx), channel c."""
    b = x.shape[0]
    x = x.reshape(b, 2, 2, 2, 2, 3)  # [B, qrow, qcol, dy, dx, c]
    return x.permute(0, 5, 1, 3, 2, 4).reshape(b, 3, 4, 4)


def nhwc_to_nchw(x):
    return x.permute(0, 3, 1, 2).contiguous()


def block_names(variant):
    """The suffixes of a variant's attention parameters (attn.wq -> wq), in layout order."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; expected one of {tuple(VARIANTS)} (bench/_variants.py; npm run gen)")
    return [name.split(".", 1)[1] for name, _ in VARIANTS[variant]["params"]]


class ScoreNet(nn.Module):
    """eps(x_t, t): conv 2x2/2 -> + time MLP -> SiLU -> attention residual -> transposed conv 2x2/2."""

    def __init__(self, variant, softmax_scale=1 / math.sqrt(D)):
        super().__init__()
        self.variant = variant
        self.softmax_scale = softmax_scale
        self.conv1 = nn.Conv2d(3, D, 2, stride=2)
        self.time_mlp = nn.Sequential(nn.Linear(D, D), nn.SiLU(), nn.Linear(D, D))
        for name in block_names(variant):
            setattr(self, name, nn.Linear(D, D, bias=False))
        self.out = nn.ConvTranspose2d(D, 3, 2, stride=2)
        self.weights_fn = VARIANTS[variant]["weights"]

    def scores(self, q, k):
        return q @ k.transpose(1, 2) * self.softmax_scale

    def attention(self, h, ctx):
        """Attention weights [B, 4 queries, 4 keys] (the variant's, from bench/_variants.py)."""
        return self.weights_fn(self, h, self.scores, ctx)

    def forward(self, x, t, ctx=None):
        b = x.shape[0]
        h = self.conv1(x).flatten(2).transpose(1, 2).contiguous()  # [B, 4, 32]: quadrants TL, TR, BL, BR
        h = F.silu(h + self.time_mlp(timestep_embedding(t))[:, None, :])
        if self.weights_fn is not None:
            h = h + self.attention(h, ctx or Ctx()) @ self.wv(h)
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
    for name in block_names(model.variant):
        views[f"attn.{name}"] = (getattr(model, name).weight, lambda a: a.T, lambda w: w.T)
    return views


def load_packed(model, flat, layout):
    import numpy as np  # noqa: F401  (flat is a numpy array)
    views = named_views(model)
    if sorted(views) != sorted(p["name"] for p in layout):
        raise ValueError(f"parameter names differ: model {sorted(views)}, export {sorted(p['name'] for p in layout)}")
    with torch.no_grad():
        for p in layout:
            tensor, to_torch, _ = views[p["name"]]
            a = torch.as_tensor(flat[p["offset"]:p["offset"] + p["size"]]).reshape(p["shape"])
            tensor.copy_(to_torch(a) if to_torch else a)


def to_packed(model, layout, total):
    import numpy as np
    views = named_views(model)
    out = np.zeros(total, dtype=np.float32)
    for p in layout:
        tensor, _, to_ours = views[p["name"]]
        w = tensor.detach()
        out[p["offset"]:p["offset"] + p["size"]] = (to_ours(w) if to_ours else w).reshape(-1).float().numpy()
    return out


# ---------------------------------------------------------------- DDPM schedule and reverse steps
def make_schedule(steps, beta_start, beta_end):
    """Linear betas. Computed in float64 (as Ho et al.'s reference code does), used in the run's dtype."""
    betas = torch.linspace(beta_start, beta_end, steps, dtype=torch.float64)
    alphas = 1 - betas
    alpha_bars = torch.cumprod(alphas, dim=0)
    return {"betas": betas, "alphas": alphas, "alpha_bars": alpha_bars,
            "alpha_bars_prev": torch.cat([torch.ones(1, dtype=torch.float64), alpha_bars[:-1]])}


SAMPLER_FORMS = ("ddpm", "ddpm-posterior", "clamp-x0")


def reverse_step(form, sch, t, x, eps_hat, z, dtype):
    """x_t -> x_{t-1} (z: standard normal noise, unused at t = 0), as src/ddpm/sampler-forms.ts:
    ddpm (SPEC: eps form, sigma^2 = beta), ddpm-posterior (sigma^2 = beta-tilde), clamp-x0
    (VSehwag/minimal-diffusion: x0 clamped to [-1, 1], posterior mean, beta-tilde)."""
    beta, alpha, ab, ab_prev = sch["betas"][t], sch["alphas"][t], sch["alpha_bars"][t], sch["alpha_bars_prev"][t]
    if form not in SAMPLER_FORMS:
        raise ValueError(f"unknown sampler form {form!r}; expected one of {SAMPLER_FORMS}")
    if form == "clamp-x0":
        x0 = ((x - (1 - ab).sqrt().to(dtype) * eps_hat) * (1 / ab.sqrt()).to(dtype)).clamp(-1, 1)
        denom = (1 - ab) * alpha.sqrt()
        mean = (ab.sqrt() * beta / denom).to(dtype) * x0 + ((alpha - ab) / denom).to(dtype) * x
    else:
        mean = (x - (beta / (1 - ab).sqrt()).to(dtype) * eps_hat) * (1 / alpha.sqrt()).to(dtype)
    if t == 0:
        return mean
    variance = beta if form == "ddpm" else beta * (1 - ab_prev) / (1 - ab)
    return mean + variance.sqrt().to(dtype) * z
