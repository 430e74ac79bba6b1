"""PostgreSQL backend (psycopg 3): one writer connection serialised like SQLite's, a pool of readers.

Chosen by a ``postgresql://user@host:5432/db`` URL in ``--db`` / ``MONITOR_DB``. Semantics are
SQLite's (store_core.SqlStore): a write returns after COMMIT, a group commit is one transaction.
Minute counts are one row per (feed, minute, metric), so a delta is an add in SQL
(``ON CONFLICT ... DO UPDATE SET count = minute_counts.count + excluded.count``): what several
instances writing the same minute will need.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import replace
from functools import lru_cache
from typing import Any, ClassVar

import psycopg
import psycopg_pool
from psycopg import pq

from . import ingest_log
from .ingest_log import Leader, LogEntry
from .redact import redact_text, redact_url
from .store_core import PendingWrite, SqlStore, StoreError, apply_state, core_migrations
from .store_schema import POSTGRESQL, Dialect, SqlConnection

log = logging.getLogger("monitor")

COUNTS_TABLE = """CREATE TABLE IF NOT EXISTS minute_counts (
    feed TEXT NOT NULL,
    minute INTEGER NOT NULL,
    metric TEXT NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (feed, minute, metric)
)"""
MIGRATIONS = core_migrations(COUNTS_TABLE)
# One statement for all of a change's rows (four arrays, unnested): a batch's thousand rows in one round trip,
# where executemany took one each (4x slower for a 1,000-record batch). Keys are unique within a change,
# as ON CONFLICT DO UPDATE requires.
_COUNT_ROWS = ("INSERT INTO minute_counts (feed, minute, metric, count) "
               "SELECT * FROM unnest(?::text[], ?::bigint[], ?::text[], ?::bigint[]) "
               "ON CONFLICT (feed, minute, metric) DO UPDATE SET count = ")
SET_COUNT = _COUNT_ROWS + "excluded.count"  # a minute's full counts replace what is stored
ADD_COUNT = _COUNT_ROWS + "minute_counts.count + excluded.count"  # a delta adds to it, in the database
CONNECT_TIMEOUT_SECONDS = 5
READERS = 8  # pooled reader connections at most (API, dashboard and delivery threads read at once)
READER_WAIT_SECONDS = 10.0  # a read waits this long for a free reader before failing


@lru_cache(maxsize=1024)
def to_pyformat(sql: str) -> str:
    """``?`` placeholders as psycopg's ``%s`` (a literal ``%`` doubled). No statement has ``?`` inside a string."""
    return sql.replace("%", "%%").replace("?", "%s")


class PgConnection:
    """A psycopg connection that takes the store's statements as sqlite3 does (``?`` placeholders)."""

    def __init__(self, raw: psycopg.Connection[Any]):
        self.raw = raw

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> psycopg.Cursor[Any]:
        return self.raw.execute(to_pyformat(sql), tuple(parameters))

    def executemany(self, sql: str, parameters: Iterable[Sequence[Any]], /) -> psycopg.Cursor[Any]:
        cursor = self.raw.cursor()
        rows = [tuple(p) for p in parameters]
        if rows:
            cursor.executemany(to_pyformat(sql), rows)
        return cursor


def _snapshot_text(conn: SqlConnection) -> str:
    """The transaction's snapshot as text: a cursor into the ingest log (detection/ingest_log.py)."""
    row: Any = conn.execute("SELECT pg_current_snapshot()::text", ()).fetchone()
    return str(row[0])


def one_line(exc: BaseException) -> str:
    """psycopg's messages span lines (a hint on the second): one line for logs and JSON answers, any URL redacted."""
    return redact_text(" ".join(str(exc).split())) or type(exc).__name__


class PostgresStore(SqlStore):
    """The store on a PostgreSQL server: the writer is one session, reads come from a pool."""

    dialect: ClassVar[Dialect] = POSTGRESQL
    driver_errors: ClassVar[tuple[type[Exception], ...]] = (psycopg.Error, psycopg_pool.PoolTimeout)
    # Like SQLite's OverflowError: a number out of a column's range is this write's fault, not the server's.
    value_errors: ClassVar[tuple[type[Exception], ...]] = (psycopg.DataError, ingest_log.KeyTaken)
    one_statement_is_atomic: ClassVar[bool] = False  # a minute's counts are several rows: always BEGIN
    shared: ClassVar[bool] = True  # deltas added in SQL, and the ingest log: several instances may write

    def __init__(self, url: str, instance: str | None = None):
        super().__init__()
        self.url = url
        # Names this process in the ingest log and the leadership row (--instance; host and pid by default).
        self.instance = instance or f"{socket.gethostname()}:{os.getpid()}"
        # The leadership term this instance won, once it leads (detection/cluster.py): its judging writes check
        # that the term is still the current one. Kept after it loses the lead, so a late write fails.
        self.fence_term: int | None = None
        self._sessions: list[psycopg.Connection[Any]] = []
        self.name = redact_url(url)  # user, password and query values masked: the name is shown to people
        try:
            params = psycopg.conninfo.conninfo_to_dict(url)
        except psycopg.Error as exc:
            raise StoreError(f"not a valid PostgreSQL URL {self.name}: {one_line(exc)}") from None
        self._where = (f"PostgreSQL at {params.get('host') or 'localhost'}:{params.get('port') or 5432}"
                       f" (database {params.get('dbname') or params.get('user') or 'postgres'})")
        self._writer = PgConnection(self._connect())
        try:
            self.migrate("store", MIGRATIONS)
            self.migrate("ingest_log", ingest_log.MIGRATIONS)
        except StoreError:
            self._writer.raw.close()
            raise
        self._write_failure = None
        self._pool = psycopg_pool.ConnectionPool(
            url, min_size=1, max_size=READERS, timeout=READER_WAIT_SECONDS, name="monitor-readers", open=False,
            kwargs={"autocommit": True, "connect_timeout": CONNECT_TIMEOUT_SECONDS},
            # A pooled session the server ended (a restart, an admin) is replaced before it is lent, so the
            # first read after a restart answers instead of failing; one round trip per read.
            check=psycopg_pool.ConnectionPool.check_connection,
        )
        self._pool.open()

    def _connect(self) -> psycopg.Connection[Any]:
        try:
            return psycopg.connect(self.url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_SECONDS)
        except psycopg.Error as exc:
            raise StoreError(f"cannot connect to {self._where}: {one_line(exc)}") from None

    def describe(self, exc: BaseException) -> str:
        if isinstance(exc, self.driver_errors):
            return one_line(exc)
        return super().describe(exc)

    def _writer_connection(self) -> SqlConnection:
        """The writer, reconnected when its session was lost (a server restart): the next write works again."""
        if self._writer.raw.closed or self._writer.raw.broken:
            with suppress(psycopg.Error):
                self._writer.raw.close()
            self._writer = PgConnection(self._connect())
        return self._writer

    def _rollback(self) -> None:
        raw = self._writer.raw
        if raw.closed or raw.broken or raw.info.transaction_status == pq.TransactionStatus.IDLE:
            return
        try:
            raw.execute("ROLLBACK")
        except psycopg.Error:
            # A session that cannot roll back is closed (which ends its transaction); the next write reconnects.
            log.warning("store: ROLLBACK failed on PostgreSQL; the writer reconnects on the next write")
            with suppress(psycopg.Error):
                raw.close()

    @contextmanager
    def _reader(self) -> Iterator[SqlConnection]:
        with self._pool.connection() as raw:
            yield PgConnection(raw)

    def session(self, application_name: str) -> psycopg.Connection[Any]:
        """A connection of its own (the cluster's lock and LISTEN session), closed with the store."""
        try:
            conn = psycopg.connect(self.url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_SECONDS,
                                   application_name=application_name[:63])
        except psycopg.Error as exc:
            raise StoreError(f"cannot connect to {self._where}: {one_line(exc)}") from None
        with self._lock:
            self._sessions = [s for s in self._sessions if not s.closed] + [conn]
        return conn

    def close(self) -> None:
        with self._lock:
            self._pool.close()
            self._writer.raw.close()
            for session in self._sessions:  # a leader's lock goes with its sessions
                session.close()

    def _apply_group(self, conn: PgConnection, changes: list[PendingWrite]) -> None:
        """The changes, after the fence when one carries the leader's judging; their records go to the ingest log."""
        if self.fence_term is not None and any(c.fenced for c in changes):
            term: Any = conn.execute(ingest_log.TERM_FOR_WRITE, ()).fetchone()
            if term is None or int(term[1]) != self.fence_term:
                leader = "nobody" if term is None else f"{term[0]} (term {term[1]})"
                raise StoreError(f"this instance no longer leads (its term {self.fence_term}; now {leader}): "
                                 "its judging is not written")
        if not any(c.durable for c in changes):
            # Only a leader's judging: lost in a server crash, it is judged again from the ingest log (whose
            # rows stay unjudged with it), so its commit does not wait for the disk.
            conn.execute("SET LOCAL synchronous_commit = off", ())
        logged = judged = False
        now = time.time()
        for change in changes:
            key = change.idempotency
            # Another instance may have stored the same key a moment ago (a client's retry to another instance):
            # the key is taken only when new or expired, before anything else of the change is written.
            if key is not None and conn.execute(
                    ingest_log.CLAIM_KEY, (*key, key[2] - ingest_log.KEY_SECONDS)).fetchone() is None:
                if change.judged:  # the engine judged it already: its memory is ahead, so the whole write fails
                    raise ingest_log.KeyTaken(f"Idempotency-Key {key[0]!r} was stored by another request meanwhile")
                change.key_taken = True  # nothing of it is written; its request answers with the first answer
                continue
            self._apply(conn, change)
            if change.count_deltas:
                row: Any = conn.execute(ingest_log.INSERT_ENTRY, (
                    self.instance, now, change.judged, ingest_log.encode_records(change.count_deltas))).fetchone()
                change.log_id = int(row[0])
                logged = True
            if change.judged_log:
                conn.execute(ingest_log.MARK_JUDGED, (change.judged_log,))
                judged = True
        if logged or judged:  # delivered at COMMIT, to every instance that listens (detection/cluster.py)
            conn.execute("SELECT pg_notify(?, ?)", (ingest_log.NOTIFY_CHANNEL, "judged" if judged else "records"))

    @staticmethod
    def _apply(conn: PgConnection, change: PendingWrite) -> None:
        for statement, minutes in ((SET_COUNT, change.counts), (ADD_COUNT, change.count_deltas)):
            rows = [(feed, minute, metric, count) for (feed, minute), counts in minutes.items()
                    for metric, count in counts.items()]
            if rows:
                conn.execute(statement, [list(column) for column in zip(*rows, strict=True)])
        apply_state(conn, replace(change, idempotency=None))  # the key was claimed first (_apply_group)

    def _prune_minutes(self, conn: SqlConnection, before_minute: int) -> int:
        # Per feed, so the delete walks the (feed, minute, metric) primary key; minutes, not metric rows, are counted.
        feeds = [f for (f,) in conn.execute("SELECT DISTINCT feed FROM minute_counts", ())]
        return sum(conn.execute(
            "WITH gone AS (DELETE FROM minute_counts WHERE feed = ? AND minute < ? RETURNING minute) "
            "SELECT COUNT(DISTINCT minute) FROM gone", (f, before_minute)).fetchone()[0] for f in feeds)

    def counts_since(self, minute: int) -> list[tuple[str, int, int]]:
        try:
            with self._reader() as conn:
                return self._counts_since(conn, minute)
        except self.driver_errors as exc:
            raise StoreError(f"store read failed: {self.describe(exc)}") from None

    @staticmethod
    def _counts_since(conn: SqlConnection, minute: int) -> list[tuple[str, int, int]]:
        rows: list[tuple[str, int, int]] = []
        for (feed,) in conn.execute("SELECT DISTINCT feed FROM minute_counts", ()).fetchall():
            rows += conn.execute("SELECT metric, minute, count FROM minute_counts WHERE feed = ? AND minute >= ? "
                                 "ORDER BY minute", (feed, minute)).fetchall()
        return rows

    # -- several instances (detection/ingest_log.py, detection/cluster.py) --
    @contextmanager
    def _snapshot(self) -> Iterator[SqlConnection]:
        """A reader inside one REPEATABLE READ transaction: every query sees the same committed state."""
        try:
            with self._reader() as conn:
                conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", ())
                try:
                    yield conn
                finally:
                    conn.execute("ROLLBACK", ())
        except self.driver_errors as exc:
            raise StoreError(f"store read failed: {self.describe(exc)}") from None

    def counts_and_unjudged(self, minute: int) -> tuple[list[tuple[str, int, int]], list[LogEntry]]:
        """The counts from ``minute`` on and the log rows no leader judged, as of one moment: a new leader
        takes the counts without those rows' records, then judges them."""
        with self._snapshot() as conn:
            counts = self._counts_since(conn, minute)
            waiting: list[LogEntry] = []
            while True:  # all of them, in pages: a leader that was down for long leaves many
                after = waiting[-1].id if waiting else 0
                page = ingest_log.entries(conn.execute(
                    "SELECT id, instance, records FROM ingest_log WHERE NOT judged AND id > ? ORDER BY id LIMIT ?",
                    (after, ingest_log.ROWS_PER_READ)).fetchall())
                waiting += page
                if len(page) < ingest_log.ROWS_PER_READ:
                    return counts, waiting

    def counts_and_cursor(self, minute: int) -> tuple[list[tuple[str, int, int]], str]:
        """The counts from ``minute`` on, and the snapshot they were read in: where a standby's following starts."""
        with self._snapshot() as conn:
            cursor = _snapshot_text(conn)
            return self._counts_since(conn, minute), cursor

    def log_since(self, cursor: str) -> tuple[str, list[LogEntry]]:
        """The log rows committed since snapshot ``cursor`` (whatever their ids), and the snapshot to go on from."""
        with self._snapshot() as conn:
            now = _snapshot_text(conn)
            rows = conn.execute(ingest_log.SINCE_SNAPSHOT, (cursor, cursor)).fetchall()
        return now, ingest_log.entries(rows)

    def unjudged(self) -> list[LogEntry]:
        """The oldest log rows no leader has judged yet (at most ROWS_PER_READ)."""
        return ingest_log.entries(self._query(ingest_log.UNJUDGED))

    def judged_among(self, ids: Iterable[int]) -> set[int]:
        wanted = list(ids)
        if not wanted:
            return set()
        return {int(r[0]) for r in self._query("SELECT id FROM ingest_log WHERE id = ANY(?::bigint[]) AND judged",
                                                (wanted,))}

    def leader(self) -> Leader | None:
        rows = self._query("SELECT instance, since, term FROM leadership WHERE id = 1")
        return Leader(str(rows[0][0]), float(rows[0][1]), int(rows[0][2])) if rows else None

    def take_leadership(self, now: float) -> Leader:
        """Name this instance the leader in a new term (the caller holds the leader lock); its writes are fenced by it."""
        with self.transaction() as conn:
            row: Any = conn.execute(
                "INSERT INTO leadership (id, instance, since, term) VALUES (1, ?, ?, 1) ON CONFLICT (id) DO UPDATE "
                "SET instance = excluded.instance, since = excluded.since, term = leadership.term + 1 "
                "RETURNING instance, since, term", (self.instance, now)).fetchone()
        leader = Leader(str(row[0]), float(row[1]), int(row[2]))
        self.fence_term = leader.term
        return leader

    def prune_log(self, before: float) -> int:
        """Forget judged log rows older than ``before`` (wall-clock seconds)."""
        with self.transaction(failure_counts=False) as conn:
            return int(conn.execute("DELETE FROM ingest_log WHERE judged AND at < ?", (before,)).rowcount)

    def count_rows(self, table: str) -> int:
        if table == "minute_counts":  # as SQLite counts them: (feed, minute) pairs, not metric rows
            return self._query("SELECT COUNT(*) FROM (SELECT DISTINCT feed, minute FROM minute_counts) AS pairs")[0][0]
        return super().count_rows(table)
