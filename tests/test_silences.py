"""Silences: the REST routes, their errors, and silenced alerts that show as silenced while their incident sends
nothing (an incident is silenced when every member alert is)."""

from __future__ import annotations

import json
import time

import pytest

from detection.channels import WebhookChannel
from detection.incidents import OPENED
from detection.metrics import epoch_to_iso

from .delivery_support import (
    fire,
    log_rows,
    make_app,
    make_delivery,
    resolve,
    save_alerts,
    settle,
    spike,
    spike_alerts,
    tell,
    wait_until,
)

DAY = 24 * 3600
SOON = epoch_to_iso(time.time() + 30 * DAY)  # silences end at most a year ahead
LATER = epoch_to_iso(int(time.time() + 40 * DAY))


@pytest.fixture
def app(backend):
    """The app on each backend (conftest ``backend``): every test here that uses ``app`` or ``client`` runs on
    SQLite and on PostgreSQL."""
    return backend.app()


@pytest.fixture
def notify_app(tmp_path, httpserver, backend):
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    return backend.keep_app(make_app(tmp_path, [{"type": "webhook", "name": "ops", "url": httpserver.url_for("/hook")}],
                                     db=backend.target))


def test_a_silenced_alert_sends_nothing_but_is_shown_as_silenced(notify_app, httpserver):
    client = notify_app.server.test_client()
    made = client.post("/api/silences", json={"matchers": {"rule": "failed_high"}, "ends_at": SOON,
                                             "comment": "planned gateway maintenance", "created_by": "ana"})
    assert made.status_code == 201
    silence_id = made.get_json()["id"]
    delivery = notify_app.server.extensions["delivery"].start()
    try:
        fire(client)
        firing = client.get("/api/alerts", query_string={"state": "firing"}).get_json()["alerts"]
        assert [(a["rule"], a["silenced"]) for a in firing] == [("failed_high", True)]
        stats = client.get("/api/stats").get_json()
        assert [a["silenced"] for a in stats["open_alerts"]] == [True]
        resolve(client)
        wait_until(lambda: len(log_rows(client, channel="ops", outcome="silenced")) == 2,
                   what="both transitions recorded as silenced")
        settle(delivery)
    finally:
        delivery.stop()
    assert httpserver.log == []
    rows = log_rows(client, channel="ops")
    assert all(r["outcome"] == "silenced" and silence_id in r["detail"] for r in rows)
    resolved = client.get("/api/alerts", query_string={"state": "resolved"}).get_json()["alerts"]
    assert [a["rule"] for a in resolved] == ["failed_high"]


def test_a_silence_on_another_rule_does_not_mute(notify_app, httpserver):
    client = notify_app.server.test_client()
    assert client.post("/api/silences", json={"matchers": {"rule": "denied_high", "severity": "warning"},
                                              "ends_at": SOON}).status_code == 201
    assert client.post("/api/silences", json={"matchers": {"metric": "status:failed"},
                                              "starts_at": epoch_to_iso(time.time() + 20 * DAY), "ends_at": SOON}).status_code == 201
    delivery = notify_app.server.extensions["delivery"].start()
    try:
        fire(notify_app.server.test_client())
        wait_until(lambda: httpserver.log, what="the opening message")
    finally:
        delivery.stop()
    firing = client.get("/api/alerts", query_string={"state": "firing"}).get_json()["alerts"]
    assert [a["silenced"] for a in firing] == [False]


def test_an_expired_silence_lets_a_still_open_incident_through(notify_app, httpserver):
    client = notify_app.server.test_client()
    silence_id = client.post("/api/silences", json={"matchers": {"rule": "failed_high"}, "ends_at": SOON}).get_json()["id"]
    delivery = notify_app.server.extensions["delivery"].start()
    try:
        fire(client)
        wait_until(lambda: log_rows(client, channel="ops", outcome="silenced"), what="the silenced opening")
        deleted = client.delete(f"/api/silences/{silence_id}")
        assert deleted.status_code == 200 and deleted.get_json()["status"] == "expired"
        wait_until(lambda: httpserver.log, what="the opening once the silence is over")
        settle(delivery)
    finally:
        delivery.stop()
    assert len(httpserver.log) == 1
    body = json.loads(httpserver.log[0][0].get_data())
    assert (body["status"], body["commonAnnotations"]["transition"]) == ("firing", "opened")
    assert body["alerts"][0]["status"] == "firing"


def test_an_incident_is_silenced_only_when_every_member_alert_is(backend, httpserver, caplog):
    """Three members: a silence on the two warnings leaves the critical one paging; silencing it too mutes all."""
    caplog.set_level("INFO", logger="monitor.delivery")
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    delivery = make_delivery(backend.target, [WebhookChannel("ops", httpserver.url_for("/hook"))])
    backend.keep(delivery.store)
    warnings = delivery.silences.create({"matchers": {"severity": "warning"}, "ends_at": SOON})
    delivery.start()
    try:
        alerts = spike_alerts()
        save_alerts(delivery.store, alerts)
        tell(delivery, OPENED, spike(alerts, "inc-partly-silenced"))
        wait_until(lambda: httpserver.log, what="the opening of the partly silenced incident")
        code_51 = delivery.silences.create({"matchers": {"rule": "auth_51_high"}, "ends_at": SOON})
        tell(delivery, OPENED, spike(alerts, "inc-all-silenced"))
        wait_until(lambda: delivery.log.entries(10, incident_id="inc-all-silenced", outcome="silenced"),
                   what="the silenced opening")
        settle(delivery)
    finally:
        delivery.stop()
    assert [json.loads(r.get_data())["groupKey"] for r, _ in httpserver.log] == ["inc-partly-silenced"]
    row = delivery.log.entries(10, incident_id="inc-all-silenced")[0]
    assert row["outcome"] == "silenced"
    assert row["detail"] == f"every member alert is silenced, by {warnings.id}, {code_51.id}"
    # the log says it once, naming the incident, the transition and the silences; nothing about the paged one
    said = [r.getMessage() for r in caplog.records if "is silenced by" in r.getMessage()]
    assert said == [f"incident inc-all-silenced opened is silenced by {warnings.id}, {code_51.id}; nothing sent"]


def test_silence_routes_list_get_and_expire(client):
    made = client.post("/api/silences", json={"matchers": {"metric": "auth_code:51"}, "ends_at": SOON})
    assert made.status_code == 201
    body = made.get_json()
    assert body["status"] == "active" and body["matchers"] == {"metric": "auth_code:51"}
    assert body["ends_at"] == SOON
    listed = client.get("/api/silences").get_json()
    assert listed["count"] == 1 and listed["silences"][0]["id"] == body["id"]
    assert client.get(f"/api/silences/{body['id']}").get_json()["id"] == body["id"]
    assert client.delete(f"/api/silences/{body['id']}").get_json()["status"] == "expired"
    assert client.get("/api/silences", query_string={"status": "active"}).get_json()["count"] == 0
    assert client.get("/api/silences", query_string={"status": "expired"}).get_json()["count"] == 1


def test_silences_survive_a_restart(backend):
    first = backend.app().server.test_client()
    made = first.post("/api/silences", json={"matchers": {"severity": "critical"}, "ends_at": SOON}).get_json()
    second = backend.app().server.test_client()
    assert [s["id"] for s in second.get("/api/silences").get_json()["silences"]] == [made["id"]]


@pytest.mark.parametrize(("body", "field", "says"), [
    ({"ends_at": SOON}, "matchers", "at least one of rule, metric, severity"),
    ({"matchers": {}, "ends_at": SOON}, "matchers", "at least one of rule, metric, severity"),
    ({"matchers": {"status": "failed"}, "ends_at": SOON}, "matchers.status", "unknown matcher"),
    ({"matchers": {"rule": ""}, "ends_at": SOON}, "matchers.rule", "non-empty string"),
    ({"matchers": {"severity": "loud"}, "ends_at": SOON}, "matchers.severity", "info, warning, critical, got 'loud'"),
    ({"matchers": {"rule": "failed_high"}}, "ends_at", "is required"),
    ({"matchers": {"rule": "failed_high"}, "ends_at": "next tuesday"}, "ends_at", "got 'next tuesday'"),
    ({"matchers": {"rule": "failed_high"}, "ends_at": "2001-01-01T00:00:00Z"}, "ends_at",
     "must be after starts_at"),
    # A fixed id: LATER is a wall time, and a test id that changes from run to run cannot be run again by name
    # (mutmut runs tests by the ids its stats pass saw).
    pytest.param({"matchers": {"rule": "failed_high"}, "starts_at": LATER, "ends_at": SOON}, "ends_at",
                 f"must be after starts_at ({LATER})", id="ends before a later start"),
    ({"matchers": {"rule": "failed_high"}, "ends_at": SOON, "comment": 5}, "comment", "expected a string"),
    ({"matchers": {"rule": "failed_high"}, "ends_at": SOON, "until": SOON}, "until", "unknown field"),
    ([1, 2], "body", "expected a JSON object"),
])
def test_a_bad_silence_gets_422_naming_the_field(client, body, field, says):
    response = client.post("/api/silences", json=body)
    assert response.status_code == 422
    error = response.get_json()
    assert error["error"] == "invalid_silence"
    assert [d["field"] for d in error["details"]] == [field]
    assert says in error["details"][0]["message"]
    assert error["message"] == f"{field}: {error['details'][0]['message']}"  # the summary repeats the one detail
    assert client.get("/api/silences").get_json()["count"] == 0


def test_silence_request_errors_are_json(client):
    bad_json = client.post("/api/silences", data="{nope", content_type="application/json")
    assert bad_json.status_code == 400 and bad_json.get_json()["error"] == "invalid_json"
    wrong_type = client.post("/api/silences", data="x", content_type="text/plain")
    assert wrong_type.status_code == 415
    missing = client.delete("/api/silences/doesnotexist")
    assert missing.status_code == 404 and "doesnotexist" in missing.get_json()["message"]
    assert client.get("/api/silences/doesnotexist").status_code == 404
    bad_filter = client.get("/api/silences", query_string={"status": "sleeping"})
    assert bad_filter.status_code == 400


def test_changing_silences_needs_the_api_token_when_one_is_set(backend):
    client = backend.app(api_token="t0ken").server.test_client()
    body = {"matchers": {"rule": "failed_high"}, "ends_at": SOON}
    assert client.post("/api/silences", json=body).status_code == 401
    made = client.post("/api/silences", json=body, headers={"Authorization": "Bearer t0ken"})
    assert made.status_code == 201
    assert client.delete(f"/api/silences/{made.get_json()['id']}").status_code == 401
    assert client.get("/api/silences").status_code == 200


def test_epoch_seconds_are_accepted_for_times(client):
    now = time.time()
    made = client.post("/api/silences", json={"matchers": {"rule": "x"}, "starts_at": now - 60, "ends_at": now + 3600})
    assert made.status_code == 201
    assert made.get_json()["status"] == "active"
