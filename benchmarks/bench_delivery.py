"""Ingestion latency while notification receivers fail, against the same load with no receivers.

Three apps, each on its own SQLite file, take the same stream of POST
/api/transaction requests (one minute of all statuses per request, a burst of
failures every twenty minutes, so alerts fire and resolve all the time):

- ``no receivers``: the console channel only;
- ``hanging``: a webhook whose receiver accepts the connection and never answers;
- ``HTTP 500``: a webhook whose receiver answers 500 at once (fast retries).

The scenarios take turns request by request, so disk and machine noise hits them alike.
Prints median and p99 per scenario and the ratio to ``no receivers`` (the p99
ratio is taken in each of five consecutive blocks of requests and given as the
median with its spread), plus the delivery-log outcomes per second of run that
show the receivers really were failing (counts grow with the run's length; rates do not).

    python benchmarks/bench_delivery.py [--requests 3000]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

from pytest_httpserver import HTTPServer

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app import create_app  # noqa: E402
from benchmarks._stats import print_latency_table  # noqa: E402

STATUSES = ("approved", "denied", "failed", "reversed", "backend_reversed", "refunded")


class Hanging:
    """Accepts connections and never answers."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.sock.settimeout(0.2)
        self.held: list[socket.socket] = []
        self.stop = threading.Event()
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        while not self.stop.is_set():
            with contextlib.suppress(OSError):  # the accept timeout: look at ``stop`` again
                self.held.append(self.sock.accept()[0])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}/hook"

    def close(self) -> None:
        self.stop.set()
        for conn in self.held:
            conn.close()
        self.sock.close()


def build(folder: Path, name: str, channels: list[dict], **timing) -> object:
    notify = folder / f"{name}.json"
    notify.write_text(json.dumps({"version": 1, "group_wait_seconds": 0.05, "reconcile_seconds": 1.0,
                                  **timing, "channels": channels}))
    app = create_app({"db": str(folder / f"{name}.db"), "notifications": str(notify)})
    app.server.extensions["delivery"].start()
    return app


def body(minute: int) -> list[dict]:
    stamp = time.strftime("%Y-%m-%d %H:%M:00", time.gmtime(1_752_000_000 + minute * 60))
    failing = minute % 20 < 3  # three bad minutes in every twenty: rules fire, then resolve after ten clean ones
    counts = {"approved": 115, "denied": 6, "failed": 4 if failing else 0, "reversed": 1,
              "backend_reversed": 2 if failing else 0, "refunded": 1}
    return [{"timestamp": stamp, "status": s, "count": counts[s]} for s in STATUSES]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000, help="requests per scenario (default 3000)")
    args = parser.parse_args()
    logging.getLogger("monitor.alerts").setLevel(logging.ERROR)  # the console channel's lines would flood stderr

    failing_http = HTTPServer(host="127.0.0.1", port=0)
    failing_http.expect_request("/hook", method="POST").respond_with_data("down", status=500)
    failing_http.start()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    hanging = Hanging()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        apps = {
            "no receivers": build(folder, "none", []),
            "hanging": build(folder, "hanging", [{"type": "webhook", "name": "hook", "url": hanging.url}],
                             timeout_seconds=2.0, max_attempts=3, backoff_seconds=0.1),
            # the default retry policy (5 attempts, backoff from 2 s, doubling)
            "HTTP 500": build(folder, "failing", [{"type": "webhook", "name": "hook",
                                                    "url": failing_http.url_for("/hook")}]),
            # a stress: retries every 10-50 ms, about a thousand logged attempts a second
            "HTTP 500 fast": build(folder, "failing-fast", [{"type": "webhook", "name": "hook",
                                                             "url": failing_http.url_for("/hook")}],
                                   timeout_seconds=2.0, max_attempts=5, backoff_seconds=0.01, backoff_max_seconds=0.05),
        }
        clients = {name: app.server.test_client() for name, app in apps.items()}
        samples: dict[str, list[float]] = {name: [] for name in apps}
        for warm in range(50):  # imports, first connections, SQLite caches
            for client in clients.values():
                client.post("/api/transaction", json=body(-100 + warm))
        run_started = time.perf_counter()
        for minute in range(args.requests):
            payload = body(minute)
            for name, client in clients.items():
                started = time.perf_counter()
                response = client.post("/api/transaction", json=payload)
                samples[name].append(time.perf_counter() - started)
                assert response.status_code == 201, response.get_json()
        time.sleep(0.5)
        run_seconds = time.perf_counter() - run_started
        outcomes = {}
        for name, app in apps.items():
            stats = app.server.extensions["delivery"].stats()
            outcomes[name] = {f"{c}/{o}": f"{n / run_seconds:.1f}/s"
                              for (c, o), n in sorted(stats["outcomes"].items()) if c != "console"}
            app.server.extensions["delivery"].stop(timeout=0.5)
    hanging.close()
    failing_http.stop()

    print_latency_table(samples, "no receivers", outcomes, run_seconds, "webhook outcomes per second")
    return 0


if __name__ == "__main__":
    sys.exit(main())
