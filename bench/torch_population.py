#!/usr/bin/python3
"""Populations of trained models in PyTorch, with every random draw made by PyTorch itself.

The step-for-step check (bench/torch_trajectory.py, docs/torch-agreement.md) replays OUR random
draws, so it cannot see a difference in HOW draws are made. This script trains, samples and scores
whole models of docs/experiment.md the way a PyTorch user would, drawing everything with PyTorch's
generators and defaults, so that populations of models can be compared with ours:

- dataset draw d: `torch_ref.make_images(2048, torch.Generator().manual_seed(DATA_SEED_BASE + d))`
  (pattern uniform over 3 with torch.randint, each quadrant's pair uniform over 2, key left column,
  value right column, pixels 2x - 1);
- model seed s (draw d holds seeds 2d, 2d + 1, as in the study): `torch.manual_seed(s)`, then the
  default initialisation of nn.Conv2d / nn.Linear / nn.ConvTranspose2d (`torch_ref.ScoreNet`), then
  from the same global generator, per epoch `torch.randperm(2048)` (the DataLoader(shuffle=True)
  order), per step `torch.randint` timesteps, `torch.randn_like` noise and (top1) the Gumbel draws of
  `F.gumbel_softmax(tau=1, hard=False)` (`torch_ref.train_step`);
- AdamW(1e-3, wd 1e-5) + OneCycleLR(max_lr 1e-3, total epochs x 32) stepped every batch, EMA 0.9999
  with warm-up (`torch_ref.make_training`, `torch_ref.train_step`); schedule computed in float64
  (`torch_trajectory.make_schedule`), used in float32;
- sampling run r: `torch.manual_seed(SAMPLE_SEED_BASE + 100 s + r)`, ancestral DDPM from the EMA
  weights, sigma^2 = beta_t, no noise at the last step, no clipping, top1 hard argmax
  (`torch_ref.sample_step`); scored by `torch_metrics.count_metrics` (novelty against the model's own
  training draw).

  /usr/bin/python3 bench/torch_population.py train --plan top1:4,identity:4,attention:2,cnn:2 --out DIR
  /usr/bin/python3 bench/torch_population.py train --smoke --out DIR          # seconds: the plumbing only
  /usr/bin/python3 bench/torch_population.py summarize --out DIR [--publish DOCS_DIR]
  /usr/bin/python3 bench/torch_population.py draws --out FILE.json            # statistics of each kind of draw

Output (train): DIR/models/<variant>-d<draw>-s<seed>.json, one file per finished model, written
atomically (temp file + fsync + rename); DIR/work/ holds per-model checkpoints (every
--checkpoint-seconds of training, at an epoch boundary; the end of training; every finished sampling
run; the sampling batch in flight every --checkpoint-seconds), so a kill loses a few minutes at most. A rerun skips finished models and resumes the others from
their checkpoint, bit for bit (the generator state is in the checkpoint). Several processes may run on
one DIR: each claims a model with an exclusive claim file (a claim whose process is gone is taken
over). One progress line per model every --progress-seconds on stderr. torch.set_num_threads(1).
"""
import argparse
import csv
import datetime
import json
import math
import os
import platform
import socket
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_metrics  # noqa: E402
import torch_ref  # noqa: E402
import torch_trajectory  # noqa: E402

VARIANTS = torch_ref.VARIANTS
DATA_SEED_BASE = 1_000_000  # dataset draw d uses torch.Generator().manual_seed(DATA_SEED_BASE + d)
SAMPLE_SEED_BASE = 2_000_000  # run r of model seed s uses torch.manual_seed(SAMPLE_SEED_BASE + 100 s + r)
SEEDS_PER_DRAW = 2
FORMAT = 1

PAPER = {"epochs": 5000, "top1EpochFactor": 2, "datasetSize": 2048, "batchSize": 64, "samples": 10_000, "runs": 2,
         "sampleBatch": 10_000, "diffusionSteps": 1000, "betaStart": 1e-4, "betaEnd": 0.02, "lr": 1e-3,
         "weightDecay": 1e-5, "emaDecay": 0.9999, "emaWarmup": True, "gumbelTau": 1.0, "useEma": True}
SMOKE = {**PAPER, "epochs": 4, "samples": 64, "runs": 2, "sampleBatch": 64}
METRICS = ("strict", "functional", "bijective", "functionalLoose", "validQuadrants", "novel", "novelBijective")


def log(msg):
    print(f"[{datetime.datetime.now().strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- atomic files
def _fsync_dir(d):
    fd = os.open(d, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path, write):
    """write(f) into a temporary file next to `path`, fsync, rename over `path`, fsync the folder."""
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "wb") as f:
        write(f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    _fsync_dir(os.path.dirname(os.path.abspath(path)))


def write_json(path, obj):
    write_atomic(path, lambda f: f.write((json.dumps(obj, indent=1) + "\n").encode()))


# ---------------------------------------------------------------- environment
def environment():
    kind, libs = torch_ref.blas_report()
    return {"torch": torch.__version__, "numpy": np.__version__, "python": sys.version.split()[0],
            "blas": kind, "blasLibs": libs, "blasConfig": torch_ref.config_blas_info(),
            "openblasThreads": torch_ref.openblas_threads(libs, 1), "torchThreads": torch.get_num_threads(),
            "host": socket.gethostname(), "machine": platform.machine(), "cpus": os.cpu_count()}


# ---------------------------------------------------------------- dataset and its census
def dataset(draw, size):
    """Dataset draw `draw`: torch_ref.make_images with its own torch.Generator (NCHW, [-1, 1])."""
    return torch_ref.make_images(size, torch.Generator().manual_seed(DATA_SEED_BASE + draw))


PAIR_INDEX = {pair: (p, i) for p, pairs in enumerate(torch_metrics.PATTERNS) for i, pair in enumerate(pairs)}


def census(images_nchw):
    """What the images hold, read back from the pixels (not from the generator): per image the decoded
    quadrants (key = left column, value = right column); counts of pattern types, of each quadrant's
    pair (index 0 or 1 within the pattern), of distinct images; and the layout checks."""
    x = images_nchw.permute(0, 2, 3, 1).numpy()  # NHWC
    exact = bool(np.isin(x, (-1.0, 1.0)).all())  # pixels are 2 * {0, 1} - 1
    colours = torch_metrics.decode(x)
    per_pattern, pair_counts = [0, 0, 0], [[0, 0] for _ in range(4)]
    valid = one_pattern = columns = 0
    keys = {}
    for c in colours:
        quads = torch_metrics.quadrants(c)
        pats = [PAIR_INDEX.get((k, v)) for k, v, wf in quads if wf]
        columns += all(wf for _, _, wf in quads)
        ok = len(pats) == 4 and all(p is not None for p in pats)
        valid += ok
        if ok and len({p for p, _ in pats}) == 1:
            one_pattern += 1
            per_pattern[pats[0][0]] += 1
            for q, (_, i) in enumerate(pats):
                pair_counts[q][i] += 1
        keys[c.tobytes()] = keys.get(c.tobytes(), 0) + 1
    n = len(colours)
    counts = sorted(keys.values(), reverse=True)
    return {"images": n, "exactPixels": exact, "wellFormedColumns": columns, "validQuadrants4": valid,
            "onePattern": one_pattern, "perPattern": per_pattern, "pairCounts": pair_counts,
            "distinct": len(keys), "imageCountMax": counts[0], "imageCountMin": counts[-1],
            # chi-square of the 48 image counts against uniform 1/48 (df 47; an absent image counts 0)
            "imageChi2": float(sum((k - n / 48) ** 2 / (n / 48) for k in counts + [0] * (48 - len(counts))))}


# ---------------------------------------------------------------- config, plan, ids
def model_id(variant, draw, seed):
    return f"{variant}-d{draw}-s{seed}"


def parse_plan(text):
    """'top1:4,identity:4' -> [(variant, draws)]; 'top1:2-3' -> draws 2..3 only."""
    plan = []
    for part in text.split(","):
        variant, _, draws = part.partition(":")
        if variant not in VARIANTS:
            raise SystemExit(f"--plan: unknown variant {variant!r}; expected one of {VARIANTS}")
        lo, _, hi = draws.partition("-")
        rng = range(int(hi and lo or 0), int(hi or lo) + (1 if hi else 0)) if draws else range(1)
        plan.append((variant, list(rng)))
    return plan


def jobs_of(plan):
    """(variant, draw, seed) in an order that finishes whole draws of every variant early: round k
    takes draw k's two seeds of each variant that has a k-th draw."""
    rounds = max(len(d) for _, d in plan)
    out = []
    for k in range(rounds):
        for variant, draws in plan:
            if k < len(draws):
                out += [(variant, draws[k], SEEDS_PER_DRAW * draws[k] + j) for j in range(SEEDS_PER_DRAW)]
    return out


def epochs_of(cfg, variant):
    return cfg["epochs"] * (cfg["top1EpochFactor"] if variant == "top1" else 1)


# ---------------------------------------------------------------- claims (several processes on one folder)
def pid_alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def claim(path):
    """Exclusive claim file with our pid; a claim by a process that no longer runs is taken over."""
    for _ in range(2):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            os.write(fd, f"{os.getpid()} {socket.gethostname()}\n".encode())
            os.close(fd)
            return True
        except FileExistsError:
            try:
                pid, host = open(path).read().split()[:2]
            except (OSError, ValueError):
                return False
            if host != socket.gethostname() or pid_alive(int(pid)):
                return False
            log(f"taking over the stale claim {os.path.basename(path)} of process {pid}")
            try:
                os.remove(path)
            except FileNotFoundError:
                pass
    return False


# ---------------------------------------------------------------- one model
def float_schedule(cfg):
    s = torch_trajectory.make_schedule(cfg["diffusionSteps"], cfg["betaStart"], cfg["betaEnd"])  # float64
    return {k: s[k].float() for k in ("betas", "alphas", "alpha_bars")}


def ema_model(variant, ema):
    m = torch_ref.ScoreNet(variant)
    with torch.no_grad():
        for p, e in zip(m.parameters(), ema):
            p.copy_(e)
    return m.eval()


def save_checkpoint(path, state):
    write_atomic(path, lambda f: torch.save(state, f))


def train_model(cfg, variant, draw, seed, images, ck_path, progress_s, checkpoint_s, label, stop_after_epoch=None):
    """Train (or resume) one model; returns (ema tensors, training record)."""
    epochs = epochs_of(cfg, variant)
    B, n = cfg["batchSize"], images.shape[0]
    steps_per_epoch = math.ceil(n / B)
    total = epochs * steps_per_epoch
    schedule = float_schedule(cfg)
    torch.manual_seed(seed)  # initialisation, batch order, timesteps, noise, Gumbel: one PyTorch generator
    model = torch_ref.ScoreNet(variant)
    opt, sched, ema = torch_ref.make_training(model, total_steps=total)
    init_params = [p.detach().clone() for p in model.parameters()]
    rec = {"epochs": epochs, "steps": total, "stepsPerEpoch": steps_per_epoch, "seconds": 0.0, "resumes": 0,
           "epochLoss": {}, "initAbsMean": [float(p.abs().mean()) for p in init_params]}
    epoch = 0
    if os.path.exists(ck_path):
        ck = torch.load(ck_path)
        if ck.get("phase") == "training" or ck.get("phase") == "sampling":
            model.load_state_dict(ck["model"])
            opt.load_state_dict(ck["opt"])
            sched.load_state_dict(ck["sched"])
            for e, s in zip(ema, ck["ema"]):
                e.copy_(s)
            torch.set_rng_state(ck["rng"])
            epoch, rec = ck["epoch"], ck["record"]
            rec["resumes"] += 1
            log(f"{label}: resumed at epoch {epoch}/{epochs} ({ck['phase']})")
            if ck["phase"] == "sampling":
                return ema, rec
    t_start, t_last_ck, t_last_log = time.perf_counter(), time.perf_counter(), time.perf_counter()
    seconds0 = rec["seconds"]
    window, window_n = 0.0, 0
    while epoch < epochs:
        perm = torch.randperm(n)  # DataLoader(shuffle=True) order, from the global generator
        for i, idx in enumerate(perm.split(B)):
            # step index n (0-based) sets the EMA warm-up min(0.9999, (1 + n) / (10 + n))
            loss = torch_ref.train_step(model, schedule, opt, sched, ema, epoch * steps_per_epoch + i, images[idx])
            window += float(loss)
            window_n += 1
        epoch += 1
        if not math.isfinite(window):
            raise RuntimeError(f"{label}: non-finite loss in epoch {epoch}")
        now = time.perf_counter()
        if epoch % 100 == 0 or epoch == epochs:
            rec["epochLoss"][str(epoch)] = window / window_n
        if epoch % 100 == 0 or epoch == epochs:
            if now - t_last_log >= progress_s or epoch == epochs:
                done = epoch * steps_per_epoch
                el = seconds0 + now - t_start
                rate = el / done
                log(f"{label}: epoch {epoch}/{epochs} step {done}/{total} loss {window / window_n:.4f} "
                    f"{1000 * rate:.2f} ms/step, {el / 60:.1f} min, ETA training {rate * (total - done) / 60:.1f} min")
                t_last_log = now
            window, window_n = 0.0, 0
        stop = stop_after_epoch is not None and epoch == stop_after_epoch
        if (now - t_last_ck >= checkpoint_s or stop) and epoch < epochs:
            rec["seconds"] = seconds0 + now - t_start
            save_checkpoint(ck_path, {"phase": "training", "epoch": epoch, "model": model.state_dict(), "opt": opt.state_dict(),
                                      "sched": sched.state_dict(), "ema": ema, "rng": torch.get_rng_state(), "record": rec})
            t_last_ck = now
        if stop:  # a simulated kill right after a checkpoint (tests of resuming)
            log(f"{label}: stopping after epoch {epoch} (--stop-after-epoch)")
            raise SystemExit(3)
    rec["seconds"] = seconds0 + time.perf_counter() - t_start
    if sched.last_epoch != total:
        raise RuntimeError(f"{label}: OneCycleLR stepped {sched.last_epoch} times, expected {total}")
    save_checkpoint(ck_path, {"phase": "sampling", "epoch": epoch, "model": model.state_dict(), "opt": opt.state_dict(),
                              "sched": sched.state_dict(), "ema": ema, "rng": torch.get_rng_state(), "record": rec})
    return ema, rec


def sample_run(cfg, variant, ema, seed, run, training_keys, label, partial_path, checkpoint_s, progress_s, stop_after_step=None):
    """One sampling run: its own seed, EMA weights, 1000 ancestral steps; counts of every metric.
    The batch in flight and the generator state are saved to `partial_path` every checkpoint_s
    seconds, and a run resumes from there."""
    t0 = time.perf_counter()
    sample_seed = SAMPLE_SEED_BASE + 100 * seed + run
    torch.manual_seed(sample_seed)
    model = ema_model(variant, ema)
    schedule = float_schedule(cfg)
    T = cfg["diffusionSteps"]
    out, start, t_next, x, seconds0 = [], 0, T - 1, None, 0.0
    if os.path.exists(partial_path):
        ck = torch.load(partial_path)
        out, start, t_next, x, seconds0 = ck["out"], ck["start"], ck["t"], ck["x"], ck["seconds"]
        torch.set_rng_state(ck["rng"])
        log(f"{label}: run {run} resumed at sample {start}, step t = {t_next}")
    t_last_ck = t_last_log = time.perf_counter()
    while start < cfg["samples"]:
        b = min(cfg["sampleBatch"], cfg["samples"] - start)
        if x is None:
            x, t_next = torch.randn(b, 3, 4, 4), T - 1
        for t in range(t_next, -1, -1):
            x = torch_ref.sample_step(model, schedule, x, t)
            now = time.perf_counter()
            if now - t_last_log >= progress_s:
                log(f"{label}: run {run} samples {start}-{start + b} step {T - t}/{T}, {(seconds0 + now - t0) / 60:.1f} min")
                t_last_log = now
            if t > 0 and (now - t_last_ck >= checkpoint_s or stop_after_step == T - t):
                save_checkpoint(partial_path, {"out": out, "start": start, "t": t - 1, "x": x, "rng": torch.get_rng_state(),
                                               "seconds": seconds0 + now - t0})
                t_last_ck = now
                if stop_after_step == T - t:  # a simulated kill (tests of resuming)
                    log(f"{label}: stopping run {run} after {T - t} steps (--stop-after-sample-step)")
                    raise SystemExit(3)
        out.append(x)
        start, x = start + b, None
    x = torch.cat(out).permute(0, 2, 3, 1).contiguous().numpy()  # NHWC
    finite = np.isfinite(x).all(axis=(1, 2, 3))
    counts = torch_metrics.count_metrics(np.where(finite[:, None, None, None], x, 0.0), training_keys) if finite.all() else None
    if counts is None:  # non-finite samples fail every rule
        counts = torch_metrics.count_metrics(x[finite], training_keys)
    n = cfg["samples"]
    metrics = {k: counts[k] / (4 * n if k == "validQuadrants" else n) for k in METRICS}
    sec = seconds0 + time.perf_counter() - t0
    log(f"{label}: run {run} (seed {sample_seed}) functional {metrics['functional']:.4f} "
        f"bijective {metrics['bijective']:.4f} validQuadrants {metrics['validQuadrants']:.4f} ({sec:.0f} s)")
    return {"run": run, "sampleSeed": sample_seed, "samples": n, "nonFiniteSamples": int((~finite).sum()),
            "counts": counts, "metrics": metrics, "seconds": round(sec, 2), "absMax": float(np.abs(x[finite]).max()) if finite.any() else None}


def do_model(cfg, variant, draw, seed, out, env, args):
    mid = model_id(variant, draw, seed)
    final = os.path.join(out, "models", f"{mid}.json")
    work = os.path.join(out, "work")
    ck_path = os.path.join(work, f"{mid}.pt")
    wall0 = time.time()
    started = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    images = dataset(draw, cfg["datasetSize"])
    cen = census(images)
    training_keys = {c.tobytes() for c in torch_metrics.decode(images.permute(0, 2, 3, 1).numpy())}
    ema, rec = train_model(cfg, variant, draw, seed, images, ck_path, args.progress_seconds, args.checkpoint_seconds, mid,
                           args.stop_after_epoch)
    runs = []
    for r in range(cfg["runs"]):
        run_path = os.path.join(work, f"{mid}-run{r}.json")
        if os.path.exists(run_path):
            runs.append(json.load(open(run_path)))
            continue
        partial = os.path.join(work, f"{mid}-run{r}.partial.pt")
        runs.append(sample_run(cfg, variant, ema, seed, r, training_keys, mid, partial, args.checkpoint_seconds,
                                args.progress_seconds, args.stop_after_sample_step))
        write_json(run_path, runs[-1])
        if os.path.exists(partial):
            os.remove(partial)
    record = {
        "format": FORMAT, "id": mid, "variant": variant, "draw": draw, "seed": seed,
        "seeds": {"datasetGenerator": DATA_SEED_BASE + draw, "torchManualSeed": seed,
                  "sampleManualSeeds": [SAMPLE_SEED_BASE + 100 * seed + r for r in range(cfg["runs"])]},
        "config": cfg, "smoke": bool(args.smoke),
        "randomness": "all PyTorch: default nn init after torch.manual_seed(seed); per epoch torch.randperm; per step "
                      "torch.randint(0, T), torch.randn_like, F.gumbel_softmax(tau=1, hard=False) (top1); dataset "
                      "torch_ref.make_images with torch.Generator().manual_seed(datasetGenerator); sampling torch.randn "
                      "after torch.manual_seed(sampleManualSeed)",
        "dataset": cen,
        "training": rec,
        "runs": runs,
        "mean": {k: float(np.mean([r["metrics"][k] for r in runs])) for k in METRICS},
        "environment": env,
        "command": " ".join(sys.argv),
        "started": started, "finished": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "wallSeconds": round(time.time() - wall0, 1),  # this invocation only (see training.resumes)
        "trainSeconds": round(rec["seconds"], 1), "sampleSeconds": round(sum(r["seconds"] for r in runs), 1),
        "loadavg": [round(x, 2) for x in os.getloadavg()],
    }
    write_json(final, record)
    for r in range(cfg["runs"]):
        p = os.path.join(work, f"{mid}-run{r}.json")
        if os.path.exists(p):
            os.remove(p)
    if os.path.exists(ck_path) and not args.keep_checkpoints:
        os.remove(ck_path)
    log(f"{mid}: done, functional {record['mean']['functional']:.4f} (train {record['trainSeconds']:.0f} s, "
        f"sample {record['sampleSeconds']:.0f} s) -> {final}")
    return record


def cmd_train(args):
    cfg = dict(SMOKE if args.smoke else PAPER)
    for key in ("epochs", "samples", "runs", "sampleBatch"):
        v = getattr(args, key.lower() if key != "sampleBatch" else "sample_batch")
        if v is not None:
            cfg[key] = v
    plan = parse_plan(args.plan or ("cnn:1,attention:1,identity:1,top1:1" if args.smoke else "top1:4,identity:4,attention:2,cnn:2"))
    out = args.out
    for d in ("models", "work"):
        os.makedirs(os.path.join(out, d), exist_ok=True)
    env = environment()
    torch_ref.warn_reference_blas(env["blas"], env["blasLibs"])
    jobs = jobs_of(plan)
    log(f"torch {env['torch']}, BLAS {env['blas']}, threads {env['torchThreads']}; {len(jobs)} models in plan; out {out}")
    done = skipped = 0
    for variant, draw, seed in jobs:
        mid = model_id(variant, draw, seed)
        final = os.path.join(out, "models", f"{mid}.json")
        if os.path.exists(final):
            old = json.load(open(final))
            if old.get("config") != cfg:
                raise SystemExit(f"{final} was made with another config ({old.get('config')}); use another --out")
            log(f"{mid}: finished earlier, skipped")
            skipped += 1
            continue
        claim_path = os.path.join(out, "work", f"{mid}.claim")
        if not claim(claim_path):
            log(f"{mid}: claimed by another process, skipped")
            continue
        try:
            if os.path.exists(final):  # finished by another process between the check and the claim
                continue
            do_model(cfg, variant, draw, seed, out, env, args)
            done += 1
        finally:
            os.remove(claim_path)
    summary = {"trained": done, "skipped": skipped, "plan": [[v, d] for v, d in plan], "out": out}
    print(json.dumps(summary), flush=True)
    return 0


# ---------------------------------------------------------------- summary table
def load_models(out):
    d = os.path.join(out, "models")
    recs = [json.load(open(os.path.join(d, f))) for f in sorted(os.listdir(d)) if f.endswith(".json")] if os.path.isdir(d) else []
    return sorted(recs, key=lambda r: (VARIANTS.index(r["variant"]), r["draw"], r["seed"]))


def cmd_summarize(args):
    recs = load_models(args.out)
    rows = []
    for r in recs:
        rows.append({"variant": r["variant"], "draw": r["draw"], "seed": r["seed"], "runs": len(r["runs"]),
                     "samples": r["config"]["samples"], "epochs": r["training"]["epochs"],
                     **{k: round(r["mean"][k], 6) for k in METRICS},
                     "functionalRuns": " ".join(f"{x['metrics']['functional']:.4f}" for x in r["runs"]),
                     "nonFiniteSamples": sum(x["nonFiniteSamples"] for x in r["runs"]),
                     "trainSeconds": r["trainSeconds"], "sampleSeconds": r["sampleSeconds"], "wallSeconds": r["wallSeconds"],
                     "resumes": r["training"]["resumes"], "finalLoss": round(r["training"]["epochLoss"].get(str(r["training"]["epochs"]), float("nan")), 5),
                     "datasetGenerator": r["seeds"]["datasetGenerator"], "torchManualSeed": r["seeds"]["torchManualSeed"],
                     "sampleManualSeeds": " ".join(map(str, r["seeds"]["sampleManualSeeds"])),
                     "torch": r["environment"]["torch"], "blas": r["environment"]["blas"], "finished": r["finished"]})
    by = {}
    for r in recs:
        by.setdefault(r["variant"], []).append(100 * r["mean"]["functional"])
    summary = {v: {"models": len(x), "functionalMean": round(float(np.mean(x)), 2),
                   "functionalSd": round(float(np.std(x, ddof=1)), 2) if len(x) > 1 else None,
                   "min": round(min(x), 2), "max": round(max(x), 2)} for v, x in by.items()}
    targets = [args.out] + ([args.publish] if args.publish else [])
    for t in targets:
        os.makedirs(t, exist_ok=True)
        if rows:
            def w(f, rows=rows):
                import io
                s = io.StringIO()
                cw = csv.DictWriter(s, fieldnames=list(rows[0]), lineterminator="\n")
                cw.writeheader()
                cw.writerows(rows)
                f.write(s.getvalue().encode())
            write_atomic(os.path.join(t, "models.csv"), w)
        write_json(os.path.join(t, "summary.json"), {
            "functionalPercentByVariant": summary,
            "models": len(recs),
            "configs": sorted({json.dumps(r["config"], sort_keys=True) for r in recs}),
            "environments": sorted({json.dumps({k: r["environment"][k] for k in ("torch", "numpy", "python", "blas", "blasConfig", "torchThreads")}, sort_keys=True) for r in recs}),
            "commands": sorted({r["command"] for r in recs}),
            "trainHours": round(sum(r["trainSeconds"] for r in recs) / 3600, 2),
            "sampleHours": round(sum(r["sampleSeconds"] for r in recs) / 3600, 2),
            "seedScheme": {"datasetGenerator": f"torch.Generator().manual_seed({DATA_SEED_BASE} + draw)",
                           "training": "torch.manual_seed(seed), seed = 2 draw + j, j in {0, 1}",
                           "sampling": f"torch.manual_seed({SAMPLE_SEED_BASE} + 100 seed + run)"},
        })
    print(json.dumps({"models": len(recs), "functionalPercentByVariant": summary}))
    return 0


# ---------------------------------------------------------------- statistics of each kind of draw
def ks_uniform_cdf(a, b):
    return lambda x: np.clip((x - a) / (b - a), 0, 1)


def normal_cdf(x):
    from math import erf
    return 0.5 * (1 + np.vectorize(erf)(np.asarray(x, dtype=np.float64) / math.sqrt(2)))


def gumbel_cdf(x):
    return np.exp(-np.exp(-np.asarray(x, dtype=np.float64)))


def kolmogorov_p(d, n):
    """P(D_n >= d) for the one-sample KS statistic, asymptotic (Stephens' correction)."""
    lam = (math.sqrt(n) + 0.12 + 0.11 / math.sqrt(n)) * d
    if lam < 0.2:
        return 1.0
    return float(min(1.0, max(0.0, 2 * sum((-1) ** (k - 1) * math.exp(-2 * k * k * lam * lam) for k in range(1, 101)))))


def describe(a, cdf=None, max_ks=1_000_000):
    """Mean, variance, min, max, and the KS statistic and p-value against `cdf` (on at most max_ks
    values, evenly strided)."""
    a = np.asarray(a, dtype=np.float64).ravel()
    d = a - a.mean()
    out = {"n": int(a.size), "mean": float(a.mean()), "var": float(a.var(ddof=1)), "min": float(a.min()), "max": float(a.max()),
           "lag1": float((d[1:] * d[:-1]).sum() / (d * d).sum())}
    if cdf is not None:
        s = np.sort(a[:: max(1, a.size // max_ks)])
        m = s.size
        c = cdf(s)
        d = float(max((np.arange(1, m + 1) / m - c).max(), (c - np.arange(m) / m).max()))
        out.update({"ksN": int(m), "ksD": d, "ksP": kolmogorov_p(d, m)})
    return out


def chi2_uniform(counts):
    counts = np.asarray(counts, dtype=np.float64)
    e = counts.sum() / counts.size
    return {"chi2": float(((counts - e) ** 2 / e).sum()), "df": int(counts.size - 1)}


def replay_draws(steps, on_perm=None, on_step=None, n=2048, B=64):
    """The draws of `steps` training steps, in training's order, from the global generator."""
    for step in range(steps):
        if step % (n // B) == 0:
            perm = torch.randperm(n)
            if on_perm:
                on_perm(perm)
        t = torch.randint(0, 1000, (B,))
        eps = torch.randn(B, 3, 4, 4)
        gumbel = -torch.empty(B, 4, 4).exponential_().log()  # what F.gumbel_softmax draws (torch 1.13)
        if on_step:
            on_step(t, eps, gumbel)


def replay_matches_training(seed, epochs=2):
    images = dataset(0, 2048)
    torch.manual_seed(seed)
    model = torch_ref.ScoreNet("top1")
    opt, sched, ema = torch_ref.make_training(model, total_steps=epochs * 32)
    for e in range(epochs):
        for i, idx in enumerate(torch.randperm(2048).split(64)):
            torch_ref.train_step(model, float_schedule(PAPER), opt, sched, ema, e * 32 + i, images[idx])
    trained = torch.get_rng_state()
    torch.manual_seed(seed)
    torch_ref.ScoreNet("top1")
    replay_draws(epochs * 32)
    return bool(torch.equal(trained, torch.get_rng_state()))


def draw_statistics(seeds, draws, steps, sample_normals):
    """The same statistics as scripts/draw-statistics.ts, of PyTorch's draws as this script makes them."""
    res = {"side": "pytorch", "torch": torch.__version__, "seeds": list(seeds), "draws": list(draws)}
    # 1. initial weights per layer, pooled over seeds (torch.manual_seed(seed) then the default init)
    init = {}
    for variant in ("top1", "identity"):
        for seed in seeds:
            torch.manual_seed(seed)
            m = torch_ref.ScoreNet(variant)
            for name, p in m.named_parameters():
                init.setdefault(f"{variant}:{name}", []).append(p.detach().numpy().ravel().copy())
    res["init"] = {}
    for key, parts in init.items():
        name = key.split(":")[1]
        p = dict(torch_ref.ScoreNet(key.split(":")[0]).named_parameters())[name]
        fan_in = torch.nn.init._calculate_fan_in_and_fan_out(p if p.dim() > 1 else dict(torch_ref.ScoreNet(key.split(":")[0]).named_parameters())[name.replace("bias", "weight")])[0]
        bound = 1 / math.sqrt(fan_in)
        a = np.concatenate(parts)
        res["init"][key] = {"fanIn": fan_in, "bound": bound, "intendedVar": bound * bound / 3,
                            **describe(a, ks_uniform_cdf(-bound, bound)),
                            # correlation of the same weights between consecutive seeds (independent streams: ~N(0, 1/n))
                            "seedCorr": float(np.mean([np.corrcoef(parts[i], parts[i + 1])[0, 1] for i in range(len(parts) - 1)]))}
    # 2. one training run's draws in their order: per epoch randperm, per step randint, randn, Gumbel.
    # The replay is checked against real training: after 2 epochs of torch_ref.train_step (top1), the
    # generator must be in the state the replay leaves it in, so no draw is missed or added.
    res["replayMatchesTraining"] = replay_matches_training(seeds[0])
    ts, eps, gum, first = [], [], [], []
    for seed in seeds[:2]:
        torch.manual_seed(seed)
        torch_ref.ScoreNet("top1")  # the initialisation consumes the generator first

        def on_step(t, e, g):
            ts.append(t.numpy())
            eps.append(e.numpy().ravel())
            gum.append(g.numpy().ravel())
        replay_draws(steps, on_perm=lambda p: first.append(p[:64].numpy().copy()), on_step=on_step)
    t = np.concatenate(ts)
    res["timesteps"] = {**describe(t, lambda x: np.clip((np.floor(x) + 1) / 1000, 0, 1)), "intendedMean": 499.5,
                        "intendedVar": (1000 ** 2 - 1) / 12, **chi2_uniform(np.bincount(t, minlength=1000))}
    del res["timesteps"]["ksP"]  # KS is for continuous distributions; the chi-square is the test here
    res["trainNoise"] = {**describe(np.concatenate(eps), normal_cdf), "intendedMean": 0, "intendedVar": 1}
    g = np.concatenate(gum)
    res["gumbel"] = {**describe(g, gumbel_cdf), "intendedMean": 0.5772156649, "intendedVar": math.pi ** 2 / 6}
    f = np.concatenate(first)
    res["batchOrder"] = {"epochs": len(first), "firstBatchIndexMean": float(f.mean()), "intendedMean": 1023.5,
                         **chi2_uniform(np.bincount(f // 64, minlength=32))}
    # 3. sampling noise: the first normals of run 0 of the first model seeds
    z = []
    for seed in seeds[:2]:
        torch.manual_seed(SAMPLE_SEED_BASE + 100 * seed)
        z.append(torch.randn(sample_normals).numpy())
    res["sampleNoise"] = {**describe(np.concatenate(z), normal_cdf), "intendedMean": 0, "intendedVar": 1}
    # 4. dataset census of each draw
    res["datasets"] = [{"draw": d, "generatorSeed": DATA_SEED_BASE + d, **census(dataset(d, 2048))} for d in draws]
    return res


def cmd_draws(args):
    torch.set_num_threads(1)
    seeds = list(range(args.models))
    res = draw_statistics(seeds, list(range(args.draws)), args.steps, args.sample_normals)
    write_json(args.out, res)
    print(json.dumps({"out": args.out}))
    return 0


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    tr = sub.add_parser("train", help="train, sample and score models (resumable)")
    tr.add_argument("--out", required=True)
    tr.add_argument("--plan", help="variant:draws,...  e.g. top1:4,identity:4,attention:2,cnn:2 (draws 0..3 etc.) or top1:4-5")
    tr.add_argument("--smoke", action="store_true", help="4 epochs, 2 runs x 64 samples, one model per variant")
    tr.add_argument("--epochs", type=int)
    tr.add_argument("--samples", type=int)
    tr.add_argument("--runs", type=int)
    tr.add_argument("--sample-batch", type=int)
    tr.add_argument("--progress-seconds", type=float, default=60)
    tr.add_argument("--checkpoint-seconds", type=float, default=180)
    tr.add_argument("--stop-after-epoch", type=int, help=argparse.SUPPRESS)  # tests: exit 3 after a checkpoint at this epoch
    tr.add_argument("--stop-after-sample-step", type=int, help=argparse.SUPPRESS)  # tests: exit 3 after a sampling checkpoint
    tr.add_argument("--keep-checkpoints", action="store_true", help="keep DIR/work/<id>.pt after the model is finished")
    su = sub.add_parser("summarize", help="models.csv and summary.json from DIR/models")
    su.add_argument("--out", required=True)
    su.add_argument("--publish", help="also write them into this folder")
    dr = sub.add_parser("draws", help="statistics of each kind of PyTorch draw -> JSON")
    dr.add_argument("--out", required=True)
    dr.add_argument("--models", type=int, default=34, help="model seeds 0..N-1 for the initial weights")
    dr.add_argument("--draws", type=int, default=17, help="dataset draws 0..N-1 for the census")
    dr.add_argument("--steps", type=int, default=1600, help="training steps of draws per seed (two seeds)")
    dr.add_argument("--sample-normals", type=int, default=480_000, help="sampling normals per seed (two seeds)")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    return {"train": cmd_train, "summarize": cmd_summarize, "draws": cmd_draws}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
