#!/usr/bin/python3
"""PyTorch reference of SPEC.md's model and update, for timing and cross-checking the TypeScript code.

Same network (conv1 -> time embedding -> SiLU -> attention residual -> transposed conv), same DDPM
(T = 1000, linear betas 1e-4..0.02, weighted epsilon loss), same optimiser pieces (AdamW, OneCycleLR
stepped every batch, EMA with warm-up), written the way a PyTorch user would write them.

Run with the Debian interpreter, /usr/bin/python3 (see bench/setup-torch.sh and bench/README.md):

  /usr/bin/python3 bench/torch_ref.py --variant attention --what train --threads 1
  /usr/bin/python3 bench/torch_ref.py --all --threads 2
  /usr/bin/python3 bench/torch_ref.py --check

Each timing prints ONE JSON line on stdout (keys: see `result_line`); diagnostics go to stderr.
"""
import argparse
import ctypes
import json
import math
import os
import re
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_model import VARIANTS as GENERATED, Ctx, block_names  # noqa: E402  (bench/_variants.py, npm run gen)

# Every variant of the registry (src/variants/, generated into bench/_variants.py), the paper's first.
VARIANTS = tuple(GENERATED)
WHATS = ("train", "sample")
D = 32  # token features
T = 1000  # diffusion steps
TRAIN_BATCH = 64
SAMPLE_BATCH = 10_000
TOTAL_STEPS = 5000 * 32  # OneCycleLR length: paper's 5000 epochs x 32 steps


# ---------------------------------------------------------------- DDPM schedule (plain data, no model)
def make_schedule(steps=T, beta_start=1e-4, beta_end=0.02):
    betas = torch.linspace(beta_start, beta_end, steps, dtype=torch.float32)
    alphas = 1.0 - betas
    alpha_bars = torch.cumprod(alphas, dim=0)
    return {"betas": betas, "alphas": alphas, "alpha_bars": alpha_bars}


# ---------------------------------------------------------------- dataset (SPEC "colour key-value pairs")
PALETTE = {"red": (1, 0, 0), "green": (0, 1, 0), "yellow": (1, 1, 0), "blue": (0, 0, 1)}
PATTERNS = (
    (("red", "green"), ("yellow", "blue")),  # P0
    (("red", "yellow"), ("green", "blue")),  # P1
    (("red", "blue"), ("green", "yellow")),  # P2
)


def make_images(n, generator):
    """n valid images, NCHW [n, 3, 4, 4] in [-1, 1]. Uses torch's PRNG, so the bytes differ from the
    TypeScript dataset; the distribution is the same (pattern uniform, pair per quadrant uniform)."""
    img = torch.empty(n, 3, 4, 4)
    patterns = torch.randint(0, 3, (n,), generator=generator)
    pairs = torch.randint(0, 2, (n, 4), generator=generator)
    for i in range(n):
        for q in range(4):  # quadrants in row-major order: TL, TR, BL, BR (= token order)
            key, value = PATTERNS[patterns[i]][pairs[i, q]]
            r, c = 2 * (q // 2), 2 * (q % 2)
            img[i, :, r:r + 2, c] = torch.tensor(PALETTE[key], dtype=torch.float32)[:, None]
            img[i, :, r:r + 2, c + 1] = torch.tensor(PALETTE[value], dtype=torch.float32)[:, None]
    return img * 2 - 1


# ---------------------------------------------------------------- score network eps(x_t, t)
def timestep_embedding(t, dim=D):
    """Sinusoidal embedding: [B] -> [B, dim]; freqs exp(-ln(10000) i / half), i < half."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32) / half)
    args = t.float()[:, None] * freqs[None, :]  # [B, half]
    return torch.cat([torch.sin(args), torch.cos(args)], dim=1)


class ScoreNet(nn.Module):
    def __init__(self, variant):
        super().__init__()
        if variant not in VARIANTS:
            raise ValueError(f"unknown variant {variant!r}; expected one of {VARIANTS}")
        self.variant = variant
        self.conv1 = nn.Conv2d(3, D, 2, stride=2)
        self.time1 = nn.Linear(D, D)
        self.time2 = nn.Linear(D, D)
        for name in block_names(variant):  # attn.wq -> self.wq, ... (the variant's attention parameters)
            setattr(self, name, nn.Linear(D, D, bias=False))
        self.out = nn.ConvTranspose2d(D, 3, 2, stride=2)
        self.weights_fn = GENERATED[variant]["weights"]  # the variant's attention weights, or None (cnn)
        self.last_attention = None  # [B, 4, 4], kept for inspection when requested

    def attention_weights(self, h, hard):
        """Training (hard False): a Gumbel variant draws Gumbel(0, 1) noise as F.gumbel_softmax does and
        uses its soft form (tau 1); sampling (hard True): the argmax rule (SPEC)."""
        if GENERATED[self.variant]["gumbel"] and not hard:
            g = -torch.empty(h.shape[0], h.shape[1], h.shape[1], dtype=h.dtype).exponential_().log()
            ctx = Ctx("train", g, 1.0, False)
        else:
            ctx = Ctx("argmax")
        return self.weights_fn(self, h, lambda q, k: q @ k.transpose(1, 2) / math.sqrt(D), ctx)

    def forward(self, x, t, hard=False, keep_attention=False):
        b = x.shape[0]
        h = self.conv1(x).flatten(2).transpose(1, 2)  # [B, 4, 32], tokens TL, TR, BL, BR
        temb = self.time2(F.silu(self.time1(timestep_embedding(t))))  # [B, 32]
        h = F.silu(h + temb[:, None, :])
        if self.weights_fn is not None:
            w = self.attention_weights(h, hard)  # [B, 4, 4]
            if keep_attention:
                self.last_attention = w.detach()
            h = h + w @ self.wv(h)
        h = h.transpose(1, 2).reshape(b, D, 2, 2)  # [B, 32, 2, 2]
        return self.out(h)  # [B, 3, 4, 4]


class TokenScoreNet(ScoreNet):
    """The same network on the token layout [B, 4, 12] (as the TypeScript engines keep it): the
    2x2 stride-2 convolution is a Linear(12, 32) on patches and the transposed convolution a
    Linear(32, 12) with a per-channel bias tiled over the 4 pixels. Same parameters, fewer
    reshapes: the fastest way we found to write this model in PyTorch (`--layout token`)."""

    def __init__(self, variant):
        super().__init__(variant)
        self.conv1 = nn.Linear(12, D)
        self.out = nn.Linear(D, 12, bias=False)
        self.out_b = nn.Parameter(torch.zeros(3))

    def forward(self, x, t, hard=False, keep_attention=False):
        h = self.conv1(x)  # [B, 4, 32]
        temb = self.time2(F.silu(self.time1(timestep_embedding(t))))  # [B, 32]
        h = F.silu(h + temb[:, None, :])
        if self.weights_fn is not None:
            w = self.attention_weights(h, hard)
            if keep_attention:
                self.last_attention = w.detach()
            h = h + w @ self.wv(h)
        return self.out(h) + self.out_b.repeat(4)  # [B, 4, 12]


def to_tokens(x):
    """NCHW [B, 3, 4, 4] -> tokens [B, 4, 12] (quadrant-major, (dy, dx, c) features)."""
    b = x.shape[0]
    return x.reshape(b, 3, 2, 2, 2, 2).permute(0, 2, 4, 3, 5, 1).reshape(b, 4, 12).contiguous()


# ---------------------------------------------------------------- training step and EMA
def make_training(model, total_steps=TOTAL_STEPS):
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.999), weight_decay=1e-5)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=1e-3, total_steps=total_steps)
    ema = [p.detach().clone() for p in model.parameters()]
    return opt, sched, ema


def loss_fn(model, schedule, x0, t, eps):
    ab = schedule["alpha_bars"][t].view(-1, *([1] * (x0.dim() - 1)))
    xt = ab.sqrt() * x0 + (1 - ab).sqrt() * eps
    eps_hat = model(xt, t)
    per_example = ((eps_hat - eps) ** 2).flatten(1).mean(dim=1)  # [B]
    return ((1 - ab.view(-1)) * per_example).mean()


def train_step(model, schedule, opt, sched, ema, n, x0):
    """One SPEC training step on batch x0 [B, 3, 4, 4]; n = optimizer steps done so far."""
    t = torch.randint(0, T, (x0.shape[0],))
    eps = torch.randn_like(x0)
    loss = loss_fn(model, schedule, x0, t, eps)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    sched.step()
    decay = min(0.9999, (1 + n) / (10 + n))
    with torch.no_grad():
        params = [p.detach() for p in model.parameters()]
        torch._foreach_mul_(ema, decay)
        torch._foreach_add_(ema, params, alpha=1 - decay)
    return loss


@torch.no_grad()
def sample_step(model, schedule, xt, t):
    """One ancestral DDPM step x_t -> x_{t-1} (SPEC), for a batch at a single integer t."""
    beta, alpha, ab = schedule["betas"][t], schedule["alphas"][t], schedule["alpha_bars"][t]
    tt = torch.full((xt.shape[0],), t, dtype=torch.long)
    eps_hat = model(xt, tt, hard=True)
    mean = (xt - beta / (1 - ab).sqrt() * eps_hat) / alpha.sqrt()
    if t == 0:
        return mean  # no noise at the last step
    return mean + beta.sqrt() * torch.randn_like(xt)


# ---------------------------------------------------------------- environment report
def blas_report():
    """Which BLAS is really mapped into this process (after a matmul), as (kind, libs)."""
    a = torch.randn(64, 64)
    (a @ a).sum().item()
    libs = sorted({ln.split()[-1] for ln in open("/proc/self/maps")
                   if len(ln.split()) >= 6 and ("blas" in ln.split()[-1] or "mkl" in ln.split()[-1])})
    if any("openblas" in p for p in libs):
        kind = "openblas"
    elif any("mkl" in p for p in libs):
        kind = "mkl"
    elif any("libblas" in p for p in libs):
        kind = "reference"
    else:
        kind = "unknown"
    return kind, libs


def openblas_threads(libs, n=None):
    """Set (when n is given) and read OpenBLAS's own thread count; torch.set_num_threads does not."""
    path = next((p for p in libs if "libopenblas" in p), None)
    if path is None:
        return None
    lib = ctypes.CDLL(path)
    if n is not None:
        lib.openblas_set_num_threads(ctypes.c_int(n))
    return int(lib.openblas_get_num_threads())


def config_blas_info():
    """BLAS_INFO / LAPACK_INFO from torch's build configuration (what it was linked against)."""
    return ",".join(re.findall(r"(?:BLAS|LAPACK)_INFO=[^,\s]*", torch.__config__.show()))


def warn_reference_blas(kind, libs):
    if kind == "openblas":
        return
    bar = "!" * 78
    print(f"{bar}\nWARNING: torch is using BLAS kind={kind!r} ({', '.join(libs) or 'none found'}).\n"
          "The reference BLAS is many times slower than OpenBLAS: timings are NOT representative.\n"
          "Fix: bash bench/setup-torch.sh (installs libopenblas0 / checks update-alternatives),\n"
          "and check LD_LIBRARY_PATH / LD_PRELOAD do not point at .../blas or .../lapack.\n"
          f"{bar}", file=sys.stderr)


# ---------------------------------------------------------------- timing
def time_blocks(fn, iters, warmup, repeat):
    """ms per iteration for each of `repeat` blocks of `iters` calls, after `warmup` calls."""
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(iters):
            fn()
        out.append((time.perf_counter() - start) * 1000 / iters)
    return out


def bench(variant, what, iters, warmup, repeat, seed, layout="conv"):
    torch.manual_seed(seed)
    schedule = make_schedule()
    token = layout == "token"
    model = TokenScoreNet(variant) if token else ScoreNet(variant)
    if what == "train":
        gen = torch.Generator().manual_seed(seed)
        images = make_images(32 * TRAIN_BATCH, gen)
        batches = (to_tokens(images) if token else images).split(TRAIN_BATCH)  # one epoch of batches
        opt, sched, ema = make_training(model)
        state = {"n": 0}

        def step():
            n = state["n"]
            train_step(model, schedule, opt, sched, ema, n, batches[n % len(batches)])
            state["n"] = n + 1
        batch = TRAIN_BATCH
    elif what == "sample":
        state = {"x": torch.randn(SAMPLE_BATCH, 4, 12) if token else torch.randn(SAMPLE_BATCH, 3, 4, 4), "i": 0}

        def step():
            t = T - 1 - state["i"] % T
            state["x"] = sample_step(model, schedule, state["x"], t)
            state["i"] += 1
        batch = SAMPLE_BATCH
    else:
        raise ValueError(f"unknown --what {what!r}; expected one of {WHATS}")
    return batch, time_blocks(step, iters, warmup, repeat)


DEFAULTS = {  # (iters, warmup) per --what when not given
    "train": (100, 20),
    "sample": (20, 3),
}


def result_line(variant, what, threads, batch, all_ms, env, iters, warmup):
    return json.dumps({
        "variant": variant,
        "what": what,
        "threads": threads,
        "batch": batch,
        "iters": iters,
        "warmup": warmup,
        "median_ms": round(statistics.median(all_ms), 4),
        "all_ms": [round(m, 4) for m in all_ms],
        "torch_version": torch.__version__,
        "blas": env["blas"],
        "blas_libs": env["blas_libs"],
        "blas_config": env["blas_config"],
        "openblas_threads": env["openblas_threads"],
        "openblas_env": env["openblas_env"],
        "loadavg": [round(x, 2) for x in os.getloadavg()],  # other work on the machine skews timings
    })


# ---------------------------------------------------------------- correctness check
def check(seed, steps=200):
    """Train `attention` for `steps` steps on SPEC data and show the loss falls; also pin a few
    identities of the model and the sampler. Exit code 1 when a check fails."""
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    schedule = make_schedule()
    ok = True

    def report(name, passed, detail):
        nonlocal ok
        ok = ok and passed
        print(f"{'PASS' if passed else 'FAIL'} {name}: {detail}", flush=True)

    # 1. Schedule: alpha_bar decreasing, known end values.
    ab = schedule["alpha_bars"]
    report("alpha_bar decreasing", bool((ab[1:] < ab[:-1]).all()),
           f"alpha_bar[0]={ab[0]:.6f} alpha_bar[999]={ab[-1]:.3e}")

    # 2. Data are valid: each quadrant's left column one colour, right column one colour.
    data = make_images(2048, gen)
    rgb = ((data + 1) / 2).round()  # [N, 3, 4, 4]
    cols_ok = bool((rgb[:, :, 0::2, :] == rgb[:, :, 1::2, :]).all())  # both rows of a quadrant agree
    key_ne_value = bool((rgb[:, :, :, 0::2] != rgb[:, :, :, 1::2]).any(dim=1).all())
    distinct = len({tuple(x.flatten().tolist()) for x in data})
    report("dataset", cols_ok and key_ne_value and distinct <= 48, f"2048 images, {distinct} distinct (max 48)")

    # 3. Attention rows are distributions; a Gumbel variant's sampling (argmax) is one-hot.
    for variant in (v for v in VARIANTS if GENERATED[v]["weights"] is not None):
        gumbel = GENERATED[variant]["gumbel"]
        m = ScoreNet(variant)
        x, t = data[:8], torch.randint(0, T, (8,))
        m(x, t, hard=gumbel, keep_attention=True)
        w = m.last_attention
        sums_ok = torch.allclose(w.sum(-1), torch.ones(8, 4), atol=1e-5)
        onehot_ok = not gumbel or bool(((w == 0) | (w == 1)).all())
        report(f"{variant} attention rows", sums_ok and onehot_ok, f"shape {tuple(w.shape)}")

    # 4. Removing the true noise recovers x0 (sampler algebra at t = 0 with eps_hat = eps).
    x0, eps = data[:16], torch.randn(16, 3, 4, 4)
    a0 = ab[0]
    x1 = a0.sqrt() * x0 + (1 - a0).sqrt() * eps
    rec = (x1 - schedule["betas"][0] / (1 - a0).sqrt() * eps) / schedule["alphas"][0].sqrt()
    report("t=0 step with true noise recovers x0", torch.allclose(rec, x0, atol=1e-5),
           f"max err {float((rec - x0).abs().max()):.2e}")

    # 5. Training: loss on a fixed evaluation set (fixed t and eps) falls over `steps` steps.
    model = ScoreNet("attention")
    opt, sched, ema = make_training(model, total_steps=steps)  # a full short one-cycle
    ex0 = data[:512]
    et = torch.randint(0, T, (512,), generator=gen)
    eeps = torch.randn(512, 3, 4, 4, generator=gen)

    def eval_loss():
        with torch.no_grad():
            return float(loss_fn(model, schedule, ex0, et, eeps))

    before = eval_loss()
    losses = []
    n = 0
    while n < steps:
        perm = torch.randperm(len(data))  # reshuffled every epoch
        for idx in perm.split(TRAIN_BATCH):
            if n == steps:
                break
            losses.append(float(train_step(model, schedule, opt, sched, ema, n, data[idx])))
            n += 1
    after = eval_loss()
    first = statistics.mean(losses[:20])
    last = statistics.mean(losses[-20:])
    print(f"attention training, {steps} steps: train loss mean first 20 = {first:.4f}, "
          f"last 20 = {last:.4f}; fixed eval loss {before:.4f} -> {after:.4f}")
    report("loss falls", after < 0.8 * before and last < first,
           f"eval {before:.4f} -> {after:.4f} ({100 * (1 - after / before):.0f}% lower)")

    # 6. EMA weights are finite and sampling from them runs.
    with torch.no_grad():
        for p, e in zip(model.parameters(), ema):
            p.copy_(e)
    x = torch.randn(256, 3, 4, 4)
    for t in range(T - 1, -1, -1):
        x = sample_step(model, schedule, x, t)
    report("EMA sampling finite", bool(torch.isfinite(x).all()),
           f"256 samples, |x| max {float(x.abs().max()):.2f}")
    return ok


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--variant", choices=VARIANTS, default="attention")
    p.add_argument("--what", choices=WHATS, default="train")
    p.add_argument("--threads", type=int, default=1, help="torch.set_num_threads and OpenBLAS threads")
    p.add_argument("--iters", type=int, default=None, help="iterations per timed block "
                   f"(default train {DEFAULTS['train'][0]}, sample {DEFAULTS['sample'][0]})")
    p.add_argument("--warmup", type=int, default=None, help="untimed iterations first "
                   f"(default train {DEFAULTS['train'][1]}, sample {DEFAULTS['sample'][1]})")
    p.add_argument("--repeat", type=int, default=5, help="timed blocks; median_ms is their median")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--layout", choices=("conv", "token"), default="conv",
                   help="conv: Conv2d/ConvTranspose2d on NCHW images (as the paper describes the model); "
                        "token: the same network as Linear layers on [B, 4, 12] patch tokens")
    p.add_argument("--all", action="store_true", help="every (variant, what); one JSON line each")
    p.add_argument("--check", action="store_true", help="correctness checks instead of timing")
    args = p.parse_args(argv)
    for name in ("threads", "repeat"):
        if getattr(args, name) < 1:
            p.error(f"--{name} must be >= 1, got {getattr(args, name)}")
    for name in ("iters", "warmup"):
        v = getattr(args, name)
        if v is not None and v < (1 if name == "iters" else 0):
            p.error(f"--{name} out of range: {v}")

    torch.set_num_threads(args.threads)
    kind, libs = blas_report()
    env = {
        "blas": kind,
        "blas_libs": libs,
        "blas_config": config_blas_info(),
        "openblas_threads": openblas_threads(libs, args.threads),
        "openblas_env": {k: v for k, v in sorted(os.environ.items()) if k.startswith("OPENBLAS_")},
    }
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, BLAS {kind} {libs}, "
          f"{env['blas_config']}, OpenBLAS threads {env['openblas_threads']}, env {env['openblas_env']}",
          file=sys.stderr)
    warn_reference_blas(kind, libs)

    if args.check:
        return 0 if check(args.seed) else 1

    jobs = [(v, w) for v in VARIANTS for w in WHATS] if args.all else [(args.variant, args.what)]
    for variant, what in jobs:
        iters = args.iters if args.iters is not None else DEFAULTS[what][0]
        warmup = args.warmup if args.warmup is not None else DEFAULTS[what][1]
        batch, all_ms = bench(variant, what, iters, warmup, args.repeat, args.seed, args.layout)
        line = json.loads(result_line(variant, what, args.threads, batch, all_ms, env, iters, warmup))
        line["layout"] = args.layout
        print(json.dumps(line), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
