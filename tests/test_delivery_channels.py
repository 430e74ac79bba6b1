"""An incident with three member alerts reaches real receivers (webhook, Slack, email, console) once per transition."""

from __future__ import annotations

import json
import logging
import time
from email import message_from_bytes, policy

import pytest
from werkzeug import Response

from detection.channels import ConsoleChannel, EmailChannel, SlackChannel, WebhookChannel
from detection.incidents import ESCALATED, OPENED, RESOLVED_TRANSITION

from .delivery_support import (
    SPIKE_ID,
    SPIKE_SUMMARY,
    SPIKE_TITLE,
    CommittedIncidents,
    SmtpSink,
    fire,
    log_rows,
    make_app,
    make_delivery,
    save_alerts,
    settle,
    spike,
    spike_alerts,
    tell,
    wait_until,
)


@pytest.fixture
def smtp():
    with SmtpSink(login=("alerts", "s3cret")) as sink:
        yield sink


def _bodies(httpserver, path: str) -> list[dict]:
    return [json.loads(req.get_data()) for req, _ in httpserver.log if req.path == path]


def _delivered(delivery, channel: str) -> list[str]:
    return sorted(r["kind"] for r in delivery.log.entries(1000, channel=channel, outcome="delivered"))


def test_an_incident_of_three_alerts_gives_one_opening_and_one_resolving_message_per_channel(
        tmp_path, httpserver, smtp, caplog):
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    httpserver.expect_request("/slack", method="POST").respond_with_data("ok")
    channels = [
        ConsoleChannel(),
        WebhookChannel("ops", httpserver.url_for("/hook"), headers={"X-Team": "payments"}),
        SlackChannel("slack", httpserver.url_for("/slack")),
        EmailChannel("mail", "127.0.0.1", smtp.port, "monitor@example.com", ["oncall@example.com"],
                     username="alerts", password="s3cret"),
    ]
    delivery = make_delivery(str(tmp_path / "monitor.db"), channels).start()
    caplog.set_level(logging.WARNING, logger="monitor.alerts")
    firing = spike_alerts()
    try:
        save_alerts(delivery.store, firing)
        tell(delivery, OPENED, spike(firing))
        wait_until(lambda: _bodies(httpserver, "/hook") and _bodies(httpserver, "/slack") and smtp.messages,
                   what="the opening message on every channel")
        done = spike_alerts(resolved=True)
        save_alerts(delivery.store, done)
        tell(delivery, RESOLVED_TRANSITION, spike(done))
        wait_until(lambda: len(_bodies(httpserver, "/hook")) == 2 and len(_bodies(httpserver, "/slack")) == 2
                   and len(smtp.messages) == 2, what="the resolving message on every channel")
        settle(delivery)
    finally:
        delivery.stop()

    # Webhook: exactly two Alertmanager v4 payloads for the incident, its three alerts grouped under it.
    hooks = _bodies(httpserver, "/hook")
    assert [h["status"] for h in hooks] == ["firing", "resolved"]
    opening, resolution = hooks
    for body in hooks:
        assert body["version"] == "4"
        assert body["groupKey"] == SPIKE_ID
        assert body["receiver"] == "ops"
        assert body["groupLabels"] == {"incident_id": SPIKE_ID, "kind": "denial_spike"}
        assert body["externalURL"] == "http://monitor.test:8080/"
        assert body["truncatedAlerts"] == 0
        assert body["commonAnnotations"]["title"] == SPIKE_TITLE
        assert body["commonAnnotations"]["summary"] == SPIKE_SUMMARY
        assert body["commonAnnotations"]["kind"] == "denial_spike"
        assert body["commonAnnotations"]["drivers"] == "auth_code:51 85%"
        assert body["commonLabels"] == {"rule_type": "poisson_tail"}
        assert [a["labels"]["alertname"] for a in body["alerts"]] == ["denied_high", "denied_share_high", "auth_51_high"]
        assert body["incident"]["id"] == SPIKE_ID
    assert opening["commonAnnotations"]["transition"] == "opened"
    assert resolution["commonAnnotations"]["transition"] == "resolved"
    assert opening["commonAnnotations"]["severity"] == "critical"
    assert [a["status"] for a in opening["alerts"]] == ["firing"] * 3
    assert {a["endsAt"] for a in opening["alerts"]} == {"0001-01-01T00:00:00Z"}
    assert opening["alerts"][0]["startsAt"] == "2025-07-12T13:00:00Z"
    assert [a["status"] for a in resolution["alerts"]] == ["resolved"] * 3
    assert {a["endsAt"] for a in resolution["alerts"]} == {"2025-07-12T13:12:00Z"}
    assert resolution["commonAnnotations"]["resolved_at"] == "2025-07-12T13:12:00Z"
    assert [a["fingerprint"] for a in opening["alerts"]] == [a["fingerprint"] for a in resolution["alerts"]]
    hook_request = next(req for req, _ in httpserver.log if req.path == "/hook")
    assert hook_request.headers["X-Team"] == "payments"

    # Slack: the title and summary lead, then the incident's context, then one bullet per member alert.
    slack_open, slack_done = (b["text"].split("\n") for b in _bodies(httpserver, "/slack"))
    assert slack_open[0] == f":red_circle: *OPENED [CRITICAL] {SPIKE_TITLE}*"
    assert slack_open[1] == SPIKE_SUMMARY
    assert slack_open[2].startswith(f"_incident {SPIKE_ID} (denial_spike) since 2025-07-12T13:00:00Z")
    assert sum(line.startswith("\u2022 ") for line in slack_open) == 3
    assert ("\u2022 Denials (code 51 insufficient funds): 38/min, about 4.2/min normally (9x) (critical, firing) "
            "[rule auth_51_high]") in slack_open
    assert slack_open[-1] == f"<http://monitor.test:8080/?incident={SPIKE_ID}|Open the dashboard>"  # at the incident
    assert slack_done[0] == f":white_check_mark: *RESOLVED [CRITICAL] {SPIKE_TITLE}*"
    assert "resolved 2025-07-12T13:12:00Z after 12 min" in slack_done[2]

    # Email: the subject is the title (tagged with what happened), the body leads with title and summary.
    assert set(smtp.logins) == {("alerts", "s3cret")}
    mails = [message_from_bytes(m.original_content, policy=policy.default) for m in smtp.messages]
    assert [m["Subject"] for m in mails] == [f"[OPENED] {SPIKE_TITLE}", f"[RESOLVED] {SPIKE_TITLE}"]
    assert {m["References"] for m in mails} == {f"<incident-{SPIKE_ID}@transaction-monitor>"}
    body = mails[0].get_content().splitlines()
    assert body[:2] == [f"OPENED [CRITICAL] {SPIKE_TITLE}", SPIKE_SUMMARY]
    assert sum(line.startswith("  - ") for line in body) == 3
    assert f"Dashboard: http://monitor.test:8080/?incident={SPIKE_ID}" in body

    # Console: one log line per incident transition, none per member alert.
    lines = [r.getMessage() for r in caplog.records if r.name == "monitor.alerts"]
    assert len(lines) == 2
    assert lines[0].startswith(f"OPENED [CRITICAL] {SPIKE_TITLE} | {SPIKE_SUMMARY} | incident {SPIKE_ID}")
    assert lines[0].endswith("3 alert(s): denied_high, denied_share_high, auth_51_high")
    assert lines[1].startswith(f"RESOLVED [CRITICAL] {SPIKE_TITLE}")

    # The delivery log: one delivered opening and one delivered resolution per channel, naming the incident.
    rows = delivery.log.entries(1000, outcome="delivered")
    assert {r["incident_id"] for r in rows} == {SPIKE_ID}
    assert {r["incident_title"] for r in rows} == {SPIKE_TITLE}
    for name in ("console", "ops", "slack", "mail"):
        assert _delivered(delivery, name) == ["opened", "resolved"]


def test_an_escalation_sends_one_more_message_and_a_repeated_one_none(tmp_path, httpserver):
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    delivery = make_delivery(str(tmp_path / "monitor.db"), [WebhookChannel("ops", httpserver.url_for("/hook"))]).start()
    first_two = spike_alerts(members=(("denied_high", "status:denied", "warning", 0),
                                      ("denied_share_high", "rate:denied", "warning", 1)))
    all_three = spike_alerts()
    try:
        save_alerts(delivery.store, first_two)
        tell(delivery, OPENED, spike(first_two))
        wait_until(lambda: len(httpserver.log) == 1, what="the opening")
        # Code 51's alert joins: severity rises to critical and code 59 appears beside 51 as a driver.
        save_alerts(delivery.store, all_three)
        escalated = spike(all_three, drivers=(("auth_code:51", 0.7), ("auth_code:59", 0.3)))
        tell(delivery, ESCALATED, escalated)
        wait_until(lambda: len(httpserver.log) == 2, what="the escalation")
        tell(delivery, ESCALATED, escalated)  # the same news again (say, from a replay): nothing new to say
        settle(delivery)
        assert len(httpserver.log) == 2
        done = spike_alerts(resolved=True)
        save_alerts(delivery.store, done)
        tell(delivery, RESOLVED_TRANSITION, spike(done, drivers=(("auth_code:51", 0.7), ("auth_code:59", 0.3))))
        wait_until(lambda: len(httpserver.log) == 3, what="the resolution")
        settle(delivery)
    finally:
        delivery.stop()
    bodies = _bodies(httpserver, "/hook")
    assert [b["commonAnnotations"]["transition"] for b in bodies] == ["opened", "escalated", "resolved"]
    assert [b["commonAnnotations"]["severity"] for b in bodies] == ["warning", "critical", "critical"]
    assert bodies[1]["commonAnnotations"]["drivers"] == "auth_code:51 70%, auth_code:59 30%"
    assert [len(b["alerts"]) for b in bodies] == [2, 3, 3]
    assert {b["groupKey"] for b in bodies} == {SPIKE_ID}
    assert _delivered(delivery, "ops") == ["escalated", "opened", "resolved"]


def test_repeat_interval_applies_per_open_incident(tmp_path, httpserver):
    """Two open incidents, a clock the test moves: each is reminded of once per interval, never per member."""
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    now = [time.time()]
    committed = CommittedIncidents()
    delivery = make_delivery(str(tmp_path / "monitor.db"), [WebhookChannel("ops", httpserver.url_for("/hook"))],
                             incidents=committed, clock=lambda: now[0], repeat_interval_seconds=100).start()
    first = spike_alerts()
    second = spike_alerts(members=(("failed_high", "status:failed", "critical", 3),))

    def sent() -> list[tuple[str, str]]:
        return [(b["groupKey"], b["commonAnnotations"]["transition"]) for b in _bodies(httpserver, "/hook")]

    try:
        save_alerts(delivery.store, first + second)
        tell(delivery, OPENED, committed.commit(spike(first, "inc-a")))
        wait_until(lambda: len(httpserver.log) == 1, what="the first opening")
        settle(delivery)  # its outcome is logged at this clock time, before the clock moves
        now[0] += 50
        tell(delivery, OPENED, committed.commit(spike(second, "inc-b", title="Processing failures")))
        wait_until(lambda: len(httpserver.log) == 2, what="the second opening")
        settle(delivery)
        now[0] += 50  # inc-a has been open for one interval, inc-b for half of one
        settle(delivery)
        assert sent() == [("inc-a", "opened"), ("inc-b", "opened"), ("inc-a", "repeat")]
        now[0] += 50
        settle(delivery)
        assert sent()[3:] == [("inc-b", "repeat")]
        done = spike_alerts(resolved=True)
        save_alerts(delivery.store, done)
        tell(delivery, RESOLVED_TRANSITION, committed.commit(spike(done, "inc-a")))
        wait_until(lambda: len(httpserver.log) == 5, what="the resolution of inc-a")
        settle(delivery)
        now[0] += 200  # a resolved incident is not reminded of; the open one is, once
        settle(delivery)
    finally:
        delivery.stop()
    assert sent()[4:] == [("inc-a", "resolved"), ("inc-b", "repeat")]
    reminder = _bodies(httpserver, "/hook")[2]
    assert reminder["status"] == "firing" and len(reminder["alerts"]) == 3


def test_send_resolved_off_skips_the_resolving_message(tmp_path, httpserver):
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    delivery = make_delivery(str(tmp_path / "monitor.db"),
                             [WebhookChannel("ops", httpserver.url_for("/hook"), send_resolved=False)]).start()
    try:
        save_alerts(delivery.store, spike_alerts())
        tell(delivery, OPENED, spike(spike_alerts()))
        wait_until(lambda: httpserver.log, what="the opening")
        save_alerts(delivery.store, spike_alerts(resolved=True))
        tell(delivery, RESOLVED_TRANSITION, spike(spike_alerts(resolved=True)))
        settle(delivery)
    finally:
        delivery.stop()
    assert [json.loads(req.get_data())["status"] for req, _ in httpserver.log] == ["firing"]
    skipped = delivery.log.entries(10, channel="ops", outcome="skipped")
    assert [(r["kind"], r["detail"]) for r in skipped] == [("resolved", "send_resolved is off for this channel")]


def test_a_receiver_that_answers_500_is_retried_then_recorded_failed(tmp_path, httpserver, caplog):
    caplog.set_level("ERROR", logger="monitor")
    httpserver.expect_request("/hook", method="POST").respond_with_response(Response("down", status=500))
    delivery = make_delivery(str(tmp_path / "monitor.db"),
                             [ConsoleChannel(), WebhookChannel("ops", httpserver.url_for("/hook"))]).start()
    try:
        save_alerts(delivery.store, spike_alerts())
        tell(delivery, OPENED, spike(spike_alerts()))
        wait_until(lambda: delivery.log.entries(10, channel="ops", outcome="failed"), what="the final failure")
        settle(delivery)
    finally:
        delivery.stop()
    rows = sorted(delivery.log.entries(100, channel="ops"), key=lambda r: r["id"])
    assert [(r["attempt"], r["outcome"]) for r in rows] == [(1, "error"), (2, "error"), (3, "error"), (3, "failed")]
    assert {(r["incident_id"], r["kind"]) for r in rows} == {(SPIKE_ID, "opened")}
    assert all("HTTP 500" in r["detail"] for r in rows)
    assert len(httpserver.log) == 3
    # The operator's log says which channel, message and incident gave up, after how many tries, and why.
    gave_up = [r.getMessage() for r in caplog.records if r.levelname == "ERROR" and "failed after" in r.getMessage()]
    assert gave_up == [f"channel ops: the opened message of incident {SPIKE_ID} failed after 3 attempts: "
                       f"{rows[-2]['detail']}"]
    # The console channel is not held up by the failing one.
    assert _delivered(delivery, "console") == ["opened"]


def test_the_delivery_log_route_names_the_incident(tmp_path, httpserver):
    """GET /api/notifications keeps working: each row names the incident (and its title) the message was about."""
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    app = make_app(tmp_path, [{"type": "webhook", "name": "ops", "url": httpserver.url_for("/hook")}])
    client = app.server.test_client()
    delivery = app.server.extensions["delivery"].start()
    try:
        fire(client)  # a real failed_high alert in the app's store
        wait_until(lambda: httpserver.log, what="the opening")
        settle(delivery)
    finally:
        delivery.stop()
    (incident,) = client.get("/api/incidents").get_json()["incidents"]  # the one the tracker made of it
    assert incident["title"] == "Processing failure driven by failed transactions"
    rows = log_rows(client, channel="ops")
    assert [(r["incident_id"], r["incident_title"], r["kind"], r["outcome"]) for r in rows] == [
        (incident["id"], incident["title"], "opened", "delivered")]
    assert log_rows(client, incident_id=incident["id"], channel="console")[0]["outcome"] == "delivered"
    assert log_rows(client, incident_id="no-such-incident") == []
    body = json.loads(httpserver.log[0][0].get_data())
    assert [a["labels"]["alertname"] for a in body["alerts"]] == ["failed_high"]


def test_without_an_incident_source_the_outbox_says_which_incidents_are_open(tmp_path, httpserver):
    """A Delivery given no incident source reminds of what it announced and never saw resolved."""
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    now = [time.time()]
    delivery = make_delivery(str(tmp_path / "monitor.db"), [WebhookChannel("ops", httpserver.url_for("/hook"))],
                             clock=lambda: now[0], repeat_interval_seconds=100).start()
    try:
        save_alerts(delivery.store, spike_alerts())
        tell(delivery, OPENED, spike(spike_alerts()))
        wait_until(lambda: httpserver.log, what="the opening")
        settle(delivery)  # its outcome is logged at this clock time, before the clock moves
        now[0] += 100
        settle(delivery)
        save_alerts(delivery.store, spike_alerts(resolved=True))
        tell(delivery, RESOLVED_TRANSITION, spike(spike_alerts(resolved=True)))
        wait_until(lambda: len(httpserver.log) == 3, what="the resolution")
        now[0] += 300
        settle(delivery)
    finally:
        delivery.stop()
    assert [b["commonAnnotations"]["transition"] for b in _bodies(httpserver, "/hook")] == ["opened", "repeat", "resolved"]
