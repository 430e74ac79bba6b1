"""Per-minute records for the benchmarks, from the project's seeded generator (DATA.md levels, incidents)."""

from __future__ import annotations

from analysis.synthetic import generate


def minute_records(start_minute: int, minutes: int, seed: int = 0) -> tuple[list[list[dict]], list[list[dict]]]:
    """Per minute, oldest first: the status records and the auth-code records (every minute present)."""
    # a few incidents a day in a day or more of data; a shorter span is ordinary traffic
    data = generate(start_minute, minutes, seed, incidents=None if minutes >= 1440 else [], incidents_per_day=4.0)
    statuses: dict[str, list[dict]] = {}
    auth: dict[str, list[dict]] = {}
    for row in data.status_rows:
        statuses.setdefault(row["timestamp"], []).append(row)
    for row in data.auth_rows:
        auth.setdefault(row["timestamp"], []).append(row)
    stamps = sorted(set(statuses) | set(auth))
    return [statuses.get(s, []) for s in stamps], [auth.get(s, []) for s in stamps]
