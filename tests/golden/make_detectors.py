#!/usr/bin/python3
"""Reference values for the KS, PSI, chi-square and correction tests (tests/golden/detectors.json).

Run with Debian's python3-scipy / python3-numpy (scipy 1.10, numpy 1.24):
    /usr/bin/python3 tests/golden/make_detectors.py
Samples are float32 (what driftd stores) and are written as base64 little-endian float32 so the C++
tests see exactly the values scipy saw. Everything here is computed independently of driftd: KS with
scipy.stats.ks_2samp, chi-square with scipy.stats.chi2_contingency(correction=False), PSI with the
STATISTICS.md formulas written in numpy, Benjamini-Hochberg as alibi-detect's `fdr` does it.
"""
import base64
import json
import os
import sys

import numpy as np
import scipy
from scipy import stats

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "detectors.json")


def f32(a):
    return np.asarray(a, dtype=np.float32)


def b64(a):
    return base64.b64encode(f32(a).astype("<f4").tobytes()).decode("ascii")


def ks_case(name, x, y, method="auto"):
    x, y = f32(x), f32(y)
    r = stats.ks_2samp(x.astype(np.float64), y.astype(np.float64), method=method)
    n, m = len(x), len(y)
    # The path scipy took: auto is exact up to 10000 rows; exact requests can fall back.
    taken = method if method != "auto" else ("exact" if max(n, m) <= 10000 else "asymp")
    return {"name": name, "x": b64(x), "y": b64(y), "method": method, "taken": taken,
            "statistic": float(r.statistic), "p_value": float(r.pvalue)}


def ks_cases(rng):
    cases = []
    norm = lambda k, mu=0.0, sd=1.0: rng.normal(mu, sd, k)
    cases.append(ks_case("exact equal sizes, shift", norm(100), norm(100, 0.3)))
    cases.append(ks_case("exact unequal sizes sharing a factor", norm(60), norm(45, 0.2)))
    cases.append(ks_case("exact unequal coprime sizes", norm(1000), norm(999, 0.05)))
    cases.append(ks_case("exact equal sizes, p near 1e-10", norm(300), norm(300, 0.75)))
    cases.append(ks_case("exact unequal sizes, p near 1e-10", norm(400), norm(350, 0.72)))
    cases.append(ks_case("exact unequal sizes, p below 1e-12", norm(500), norm(450, 1.1)))
    cases.append(ks_case("heavy ties on a few integers", rng.integers(0, 6, 500),
                         rng.integers(0, 7, 300)))
    cases.append(ks_case("ties rounded to one decimal", np.round(norm(800), 1),
                         np.round(norm(600, 0.1), 1)))
    cases.append(ks_case("one row each", [1.0], [2.0]))
    cases.append(ks_case("one row against three", [0.5], [0.1, 0.7, 0.9]))
    cases.append(ks_case("three rows against two", [0.1, 0.4, 0.8], [0.3, 0.35]))
    same = norm(250)
    cases.append(ks_case("identical samples", same, same))
    cases.append(ks_case("disjoint samples", norm(40), norm(30, 100.0)))
    cases.append(ks_case("exact requested on mid sizes", norm(200), norm(300, 0.1), "exact"))
    cases.append(ks_case("asymptotic requested on small sizes", norm(100), norm(80, 0.4), "asymp"))
    cases.append(ks_case("asymptotic path above 10000 rows", norm(10001), norm(3000, 0.03)))
    # n = m = 20001: N = 10000.5 rounds half to even (10000), where std::round would give 10001.
    cases.append(ks_case("asymptotic with N rounding half to even", norm(20001), norm(20001, 0.02)))
    cases.append(ks_case("asymptotic far tail", norm(10500), norm(2000, 0.25)))
    return cases


def numpy_quantile_edges(ref, bins):
    q = np.arange(1, bins) / bins
    return np.unique(np.quantile(ref.astype(np.float64), q))


def floored_psi(p, q):
    p = np.maximum(p, 1e-4)
    q = np.maximum(q, 1e-4)
    return float(np.sum((q - p) * np.log(q / p)))


def psi_quantile_case(name, ref, cur, bins=10):
    ref, cur = f32(ref), f32(cur)
    edges = numpy_quantile_edges(ref, bins)
    k = len(edges) + 1
    # bin = #{edges e : e < x}
    p = np.bincount(np.searchsorted(edges, ref.astype(np.float64), side="left"), minlength=k) / len(ref)
    q = np.bincount(np.searchsorted(edges, cur.astype(np.float64), side="left"), minlength=k) / len(cur)
    return {"name": name, "binning": "quantile", "bins_requested": bins, "x": b64(ref), "y": b64(cur),
            "edges": edges.tolist(), "reference_proportions": p.tolist(),
            "current_proportions": q.tolist(), "statistic": floored_psi(p, q)}


def evidently_fill(v):
    v = v.copy()
    nz = v[v != 0]
    fill = nz.min() / 10**6 if nz.min() <= 0.0001 else 0.0001
    v[v == 0] = fill
    return v


def psi_evidently_case(name, ref, cur):
    ref, cur = f32(ref), f32(cur)
    r64, c64 = ref.astype(np.float64), cur.astype(np.float64)
    if len(np.unique(r64)) > 20:
        edges = np.histogram_bin_edges(np.concatenate([r64, c64]), bins="sturges")
        p = np.histogram(r64, edges)[0] / len(r64)
        q = np.histogram(c64, edges)[0] / len(c64)
    else:
        keys = np.unique(np.concatenate([r64, c64]))
        edges = np.array([])
        p = np.array([np.sum(r64 == k) for k in keys]) / len(r64)
        q = np.array([np.sum(c64 == k) for k in keys]) / len(c64)
    pf, qf = evidently_fill(p), evidently_fill(q)
    stat = float(np.sum((pf - qf) * np.log(pf / qf)))
    return {"name": name, "binning": "evidently", "x": b64(ref), "y": b64(cur), "edges": edges.tolist(),
            "reference_proportions": p.tolist(), "current_proportions": q.tolist(), "statistic": stat}


def psi_cases(rng):
    cases = []
    cases.append(psi_quantile_case("quantile bins, small shift", rng.normal(0, 1, 5000),
                                   rng.normal(0.1, 1, 4000)))
    cases.append(psi_quantile_case("quantile bins, current in two bins (empty bins floored)",
                                   rng.normal(0, 1, 3000), rng.uniform(-0.2, 0.1, 1000)))
    cases.append(psi_quantile_case("quantile bins with duplicate edges dropped",
                                   rng.integers(0, 4, 2000), rng.integers(0, 5, 1500)))
    cases.append(psi_quantile_case("quantile bins, 5 bins on 7 rows", [3, 1, 4, 1, 5, 9, 2],
                                   [6, 5, 3, 5], bins=5))
    cases.append(psi_quantile_case("quantile bins, 20 bins", rng.exponential(1, 2000),
                                   rng.exponential(1.3, 2500), bins=20))
    cases.append(psi_evidently_case("evidently sturges bins", rng.normal(0, 1, 3000),
                                    rng.normal(0.3, 1.2, 2000)))
    cases.append(psi_evidently_case("evidently sturges bins, n + m a power of two",
                                    rng.normal(0, 1, 512), rng.normal(0.2, 1, 512)))
    cases.append(psi_evidently_case("evidently sturges bins with empty current bins",
                                    rng.normal(0, 1, 4000), rng.normal(0, 0.05, 300)))
    cases.append(psi_evidently_case("evidently one bin per value (<= 20 distinct)",
                                    rng.integers(0, 8, 1000), rng.integers(2, 12, 800)))
    return cases


def psi_category_case(name, ref_counts, cur_counts):
    r, c = np.asarray(ref_counts, float), np.asarray(cur_counts, float)
    p, q = r / r.sum(), c / c.sum()
    return {"name": name, "reference_counts": list(map(int, ref_counts)),
            "current_counts": list(map(int, cur_counts)), "statistic": floored_psi(p, q)}


def chi2_case(name, ref_counts, cur_counts):
    table = np.array([ref_counts, cur_counts])
    if table.shape[1] == 1:
        stat, p, dof = 0.0, 1.0, 0
    else:
        stat, p, dof, _ = stats.chi2_contingency(table, correction=False)
    return {"name": name, "reference_counts": list(map(int, ref_counts)),
            "current_counts": list(map(int, cur_counts)), "statistic": float(stat),
            "p_value": float(p), "dof": int(dof),
            "cramers_v": float(np.sqrt(stat / table.sum()))}


def categorical_cases(rng):
    big_r = rng.integers(0, 50, 100).tolist()
    big_c = (np.asarray(big_r) + rng.integers(0, 10, 100)).tolist()
    pairs = [
        ("three categories, mild shift", [500, 300, 200], [480, 330, 190]),
        ("unseen category in current", [400, 350, 250, 0], [380, 300, 200, 120]),
        ("category missing from current", [100, 100, 50], [120, 130, 0]),
        ("strong shift, tiny p", [5000, 3000, 2000], [2000, 3000, 5000]),
        ("small expected counts", [3, 1, 2, 7], [1, 4, 0, 2]),
        ("one category only", [10], [7]),
        ("a hundred categories", big_r, big_c),
    ]
    chi2 = [chi2_case(*p) for p in pairs]
    psi = [psi_category_case(*p) for p in pairs]
    return chi2, psi


def bh(p, alpha):
    # alibi-detect's fdr(): the largest k with p_(k) < alpha k / F.
    n = len(p)
    ps = np.sort(p)
    thr = alpha * (np.arange(n) + 1) / n
    below = np.where(ps < thr)[0]
    if len(below) == 0:
        return alpha / n, [False] * n
    k = below.max()
    return float(thr[k]), [bool(x <= ps[k]) for x in p]


def correction_cases():
    vectors = [
        [0.01, 0.04, 0.03, 0.005, 0.2],
        [0.001, 0.008, 0.039, 0.041, 0.042, 0.06, 0.074, 0.205, 0.212, 0.216],
        [0.5, 0.6, 0.9],
        [0.0125, 0.0125, 0.0125, 0.0125],
        [1e-12],
    ]
    out = []
    for p in vectors:
        a = 0.05
        n = len(p)
        cut, rej = bh(np.array(p), a)
        out.append({"p_values": p, "alpha": a,
                    "none": {"cutoff": a, "rejected": [x < a for x in p]},
                    "bonferroni": {"cutoff": a / n, "rejected": [x < a / n for x in p]},
                    "fdr": {"cutoff": cut, "rejected": rej}})
    return out


def write_csv(path, columns):
    names = list(columns)
    rows = len(columns[names[0]])
    with open(path, "w") as f:
        f.write(",".join(names) + "\n")
        for k in range(rows):
            cells = []
            for n in names:
                v = columns[n][k]
                if isinstance(v, str):
                    cells.append(v)
                elif np.isnan(v):
                    cells.append("")
                else:
                    cells.append(str(np.float32(v)))  # shortest text that reads back to this float32
            f.write(",".join(cells) + "\n")


def check_fixture(rng):
    """Two CSV files for `driftd check` and what scipy says about them (bonferroni, alpha 0.05)."""
    here = os.path.dirname(OUT)
    n, m = 600, 500
    ref = {"x": f32(rng.normal(0, 1, n)), "y": f32(rng.normal(5, 2, n)),
           "color": list(rng.choice(["red", "green", "blue"], n, p=[0.5, 0.3, 0.2]))}
    cur = {"x": f32(rng.normal(0.05, 1, m)), "y": f32(rng.normal(5.8, 2, m)),
           "color": list(rng.choice(["red", "green", "blue", "violet"], m, p=[0.35, 0.3, 0.2, 0.15]))}
    ref["y"][rng.choice(n, 7, replace=False)] = np.nan
    cur["y"][rng.choice(m, 11, replace=False)] = np.nan
    write_csv(os.path.join(here, "check_reference.csv"), ref)
    write_csv(os.path.join(here, "check_current.csv"), cur)
    expected = {}
    p_values = []
    for name in ("x", "y"):
        r = ref[name][~np.isnan(ref[name])]
        c = cur[name][~np.isnan(cur[name])]
        ks = stats.ks_2samp(r.astype(np.float64), c.astype(np.float64))
        psi = psi_quantile_case(name, r, c)
        expected[name] = {"kind": "numeric", "missing_reference": int(n - len(r)),
                          "missing_current": int(m - len(c)), "ks_statistic": float(ks.statistic),
                          "ks_p_value": float(ks.pvalue), "psi": psi["statistic"]}
        p_values.append(float(ks.pvalue))
    cats = ["red", "green", "blue", "violet"]
    rc = [ref["color"].count(k) for k in cats]
    cc = [cur["color"].count(k) for k in cats]
    chi = chi2_case("color", rc, cc)
    expected["color"] = {"kind": "categorical", "missing_reference": 0, "missing_current": 0,
                         "chi2_statistic": chi["statistic"], "chi2_p_value": chi["p_value"],
                         "dof": chi["dof"], "cramers_v": chi["cramers_v"],
                         "psi": psi_category_case("color", rc, cc)["statistic"]}
    p_values.append(chi["p_value"])
    cutoff = 0.05 / len(p_values)
    for name, p in zip(("x", "y", "color"), p_values):
        expected[name]["drift"] = bool(p < cutoff)
    return {"reference": "check_reference.csv", "current": "check_current.csv",
            "reference_rows": n, "current_rows": m, "cutoff": cutoff, "features": expected}


def main():
    rng = np.random.default_rng(20261127)
    chi2, psi_cat = categorical_cases(rng)
    doc = {"generator": "tests/golden/make_detectors.py",
           "versions": {"numpy": np.__version__, "scipy": scipy.__version__,
                        "python": sys.version.split()[0]},
           "ks": ks_cases(rng), "psi": psi_cases(rng), "psi_categories": psi_cat,
           "chi2": chi2, "correction": correction_cases(), "check": check_fixture(rng)}
    with open(OUT, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    print(f"wrote {OUT} ({os.path.getsize(OUT)} bytes)")


if __name__ == "__main__":
    main()
