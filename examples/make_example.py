#!/usr/bin/python3
"""Writes the bundled example: a credit model's inputs at training time (reference.csv) and a
later week of traffic (current.csv) in which income and the country mix have drifted.

    /usr/bin/python3 examples/make_example.py
"""
import os

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def sample(rng, rows, drift):
    age = np.clip(rng.normal(41, 12, rows), 18, 90).round()
    income = rng.lognormal(10.6 + (0.15 if drift else 0.0), 0.45, rows).round(2)
    credit_score = np.clip(rng.normal(680, 60, rows), 300, 850).round()
    loan_amount = (rng.gamma(2.0, 7500, rows)).round(2)
    countries = ["US", "GB", "DE", "FR", "ES", "IT"]
    mix = [0.40, 0.20, 0.15, 0.12, 0.08, 0.05]
    if drift:
        mix = [0.30, 0.18, 0.22, 0.12, 0.10, 0.08]
    country = rng.choice(countries, rows, p=mix)
    channel = rng.choice(["web", "mobile", "branch"], rows, p=[0.5, 0.35, 0.15])
    score = 1 / (1 + np.exp(-(credit_score - 650) / 40 + loan_amount / 60000))
    rows_out = []
    for k in range(rows):
        inc = "" if rng.random() < 0.01 else f"{income[k]:.2f}"  # ~1% missing incomes
        rows_out.append(f"{int(age[k])},{inc},{int(credit_score[k])},{loan_amount[k]:.2f},"
                        f"{country[k]},{channel[k]},{score[k]:.5f}")
    return rows_out


def write(name, rows):
    with open(os.path.join(HERE, name), "w") as f:
        f.write("age,income,credit_score,loan_amount,country,channel,prediction\n")
        f.write("\n".join(rows) + "\n")


def main():
    rng = np.random.default_rng(7)
    write("reference.csv", sample(rng, 5000, drift=False))
    write("current.csv", sample(rng, 4000, drift=True))


if __name__ == "__main__":
    main()
