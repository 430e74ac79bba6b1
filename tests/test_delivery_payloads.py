"""What the channels write: Alertmanager's webhook shape, Slack's text and the email, for awkward cases too."""

from __future__ import annotations

import pytest

from detection.alerts import Alert
from detection.channels import (
    ZERO_TIME,
    EmailChannel,
    Notice,
    Notification,
    alertmanager_payload,
    fingerprint,
    slack_payload,
    subject,
)


def make_alert(rule: str = "failed_high", metric: str = "status:failed", **kw) -> Alert:
    base = {"id": f"a-{rule}", "rule": rule, "rule_type": "threshold", "metric": metric, "severity": "critical",
            "state": "firing", "started_at": 29_196_000, "fired_at": 29_196_000, "value": 7, "threshold": 0,
            "message": "failed at 7/min, above 0/min"}
    base.update(kw)
    return Alert(**base)


def test_mixed_group_is_firing_and_keeps_each_alerts_status():
    done = make_alert("denied_high", "status:denied", state="resolved", resolved_at=29_196_010, severity="warning")
    note = Notification((Notice("firing", make_alert()), Notice("resolved", done)), "http://dash/")
    body = alertmanager_payload(note, "ops")
    assert body["status"] == "firing"
    assert [a["status"] for a in body["alerts"]] == ["firing", "resolved"]
    assert body["alerts"][0]["endsAt"] == ZERO_TIME
    assert body["alerts"][1]["endsAt"] == "2025-07-06T00:10:00Z"
    assert body["commonLabels"] == {"rule_type": "threshold"}
    assert body["groupKey"] == '{}:{receiver="ops"}'


def test_max_alerts_truncates_and_says_how_many():
    notices = tuple(Notice("firing", make_alert(f"r{i}")) for i in range(5))
    body = alertmanager_payload(Notification(notices), "ops", max_alerts=2)
    assert len(body["alerts"]) == 2 and body["truncatedAlerts"] == 3


@pytest.mark.parametrize(("a", "b", "same"), [
    ({}, {}, True),
    ({"id": "other-episode", "started_at": 1}, {}, True),  # another episode of the same series
    ({"metric": "status:denied"}, {}, False),
    ({"severity": "warning"}, {}, False),
])
def test_fingerprint_follows_the_label_set(a, b, same):
    from detection.channels import alert_labels

    assert (fingerprint(alert_labels(make_alert(**a))) == fingerprint(alert_labels(make_alert(**b)))) is same


def test_slack_text_escapes_control_characters():
    alert = make_alert(message="failed <script> & co")
    text = slack_payload(Notification((Notice("firing", alert),)))["text"]
    assert "&lt;script&gt; &amp; co" in text and "<script>" not in text
    assert text.startswith(":red_circle:")


def test_email_subject_counts_a_group():
    note = Notification((Notice("firing", make_alert("a")), Notice("firing", make_alert("b")),
                         Notice("resolved", make_alert("c", state="resolved", resolved_at=29_196_003))))
    assert subject(note) == "[FIRING] transaction monitor: 2 firing, 1 resolved"
    mail = EmailChannel("m", "127.0.0.1", 25, "monitor@example.com", ["x@example.com"]).message(note)
    assert mail["To"] == "x@example.com"
    assert mail.get_content().count("FIRING [CRITICAL]") == 2
