#!/usr/bin/python3
"""Writes ks_distribution.json: reference values for drift::ks (ks_distribution.h).

Run with Debian 12's python (scipy 1.10.1, numpy 1.24): /usr/bin/python3 make_ks_distribution.py
(the `python3` on PATH may be a pyenv without scipy). Takes a minute or two; most of it is
scipy.special.smirnov at n = 1e5..5e5, which sums every Birnbaum-Tingey term.

Contents (every float printed with repr, so it round-trips):
  kolmogorov: scipy.stats.kstwo.sf(d, n), with the region scipy's _kolmogn evaluates it in;
  smirnov:    scipy.special.smirnov(n, d);
  two_sample: scipy.stats._stats_py._attempt_exact_2kssamp (what ks_2samp(method='exact')
              runs): p, or null where scipy's exact computation fails (it then falls back to
              the asymptotic distribution);
  round_half_even: numpy.round(x).
"""

import json
import math
import os
import sys

import numpy as np
import scipy
from scipy.special import smirnov
from scipy.stats import kstwo
from scipy.stats._stats_py import _attempt_exact_2kssamp

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ks_distribution.json")

NS = [1, 2, 5, 10, 50, 100, 140, 141, 500, 1000, 10**4, 10**5, 10**5 + 1, 5 * 10**5,
      2 * 10**6]


def region(n, d):
    """The branch scipy.stats._ksstats._kolmogn (kstwo.sf) takes, named for reports."""
    if d >= 1.0:
        return "d>=1"
    if d <= 0.5 / n:
        return "below-support"
    t = n * d
    if t <= 1.0:
        return "t<=0.5" if t <= 0.5 else "ruben-gambino-low"
    if t >= n - 1:
        return "ruben-gambino-high"
    if d >= 0.5:
        return "2smirnov-d>=0.5"
    s = t * d
    if n <= 140:
        if s <= 0.754693:
            return "durbin-small-n"
        if s <= 4:
            return "pomeranz"
        return "2smirnov-small-n"
    if s >= 370.0:
        return "s>=370"
    if s >= 2.2:
        return "2smirnov-large-n"
    if n <= 100000 and n * d**1.5 <= 1.4:
        return "durbin-large-n"
    return "pelz-good"


def nudge(x, ulps):
    for _ in range(abs(ulps)):
        x = np.nextafter(x, np.inf if ulps > 0 else -np.inf)
    return float(x)


def d_values(n):
    """d spanning every region boundary of kstwo.sf for this n, plus a geometric grid."""
    ds = set()

    def add(d):
        if 0.0 < d < 1.0:
            ds.add(float(d))

    def around(d, rel=(1e-9, 1e-3)):
        add(d)
        for r in rel:
            add(d * (1 - r))
            add(d * (1 + r))

    nf = float(n)
    around(0.5 / nf)
    for t in (0.5000001, 0.75, 0.99, 1.0):
        add(t / nf)
    add(nudge(1.0 / nf, 1))
    if n > 1:
        around((nf - 1.0) / nf)
    around(0.5)
    for s in (0.754693, 4.0, 2.2, 18.0, 370.0):
        around(math.sqrt(s / nf))
    around((1.4 / nf) ** (2.0 / 3.0))
    # Tails: p from 1e-3 down to ~1e-300 (s = n d^2 from ~4 to ~345).
    for s in (3.0, 6.0, 12.0, 25.0, 50.0, 100.0, 200.0, 300.0, 345.0, 360.0):
        add(math.sqrt(s / nf))
    for d in np.geomspace(0.5 / nf, 0.999, 24):
        add(d)
    for d in (0.51, 0.6, 0.75, 0.9):
        add(d)
    return sorted(ds)


def kolmogorov_cases():
    cases = []
    for n in NS:
        for d in d_values(n):
            cases.append({"n": n, "d": d, "sf": float(kstwo.sf(d, n)), "region": region(n, d)})
    # Outside the open support.
    for n in (1, 10, 1000):
        for d in (0.0, 1.0, 0.5 / n):
            cases.append({"n": n, "d": d, "sf": float(kstwo.sf(d, n)), "region": region(n, d)})
    return cases


def smirnov_cases():
    cases = []
    for n in NS:
        nf = float(n)
        ds = set(d_values(n))
        for t in (1.0, 1.5, 2.0, 3.0, 10.0):
            if t < nf:
                ds.add(t / nf)
        ds.add(nudge(1.0 / nf, -1))
        ds.add(nudge(1.0 / nf, 1))
        for L in (700.0, 720.0, 740.0, 745.0, 745.2):  # cephes' MINLOG cut at -2 n d^2
            d = math.sqrt(L / (2 * nf))
            if d < 1:
                ds.add(d)
        ds = sorted(d for d in ds if 0.0 <= d <= 1.0)
        if 10**5 < n <= 10**6:
            # scipy sums every term here (about 1 s per value at n = 5e5): keep all of the
            # range the KS path uses (s = n d^2 from 2.2 to 370) and every third value besides.
            ds = [d for i, d in enumerate(ds) if 2.0 <= nf * d * d <= 373.0 or i % 3 == 0]
        for d in ds:
            cases.append({"n": n, "d": d, "sf": float(smirnov(n, d))})
    return cases


def exact(n1, n2, h):
    g = math.gcd(n1, n2)
    lcm = (n1 // g) * n2
    ok, d, p = _attempt_exact_2kssamp(n1, n2, g, h / lcm, "two-sided")
    assert d == h / lcm, (n1, n2, h, d)
    return float(p) if ok else None


def h_values(n1, n2):
    g = math.gcd(n1, n2)
    lcm = (n1 // g) * n2
    en = n1 * n2 / (n1 + n2)
    hs = set(range(1, min(lcm, 40) + 1))
    hs.update((lcm, lcm - 1, lcm // 2, lcm // 3, (2 * lcm) // 3))
    for frac in np.linspace(0.0, 1.0, 13):
        hs.add(int(round(frac * lcm)))
    # p near target values, from the asymptotic estimate p ~ 2 exp(-2 en D^2).
    for target in (0.5, 0.1, 1e-2, 1e-4, 1e-6, 1e-8, 3e-9, 1e-9, 3e-10, 1e-10, 1e-11, 1e-12,
                   1e-14, 1e-20, 1e-50, 1e-100, 1e-200, 1e-300):
        dd = math.sqrt(math.log(2.0 / target) / (2.0 * en))
        h = int(round(dd * lcm))
        for k in (-1, 0, 1):
            hs.add(h + k)
    return sorted(h for h in hs if 1 <= h <= lcm)


def two_sample_cases():
    pairs = [(5, 5), (10, 7), (7, 10), (1, 1), (2, 1), (3, 2), (60, 41), (100, 100), (100, 99),
             (1000, 999), (1000, 1000), (3000, 2000), (400, 600), (10000, 10000),
             (10000, 9999), (10000, 1), (1, 10000), (10000, 5000), (6000, 4000)]
    cases = []
    for n1, n2 in pairs:
        hs = h_values(n1, n2)
        if max(n1, n2) >= 3000 and min(n1, n2) > 1:
            # Keep the slowest ones (wide bands, ~1e8 lattice steps in scipy) few.
            g = math.gcd(n1, n2)
            lcm = (n1 // g) * n2
            hs = [h for h in hs if h < lcm // 3 or h in (lcm // 2, lcm)]
        for h in hs:
            cases.append({"n": n1, "m": n2, "h": h, "p": exact(n1, n2, h)})
    return cases


def round_cases():
    xs = [k + 0.5 for k in range(-6, 6)] + [0.0, 0.49999999999999994, 1.4999999999999998, 2.4,
                                             2.6, -2.4, -2.6, 10000.5, 10001.5, 4503599627370495.5,
                                             4503599627370497.0, 1e300, -1e300]
    # ks_2samp's effective N: round(m n / (m + n)) for sizes where it lands on a half.
    for n in (1, 3, 20001, 39999):
        xs.append(n * n / (n + n))
    return [{"x": x, "r": float(np.round(x))} for x in xs]


def main():
    data = {
        "scipy": scipy.__version__,
        "numpy": np.__version__,
        "kolmogorov": kolmogorov_cases(),
        "smirnov": smirnov_cases(),
        "two_sample": two_sample_cases(),
        "round_half_even": round_cases(),
    }
    # One case per line: small diffs when the script changes.
    with open(OUT, "w") as f:
        f.write("{\n")
        items = list(data.items())
        for i, (key, value) in enumerate(items):
            f.write(json.dumps(key) + ":")
            if isinstance(value, list):
                f.write("[\n")
                f.write(",\n".join(json.dumps(c, separators=(",", ":"), allow_nan=False)
                                   for c in value))
                f.write("\n]")
            else:
                f.write(json.dumps(value))
            f.write(",\n" if i + 1 < len(items) else "\n")
        f.write("}\n")
    print(f"wrote {OUT}: {sum(len(v) for v in data.values() if isinstance(v, list))} cases, "
          f"{os.path.getsize(OUT)} bytes", file=sys.stderr)


if __name__ == "__main__":
    main()
