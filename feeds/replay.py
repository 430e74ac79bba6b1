"""CSV replay: the users' exports in minute order, for ``python app.py --replay transactions.csv``.

The files are read by the one CSV reader (``analysis.loading.read_export``), so the replay accepts exactly
what ``python -m analysis`` accepts and words every mistake the same way.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

from analysis.loading import LoadError
from analysis.loading import read_export as read_checked_export

ReplayError = LoadError  # a replay file's mistakes are the CSV reader's


def read_export(path: str | Path, key_field: str, allowed: Sequence[str],
                now: float | None = None) -> dict[int, list[dict]]:
    """Rows of a users' CSV export grouped by minute, in minute order, each checked; errors name file and line."""
    return read_checked_export(path, key_field, allowed, now=now).rows_by_minute()


class ReplaySource:
    """The users' exports in minute order, for ``python app.py --replay transactions.csv [--auth-codes CSV]``."""

    def __init__(self, transactions: str | Path, auth_codes: str | Path | None, statuses: tuple[str, ...],
                 codes: tuple[str, ...], now: float | None = None):
        self.status_by_minute = read_export(transactions, "status", statuses, now)
        self.auth_by_minute = read_export(auth_codes, "auth_code", codes, now) if auth_codes else {}
        self.minutes = sorted(set(self.status_by_minute) | set(self.auth_by_minute))

    def __iter__(self) -> Iterator[tuple[int, list[dict], list[dict]]]:
        for minute in self.minutes:
            yield minute, self.status_by_minute.get(minute, []), self.auth_by_minute.get(minute, [])
