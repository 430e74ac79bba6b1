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
Several connection counts are measured in one run (``--clients 4,16,64``): in every round each count
gets its turn, with the servers back to back, so each count has its own per-round ratios, median, spread
and verdict. The single-record load comes from ``wrk`` (``apt-get install wrk``; ``--load wrk``, the
default when it is installed), not from Python: a Python client is one process under one GIL, and at 64
connections it measured its own limit rather than the servers' (the bare route: 1,423 req/s from it, 2,093 to
4,102 from wrk in the same hour; its 64 threads take turns on the GIL). wrk runs ``--seconds``
per server, count and round, with two threads, posting realistic records in time order (one body per
request, from a Lua script it is handed); any non-2xx answer or socket error fails the run.
``--load python`` keeps the http.client generator (``--requests`` per round) for a box without wrk.

``--unpinned`` leaves every process free to run on any core, as issue 11 measured (``wrk -t2 -c16``
unpinned); the figures are then the box's as much as the code's (see above), but the comparison in the
same rounds still holds.

Run: python benchmarks/bench_http.py [--clients 4,16,64] [--seconds 5] [--rounds 7] [--load wrk|python]
     [--requests 8000] [--baseline CHECKOUT] [--unpinned]
"""

from __future__ import annotations

import argparse
import http.client
import json
import logging
import multiprocessing
import os
import re
import shutil
import socket
import statistics
import subprocess
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


def serve_bare(port: int, threads: int, pinned: bool = True) -> None:
    if pinned:
        pin(SERVER_CPU)
    logging.disable(logging.WARNING)  # as the monitor's server: waitress's "Task queue depth" lines are noise here
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


def serve_monitor(port: int, threads: int, db: str, code: str | None = None, pinned: bool = True) -> None:
    """The monitor exactly as `python app.py` serves it (ticker, delivery worker, waitress), from this
    checkout or from ``code`` (another checkout: --baseline)."""
    if pinned:
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


def wrk_script(payloads: list[bytes], directory: str) -> str:
    """A Lua script for wrk that posts ``payloads`` in order, thread i taking payloads i, i+T, i+2T, ...
    (together the threads move forward in time as a live feed does); a thread wraps around at the end."""
    lines = ["local bodies = {"]
    for body in payloads:
        text = body.decode()
        if "]==]" in text:
            raise ValueError("a payload cannot be quoted for Lua")
        lines.append(f"[==[{text}]==],")
    lines.append("}")
    lines.append("""
local threads_started = 0
function setup(thread)
  thread:set("first", threads_started)
  threads_started = threads_started + 1
end
function init(args)
  step = tonumber(args[1])
  i = first
  headers = {["Content-Type"] = "application/json"}
end
function request()
  local body = bodies[i % #bodies + 1]
  i = i + step
  return wrk.format("POST", "/api/transaction", headers, body)
end
""")
    path = str(Path(directory) / "post.lua")
    Path(path).write_text("\n".join(lines))
    return path


WRK_THREADS = 2


def wrk_load(port: int, script: str, clients: int, seconds: int) -> tuple[float, dict[int, float]]:
    """Run wrk against ``port`` for ``seconds``; return (requests/s, {50: p50 s, 99: p99 s})."""
    threads = min(WRK_THREADS, clients)
    command = ["wrk", f"-t{threads}", f"-c{clients}", f"-d{seconds}s", "--latency", "--timeout", "30s",
               "-s", script, f"http://127.0.0.1:{port}/api/transaction", "--", str(threads)]
    done = subprocess.run(command, check=False, capture_output=True, text=True, timeout=seconds + 60)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
    out = done.stdout
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sockets = re.search(r"Socket errors: (.*)", out)
    if errors or sockets:
        raise RuntimeError(f"wrk saw failed requests on port {port}:\n{out}")
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    latencies = {}
    for q in (50, 99):
        value, unit = re.search(rf"^\s+{q}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M).groups()  # type: ignore[union-attr]
        latencies[q] = float(value) * {"us": 1e-6, "ms": 1e-3, "s": 1.0}[unit]
    return rate, latencies


def python_load(port: int, payloads: list[bytes], clients: int) -> tuple[float, dict[int, float]]:
    """As ``wrk_load``, from the http.client generator: (requests/s, {50: p50 s, 99: p99 s})."""
    seconds, latencies = load(port, payloads, clients)
    return len(payloads) / seconds, {q: p(latencies, q) for q in (50, 99)}


def p(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1] if len(values) > 1 else values[0]


def client_counts(text: str) -> list[int]:
    counts = [int(part) for part in text.split(",") if part.strip()]
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError("--clients: a comma-separated list of connection counts, each at least 1")
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=client_counts, default=[4, 16, 64],
                        help="keep-alive connection counts, comma-separated, each measured in every round")
    parser.add_argument("--load", choices=("wrk", "python"), default="wrk" if shutil.which("wrk") else "python",
                        help="single-record load generator (default wrk when installed)")
    parser.add_argument("--seconds", type=int, default=5, help="wrk: seconds per server, count and round")
    parser.add_argument("--requests", type=int, default=8000, help="python: single-record requests per round and server")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--threads", type=int, default=8, help="waitress threads (as python app.py)")
    parser.add_argument("--batches", type=int, default=60, help="1,000-record batches per round")
    parser.add_argument("--baseline", help="another checkout whose monitor is measured in the same rounds")
    parser.add_argument("--unpinned", action="store_true",
                        help="let servers and client share every core (as issue 11 measured), instead of pinning them")
    args = parser.parse_args()
    pinned = not args.unpinned
    baseline = str(Path(args.baseline).resolve()) if args.baseline else None
    if args.load == "wrk" and not shutil.which("wrk"):
        parser.error("--load wrk: wrk is not installed (apt-get install wrk), or use --load python")

    ctx = multiprocessing.get_context("spawn")
    if pinned:
        pin(CLIENT_CPU)  # wrk, started from here, inherits the client's core
    ports = {"bare": free_port(), "ours": free_port()}
    if baseline:
        ports["base"] = free_port()
    with tempfile.TemporaryDirectory() as directory:
        servers = [
            ctx.Process(target=serve_bare, args=(ports["bare"], args.threads, pinned), daemon=True),
            ctx.Process(target=serve_monitor, daemon=True,
                        args=(ports["ours"], args.threads, str(Path(directory) / "bench.db"), None, pinned)),
        ]
        if baseline:
            servers.append(ctx.Process(target=serve_monitor, daemon=True,
                                       args=(ports["base"], args.threads, str(Path(directory) / "base.db"), baseline, pinned)))
        for server in servers:
            server.start()
        for port in ports.values():
            wait_ready(port)

        if args.load == "wrk":
            # Enough records that wrk seldom wraps around in a round (a wrap posts minutes again, as late records).
            script = wrk_script(bodies(30_000, 1, 0), directory)

            def one_run(port: int, clients: int, round_: int) -> tuple[float, dict[int, float]]:
                return wrk_load(port, script, clients, args.seconds)
        else:
            def one_run(port: int, clients: int, round_: int) -> tuple[float, dict[int, float]]:
                return python_load(port, bodies(args.requests, 1, round_), clients)

        for port in ports.values():  # warm up all
            python_load(port, bodies(300, 1, 99), 4)

        # results[clients][server]: per round (requests/s, latencies)
        results: dict[int, dict[str, list[tuple[float, dict[int, float]]]]] = {
            clients: {name: [] for name in ports} for clients in args.clients}
        for round_ in range(args.rounds):
            for clients in args.clients:
                # The order turns each round, so each server follows each other one as often.
                order = list(ports.items())
                turn = round_ % len(order)
                for name, port in order[turn:] + order[:turn]:
                    results[clients][name].append(one_run(port, clients, round_))

        batch_rates = []
        for round_ in range(args.rounds):
            payloads = bodies(args.batches, 1000, 100 + round_)
            seconds, _ = load(ports["ours"], payloads, 2)
            batch_rates.append(args.batches * 1000 / seconds)

        for server in servers:
            server.terminate()

    size = f"{args.seconds} s of wrk ({WRK_THREADS} threads)" if args.load == "wrk" else f"{args.requests} requests (http.client)"
    print(f"single-record POST /api/transaction, {size} per server, count and round, {args.rounds} rounds, "
          f"waitress {args.threads} threads"
          f"{', servers pinned to one core and the client to another' if pinned and (os.cpu_count() or 1) > 1 else ', unpinned'}")
    for clients, per_server in results.items():
        print(f" {clients} keep-alive connections:")
        rates = {name: [rate for rate, _ in runs] for name, runs in per_server.items()}
        for name, runs in per_server.items():
            p50 = statistics.median(lat[50] for _, lat in runs)
            p99 = statistics.median(lat[99] for _, lat in runs)
            print(f"  {name:>4}: {spread(rates[name])} req/s; "
                  f"latency (median over rounds) p50 {p50 * 1000:.2f} ms, p99 {p99 * 1000:.2f} ms")
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
