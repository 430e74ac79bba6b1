"""Shared fixtures: a fresh Monitor, app and client per test, each with its own store."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from app import create_app  # noqa: E402
from detection import Monitor, MonitorSettings, Store, load_thresholds  # noqa: E402
from detection.store import SqlStore, open_store  # noqa: E402

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
