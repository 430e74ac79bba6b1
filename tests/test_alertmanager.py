"""The ``alertmanager`` channel against Debian's real Alertmanager: an incident appears there with its labels and
annotations and ends when it resolves, comes back after a restart within one re-send interval, an
escalation leaves one alert, and a dead Alertmanager is retried and logged while ingestion goes on."""

from __future__ import annotations

import time
from typing import Any

import pytest

from app import create_app
from detection.channels import AlertmanagerChannel
from detection.incidents import ESCALATED, OPENED

from .alertmanager_support import Alertmanager, free_port
from .delivery_support import (
    FAST,
    THRESHOLDS,
    CommittedIncidents,
    fire,
    log_rows,
    make_delivery,
    post_minute,
    resolve,
    save_alerts,
    settle,
    spike,
    spike_alerts,
    tell,
    wait_until,
    write_json,
)

RUNBOOK = "https://wiki.example.com/runbooks/failed-transactions"
# What the issue asks of an operator's try: the alert is listed within 30 s of the burst.
LISTED_WITHIN = 30.0
RESEND = 3.0  # a short re-send interval, so the restart test is quick
# Beyond one interval: the dispatcher looks for due re-sends every tenth of it, then a post; and a process
# on a 2-core machine at load 8 can be kept off the CPU for a few seconds.
RESEND_SLACK = 10.0


@pytest.fixture
def alertmanager(tmp_path):
    with Alertmanager(tmp_path / "alertmanager") as am:
        yield am


def _app(folder, channel: dict[str, Any]):
    thresholds = {**THRESHOLDS, "rules": [{**THRESHOLDS["rules"][0], "runbook_url": RUNBOOK},
                                          THRESHOLDS["rules"][1]]}
    return create_app({
        "db": str(folder / "monitor.db"),
        "thresholds": write_json(folder, "thresholds.json", thresholds),
        "notifications": write_json(folder, "notify.json", {"version": 1, **FAST, "channels": [channel]}),
    })


def _of(alerts: list[dict[str, Any]], incident_id: str) -> list[dict[str, Any]]:
    return [a for a in alerts if a["labels"].get("incident") == incident_id]


def test_a_failure_burst_is_listed_by_alertmanager_with_its_labels_and_ends_there_when_it_resolves(
        tmp_path, alertmanager):
    app = _app(tmp_path, {"type": "alertmanager", "name": "am", "urls": [alertmanager.url],
                          "instance": "monitor-1"})
    monitor = app.server.extensions["monitor"]
    delivery = app.server.extensions["delivery"].start()
    client = app.server.test_client()
    try:
        fire(client)
        (incident,) = monitor.incidents()
        (listed,) = wait_until(lambda: _of(alertmanager.alerts(), incident.id), LISTED_WITHIN,
                               "Alertmanager to list the incident")
        resolve(client)
        assert not monitor.incidents()[0].is_open
        wait_until(lambda: not _of(alertmanager.alerts(), incident.id), what="Alertmanager to end the alert")
        settle(delivery)
    finally:
        delivery.stop()

    assert listed["labels"] == {"alertname": "processing_failure", "severity": "critical", "metric": "status:failed",
                                "incident": incident.id, "source": "transaction-monitor", "instance": "monitor-1"}
    annotations = listed["annotations"]
    assert annotations["summary"] == incident.title
    assert annotations["description"].startswith(incident.summary + "\n")
    assert f"incident {incident.id} (processing_failure) since 2025-07-12T13:00:00Z" in annotations["description"]
    assert annotations["dashboard"] == f"{FAST['dashboard_url']}?incident={incident.id}"  # opens at the incident
    assert annotations["runbook_url"] == RUNBOOK
    assert listed["generatorURL"] == f"{FAST['dashboard_url']}api/incidents/{incident.id}"
    assert listed["startsAt"].startswith("2025-07-12T13:00:00")  # the incident's event time
    assert listed["status"]["state"] == "active"
    rows = log_rows(client, channel="am")
    assert {(r["kind"], r["outcome"]) for r in rows} >= {("opened", "delivered"), ("resolved", "delivered")}


def test_a_restarted_alertmanager_has_the_open_incident_again_within_one_resend_interval(tmp_path, alertmanager):
    app = _app(tmp_path, {"type": "alertmanager", "name": "am", "urls": [alertmanager.url],
                          "resend_seconds": RESEND, "group_wait": False})
    monitor = app.server.extensions["monitor"]
    delivery = app.server.extensions["delivery"].start()
    client = app.server.test_client()
    try:
        fire(client)
        (incident,) = monitor.incidents()
        wait_until(lambda: _of(alertmanager.alerts(), incident.id), LISTED_WITHIN, "the incident in Alertmanager")
        alertmanager.stop()
        alertmanager.start()  # the same port and data directory; alerts live in its memory only
        back = time.monotonic()
        wait_until(lambda: _of(alertmanager.alerts(), incident.id), RESEND + RESEND_SLACK,
                   "the incident in the restarted Alertmanager")
        took = time.monotonic() - back
    finally:
        delivery.stop()
    assert took <= RESEND + RESEND_SLACK
    repeats = [r for r in log_rows(client, channel="am") if r["kind"] == "repeat" and r["outcome"] == "delivered"]
    assert repeats, "the incident came back by a re-send"


def test_an_escalation_leaves_one_alert_with_the_new_severity(tmp_path, alertmanager):
    channel = AlertmanagerChannel("am", [alertmanager.url], group_wait=False)
    firing = spike_alerts()
    warning = spike(firing, severity="warning")
    committed = CommittedIncidents()  # empty at start: what is committed before the first start is history
    delivery = make_delivery(str(tmp_path / "monitor.db"), [channel], incidents=committed).start()
    try:
        save_alerts(delivery.store, firing)
        tell(delivery, OPENED, committed.commit(warning))
        wait_until(lambda: _of(alertmanager.alerts(), warning.id), what="the warning in Alertmanager")
        critical = committed.commit(spike(firing, severity="critical"))
        tell(delivery, ESCALATED, critical)
        wait_until(lambda: [a["labels"]["severity"] for a in _of(alertmanager.alerts(), warning.id)] == ["critical"],
                   what="only the critical alert listed")
        settle(delivery)
    finally:
        delivery.stop()
    (listed,) = _of(alertmanager.alerts(), warning.id)
    assert listed["labels"]["alertname"] == "denial_spike" and listed["labels"]["metric"] == "status:denied"


def test_a_dead_alertmanager_is_retried_and_logged_while_ingestion_goes_on_and_a_live_one_still_gets_it(
        tmp_path, alertmanager):
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    app = _app(tmp_path, {"type": "alertmanager", "name": "am", "urls": [dead, alertmanager.url],
                          "resend_seconds": RESEND})
    monitor = app.server.extensions["monitor"]
    delivery = app.server.extensions["delivery"].start()
    client = app.server.test_client()
    try:
        fire(client)  # every post is answered 201 (post_minute asserts it)
        (incident,) = monitor.incidents()
        # Every attempt is logged: errors, then "failed" after max_attempts; a re-send later tries again.
        wait_until(lambda: any(r["kind"] == "repeat" for r in log_rows(client, channel="am", outcome="error")),
                   what="a re-send tried after the opening failed")
        for minute in range(3, 8):  # ingestion is answered as usual meanwhile
            post_minute(client, minute, failed=3)
        # The cluster member that is up got the incident from every attempt (it deduplicates them).
        assert _of(alertmanager.alerts(), incident.id)
    finally:
        delivery.stop()
    rows = log_rows(client, channel="am")
    opened = sorted((r["attempt"], r["outcome"]) for r in rows if r["kind"] == "opened")
    assert opened == [(1, "error"), (2, "error"), (3, "error"), (3, "failed")]
    details = {r["detail"] for r in rows if r["outcome"] == "error"}
    assert all(d.startswith("1 of 2 Alertmanager(s) did not take it: cannot reach the receiver") for d in details)
    assert all(f"{dead}/api/v2/alerts" in d and f"{alertmanager.url}/" not in d for d in details)
    assert monitor.ingested_totals()["status:failed"] == 8 * 3


def _refreshes(client) -> int:
    return len([r for r in log_rows(client, channel="am") if r["kind"] == "repeat" and r["outcome"] == "delivered"])


def test_an_acknowledged_incident_is_still_refreshed_in_alertmanager(tmp_path, alertmanager):
    app = _app(tmp_path, {"type": "alertmanager", "name": "am", "urls": [alertmanager.url],
                          "resend_seconds": RESEND, "group_wait": False})
    monitor = app.server.extensions["monitor"]
    delivery = app.server.extensions["delivery"].start()
    client = app.server.test_client()
    try:
        fire(client)
        (incident,) = monitor.incidents()
        wait_until(lambda: _of(alertmanager.alerts(), incident.id), what="the incident in Alertmanager")
        answer = client.post(f"/api/incidents/{incident.id}/ack", json={"by": "ana"})
        assert answer.status_code == 200, answer.get_json()
        before = _refreshes(client)
        # Reminders stop for an acknowledged incident, but Alertmanager would resolve it without refreshes.
        wait_until(lambda: _refreshes(client) >= before + 2, what="two refreshes after the acknowledgement")
    finally:
        delivery.stop()
