"""CSV replay: the users' exports in minute order, for ``python app.py --replay transactions.csv``."""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

from detection.metrics import minute_to_iso
from detection.records import parse_timestamp


class ReplayError(ValueError):
    """A replay CSV cannot be read; the message names the file, the line and what was expected."""


def read_export(path: str | Path, key_field: str, allowed: tuple[str, ...]) -> dict[int, list[dict]]:
    """Rows of a users' CSV export grouped by minute, each checked; errors name the file and line."""
    file = Path(path)
    try:
        handle = file.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise ReplayError(f"{file}: cannot open ({exc.strerror})") from None
    by_minute: dict[int, list[dict]] = defaultdict(list)
    with handle:
        reader = csv.DictReader(handle)
        expected = ("timestamp", key_field, "count")
        if reader.fieldnames is None or any(col not in reader.fieldnames for col in expected):
            raise ReplayError(f"{file}, line 1: expected the header {','.join(expected)}, got {','.join(reader.fieldnames or [])!r}")
        allowed_set = set(allowed)
        for row in reader:
            line = reader.line_num
            try:
                minute = parse_timestamp(row["timestamp"])
            except ValueError as exc:
                raise ReplayError(f"{file}, line {line}: timestamp {exc}") from None
            key = (row[key_field] or "").strip()
            if key not in allowed_set:
                raise ReplayError(f"{file}, line {line}: unknown {key_field} {key!r}; expected one of {', '.join(allowed)}")
            raw = (row["count"] or "").strip()
            if not raw.isdigit():
                raise ReplayError(f"{file}, line {line}: count must be a non-negative integer, got {raw!r}")
            stamp = minute_to_iso(minute)
            by_minute[minute].append({"timestamp": stamp, key_field: key, "count": int(raw)})
    if not by_minute:
        raise ReplayError(f"{file}: no data rows after the header")
    return by_minute


class ReplaySource:
    """The users' exports in minute order, for ``python app.py --replay transactions.csv [--auth-codes CSV]``."""

    def __init__(self, transactions: str | Path, auth_codes: str | Path | None, statuses: tuple[str, ...], codes: tuple[str, ...]):
        self.status_by_minute = read_export(transactions, "status", statuses)
        self.auth_by_minute = read_export(auth_codes, "auth_code", codes) if auth_codes else {}
        self.minutes = sorted(set(self.status_by_minute) | set(self.auth_by_minute))

    def __iter__(self) -> Iterator[tuple[int, list[dict], list[dict]]]:
        for minute in self.minutes:
            yield minute, self.status_by_minute.get(minute, []), self.auth_by_minute.get(minute, [])
