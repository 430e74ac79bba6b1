"""Silences: matchers on rule/metric/severity with a start and an end; a silenced alert is shown but sends nothing.

Silences live in the store's SQLite file, so they survive a restart. Times are
wall-clock (epoch seconds), like Alertmanager's: a silence says "do not page me
between these moments", whatever the event time of the data.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .alerts import SEVERITIES, Alert
from .metrics import epoch_to_iso
from .store import Store

SCHEMA = """
CREATE TABLE IF NOT EXISTS silences (
    id TEXT PRIMARY KEY,
    matchers TEXT NOT NULL,
    starts_at REAL NOT NULL,
    ends_at REAL NOT NULL,
    created_at REAL NOT NULL,
    created_by TEXT NOT NULL,
    comment TEXT NOT NULL
) WITHOUT ROWID;
"""

MATCHER_FIELDS = ("rule", "metric", "severity")
MAX_TEXT = 1000


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


def parse_time(value: Any, field: str) -> float:
    """ISO 8601 (naive means UTC) or epoch seconds."""
    if isinstance(value, bool):
        raise SilenceError(field, f"expected an ISO 8601 time such as '2025-07-12T14:00:00Z', got {value!r}")
    if isinstance(value, (int, float)):
        return float(value)
    if not isinstance(value, str) or not value.strip():
        raise SilenceError(field, f"expected an ISO 8601 time such as '2025-07-12T14:00:00Z', got {value!r}")
    text = value.strip()
    try:
        moment = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
    except ValueError:
        raise SilenceError(field, f"expected an ISO 8601 time such as '2025-07-12T14:00:00Z', got {value!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


class Silences:
    """The silences of one store; reads are served from memory, every change is written through."""

    def __init__(self, store: Store, clock: Callable[[], float] = time.time):
        self.store = store
        self._clock = clock
        self._lock = threading.Lock()
        with store.transaction() as conn:
            conn.execute(SCHEMA)
        rows = store.query(
            "SELECT id, matchers, starts_at, ends_at, created_at, created_by, comment FROM silences"
        )
        self._silences = {
            r[0]: Silence(r[0], json.loads(r[1]), r[2], r[3], r[4], r[5], r[6]) for r in rows
        }

    def now(self) -> float:
        return self._clock()

    def create(self, body: Any) -> Silence:
        """Validate a request body and store the silence; raises ``SilenceError`` naming the field."""
        if not isinstance(body, dict):
            raise SilenceError("body", "expected a JSON object with matchers, ends_at and optional starts_at, comment")
        unknown = set(body) - {"matchers", "starts_at", "ends_at", "comment", "created_by"}
        if unknown:
            raise SilenceError(min(unknown), "unknown field; expected matchers, starts_at, ends_at, comment, created_by")
        matchers = body.get("matchers")
        if not isinstance(matchers, dict) or not matchers:
            raise SilenceError("matchers", "expected an object with at least one of rule, metric, severity, "
                                           "e.g. {\"rule\": \"failed_high\"}")
        for key, value in matchers.items():
            if key not in MATCHER_FIELDS:
                raise SilenceError(f"matchers.{key}", f"unknown matcher; expected one of {', '.join(MATCHER_FIELDS)}")
            if not isinstance(value, str) or not value:
                raise SilenceError(f"matchers.{key}", f"expected a non-empty string, got {value!r}")
        if "severity" in matchers and matchers["severity"] not in SEVERITIES:
            raise SilenceError("matchers.severity", f"expected one of {', '.join(SEVERITIES)}, got {matchers['severity']!r}")
        now = self._clock()
        starts = parse_time(body["starts_at"], "starts_at") if body.get("starts_at") is not None else now
        if "ends_at" not in body:
            raise SilenceError("ends_at", "is required (when the silence stops)")
        ends = parse_time(body["ends_at"], "ends_at")
        if ends <= starts:
            raise SilenceError("ends_at", f"must be after starts_at ({epoch_to_iso(starts)}), got {epoch_to_iso(ends)}")
        if ends <= now:
            raise SilenceError("ends_at", f"is in the past ({epoch_to_iso(ends)}); a silence must end in the future")
        texts = {}
        for key in ("comment", "created_by"):
            value = body.get(key, "")
            if not isinstance(value, str) or len(value) > MAX_TEXT:
                raise SilenceError(key, f"expected a string of at most {MAX_TEXT} characters")
            texts[key] = value
        silence = Silence(secrets.token_hex(8), dict(matchers), starts, ends, now, texts["created_by"], texts["comment"])
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
