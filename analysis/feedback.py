"""Analysts' verdicts on past incidents, for learning: ``expected`` ones are left out, ``false_alarm`` ones counted.

Read from the monitor's store (an SQLite file, or a PostgreSQL URL; read-only, the
``incident_actions`` table beside ``incidents``) or from a labels file: the JSON answer of ``GET /api/incidents/labels``
saved to disk (an object with ``labels``, or the bare list). Each incident counts with
its newest label. Its minutes are its event times, ``started_at`` to ``resolved_at``.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from detection.incident_actions import EXPECTED, FALSE_ALARM, LABELS
from detection.redact import redact_url
from detection.store import is_postgres_url

SQLITE_MAGIC = b"SQLite format 3\x00"
MAX_LABELS_FILE_BYTES = 50_000_000


class FeedbackError(ValueError):
    """The feedback file cannot be used; the message names the file, the row and the field."""


@dataclass(frozen=True)
class LabelledIncident:
    incident_id: str
    label: str  # false_alarm or expected
    started_at: int  # epoch minute
    resolved_at: int  # epoch minute, inclusive


@dataclass(frozen=True)
class Feedback:
    source: str
    incidents: tuple[LabelledIncident, ...]

    def count(self, label: str) -> int:
        return sum(1 for i in self.incidents if i.label == label)

    @property
    def false_alarms(self) -> int:
        return self.count(FALSE_ALARM)

    @property
    def expected(self) -> int:
        return self.count(EXPECTED)

    def excluded_periods(self) -> tuple[tuple[int, int], ...]:
        """The minutes learning leaves out: each ``expected`` incident's, first to last (inclusive)."""
        return tuple(sorted((i.started_at, i.resolved_at) for i in self.incidents if i.label == EXPECTED))

    def sentence(self, excluded_minutes: int) -> str:
        """What the summary says about the feedback."""
        n = len(self.incidents)
        return (f"Feedback from {self.source}: {n} labelled incident{'s' if n != 1 else ''}; "
                f"{self.false_alarms} of its incidents were judged false alarms, {self.expected} expected "
                f"({excluded_minutes:,} minutes of the history left out of learning).")


def _minute(value: Any, where: str, field: str) -> int:
    if not isinstance(value, str):
        raise FeedbackError(f"{where}: '{field}' expected an ISO 8601 UTC time such as '2025-07-12T13:00:00Z', "
                            f"got {value!r:.60}")
    try:
        moment = datetime.fromisoformat(value[:-1] + "+00:00" if value.endswith("Z") else value)
    except ValueError:
        raise FeedbackError(f"{where}: '{field}' expected an ISO 8601 UTC time such as '2025-07-12T13:00:00Z', "
                            f"got {value!r:.60}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp()) // 60


def _from_rows(rows: Sequence[Any], source: str) -> Feedback:
    newest: dict[str, LabelledIncident] = {}
    for n, row in enumerate(rows):
        where = f"{source}: labels[{n}]"
        if not isinstance(row, dict):
            raise FeedbackError(f"{where}: expected an object with incident_id, label, started_at, resolved_at")
        incident_id, label = row.get("incident_id"), row.get("label")
        if not isinstance(incident_id, str) or not incident_id:
            raise FeedbackError(f"{where}: 'incident_id' expected a non-empty string, got {incident_id!r:.60}")
        if label not in LABELS:
            raise FeedbackError(f"{where}: 'label' expected one of {', '.join(LABELS)}, got {label!r:.60}")
        start = _minute(row.get("started_at"), where, "started_at")
        end = _minute(row.get("resolved_at"), where, "resolved_at")
        if end < start:
            raise FeedbackError(f"{where}: 'resolved_at' is before 'started_at'")
        # The API lists the newest label first: the first row of an incident is the one that counts.
        newest.setdefault(incident_id, LabelledIncident(incident_id, str(label), start, end))
    return Feedback(source, tuple(newest.values()))


# Each labelled incident's newest label, newest first; plain SQL both backends read alike.
LABELS_QUERY = (
    "SELECT a.incident_id, a.label, i.started_at, i.resolved_at FROM incident_actions a "
    "JOIN incidents i ON i.id = a.incident_id WHERE a.action = 'label' AND a.seq = "
    "(SELECT MAX(b.seq) FROM incident_actions b WHERE b.incident_id = a.incident_id AND b.action = 'label') "
    "ORDER BY a.seq DESC"
)


def _labelled(rows: Sequence[Sequence[Any]], source: str) -> Feedback:
    out = [LabelledIncident(str(i), str(label), int(start), int(end if end is not None else start))
           for i, label, start, end in rows if label in LABELS]
    return Feedback(source, tuple(out))


def _from_store(path: Path) -> Feedback:
    try:
        conn = sqlite3.connect(f"file:{path.resolve()}?mode=ro", uri=True)
        try:
            rows = conn.execute(LABELS_QUERY).fetchall()
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise FeedbackError(f"{path}: cannot read incident labels from this store: {exc}") from None
    return _labelled(rows, str(path))


def _from_postgres(url: str) -> Feedback:
    """The labels in a monitor's PostgreSQL store, in a read-only transaction (learning never writes there)."""
    import psycopg  # only for a PostgreSQL URL: an SQLite user needs no driver for this

    shown = redact_url(url)
    try:
        with psycopg.connect(url, connect_timeout=5) as conn:
            conn.read_only = True
            rows = conn.execute(LABELS_QUERY).fetchall()
    except psycopg.Error as exc:
        reason = " ".join(str(exc).split())
        raise FeedbackError(f"{shown}: cannot read incident labels from this store: {reason}") from None
    return _labelled(rows, shown)


def load_feedback(source: str | Path) -> Feedback:
    """A store (SQLite file or PostgreSQL URL) or a labels file; raises FeedbackError (naming it) or OSError."""
    if isinstance(source, str) and is_postgres_url(source):
        return _from_postgres(source)
    path = Path(source)
    with path.open("rb") as file:
        head = file.read(len(SQLITE_MAGIC))
    if head == SQLITE_MAGIC:
        return _from_store(path)
    if path.stat().st_size > MAX_LABELS_FILE_BYTES:
        raise FeedbackError(f"{path}: over {MAX_LABELS_FILE_BYTES:,} bytes; expected a labels file")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise FeedbackError(f"{path}: neither a monitor store (SQLite) nor a labels file (JSON): {exc}") from None
    rows = data.get("labels") if isinstance(data, dict) else data
    if not isinstance(rows, list):
        raise FeedbackError(f"{path}: expected the answer of GET /api/incidents/labels (an object with 'labels') "
                            "or a list of labels")
    return _from_rows(rows, str(path))
