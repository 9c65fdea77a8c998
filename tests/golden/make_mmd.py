#!/usr/bin/python3
"""Reference values for the MMD and random tests (tests/golden/mmd.json, mmd_random.json).

Run with Debian's python3-numpy / python3-scipy (numpy 1.24, scipy 1.10):
    /usr/bin/python3 tests/golden/make_mmd.py
Samples are float32 (what driftd stores), written as base64 little-endian float32 (NaN and +-Inf
included) so the C++ tests see exactly these values. Everything below is computed independently
of driftd's batched algorithm, in float64 numpy, the slow way:
- standardization: mean and population sd of the complete reference rows (math.fsum), a
  constant column only centered; transformed rows rounded to float32, as driftd stores them;
- subsamples and permutations from drift_random.py (the same choices as random.h);
- sigma: the lower median (the ceil(P/2)-th smallest, np.partition) of scipy's pdist
  'sqeuclidean' over the reference rows used (a seeded subset when above sigma_rows);
- MMD^2_u from the full float64 kernel matrix (scipy cdist), zeroed diagonal;
- the p-value by regathering the kernel matrix for every permutation, as alibi-detect does:
  K[perm][:, perm], then the three block sums. Count rule (STATISTICS.md, Phipson-Smyth):
  p = (1 + #{b : MMD^2_b >= MMD^2_obs}) / (1 + B), where a permutation that reproduces the
  observed split (or, when n == m, its mirror) and any statistic within TIE_TOLERANCE times the
  mean pooled kernel value of the observed one count as ties (>=): they are equal in exact
  arithmetic and only float64 summation order separates them.
Also reports, per case, the smallest non-tie gap |MMD^2_b - MMD^2_obs| / mean kernel, so the
margin against rounding is visible.
"""
import base64
import json
import math
import os
import sys

import numpy as np
from scipy.spatial.distance import cdist, pdist

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import drift_random as dr  # noqa: E402

OUT = os.path.join(HERE, "mmd.json")
OUT_RANDOM = os.path.join(HERE, "mmd_random.json")
TIE_TOLERANCE = 1e-11


def f32(a):
    return np.asarray(a, dtype=np.float32)


def b64(a):
    return base64.b64encode(f32(a).astype("<f4").tobytes()).decode("ascii")


def standardization(rows, standardize):
    """mean, scale per column of the complete reference rows (float32 n x d)."""
    d = rows.shape[1]
    mean, scale = np.zeros(d), np.ones(d)
    if not standardize:
        return mean, scale
    for k in range(d):
        col = rows[:, k].astype(np.float64)
        if col.min() == col.max():
            mean[k] = col[0]  # constant: only centered, exactly on its value
            continue
        mu = math.fsum(col) / len(col)
        sd = math.sqrt(math.fsum((col - mu) ** 2) / len(col))
        mean[k] = mu
        if sd > 0:
            scale[k] = sd
    return mean, scale


def transform(rows, mean, scale):
    return ((rows.astype(np.float64) - mean) / scale).astype(np.float32)


def median_sigma(z):
    d = pdist(z.astype(np.float64), "sqeuclidean")
    k = (len(d) + 1) // 2  # the lower median: ceil(P/2)-th smallest
    return math.sqrt(0.5 * np.partition(d, k - 1)[k - 1])


def kernel_matrix(z, sigma):
    z = z.astype(np.float64)
    k = np.exp(-cdist(z, z, "sqeuclidean") / (2.0 * sigma * sigma))
    np.fill_diagonal(k, 0.0)
    return k


def block_statistic(k, n):
    m = k.shape[0] - n
    kxx, kyy, kxy = k[:n, :n], k[n:, n:], k[:n, n:]
    return kxx.sum() / (n * (n - 1)) + kyy.sum() / (m * (m - 1)) - 2.0 * kxy.sum() / (n * m)


def complete(sample, names):
    rows = np.stack([sample[name] for name in names], axis=1)
    return rows[np.all(np.isfinite(rows), axis=1)]


def mmd_case(name, reference, current, features=None, standardize=True, max_rows=10000,
             sigma=None, sigma_rows=4000, seed=0, permutations=500):
    names = list(reference.keys())
    selected = list(features) if features else names
    ref = complete(reference, selected)
    cur = complete(current, selected)
    rows_available = len(ref)
    mean, scale = standardization(ref, standardize)
    if len(ref) > max_rows:
        ref = ref[dr.sample_indices(seed, dr.REFERENCE_SUBSAMPLE, len(ref), max_rows)]
    if len(cur) > max_rows:
        cur = cur[dr.sample_indices(seed, dr.CURRENT_SUBSAMPLE, len(cur), max_rows)]
    zr, zc = transform(ref, mean, scale), transform(cur, mean, scale)
    n, m = len(zr), len(zc)
    if sigma is None:
        zs = zr
        if n > sigma_rows:
            zs = zr[dr.sample_indices(seed, dr.SIGMA_SUBSAMPLE, n, sigma_rows)]
        s = median_sigma(zs)
    else:
        s = float(sigma)
    reference_kernel_sum = kernel_matrix(zr, s).sum()

    k = kernel_matrix(np.concatenate([zr, zc]), s)
    big_n = n + m
    mean_kernel = k.sum() / (big_n * (big_n - 1))
    observed = block_statistic(k, n)
    count, ties, near, gap = 0, 0, 0, math.inf
    for b in range(permutations):
        order = dr.partial_shuffle(dr.SplitMix64.for_stream(seed, dr.PERMUTATION, b), big_n, n)
        part = order[:n]
        tie = all(i < n for i in part) or (n == m and all(i >= n for i in part))
        idx = np.asarray(order)
        stat = block_statistic(k[idx][:, idx], n)  # regathered, as alibi-detect does
        if tie:
            ties += 1
        else:
            gap = min(gap, abs(stat - observed) / mean_kernel)
            near += int(abs(stat - observed) <= TIE_TOLERANCE * mean_kernel)
        if tie or stat >= observed - TIE_TOLERANCE * mean_kernel:
            count += 1
    p_value = (1.0 + count) / (1.0 + permutations)
    print(f"{name}: n={n} m={m} d={len(selected)} sigma={s:.6g} mmd2={observed:.6g} "
          f"p={p_value:.6g} ties={ties} value ties={near} min gap/mean kernel={gap:.3g}")
    return {
        "name": name,
        "reference": [{"name": c, "values": b64(reference[c])} for c in names],
        "current": [{"name": c, "values": b64(current[c])} for c in current.keys()],
        "options": {"features": list(features) if features else [], "standardize": standardize,
                    "max_rows": max_rows, "sigma": sigma, "sigma_rows": sigma_rows,
                    "seed": seed, "permutations": permutations},
        "expected": {"features": selected, "mean": mean.tolist(), "scale": scale.tolist(),
                     "rows_available": rows_available, "reference_rows": n,
                     "current_rows": m, "sigma": s,
                     "reference_kernel_sum": reference_kernel_sum,
                     "statistic": observed, "p_value": p_value, "exceed_count": count,
                     "ties": ties, "value_ties": near, "min_gap": gap if math.isfinite(gap) else None},
    }


def columns(matrix, prefix="x"):
    matrix = f32(matrix)
    return {f"{prefix}{k}": matrix[:, k] for k in range(matrix.shape[1])}


def mmd_cases(rng):
    def normal(rows, d, shift=0.0, sd=1.0):
        return f32(rng.normal(shift, sd, size=(rows, d)))

    cases = []
    cases.append(mmd_case("five rows each: many splits repeat the observed one",
                          columns(normal(5, 2)), columns(normal(5, 2)), permutations=500, seed=3))
    cases.append(mmd_case("unequal sizes, no drift, d=3",
                          columns(normal(60, 3)), columns(normal(45, 3)), seed=11))
    cases.append(mmd_case("one feature, small shift",
                          columns(normal(40, 1)), columns(normal(70, 1, 0.3)),
                          permutations=1000, seed=5))
    cases.append(mmd_case("shifted, d=10: smallest p-value",
                          columns(normal(150, 10)), columns(normal(120, 10, 0.6)), seed=7))
    cases.append(mmd_case("no drift, d=5, equal sizes",
                          columns(normal(200, 5)), columns(normal(200, 5)),
                          permutations=1000, seed=1))

    ref, cur = normal(50, 4), normal(50, 4)
    ref[:, 2] = 3.25
    cur[:, 2] = f32(rng.normal(3.25, 0.1, 50))
    cases.append(mmd_case("constant reference column is only centered",
                          columns(ref), columns(cur), seed=2))

    ref, cur = normal(80, 3, 0.0, 2.0), normal(60, 3, 0.2, 2.0)
    for sample, count in ((ref, 9), (cur, 7)):
        rows = rng.choice(len(sample), count, replace=False)
        cols = rng.integers(0, sample.shape[1], count)
        bad = np.array([np.nan, np.inf, -np.inf], dtype=np.float32)
        sample[rows, cols] = bad[np.arange(count) % 3]
    cases.append(mmd_case("rows with NaN or infinite values are dropped",
                          columns(ref), columns(cur), seed=4))

    cases.append(mmd_case("subsampled: max_rows and sigma_rows below the sizes",
                          columns(normal(300, 4)), columns(normal(260, 4, 0.1)),
                          max_rows=200, sigma_rows=120, seed=9))
    cases.append(mmd_case("fixed sigma", columns(normal(70, 6)), columns(normal(90, 6, 0.15)),
                          sigma=1.7, seed=6))
    cases.append(mmd_case("not standardized, large offsets",
                          columns(normal(100, 3, 50.0, 5.0)), columns(normal(80, 3, 50.5, 5.0)),
                          standardize=False, permutations=300, seed=8))
    cases.append(mmd_case("more rows than one tile, slight shift",
                          columns(normal(350, 8)), columns(normal(310, 8, 0.08)),
                          permutations=300, seed=10))

    ref = normal(90, 4) * f32([1.0, 1e-3, 1e3, 10.0])
    cur = normal(75, 4, 0.1) * f32([1.0, 1e-3, 1e3, 10.0])
    cases.append(mmd_case("feature subset in a chosen order, scales far apart",
                          columns(ref), columns(cur), features=["x3", "x1", "x2"], seed=12))
    cases.append(mmd_case("discrete values: many splits tie exactly",
                          columns(f32(rng.integers(0, 3, size=(30, 1)))),
                          columns(f32(rng.integers(0, 3, size=(25, 1)))),
                          permutations=400, seed=13))
    return cases


def random_golden():
    u64 = lambda v: v & dr.MASK64  # noqa: E731
    out = {"mix64": [], "next": [], "bounded": [], "partial_shuffle": [], "sample_indices": []}
    for x in [0, 1, 2, 12345, dr.GOLDEN_GAMMA, u64(-1), u64(-12345)]:
        out["mix64"].append({"x": x, "value": dr.mix64(x)})
    for seed, stream, index in [(0, 1, 0), (0, 1, 1), (42, 2, 0), (42, 3, 0), (7, 4, 0),
                                (u64(-1), 1, 999), (123456789, 1, u64(-1))]:
        rng = dr.SplitMix64.for_stream(seed, stream, index)
        out["next"].append({"seed": seed, "stream": stream, "index": index,
                            "values": [rng.next() for _ in range(6)]})
    for bound in [1, 2, 3, 7, 10, 1000, (1 << 32) + 1, (1 << 63) + 1, (1 << 63) + 12345,
                  u64(-1), u64(-16)]:
        rng = dr.SplitMix64.for_stream(2026, 1, bound % 1000)
        out["bounded"].append({"seed": 2026, "stream": 1, "index": bound % 1000, "bound": bound,
                               "values": [rng.bounded(bound) for _ in range(12)]})
    for seed, stream, index, n_total, k in [(0, 1, 0, 10, 10), (1, 1, 5, 20, 5), (3, 2, 0, 1, 1),
                                            (3, 2, 0, 0, 0), (9, 1, 77, 100, 37),
                                            (9, 1, 78, 100, 0), (11, 3, 0, 1000, 999)]:
        rng = dr.SplitMix64.for_stream(seed, stream, index)
        out["partial_shuffle"].append({"seed": seed, "stream": stream, "index": index,
                                       "n": n_total, "k": k,
                                       "order": dr.partial_shuffle(rng, n_total, k)})
    for seed, stream, n_total, k in [(0, 2, 10, 3), (5, 3, 1000, 17), (5, 4, 50, 50),
                                     (5, 4, 50, 80), (8, 2, 7, 0), (123, 2, 100000, 25)]:
        out["sample_indices"].append({"seed": seed, "stream": stream, "n": n_total, "k": k,
                                      "indices": dr.sample_indices(seed, stream, n_total, k)})
    return out


def main():
    rng = np.random.default_rng(20261127)
    doc = {"generator": "tests/golden/make_mmd.py", "numpy": np.__version__,
           "tie_tolerance": TIE_TOLERANCE, "cases": mmd_cases(rng)}
    with open(OUT, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    with open(OUT_RANDOM, "w") as f:
        json.dump({"generator": "tests/golden/make_mmd.py", **random_golden()}, f, indent=1)
        f.write("\n")
    print(f"wrote {OUT} ({os.path.getsize(OUT)} bytes), {OUT_RANDOM} "
          f"({os.path.getsize(OUT_RANDOM)} bytes)")


if __name__ == "__main__":
    main()
