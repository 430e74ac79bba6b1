"""Seeded per-minute records for benchmarks: DATA.md-like levels, with a few incidents so rules fire."""

from __future__ import annotations

import numpy as np

from detection.metrics import minute_to_datetime

STATUS_MEANS = {"approved": 117.0, "denied": 6.9, "failed": 0.03, "reversed": 1.0, "backend_reversed": 0.1, "refunded": 1.0}


def minute_records(start_minute: int, minutes: int, seed: int = 0) -> tuple[list[list[dict]], list[list[dict]]]:
    """Per minute: the six status records and the three auth-code records (count(00) == approved)."""
    rng = np.random.default_rng(seed)
    statuses, auth = [], []
    for i in range(minutes):
        minute = start_minute + i
        ts = minute_to_datetime(minute).strftime("%Y-%m-%d %H:%M:%S")
        counts = {s: int(rng.poisson(m)) for s, m in STATUS_MEANS.items()}
        if i % 720 in range(300, 320):  # a denial spike twice a day
            counts["denied"] += int(rng.poisson(30))
        if i % 1440 in range(900, 930):  # a processing failure once a day
            counts["failed"] += int(rng.poisson(4))
            counts["backend_reversed"] += int(rng.poisson(3))
        statuses.append([{"timestamp": ts, "status": s, "count": c} for s, c in counts.items()])
        c51 = int(rng.binomial(counts["denied"], 0.45))
        auth.append([
            {"timestamp": ts, "auth_code": "00", "count": counts["approved"]},
            {"timestamp": ts, "auth_code": "51", "count": c51},
            {"timestamp": ts, "auth_code": "59", "count": counts["denied"] - c51},
        ])
    return statuses, auth
