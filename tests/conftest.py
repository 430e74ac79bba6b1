"""Shared fixtures: a fresh Monitor, app and client per test, each with its own store."""

from __future__ import annotations

import contextlib
import itertools
import sqlite3
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import psycopg
import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from app import create_app  # noqa: E402
from detection import Monitor, MonitorSettings, Store, load_thresholds  # noqa: E402
from detection.store import SqlStore, open_store  # noqa: E402

from .delivery_support import wait_until  # noqa: E402
from .pg_support import PostgresServer  # noqa: E402


class FakeClock:
    """A wall clock the test moves by hand."""

    def __init__(self, start: float = 1_790_000_000.0):  # 2026-09, after the replayed data
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def monitor(clock: FakeClock) -> Iterator[Monitor]:
    store = Store(":memory:")
    yield Monitor(load_thresholds(), store, MonitorSettings(), clock=clock)
    store.close()


@pytest.fixture
def db_path(tmp_path: Path) -> str:
    return str(tmp_path / "monitor.db")


@pytest.fixture
def app(db_path: str):
    return create_app({"db": db_path})


@pytest.fixture
def client(app):
    return app.server.test_client()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    """One real PostgreSQL for the whole run, started by the first test that needs it (about a second)."""
    server = PostgresServer()
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture
def pg_url(pg_server: PostgresServer) -> str:
    """A fresh, empty database on the test PostgreSQL."""
    return pg_server.fresh_database()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where a store lives, once per backend: an SQLite file, then a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return str(tmp_path / "monitor.db")
    return request.getfixturevalue("pg_url")


@pytest.fixture
def store(store_url: str) -> Iterator[SqlStore]:
    """A store on each backend (parametrized): the same test runs on SQLite and on PostgreSQL."""
    opened = open_store(store_url)
    yield opened
    opened.close()


class Backend:
    """Where one test's stores live, on one backend; every store and app opened through it is closed after the test.

    ``target`` is the test's database (an SQLite file in tmp_path, or a fresh PostgreSQL database): a store or
    app reopened on it sees what the last one wrote, as after a restart. Closing matters on PostgreSQL: each
    store holds a writer session and a reader pool, and the test server takes a bounded number of connections.
    """

    def __init__(self, kind: str, tmp_path: Path, pg_server: PostgresServer | None = None):
        self.kind = kind
        self.postgres = kind == "postgresql"
        self._tmp_path = tmp_path
        self._pg_server = pg_server
        self._files = itertools.count(1)
        self._opened: list[SqlStore] = []
        self._targets: list[str] = []
        self.target = self.new_target()

    def new_target(self) -> str:
        """Another empty database on the same backend (two monitors that must not share one)."""
        if self._pg_server is not None:
            self._targets.append(self._pg_server.fresh_database())
            return self._targets[-1]
        number = next(self._files)
        return str(self._tmp_path / ("monitor.db" if number == 1 else f"monitor-{number}.db"))

    def keep(self, store: SqlStore) -> SqlStore:
        """Close ``store`` with the others after the test."""
        self._opened.append(store)
        return store

    def keep_app(self, app: Any) -> Any:
        """Close ``app``'s store (made by another helper on ``target``) with the others after the test."""
        self.keep(app.server.extensions["monitor"].store)
        return app

    def store(self, target: str | None = None) -> SqlStore:
        """A store on ``target`` (the test's database by default)."""
        return self.keep(open_store(target or self.target))

    def app(self, config: Mapping[str, Any] | None = None, **settings: Any):
        """create_app on the test's database (``config`` and ``settings`` add to it); on PostgreSQL its Cluster
        is the leader, elected alone, and judges every POST in the request's thread."""
        return self.keep_app(create_app({"db": self.target, **(config or {}), **settings}))

    def dump(self) -> dict[str, list]:
        """Every row of every table of the test's database, to prove that a refused request changed nothing."""
        if self.postgres:
            with psycopg.connect(self.target, autocommit=True) as conn:
                tables = [t for (t,) in conn.execute(
                    "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")]
                return {t: sorted(conn.execute(f"SELECT * FROM {t}").fetchall(), key=repr) for t in tables}
        # closing(): a sqlite3 connection's own context manager ends the transaction but leaves it open.
        with contextlib.closing(sqlite3.connect(self.target)) as conn:
            tables = [t for (t,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
            return {t: sorted(conn.execute(f"SELECT * FROM {t}").fetchall(), key=repr) for t in tables}

    def close(self) -> None:
        for store in reversed(self._opened):  # closing twice is harmless: a test may close its own first
            store.close()
        server = self._pg_server
        for target in self._targets:  # nothing may stay connected: sessions would pile up over the run
            if server is not None:
                wait_until(lambda t=target: server.sessions(t) == 0, timeout=10,
                           what=f"every session on {target} to end once the test closed its stores (a store "
                                "opened outside the backend fixture's store, app or keep stays open)")


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """The store backend of an engine or API test (parametrized): the same test runs on SQLite and on PostgreSQL."""
    server = request.getfixturevalue("pg_server") if request.param == "postgresql" else None
    opened = Backend(request.param, tmp_path, server)
    try:
        yield opened
    finally:
        opened.close()

