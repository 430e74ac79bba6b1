"""Durable store: SQLite (standard library) in WAL mode for minute counts, alerts and engine state.

Every ingest is one transaction: counts, alert changes, rule state and the
idempotency key land together or not at all, so a request answered 2xx is on
disk and a crash never leaves half a batch. ``synchronous=NORMAL`` (default)
survives a killed process; ``full`` also survives power loss, at a cost per commit.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from .alerts import OPEN_STATES, Alert
from .incidents import OPEN, Incident

SCHEMA = """
-- One row per feed and minute; counts is "metric=count;metric=count". A row per
-- minute rather than per metric keeps a batch's write to a sixth of the rows.
CREATE TABLE IF NOT EXISTS minute_counts (
    feed TEXT NOT NULL,
    minute INTEGER NOT NULL,
    counts TEXT NOT NULL,
    PRIMARY KEY (feed, minute)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS alerts (
    id TEXT PRIMARY KEY,
    rule TEXT NOT NULL,
    rule_type TEXT NOT NULL,
    metric TEXT NOT NULL,
    severity TEXT NOT NULL,
    state TEXT NOT NULL,
    started_at INTEGER NOT NULL,
    fired_at INTEGER,
    resolved_at INTEGER,
    last_breach_at INTEGER,
    value REAL NOT NULL,
    threshold REAL NOT NULL,
    expected REAL,
    message TEXT NOT NULL,
    labels TEXT NOT NULL DEFAULT '{}',
    detail TEXT NOT NULL DEFAULT '',
    incident_id TEXT
);
CREATE INDEX IF NOT EXISTS alerts_by_start ON alerts (started_at);
CREATE INDEX IF NOT EXISTS alerts_by_state ON alerts (state);
-- One row per incident; what is not filtered or sorted on lives in body (JSON, Incident.to_record()).
CREATE TABLE IF NOT EXISTS incidents (
    id TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    kind TEXT NOT NULL,
    severity TEXT NOT NULL,
    started_at INTEGER NOT NULL,
    resolved_at INTEGER,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS incidents_by_start ON incidents (started_at);
CREATE INDEX IF NOT EXISTS incidents_by_state ON incidents (state);
-- What analysts did to an incident (acknowledged it, wrote a note, labelled it false_alarm or expected),
-- one row per action in the order they happened; wall-clock seconds, like silences. Pruned with the incident.
CREATE TABLE IF NOT EXISTS incident_actions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    incident_id TEXT NOT NULL,
    action TEXT NOT NULL,
    by TEXT NOT NULL,
    at REAL NOT NULL,
    text TEXT NOT NULL DEFAULT '',
    label TEXT
);
CREATE INDEX IF NOT EXISTS incident_actions_by_incident ON incident_actions (incident_id, seq);
CREATE TABLE IF NOT EXISTS rule_state (
    key TEXT PRIMARY KEY,
    state TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS idempotency (
    key TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    created REAL NOT NULL,
    response TEXT NOT NULL
) WITHOUT ROWID;
"""

ALERT_COLUMNS = (
    "id", "rule", "rule_type", "metric", "severity", "state", "started_at", "fired_at",
    "resolved_at", "last_breach_at", "value", "threshold", "expected", "message", "labels", "detail", "incident_id",
)
# Columns added after the first release, with their definitions: a database written by an older
# version gains them when it is opened (SQLite's ADD COLUMN is instant, the rows keep their data).
ADDED_ALERT_COLUMNS = {"detail": "TEXT NOT NULL DEFAULT ''", "incident_id": "TEXT"}




def encode_counts(counts: dict[str, int]) -> str:
    """A minute's counts as "metric=count;...": a plain join, twice as fast as JSON on this hot path.

    Metric names never hold "=" or ";" (the thresholds file only admits letters, digits, "_", "-", ".").
    """
    return ";".join([f"{metric}={count}" for metric, count in counts.items()])


def decode_counts(text: str) -> dict[str, int]:
    out = {}
    for part in text.split(";"):
        if part:
            metric, _, count = part.partition("=")
            out[metric] = int(count)
    return out
# Write-ahead log bounds (see docs/notes/store.md). The ticker truncates the WAL once it passes
# WAL_TARGET_BYTES (checked every second); SQLite's own checkpoint after a commit is the safety net
# when nothing calls checkpoint(), at AUTO_CHECKPOINT_PAGES (~32 MB at 4 KB pages); after a
# checkpoint, the next commit shrinks the file to JOURNAL_SIZE_LIMIT. Together they keep the WAL
# under WAL_LIMIT_BYTES during sustained ingestion.
WAL_TARGET_BYTES = 4 * 1024 * 1024
AUTO_CHECKPOINT_PAGES = 8_192
JOURNAL_SIZE_LIMIT = WAL_TARGET_BYTES
WAL_LIMIT_BYTES = 64 * 1024 * 1024
# A checkpoint holds the write lock; it waits at most this long for readers before trying again later.
CHECKPOINT_BUSY_MS = 200
BUSY_TIMEOUT_MS = 30_000

log = logging.getLogger("monitor")


class StoreError(RuntimeError):
    """The store could not be read or written; the message says why (disk full, locked, ...)."""


@dataclass(frozen=True)
class StoreHealth:
    """Whether the store can be trusted with writes now, and if not, why."""

    ok: bool
    reason: str | None = None  # why not ok, for people: "the last write failed: database or disk is full"
    failed_at: float | None = None  # wall time of the failure that made it not ok


@dataclass
class PendingWrite:
    """Everything one ingest or tick changes, written in one transaction."""

    counts: dict[tuple[str, int], dict[str, int]]  # (feed, minute) -> the minute's full counts
    alerts: list[Alert]
    deleted_alerts: list[str]
    rule_states: dict[str, dict[str, Any]]
    meta: dict[str, Any]
    idempotency: tuple[str, str, float, str] | None = None
    # (feed, minute) -> counts to add to what is stored: minutes outside the memory window.
    count_deltas: dict[tuple[str, int], dict[str, int]] = field(default_factory=dict)
    incidents: list[Incident] = field(default_factory=list)  # copies, written whole

    def is_one_row(self) -> bool:
        """Only one minute's counts to write: one statement."""
        return len(self.counts) == 1 and not (
            self.count_deltas or self.alerts or self.deleted_alerts or self.rule_states or self.meta or self.idempotency
            or self.incidents
        )

    def is_empty(self) -> bool:
        return not (self.counts or self.count_deltas or self.alerts or self.deleted_alerts or self.rule_states
                    or self.meta or self.idempotency or self.incidents)


@dataclass(frozen=True)
class IncidentActionRow:
    """One stored analyst action on an incident: ``ack``, ``note`` or ``label`` (see detection/incident_actions.py)."""

    seq: int  # the order actions happened in, across all incidents
    incident_id: str
    action: str
    by: str
    at: float  # wall-clock epoch seconds
    text: str  # the note, the acknowledgement's note or the label's reason ('' when none)
    label: str | None = None


ACTION_COLUMNS = "seq, incident_id, action, by, at, text, label"
# Ids per query when reading the actions of many incidents (SQLite's bound-variable limit is 32,766, or 999 before 3.32).
_IDS_PER_QUERY = 500


class Store:
    """One writer connection (callers serialise writes), per-thread reader connections."""

    def __init__(self, path: str = ":memory:", synchronous: str = "normal"):
        if synchronous.lower() not in ("normal", "full", "off"):
            raise ValueError(f"synchronous must be normal, full or off, got {synchronous!r}")
        self.path = path
        self.in_memory = path in (":memory:", "")
        self._absolute = "" if self.in_memory else os.path.abspath(path)  # stat and readers never follow a chdir
        self._synchronous = synchronous.upper()
        self._lock = threading.RLock()
        self._local = threading.local()
        # The failure that makes health() not ok until the next successful commit: (wall time, message).
        self._write_failure: tuple[float, str] | None = None
        self._checkpoint_failure: tuple[float, str] | None = None
        try:
            self._writer = self._connect()
            with self._lock:
                self._writer.executescript(SCHEMA)
                _add_missing_columns(self._writer, "alerts", ADDED_ALERT_COLUMNS)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open store at {path!r}: {exc}") from None
        # The file this process writes to; if another file takes its place (or none), writes stop.
        self._identity = None if self.in_memory else _file_identity(self._absolute)

    def _connect(self, create: bool = True) -> sqlite3.Connection:
        target, uri = self.path or ":memory:", False
        if not create and not self.in_memory:
            # Readers never create a file: after the database was deleted they fail instead of
            # leaving an empty database at its path.
            target, uri = f"file:{quote(self._absolute)}?mode=rw", True
        conn = sqlite3.connect(target, check_same_thread=False, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000, uri=uri)
        if not self.in_memory:
            conn.execute("PRAGMA journal_mode=WAL")
            # Checkpoints (which fsync) run from checkpoint(), off the request path; this automatic
            # one after a commit is the safety net that bounds the WAL when nothing calls it.
            conn.execute(f"PRAGMA wal_autocheckpoint={AUTO_CHECKPOINT_PAGES}")
            conn.execute(f"PRAGMA journal_size_limit={JOURNAL_SIZE_LIMIT}")
        conn.execute(f"PRAGMA synchronous={self._synchronous}")
        return conn

    @contextmanager
    def _reader(self) -> Iterator[sqlite3.Connection]:
        """Readers in WAL mode see the last commit without blocking the writer."""
        if self.in_memory:
            with self._lock:
                yield self._writer
            return
        conn = getattr(self._local, "conn", None)
        if conn is None:
            self._check_file()  # never start reading a file that took the place of ours
            conn = self._local.conn = self._connect(create=False)
        yield conn

    # -- health --
    def _file_problem(self) -> str | None:
        """Why the file at ``path`` is no longer the one this process writes to, or None (one stat)."""
        if self._identity is None:
            return None
        identity = _file_identity(self._absolute)
        if identity == self._identity:
            return None
        what = "deleted" if identity is None else "replaced"
        return (f"the database file {self.path} was {what} while the monitor was running; writes are refused "
                f"because they would be lost; restart the monitor")

    def _check_file(self) -> None:
        problem = self._file_problem()
        if problem is not None:
            raise StoreError(problem)

    def health(self) -> StoreHealth:
        """ok, or why not: the file was deleted or replaced, or the last write (or checkpoint) failed.

        Cheap (one stat, no query): /api/health calls it on every request.
        """
        problem = self._file_problem()
        if problem is not None:
            return StoreHealth(False, problem, self._write_failure[0] if self._write_failure else None)
        failure = self._write_failure
        if failure is not None:
            return StoreHealth(False, f"the last write failed: {failure[1]}", failure[0])
        failure = self._checkpoint_failure
        if failure is not None:
            return StoreHealth(False, f"the last checkpoint failed: {failure[1]}", failure[0])
        return StoreHealth(True)

    def _failed(self, message: str) -> StoreError:
        self._write_failure = (time.time(), message)
        return StoreError(f"store write failed: {message}")

    def _rollback(self) -> None:
        """Leave the writer outside any transaction, whatever happened inside it."""
        conn = self._writer
        if not conn.in_transaction:
            return
        try:
            conn.execute("ROLLBACK")
        except sqlite3.Error:
            # A connection that cannot roll back is replaced: closing it discards the transaction.
            log.exception("store: ROLLBACK failed; reopening the writer connection")
            with suppress(sqlite3.Error):
                conn.close()
            self._writer = self._connect()

    def close(self) -> None:
        with self._lock:
            self._writer.close()

    # -- writing --
    def write(self, change: PendingWrite) -> None:
        self.write_many([change])

    def write_many(self, changes: list[PendingWrite]) -> None:
        """Apply the changes in order, all in one transaction (group commit): all or nothing.

        Any error, not only SQLite's (a value SQLite cannot bind raises OverflowError), rolls the
        transaction back and is raised as StoreError; returning means the transaction committed.
        """
        changes = [c for c in changes if not c.is_empty()]
        if not changes:
            return
        with self._lock:
            self._rollback()  # never build on a transaction an earlier failure left open
            try:
                self._check_file()  # one stat: a deleted or replaced file would swallow the write
                conn = self._writer
                if len(changes) == 1 and changes[0].is_one_row():
                    # The commonest write, one posted record: a single statement is atomic by
                    # itself, so it runs in SQLite's implicit transaction, saving BEGIN and COMMIT.
                    self._apply(conn, changes[0])
                else:
                    conn.execute("BEGIN IMMEDIATE")
                    for change in changes:
                        self._apply(conn, change)
                    conn.execute("COMMIT")
            except StoreError as exc:
                self._rollback()
                self._write_failure = (time.time(), str(exc))
                raise
            except sqlite3.Error as exc:
                self._rollback()
                raise self._failed(_describe(exc)) from exc
            except Exception as exc:
                # A value SQLite cannot take (OverflowError, ...): this write fails, but the store is
                # fine, so health is not changed by it.
                self._rollback()
                raise StoreError(f"store write failed: {_describe(exc)}") from exc
            except BaseException:
                self._rollback()
                raise
            self._write_failure = None

    @staticmethod
    def _apply(conn: sqlite3.Connection, change: PendingWrite) -> None:
        if change.counts:
            rows = [(feed, minute, encode_counts(counts)) for (feed, minute), counts in change.counts.items()]
            sql = "INSERT OR REPLACE INTO minute_counts (feed, minute, counts) VALUES (?, ?, ?)"
            if len(rows) == 1:  # a single posted record: execute() is cheaper than executemany()
                conn.execute(sql, rows[0])
            else:
                conn.executemany(sql, rows)
        for (feed, minute), delta in change.count_deltas.items():
            row = conn.execute(
                "SELECT counts FROM minute_counts WHERE feed = ? AND minute = ?", (feed, minute)
            ).fetchone()
            merged = decode_counts(row[0]) if row else {}
            for metric, count in delta.items():
                merged[metric] = merged.get(metric, 0) + count
            conn.execute(
                "INSERT OR REPLACE INTO minute_counts (feed, minute, counts) VALUES (?, ?, ?)",
                (feed, minute, encode_counts(merged)),
            )
        if change.deleted_alerts:
            conn.executemany("DELETE FROM alerts WHERE id = ?", [(i,) for i in change.deleted_alerts])
        if change.alerts:
            conn.executemany(
                f"INSERT OR REPLACE INTO alerts ({', '.join(ALERT_COLUMNS)}) "
                f"VALUES ({', '.join('?' * len(ALERT_COLUMNS))})",
                [_alert_row(a) for a in change.alerts],
            )
        if change.incidents:
            conn.executemany(
                "INSERT OR REPLACE INTO incidents (id, state, kind, severity, started_at, resolved_at, body) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(i.id, i.state, i.kind, i.severity, i.started_at, i.resolved_at, i.record_json())
                 for i in change.incidents],
            )
        if change.rule_states:
            conn.executemany(
                "INSERT OR REPLACE INTO rule_state (key, state) VALUES (?, ?)",
                [(k, json.dumps(v)) for k, v in change.rule_states.items()],
            )
        if change.meta:
            conn.executemany(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                [(k, json.dumps(v)) for k, v in change.meta.items()],
            )
        if change.idempotency:
            conn.execute(
                "INSERT OR REPLACE INTO idempotency (key, fingerprint, created, response) VALUES (?, ?, ?, ?)",
                change.idempotency,
            )

    def probe(self) -> None:
        """After a failed write, try a tiny one (a row in meta) so health recovers once writes work
        again, even with no traffic; does nothing while the store is healthy or its file is gone."""
        if self._write_failure is None or self._file_problem() is not None:
            return
        self.write(PendingWrite(counts={}, alerts=[], deleted_alerts=[], rule_states={}, meta={"store_probe": time.time()}))

    def wal_bytes(self) -> int:
        """Size of the write-ahead log file now (0 without one)."""
        if self.in_memory:
            return 0
        try:
            return os.stat(self._absolute + "-wal").st_size
        except OSError:
            return 0

    def checkpoint(self) -> bool:
        """Copy the WAL into the database file and truncate it to zero bytes; True when it was.

        A PASSIVE checkpoint beside a busy writer never catches up with it, so the log is never
        restarted and grows without bound (94 MB in a 10-minute soak). TRUNCATE on the writer
        connection, under the write lock, has no writer to race: commits wait for it (a few ms), and
        it waits at most CHECKPOINT_BUSY_MS for readers, else it gives up until the next call.
        """
        if self.in_memory:
            return True
        with self._lock:
            conn = self._writer
            try:
                self._rollback()
                self._check_file()
                conn.execute(f"PRAGMA busy_timeout={CHECKPOINT_BUSY_MS}")
                try:
                    busy, _log, _done = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
                finally:
                    conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            except (sqlite3.Error, StoreError) as exc:
                self._checkpoint_failure = (time.time(), _describe(exc))
                raise StoreError(f"store checkpoint failed: {exc}") from None
            self._checkpoint_failure = None
            return not busy

    def prune(self, before_minute: int, idempotency_before: float) -> dict[str, int]:
        """Delete minutes, finished alerts and resolved incidents older than ``before_minute``, and expired
        idempotency keys. Open incidents are kept, however old."""
        with self._lock:
            self._rollback()
            conn = self._writer
            try:
                self._check_file()
                conn.execute("BEGIN IMMEDIATE")
                # Per feed, so the delete walks the (feed, minute) primary key instead of the table.
                feeds = [f for (f,) in conn.execute("SELECT DISTINCT feed FROM minute_counts")]
                minutes = sum(
                    conn.execute("DELETE FROM minute_counts WHERE feed = ? AND minute < ?", (f, before_minute)).rowcount
                    for f in feeds
                )
                alerts = conn.execute(
                    "DELETE FROM alerts WHERE state = 'resolved' AND resolved_at < ?", (before_minute,)
                ).rowcount
                # An incident's actions go with it, in the same transaction (they mean nothing without it).
                conn.execute(
                    "DELETE FROM incident_actions WHERE incident_id IN "
                    "(SELECT id FROM incidents WHERE state = 'resolved' AND resolved_at < ?)", (before_minute,)
                )
                incidents = conn.execute(
                    "DELETE FROM incidents WHERE state = 'resolved' AND resolved_at < ?", (before_minute,)
                ).rowcount
                keys = conn.execute("DELETE FROM idempotency WHERE created < ?", (idempotency_before,)).rowcount
                conn.execute("COMMIT")
            except StoreError:
                self._rollback()
                raise
            except Exception as exc:
                self._rollback()
                raise StoreError(f"store prune failed: {_describe(exc)}") from exc
        return {"minutes": minutes, "alerts": alerts, "incidents": incidents, "idempotency_keys": keys}

    # -- for engine modules that keep their own tables in the same file (delivery log, silences) --
    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction on the writer connection, serialised with ingests by the same lock."""
        with self._lock:
            self._rollback()
            conn = self._writer
            try:
                self._check_file()
                conn.execute("BEGIN IMMEDIATE")
                yield conn
                conn.execute("COMMIT")
            except StoreError as exc:
                self._rollback()
                self._write_failure = (time.time(), str(exc))
                raise
            except sqlite3.Error as exc:
                self._rollback()
                raise self._failed(_describe(exc)) from None
            except BaseException:
                # The caller's own error (a ValueError from its checks, say): not a store failure.
                self._rollback()
                raise
            self._write_failure = None

    def query(self, sql: str, params: Iterable[Any] = ()) -> list[tuple]:
        """A read on this thread's reader connection (sees the last commit)."""
        return self._query(sql, params)

    # -- reading --
    def _query(self, sql: str, params: Iterable[Any] = ()) -> list[tuple]:
        try:
            with self._reader() as conn:
                return conn.execute(sql, tuple(params)).fetchall()
        except sqlite3.Error as exc:
            raise StoreError(f"store read failed: {exc}") from None

    def counts_since(self, minute: int) -> list[tuple[str, int, int]]:
        """(metric, minute, count) for every stored minute from ``minute`` on."""
        rows: list[tuple[str, int, int]] = []
        for (feed,) in self._query("SELECT DISTINCT feed FROM minute_counts"):
            for at, counts in self._query(
                "SELECT minute, counts FROM minute_counts WHERE feed = ? AND minute >= ?", (feed, minute)
            ):
                rows += [(metric, at, count) for metric, count in decode_counts(counts).items()]
        return rows

    def alerts(self, states: Iterable[str] | None = None, limit: int = 100) -> list[Alert]:
        return [_row_alert(r) for r in self._newest("alerts", ", ".join(ALERT_COLUMNS), states, limit)]

    def _newest(self, table: str, cols: str, states: Iterable[str] | None, limit: int,
                before: tuple[int, str] | None = None) -> list[tuple]:
        """Rows of ``table`` newest first, in any of ``states`` (all when None).

        ``before`` is a cursor, the (started_at, id) of the last row of a previous page: only the rows
        after it in this order come back. A cursor, not an offset, so a page does not shift when new rows
        arrive at the top while someone pages through the history.
        """
        where: list[str] = []
        params: list[Any] = []
        if states is not None:
            wanted = list(states)
            where.append(f"state IN ({', '.join('?' * len(wanted))})")
            params += wanted
        if before is not None:
            where.append("(started_at < ? OR (started_at = ? AND id > ?))")
            params += [before[0], before[0], before[1]]
        condition = f" WHERE {' AND '.join(where)}" if where else ""
        return self._query(f"SELECT {cols} FROM {table}{condition} ORDER BY started_at DESC, id LIMIT ?", [*params, limit])

    def alerts_by_id(self, alert_ids: Iterable[str]) -> list[Alert]:
        """The stored alerts among ``alert_ids`` (a pruned one is left out), oldest first."""
        wanted = list(dict.fromkeys(alert_ids))
        out: list[Alert] = []
        for start in range(0, len(wanted), _IDS_PER_QUERY):
            chunk = wanted[start:start + _IDS_PER_QUERY]
            out += [_row_alert(r) for r in self._query(
                f"SELECT {', '.join(ALERT_COLUMNS)} FROM alerts WHERE id IN ({', '.join('?' * len(chunk))})", chunk)]
        return sorted(out, key=lambda a: (a.started_at, a.id))

    def open_alerts(self) -> list[Alert]:
        return self.alerts(OPEN_STATES, limit=1_000_000)

    def incidents(self, states: Iterable[str] | None = None, limit: int = 100,
                  before: tuple[int, str] | None = None) -> list[Incident]:
        """Incidents newest first (after the cursor ``before``, see ``_newest``); a row that cannot be read
        is logged and left out."""
        rows = self._newest("incidents", "id, state, kind, severity, started_at, resolved_at, body", states, limit,
                            before)
        return [i for i in map(_row_incident, rows) if i is not None]

    def incident(self, incident_id: str) -> Incident | None:
        rows = self._query(
            "SELECT id, state, kind, severity, started_at, resolved_at, body FROM incidents WHERE id = ?", (incident_id,)
        )
        return _row_incident(rows[0]) if rows else None

    def open_incidents(self) -> list[Incident]:
        return self.incidents([OPEN], limit=1_000_000)

    # -- incident actions (acknowledgements, notes, labels) --
    def add_incident_action(
        self, incident_id: str, action: str, by: str, at: float, text: str = "", label: str | None = None,
        check: Callable[[Incident, list[IncidentActionRow]], None] | None = None,
    ) -> tuple[Incident, list[IncidentActionRow]]:
        """Store one action, after ``check(incident, its actions so far)`` in the same write transaction.

        ``check`` sees the committed state (no ingest can commit between it and the insert) and refuses by
        raising; then nothing is written. Raises ``LookupError`` when there is no such incident.
        Returns the incident and all of its actions, the new one last.
        """
        with self.transaction() as conn:
            rows = conn.execute(
                "SELECT id, state, kind, severity, started_at, resolved_at, body FROM incidents WHERE id = ?",
                (incident_id,),
            ).fetchall()
            incident = _row_incident(rows[0]) if rows else None
            actions = [IncidentActionRow(*r) for r in conn.execute(
                f"SELECT {ACTION_COLUMNS} FROM incident_actions WHERE incident_id = ? ORDER BY seq", (incident_id,))]
            if incident is None:
                raise LookupError(incident_id)
            if check is not None:
                check(incident, actions)
            cursor = conn.execute(
                "INSERT INTO incident_actions (incident_id, action, by, at, text, label) VALUES (?, ?, ?, ?, ?, ?)",
                (incident_id, action, by, at, text, label),
            )
            actions.append(IncidentActionRow(int(cursor.lastrowid or 0), incident_id, action, by, at, text, label))
        return incident, actions

    def incident_actions(self, incident_ids: Iterable[str]) -> dict[str, list[IncidentActionRow]]:
        """The actions of each of ``incident_ids`` that has any, oldest first."""
        wanted = list(dict.fromkeys(incident_ids))
        out: dict[str, list[IncidentActionRow]] = {}
        for start in range(0, len(wanted), _IDS_PER_QUERY):
            chunk = wanted[start:start + _IDS_PER_QUERY]
            rows = self._query(
                f"SELECT {ACTION_COLUMNS} FROM incident_actions WHERE incident_id IN ({', '.join('?' * len(chunk))}) "
                "ORDER BY seq", chunk)
            for row in rows:
                out.setdefault(row[1], []).append(IncidentActionRow(*row))
        return out

    def labelled_incidents(self, limit: int, label: str | None = None) -> list[tuple[IncidentActionRow, Incident]]:
        """Each labelled incident's newest label with the incident, newest label first; only ``label`` ones if given."""
        wanted = "" if label is None else "AND a.label = ? "
        rows = self._query(
            f"SELECT a.{ACTION_COLUMNS.replace(', ', ', a.')}, i.id, i.state, i.kind, i.severity, i.started_at, "
            "i.resolved_at, i.body FROM incident_actions a JOIN incidents i ON i.id = a.incident_id "
            "WHERE a.action = 'label' AND a.seq = (SELECT MAX(b.seq) FROM incident_actions b "
            f"WHERE b.incident_id = a.incident_id AND b.action = 'label') {wanted}ORDER BY a.seq DESC LIMIT ?",
            (limit,) if label is None else (label, limit))
        out = []
        for row in rows:
            incident = _row_incident(row[7:])
            if incident is not None:
                out.append((IncidentActionRow(*row[:7]), incident))
        return out

    def rule_states(self) -> dict[str, dict[str, Any]]:
        return {k: json.loads(v) for k, v in self._query("SELECT key, state FROM rule_state")}

    def meta(self) -> dict[str, Any]:
        return {k: json.loads(v) for k, v in self._query("SELECT key, value FROM meta")}

    def idempotent_response(self, key: str, since: float) -> tuple[str, str] | None:
        rows = self._query(
            "SELECT fingerprint, response FROM idempotency WHERE key = ? AND created >= ?", (key, since)
        )
        return (rows[0][0], rows[0][1]) if rows else None

    def count_rows(self, table: str) -> int:
        if table not in ("minute_counts", "alerts", "incidents", "incident_actions", "rule_state", "meta", "idempotency"):
            raise ValueError(table)
        return self._query(f"SELECT COUNT(*) FROM {table}")[0][0]


def _file_identity(path: str) -> tuple[int, int] | None:
    """(device, inode) of the file at ``path``, or None when there is none."""
    try:
        found = os.stat(path)
    except FileNotFoundError:
        return None
    return found.st_dev, found.st_ino


def _describe(exc: BaseException) -> str:
    """SQLite's errors speak for themselves; others get their type so the log says what broke."""
    if isinstance(exc, (sqlite3.Error, StoreError)):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def _add_missing_columns(conn: sqlite3.Connection, table: str, columns: dict[str, str]) -> None:
    present = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
    for name, definition in columns.items():
        if name not in present:
            conn.execute(f"ALTER TABLE {table} ADD COLUMN {name} {definition}")


def _alert_row(alert: Alert) -> tuple:
    return (
        alert.id, alert.rule, alert.rule_type, alert.metric, alert.severity, alert.state,
        alert.started_at, alert.fired_at, alert.resolved_at, alert.last_breach_at,
        alert.value, alert.threshold, alert.expected, alert.message, json.dumps(alert.labels),
        alert.detail, alert.incident_id,
    )


def _row_alert(row: tuple) -> Alert:
    values = dict(zip(ALERT_COLUMNS, row, strict=True))
    values["labels"] = json.loads(values["labels"] or "{}")
    return Alert(**values)


def _row_incident(row: tuple) -> Incident | None:
    """One stored incident, or None (logged) when its row cannot be read: one bad row must not hide the rest."""
    try:
        iid, state, kind, severity, started_at, resolved_at, body = row
        return Incident.from_record(iid, state, kind, severity, started_at, resolved_at, json.loads(body))
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        log.error("store: incident row %r cannot be read, left out: %s: %s", row[0] if row else None,
                  type(exc).__name__, exc)
        return None
