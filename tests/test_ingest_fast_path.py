"""Accepted ingest POSTs are answered before Flask (api.ingest.IngestFastPath), and a client cannot tell.

The fast path exists for speed (benchmarks/bench_http.py); these tests pin down what it must not change:
the same status, body and headers as the Flask route for every kind of request, refusals and large answers
left to Flask (its error handlers, hooks and compression), each request counted once, nothing stored twice.
"""

from __future__ import annotations

import gzip
import json
import logging
from pathlib import Path

import pytest
from flask import request

from api.ingest import IngestFastPath
from app import create_app
from detection import Monitor, Store, load_thresholds

TOKEN = "s3cret-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
GOOD = {"timestamp": "2025-07-12 13:45:00", "status": "failed", "count": 3}


def alert_minutes() -> tuple[list[dict], dict]:
    """A minute with three failures against 100 approvals, and the record whose minute closes it (one alert)."""
    first = [{"timestamp": "2025-07-12 13:45:00", "status": "failed", "count": 3},
             {"timestamp": "2025-07-12 13:45:00", "status": "approved", "count": 100}]
    return first, {"timestamp": "2025-07-12 13:46:00", "status": "approved", "count": 100}


def flask_seen(app) -> list[str]:
    """The paths of the requests that reach Flask's request handling (its before-request hooks)."""
    seen: list[str] = []
    app.server.before_request(lambda: seen.append(request.path))
    return seen


def make(tmp_path: Path, name: str, fast: bool = True, **config):
    app = create_app({"db": str(tmp_path / f"{name}.db"), "window_days": 2, **config})
    if not fast:  # the app as it was before the fast path: every request through Flask
        assert isinstance(app.server.wsgi_app, IngestFastPath)
        app.server.wsgi_app = app.server.wsgi_app.app
    return app


def test_an_accepted_post_never_reaches_flask_and_a_refused_one_does(tmp_path):
    app = make(tmp_path, "m")
    seen = flask_seen(app)
    client = app.server.test_client()
    accepted = client.post("/api/transaction", json=GOOD)
    assert (accepted.status_code, accepted.json) == (201, {"accepted": 1, "alerts": []})
    assert client.post("/api/auth_code", json={"timestamp": "2025-07-12 13:45:00", "auth_code": "51", "count": 2}).status_code == 201
    assert seen == []
    refused = client.post("/api/transaction", json={**GOOD, "status": "lost"})
    assert refused.status_code == 422 and refused.json["error"] == "invalid_records"
    assert refused.json["details"][0]["field"] == "status"
    assert client.get("/api/transactions?minutes=1").status_code == 200
    assert seen == ["/api/transaction", "/api/transactions"]
    # Only what was accepted was stored, once.
    assert client.get("/api/stats?minutes=5").json["totals"]["failed"] == 3


def requests_to_compare() -> list[tuple[str, dict, dict]]:
    """(path, keyword arguments of client.post, extra headers): every outcome an ingest POST can have."""
    first, closing = alert_minutes()
    return [
        ("/api/transaction", {"json": GOOD}, AUTH),  # accepted, small
        ("/api/transaction", {"json": GOOD}, {}),  # 401: no token
        ("/api/transaction", {"json": GOOD}, {"Authorization": "Bearer wrong"}),  # 401
        ("/api/transaction", {"data": json.dumps(GOOD), "content_type": "text/plain"}, AUTH),  # 415
        ("/api/transaction", {"data": "{", "content_type": "application/json"}, AUTH),  # 400
        ("/api/transaction", {"data": "x" * 4_000_000, "content_type": "application/json"}, AUTH),  # 413
        ("/api/transaction", {"json": [{**GOOD, "count": -1}, {**GOOD, "status": "lost"}]}, AUTH),  # 422
        ("/api/transaction", {"json": first}, {**AUTH, "Idempotency-Key": "k1"}),  # accepted
        ("/api/transaction", {"json": first}, {**AUTH, "Idempotency-Key": "k1"}),  # replayed
        ("/api/transaction", {"json": GOOD}, {**AUTH, "Idempotency-Key": "k1"}),  # 422: the key with another body
        ("/api/transaction", {"json": GOOD}, {**AUTH, "Idempotency-Key": ""}),  # 400: an empty key
        ("/api/transaction", {"json": closing}, {**AUTH, "Accept-Encoding": "gzip"}),  # accepted, fires: large
        ("/api/auth_code", {"json": [{"timestamp": "2025-07-12 13:46:00", "auth_code": "00", "count": 99}]}, AUTH),
        ("/api/auth_code", {"json": {"timestamp": "2025-07-12 13:46:00", "auth_code": "0", "count": 1}}, AUTH),  # 422
    ]


def test_every_answer_is_the_same_with_and_without_the_fast_path(tmp_path):
    fast = make(tmp_path, "fast", api_token=TOKEN).server.test_client()
    slow = make(tmp_path, "slow", fast=False, api_token=TOKEN).server.test_client()
    statuses = []
    for path, kwargs, headers in requests_to_compare():
        a, b = (client.post(path, headers=headers, **kwargs) for client in (fast, slow))
        assert a.status_code == b.status_code, (path, kwargs, headers)
        assert a.get_data() == b.get_data(), (path, kwargs, headers)
        for name in ("Content-Type", "Content-Length", "Content-Encoding", "Idempotent-Replayed", "Vary", "Allow"):
            assert a.headers.get(name) == b.headers.get(name), (name, path, kwargs, headers)
        statuses.append(a.status_code)
    assert statuses == [201, 401, 401, 415, 400, 413, 422, 201, 201, 422, 400, 201, 201, 422]
    # The same metrics were counted for the same requests (every one once), and the same records stored.
    scrape = [line for line in fast.get("/metrics").get_data(as_text=True).splitlines()
              if line.startswith(("monitor_ingest_requests_total", "monitor_ingest_errors_total", "monitor_ingested_"))]
    assert scrape == [line for line in slow.get("/metrics").get_data(as_text=True).splitlines()
                      if line.startswith(("monitor_ingest_requests_total", "monitor_ingest_errors_total", "monitor_ingested_"))]
    assert 'monitor_ingest_requests_total{code="201",feed="status"} 4.0' in scrape
    assert 'monitor_ingest_requests_total{code="401",feed="status"} 2.0' in scrape
    assert (fast.get("/api/stats?minutes=5", headers=AUTH).json["totals"]
            == slow.get("/api/stats?minutes=5", headers=AUTH).json["totals"])


def test_a_large_accepted_answer_is_compressed_for_a_client_that_asks(tmp_path):
    app = make(tmp_path, "m")
    seen = flask_seen(app)
    client = app.server.test_client()
    first, closing = alert_minutes()
    assert client.post("/api/transaction", json=first).status_code == 201
    answer = client.post("/api/transaction", json=closing, headers={"Accept-Encoding": "gzip"})
    assert answer.status_code == 201 and answer.headers["Content-Encoding"] == "gzip"
    body = json.loads(gzip.decompress(answer.get_data()))
    assert len(json.dumps(body)) >= 500  # why it was compressed: at least COMPRESS_MIN_BYTES
    assert body["accepted"] == 1 and [a["rule"] for a in body["alerts"]] == ["failed_high"]
    # Handed to Flask for its hooks once stored, and stored once: the closing minute's approvals count once.
    assert seen == ["/api/transaction"]
    assert client.get("/api/transactions?minutes=2").json["data"][-1]["approved"] == 100
    # The alert it fired was recorded once too.
    assert [a["rule"] for a in client.get("/api/alerts?state=firing").json["alerts"]] == ["failed_high"]


class BrokenMonitor(Monitor):
    """A real Monitor whose ingest hits a programming error (not a store failure)."""

    def ingest(self, *args, **kwargs):
        raise RuntimeError("a bug: secret internals")


def test_an_unexpected_error_is_flasks_json_500_with_no_trace_and_logged(tmp_path, caplog):
    monitor = BrokenMonitor(load_thresholds(), Store(str(tmp_path / "m.db")))
    app = create_app({"db": str(tmp_path / "m.db"), "window_days": 2}, monitor=monitor)
    seen = flask_seen(app)
    with caplog.at_level(logging.ERROR, logger="monitor.api"):
        answer = app.server.test_client().post("/api/transaction", json=GOOD)
    assert answer.status_code == 500
    assert answer.json == {"error": "internal_error", "message": "the monitor hit an unexpected error; see its log"}
    assert "secret" not in answer.get_data(as_text=True)
    assert seen == ["/api/transaction"]
    (record,) = [r for r in caplog.records if r.name == "monitor.api"]
    assert record.getMessage() == "unhandled error on POST /api/transaction"
    assert record.exc_info is not None and str(record.exc_info[1]) == "a bug: secret internals"


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_other_methods_on_the_ingest_paths_are_flasks_405(tmp_path, method):
    client = make(tmp_path, "m").server.test_client()
    answer = client.open("/api/transaction", method=method)
    assert answer.status_code == 405 and answer.json["error"] == "method_not_allowed"
    assert answer.headers["Allow"] == "OPTIONS, POST"
