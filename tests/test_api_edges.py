"""The API's and the notification layer's documented limits, from both sides (faults planted by hand got past them)."""

from __future__ import annotations

import time

import pytest

from detection.alerts import FIRING, Alert
from detection.silences import Silence

from .delivery_support import fire, make_app, wait_until


@pytest.fixture
def app(backend):
    """The app on each backend (conftest ``backend``): every test here that uses ``app`` or ``client`` runs on
    SQLite and on PostgreSQL."""
    return backend.app()


@pytest.mark.parametrize(("path", "name"), [("/api/alerts", "limit"), ("/api/notifications", "limit")])
def test_limit_is_accepted_up_to_10000_and_refused_above(client, path, name):
    assert client.get(path, query_string={name: 10_000}).status_code == 200
    assert client.get(path, query_string={name: 1}).status_code == 200
    for bad in (10_001, 0):
        response = client.get(path, query_string={name: bad})
        assert response.status_code == 400
        assert response.get_json()["error"] == "invalid_parameter"
        assert f"'{name}'" in response.get_json()["message"]


@pytest.mark.parametrize("path", ["/api/transactions", "/api/auth_codes", "/api/stats"])
def test_minutes_is_accepted_up_to_the_memory_window_and_refused_above(app, client, path):
    window = app.server.extensions["monitor"].settings.window_minutes
    assert window == 7 * 24 * 60  # MONITOR_WINDOW_DAYS defaults to 7
    assert client.get(path, query_string={"minutes": window}).status_code == 200
    for bad in (window + 1, 0):
        response = client.get(path, query_string={"minutes": bad})
        assert response.status_code == 400
        assert "'minutes'" in response.get_json()["message"]


def _alert(**fields) -> Alert:
    base = {"id": "a1", "rule": "failed_high", "rule_type": "threshold", "metric": "status:failed",
            "severity": "critical", "state": FIRING, "started_at": 29_204_640}
    return Alert(**{**base, **fields})


def test_a_silence_mutes_only_when_every_matcher_matches():
    silence = Silence("s1", {"rule": "failed_high", "severity": "warning"}, 0.0, 1e12, 0.0)
    assert not silence.matches(_alert())  # the rule matches, the severity does not
    assert silence.matches(_alert(severity="warning"))
    assert not Silence("s2", {"metric": "status:denied", "rule": "failed_high"}, 0.0, 1e12, 0.0).matches(_alert())
    assert Silence("s3", {"metric": "status:failed"}, 0.0, 1e12, 0.0).matches(_alert())


def test_a_silence_with_one_wrong_matcher_does_not_mute_through_the_api(tmp_path, httpserver, backend):
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    app = backend.keep_app(make_app(tmp_path, [{"type": "webhook", "name": "ops", "url": httpserver.url_for("/hook")}],
                                    db=backend.target))
    client = app.server.test_client()
    made = client.post("/api/silences", json={"matchers": {"rule": "failed_high", "severity": "warning"},
                                              "ends_at": time.time() + 3600})
    assert made.status_code == 201
    fire(client)
    firing = client.get("/api/alerts", query_string={"state": "firing"}).get_json()["alerts"]
    assert [(a["rule"], a["silenced"]) for a in firing] == [("failed_high", False)]


def test_retries_back_off_but_never_wait_longer_than_backoff_max(tmp_path, httpserver, backend):
    """backoff 0.4 s doubling, capped at 0.4 s: five attempts about 0.4 s apart (uncapped: 0.4, 0.8, 1.6, 3.2)."""
    arrivals: list[float] = []

    def failing(request):
        from werkzeug import Response

        arrivals.append(time.monotonic())
        return Response("down", status=500)

    httpserver.expect_request("/hook", method="POST").respond_with_handler(failing)
    app = backend.keep_app(make_app(tmp_path, [{"type": "webhook", "name": "ops", "url": httpserver.url_for("/hook")}],
                                    db=backend.target, max_attempts=5, backoff_seconds=0.4, backoff_max_seconds=0.4))
    delivery = app.server.extensions["delivery"].start()
    try:
        fire(app.server.test_client())
        wait_until(lambda: len(arrivals) >= 5, timeout=60, what="five delivery attempts")
    finally:
        delivery.stop()
    gaps = [b - a for a, b in zip(arrivals, arrivals[1:5], strict=False)]
    assert all(gap >= 0.35 for gap in gaps), gaps  # each retry waits its backoff
    assert max(gaps) < 1.5, gaps  # the cap holds: uncapped, the last gap would be 3.2 s


def test_each_detail_of_a_422_names_index_field_and_message(client):
    body = [{"timestamp": "2025-07-12 13:45:00", "status": "failed", "count": 3},
            {"timestamp": "2025-07-12 13:45:00", "status": "failed", "count": -1}]
    response = client.post("/api/transaction", json=body)
    assert response.status_code == 422
    (detail,) = response.get_json()["details"]
    assert set(detail) == {"index", "field", "message"}
    assert (detail["index"], detail["field"]) == (1, "count")
    assert "-1" in detail["message"]
    assert response.get_json()["message"].startswith("record 1, field 'count': ")


def test_field_errors_read_plainly_with_or_without_a_place():
    from detection.records import FieldError, RecordValidationError

    assert str(FieldError(None, None, "expected a JSON array or object")) == "expected a JSON array or object"
    assert str(FieldError(None, "count", "must be >= 0")) == "field 'count': must be >= 0"
    assert str(FieldError(2, "count", "must be >= 0")) == "record 2, field 'count': must be >= 0"
    assert str(RecordValidationError([])) == "invalid records"


def test_a_thresholds_error_names_the_value_it_got():
    from detection import ConfigError, parse_thresholds

    rule = {"id": "r", "type": "threshold", "metric": "status:failed", "direction": "above", "threshold": 1, "for": 0}
    with pytest.raises(ConfigError) as raised:
        parse_thresholds({"version": 1, "rules": [rule]}, "thresholds.json")
    assert str(raised.value) == "thresholds.json.rules[0].for: expected an integer >= 1, got 0"


def test_a_negative_threshold_is_refused_naming_the_field():
    from detection import ConfigError, parse_thresholds

    rule = {"id": "r", "type": "threshold", "metric": "status:failed", "direction": "above", "threshold": -1}
    with pytest.raises(ConfigError) as raised:
        parse_thresholds({"version": 1, "rules": [rule]}, "t.json")
    assert str(raised.value) == "t.json.rules[0].threshold: expected a number >= 0, got -1"
