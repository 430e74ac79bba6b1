"""GET /metrics parses with prometheus_client's own parser and its counters match what was ingested."""

from __future__ import annotations

import random
import time

import pytest
from prometheus_client.parser import text_string_to_metric_families

from app import create_app

from .delivery_support import fire, make_app, settle, wait_until

STATUSES = ("approved", "denied", "failed", "reversed", "backend_reversed", "refunded")
CODES = ("00", "51", "59")


@pytest.fixture
def app(backend):
    """The app on each backend (conftest ``backend``): every test here that uses ``app`` or ``client`` runs on
    SQLite and on PostgreSQL."""
    return backend.app()


def scrape(client) -> dict[str, dict[tuple, float]]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=")
    out: dict[str, dict[tuple, float]] = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            out.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return out


def test_ingest_counters_match_the_posted_totals(client):
    rng = random.Random(7)
    sent_status = dict.fromkeys(STATUSES, 0)
    sent_codes = dict.fromkeys(CODES, 0)
    for minute in range(30):
        stamp = f"2025-07-12 10:{minute:02d}:00"
        batch = []
        for status in STATUSES:
            count = rng.randint(0, 120 if status == "approved" else 6)
            sent_status[status] += count
            batch.append({"timestamp": stamp, "status": status, "count": count})
        assert client.post("/api/transaction", json=batch).status_code == 201
        codes = []
        for code in CODES:
            count = rng.randint(0, 100)
            sent_codes[code] += count
            codes.append({"timestamp": stamp, "auth_code": code, "count": count})
        assert client.post("/api/auth_code", json=codes).status_code == 201
    # Rejected requests count as requests and errors, never as transactions.
    assert client.post("/api/transaction", json=[{"timestamp": "x", "status": "failed", "count": 9}]).status_code == 422
    assert client.post("/api/transaction", data="{", content_type="application/json").status_code == 400
    # An idempotent replay is answered, not counted twice.
    replay = [{"timestamp": "2025-07-12 10:30:00", "status": "refunded", "count": 4}]
    sent_status["refunded"] += 4
    for _ in range(2):
        assert client.post("/api/transaction", json=replay, headers={"Idempotency-Key": "k1"}).status_code == 201

    metrics = scrape(client)
    ingested = metrics["monitor_ingested_transactions_total"]
    assert {dict(k)["status"]: v for k, v in ingested.items()} == {s: float(n) for s, n in sent_status.items()}
    codes_seen = metrics["monitor_ingested_auth_codes_total"]
    assert {dict(k)["auth_code"]: v for k, v in codes_seen.items()} == {c: float(n) for c, n in sent_codes.items()}
    requests = {(dict(k)["feed"], dict(k)["code"]): v for k, v in metrics["monitor_ingest_requests_total"].items()}
    assert requests == {("status", "201"): 32.0, ("status", "422"): 1.0, ("status", "400"): 1.0, ("auth_code", "201"): 30.0}
    errors = {(dict(k)["feed"], dict(k)["error"]): v for k, v in metrics["monitor_ingest_errors_total"].items()}
    assert errors == {("status", "invalid_records"): 1.0, ("status", "invalid_json"): 1.0}
    assert metrics["monitor_ingest_request_duration_seconds_count"][(("feed", "status"),)] == 34.0
    # The stats API agrees with the counters over the same minutes.
    totals = client.get("/api/stats", query_string={"minutes": 60}).get_json()["totals"]
    assert totals == sent_status


def test_firing_alerts_and_notification_outcomes_are_exported(tmp_path, httpserver, backend):
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    app = backend.keep_app(make_app(tmp_path, [{"type": "webhook", "name": "ops", "url": httpserver.url_for("/hook")}],
                                    db=backend.target))
    client = app.server.test_client()
    assert client.post("/api/silences", json={"matchers": {"rule": "denied_high"},
                                              "ends_at": time.time() + 86_400}).status_code == 201
    delivery = app.server.extensions["delivery"].start()
    try:
        fire(client)
        wait_until(lambda: httpserver.log, what="the opening message")
        settle(delivery)
    finally:
        delivery.stop()
    metrics = scrape(client)
    firing = {dict(k)["rule"]: v for k, v in metrics["monitor_alerts_firing"].items()}
    assert firing == {"failed_high": 1.0, "denied_high": 0.0}
    key = (("metric", "status:failed"), ("rule", "failed_high"), ("severity", "critical"))
    assert metrics["monitor_alerts_firing"][key] == 1.0
    outcomes = {(dict(k)["channel"], dict(k)["outcome"]): v for k, v in metrics["monitor_notifications_total"].items()}
    assert outcomes == {("ops", "delivered"): 1.0, ("console", "delivered"): 1.0}
    assert metrics["monitor_silences_active"][()] == 1.0
    assert metrics["monitor_notification_queue_depth"][()] == 0.0


def test_each_app_has_its_own_registry(backend):
    first = backend.app().server.test_client()
    second = backend.keep_app(create_app({"db": backend.new_target()})).server.test_client()
    stamp = "2025-07-12 10:00:00"
    assert first.post("/api/transaction", json=[{"timestamp": stamp, "status": "failed", "count": 2}]).status_code == 201
    assert scrape(first)["monitor_ingested_transactions_total"][(("status", "failed"),)] == 2.0
    assert scrape(second)["monitor_ingested_transactions_total"][(("status", "failed"),)] == 0.0
    assert "monitor_ingest_requests_total" not in scrape(second)  # no request counted on the other app
