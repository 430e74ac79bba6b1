"""Schema versions: a file from before versions opens and is migrated; a newer database is refused (both backends)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from app import create_app
from detection import ConfigError
from detection.delivery_log import MIGRATIONS as LOG_MIGRATIONS
from detection.delivery_log import DeliveryLog
from detection.ingest_log import MIGRATIONS as INGEST_LOG_MIGRATIONS
from detection.silences import MIGRATIONS as SILENCE_MIGRATIONS
from detection.silences import Silences
from detection.store import MIGRATIONS as STORE_MIGRATIONS
from detection.store import StoreError, open_store
from detection.store_schema import Migration, statements

from .delivery_support import THRESHOLDS, post_minute, write_json

OLD_FILE = Path(__file__).with_name("store_0_1.sql")
LATEST = {"store": STORE_MIGRATIONS[-1].version, "silences": SILENCE_MIGRATIONS[-1].version,
          "delivery_log": LOG_MIGRATIONS[-1].version}


def versions(store) -> dict[str, int]:
    """The versions of the parts both backends share (PostgreSQL adds the ingest log for several instances)."""
    found = dict(store.query("SELECT component, version FROM schema_version"))
    assert found.pop("ingest_log", INGEST_LOG_MIGRATIONS[-1].version) == INGEST_LOG_MIGRATIONS[-1].version
    assert ("ingest_log" in dict(store.query("SELECT component, version FROM schema_version"))) == store.shared
    return found


def test_a_file_written_by_version_0_1_opens_migrated_with_its_alerts_incidents_silences_and_notes(tmp_path):
    path = tmp_path / "monitor.db"
    with sqlite3.connect(path) as conn:
        conn.executescript(OLD_FILE.read_text(encoding="utf-8"))
    conn.close()
    app = create_app({"db": str(path), "thresholds": write_json(tmp_path, "thresholds.json", THRESHOLDS)})
    monitor = app.server.extensions["monitor"]
    try:
        assert versions(monitor.store) == LATEST
        client = app.server.test_client()
        [alert] = client.get("/api/alerts").get_json()["alerts"]
        assert (alert["id"], alert["rule"], alert["state"]) == ("a27ff334996f967a", "failed_high", "firing")
        [incident] = client.get("/api/incidents").get_json()["incidents"]
        assert incident["id"] == "i353ae6e4fc2e78e" and [n["text"] for n in incident["notes"]] == ["written by 0.1"]
        assert [s["comment"] for s in client.get("/api/silences").get_json()["silences"]] == ["from 0.1"]
        # The rule state came back too: the next clean minutes resolve the alert the old version opened.
        for minute in range(3, 7):
            post_minute(client, minute, failed=0)
        assert client.get("/api/alerts").get_json()["alerts"][0]["state"] == "resolved"
    finally:
        monitor.store.close()


def test_opening_twice_applies_nothing_twice(store_url):
    first = open_store(store_url)
    Silences(first)
    DeliveryLog(first)
    first.close()
    again = open_store(store_url)
    try:
        assert again.migrate("store", STORE_MIGRATIONS) == LATEST["store"]  # the version found: nothing to do
        Silences(again)
        DeliveryLog(again)
        assert versions(again) == LATEST
    finally:
        again.close()


def test_a_database_from_a_newer_monitor_is_refused_with_a_clear_message(store_url, tmp_path):
    store = open_store(store_url)
    with store.transaction() as conn:
        conn.execute("UPDATE schema_version SET version = 99 WHERE component = 'store'")
    store.close()
    with pytest.raises(StoreError, match="schema is at version 99, but this monitor knows versions up to "
                                         f"{LATEST['store']}: it was written by a newer monitor"):
        open_store(store_url)
    # Through the app, the message names the setting.
    with pytest.raises(ConfigError, match="^--db: .*newer monitor"):
        create_app({"db": store_url, "thresholds": write_json(tmp_path, "thresholds.json", THRESHOLDS)})


def test_a_new_migration_runs_once_and_is_recorded(store):
    added = (*SILENCE_MIGRATIONS, Migration(2, "a test column", statements(
        "ALTER TABLE silences ADD COLUMN source TEXT NOT NULL DEFAULT 'api'")))
    Silences(store)
    assert store.migrate("silences", added) == 1
    assert store.migrate("silences", added) == 2
    assert versions(store)["silences"] == 2
    assert store.query("SELECT COUNT(*) FROM silences WHERE source = 'api'") == [(0,)]


def test_a_failed_migration_leaves_the_database_at_its_version(store):
    broken = (*SILENCE_MIGRATIONS, Migration(2, "a statement that fails", statements(
        "ALTER TABLE silences ADD COLUMN note TEXT", "ALTER TABLE no_such_table ADD COLUMN x TEXT")))
    Silences(store)
    with pytest.raises(StoreError):
        store.migrate("silences", broken)
    assert versions(store)["silences"] == 1
    assert "note" not in {c for c in _columns(store, "silences")}  # the first statement was rolled back with it


def _columns(store, table: str) -> set[str]:
    with store.transaction() as conn:
        return store.dialect.columns(conn, table)
