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
