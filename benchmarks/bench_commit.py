"""The group committer alone under contention: writes/s and wait latency at several thread counts, two checkouts
side by side.

bench_http.py measures the whole request, where the committer is one cost among many and the machine's
noise is larger than the difference between two committers. Here each of N threads does what a request
thread does around the commit and nothing else: a little CPU work holding the GIL (parse a record, as
validation does), stage a one-row write under a shared lock (the Monitor's), then wait for it to be
durable, on a real SQLite file (WAL, synchronous=NORMAL). Each (checkout, thread count, round) runs in a
fresh process pinned to one core (the server's situation in bench_http.py), so two checkouts' committers can be
compared in the same rounds (``--baseline CHECKOUT``, e.g. ``git archive 51b5fa5`` unpacked), the order
alternating between rounds.
Run: python benchmarks/bench_commit.py [--threads 4,16,64] [--seconds 3] [--rounds 5] [--baseline CHECKOUT]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._stats import spread  # noqa: E402


def run(code: str, threads: int, seconds: float, path: str, out: multiprocessing.Queue) -> None:
    """In a fresh process: ``threads`` threads stage and wait for one-row writes for ``seconds``."""
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {0})
    sys.path.insert(0, code)
    from detection.commit import GroupCommitter
    from detection.store import PendingWrite, Store

    store = Store(path)
    committer = GroupCommitter(store, on_failure=lambda error: None)
    engine_lock = threading.Lock()  # stands in for the Monitor's lock: staging order is engine order
    start_minute = 29_000_000
    body = json.dumps({"timestamp": "2025-02-20T12:00:00Z", "status": "approved", "count": 117}).encode()
    latencies: list[list[float]] = []
    stop = time.perf_counter() + seconds
    started = threading.Barrier(threads + 1)

    def request_thread(index: int) -> None:
        mine: list[float] = []
        n = 0
        started.wait()
        while time.perf_counter() < stop:
            began = time.perf_counter()
            record = json.loads(body)  # a request's own work, holding the GIL
            with engine_lock:
                minute = start_minute + (index * 1_000_000 + n) % 5000
                ticket = committer.stage(PendingWrite(
                    counts={("status", minute): {"status:approved": record["count"]}},
                    alerts=[], deleted_alerts=[], rule_states={}, meta={}))
            committer.wait(ticket)
            mine.append(time.perf_counter() - began)
            n += 1
        latencies.append(mine)

    workers = [threading.Thread(target=request_thread, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    started.wait()
    began = time.perf_counter()
    for w in workers:
        w.join()
    elapsed = time.perf_counter() - began
    store.close()
    flat = sorted(x for mine in latencies for x in mine)
    out.put((len(flat) / elapsed, flat[len(flat) // 2], flat[int(len(flat) * 0.99)]))


def thread_counts(text: str) -> list[int]:
    counts = [int(part) for part in text.split(",") if part.strip()]
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError("--threads: a comma-separated list of thread counts, each at least 1")
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=thread_counts, default=[4, 16, 64])
    parser.add_argument("--seconds", type=float, default=3)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--baseline", help="another checkout whose committer is measured in the same rounds")
    args = parser.parse_args()
    codes = {"ours": str(ROOT)}
    if args.baseline:
        codes["base"] = str(Path(args.baseline).resolve())
    ctx = multiprocessing.get_context("spawn")
    results: dict[int, dict[str, list[tuple[float, float, float]]]] = {
        n: {name: [] for name in codes} for n in args.threads}
    with tempfile.TemporaryDirectory() as directory:
        for round_ in range(args.rounds):
            for threads in args.threads:
                order = list(codes.items())
                turn = round_ % len(order)
                for name, code in order[turn:] + order[:turn]:
                    out = ctx.Queue()
                    path = str(Path(directory) / f"{name}-{threads}-{round_}.db")
                    process = ctx.Process(target=run, args=(code, threads, args.seconds, path, out))
                    process.start()
                    results[threads][name].append(out.get(timeout=args.seconds + 120))
                    process.join()
    print(f"group commit alone: one-row writes staged and waited for by N threads, {args.seconds:g} s per "
          f"checkout, count and round, {args.rounds} rounds, one core, SQLite file")
    for threads, per_code in results.items():
        print(f" {threads} threads:")
        for name, runs in per_code.items():
            print(f"  {name:>4}: {spread([r for r, _, _ in runs])} writes/s; wait p50 "
                  f"{statistics.median(p50 for _, p50, _ in runs) * 1000:.2f} ms, p99 "
                  f"{statistics.median(p99 for _, _, p99 in runs) * 1000:.2f} ms (medians over rounds)")
        if "base" in per_code:
            ratios = [o[0] / b[0] for o, b in zip(per_code["ours"], per_code["base"], strict=True)]
            print(f"  ours/base per round: {spread(ratios, '.2f', 'rounds')}")


if __name__ == "__main__":
    main()
