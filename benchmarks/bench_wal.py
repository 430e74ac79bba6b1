"""WAL soak: the real server under sustained single-record POSTs; the write-ahead log must stay bounded.

Starts `python app.py` (waitress, ticker and all) on a temporary database, posts single
records from N keep-alive client threads at a total target rate for --seconds (default 600:
the 10-minute soak), samples the size of the -wal file every second, and prints the largest
and final WAL size, the database size, the request rate and latency percentiles.
Bound (docs/notes/store.md): WAL under 64 MB at all times, typically a few MB.
Run: python benchmarks/bench_wal.py [--seconds 600] [--clients 4] [--rate 200] [--app-dir DIR]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WAL_LIMIT_MB = 64
START_MINUTE = 29_204_640  # 2025-07-12 00:00 UTC
STATUSES = ("approved", "approved", "approved", "denied", "reversed", "refunded", "failed")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(app_dir: Path, db: str, port: int, log_path: str) -> subprocess.Popen:
    with open(log_path, "w") as log:  # a file, not a pipe: a full pipe would stall the server
        process = subprocess.Popen(
            [sys.executable, "app.py", "--db", db, "--port", str(port), "--host", "127.0.0.1"],
            cwd=app_dir, stdout=subprocess.DEVNULL, stderr=log,
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited: {Path(log_path).read_text()[-2000:]}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/api/health")
            if conn.getresponse().status == 200:
                conn.close()
                return process
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("the server did not start within 60 s")


def size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


def timestamp(minute: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(minute * 60))


class Load:
    """N client threads sharing one request counter and a total rate (0 = as fast as they can)."""

    def __init__(self, port: int, clients: int, rate: float, seconds: float, max_requests: int):
        self.port, self.clients, self.rate = port, clients, rate
        self.deadline = time.monotonic() + seconds
        self.max_requests = max_requests
        self.lock = threading.Lock()
        self.sent = 0
        self.errors: dict[int, int] = {}
        self.latencies: list[list[float]] = [[] for _ in range(clients)]
        self.started = time.monotonic()

    def next_index(self) -> int | None:
        with self.lock:
            if self.sent >= self.max_requests or time.monotonic() >= self.deadline:
                return None
            self.sent += 1
            return self.sent - 1

    def run(self, client: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        headers = {"Content-Type": "application/json"}
        while (index := self.next_index()) is not None:
            if self.rate:
                wait = self.started + index / self.rate - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
            body = json.dumps({"timestamp": timestamp(START_MINUTE + index // 200),
                               "status": STATUSES[index % len(STATUSES)], "count": 1})
            began = time.perf_counter()
            conn.request("POST", "/api/transaction", body, headers)
            response = conn.getresponse()
            response.read()
            self.latencies[client].append(time.perf_counter() - began)
            if response.status != 201:
                with self.lock:
                    self.errors[response.status] = self.errors.get(response.status, 0) + 1
        conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=600)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--rate", type=float, default=200, help="total requests per second; 0 = as fast as possible")
    parser.add_argument("--max-requests", type=int, default=2_000_000)
    parser.add_argument("--app-dir", default=str(ROOT), help="checkout whose app.py is served (for before/after runs)")
    args = parser.parse_args()
    if not 0 < args.seconds <= 7200 or not 1 <= args.clients <= 64:
        raise SystemExit("--seconds: 0 to 7200; --clients: 1 to 64")

    with tempfile.TemporaryDirectory() as directory:
        db = str(Path(directory) / "soak.db")
        port = free_port()
        log_path = str(Path(directory) / "server.log")
        server = start_server(Path(args.app_dir), db, port, log_path)
        try:
            load = Load(port, args.clients, args.rate, args.seconds, args.max_requests)
            threads = [threading.Thread(target=load.run, args=(i,), daemon=True) for i in range(args.clients)]
            for thread in threads:
                thread.start()
            samples: list[int] = []
            while any(t.is_alive() for t in threads):
                samples.append(size(db + "-wal"))
                for thread in threads:
                    thread.join(timeout=1.0 / len(threads))
            elapsed = time.monotonic() - load.started
            final_wal, db_bytes = size(db + "-wal"), size(db)
        finally:
            server.terminate()
            server.wait(timeout=30)
        log_lines = Path(log_path).read_text().splitlines()
        slow_checkpoints = [line for line in log_lines if "WAL checkpoint" in line or "checkpoint failed" in line]

    latencies = sorted(x for per_client in load.latencies for x in per_client)
    done = len(latencies)
    mb = 1024 * 1024
    worst = max(samples, default=0)
    print(f"{done:,} requests in {elapsed:.0f} s from {args.clients} clients: {done / elapsed:,.0f} req/s "
          f"(target rate {args.rate:g}/s), non-201 answers: {sum(load.errors.values())} {load.errors or ''}")
    if latencies:
        p50 = statistics.median(latencies)
        p99 = latencies[min(done - 1, int(done * 0.99))]
        print(f"latency ms: p50 {p50 * 1000:.1f}, p99 {p99 * 1000:.1f}, max {latencies[-1] * 1000:.1f}")
    print(f"WAL MB: max {worst / mb:.1f} (of {len(samples)} samples, one a second), median "
          f"{statistics.median(samples) / mb if samples else 0:.1f}, final {final_wal / mb:.1f}; database {db_bytes / mb:.2f} MB")
    print(f"checkpoints slower than 0.5 s, held back by readers or failed (server log): {len(slow_checkpoints)}")
    for line in slow_checkpoints[:5]:
        print(f"  {line}")
    print(f"bound {WAL_LIMIT_MB} MB: {'met' if worst < WAL_LIMIT_MB * mb else 'NOT met'}")


if __name__ == "__main__":
    main()
