"""Helpers for tests: seeded per-minute records with known incidents, and a real server in a thread."""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass

import numpy as np

from detection.metrics import minute_to_datetime

STATUS_MEANS = {"approved": 117.0, "denied": 6.0, "failed": 0.02, "reversed": 1.0, "backend_reversed": 0.05, "refunded": 1.0}
START_MINUTE = 29_204_640  # 2025-07-12 00:00 UTC: a replayed export from last year


@dataclass
class Burst:
    status: str
    first: int  # minute offset from the start
    minutes: int
    extra: int  # added to the status' count each minute


DEFAULT_BURSTS = (
    Burst("denied", 300, 20, 35),
    Burst("failed", 900, 30, 5),
    Burst("backend_reversed", 905, 20, 4),
    Burst("denied", 1800, 25, 30),
    Burst("failed", 3000, 15, 6),
)


def timestamp(minute: int) -> str:
    return minute_to_datetime(minute).strftime("%Y-%m-%d %H:%M:%S")


def make_minutes(minutes: int, seed: int = 7, bursts=DEFAULT_BURSTS, start: int = START_MINUTE):
    """Per minute: (status records, auth-code records), with count(00) == approved and 51 + 59 == denied."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(minutes):
        counts = {s: int(rng.poisson(m)) for s, m in STATUS_MEANS.items()}
        for burst in bursts:
            if burst.first <= i < burst.first + burst.minutes:
                counts[burst.status] += burst.extra
        ts = timestamp(start + i)
        c51 = int(rng.binomial(counts["denied"], 0.4))
        out.append((
            [{"timestamp": ts, "status": s, "count": c} for s, c in counts.items()],
            [
                {"timestamp": ts, "auth_code": "00", "count": counts["approved"]},
                {"timestamp": ts, "auth_code": "51", "count": c51},
                {"timestamp": ts, "auth_code": "59", "count": counts["denied"] - c51},
            ],
        ))
    return out


def builtin_rule(rule_id: str) -> dict:
    """One rule of the built-in thresholds file (detection/default_thresholds.json), as written there."""
    from detection import load_thresholds

    return next(r for r in load_thresholds().to_config()["rules"] if r["id"] == rule_id)


def two_figures(value: float) -> str:
    """A figure as alert texts show it: two significant figures (0.00783 -> '0.0078')."""
    return f"{value:.2g}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServerThread:
    """The production server (waitress) serving a WSGI app on 127.0.0.1 in a thread."""

    def __init__(self, wsgi_app, threads: int = 8):
        from waitress.server import create_server

        self.port = free_port()
        self.server = create_server(wsgi_app, host="127.0.0.1", port=self.port, threads=threads)
        self.stopping = False
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            self.server.run()
        except (OSError, ValueError):
            if not self.stopping:  # closing sockets under a running loop makes it raise; only then is it expected
                raise

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> ServerThread:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        from waitress import wasyncore

        # Closing every channel (keep-alive ones too) empties the loop's map, so run() returns.
        self.stopping = True
        wasyncore.close_all(self.server._map)
        self.server.task_dispatcher.shutdown()
        self.thread.join(timeout=5)


# Steady minutes with nothing random in them, for tests that compute expected figures by hand:
# approvals at the built-in level (117/min), 6 denials split 2 (code 51) / 4 (code 59), one reversal,
# one refund, no failures. ``StatusFeed.post`` changes any of them for a number of minutes.
STEADY = {"approved": 117, "failed": 0, "reversed": 1, "backend_reversed": 0, "refunded": 1}
STEADY_CODES = {"51": 2, "59": 4}


class StatusFeed:
    """Posts minutes to a real Monitor as a payment system would: the status batch, then the auth-code batch."""

    def __init__(self, monitor, start: int = START_MINUTE, now: float = 1_790_000_000.0):
        from detection.metrics import DEFAULT_AUTH_CODES, DEFAULT_STATUSES

        self.monitor = monitor
        self.minute = start
        self.now = now
        self.statuses = DEFAULT_STATUSES
        self.codes = DEFAULT_AUTH_CODES
        self.posted: dict[int, dict[str, int]] = {}  # minute -> metric -> count, as posted
        self.incident_transitions: list = []
        monitor.add_incident_listener(self.incident_transitions.extend)

    def records(self, minute: int, **changes: int) -> tuple[list[dict], list[dict]]:
        counts = {**STEADY, **{k: v for k, v in changes.items() if k in STEADY}}
        codes = {**STEADY_CODES, **{k[1:]: v for k, v in changes.items() if k in ("c51", "c59")}}
        counts["denied"] = codes["51"] + codes["59"]
        codes["00"] = counts["approved"]
        ts = timestamp(minute)
        self.posted[minute] = {**{f"status:{s}": n for s, n in counts.items()},
                               **{f"auth_code:{c}": n for c, n in codes.items()}}
        return ([{"timestamp": ts, "status": s, "count": n} for s, n in counts.items()],
                [{"timestamp": ts, "auth_code": c, "count": n} for c, n in codes.items()])

    def post(self, minutes: int = 1, **changes: int) -> None:
        from detection import validate_records

        for _ in range(minutes):
            statuses, codes = self.records(self.minute, **changes)
            self.monitor.ingest(validate_records(statuses, "status", self.statuses, now=self.now))
            self.monitor.ingest(validate_records(codes, "auth_code", self.codes, now=self.now))
            self.minute += 1

    def skip(self, minutes: int) -> None:
        """Nothing is sent for these minutes: a feed gap once data arrives again."""
        self.minute += minutes
