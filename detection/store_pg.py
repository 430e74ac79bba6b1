"""PostgreSQL backend (psycopg 3): one writer connection serialised like SQLite's, a pool of readers.

Chosen by a ``postgresql://user@host:5432/db`` URL in ``--db`` / ``MONITOR_DB``. Semantics are
SQLite's (store_core.SqlStore): a write returns after COMMIT, a group commit is one transaction.
Minute counts are one row per (feed, minute, metric), so a delta is an add in SQL
(``ON CONFLICT ... DO UPDATE SET count = minute_counts.count + excluded.count``): what several
instances writing the same minute will need.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from functools import lru_cache
from typing import Any, ClassVar

import psycopg
import psycopg_pool
from psycopg import pq

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


def one_line(exc: BaseException) -> str:
    """psycopg's messages span lines (a hint on the second): one line for logs and JSON answers, any URL redacted."""
    return redact_text(" ".join(str(exc).split())) or type(exc).__name__


class PostgresStore(SqlStore):
    """The store on a PostgreSQL server: the writer is one session, reads come from a pool."""

    dialect: ClassVar[Dialect] = POSTGRESQL
    driver_errors: ClassVar[tuple[type[Exception], ...]] = (psycopg.Error, psycopg_pool.PoolTimeout)
    # Like SQLite's OverflowError: a number out of a column's range is this write's fault, not the server's.
    value_errors: ClassVar[tuple[type[Exception], ...]] = (psycopg.DataError,)
    one_statement_is_atomic: ClassVar[bool] = False  # a minute's counts are several rows: always BEGIN

    def __init__(self, url: str):
        super().__init__()
        self.url = url
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

    def close(self) -> None:
        with self._lock:
            self._pool.close()
            self._writer.raw.close()

    @staticmethod
    def _apply(conn: PgConnection, change: PendingWrite) -> None:
        for statement, minutes in ((SET_COUNT, change.counts), (ADD_COUNT, change.count_deltas)):
            rows = [(feed, minute, metric, count) for (feed, minute), counts in minutes.items()
                    for metric, count in counts.items()]
            if rows:
                conn.execute(statement, [list(column) for column in zip(*rows, strict=True)])
        apply_state(conn, change)

    def _prune_minutes(self, conn: SqlConnection, before_minute: int) -> int:
        # Per feed, so the delete walks the (feed, minute, metric) primary key; minutes, not metric rows, are counted.
        feeds = [f for (f,) in conn.execute("SELECT DISTINCT feed FROM minute_counts", ())]
        return sum(conn.execute(
            "WITH gone AS (DELETE FROM minute_counts WHERE feed = ? AND minute < ? RETURNING minute) "
            "SELECT COUNT(DISTINCT minute) FROM gone", (f, before_minute)).fetchone()[0] for f in feeds)

    def counts_since(self, minute: int) -> list[tuple[str, int, int]]:
        rows: list[tuple[str, int, int]] = []
        for (feed,) in self._query("SELECT DISTINCT feed FROM minute_counts"):
            rows += self._query("SELECT metric, minute, count FROM minute_counts WHERE feed = ? AND minute >= ? "
                                "ORDER BY minute", (feed, minute))
        return rows

    def count_rows(self, table: str) -> int:
        if table == "minute_counts":  # as SQLite counts them: (feed, minute) pairs, not metric rows
            return self._query("SELECT COUNT(*) FROM (SELECT DISTINCT feed, minute FROM minute_counts) AS pairs")[0][0]
        return super().count_rows(table)
