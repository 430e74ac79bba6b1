"""The durable side of notification delivery: an outbox of alert transitions and a log of every attempt.

Both tables live in the store's SQLite file. ``notification_outbox`` holds one
row per (alert, firing|resolved) transition: the UNIQUE key is what makes a
transition go out at most once per channel in normal running, and a row stays
``done IS NULL`` until every channel has a final outcome, which is what makes
delivery at-least-once across a crash or restart. ``notification_log`` holds
each attempt: channel, alert, attempt number, outcome and detail.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from .alerts import FIRING, RESOLVED, Alert
from .metrics import epoch_to_iso
from .store import ALERT_COLUMNS, Store

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS notification_outbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        alert_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        alert TEXT NOT NULL,
        created REAL NOT NULL,
        done REAL,
        UNIQUE (alert_id, kind)
    )""",
    "CREATE INDEX IF NOT EXISTS notification_outbox_open ON notification_outbox (done)",
    """CREATE TABLE IF NOT EXISTS notification_log (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at REAL NOT NULL,
        channel TEXT NOT NULL,
        alert_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        attempt INTEGER NOT NULL,
        outcome TEXT NOT NULL,
        detail TEXT NOT NULL,
        outbox_id INTEGER
    )""",
    "CREATE INDEX IF NOT EXISTS notification_log_alert ON notification_log (alert_id, channel)",
    "CREATE INDEX IF NOT EXISTS notification_log_outbox ON notification_log (outbox_id)",
)

# Outcomes. "error" is one failed attempt that will be retried; the others are final for a channel.
DELIVERED = "delivered"
ERROR = "error"
FAILED = "failed"
SILENCED = "silenced"
SKIPPED = "skipped"
FINAL_OUTCOMES = (DELIVERED, FAILED, SILENCED, SKIPPED)
OUTCOMES = (DELIVERED, ERROR, FAILED, SILENCED, SKIPPED)
REPEAT = "repeat"  # log kind of a reminder that an alert is still firing


@dataclass(frozen=True)
class OutboxEntry:
    id: int
    kind: str
    alert: Alert


@dataclass(frozen=True)
class LogRecord:
    channel: str
    alert_id: str
    kind: str
    attempt: int
    outcome: str
    detail: str = ""
    outbox_id: int | None = None


def _alert_json(alert: Alert) -> str:
    return json.dumps(asdict(alert))


def _alert_from_json(text: str) -> Alert:
    return Alert(**json.loads(text))


class DeliveryLog:
    def __init__(self, store: Store):
        self.store = store
        existed = bool(store.query(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'notification_outbox'"
        ))
        with store.transaction() as conn:
            for statement in SCHEMA:
                conn.execute(statement)
        if not existed:
            self._baseline()

    def _baseline(self) -> None:
        """A store that had alerts before notifications existed: mark their transitions done, so a first
        start does not page people about last month."""
        with self.store.transaction() as conn:
            for kind, condition in ((FIRING, "fired_at IS NOT NULL"), (RESOLVED, "fired_at IS NOT NULL AND state = 'resolved'")):
                conn.execute(
                    "INSERT OR IGNORE INTO notification_outbox (alert_id, kind, alert, created, done) "
                    f"SELECT id, ?, '{{}}', 0, 0 FROM alerts WHERE {condition}",
                    (kind,),
                )

    # -------------------------------------------------------------- outbox
    def add_transitions(self, transitions: Iterable[tuple[str, Alert]], now: float) -> list[OutboxEntry]:
        """Insert new transitions; returns only those not seen before (a transition is sent once)."""
        added = []
        with self.store.transaction() as conn:
            for kind, alert in transitions:
                cursor = conn.execute(
                    "INSERT OR IGNORE INTO notification_outbox (alert_id, kind, alert, created) VALUES (?, ?, ?, ?)",
                    (alert.id, kind, _alert_json(alert), now),
                )
                if cursor.rowcount and cursor.lastrowid is not None:
                    added.append(OutboxEntry(cursor.lastrowid, kind, alert))
        return added

    def missing_transitions(self) -> list[tuple[str, Alert]]:
        """Transitions committed in the alerts table that never reached the outbox (crash, full queue)."""
        cols = ", ".join(f"a.{c}" for c in ALERT_COLUMNS)
        out = []
        for kind, condition in ((FIRING, "a.fired_at IS NOT NULL"), (RESOLVED, "a.fired_at IS NOT NULL AND a.state = 'resolved'")):
            rows = self.store.query(
                f"SELECT {cols} FROM alerts a WHERE {condition} AND NOT EXISTS ("
                "SELECT 1 FROM notification_outbox o WHERE o.alert_id = a.id AND o.kind = ?) "
                "ORDER BY a.started_at, a.id",
                (kind,),
            )
            for row in rows:
                values = dict(zip(ALERT_COLUMNS, row, strict=True))
                values["labels"] = json.loads(values["labels"] or "{}")
                out.append((kind, Alert(**values)))
        # Firing before resolved for the same alert, oldest first.
        out.sort(key=lambda t: (t[1].started_at, t[1].id, t[0] != FIRING))
        return out

    def open_entries(self) -> list[tuple[OutboxEntry, set[str]]]:
        """Outbox rows not yet done, each with the channels that already have a final outcome."""
        rows = self.store.query(
            "SELECT id, kind, alert FROM notification_outbox WHERE done IS NULL ORDER BY id"
        )
        if not rows:
            return []
        finals: dict[int, set[str]] = {}
        marks = ", ".join("?" * len(FINAL_OUTCOMES))
        for outbox_id, channel in self.store.query(
            f"SELECT outbox_id, channel FROM notification_log WHERE outcome IN ({marks}) AND outbox_id IN "
            "(SELECT id FROM notification_outbox WHERE done IS NULL)",
            FINAL_OUTCOMES,
        ):
            finals.setdefault(outbox_id, set()).add(channel)
        return [(OutboxEntry(r[0], r[1], _alert_from_json(r[2])), finals.get(r[0], set())) for r in rows]

    # ----------------------------------------------------------------- log
    def record(self, records: Sequence[LogRecord], now: float, channels: Sequence[str]) -> None:
        """Write attempts; an outbox row whose every channel now has a final outcome is marked done."""
        if not records:
            return
        touched = {r.outbox_id for r in records if r.outbox_id is not None and r.outcome in FINAL_OUTCOMES}
        with self.store.transaction() as conn:
            conn.executemany(
                "INSERT INTO notification_log (at, channel, alert_id, kind, attempt, outcome, detail, outbox_id) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [(now, r.channel, r.alert_id, r.kind, r.attempt, r.outcome, r.detail, r.outbox_id) for r in records],
            )
            if touched:
                names = list(channels)
                marks = ", ".join("?" * len(names))
                finals = ", ".join("?" * len(FINAL_OUTCOMES))
                for outbox_id in touched:
                    conn.execute(
                        "UPDATE notification_outbox SET done = ? WHERE id = ? AND done IS NULL AND ? <= ("
                        f"SELECT COUNT(DISTINCT channel) FROM notification_log WHERE outbox_id = ? "
                        f"AND outcome IN ({finals}) AND channel IN ({marks}))",
                        (now, outbox_id, len(names), outbox_id, *FINAL_OUTCOMES, *names),
                    )

    def last_firing_outcomes(self, alert_ids: Sequence[str]) -> dict[tuple[str, str], dict[str, float]]:
        """For repeats: per (alert, channel), the newest time of each final outcome of a firing or repeat."""
        if not alert_ids:
            return {}
        marks = ", ".join("?" * len(alert_ids))
        rows = self.store.query(
            f"SELECT alert_id, channel, outcome, MAX(at) FROM notification_log WHERE alert_id IN ({marks}) "
            f"AND kind IN ('{FIRING}', '{REPEAT}') GROUP BY alert_id, channel, outcome",
            list(alert_ids),
        )
        out: dict[tuple[str, str], dict[str, float]] = {}
        for alert_id, channel, outcome, at in rows:
            out.setdefault((alert_id, channel), {})[outcome] = at
        return out

    def firing_was_silenced(self, alert_id: str, channel: str) -> bool:
        """True when this channel's firing notice was silenced and nothing for the alert was ever sent to it."""
        rows = self.store.query(
            "SELECT outcome FROM notification_log WHERE alert_id = ? AND channel = ? AND kind IN (?, ?)",
            (alert_id, channel, FIRING, REPEAT),
        )
        outcomes = {r[0] for r in rows}
        return SILENCED in outcomes and not outcomes & {DELIVERED, FAILED, ERROR}

    def entries(self, limit: int = 100, channel: str | None = None, alert_id: str | None = None,
                outcome: str | None = None) -> list[dict[str, Any]]:
        """The log for people, newest first."""
        where, params = [], []
        for column, value in (("channel", channel), ("alert_id", alert_id), ("outcome", outcome)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        rows = self.store.query(
            "SELECT id, at, channel, alert_id, kind, attempt, outcome, detail FROM notification_log "
            f"{clause} ORDER BY id DESC LIMIT ?",
            [*params, limit],
        )
        return [
            {"id": r[0], "at": epoch_to_iso(r[1]), "at_epoch": r[1], "channel": r[2], "alert_id": r[3], "kind": r[4],
             "attempt": r[5], "outcome": r[6], "detail": r[7]}
            for r in rows
        ]

    def prune(self, before: float) -> int:
        with self.store.transaction() as conn:
            removed = conn.execute("DELETE FROM notification_log WHERE at < ?", (before,)).rowcount
            # An outbox row must outlive its alert, or a reconcile would take the alert's transitions as new.
            conn.execute(
                "DELETE FROM notification_outbox WHERE done IS NOT NULL AND alert_id NOT IN (SELECT id FROM alerts)"
            )
        return removed
