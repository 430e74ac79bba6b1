"""End to end: a denial burst through the real app, its built-in rules and tracker, reaches real receivers once per transition."""

from __future__ import annotations

import json
from email import message_from_bytes, policy

import pytest

from .delivery_support import FAST, SmtpSink, settle, wait_until, write_json
from .support import StatusFeed

BASELINE = 90  # steady minutes: the rules' windows and the 60-minute baselines fill up


@pytest.fixture
def smtp():
    with SmtpSink() as sink:
        yield sink


def test_a_burst_of_three_member_alerts_gives_one_opening_and_one_resolving_message_per_channel(
        tmp_path, httpserver, smtp, backend):
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    httpserver.expect_request("/slack", method="POST").respond_with_data("ok")
    channels = [
        {"type": "webhook", "name": "ops", "url": httpserver.url_for("/hook")},
        {"type": "slack", "name": "chat", "url_env": "TEST_SLACK_URL"},  # a Slack URL is a secret
        {"type": "email", "name": "mail", "host": "127.0.0.1", "port": smtp.port,
         "from": "monitor@example.com", "to": ["oncall@example.com"]},
    ]
    app = backend.app({  # the built-in thresholds: no thresholds file
        "notifications": write_json(tmp_path, "notify.json", {"version": 1, **FAST, "channels": channels}),
        "notify_environ": {"TEST_SLACK_URL": httpserver.url_for("/slack")},
    })
    monitor = app.server.extensions["monitor"]
    delivery = app.server.extensions["delivery"].start()
    feed = StatusFeed(monitor)
    try:
        feed.post(BASELINE)
        feed.post(15, c51=32, c59=8)  # denials 6 -> 40 a minute, mostly insufficient funds
        # Live, the recovery comes minutes after the opening went out (posted at once, the two would go out as
        # one group, as Alertmanager does within group_wait).
        wait_until(lambda: any(req.path == "/hook" for req, _ in httpserver.log), what="the opening")
        feed.post(30)  # back to normal: every member resolves, then the incident after its quiet period
        settle(delivery)
    finally:
        delivery.stop()

    (incident,) = monitor.incidents()
    assert incident.state == "resolved" and incident.kind == "denial_spike"
    members = monitor.alerts()
    assert len(members) >= 3 and {a.incident_id for a in members} == {incident.id}

    hooks = [json.loads(req.get_data()) for req, _ in httpserver.log if req.path == "/hook"]
    assert [(h["groupKey"], h["status"], h["commonAnnotations"]["transition"]) for h in hooks] == [
        (incident.id, "firing", "opened"), (incident.id, "resolved", "resolved")]
    opening, resolution = ({a["annotations"]["alert_id"] for a in h["alerts"]} for h in hooks)
    assert opening and opening <= set(incident.alert_ids)  # the members that had fired when it opened
    assert resolution == set(incident.alert_ids)  # all of them, resolved

    slack = [json.loads(req.get_data())["text"].split("\n")[0] for req, _ in httpserver.log if req.path == "/slack"]
    assert [line.split("*")[1].split(" [")[0] for line in slack] == ["OPENED", "RESOLVED"]
    assert all(incident.title in line for line in slack)

    wait_until(lambda: len(smtp.messages) == 2, what="two mails")
    mails = [message_from_bytes(m.original_content, policy=policy.default) for m in smtp.messages]
    assert [m["Subject"] for m in mails] == [f"[OPENED] {incident.title}", f"[RESOLVED] {incident.title}"]
