"""/api/health tells the truth about the store: exactly 503 while writes fail or the database file is
gone or replaced, exactly 200 when all is well, and back to 200 by itself once a write succeeds."""

from __future__ import annotations

import os
import shutil
import sqlite3
import time

from app import create_app
from detection import Monitor, MonitorSettings, load_thresholds
from detection.ticker import Ticker

from .faulty_store import FaultyStore, disk_full

GOOD = {"timestamp": "2025-07-12 13:45:00", "status": "failed", "count": 3}


def faulty_app(db_path: str):
    store = FaultyStore(db_path, error=disk_full)
    app = create_app({"db": db_path}, monitor=Monitor(load_thresholds(), store, MonitorSettings()))
    return app.server.test_client(), store


def metric_line(client, name: str) -> str:
    text = client.get("/metrics").get_data(as_text=True)
    return next(line for line in text.splitlines() if line.startswith(name))


def test_health_is_200_ok_with_a_healthy_store(client):
    assert client.post("/api/transaction", json=GOOD).status_code == 201
    response = client.get("/api/health")
    assert response.status_code == 200
    assert response.json["status"] == "ok"
    assert response.json["store"]["ok"] is True and response.json["store"]["reason"] is None


def test_a_full_disk_makes_health_503_until_a_write_succeeds_again(db_path):
    client, store = faulty_app(db_path)
    assert client.post("/api/transaction", json=GOOD).status_code == 201
    counted = metric_line(client, 'monitor_ingested_transactions_total{status="failed"}')
    assert counted.endswith(" 3.0")
    store.failing = True
    response = client.post("/api/transaction", json=GOOD)
    assert response.status_code == 503 and response.json["error"] == "store_unavailable"
    assert "database or disk is full" in response.json["message"]
    # /metrics counts only what was stored
    assert metric_line(client, 'monitor_ingested_transactions_total{status="failed"}') == counted
    health = client.get("/api/health")
    assert health.status_code == 503
    assert health.json["status"] == "degraded"
    assert health.json["store"]["ok"] is False
    assert health.json["store"]["reason"] == "the last write failed: database or disk is full"
    assert health.json["store"]["failed_at"].endswith("Z")
    store.failing = False
    assert client.post("/api/transaction", json=GOOD).status_code == 201
    health = client.get("/api/health")
    assert health.status_code == 200 and health.json["status"] == "ok" and health.json["store"]["reason"] is None
    assert client.get("/api/transactions?minutes=1").json["data"][-1]["failed"] == 6


def test_a_deleted_database_file_is_degraded_and_refuses_writes(db_path):
    app = create_app({"db": db_path})
    client = app.server.test_client()
    assert client.post("/api/transaction", json=GOOD).status_code == 201
    os.remove(db_path)
    health = client.get("/api/health")
    assert health.status_code == 503 and health.json["status"] == "degraded"
    assert f"the database file {db_path} was deleted" in health.json["store"]["reason"]
    assert "restart the monitor" in health.json["store"]["reason"]
    response = client.post("/api/transaction", json=GOOD)
    assert response.status_code == 503 and "was deleted" in response.json["message"]
    assert not os.path.exists(db_path)  # nothing recreated an empty database at its path
    # every later write is refused too, not acknowledged into an unlinked file
    assert client.post("/api/transaction", json=[GOOD, {**GOOD, "status": "approved"}]).status_code == 503
    assert client.get("/api/health").status_code == 503


def test_a_replaced_database_file_is_degraded_and_refuses_writes(db_path, tmp_path):
    app = create_app({"db": db_path})
    client = app.server.test_client()
    assert client.post("/api/transaction", json=GOOD).status_code == 201
    other = str(tmp_path / "other.db")
    shutil.copy(db_path, other)
    os.replace(other, db_path)  # e.g. a restore from a backup under the running server
    health = client.get("/api/health")
    assert health.status_code == 503
    assert "was replaced" in health.json["store"]["reason"]
    assert client.post("/api/transaction", json=GOOD).status_code == 503
    conn = sqlite3.connect(db_path)
    try:  # the refused write went nowhere: the file holds the first record only
        assert conn.execute("SELECT counts FROM minute_counts").fetchall() == [("status:failed=3",)]
    finally:
        conn.close()


def test_the_ticker_brings_health_back_once_the_disk_has_room_without_any_traffic(db_path):
    client, store = faulty_app(db_path)
    monitor = client.application.extensions["monitor"]
    store.failing = True
    assert client.post("/api/transaction", json=GOOD).status_code == 503
    ticker = Ticker(monitor, interval_seconds=0.2, wal_check_seconds=0.05).start()
    try:
        # While the disk is full the ticker's probes fail: still 503.
        deadline = time.monotonic() + 30
        while store.failures < 3:
            assert time.monotonic() < deadline, "the ticker did not probe the store"
            time.sleep(0.02)
        assert client.get("/api/health").status_code == 503
        store.failing = False
        while client.get("/api/health").status_code != 200:
            assert time.monotonic() < deadline, "health did not recover within 30 s"
            time.sleep(0.05)
    finally:
        ticker.stop()
    assert client.get("/api/health").json["status"] == "ok"
