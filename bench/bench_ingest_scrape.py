#!/usr/bin/python3
"""Ingest rate of the real `driftd run` with and without continuous scraping of /metrics.

driftd tails a prewritten JSON-lines file (the file source reads as fast as decode allows, so
the rate is CPU-bound like Kafka, not fsync-bound like HTTP ingest) for one model with many
features, so /metrics is large (--features × (tests + PSI bins) series). Rounds alternate
without and with scrapers (--scrapers threads, each GETting /metrics with gzip back to back);
each round starts a fresh daemon and times from its start until /v1/models shows every row
accepted. Prints medians and their ratio.

usage: bench_ingest_scrape.py DRIFTD [--records N] [--features F] [--rounds R] [--scrapers S]
"""
import argparse
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
import urllib.request


def write_records(path, records, features, seed=1):
    rng = random.Random(seed)
    names = [f"f{k}" for k in range(features)]
    with open(path, "w") as out:
        for k in range(records):
            shift = 0.5 if k >= records // 2 else 0.0
            fields = ",".join(f'"{n}":{rng.gauss(shift, 1.0):.6f}' for n in names)
            out.write(f'{{"model":"m","ts":{1764230000000 + k},{fields}}}\n')


def config(state, path, features, window):
    lines = [
        'server: {listen: "127.0.0.1:0"}',
        f'state: {{dir: "{state}", checkpoint_interval: 5s}}',
        "sources:",
        f'  - {{name: log, type: file, path: "{path}"}}',
        "models:",
        "  - name: m",
        "    match: {pointer: /model, equals: m}",
        "    features:",
    ]
    lines += [f"      - {{name: f{k}, pointer: /f{k}, type: numeric}}" for k in range(features)]
    lines += [
        "    reference: {bootstrap: 20000}",
        f"    window: {{size: {window}, slide: {window}}}",
        "    tests: {ks: {}, psi: {bins: 20}}",
    ]
    return "\n".join(lines) + "\n"


def get(url, gzip=False):
    request = urllib.request.Request(url, headers={"Accept-Encoding": "gzip"} if gzip else {})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.read()


def run_round(driftd, data, records, features, window, scrapers, interval=0.0):
    state = tempfile.mkdtemp(prefix="driftd-bench-state-")
    cfg = os.path.join(state, "driftd.yaml")
    with open(cfg, "w") as f:
        f.write(config(state + "/state", data, features, window))
    start = time.monotonic()
    proc = subprocess.Popen([driftd, "run", "--config", cfg], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    try:
        line = proc.stdout.readline()
        port = re.search(r"127\.0\.0\.1:(\d+)", line).group(1)
        base = f"http://127.0.0.1:{port}"
        stop = threading.Event()
        scraped = [0, 0]  # scrapes, bytes

        def scrape():
            while not stop.is_set():
                body = get(base + "/metrics", gzip=True)
                scraped[0] += 1
                scraped[1] += len(body)
                if interval > 0:
                    stop.wait(interval)

        threads = [threading.Thread(target=scrape) for _ in range(scrapers)]
        for t in threads:
            t.start()
        while True:
            model = json.loads(get(base + "/v1/models"))["models"][0]
            if model["records_accepted"] >= records:
                break
            time.sleep(0.02)
        elapsed = time.monotonic() - start
        stop.set()
        for t in threads:
            t.join()
        series = get(base + "/metrics").count(b"\n")
        return records / elapsed, scraped[0], scraped[1], series, model["evaluations"]
    finally:
        proc.terminate()
        proc.wait(timeout=60)
        shutil.rmtree(state, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("driftd")
    parser.add_argument("--records", type=int, default=400000)
    parser.add_argument("--features", type=int, default=100)
    parser.add_argument("--window", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--scrapers", type=int, default=2)
    parser.add_argument("--interval", type=float, default=0.0,
                        help="seconds between one scraper's requests (0: back to back)")
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="driftd-bench-")
    try:
        data = os.path.join(work, "records.jsonl")
        write_records(data, args.records, args.features)
        size_mb = os.path.getsize(data) / 1e6
        print(f"  {args.records} records of {args.features} features ({size_mb:.0f} MB), "
              f"window {args.window} rows, {args.scrapers} scraper threads (gzip, "
              f"{'back to back' if args.interval == 0 else f'every {args.interval} s'})")
        plain, scraping = [], []
        for r in range(args.rounds):
            rate, _, _, series, evals = run_round(args.driftd, data, args.records, args.features,
                                                  args.window, 0)
            plain.append(rate)
            rate2, scrapes, nbytes, _, evals2 = run_round(args.driftd, data, args.records,
                                                          args.features, args.window,
                                                          args.scrapers, args.interval)
            scraping.append(rate2)
            print(f"  round {r + 1}: without scraping {rate / 1e3:.0f} k records/s "
                  f"({evals} evaluations); with {rate2 / 1e3:.0f} k records/s "
                  f"({evals2} evaluations, {scrapes} scrapes, {nbytes / max(scrapes, 1) / 1e3:.0f} kB "
                  f"gzip each, {series} exposition lines)")
        a, b = statistics.median(plain), statistics.median(scraping)
        print(f"  median: without {a / 1e3:.0f} k records/s, with continuous scraping "
              f"{b / 1e3:.0f} k records/s: ratio {b / a:.2f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
