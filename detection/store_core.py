"""What every store backend shares: the records it keeps, its schema, and the backend-neutral SQL.

``SqlStore`` holds the semantics (a write returns only after COMMIT, all of a group commit in one
transaction, the health a failed write leaves behind, pruning, the readers); a backend (SQLite in
store.py, PostgreSQL in store_pg.py) supplies its connections, its error types and the one table
whose layout differs, ``minute_counts``. Statements use ``?`` placeholders and portable upserts
(``INSERT ... ON CONFLICT (...) DO UPDATE``), which SQLite (3.24+) and PostgreSQL both run.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import Any, ClassVar

from .alerts import OPEN_STATES, Alert
from .incidents import OPEN, Incident
from .store_schema import SQLITE, Dialect, Migration, NewerSchema, SqlConnection, add_missing_columns, migrate

log = logging.getLogger("monitor")

# Today's tables but minute_counts (whose layout is the backend's, see COUNTS_TABLE in each).
SCHEMA = (
    """CREATE TABLE IF NOT EXISTS alerts (
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
)""",
    "CREATE INDEX IF NOT EXISTS alerts_by_start ON alerts (started_at)",
    "CREATE INDEX IF NOT EXISTS alerts_by_state ON alerts (state)",
    # One row per incident; what is not filtered or sorted on lives in body (JSON, Incident.to_record()).
    """CREATE TABLE IF NOT EXISTS incidents (
    id TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    kind TEXT NOT NULL,
    severity TEXT NOT NULL,
    started_at INTEGER NOT NULL,
    resolved_at INTEGER,
    body TEXT NOT NULL
)""",
    "CREATE INDEX IF NOT EXISTS incidents_by_start ON incidents (started_at)",
    "CREATE INDEX IF NOT EXISTS incidents_by_state ON incidents (state)",
    # What analysts did to an incident, one row per action in the order they happened; wall-clock seconds,
    # like silences. Pruned with the incident.
    """CREATE TABLE IF NOT EXISTS incident_actions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    incident_id TEXT NOT NULL,
    action TEXT NOT NULL,
    by TEXT NOT NULL,
    at REAL NOT NULL,
    text TEXT NOT NULL DEFAULT '',
    label TEXT
)""",
    "CREATE INDEX IF NOT EXISTS incident_actions_by_incident ON incident_actions (incident_id, seq)",
    "CREATE TABLE IF NOT EXISTS rule_state (key TEXT PRIMARY KEY, state TEXT NOT NULL) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID",
    """CREATE TABLE IF NOT EXISTS idempotency (
    key TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    created REAL NOT NULL,
    response TEXT NOT NULL
) WITHOUT ROWID""",
)

ALERT_COLUMNS = (
    "id", "rule", "rule_type", "metric", "severity", "state", "started_at", "fired_at",
    "resolved_at", "last_breach_at", "value", "threshold", "expected", "message", "labels", "detail", "incident_id",
)
# Columns added after the first release: a database written by an older version gains them (migration 2).
ADDED_ALERT_COLUMNS = {"detail": "TEXT NOT NULL DEFAULT ''", "incident_id": "TEXT"}
INCIDENT_COLUMNS = ("id", "state", "kind", "severity", "started_at", "resolved_at", "body")
ACTION_COLUMNS = "seq, incident_id, action, by, at, text, label"
TABLES = ("minute_counts", "alerts", "incidents", "incident_actions", "rule_state", "meta", "idempotency")
# Ids per query when reading many rows by id (SQLite's bound-variable limit is 32,766, or 999 before 3.32).
IDS_PER_QUERY = 500


def upsert(table: str, columns: Iterable[str], keys: Iterable[str]) -> str:
    """INSERT that replaces the row with the same key: the portable form of SQLite's INSERT OR REPLACE."""
    columns, keys = list(columns), list(keys)
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in keys)
    return (f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))}) "
            f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {updates}")


UPSERT_ALERT = upsert("alerts", ALERT_COLUMNS, ["id"])
UPSERT_INCIDENT = upsert("incidents", INCIDENT_COLUMNS, ["id"])
UPSERT_RULE_STATE = upsert("rule_state", ["key", "state"], ["key"])
UPSERT_META = upsert("meta", ["key", "value"], ["key"])
UPSERT_IDEMPOTENCY = upsert("idempotency", ["key", "fingerprint", "created", "response"], ["key"])


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
    # Several instances (PostgreSQL, detection/ingest_log.py): whether this write's counts were judged by the
    # engine that staged it (the leader's) or wait for the leader (a standby's); which ingest-log rows of other
    # instances the leader judged in it; and whether it carries the leader's judging, so it must check that
    # this instance still leads (the fence).
    judged: bool = True
    judged_log: list[int] = field(default_factory=list)
    fenced: bool = False
    log_id: int | None = None  # set by the store: the ingest-log row this write added
    key_taken: bool = False  # set by the store: another request holds the Idempotency-Key; nothing was written
    # False: the write can be derived again from what is stored (a cluster leader's judging, redone from the
    # ingest log after a crash), so it need not wait for the disk (PostgreSQL: synchronous_commit off).
    durable: bool = True

    def is_one_row(self) -> bool:
        """Only one minute's counts to write: one statement."""
        return len(self.counts) == 1 and not (
            self.count_deltas or self.alerts or self.deleted_alerts or self.rule_states or self.meta or self.idempotency
            or self.incidents or self.judged_log
        )

    def is_empty(self) -> bool:
        return not (self.counts or self.count_deltas or self.alerts or self.deleted_alerts or self.rule_states
                    or self.meta or self.idempotency or self.incidents or self.judged_log)


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


def encode_counts(counts: dict[str, int]) -> str:
    """A minute's counts as "metric=count;...": a plain join, twice as fast as JSON on this hot path.

    Metric names never hold ";" (the thresholds file only admits letters, digits, "_", "-", "."; label values
    exclude it); a slice's name holds "=" (``status:denied@acquirer=acq-07``), so the count is after the last one.
    """
    return ";".join([f"{metric}={count}" for metric, count in counts.items()])


def decode_counts(text: str) -> dict[str, int]:
    out = {}
    for part in text.split(";"):
        if part:
            metric, _, count = part.rpartition("=")
            out[metric] = int(count)
    return out


def apply_state(conn: SqlConnection, change: PendingWrite) -> None:
    """Everything of a change but its counts, on either backend."""
    if change.deleted_alerts:
        conn.executemany("DELETE FROM alerts WHERE id = ?", [(i,) for i in change.deleted_alerts])
    if change.alerts:
        conn.executemany(UPSERT_ALERT, [alert_row(a) for a in change.alerts])
    if change.incidents:
        conn.executemany(UPSERT_INCIDENT, [(i.id, i.state, i.kind, i.severity, i.started_at, i.resolved_at,
                                            i.record_json()) for i in change.incidents])
    if change.rule_states:
        conn.executemany(UPSERT_RULE_STATE, [(k, json.dumps(v)) for k, v in change.rule_states.items()])
    if change.meta:
        conn.executemany(UPSERT_META, [(k, json.dumps(v)) for k, v in change.meta.items()])
    if change.idempotency:
        conn.execute(UPSERT_IDEMPOTENCY, change.idempotency)


def core_migrations(counts_table: str) -> tuple[Migration, ...]:
    """The store's own tables; ``counts_table`` is the backend's minute_counts."""
    def tables(conn: SqlConnection, dialect: Dialect) -> None:
        for statement in (counts_table, *SCHEMA):
            conn.execute(dialect.ddl(statement), ())

    return (
        Migration(1, "the tables of version 0.1 (minute counts, alerts, incidents, actions, rule state, meta, "
                     "idempotency keys)", tables),
        Migration(2, "alerts gain detail and incident_id (a file from before incidents)",
                  add_missing_columns("alerts", ADDED_ALERT_COLUMNS)),
    )


class SqlStore(ABC):
    """One writer connection serialised by ``_lock`` (callers group their commits), readers beside it.

    A backend sets ``_writer`` and ``name``, and implements ``_reader``, ``_rollback``, ``close``,
    ``_apply`` (its counts, then ``apply_state``), ``counts_since`` and ``_prune_minutes``.
    """

    dialect: ClassVar[Dialect] = SQLITE
    # The driver's errors: any of them in a write is a store failure (health says so until a write works).
    driver_errors: ClassVar[tuple[type[Exception], ...]] = ()
    # Errors that say a value was refused (out of range, ...): that write fails, the store is fine (health unchanged).
    value_errors: ClassVar[tuple[type[Exception], ...]] = ()
    # A single statement is its own transaction (SQLite's implicit one): the commonest write skips BEGIN.
    one_statement_is_atomic: ClassVar[bool] = True
    # Counts are written as deltas added in the database (several instances may write the same minute), and
    # every write with counts goes to the ingest log (detection/ingest_log.py): PostgreSQL.
    shared: ClassVar[bool] = False
    name: str
    _writer: Any

    def __init__(self) -> None:
        self._lock = threading.RLock()
        # The failure that makes health() not ok until the next successful commit: (wall time, message).
        self._write_failure: tuple[float, str] | None = None

    # -- backend hooks --
    @abstractmethod
    def _reader(self) -> AbstractContextManager[SqlConnection]:
        """A connection that sees the last commit (SQLite: this thread's; PostgreSQL: one from the pool)."""

    @abstractmethod
    def _rollback(self) -> None:
        """Leave the writer outside any transaction, whatever happened inside it."""

    def _writer_connection(self) -> SqlConnection:
        return self._writer

    @staticmethod
    @abstractmethod
    def _apply(conn: Any, change: PendingWrite) -> None:
        """Write one change's counts, then its state (``apply_state``), on the writer inside a transaction."""

    def _apply_group(self, conn: Any, changes: list[PendingWrite]) -> None:
        """Every change of one transaction, in order (PostgreSQL adds its fence and ingest log)."""
        for change in changes:
            self._apply(conn, change)

    @abstractmethod
    def _prune_minutes(self, conn: SqlConnection, before_minute: int) -> int:
        """Delete the minute counts older than ``before_minute``; how many rows went."""

    @abstractmethod
    def counts_since(self, minute: int) -> list[tuple[str, int, int]]:
        """(metric, minute, count) for every stored minute from ``minute`` on."""

    def _file_problem(self) -> str | None:
        """Why the database is no longer the one this process writes to (SQLite's file), or None."""
        return None

    def _check_file(self) -> None:
        problem = self._file_problem()
        if problem is not None:
            raise StoreError(problem)

    def describe(self, exc: BaseException) -> str:
        """The driver's errors speak for themselves; others get their type so the log says what broke."""
        if isinstance(exc, (StoreError, *self.driver_errors)):
            return str(exc)
        return f"{type(exc).__name__}: {exc}"

    @abstractmethod
    def close(self) -> None:
        """Close the writer and every reader."""

    # -- schema --
    def migrate(self, component: str, migrations: tuple[Migration, ...]) -> int:
        """Bring ``component``'s tables to the newest version, in one transaction; the version found before."""
        try:
            with self.transaction() as conn:
                return migrate(conn, self.dialect, component, migrations)
        except NewerSchema as exc:
            raise StoreError(f"cannot open store {self.name}: {exc}") from None

    def has_table(self, table: str) -> bool:
        try:
            with self._reader() as conn:
                return self.dialect.has_table(conn, table)
        except self.driver_errors as exc:
            raise StoreError(f"store read failed: {self.describe(exc)}") from None

    # -- health --
    def health(self) -> StoreHealth:
        """ok, or why not: the database went away, or the last write (or checkpoint) failed.

        Cheap (no query): /api/health calls it on every request.
        """
        problem = self._file_problem()
        if problem is not None:
            return StoreHealth(False, problem, self._write_failure[0] if self._write_failure else None)
        failure = self._write_failure
        if failure is not None:
            return StoreHealth(False, f"the last write failed: {failure[1]}", failure[0])
        return StoreHealth(True)

    def _failed(self, message: str) -> StoreError:
        self._write_failure = (time.time(), message)
        return StoreError(f"store write failed: {message}")

    def probe(self) -> None:
        """After a failed write, try a tiny one (a row in meta) so health recovers once writes work
        again, even with no traffic; does nothing while the store is healthy or its file is gone."""
        if self._write_failure is None or self._file_problem() is not None:
            return
        self.write(PendingWrite(counts={}, alerts=[], deleted_alerts=[], rule_states={}, meta={"store_probe": time.time()}))

    def wal_bytes(self) -> int:
        """Size of the write-ahead log file the ticker bounds; 0 where the database manages its own."""
        return 0

    def checkpoint(self) -> bool:
        """Truncate the write-ahead log (SQLite); the database server does its own elsewhere."""
        return True

    # -- writing --
    def write(self, change: PendingWrite) -> None:
        self.write_many([change])

    def write_many(self, changes: list[PendingWrite]) -> None:
        """Apply the changes in order, all in one transaction (group commit): all or nothing.

        Any error, not only the driver's (a value it cannot bind raises OverflowError), rolls the
        transaction back and is raised as StoreError; returning means the transaction committed.
        """
        changes = [c for c in changes if not c.is_empty()]
        if not changes:
            return
        with self._lock:
            try:
                self._rollback()  # never build on a transaction an earlier failure left open
                self._check_file()  # one stat: a deleted or replaced file would swallow the write
                conn = self._writer_connection()
                if self.one_statement_is_atomic and len(changes) == 1 and changes[0].is_one_row():
                    # The commonest write, one posted record: a single statement is atomic by
                    # itself, so it runs in an implicit transaction, saving BEGIN and COMMIT.
                    self._apply(conn, changes[0])
                else:
                    conn.execute(self.dialect.begin, ())
                    self._apply_group(conn, changes)
                    conn.execute("COMMIT", ())
            except StoreError as exc:
                self._rollback_quietly()
                self._write_failure = (time.time(), str(exc))
                raise
            except self.value_errors as exc:
                self._rollback_quietly()
                raise StoreError(f"store write failed: {self.describe(exc)}") from exc
            except self.driver_errors as exc:
                self._rollback_quietly()
                raise self._failed(self.describe(exc)) from exc
            except Exception as exc:
                # A value the driver cannot take (OverflowError, ...): this write fails, but the store is
                # fine, so health is not changed by it.
                self._rollback_quietly()
                raise StoreError(f"store write failed: {self.describe(exc)}") from exc
            except BaseException:
                self._rollback_quietly()
                raise
            self._write_failure = None

    def _rollback_quietly(self) -> None:
        """Roll back after a failure; a rollback that fails too is logged (the next write retries it)."""
        try:
            self._rollback()
        except Exception as exc:
            log.warning("store: rollback after a failed write failed too: %s", self.describe(exc))

    def prune(self, before_minute: int, idempotency_before: float) -> dict[str, int]:
        """Delete minutes, finished alerts and resolved incidents older than ``before_minute``, and expired
        idempotency keys. Open incidents are kept, however old."""
        with self.transaction(failure_counts=False) as conn:
            minutes = self._prune_minutes(conn, before_minute)
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
        return {"minutes": minutes, "alerts": alerts, "incidents": incidents, "idempotency_keys": keys}

    # -- for engine modules that keep their own tables in the same database (delivery log, silences) --
    @contextmanager
    def transaction(self, failure_counts: bool = True) -> Iterator[SqlConnection]:
        """One write transaction on the writer connection, serialised with ingests by the same lock.

        With ``failure_counts`` false (prune), a failure raises StoreError without marking health.
        """
        with self._lock:
            try:
                self._rollback()
                self._check_file()
                conn = self._writer_connection()
                conn.execute(self.dialect.begin, ())
            except StoreError:
                raise
            except self.driver_errors as exc:
                raise (self._failed(self.describe(exc)) if failure_counts
                       else StoreError(f"store write failed: {self.describe(exc)}")) from None
            try:
                yield conn
                conn.execute("COMMIT", ())
            except StoreError as exc:
                self._rollback_quietly()
                if failure_counts:
                    self._write_failure = (time.time(), str(exc))
                raise
            except self.value_errors as exc:
                self._rollback_quietly()
                raise StoreError(f"store write failed: {self.describe(exc)}") from None
            except self.driver_errors as exc:
                self._rollback_quietly()
                if failure_counts:
                    raise self._failed(self.describe(exc)) from None
                raise StoreError(f"store write failed: {self.describe(exc)}") from None
            except BaseException:
                # The caller's own error (a ValueError from its checks, say): not a store failure.
                self._rollback_quietly()
                raise
            if failure_counts:
                self._write_failure = None

    def query(self, sql: str, params: Iterable[Any] = ()) -> list[tuple]:
        """A read on a reader connection (sees the last commit)."""
        return self._query(sql, params)

    # -- reading --
    def _query(self, sql: str, params: Iterable[Any] = ()) -> list[tuple]:
        try:
            with self._reader() as conn:
                return list(conn.execute(sql, tuple(params)).fetchall())
        except self.driver_errors as exc:
            raise StoreError(f"store read failed: {self.describe(exc)}") from None

    def alerts(self, states: Iterable[str] | None = None, limit: int = 100) -> list[Alert]:
        return [row_alert(r) for r in self._newest("alerts", ", ".join(ALERT_COLUMNS), states, limit)]

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
        for start in range(0, len(wanted), IDS_PER_QUERY):
            chunk = wanted[start:start + IDS_PER_QUERY]
            out += [row_alert(r) for r in self._query(
                f"SELECT {', '.join(ALERT_COLUMNS)} FROM alerts WHERE id IN ({', '.join('?' * len(chunk))})", chunk)]
        return sorted(out, key=lambda a: (a.started_at, a.id))

    def open_alerts(self) -> list[Alert]:
        return self.alerts(OPEN_STATES, limit=1_000_000)

    def incidents(self, states: Iterable[str] | None = None, limit: int = 100,
                  before: tuple[int, str] | None = None) -> list[Incident]:
        """Incidents newest first (after the cursor ``before``, see ``_newest``); a row that cannot be read
        is logged and left out."""
        rows = self._newest("incidents", ", ".join(INCIDENT_COLUMNS), states, limit, before)
        return [i for i in map(row_incident, rows) if i is not None]

    def incident(self, incident_id: str) -> Incident | None:
        rows = self._query(f"SELECT {', '.join(INCIDENT_COLUMNS)} FROM incidents WHERE id = ?", (incident_id,))
        return row_incident(rows[0]) if rows else None

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
            rows = conn.execute(f"SELECT {', '.join(INCIDENT_COLUMNS)} FROM incidents WHERE id = ?",
                                (incident_id,)).fetchall()
            incident = row_incident(rows[0]) if rows else None
            actions = [IncidentActionRow(*r) for r in conn.execute(
                f"SELECT {ACTION_COLUMNS} FROM incident_actions WHERE incident_id = ? ORDER BY seq", (incident_id,))]
            if incident is None:
                raise LookupError(incident_id)
            if check is not None:
                check(incident, actions)
            seq = conn.execute(
                "INSERT INTO incident_actions (incident_id, action, by, at, text, label) VALUES (?, ?, ?, ?, ?, ?) "
                "RETURNING seq",
                (incident_id, action, by, at, text, label),
            ).fetchone()[0]
            actions.append(IncidentActionRow(int(seq), incident_id, action, by, at, text, label))
        return incident, actions

    def incident_actions(self, incident_ids: Iterable[str]) -> dict[str, list[IncidentActionRow]]:
        """The actions of each of ``incident_ids`` that has any, oldest first."""
        wanted = list(dict.fromkeys(incident_ids))
        out: dict[str, list[IncidentActionRow]] = {}
        for start in range(0, len(wanted), IDS_PER_QUERY):
            chunk = wanted[start:start + IDS_PER_QUERY]
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
            incident = row_incident(row[7:])
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
        """Rows of one of the store's tables (for minute_counts: stored (feed, minute) pairs)."""
        if table not in TABLES:
            raise ValueError(table)
        return self._query(f"SELECT COUNT(*) FROM {table}")[0][0]


def alert_row(alert: Alert) -> tuple:
    return (
        alert.id, alert.rule, alert.rule_type, alert.metric, alert.severity, alert.state,
        alert.started_at, alert.fired_at, alert.resolved_at, alert.last_breach_at,
        alert.value, alert.threshold, alert.expected, alert.message, json.dumps(alert.labels),
        alert.detail, alert.incident_id,
    )


def row_alert(row: tuple) -> Alert:
    values = dict(zip(ALERT_COLUMNS, row, strict=True))
    values["labels"] = json.loads(values["labels"] or "{}")
    return Alert(**values)


def row_incident(row: tuple) -> Incident | None:
    """One stored incident, or None (logged) when its row cannot be read: one bad row must not hide the rest."""
    try:
        iid, state, kind, severity, started_at, resolved_at, body = row
        return Incident.from_record(iid, state, kind, severity, started_at, resolved_at, json.loads(body))
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        log.error("store: incident row %r cannot be read, left out: %s: %s", row[0] if row else None,
                  type(exc).__name__, exc)
        return None
