#!/usr/bin/python3
"""numpy/scipy baseline for bench_check: a loop of scipy.stats.ks_2samp per feature plus a numpy
PSI on reference-quantile bins, on the very data bench_check generated (--write-data DIR).

    /usr/bin/python3 bench/baseline_ks_psi.py DIR --features 100 --rows 1000000 [--current-rows N]
        [--runs 3] [--json FILE]

Prints the per-window time (KS + PSI on every feature; ks_2samp sorts both samples itself, which
is what users of the scipy loop pay) and the reference-side time (quantile edges and reference
proportions) separately, median over --runs.
"""
import argparse
import json
import os
import time

import numpy as np
from scipy import stats


def psi_reference(ref, bins=10):
    edges = np.unique(np.quantile(ref, np.arange(1, bins) / bins))
    p = np.bincount(np.searchsorted(edges, ref, side="left"), minlength=len(edges) + 1) / len(ref)
    return edges, p


def psi_window(edges, p, cur):
    q = np.bincount(np.searchsorted(edges, cur, side="left"), minlength=len(edges) + 1) / len(cur)
    p = np.maximum(p, 1e-4)
    q = np.maximum(q, 1e-4)
    return float(np.sum((q - p) * np.log(q / p)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--features", type=int, default=100)
    ap.add_argument("--rows", type=int, default=1000000)
    ap.add_argument("--current-rows", type=int, default=0)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--json")
    a = ap.parse_args()
    m = a.current_rows or a.rows
    ref = np.fromfile(os.path.join(a.dir, "reference.f32"), dtype="<f4").reshape(a.features, a.rows)
    cur = np.fromfile(os.path.join(a.dir, "current.f32"), dtype="<f4").reshape(a.features, m)

    ref_times, window_times = [], []
    for _ in range(a.runs):
        t0 = time.perf_counter()
        prepared = [psi_reference(ref[f]) for f in range(a.features)]
        ref_times.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        flagged = 0
        for f in range(a.features):
            r = stats.ks_2samp(ref[f], cur[f])
            psi_window(*prepared[f], cur[f])
            flagged += r.pvalue < 0.05 / a.features
        window_times.append(time.perf_counter() - t0)
    ref_s, window_s = float(np.median(ref_times)), float(np.median(window_times))
    print(f"baseline_ks_psi: {a.features} features x {a.rows} x {m} rows, numpy {np.__version__}")
    print(f"  reference side (median) {ref_s:8.3f} s")
    print(f"  per-window KS+PSI       {window_s:8.3f} s   ({a.runs} runs)")
    print(f"  features flagged by KS  {flagged:8d}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"reference_s": ref_s, "window_s": window_s, "flagged": int(flagged)}, f)


if __name__ == "__main__":
    main()
