"""HTTP ingest speed under waitress (the server `python app.py` uses), side by side with a bare Flask route.

The bare route only parses JSON and appends to a list, under the same server and
thread count; both run in their own process and are measured in alternating
rounds by the same client. On a machine with two or more cores the servers are
pinned to one core and the load generator to another: on a 2-core box a client
sharing cores with the server turns every thread hand-over inside the server
(a SQLite commit gives up the GIL) into an OS scheduling wait, which measures
the box, not the code. Targets: single-record POST /api/transaction at
least 0.8 of the bare route's throughput (p99 latency reported); batches of
1,000 records at least 100,000 records/s.

Each round posts the same payloads to both servers back to back (the order
alternates between rounds, so drift in the machine's load hits both alike) and
gives one ratio; the verdict is on the median of the per-round ratios, printed
with their spread. Rounds last several seconds: one-second rounds on a shared
machine gave ratios from 0.72 to 0.84 for the same code.

With ``--baseline CHECKOUT`` (e.g. ``git archive 62cddbb`` unpacked) that checkout's monitor is served
too and takes its turn in every round beside the other two, so two codes are compared under the same
load rather than in runs minutes apart (which on a shared machine differ by more than the codes do).
Run: python benchmarks/bench_http.py [--requests 8000] [--rounds 7] [--clients 4] [--baseline CHECKOUT]
"""

from __future__ import annotations

import argparse
import http.client
import json
import logging
import multiprocessing
import os
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._stats import spread, verdict  # noqa: E402


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


SERVER_CPU, CLIENT_CPU = 0, 1


def pin(cpu: int) -> None:
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {cpu})


def serve_bare(port: int, threads: int) -> None:
    pin(SERVER_CPU)
    from flask import Flask, jsonify, request
    from waitress import serve

    app = Flask("bare")
    received: list = []

    @app.post("/api/transaction")
    def ingest():
        payload = request.get_json()
        received.append(payload)
        return jsonify({"accepted": len(payload) if isinstance(payload, list) else 1}), 201

    serve(app, host="127.0.0.1", port=port, threads=threads, _quiet=True)


def serve_monitor(port: int, threads: int, db: str, code: str | None = None) -> None:
    """The monitor exactly as `python app.py` serves it (ticker, delivery worker, waitress), from this
    checkout or from ``code`` (another checkout: --baseline)."""
    pin(SERVER_CPU)
    if code is not None:
        sys.path.insert(0, code)  # nothing of the project is imported yet in this fresh (spawned) process
    logging.disable(logging.WARNING)
    from app import AppConfig, create_app, serve

    config = AppConfig(port=port, threads=threads, db=db)
    serve(create_app(config), config)


def wait_ready(port: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"server on port {port} did not start")


def bodies(count: int, batch: int, seed: int) -> list[bytes]:
    """Realistic records (DATA.md levels, a few incidents) for consecutive recent minutes, oldest first,
    as a live feed posts them: one record per status and minute, or batches of ``batch`` records."""
    from benchmarks._data import minute_records

    per_minute = 6
    minutes = count * batch // per_minute + 1
    start = int(time.time() // 60) - minutes - 10
    statuses, _auth = minute_records(start, minutes, seed=seed)
    records = [r for minute in statuses for r in minute][: count * batch]
    if batch == 1:
        return [json.dumps(r).encode() for r in records]
    return [json.dumps(records[i:i + batch]).encode() for i in range(0, len(records), batch)]


def load(port: int, payloads: list[bytes], clients: int) -> tuple[float, list[float]]:
    """Post every payload over ``clients`` keep-alive connections; return (seconds, latencies)."""
    latencies: list[float] = []
    lock = threading.Lock()
    chunks = [payloads[i::clients] for i in range(clients)]

    def worker(chunk: list[bytes]) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine = []
        headers = {"Content-Type": "application/json"}
        for body in chunk:
            started = time.perf_counter()
            conn.request("POST", "/api/transaction", body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            if response.status != 201:
                raise RuntimeError(f"HTTP {response.status}")
            mine.append(time.perf_counter() - started)
        conn.close()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker, args=(c,)) for c in chunks]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - started, latencies


def p(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[q - 1] if len(values) > 1 else values[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=8000, help="single-record requests per round and server")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--threads", type=int, default=8, help="waitress threads (as python app.py)")
    parser.add_argument("--batches", type=int, default=60, help="1,000-record batches per round")
    parser.add_argument("--baseline", help="another checkout whose monitor is measured in the same rounds")
    args = parser.parse_args()
    baseline = str(Path(args.baseline).resolve()) if args.baseline else None

    ctx = multiprocessing.get_context("spawn")
    pin(CLIENT_CPU)
    ports = {"bare": free_port(), "ours": free_port()}
    if baseline:
        ports["base"] = free_port()
    with tempfile.TemporaryDirectory() as directory:
        servers = [
            ctx.Process(target=serve_bare, args=(ports["bare"], args.threads), daemon=True),
            ctx.Process(target=serve_monitor, args=(ports["ours"], args.threads, str(Path(directory) / "bench.db")), daemon=True),
        ]
        if baseline:
            servers.append(ctx.Process(target=serve_monitor, daemon=True,
                                       args=(ports["base"], args.threads, str(Path(directory) / "base.db"), baseline)))
        for server in servers:
            server.start()
        for port in ports.values():
            wait_ready(port)
        for name, port in ports.items():  # warm up all
            if name != "bare":
                load(port, bodies(300, 1, 99), args.clients)
        load(ports["bare"], bodies(300, 1, 99), args.clients)

        results: dict[str, list[tuple[float, list[float]]]] = {name: [] for name in ports}
        for round_ in range(args.rounds):
            payloads = bodies(args.requests, 1, round_)
            # The order turns each round, so each server follows each other one as often.
            order = list(ports.items())
            turn = round_ % len(order)
            for name, port in order[turn:] + order[:turn]:
                results[name].append(load(port, payloads, args.clients))

        batch_rates = []
        for round_ in range(args.rounds):
            payloads = bodies(args.batches, 1000, 100 + round_)
            seconds, _ = load(ports["ours"], payloads, 2)
            batch_rates.append(args.batches * 1000 / seconds)

        for server in servers:
            server.terminate()

    print(f"single-record POST /api/transaction, {args.requests} requests x {args.rounds} rounds, {args.clients} keep-alive clients, waitress {args.threads} threads"
          f"{', servers pinned to one core and the client to another' if (os.cpu_count() or 1) > 1 else ''}")
    rates = {name: [args.requests / seconds for seconds, _ in runs] for name, runs in results.items()}
    for name, runs in results.items():
        latencies = [x for _, lat in runs for x in lat]
        print(f"  {name:>4}: {spread(rates[name])} req/s; "
              f"latency p50 {p(latencies, 50) * 1000:.2f} ms, p99 {p(latencies, 99) * 1000:.2f} ms")
    ratios = [ours / bare for ours, bare in zip(rates["ours"], rates["bare"], strict=True)]
    ratio = statistics.median(ratios)
    print(f"  ratio ours/bare per round: {spread(ratios, '.2f', 'rounds')} (target >= 0.80: {verdict(ratio, 0.8)})")
    if baseline:
        base_ratios = [base / bare for base, bare in zip(rates["base"], rates["bare"], strict=True)]
        print(f"  baseline {baseline}: ratio base/bare per round: {spread(base_ratios, '.2f', 'rounds')}; "
              f"ours/base per round: {spread([o / b for o, b in zip(rates['ours'], rates['base'], strict=True)], '.2f', 'rounds')}")
    print(f"batch POST of 1,000 records, 2 clients: {spread(batch_rates)} records/s "
          f"(target >= 100,000: {verdict(statistics.median(batch_rates), 100_000)})")

if __name__ == "__main__":
    main()
