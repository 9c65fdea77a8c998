#!/usr/bin/python3
"""Baseline for bench_mmd: a numpy float64 MMD permutation test that regathers the kernel
matrix for every permutation, as alibi-detect's PyTorch/TensorFlow backends do.

    build/bench/bench_mmd --write-data /tmp/mmd-data      # driftd, writes the samples
    /usr/bin/python3 bench/baseline_mmd.py /tmp/mmd-data [--permutations 100]

Same data, same definitions as driftd (STATISTICS.md): complete rows, standardization by the
reference mean / population sd (rows rounded to float32 as driftd stores them), sigma by the
lower-median heuristic over the seeded sigma_rows subset, unbiased MMD^2, the same permutations
(tests/golden/drift_random.py), p = (1 + #{b : MMD^2_b >= MMD^2_obs}) / (1 + B). The kernel
matrix is built once (scipy cdist, float64, N x N: 3.2 GB for 10k + 10k); each permutation is
one gather K[ix_(perm, perm)] (alibi-detect does two, kernel_mat[idx][:, idx], so this baseline
is, if anything, a little faster than alibi-detect) and three block sums. B defaults to 100; the
time is reported as measured and scaled to the B driftd ran (kernel once + B x the median
permutation), with the ratio to driftd's per-window time from meta.json. numpy runs these
steps on one thread; compare with driftd at --threads 1 as well as at its default.
"""
import argparse
import json
import math
import os
import sys
import time

import numpy as np
from scipy.spatial.distance import cdist, pdist

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "golden"))
import drift_random as dr  # noqa: E402


def load(directory):
    with open(os.path.join(directory, "meta.json")) as f:
        meta = json.load(f)
    d = meta["d"]
    ref = np.fromfile(os.path.join(directory, "reference.f32"), dtype="<f4").reshape(-1, d)
    cur = np.fromfile(os.path.join(directory, "current.f32"), dtype="<f4").reshape(-1, d)
    return meta, ref, cur


def prepare(meta, ref, cur):
    ref = ref[np.all(np.isfinite(ref), axis=1)]
    cur = cur[np.all(np.isfinite(cur), axis=1)]
    ref64 = ref.astype(np.float64)
    mean = ref64.mean(axis=0)
    sd = ref64.std(axis=0)
    constant = ref64.min(axis=0) == ref64.max(axis=0)
    mean[constant] = ref64[0, constant]
    scale = np.where(constant | (sd == 0), 1.0, sd)
    seed, max_rows = meta["seed"], meta["max_rows"]
    if len(ref) > max_rows:
        ref = ref[dr.sample_indices(seed, dr.REFERENCE_SUBSAMPLE, len(ref), max_rows)]
    if len(cur) > max_rows:
        cur = cur[dr.sample_indices(seed, dr.CURRENT_SUBSAMPLE, len(cur), max_rows)]
    zr = ((ref.astype(np.float64) - mean) / scale).astype(np.float32)
    zc = ((cur.astype(np.float64) - mean) / scale).astype(np.float32)
    zs = zr
    if len(zr) > meta["sigma_rows"]:
        zs = zr[dr.sample_indices(seed, dr.SIGMA_SUBSAMPLE, len(zr), meta["sigma_rows"])]
    dist = pdist(zs.astype(np.float64), "sqeuclidean")
    k = (len(dist) + 1) // 2
    sigma = math.sqrt(0.5 * np.partition(dist, k - 1)[k - 1])
    return zr, zc, sigma


def statistic(kmat, n):
    m = kmat.shape[0] - n
    return (kmat[:n, :n].sum() / (n * (n - 1)) + kmat[n:, n:].sum() / (m * (m - 1))
            - 2.0 * kmat[:n, n:].sum() / (n * m))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", help="directory written by bench_mmd --write-data")
    parser.add_argument("--permutations", type=int, default=100)
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args()

    meta, ref, cur = load(args.data)
    zr, zc, sigma = prepare(meta, ref, cur)
    n, m = len(zr), len(zc)
    big_n = n + m
    seed = meta["seed"]
    orders = [np.asarray(dr.partial_shuffle(dr.SplitMix64.for_stream(seed, dr.PERMUTATION, b),
                                            big_n, n)) for b in range(args.permutations)]

    start = time.perf_counter()
    z = np.concatenate([zr, zc]).astype(np.float64)
    kmat = cdist(z, z, "sqeuclidean")
    kmat *= -1.0 / (2.0 * sigma * sigma)
    np.exp(kmat, out=kmat)
    np.fill_diagonal(kmat, 0.0)
    observed = statistic(kmat, n)
    kernel_s = time.perf_counter() - start

    per_permutation = []
    count = 0
    for order in orders:
        start = time.perf_counter()
        stat = statistic(kmat[np.ix_(order, order)], n)
        per_permutation.append(time.perf_counter() - start)
        count += stat >= observed
    p_value = (1.0 + count) / (1.0 + args.permutations)
    median_perm = float(np.median(per_permutation))
    target_b = meta["permutations"]
    scaled = kernel_s + median_perm * target_b
    driftd_s = meta["test"]["median_s"]

    print(f"numpy baseline (regather per permutation): n={n} m={m} d={meta['d']} "
          f"B={args.permutations}, 1 thread")
    print(f"  sigma {sigma:.6g} (driftd {meta['sigma']:.6g}), MMD^2 {observed:.6g} "
          f"(driftd {meta['statistic']:.6g}), p with B={args.permutations}: {p_value:.4g}")
    print(f"  kernel matrix {kernel_s:.2f} s, median permutation {median_perm:.3f} s, "
          f"measured total {kernel_s + sum(per_permutation):.1f} s")
    print(f"  scaled to B={target_b}: {scaled:.1f} s; driftd per window: {driftd_s:.3f} s "
          f"({meta['threads']} threads) -> driftd is {scaled / driftd_s:.0f}x faster")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"baseline": "numpy regather", "n": n, "m": m, "d": meta["d"],
                       "permutations": args.permutations, "sigma": sigma,
                       "statistic": observed, "p_value": p_value, "kernel_s": kernel_s,
                       "median_permutation_s": median_perm, "scaled_b": target_b,
                       "scaled_s": scaled, "driftd_test_s": driftd_s,
                       "driftd_threads": meta["threads"], "ratio": scaled / driftd_s}, f,
                      indent=1)


if __name__ == "__main__":
    main()
