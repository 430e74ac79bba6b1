"""The REST API through Flask's test client: answers, errors that name the problem, and a store left untouched by bad input."""

from __future__ import annotations

import io
import json
import sqlite3

import pytest
from openapi_spec_validator import validate

from app import create_app

from .support import builtin_rule, make_minutes, two_figures

GOOD = {"timestamp": "2025-07-12 13:45:00", "status": "failed", "count": 3}


@pytest.fixture
def app(backend):
    """The app on each backend (conftest ``backend``): every test here that uses ``app`` or ``client`` runs on
    SQLite and on PostgreSQL."""
    return backend.app()


def test_post_one_record_and_read_it_back(client):
    response = client.post("/api/transaction", json=GOOD)
    assert response.status_code == 201
    # The minute is still open and the built-in failed_high rule (poisson_tail) judges closed minutes only.
    assert response.json == {"accepted": 1, "alerts": []}
    rows = client.get("/api/transactions?minutes=1").json["data"]
    assert rows[-1]["timestamp"] == "2025-07-12T13:45:00Z"
    assert rows[-1]["failed"] == 3 and rows[-1]["total"] == 3


def test_the_answer_lists_the_alert_the_request_fired(client):
    minute = [{"timestamp": "2025-07-12 13:45:00", "status": "failed", "count": 3},
              {"timestamp": "2025-07-12 13:45:00", "status": "approved", "count": 100}]
    assert client.post("/api/transaction", json=minute).json == {"accepted": 2, "alerts": []}
    # The next minute closes 13:45: three failures against 100 approvals are far beyond chance.
    closing = client.post("/api/transaction", json={"timestamp": "2025-07-12 13:46:00", "status": "approved", "count": 100})
    assert closing.status_code == 201
    (alert,) = closing.json["alerts"]
    assert {k: alert[k] for k in ("rule", "rule_type", "metric", "severity", "state", "started_at", "fired_at",
                                  "resolved_at", "duration_minutes")} == {
        "rule": "failed_high", "rule_type": "poisson_tail", "metric": "status:failed", "severity": "critical",
        "state": "firing", "started_at": "2025-07-12T13:45:00Z", "fired_at": "2025-07-12T13:45:00Z",
        "resolved_at": None, "duration_minutes": 1}
    # 3 failures in the 5-minute window against the built-in ratio (per approval) x 100 approvals in it.
    ratio = builtin_rule("failed_high")["ratio"]
    expected = per_100 = two_figures(ratio * 100)  # 100 approvals in the window: both figures are the ratio x 100
    assert alert["message"] == f"Failed transactions: 3 in 5 min, about {expected} expected"
    assert alert["detail"] == (f"3 in a 5-min window against {expected} expected ({per_100} per 100 approvals); fires at 3 "
                               "or more: at least 3 and an upper-tail probability of at most 2.5e-05 (Poisson)")
    assert client.get("/api/alerts?state=firing").json["alerts"] == [{**alert, "silenced": False}]


def test_a_batch_of_auth_codes_keeps_codes_as_strings(client):
    batch = [{"timestamp": "2025-07-12 13:45:00", "auth_code": c, "count": n} for c, n in (("00", 116), ("51", 4), ("59", 0))]
    assert client.post("/api/auth_code", json=batch).json["accepted"] == 3
    row = client.get("/api/auth_codes?minutes=1").json["data"][-1]
    assert (row["00"], row["51"], row["59"]) == (116, 4, 0)


BIG = [GOOD] * 10_001
LONG = [dict(GOOD, note="x" * 600)] * 5_000  # about 3.3 MB, under the record cap


@pytest.mark.parametrize(
    "path, kwargs, status, error, words",
    [
        ("/api/transaction", {"data": "{not json", "content_type": "application/json"}, 400, "invalid_json", "not valid JSON"),
        ("/api/transaction", {"data": json.dumps(GOOD), "content_type": "text/plain"}, 415, "unsupported_media_type", "application/json"),
        ("/api/transaction", {"data": json.dumps(GOOD)}, 415, "unsupported_media_type", "application/json"),
        ("/api/transaction", {"json": LONG}, 413, "payload_too_large", "3000000 bytes"),
        ("/api/transaction", {"json": BIG}, 413, "too_many_records", "at most 10000"),
        ("/api/transaction", {"json": [GOOD, {"status": "failed", "count": 1}]}, 422, "invalid_records", "record 1, field 'timestamp': is required"),
        ("/api/transaction", {"json": [GOOD, dict(GOOD, timestamp=5)] + [dict(GOOD, timestamp=[1])]}, 422, "invalid_records", "record 2, field 'timestamp'"),
        ("/api/transaction", {"json": [dict(GOOD, count=-1)]}, 422, "invalid_records", "record 0, field 'count': must be a non-negative integer"),
        ("/api/transaction", {"json": [dict(GOOD, count=2.5)]}, 422, "invalid_records", "field 'count'"),
        ("/api/transaction", {"json": [dict(GOOD, count="3")]}, 422, "invalid_records", "field 'count'"),
        ("/api/transaction", {"json": [dict(GOOD, status="processing")]}, 422, "invalid_records", "unknown status 'processing'"),
        ("/api/transaction", {"json": [dict(GOOD, status=None)]}, 422, "invalid_records", "field 'status'"),
        ("/api/transaction", {"json": [dict(GOOD, timestamp="12/07/2025")]}, 422, "invalid_records", "could not parse '12/07/2025'"),
        ("/api/transaction", {"json": [dict(GOOD, timestamp="2099-01-01 00:00:00")]}, 422, "invalid_records", "in the future"),
        ("/api/transaction", {"json": []}, 422, "invalid_records", "empty"),
        ("/api/transaction", {"json": "failed"}, 422, "invalid_records", "expected a JSON object"),
        ("/api/auth_code", {"json": {"timestamp": "2025-07-12 13:45:00", "auth_code": 51, "count": 1}}, 422, "invalid_records", "field 'auth_code': must be a string"),
        ("/api/auth_code", {"json": {"timestamp": "2025-07-12 13:45:00", "auth_code": "05", "count": 1}}, 422, "invalid_records", "unknown auth_code '05'"),
    ],
)
def test_bad_input_gets_a_clear_error_and_changes_nothing(client, backend, path, kwargs, status, error, words):
    client.post("/api/transaction", json=[GOOD, dict(GOOD, status="approved", count=100)])
    before = backend.dump()
    response = client.post(path, **kwargs)
    assert response.status_code == status
    assert response.json["error"] == error
    assert words in response.json["message"]
    assert "Traceback" not in response.get_data(as_text=True)
    assert backend.dump() == before


def test_a_body_without_a_length_is_refused_once_its_read_passes_the_limit(client, backend):
    # Sent chunked, without Content-Length: the size is known only by reading, and the read stops past the limit.
    before = backend.dump()
    response = client.post("/api/transaction", input_stream=io.BytesIO(json.dumps(LONG).encode()),
                           content_type="application/json", environ_overrides={"CONTENT_LENGTH": ""})
    assert response.status_code == 413
    assert response.json == {"error": "payload_too_large",
                             "message": "the body is over 3000000 bytes; split it into smaller requests"}
    assert backend.dump() == before


def test_validation_errors_list_index_and_field(client):
    response = client.post("/api/transaction", json=[GOOD, dict(GOOD, count=-1), dict(GOOD, status="x")])
    assert [(d["index"], d["field"]) for d in response.json["details"]] == [(1, "count"), (2, "status")]


def test_unknown_routes_and_bad_query_parameters_answer_json(client):
    assert client.get("/api/nothing").status_code == 404
    assert client.get("/api/nothing").json["error"] == "not_found"
    assert client.delete("/api/transaction").status_code == 405
    for url, words in (
        ("/api/alerts?state=open", "'state' must be one of"),
        ("/api/alerts?limit=0", "'limit' must be from 1"),
        ("/api/transactions?minutes=abc", "'minutes' must be an integer"),
        ("/api/stats?minutes=999999", "'minutes' must be from 1"),
    ):
        response = client.get(url)
        assert response.status_code == 400 and words in response.json["message"]


def test_idempotency_key_makes_a_retry_count_once(client):
    headers = {"Idempotency-Key": "req-1"}
    first = client.post("/api/transaction", json=GOOD, headers=headers)
    again = client.post("/api/transaction", json=GOOD, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json == first.json and again.headers["Idempotent-Replayed"] == "true"
    assert client.get("/api/transactions?minutes=1").json["data"][-1]["failed"] == 3
    other = client.post("/api/transaction", json=dict(GOOD, count=4), headers=headers)
    assert other.status_code == 422 and other.json["error"] == "idempotency_key_reused"
    # the same key on the other route is a different request
    auth = {"timestamp": "2025-07-12 13:45:00", "auth_code": "51", "count": 1}
    assert client.post("/api/auth_code", json=auth, headers=headers).status_code == 201


def test_idempotency_keys_survive_a_restart(backend):
    headers = {"Idempotency-Key": "batch-42"}
    first = backend.app().server.test_client()
    assert first.post("/api/transaction", json=GOOD, headers=headers).status_code == 201
    second = backend.app().server.test_client()
    assert second.post("/api/transaction", json=GOOD, headers=headers).headers["Idempotent-Replayed"] == "true"
    assert second.get("/api/transactions?minutes=1").json["data"][-1]["failed"] == 3


def test_a_token_protects_writes_but_not_reads(backend):
    client = backend.app(api_token="s3cret").server.test_client()
    assert client.post("/api/transaction", json=GOOD).status_code == 401
    assert client.post("/api/transaction", json=GOOD, headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.post("/api/transaction", json=GOOD, headers={"Authorization": "Bearer s3cret"}).status_code == 201
    assert client.get("/api/transactions").status_code == 200


def test_stats_alerts_and_health_describe_the_state(client, app):
    for statuses, auth in make_minutes(310):
        client.post("/api/transaction", json=statuses)
        client.post("/api/auth_code", json=auth)
    stats = client.get("/api/stats?minutes=60").json
    assert stats["window_minutes"] == 60
    assert stats["total"] == sum(stats["totals"].values())
    assert abs(sum(stats["rates"].values()) - 1) < 1e-9
    assert stats["newest_event_time"] == "2025-07-12T05:09:00Z"
    monitor = app.server.extensions["monitor"]
    assert [r["id"] for r in stats["rules"]] == [r.id for r in monitor.thresholds.rules]
    firing = client.get("/api/alerts?state=firing").json
    # the denial spike that began at 05:00 fires on the denial metrics, from its first minute on
    denial_metrics = {"status:denied", "rate:denied", "auth_code:51", "auth_code:59"}
    assert firing["alerts"] and {a["metric"] for a in firing["alerts"]} <= denial_metrics
    assert min(a["started_at"] for a in firing["alerts"]) == "2025-07-12T05:00:00Z"
    everything = client.get("/api/alerts?state=all").json["alerts"]
    assert len(everything) >= 2  # the spike fires on several denial metrics
    newest = client.get("/api/alerts?state=all&limit=1").json
    assert newest["count"] == 1 and newest["alerts"] == everything[:1]  # the limit is the newest N
    health = client.get("/api/health").json
    assert health["status"] == "ok" and health["store"]["ok"]
    assert health["newest_event_time"] == "2025-07-12T05:09:00Z"
    assert health["feeds"]["status"]["no_data"] is False


def test_openapi_document_is_valid_and_lists_every_route(client, app):
    document = client.get("/api/openapi.json").json
    validate(document)
    routes = {str(rule) for rule in app.server.url_map.iter_rules() if str(rule).startswith("/api/") and "<" not in str(rule)}
    assert routes <= set(document["paths"])


# SQLite only: another process's exclusive lock on the database file makes the write fail; PostgreSQL has no
# file lock to take (a lost PostgreSQL session is tested in test_store_postgres.py).
def test_a_store_that_cannot_be_written_answers_503_and_keeps_what_was_stored(db_path):
    app = create_app({"db": db_path})
    client = app.server.test_client()
    assert client.post("/api/transaction", json=GOOD).status_code == 201
    monitor = app.server.extensions["monitor"]
    locker = sqlite3.connect(db_path, timeout=0)
    locker.execute("BEGIN EXCLUSIVE")  # another process holds the database
    monitor.store._writer.execute("PRAGMA busy_timeout = 50")
    try:
        response = client.post("/api/transaction", json=GOOD)
        assert response.status_code == 503 and response.json["error"] == "store_unavailable"
    finally:
        locker.rollback()
        locker.close()
    assert client.get("/api/transactions?minutes=1").json["data"][-1]["failed"] == 3  # memory rebuilt from disk
    assert client.post("/api/transaction", json=GOOD).status_code == 201
    assert client.get("/api/transactions?minutes=1").json["data"][-1]["failed"] == 6


@pytest.mark.parametrize(("path", "takes"), [
    ("/api/transactions?minute=5", "'minutes', 'slice'"),
    ("/api/auth_codes?minutes=5&window=1", "'minutes', 'slice'"),
    ("/api/stats?mins=5", "'minutes'"),
    ("/api/alerts?status=firing", "'state', 'limit'"),
    ("/api/silences?state=active", "'status'"),
    ("/api/notifications?outcomes=failed", "'limit', 'channel', 'incident_id', 'alert_id', 'outcome'"),
])
def test_an_unknown_query_parameter_is_a_400_naming_it_and_what_the_route_takes(client, path, takes):
    response = client.get(path)
    assert response.status_code == 400
    name = path.split("?")[1].split("&")[-1].split("=")[0]
    assert response.get_json() == {
        "error": "invalid_parameter",
        "message": f"unknown query parameter {name!r}; this route takes {takes}",
    }


def test_health_ignores_a_cache_busting_parameter(client):
    assert client.get("/api/health?_=1733160000").status_code == 200
