"""Durable store: SQLite (standard library) in WAL mode, the embedded default; ``open_store`` picks the backend.

Every ingest is one transaction: counts, alert changes, rule state and the
idempotency key land together or not at all, so a request answered 2xx is on
disk and a crash never leaves half a batch. ``synchronous=NORMAL`` (default)
survives a killed process; ``full`` also survives power loss, at a cost per commit.
The backend-neutral part lives in store_core.py; PostgreSQL in store_pg.py.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import ClassVar
from urllib.parse import quote

from .store_core import (
    ACTION_COLUMNS,
    ADDED_ALERT_COLUMNS,
    ALERT_COLUMNS,
    IncidentActionRow,
    PendingWrite,
    SqlStore,
    StoreError,
    StoreHealth,
    apply_state,
    core_migrations,
    decode_counts,
    encode_counts,
)
from .store_schema import SqlConnection

__all__ = [
    "ACTION_COLUMNS", "ADDED_ALERT_COLUMNS", "ALERT_COLUMNS", "IncidentActionRow", "PendingWrite", "SqlStore", "Store",
    "StoreError", "StoreHealth", "decode_counts", "encode_counts", "is_postgres_url", "open_store",
]

# One row per feed and minute; counts is "metric=count;metric=count". A row per minute rather than
# per metric keeps a batch's write to a sixth of the rows.
COUNTS_TABLE = """CREATE TABLE IF NOT EXISTS minute_counts (
    feed TEXT NOT NULL,
    minute INTEGER NOT NULL,
    counts TEXT NOT NULL,
    PRIMARY KEY (feed, minute)
) WITHOUT ROWID"""
MIGRATIONS = core_migrations(COUNTS_TABLE)

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
COUNTS_UPSERT = "INSERT OR REPLACE INTO minute_counts (feed, minute, counts) VALUES (?, ?, ?)"

log = logging.getLogger("monitor")


def is_postgres_url(target: str) -> bool:
    return target.startswith(("postgresql://", "postgres://"))


def open_store(target: str, synchronous: str = "normal", instance: str | None = None) -> SqlStore:
    """A PostgreSQL store for a ``postgresql://`` URL, else the SQLite file (or ``:memory:``) at ``target``.

    ``instance`` names this process among several sharing a PostgreSQL database (its ingest-log rows).
    """
    if is_postgres_url(target):
        try:
            from .store_pg import PostgresStore  # psycopg is only needed by those who use it
        except ImportError as exc:
            raise StoreError(f"a PostgreSQL store needs psycopg ({exc}): pip install -r requirements.txt") from None
        return PostgresStore(target, instance)
    return Store(target, synchronous=synchronous)


class Store(SqlStore):
    """SQLite: one writer connection (callers serialise writes), per-thread reader connections."""

    driver_errors: ClassVar[tuple[type[Exception], ...]] = (sqlite3.Error,)

    def __init__(self, path: str = ":memory:", synchronous: str = "normal"):
        if synchronous.lower() not in ("normal", "full", "off"):
            raise ValueError(f"synchronous must be normal, full or off, got {synchronous!r}")
        super().__init__()
        self.path = self.name = path
        self.in_memory = path in (":memory:", "")
        self._absolute = "" if self.in_memory else os.path.abspath(path)  # stat and readers never follow a chdir
        self._synchronous = synchronous.upper()
        self._local = threading.local()
        self._checkpoint_failure: tuple[float, str] | None = None
        self._identity: tuple[int, int] | None = None
        try:
            self._writer = self._connect()
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open store at {path!r}: {exc}") from None
        # The file this process writes to; if another file takes its place (or none), writes stop.
        self._identity = None if self.in_memory else _file_identity(self._absolute)
        try:
            self.migrate("store", MIGRATIONS)
        except StoreError as exc:
            self._writer.close()
            message = str(exc)
            raise StoreError(message if message.startswith("cannot open") else
                             f"cannot open store at {path!r}: {message}") from None
        self._write_failure = None  # a failed migration would have refused to start instead

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

    def health(self) -> StoreHealth:
        """ok, or why not: the file was deleted or replaced, or the last write (or checkpoint) failed.

        Cheap (one stat, no query): /api/health calls it on every request.
        """
        health = super().health()
        failure = self._checkpoint_failure
        if health.ok and failure is not None:
            return StoreHealth(False, f"the last checkpoint failed: {failure[1]}", failure[0])
        return health

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
    @staticmethod
    def _apply(conn: sqlite3.Connection, change: PendingWrite) -> None:
        if change.counts:
            rows = [(feed, minute, encode_counts(counts)) for (feed, minute), counts in change.counts.items()]
            if len(rows) == 1:  # a single posted record: execute() is cheaper than executemany()
                conn.execute(COUNTS_UPSERT, rows[0])
            else:
                conn.executemany(COUNTS_UPSERT, rows)
        for (feed, minute), delta in change.count_deltas.items():
            row = conn.execute(
                "SELECT counts FROM minute_counts WHERE feed = ? AND minute = ?", (feed, minute)
            ).fetchone()
            merged = decode_counts(row[0]) if row else {}
            for metric, count in delta.items():
                merged[metric] = merged.get(metric, 0) + count
            conn.execute(COUNTS_UPSERT, (feed, minute, encode_counts(merged)))
        apply_state(conn, change)

    def _prune_minutes(self, conn: SqlConnection, before_minute: int) -> int:
        # Per feed, so the delete walks the (feed, minute) primary key instead of the table.
        feeds = [f for (f,) in conn.execute("SELECT DISTINCT feed FROM minute_counts")]
        return sum(
            conn.execute("DELETE FROM minute_counts WHERE feed = ? AND minute < ?", (f, before_minute)).rowcount
            for f in feeds
        )

    def counts_since(self, minute: int) -> list[tuple[str, int, int]]:
        """(metric, minute, count) for every stored minute from ``minute`` on."""
        rows: list[tuple[str, int, int]] = []
        for (feed,) in self._query("SELECT DISTINCT feed FROM minute_counts"):
            for at, counts in self._query(
                "SELECT minute, counts FROM minute_counts WHERE feed = ? AND minute >= ?", (feed, minute)
            ):
                rows += [(metric, at, count) for metric, count in decode_counts(counts).items()]
        return rows

    # -- the write-ahead log (SQLite only) --
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
                self._checkpoint_failure = (time.time(), self.describe(exc))
                raise StoreError(f"store checkpoint failed: {exc}") from None
            self._checkpoint_failure = None
            return not busy


def _file_identity(path: str) -> tuple[int, int] | None:
    """(device, inode) of the file at ``path``, or None when there is none."""
    try:
        found = os.stat(path)
    except FileNotFoundError:
        return None
    return found.st_dev, found.st_ino
