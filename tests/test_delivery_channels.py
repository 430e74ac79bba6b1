"""A burst that fires and resolves reaches real receivers (webhook, Slack, email) exactly once per transition."""

from __future__ import annotations

import json
import logging
from email import message_from_bytes, policy

import pytest
from werkzeug import Response

from .delivery_support import SmtpSink, fire, log_rows, make_app, post_minute, resolve, settle, wait_until


@pytest.fixture
def smtp():
    with SmtpSink(login=("alerts", "s3cret")) as sink:
        yield sink


def _bodies(httpserver, path: str) -> list[dict]:
    return [json.loads(req.get_data()) for req, _ in httpserver.log if req.path == path]


def test_burst_gives_one_firing_and_one_resolved_message_per_channel(tmp_path, httpserver, smtp, caplog):
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    httpserver.expect_request("/slack", method="POST").respond_with_data("ok")
    channels = [
        {"type": "webhook", "name": "ops", "url": httpserver.url_for("/hook"), "headers": {"X-Team": "payments"}},
        {"type": "slack", "name": "slack", "url_env": "TEST_SLACK_URL"},
        {"type": "email", "name": "mail", "host": "127.0.0.1", "port": smtp.port, "from": "monitor@example.com",
         "to": ["oncall@example.com"], "username": "alerts", "password_env": "TEST_SMTP_PASSWORD"},
    ]
    environ = {"TEST_SLACK_URL": httpserver.url_for("/slack"), "TEST_SMTP_PASSWORD": "s3cret"}
    app = make_app(tmp_path, channels, environ)
    client = app.server.test_client()
    delivery = app.server.extensions["delivery"].start()
    caplog.set_level(logging.WARNING, logger="monitor.alerts")
    try:
        fire(client)
        wait_until(lambda: _bodies(httpserver, "/hook") and _bodies(httpserver, "/slack") and smtp.messages,
                   what="the firing message on every channel")
        resolve(client)
        wait_until(lambda: len(_bodies(httpserver, "/hook")) == 2 and len(_bodies(httpserver, "/slack")) == 2
                   and len(smtp.messages) == 2, what="the resolved message on every channel")
        settle(delivery)
    finally:
        delivery.stop()

    # Webhook: exactly two Alertmanager v4 payloads, firing then resolved, for the same alert.
    hooks = _bodies(httpserver, "/hook")
    assert [h["status"] for h in hooks] == ["firing", "resolved"]
    firing, resolved = hooks
    for body in hooks:
        assert body["version"] == "4"
        assert body["receiver"] == "ops"
        assert body["externalURL"] == "http://monitor.test:8080/"
        assert body["truncatedAlerts"] == 0
        assert set(body) >= {"groupKey", "groupLabels", "commonLabels", "commonAnnotations", "alerts"}
        assert len(body["alerts"]) == 1
    alert = firing["alerts"][0]
    assert alert["status"] == "firing"
    assert alert["labels"]["alertname"] == "failed_high"
    assert alert["labels"]["metric"] == "status:failed"
    assert alert["labels"]["severity"] == "critical"
    assert alert["startsAt"] == "2025-07-12T13:00:00Z"
    assert alert["endsAt"] == "0001-01-01T00:00:00Z"
    assert alert["annotations"]["threshold"] == "0"
    assert alert["annotations"]["summary"] == "Failed transactions: 3/min, above the limit of 0/min"
    assert alert["annotations"]["detail"] == "3 in the minute; fires above 0/min"
    assert len(alert["fingerprint"]) == 16
    assert firing["commonLabels"]["alertname"] == "failed_high"
    done = resolved["alerts"][0]
    assert done["status"] == "resolved"
    assert done["fingerprint"] == alert["fingerprint"]
    assert done["startsAt"] == "2025-07-12T13:00:00Z"
    assert done["endsAt"] == "2025-07-12T13:05:00Z"
    hook_request = next(req for req, _ in httpserver.log if req.path == "/hook")
    assert hook_request.headers["X-Team"] == "payments"

    # Slack: readable text with what, how bad, since when, value vs threshold and a dashboard link.
    slack_first, slack_second = (b["text"] for b in _bodies(httpserver, "/slack"))
    firing_line = ("FIRING [CRITICAL] Failed transactions: 3/min, above the limit of 0/min "
                   "(since 2025-07-12T13:00:00Z; rule failed_high)")
    assert slack_first.split("\n")[:3] == [
        f":red_circle: *{firing_line}*", "worst value 3 vs threshold 0", "3 in the minute; fires above 0/min"]
    assert "<http://monitor.test:8080/|Open the dashboard>" in slack_first
    assert "RESOLVED [CRITICAL] Failed transactions: 3/min, above the limit of 0/min" in slack_second
    assert "5 min" in slack_second

    # Email: logged in with the password from the environment, one mail per transition.
    assert smtp.logins and set(smtp.logins) == {("alerts", "s3cret")}
    # A subject longer than a 78-character line is folded onto the next; the modern policy unfolds it and, as a
    # mail client does, the reader ignores the folding whitespace in front.
    mails = [message_from_bytes(m.original_content, policy=policy.default) for m in smtp.messages]
    subjects = [m["Subject"].lstrip() for m in mails]
    assert [s.split(" [")[0] for s in subjects] == ["FIRING", "RESOLVED"]
    assert all(m["To"] == "oncall@example.com" for m in mails)
    assert subjects[0] == "FIRING [CRITICAL] Failed transactions: 3/min, above the limit of 0/min"
    # The whole body, decoded (a line this long goes out quoted-printable): headline, value, statistics, link.
    assert mails[0].get_content().splitlines() == [
        firing_line, "  worst value 3 vs threshold 0", "  3 in the minute; fires above 0/min",
        "Dashboard: http://monitor.test:8080/"]

    # Console: the log says each transition once.
    lines = [r.getMessage() for r in caplog.records if r.name == "monitor.alerts"]
    assert sum(line == firing_line for line in lines) == 1
    assert sum(line.startswith("RESOLVED [CRITICAL] Failed transactions: ") for line in lines) == 1

    # The delivery log: one delivered firing and one delivered resolved per channel.
    rows = log_rows(client, outcome="delivered")
    per_channel = {}
    for row in rows:
        per_channel.setdefault(row["channel"], []).append(row["kind"])
    assert {k: sorted(v) for k, v in per_channel.items()} == {
        name: ["firing", "resolved"] for name in ("console", "ops", "slack", "mail")
    }


def test_alerts_that_fire_together_go_out_as_one_message(tmp_path, httpserver):
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    app = make_app(tmp_path, [{"type": "webhook", "name": "ops", "url": httpserver.url_for("/hook")}],
                   group_wait_seconds=0.5)
    client = app.server.test_client()
    delivery = app.server.extensions["delivery"].start()
    try:
        post_minute(client, 0, failed=4, denied=40)  # two rules fire in the same minute
        wait_until(lambda: httpserver.log, what="the grouped message")
        settle(delivery)
    finally:
        delivery.stop()
    assert len(httpserver.log) == 1
    body = json.loads(httpserver.log[0][0].get_data())
    assert sorted(a["labels"]["alertname"] for a in body["alerts"]) == ["denied_high", "failed_high"]
    assert body["commonLabels"] == {"rule_type": "threshold"}


def test_still_firing_alert_is_repeated_after_repeat_interval(tmp_path, httpserver):
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    app = make_app(tmp_path, [{"type": "webhook", "name": "ops", "url": httpserver.url_for("/hook")}],
                   repeat_interval_seconds=0.6)
    client = app.server.test_client()
    delivery = app.server.extensions["delivery"].start()
    try:
        fire(client)
        wait_until(lambda: len(httpserver.log) >= 2, what="a repeat of the firing alert")
    finally:
        delivery.stop()
    first, second = (json.loads(req.get_data()) for req, _ in httpserver.log[:2])
    assert first["alerts"][0]["status"] == second["alerts"][0]["status"] == "firing"
    assert first["alerts"][0]["fingerprint"] == second["alerts"][0]["fingerprint"]
    kinds = [r["kind"] for r in log_rows(client, channel="ops", outcome="delivered")]
    assert kinds.count("firing") == 1 and kinds.count("repeat") >= 1


def test_send_resolved_off_skips_the_resolved_message(tmp_path, httpserver):
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    app = make_app(tmp_path, [{"type": "webhook", "name": "ops", "url": httpserver.url_for("/hook"),
                               "send_resolved": False}])
    client = app.server.test_client()
    delivery = app.server.extensions["delivery"].start()
    try:
        fire(client)
        wait_until(lambda: httpserver.log, what="the firing message")
        resolve(client)
        wait_until(lambda: log_rows(client, channel="ops", outcome="skipped"), what="the skipped resolved notice")
        settle(delivery)
    finally:
        delivery.stop()
    assert [json.loads(req.get_data())["status"] for req, _ in httpserver.log] == ["firing"]


def test_a_receiver_that_answers_500_is_retried_then_recorded_failed(tmp_path, httpserver):
    httpserver.expect_request("/hook", method="POST").respond_with_response(Response("down", status=500))
    app = make_app(tmp_path, [{"type": "webhook", "name": "ops", "url": httpserver.url_for("/hook")}])
    client = app.server.test_client()
    delivery = app.server.extensions["delivery"].start()
    try:
        fire(client)
        wait_until(lambda: log_rows(client, channel="ops", outcome="failed"), what="the final failure")
    finally:
        delivery.stop()
    rows = sorted(log_rows(client, channel="ops"), key=lambda r: r["id"])
    assert [(r["attempt"], r["outcome"]) for r in rows] == [(1, "error"), (2, "error"), (3, "error"), (3, "failed")]
    assert all("HTTP 500" in r["detail"] for r in rows)
    assert len(httpserver.log) == 3
    # The console channel is not held up by the failing one.
    assert [r["kind"] for r in log_rows(client, channel="console", outcome="delivered")] == ["firing"]
