"""The monitor on a real PostgreSQL: end to end through the app, a restart, and the errors a user sees."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest

from app import create_app
from detection import ConfigError
from detection.redact import redact_url
from detection.store import PendingWrite, StoreError, open_store
from detection.store_pg import PostgresStore

from .delivery_support import THRESHOLDS, fire, post_minute, write_json
from .pg_support import free_port


def make(tmp_path, url: str):
    return create_app({"db": url, "thresholds": write_json(tmp_path, "thresholds.json", THRESHOLDS)})


def test_alerts_incidents_and_rule_state_come_back_after_a_restart_on_postgresql(tmp_path, pg_url):
    app = make(tmp_path, pg_url)
    client = app.server.test_client()
    try:
        fire(client)
        before = {
            "alerts": client.get("/api/alerts").get_json()["alerts"],
            "incidents": client.get("/api/incidents").get_json()["incidents"],
        }
        assert [(a["rule"], a["state"]) for a in before["alerts"]] == [("failed_high", "firing")]
        assert len(before["incidents"]) == 1
        health = client.get("/api/health").get_json()
        assert health["store"]["ok"] is True and health["store"]["path"] == redact_url(pg_url)
        rule_states = app.server.extensions["monitor"].store.rule_states()
    finally:
        app.server.extensions["monitor"].store.close()

    again = make(tmp_path, pg_url)
    client = again.server.test_client()
    try:
        assert client.get("/api/alerts").get_json()["alerts"] == before["alerts"]
        assert client.get("/api/incidents").get_json()["incidents"] == before["incidents"]
        assert again.server.extensions["monitor"].store.rule_states() == rule_states
        # The restored rule state goes on where it stopped: clean minutes resolve the alert opened before.
        for minute in range(3, 7):
            post_minute(client, minute, failed=0)
        [alert] = client.get("/api/alerts").get_json()["alerts"]
        assert (alert["id"], alert["state"]) == (before["alerts"][0]["id"], "resolved")
        # Counts posted before and after the restart are all in the store.
        counts = {(m, minute): c for m, minute, c in again.server.extensions["monitor"].store.counts_since(0)}
        assert sum(c for (m, _), c in counts.items() if m == "status:failed") == 9
    finally:
        again.server.extensions["monitor"].store.close()


def test_an_unreachable_server_is_a_config_error_naming_host_and_port(tmp_path):
    port = free_port()  # nothing listens there
    url = f"postgresql://monitor:s3cret@127.0.0.1:{port}/monitor"
    with pytest.raises(ConfigError) as caught:
        make(tmp_path, url)
    message = str(caught.value)
    assert message.startswith(f"--db: cannot connect to PostgreSQL at 127.0.0.1:{port} (database monitor)")
    assert "s3cret" not in message and "Traceback" not in message


def test_a_password_never_reaches_the_stores_name_or_its_errors(pg_url):
    # libpq takes a password in the authority or in the query; both are masked, as every shown URL is.
    store = PostgresStore(pg_url + "?password=s3cret&application_name=monitor")
    try:
        assert "s3cret" not in store.name and store.name.startswith("postgresql://***@127.0.0.1:")
    finally:
        store.close()
    with pytest.raises(StoreError) as caught:
        open_store(pg_url.replace("postgres@", "postgres:s3cret@") + "?no_such_option=s3cret")
    assert "s3cret" not in str(caught.value)


def test_a_lost_writer_session_fails_one_write_then_the_store_recovers(pg_url, pg_server):
    store = open_store(pg_url)
    assert isinstance(store, PostgresStore)
    try:
        store.write(PendingWrite({("status", 1): {"status:failed": 1}}, [], [], {}, {}))
        with psycopg.connect(pg_server.url(), autocommit=True) as admin:  # a server restart, a failover, an admin
            admin.execute("SELECT pg_terminate_backend(%s)", (store._writer.raw.info.backend_pid,))
        with pytest.raises(StoreError, match="store write failed"):
            store.write(PendingWrite({("status", 2): {"status:failed": 1}}, [], [], {}, {}))
        assert not store.health().ok and "the last write failed" in (store.health().reason or "")
        store.probe()  # what the ticker does every few seconds
        assert store.health().ok
        store.write(PendingWrite({("status", 3): {"status:failed": 1}}, [], [], {}, {}))
        assert sorted(m for _, m, _ in store.counts_since(0)) == [1, 3]
    finally:
        store.close()


def test_the_ticker_has_no_write_ahead_log_to_bound_on_postgresql(pg_url):
    store = open_store(pg_url)
    try:
        assert store.wal_bytes() == 0 and store.checkpoint() is True
    finally:
        store.close()


def test_missing_server_binaries_fail_with_the_install_hint(monkeypatch):
    from . import pg_support

    monkeypatch.setattr(pg_support, "BIN_DIRS", ("/nonexistent/postgresql/bin",))
    with pytest.raises(RuntimeError, match="apt-get install postgresql"):
        pg_support.PostgresServer()


def test_instances_starting_at_once_on_a_fresh_database_migrate_one_after_the_other(pg_url):
    # Without the advisory lock, concurrent CREATE TABLE IF NOT EXISTS collide in PostgreSQL's catalogue
    # (duplicate key in pg_type: 5 runs of 5 failed with the lock taken out).
    with ThreadPoolExecutor(4) as pool:
        stores = list(pool.map(lambda _: open_store(pg_url), range(4)))
    try:
        assert all(s.health().ok for s in stores)
        assert sorted(stores[0].query("SELECT component, version FROM schema_version")) == [("ingest_log", 1), ("store", 2)]
    finally:
        for s in stores:
            s.close()


def test_reads_after_the_server_ended_every_pooled_session_answer_at_once(tmp_path, pg_url, pg_server):
    # A PostgreSQL restart or an admin ends the pooled reader sessions; the pool must replace a dead one before
    # lending it, else the first read after a restart answers 503 for no reason the user can act on.
    app = make(tmp_path, pg_url)
    client = app.server.test_client()
    try:
        fire(client)
        before = client.get("/api/alerts").get_json()["alerts"]
        assert [a["rule"] for a in before] == ["failed_high"]
        database = pg_url.rsplit("/", 1)[1]
        with psycopg.connect(pg_server.url(), autocommit=True) as admin:
            ended = admin.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                (database,),
            ).fetchone()
        assert ended is not None and ended[0] >= 2  # the writer and at least one pooled reader
        for path in ("/api/alerts", "/api/incidents", "/api/incidents/labels"):
            answer = client.get(path)
            assert answer.status_code == 200, (path, answer.get_json())
        assert client.get("/api/alerts").get_json()["alerts"] == before
    finally:
        app.server.extensions["monitor"].store.close()
