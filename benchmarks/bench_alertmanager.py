"""Ingestion latency with an ``alertmanager`` channel pointed at a dead port, against the same load with no channel.

Apps, each on its own SQLite file, take the same stream of POST
/api/transaction requests (one minute of all statuses per request, a burst of
failures every hour, so incidents open and resolve all the time):

- ``no channel``: the console channel only;
- ``am dead``: an ``alertmanager`` channel whose URL is a port nobody listens on (connection refused), the
  default retry policy and re-send interval;
- ``am dead fast``: the same, re-sent every second with retries every 10-50 ms (a stress on the delivery log);
- ``am live``: Debian's real Alertmanager on 127.0.0.1 (left out when ``prometheus-alertmanager`` is missing).

The scenarios take turns request by request, so disk and machine noise hits them alike. Prints median and
p99 per scenario and the ratio to ``no channel`` (the p99 ratio is taken in each of five consecutive blocks
of requests and given as the median with its spread), plus the channel's delivery outcomes per second of run,
which show the dead Alertmanager really was being tried.

    python benchmarks/bench_alertmanager.py [--requests 2000]
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import socket
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app import create_app  # noqa: E402
from benchmarks._stats import print_latency_table  # noqa: E402
from tests.alertmanager_support import ALERTMANAGER, Alertmanager  # noqa: E402

STATUSES = ("approved", "denied", "failed", "reversed", "backend_reversed", "refunded")


def dead_url() -> str:
    """A port that was free a moment ago: nothing listens there, so every connection is refused."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


def build(folder: Path, name: str, channels: list[dict], **timing) -> object:
    notify = folder / f"{name}.json"
    notify.write_text(json.dumps({"version": 1, "group_wait_seconds": 0.05, "reconcile_seconds": 1.0,
                                  **timing, "channels": channels}))
    app = create_app({"db": str(folder / f"{name}.db"), "notifications": str(notify)})
    app.server.extensions["delivery"].start()
    return app


def body(minute: int) -> list[dict]:
    stamp = time.strftime("%Y-%m-%d %H:%M:00", time.gmtime(1_752_000_000 + minute * 60))
    failing = minute % 60 < 3  # three bad minutes an hour: an incident opens, then resolves (quiet period passed)
    counts = {"approved": 115, "denied": 6, "failed": 4 if failing else 0, "reversed": 1,
              "backend_reversed": 2 if failing else 0, "refunded": 1}
    return [{"timestamp": stamp, "status": s, "count": counts[s]} for s in STATUSES]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="requests per scenario (default 2000)")
    args = parser.parse_args()
    logging.getLogger("monitor.alerts").setLevel(logging.ERROR)  # the console channel's lines would flood stderr
    logging.getLogger("monitor.delivery").setLevel(logging.CRITICAL)  # "failed after 5 attempts", many times

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        live = Alertmanager(folder / "alertmanager").start() if shutil.which(ALERTMANAGER) else None
        try:
            apps = {
                "no channel": build(folder, "none", []),
                "am dead": build(folder, "dead", [{"type": "alertmanager", "name": "am", "urls": [dead_url()]}]),
                "am dead fast": build(folder, "dead-fast", [{"type": "alertmanager", "name": "am",
                                                             "urls": [dead_url()], "resend_seconds": 1}],
                                      max_attempts=5, backoff_seconds=0.01, backoff_max_seconds=0.05),
            }
            if live is not None:
                apps["am live"] = build(folder, "live", [{"type": "alertmanager", "name": "am", "urls": [live.url]}])
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
            run_seconds = time.perf_counter() - run_started
            outcomes = {}
            for name, app in apps.items():
                stats = app.server.extensions["delivery"].stats()
                outcomes[name] = {f"{o}": f"{n / run_seconds:.1f}/s"
                                  for (c, o), n in sorted(stats["outcomes"].items()) if c == "am"}
                app.server.extensions["delivery"].stop(timeout=0.5)
        finally:
            if live is not None:
                live.stop()

    print_latency_table(samples, "no channel", outcomes, run_seconds, "channel outcomes per second")
    return 0


if __name__ == "__main__":
    sys.exit(main())
