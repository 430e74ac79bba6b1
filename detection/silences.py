"""Silences: matchers on rule/metric/severity with a start and an end; a silenced alert is shown but sends nothing.

Silences live in the store (SQLite or PostgreSQL), so they survive a restart. Times are
wall-clock (epoch seconds), like Alertmanager's: a silence says "do not page me
between these moments", whatever the event time of the data.
"""

from __future__ import annotations

import json
import logging
import math
import re
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .alerts import SEVERITIES, Alert
from .metrics import epoch_to_iso
from .records import shown
from .store_core import SqlStore
from .store_schema import Migration, statements

SCHEMA = """
CREATE TABLE IF NOT EXISTS silences (
    id TEXT PRIMARY KEY,
    matchers TEXT NOT NULL,
    starts_at REAL NOT NULL,
    ends_at REAL NOT NULL,
    created_at REAL NOT NULL,
    created_by TEXT NOT NULL,
    comment TEXT NOT NULL
) WITHOUT ROWID
"""
MIGRATIONS = (Migration(1, "the silences table", statements(SCHEMA)),)

MATCHER_FIELDS = ("rule", "metric", "severity")
MAX_COMMENT = 1000  # characters
MAX_CREATED_BY = 200
MAX_MATCHER_VALUE = 200
MAX_TIME_CHARS = 64
EARLIEST_TIME = 0.0  # 1970-01-01T00:00:00Z
MAX_AHEAD_SECONDS = 365 * 24 * 3600  # a silence ends at most a year from now
# Control characters (C0, DEL, C1) and lone surrogates: SQLite cannot store the latter as text.
_UNPRINTABLE = re.compile("[\\x00-\\x1f\\x7f-\\x9f\\ud800-\\udfff]")
log = logging.getLogger("monitor.silences")


class SilenceError(ValueError):
    """A silence request is wrong; ``field`` names the field."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Silence:
    id: str
    matchers: Mapping[str, str]  # field -> exact value; every matcher must match
    starts_at: float
    ends_at: float
    created_at: float
    created_by: str = ""
    comment: str = ""

    def state(self, now: float) -> str:
        if now < self.starts_at:
            return "pending"
        return "active" if now < self.ends_at else "expired"

    def matches(self, alert: Alert) -> bool:
        return all(getattr(alert, key) == value for key, value in self.matchers.items())

    def to_dict(self, now: float) -> dict[str, Any]:
        return {
            "id": self.id,
            "matchers": dict(self.matchers),
            "starts_at": epoch_to_iso(self.starts_at),
            "ends_at": epoch_to_iso(self.ends_at),
            "created_at": epoch_to_iso(self.created_at),
            "created_by": self.created_by,
            "comment": self.comment,
            "status": self.state(now),
        }


def parse_time(value: Any, field: str, now: float) -> float:
    """ISO 8601 (naive means UTC) or epoch seconds, from 1970 up to ``MAX_AHEAD_SECONDS`` after ``now``."""
    expected = f"expected an ISO 8601 time such as '2025-07-12T14:00:00Z' or epoch seconds, got {shown(value)}"
    if isinstance(value, bool):
        raise SilenceError(field, expected)
    if isinstance(value, (int, float)):
        seconds = value
    elif not isinstance(value, str) or not value.strip() or len(value) > MAX_TIME_CHARS or _UNPRINTABLE.search(value):
        raise SilenceError(field, expected)
    else:
        text = value.strip()
        try:
            moment = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
            seconds = moment.timestamp()
        except (ValueError, OverflowError):
            raise SilenceError(field, expected) from None
    latest = now + MAX_AHEAD_SECONDS
    # Compared before float(): an integer such as 10**400 has no float. NaN fails both comparisons.
    if not EARLIEST_TIME <= seconds <= latest:
        raise SilenceError(field, f"must be from {epoch_to_iso(EARLIEST_TIME)} to {epoch_to_iso(latest)} "
                                  f"(at most 365 days from now), got {shown(value)}")
    return float(seconds)


def _text(body: Mapping[str, Any], field: str, limit: int) -> str:
    value = body.get(field, "")
    if not isinstance(value, str) or len(value) > limit:
        raise SilenceError(field, f"expected a string of at most {limit} characters")
    if _UNPRINTABLE.search(value):
        raise SilenceError(field, "must not contain control characters or lone surrogates")
    return value


def _row_silence(row: tuple) -> Silence | None:
    """A stored row as a Silence, or None when it cannot be one (written by an older version, or edited by hand)."""
    silence_id, matchers, starts, ends, created, created_by, comment = row
    try:
        matchers = json.loads(matchers)
        times = [float(t) for t in (starts, ends, created)]
    except (TypeError, ValueError):
        return None
    if not (isinstance(matchers, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in matchers.items())
            and all(math.isfinite(t) for t in times) and isinstance(silence_id, str)):
        return None
    starts_at, ends_at, created_at = times
    return Silence(silence_id, matchers, starts_at, ends_at, created_at,
                   created_by if isinstance(created_by, str) else "", comment if isinstance(comment, str) else "")


class Silences:
    """The silences of one store; reads are served from memory, every change is written through."""

    def __init__(self, store: SqlStore, clock: Callable[[], float] = time.time):
        self.store = store
        self._clock = clock
        self._lock = threading.Lock()
        store.migrate("silences", MIGRATIONS)
        self._silences: dict[str, Silence] = {}
        self._unreadable: set[str] = set()  # logged once each
        self.refresh()

    def refresh(self) -> None:
        """Read every silence from the store again: what other instances on the same PostgreSQL created or
        expired (the cluster calls this every second). Raises StoreError when the store cannot be read."""
        rows = self.store.query(
            "SELECT id, matchers, starts_at, ends_at, created_at, created_by, comment FROM silences"
        )
        found: dict[str, Silence] = {}
        for row in rows:
            silence = _row_silence(row)
            if silence is None:  # shown nowhere, but never breaks the list: the log says which
                if row[0] not in self._unreadable:
                    self._unreadable.add(row[0])
                    log.warning("silence %r in the store cannot be read and is ignored", row[0])
                continue
            found[silence.id] = silence
        with self._lock:
            self._silences = found

    def now(self) -> float:
        return self._clock()

    def create(self, body: Any) -> Silence:
        """Validate a request body and store the silence; raises ``SilenceError`` naming the field."""
        if not isinstance(body, dict):
            raise SilenceError("body", "expected a JSON object with matchers, ends_at and optional starts_at, comment")
        unknown = set(body) - {"matchers", "starts_at", "ends_at", "comment", "created_by"}
        if unknown:
            raise SilenceError(min(unknown)[:40], "unknown field; expected matchers, starts_at, ends_at, comment, created_by")
        matchers = body.get("matchers")
        if not isinstance(matchers, dict) or not matchers:
            raise SilenceError("matchers", "expected an object with at least one of rule, metric, severity, "
                                           "e.g. {\"rule\": \"failed_high\"}")
        for key, value in matchers.items():
            if key not in MATCHER_FIELDS:
                raise SilenceError(f"matchers.{key[:40]}", f"unknown matcher; expected one of {', '.join(MATCHER_FIELDS)}")
            if not isinstance(value, str) or not value or len(value) > MAX_MATCHER_VALUE or _UNPRINTABLE.search(value):
                raise SilenceError(f"matchers.{key}", f"expected a non-empty string of at most {MAX_MATCHER_VALUE} "
                                                      f"characters without control characters, got {shown(value)}")
        if "severity" in matchers and matchers["severity"] not in SEVERITIES:
            raise SilenceError("matchers.severity", f"expected one of {', '.join(SEVERITIES)}, got {matchers['severity']!r}")
        now = self._clock()
        starts = parse_time(body["starts_at"], "starts_at", now) if body.get("starts_at") is not None else now
        if "ends_at" not in body:
            raise SilenceError("ends_at", "is required (when the silence stops)")
        ends = parse_time(body["ends_at"], "ends_at", now)
        if ends <= starts:
            raise SilenceError("ends_at", f"must be after starts_at ({epoch_to_iso(starts)}), got {epoch_to_iso(ends)}")
        if ends <= now:
            raise SilenceError("ends_at", f"is in the past ({epoch_to_iso(ends)}); a silence must end in the future")
        comment = _text(body, "comment", MAX_COMMENT)
        created_by = _text(body, "created_by", MAX_CREATED_BY)
        silence = Silence(secrets.token_hex(8), dict(matchers), starts, ends, now, created_by, comment)
        with self._lock:
            with self.store.transaction() as conn:
                conn.execute(
                    "INSERT INTO silences (id, matchers, starts_at, ends_at, created_at, created_by, comment) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (silence.id, json.dumps(silence.matchers), starts, ends, now, silence.created_by, silence.comment),
                )
            self._silences[silence.id] = silence
        return silence

    def expire(self, silence_id: str) -> Silence | None:
        """End a silence now (kept, as expired, for the record); None if there is no such silence."""
        with self._lock:
            silence = self._silences.get(silence_id)
            if silence is None:
                return None
            now = self._clock()
            if silence.ends_at > now:
                silence = Silence(silence.id, silence.matchers, min(silence.starts_at, now), now,
                                  silence.created_at, silence.created_by, silence.comment)
                with self.store.transaction() as conn:
                    conn.execute("UPDATE silences SET starts_at = ?, ends_at = ? WHERE id = ?",
                                 (silence.starts_at, now, silence.id))
                self._silences[silence.id] = silence
            return silence

    def all(self) -> list[Silence]:
        with self._lock:
            return sorted(self._silences.values(), key=lambda s: -s.created_at)

    def get(self, silence_id: str) -> Silence | None:
        with self._lock:
            return self._silences.get(silence_id)

    def silenced_by(self, alert: Alert, now: float | None = None) -> list[str]:
        """Ids of the active silences that match the alert (empty: not silenced)."""
        now = self._clock() if now is None else now
        with self._lock:
            return [s.id for s in self._silences.values() if s.state(now) == "active" and s.matches(alert)]

    def is_silenced(self, alert: Alert) -> bool:
        return bool(self.silenced_by(alert))

    def active_count(self) -> int:
        now = self._clock()
        with self._lock:
            return sum(1 for s in self._silences.values() if s.state(now) == "active")
