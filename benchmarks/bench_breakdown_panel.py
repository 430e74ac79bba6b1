"""The breakdown panel's cost on the page (issue 12): its callback per dimension, and a refresh filtered to one slice.

Run: python benchmarks/bench_breakdown_panel.py [--repeat 30]

The demo's 24 h of labelled synthetic history (200 merchants over 8 acquirers, 4 brands, 5 regions) in a
real Monitor; every request goes through the real Dash endpoint (Flask's test client), so the figures are
server-side time: the engine's read, the figures, the digests and the JSON. Printed side by side: the
panel's answer by acquirer, merchant and acquirer x brand (the last hour, nothing cached: each request
is a page's first), and a full 6 h refresh unfiltered against filtered to one acquirer.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app import create_app  # noqa: E402
from benchmarks._stats import spread  # noqa: E402
from components import ids  # noqa: E402
from tests.slice_support import callback_request  # noqa: E402


def timed(client, body: dict, repeat: int) -> tuple[list[float], int]:
    times, size = [], 0
    for _ in range(repeat):
        start = time.perf_counter()
        answer = client.post("/_dash-update-component", json=body)
        times.append((time.perf_counter() - start) * 1000)
        assert answer.status_code == 200, answer.data[:300]
        size = len(answer.data)
    return times, size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    app = create_app({"db": ":memory:", "demo": True})
    app.server.extensions["feed_writer"].backfill()
    client = app.server.test_client()
    monitor = app.server.extensions["monitor"]
    print(f"load average {os.getloadavg()[0]:.1f}; dimensions: "
          + ", ".join(f"{k} {len(v)} values" for k, v in monitor.dimensions().items()))
    print(f"{'what':<44} {'server time (ms)':<36} bytes")
    for by in ("acquirer", "merchant", "acquirer,brand"):
        values = {f"{ids.BREAKDOWN_BY}.value": by, f"{ids.BREAKDOWN_METRIC}.value": "status:denied",
                  f"{ids.BREAKDOWN_SHOWN}.data": True, f"{ids.REFRESH}.n_intervals": 1}
        times, size = timed(client, callback_request(app, f"{ids.BREAKDOWN_BARS}.figure", values,
                                                f"{ids.BREAKDOWN_BY}.value"), args.repeat)
        print(f"{'breakdown panel, denials by ' + by:<44} {spread(times, ',.1f'):<36} {size:,}")
    for label, key in (("refresh 6 h, all traffic", None), ("refresh 6 h, filtered to acquirer=acq-01", "acquirer=acq-01")):
        values = {f"{ids.REFRESH}.n_intervals": 1, f"{ids.RANGE}.value": "6h", f"{ids.SIMULATED}.data": 0,
                  f"{ids.SLICE_FILTER}.data": key}
        times, size = timed(client, callback_request(app, f"{ids.STATUS_CHART}.figure", values, f"{ids.REFRESH}.n_intervals"),
                            args.repeat)
        print(f"{label:<44} {spread(times, ',.1f'):<36} {size:,}")


if __name__ == "__main__":
    main()
