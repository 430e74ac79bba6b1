"""The durable side of notification delivery: an outbox of incident transitions and a log of every attempt.

Both tables live in the store (SQLite or PostgreSQL), made by this module's migrations. ``incident_outbox``
holds one row per (incident, opened|escalated|resolved, revision): the UNIQUE key is what
makes a transition go out at most once per channel in normal running, and a
row stays ``done IS NULL`` until every channel has a final outcome, which is
what makes delivery at-least-once across a crash or restart. A row keeps the
incident and its member alerts as they stood when the transition was
committed, so a re-send after a restart says what the first try would have.
``notification_log`` holds each attempt: channel, incident, attempt number,
outcome and detail.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from .alerts import Alert
from .incident_message import REPEAT
from .incident_news import is_news, revision, untold
from .incidents import ESCALATED, OPENED, RESOLVED_TRANSITION, Driver, Incident
from .metrics import epoch_to_iso
from .store_core import ALERT_COLUMNS, IDS_PER_QUERY, SqlStore
from .store_schema import Dialect, Migration, SqlConnection, add_missing_columns, statements

# Every open incident, plus (when the argument is true) every resolved one the store still keeps.
# The composition root hands one to Delivery; it reads the incidents table the tracker writes.
IncidentSource = Callable[[bool], Sequence[Incident]]

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS incident_outbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        incident_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        revision TEXT NOT NULL,
        incident TEXT NOT NULL,
        alerts TEXT NOT NULL,
        created REAL NOT NULL,
        done REAL,
        UNIQUE (incident_id, kind, revision)
    )""",
    "CREATE INDEX IF NOT EXISTS incident_outbox_open ON incident_outbox (done)",
    # alert_id names the alert of rows written before notifications were per incident; new rows leave it empty.
    """CREATE TABLE IF NOT EXISTS notification_log (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at REAL NOT NULL,
        channel TEXT NOT NULL,
        alert_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        attempt INTEGER NOT NULL,
        outcome TEXT NOT NULL,
        detail TEXT NOT NULL,
        outbox_id INTEGER,
        incident_id TEXT
    )""",
    "CREATE INDEX IF NOT EXISTS notification_log_outbox ON notification_log (outbox_id)",
)
ADDED_LOG_COLUMNS = {"incident_id": "TEXT"}  # a log written by the per-alert version gains it
INDEXES_AFTER_COLUMNS = (
    "CREATE INDEX IF NOT EXISTS notification_log_incident ON notification_log (incident_id, channel)",
)


def _log_rows_name_their_incident(conn: SqlConnection, dialect: Dialect) -> None:
    add_missing_columns("notification_log", ADDED_LOG_COLUMNS)(conn, dialect)
    statements(*INDEXES_AFTER_COLUMNS)(conn, dialect)


MIGRATIONS = (
    Migration(1, "the outbox and the notification log", statements(*SCHEMA)),
    Migration(2, "log rows name their incident (a log from the per-alert version gains the column)",
              _log_rows_name_their_incident),
)

# Outcomes. "error" is one failed attempt that will be retried; the others are final for a channel.
DELIVERED = "delivered"
ERROR = "error"
FAILED = "failed"
SILENCED = "silenced"
SKIPPED = "skipped"
FINAL_OUTCOMES = (DELIVERED, FAILED, SILENCED, SKIPPED)
OUTCOMES = (DELIVERED, ERROR, FAILED, SILENCED, SKIPPED)
ANNOUNCING = (OPENED, ESCALATED, REPEAT)  # the messages that say an incident is open


@dataclass(frozen=True)
class OutboxEntry:
    id: int
    kind: str
    incident: Incident
    alerts: tuple[Alert, ...]


@dataclass(frozen=True)
class LogRecord:
    channel: str
    incident_id: str
    kind: str
    attempt: int
    outcome: str
    detail: str = ""
    outbox_id: int | None = None


def incident_json(incident: Incident) -> str:
    return json.dumps(asdict(incident))


def incident_from_json(text: str) -> Incident:
    values = json.loads(text)
    values["drivers"] = [Driver(**d) for d in values.get("drivers", [])]
    return Incident(**values)


def _alerts_json(alerts: Sequence[Alert]) -> str:
    return json.dumps([asdict(a) for a in alerts])


def _alerts_from_json(text: str) -> tuple[Alert, ...]:
    return tuple(Alert(**a) for a in json.loads(text))


class DeliveryLog:
    def __init__(self, store: SqlStore, incidents: IncidentSource | None = None):
        self.store = store
        existed = store.has_table("incident_outbox")
        store.migrate("delivery_log", MIGRATIONS)
        if not existed and incidents is not None:
            self._baseline(incidents(True))

    def _baseline(self, incidents: Sequence[Incident]) -> None:
        """A store that had incidents before this outbox existed: mark their transitions done, so a first
        start does not page people about last month."""
        with self.store.transaction() as conn:
            for incident in incidents:
                for kind in untold(incident, []):
                    conn.execute(
                        "INSERT INTO incident_outbox (incident_id, kind, revision, incident, alerts, created, done) "
                        "VALUES (?, ?, ?, ?, '[]', 0, 0) ON CONFLICT DO NOTHING",
                        (incident.id, kind, revision(kind, incident), incident_json(incident)),
                    )

    # ------------------------------------------------------------- members
    def member_alerts(self, incident: Incident) -> tuple[Alert, ...]:
        """The incident's alerts as the store has them now, oldest first (a pruned one is left out)."""
        if not incident.alert_ids:
            return ()
        marks = ", ".join("?" * len(incident.alert_ids))
        rows = self.store.query(
            f"SELECT {', '.join(ALERT_COLUMNS)} FROM alerts WHERE id IN ({marks}) ORDER BY started_at, id",
            list(incident.alert_ids),
        )
        out = []
        for row in rows:
            values = dict(zip(ALERT_COLUMNS, row, strict=True))
            values["labels"] = json.loads(values["labels"] or "{}")
            out.append(Alert(**values))
        return tuple(out)

    # -------------------------------------------------------------- outbox
    def add_transitions(self, transitions: Iterable[tuple[str, Incident]], now: float) -> list[OutboxEntry]:
        """Insert new transitions; returns only those not seen before (a transition is sent once).

        An escalation that tells nothing new (its severity and drivers were already announced, say because a
        reconcile got there first) is not added; a transition of an incident whose opening is not in the
        outbox brings its opening with it.
        """
        wanted = [(kind, incident, self.member_alerts(incident)) for kind, incident in transitions]
        added = []
        with self.store.transaction() as conn:
            for kind, incident, alerts in wanted:
                told = [incident_from_json(r[0]) for r in conn.execute(
                    "SELECT incident FROM incident_outbox WHERE incident_id = ? AND kind IN (?, ?)",
                    (incident.id, OPENED, ESCALATED))]
                kinds = [kind]
                if not told and kind != OPENED:
                    # Its opening never reached the outbox (a full queue, a crash): this is the first people
                    # hear of it, so it is an opening (and, for a resolution, an opening and a resolution).
                    kinds = [OPENED] if kind == ESCALATED else [OPENED, kind]
                elif kind == ESCALATED and not is_news(incident, told):
                    continue
                for k in kinds:
                    row = conn.execute(
                        "INSERT INTO incident_outbox (incident_id, kind, revision, incident, alerts, created) "
                        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING id",
                        (incident.id, k, revision(k, incident), incident_json(incident), _alerts_json(alerts), now),
                    ).fetchone()
                    if row is not None:  # None: this transition was already in the outbox
                        added.append(OutboxEntry(int(row[0]), k, incident, alerts))
        return added

    def told(self, incident_ids: Sequence[str]) -> dict[str, list[tuple[str, Incident]]]:
        """Per incident, the outbox rows it has: (kind, the incident as that row announced it), oldest first."""
        out: dict[str, list[tuple[str, Incident]]] = {}
        ids = list(dict.fromkeys(incident_ids))
        for start in range(0, len(ids), 500):  # SQLite's limit on bound parameters
            chunk = ids[start:start + 500]
            marks = ", ".join("?" * len(chunk))
            for incident_id, kind, text in self.store.query(
                f"SELECT incident_id, kind, incident FROM incident_outbox WHERE incident_id IN ({marks}) ORDER BY id",
                chunk,
            ):
                out.setdefault(incident_id, []).append((kind, incident_from_json(text)))
        return out

    def missing_transitions(self, incidents: Sequence[Incident]) -> list[tuple[str, Incident]]:
        """Transitions the incidents imply that never reached the outbox (crash, full queue), oldest first."""
        told = self.told([i.id for i in incidents])
        out = []
        for incident in sorted(incidents, key=lambda i: (i.started_at, i.id)):
            out += [(kind, incident) for kind in untold(incident, told.get(incident.id, []))]
        return out

    def unresolved_incidents(self) -> list[Incident]:
        """Without an incident source: the newest announced copy of each incident whose resolution was never
        in the outbox (what the repeat reminders go by)."""
        rows = self.store.query(
            "SELECT o.incident FROM incident_outbox o WHERE o.id = (SELECT MAX(id) FROM incident_outbox p "
            "WHERE p.incident_id = o.incident_id) AND o.kind != ? AND o.created > 0 ORDER BY o.id",
            (RESOLVED_TRANSITION,),
        )
        return [incident_from_json(r[0]) for r in rows]

    def open_entries(self) -> list[tuple[OutboxEntry, set[str]]]:
        """Outbox rows not yet done, each with the channels that already have a final outcome."""
        rows = self.store.query(
            "SELECT id, kind, incident, alerts FROM incident_outbox WHERE done IS NULL ORDER BY id"
        )
        if not rows:
            return []
        finals: dict[int, set[str]] = {}
        marks = ", ".join("?" * len(FINAL_OUTCOMES))
        # The outcomes of exactly these rows, by id: two reads are two moments, and a row a sender finished in
        # between is marked done by then. Filtering the second read on "done IS NULL" again lost that row's
        # outcomes, so it looked unsent on every channel and was sent again (a duplicate now and then).
        ids = [r[0] for r in rows]
        for start in range(0, len(ids), IDS_PER_QUERY):
            chunk = ids[start:start + IDS_PER_QUERY]
            for outbox_id, channel in self.store.query(
                f"SELECT outbox_id, channel FROM notification_log WHERE outcome IN ({marks}) AND outbox_id IN "
                f"({', '.join('?' * len(chunk))})",
                (*FINAL_OUTCOMES, *chunk),
            ):
                finals.setdefault(outbox_id, set()).add(channel)
        return [(OutboxEntry(r[0], r[1], incident_from_json(r[2]), _alerts_from_json(r[3])), finals.get(r[0], set()))
                for r in rows]

    # ----------------------------------------------------------------- log
    def record(self, records: Sequence[LogRecord], now: float, channels: Sequence[str]) -> None:
        """Write attempts; an outbox row whose every channel now has a final outcome is marked done."""
        if not records:
            return
        touched = {r.outbox_id for r in records if r.outbox_id is not None and r.outcome in FINAL_OUTCOMES}
        with self.store.transaction() as conn:
            conn.executemany(
                "INSERT INTO notification_log (at, channel, alert_id, incident_id, kind, attempt, outcome, detail, "
                "outbox_id) VALUES (?, ?, '', ?, ?, ?, ?, ?, ?)",
                [(now, r.channel, r.incident_id, r.kind, r.attempt, r.outcome, r.detail, r.outbox_id) for r in records],
            )
            if touched:
                names = list(channels)
                marks = ", ".join("?" * len(names))
                finals = ", ".join("?" * len(FINAL_OUTCOMES))
                for outbox_id in touched:
                    conn.execute(
                        "UPDATE incident_outbox SET done = ? WHERE id = ? AND done IS NULL AND ? <= ("
                        f"SELECT COUNT(DISTINCT channel) FROM notification_log WHERE outbox_id = ? "
                        f"AND outcome IN ({finals}) AND channel IN ({marks}))",
                        (now, outbox_id, len(names), outbox_id, *FINAL_OUTCOMES, *names),
                    )

    def last_announced(self, incident_ids: Sequence[str]) -> dict[tuple[str, str], dict[str, float]]:
        """For repeats: per (incident, channel), the newest time of each final outcome of a message saying it
        is open (opened, escalated, repeat)."""
        if not incident_ids:
            return {}
        marks = ", ".join("?" * len(incident_ids))
        kinds = ", ".join("?" * len(ANNOUNCING))
        rows = self.store.query(
            f"SELECT incident_id, channel, outcome, MAX(at) FROM notification_log WHERE incident_id IN ({marks}) "
            f"AND kind IN ({kinds}) GROUP BY incident_id, channel, outcome",
            [*incident_ids, *ANNOUNCING],
        )
        out: dict[tuple[str, str], dict[str, float]] = {}
        for incident_id, channel, outcome, at in rows:
            out.setdefault((incident_id, channel), {})[outcome] = at
        return out

    def opening_was_silenced(self, incident_id: str, channel: str) -> bool:
        """True when this channel was silenced about the incident and was never sent anything about it."""
        kinds = ", ".join("?" * len(ANNOUNCING))
        rows = self.store.query(
            f"SELECT outcome FROM notification_log WHERE incident_id = ? AND channel = ? AND kind IN ({kinds})",
            (incident_id, channel, *ANNOUNCING),
        )
        outcomes = {r[0] for r in rows}
        return SILENCED in outcomes and not outcomes & {DELIVERED, FAILED, ERROR}

    def entries(self, limit: int = 100, channel: str | None = None, incident_id: str | None = None,
                outcome: str | None = None, alert_id: str | None = None) -> list[dict[str, Any]]:
        """The log for people, newest first; each row names its incident (and its title when the outbox has it)."""
        where, params = [], []
        for column, value in (("l.channel", channel), ("l.incident_id", incident_id), ("l.outcome", outcome),
                              ("l.alert_id", alert_id)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        rows = self.store.query(
            "SELECT l.id, l.at, l.channel, l.incident_id, l.alert_id, l.kind, l.attempt, l.outcome, l.detail, "
            f"{self.store.dialect.json_text('o.incident', 'title')} FROM notification_log l "
            f"LEFT JOIN incident_outbox o ON o.id = l.outbox_id {clause} ORDER BY l.id DESC LIMIT ?",
            [*params, limit],
        )
        return [
            {"id": r[0], "at": epoch_to_iso(r[1]), "at_epoch": r[1], "channel": r[2], "incident_id": r[3],
             "incident_title": r[9], "alert_id": r[4] or None, "kind": r[5], "attempt": r[6], "outcome": r[7],
             "detail": r[8]}
            for r in rows
        ]

    def prune(self, before: float, kept_incidents: set[str] | None = None) -> int:
        """Drop log rows older than ``before``; outbox rows go once done and their incident is gone from the store
        (``kept_incidents``): an outbox row must outlive its incident, or a reconcile would take its transitions
        as new. Without a list of kept incidents the outbox is left whole."""
        with self.store.transaction() as conn:
            removed = conn.execute("DELETE FROM notification_log WHERE at < ?", (before,)).rowcount
            if kept_incidents is not None:
                done = [r[0] for r in conn.execute("SELECT DISTINCT incident_id FROM incident_outbox WHERE done IS NOT NULL", ())]
                gone = [(i,) for i in done if i not in kept_incidents]
                conn.executemany("DELETE FROM incident_outbox WHERE done IS NOT NULL AND incident_id = ?", gone)
        return removed
