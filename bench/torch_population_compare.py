#!/usr/bin/python3
"""Compare populations of trained models: PyTorch's (bench/torch_population.py, every random draw
its own) against ours (the published paper-length folders), per variant; and tabulate the
statistics of each kind of random draw on both sides. Writes, into --publish (default
docs/results/torch-population/): models.csv and summary.json (PyTorch's models), comparison.json
and comparison.md.

  /usr/bin/python3 bench/torch_population_compare.py [--out results/torch-population] [--publish DIR]

Ours, per variant (paper length, runs 0-9 of each model): top1 docs/results/paper-top1-17draws (34
models), identity paper-identity-14draws (28), attention paper-attention-16draws (32), cnn
docs/results/paper (12). A model's value is the mean `functional` over its runs (PyTorch's: over its
2 runs of 10 000 samples). Tests of the difference of means, per variant:
- over models: Welch's t-test and a permutation test (200 000 random relabellings, seeded);
- over dataset draws (the mean of a draw's two models; models of one draw are correlated): the same.
Power: the smallest difference of means the Welch test detects with 80 % power at alpha 0.05
(two-sided), given the sample sizes and the observed standard deviations:
(t_{0.975, df} + t_{0.80, df}) * sqrt(s1^2 / n1 + s2^2 / n2).
No scipy here: the t distribution comes from the regularised incomplete beta function below.
"""
import argparse
import csv
import json
import math
import os
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
OURS = {"top1": "paper-top1-17draws", "identity": "paper-identity-14draws", "attention": "paper-attention-16draws", "cnn": "paper"}
VARIANTS = ("cnn", "attention", "identity", "top1")
METRICS = ("functional", "bijective", "strict", "validQuadrants", "novel")
PERMUTATIONS = 200_000


# ---------------------------------------------------------------- t distribution without scipy
def betacf(a, b, x):
    """Continued fraction of the incomplete beta function (modified Lentz)."""
    tiny, qab, qap, qam = 1e-300, a + b, a + 1, a - 1
    c, d = 1.0, 1 - qab * x / qap
    d = 1 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 500):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1 + aa * d
        d = 1 / (d if abs(d) > tiny else tiny)
        c = 1 + aa / c if abs(1 + aa / c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1 + aa * d
        d = 1 / (d if abs(d) > tiny else tiny)
        c = 1 + aa / c if abs(1 + aa / c) > tiny else tiny
        de = d * c
        h *= de
        if abs(de - 1) < 1e-15:
            break
    return h


def betainc(a, b, x):
    """Regularised incomplete beta I_x(a, b)."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    lbt = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log(1 - x)
    if x < (a + 1) / (a + b + 2):
        return math.exp(lbt) * betacf(a, b, x) / a
    return 1 - math.exp(lbt) * betacf(b, a, 1 - x) / b


def t_cdf(t, df):
    p = 0.5 * betainc(df / 2, 0.5, df / (df + t * t))
    return 1 - p if t > 0 else p


def t_ppf(q, df):
    lo, hi = -1e3, 1e3
    for _ in range(200):
        mid = (lo + hi) / 2
        if t_cdf(mid, df) < q:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def chi2_sf(x, df):
    """P(X >= x), X ~ chi-square(df): regularised upper incomplete gamma (series / continued fraction)."""
    a, x = df / 2, x / 2
    if x <= 0:
        return 1.0
    if x < a + 1:
        s, term, n = 1 / a, 1 / a, a
        for _ in range(1000):
            n += 1
            term *= x / n
            s += term
            if abs(term) < abs(s) * 1e-15:
                break
        return 1 - s * math.exp(-x + a * math.log(x) - math.lgamma(a))
    b, c, d = x + 1 - a, 1e300, 1 / (x + 1 - a)
    h = d
    for i in range(1, 1000):
        an = -i * (i - a)
        b += 2
        d = an * d + b
        d = 1 / d if abs(d) > 1e-300 else 1e300
        c = b + an / c
        de = d * c
        h *= de
        if abs(de - 1) < 1e-15:
            break
    return math.exp(-x + a * math.log(x) - math.lgamma(a)) * h


# ---------------------------------------------------------------- two-sample tests
def welch(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
    se = math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va ** 2 / (a.size - 1) + vb ** 2 / (b.size - 1))
    diff = a.mean() - b.mean()
    t = diff / se
    p = 2 * (1 - t_cdf(abs(t), df))
    half = t_ppf(0.975, df) * se
    mdd = (t_ppf(0.975, df) + t_ppf(0.80, df)) * se
    return {"diff": diff, "t": t, "df": df, "p": p, "ci95": [diff - half, diff + half], "se": se, "mdd80": mdd}


def permutation_p(a, b, n=PERMUTATIONS, seed=0):
    """Two-sided permutation p of |mean(a) - mean(b)| under random relabelling (Monte Carlo)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    x = np.concatenate([a, b])
    obs = abs(a.mean() - b.mean())
    rng = np.random.default_rng(seed)
    hits, done = 0, 0
    while done < n:
        k = min(20_000, n - done)
        idx = np.argsort(rng.random((k, x.size)), axis=1)[:, : a.size]
        ma = x[idx].mean(axis=1)
        mb = (x.sum() - ma * a.size) / b.size
        hits += int((np.abs(ma - mb) >= obs - 1e-12).sum())
        done += k
    return (hits + 1) / (n + 1)


# ---------------------------------------------------------------- data
def ours_models(variant):
    path = os.path.join(ROOT, "docs", "results", OURS[variant], "runs.csv")
    per = {}
    for r in csv.DictReader(open(path)):
        if r["variant"] == variant and int(r["run"]) < 10 and r["weights"] == "ema":
            per.setdefault((int(r["dataSeed"]), int(r["seed"])), []).append({m: float(r[m]) for m in METRICS})
    out = []
    for (draw, seed), runs in sorted(per.items()):
        if len(runs) != 10:
            raise SystemExit(f"{path}: {variant} draw {draw} seed {seed} has {len(runs)} of runs 0-9")
        out.append({"draw": draw, "seed": seed, **{m: float(np.mean([x[m] for x in runs])) for m in METRICS}})
    return out, os.path.relpath(path, ROOT)


def torch_models(out_dir, variant):
    d = os.path.join(out_dir, "models")
    recs = [json.load(open(os.path.join(d, f))) for f in sorted(os.listdir(d)) if f.endswith(".json")] if os.path.isdir(d) else []
    return [{"draw": r["draw"], "seed": r["seed"], **{m: r["mean"][m] for m in METRICS}}
            for r in recs if r["variant"] == variant and is_paper(r)]


def is_paper(r):
    """Paper length only: 5000 epochs (top1 10 000), 2 runs x 10 000 samples, the spec's settings."""
    c = r["config"]
    return (not r.get("smoke") and c["epochs"] == 5000 and c["top1EpochFactor"] == 2 and c["samples"] == 10_000 and c["runs"] >= 2
            and c["datasetSize"] == 2048 and c["batchSize"] == 64 and c["diffusionSteps"] == 1000 and c["useEma"])


def draw_means(models, metric):
    by = {}
    for m in models:
        by.setdefault(m["draw"], []).append(m[metric])
    return [float(np.mean(v)) for _, v in sorted(by.items())]


def compare(torch_ms, ours_ms, metric, seed):
    a = [100 * m[metric] for m in torch_ms]
    b = [100 * m[metric] for m in ours_ms]
    res = {"metric": metric, "torch": {"n": len(a)}, "ours": {"n": len(b)}}
    for k, x in (("torch", a), ("ours", b)):
        if x:
            res[k].update({"mean": float(np.mean(x)), "sd": float(np.std(x, ddof=1)) if len(x) > 1 else None,
                           "min": float(min(x)), "max": float(max(x))})
    if len(a) >= 2 and len(b) >= 2:
        res["models"] = {**welch(a, b), "permutationP": permutation_p(a, b, seed=seed)}
        da, db = [100 * v for v in draw_means(torch_ms, metric)], [100 * v for v in draw_means(ours_ms, metric)]
        res["torch"]["draws"], res["ours"]["draws"] = len(da), len(db)
        if len(da) >= 2 and len(db) >= 2:
            res["draws"] = {**welch(da, db), "permutationP": permutation_p(da, db, seed=seed + 1),
                            "torchDrawSd": float(np.std(da, ddof=1)), "oursDrawSd": float(np.std(db, ddof=1))}
    return res


# ---------------------------------------------------------------- draw statistics table
LAYER_NAMES = {"conv1.w": "conv1.weight", "conv1.b": "conv1.bias", "time.w1": "time1.weight", "time.b1": "time1.bias",
               "time.w2": "time2.weight", "time.b2": "time2.bias", "attn.wq": "q.weight", "attn.wk": "k.weight",
               "attn.wv": "v.weight", "out.w": "out.weight", "out.b": "out.bias"}


def fmt(x, nd=4):
    if x is None:
        return "-"
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    if x != 0 and (abs(x) < 1e-3 or abs(x) >= 1e5):
        return f"{x:.2e}"
    return f"{x:.{nd}f}"


def draw_rows(ours, torch_):
    rows = []

    def row(kind, o, t, ratio=True):
        for side, d in (("ours", o), ("PyTorch", t)):
            iv = d.get("intendedVar")
            rows.append([kind, side, fmt(d["n"]), fmt(d["mean"]), fmt(d.get("intendedMean")), fmt(d["var"]),
                         fmt(d["var"] / iv) if (ratio and iv) else "-", fmt(d["min"]), fmt(d["max"]), fmt(d.get("lag1")),
                         fmt(d.get("ksD")), fmt(d.get("ksP"), 3) if "ksP" in d else (f"chi2 {d['chi2']:.0f}/{d['df']}, p {chi2_sf(d['chi2'], d['df']):.2f}" if "chi2" in d else "-")])
    for key in ours["init"]:
        variant, name = key.split(":")
        if variant != "top1":
            continue
        o, t = ours["init"][key], torch_["init"][f"top1:{LAYER_NAMES[name]}"]
        o, t = {**o, "intendedMean": 0.0}, {**t, "intendedMean": 0.0}
        row(f"init {name} (U+-{o['bound']:.4f})", o, t)
    row("timesteps U{0..999}", ours["timesteps"], torch_["timesteps"])
    row("training noise N(0,1)", ours["trainNoise"], torch_["trainNoise"])
    row("Gumbel(0,1), top1 training", ours["gumbel"], torch_["gumbel"])
    row("sampling noise N(0,1)", ours["sampleNoise"], torch_["sampleNoise"])
    return rows


def census_summary(side):
    ds = side["datasets"]
    per = np.array([d["perPattern"] for d in ds], float)
    pairs = np.array([[q[0] for q in d["pairCounts"]] for d in ds], float)  # count of pair 0, per quadrant
    chi = [d["imageChi2"] for d in ds]
    n = ds[0]["images"]
    pat_chi = float(sum(((per[:, k] - n / 3) ** 2 / (n / 3)).sum() for k in range(3)))  # df 2 per draw
    pair_chi = float((((pairs - n / 2) ** 2 / (n / 2)) * 2).sum())  # df 1 per quadrant and draw
    return {"draws": len(ds), "allValid": all(d["validQuadrants4"] == n == d["onePattern"] == d["wellFormedColumns"] for d in ds),
            "patternMean": per.mean(axis=0).round(1).tolist(), "patternSd": per.std(axis=0, ddof=1).round(1).tolist(),
            "patternChi2": pat_chi, "patternDf": 2 * len(ds), "patternP": chi2_sf(pat_chi, 2 * len(ds)),
            "pair0Mean": float(pairs.mean()), "pair0Sd": float(pairs.std(ddof=1)), "pairChi2": pair_chi, "pairDf": pairs.size,
            "pairP": chi2_sf(pair_chi, pairs.size),
            "distinct": sorted({d["distinct"] for d in ds}), "imageChi2Mean": float(np.mean(chi)), "imageChi2Sum": float(np.sum(chi)),
            "imageDf": 47 * len(ds), "imageP": chi2_sf(float(np.sum(chi)), 47 * len(ds)),
            "imageCountRange": [min(d["imageCountMin"] for d in ds), max(d["imageCountMax"] for d in ds)]}


# ---------------------------------------------------------------- report
def sentence(variant, r):
    m = r.get("models")
    if not m:
        return f"- **{variant}**: not enough PyTorch models yet ({r['torch']['n']})."
    d = r.get("draws")
    shown = m["p"] < 0.05 and m["permutationP"] < 0.05
    drawtxt = (f"; over draws ({r['torch']['draws']} vs {r['ours']['draws']}) Welch p = {d['p']:.3f}, permutation p = {d['permutationP']:.3f}, "
               f"smallest detectable difference {d['mdd80']:.1f} points" if d else "")
    if shown:
        return (f"- **{variant}**: PyTorch {r['torch']['mean']:.1f} % vs ours {r['ours']['mean']:.1f} %: a difference of {m['diff']:+.1f} points "
                f"(95 % CI {m['ci95'][0]:+.1f} to {m['ci95'][1]:+.1f}), Welch p = {m['p']:.3f}, permutation p = {m['permutationP']:.3f}{drawtxt}. "
                "A difference is shown: its cause must be found before the numbers are trusted.")
    return (f"- **{variant}**: PyTorch {r['torch']['mean']:.1f} % (sd {r['torch']['sd']:.1f}, {r['torch']['n']} models) vs ours {r['ours']['mean']:.1f} % "
            f"(sd {r['ours']['sd']:.1f}, {r['ours']['n']}): difference {m['diff']:+.1f} points (95 % CI {m['ci95'][0]:+.1f} to {m['ci95'][1]:+.1f}), "
            f"Welch p = {m['p']:.2f}, permutation p = {m['permutationP']:.2f}{drawtxt}. No difference shown; the smallest difference these "
            f"samples detect with 80 % power is {m['mdd80']:.1f} points over models.")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default=os.path.join(ROOT, "results", "torch-population"))
    p.add_argument("--publish", default=os.path.join(ROOT, "docs", "results", "torch-population"))
    args = p.parse_args(argv)
    os.makedirs(args.publish, exist_ok=True)
    subprocess.run([sys.executable, os.path.join(HERE, "torch_population.py"), "summarize", "--out", args.out, "--publish", args.publish],
                   check=True, stdout=subprocess.DEVNULL)
    summary = json.load(open(os.path.join(args.publish, "summary.json")))

    results, sources = {}, {}
    for i, v in enumerate(VARIANTS):
        ours_ms, sources[v] = ours_models(v)
        tm = torch_models(args.out, v)
        results[v] = {m: compare(tm, ours_ms, m, seed=100 * i + j) for j, m in enumerate(METRICS)}

    draws_ours = os.path.join(args.publish, "draws-ours.json")
    draws_torch = os.path.join(args.publish, "draws-torch.json")
    have_draws = os.path.exists(draws_ours) and os.path.exists(draws_torch)
    dstats = None
    if have_draws:
        o, t = json.load(open(draws_ours)), json.load(open(draws_torch))
        dstats = {"rows": draw_rows(o, t), "census": {"ours": census_summary(o), "torch": census_summary(t)},
                  "batchOrder": {"ours": o["batchOrder"], "torch": t["batchOrder"]},
                  "seedCorr": {"ours": {k: v["seedCorr"] for k, v in o["init"].items()}, "torch": {k: v["seedCorr"] for k, v in t["init"].items()}},
                  "replayMatchesTraining": t.get("replayMatchesTraining"), "sampleNoiseRngMode": o.get("sampleNoiseRngMode")}

    json.dump({"results": results, "ours": sources, "drawStatistics": dstats, "torchSummary": summary}, open(os.path.join(args.publish, "comparison.json"), "w"), indent=1)

    L = ["# PyTorch's population of models against ours (generated)", "",
         "Written by `/usr/bin/python3 bench/torch_population_compare.py`; the design and the reading are in README.md. "
         "Percentages are per-model means over runs (PyTorch: 2 runs x 10 000 samples; ours: runs 0-9 x 10 000).", "",
         f"PyTorch models: {summary['models']} ({summary['trainHours']} h training, {summary['sampleHours']} h sampling, CPU-contended wall clock). "
         f"Environment: {'; '.join(summary['environments'])}.", "",
         "## Functional consistency, per variant", ""]
    L += [sentence(v, results[v]["functional"]) for v in VARIANTS]
    L += ["", "| variant | metric | PyTorch n | PyTorch mean (sd) [min-max] | ours n | ours mean (sd) [min-max] | diff | 95 % CI | Welch p | perm. p | MDD 80 % | draws: n | draws: diff | Welch p | perm. p | MDD 80 % |",
          "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for v in VARIANTS:
        for m in METRICS:
            r = results[v][m]
            tt, oo = r["torch"], r["ours"]
            mm, dd = r.get("models"), r.get("draws")
            desc = lambda s: f"{s['mean']:.2f} ({s['sd']:.2f}) [{s['min']:.1f}-{s['max']:.1f}]" if s.get("sd") is not None else (f"{s['mean']:.2f}" if "mean" in s else "-")
            L.append(f"| {v} | {m} | {tt['n']} | {desc(tt)} | {oo['n']} | {desc(oo)} | "
                     + (f"{mm['diff']:+.2f} | {mm['ci95'][0]:+.1f} to {mm['ci95'][1]:+.1f} | {mm['p']:.3f} | {mm['permutationP']:.3f} | {mm['mdd80']:.1f} | " if mm else "- | - | - | - | - | ")
                     + (f"{tt['draws']} vs {oo['draws']} | {dd['diff']:+.2f} | {dd['p']:.3f} | {dd['permutationP']:.3f} | {dd['mdd80']:.1f} |" if dd else "- | - | - | - | - |"))
    L += ["", "MDD 80 %: the smallest difference of means (points) the Welch test detects with 80 % power at alpha 0.05, two-sided, "
          "given these sample sizes and the observed standard deviations. Ours: " + ", ".join(f"{v} `{sources[v]}`" for v in VARIANTS) + ".", ""]
    L += ["## PyTorch's models", "", "| variant | draw | seed | functional | bijective | validQuadrants | train s | sample s |", "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for row in csv.DictReader(open(os.path.join(args.publish, "models.csv"))) if os.path.exists(os.path.join(args.publish, "models.csv")) else []:
        L.append(f"| {row['variant']} | {row['draw']} | {row['seed']} | {100 * float(row['functional']):.2f} | {100 * float(row['bijective']):.2f} | "
                 f"{100 * float(row['validQuadrants']):.2f} | {float(row['trainSeconds']):.0f} | {float(row['sampleSeconds']):.0f} |")
    if dstats:
        L += ["", "## Statistics of each kind of draw", "",
              "Ours: `npx ts-node --transpile-only scripts/draw-statistics.ts` -> `draws-ours.json`; PyTorch: "
              "`/usr/bin/python3 bench/torch_population.py draws --out docs/results/torch-population/draws-torch.json`. Initial weights pooled over "
              "34 model seeds (top1 layers), training draws of 2 seeds x 1600 steps in training's order, sampling noise the first 480 000 normals "
              "of 2 sampling runs. KS: one-sample Kolmogorov-Smirnov against the intended distribution (asymptotic p); timesteps: chi-square "
              "against uniform over 1000 values.", "",
              "| draw | side | n | mean | intended | variance | var / intended | min | max | lag-1 corr. | KS D | KS p / chi2 |",
              "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
        L += ["| " + " | ".join(r) + " |" for r in dstats["rows"]]
        b = dstats["batchOrder"]
        L += ["", f"Batch order (first batch of each of {b['ours']['epochs']} epochs, index // 64 against uniform over 32 bins): "
              f"ours chi2 {b['ours']['chi2']:.1f}/{b['ours']['df']} (p {chi2_sf(b['ours']['chi2'], b['ours']['df']):.2f}), mean index {b['ours']['firstBatchIndexMean']:.1f}; "
              f"PyTorch chi2 {b['torch']['chi2']:.1f}/{b['torch']['df']} (p {chi2_sf(b['torch']['chi2'], b['torch']['df']):.2f}), mean index {b['torch']['firstBatchIndexMean']:.1f} (intended 1023.5).",
              f"PyTorch's replay of the training draws matches real training (generator state after 2 epochs of top1): {dstats['replayMatchesTraining']}.", "",
              "### Dataset census (read from the pixels)", "",
              "| side | draws | all images valid, one pattern, key left / value right | pattern counts mean (sd) | pattern chi2 (p) | pair-0 count per quadrant mean (sd) | pair chi2 (p) | distinct images | image-count chi2 sum / df (p) | image counts range |",
              "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
        for side in ("ours", "torch"):
            c = dstats["census"][side]
            L.append(f"| {'ours' if side == 'ours' else 'PyTorch'} | {c['draws']} | {c['allValid']} | {c['patternMean']} ({c['patternSd']}) | "
                     f"{c['patternChi2']:.1f}/{c['patternDf']} ({c['patternP']:.2f}) | {c['pair0Mean']:.1f} ({c['pair0Sd']:.1f}) | {c['pairChi2']:.1f}/{c['pairDf']} ({c['pairP']:.2f}) | "
                     f"{c['distinct']} | {c['imageChi2Sum']:.0f}/{c['imageDf']} ({c['imageP']:.2f}) | {c['imageCountRange']} |")
    open(os.path.join(args.publish, "comparison.md"), "w").write("\n".join(L) + "\n")
    print(json.dumps({v: {k: (round(results[v]["functional"]["models"][k], 4) if k != "ci95" else None) for k in ("diff", "p", "permutationP", "mdd80")}
                      if "models" in results[v]["functional"] else None for v in VARIANTS}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
