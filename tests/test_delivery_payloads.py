"""What one incident's message says: Alertmanager's webhook shape, Slack's text, the email and the log line."""

from __future__ import annotations

import pytest

from detection.am_alerts import incident_alert
from detection.channels import EmailChannel
from detection.incident_message import (
    ZERO_TIME,
    Notification,
    alert_labels,
    alertmanager_payload,
    console_line,
    fingerprint,
    incident_link,
    plain_text,
    slack_payload,
    subject,
)
from detection.incidents import Incident

from .delivery_support import SPIKE_ID, SPIKE_START, SPIKE_TITLE, spike, spike_alerts


def _note(kind: str = "opened", alerts=None, **changes) -> Notification:
    alerts = spike_alerts() if alerts is None else alerts
    incident = spike(alerts)
    for key, value in changes.items():
        setattr(incident, key, value)
    return Notification(kind, incident, tuple(alerts), "http://dash/")


def test_an_open_incident_with_a_resolved_member_is_firing_and_keeps_each_members_status():
    alerts = spike_alerts()
    done = spike_alerts(resolved=True)
    mixed = [done[0], alerts[1], alerts[2]]
    body = alertmanager_payload(_note("escalated", mixed), "ops")
    assert body["status"] == "firing"
    assert [a["status"] for a in body["alerts"]] == ["resolved", "firing", "firing"]
    assert body["alerts"][0]["endsAt"] == "2025-07-12T13:12:00Z"
    assert body["alerts"][1]["endsAt"] == ZERO_TIME
    assert body["groupKey"] == SPIKE_ID
    assert body["alerts"][2]["annotations"]["detail"] == "p < 2e-05 over 5 min"


def test_max_alerts_truncates_the_members_and_says_how_many():
    body = alertmanager_payload(_note(), "ops", max_alerts=2)
    assert len(body["alerts"]) == 2 and body["truncatedAlerts"] == 1
    assert body["commonAnnotations"]["title"] == SPIKE_TITLE  # the incident is still named in full


def test_the_resolving_message_is_resolved_even_if_a_member_row_lags():
    body = alertmanager_payload(_note("resolved"), "ops")
    assert body["status"] == "resolved"


def test_fingerprint_of_a_member_is_the_same_in_every_message_about_it():
    first, later = spike_alerts()[0], spike_alerts(resolved=True)[0]
    assert fingerprint(alert_labels(first)) == fingerprint(alert_labels(later))
    assert fingerprint(alert_labels(first)) != fingerprint(alert_labels(spike_alerts()[1]))


def test_slack_text_escapes_control_characters_in_title_and_summary():
    text = slack_payload(_note(title="Denials <script> & co", summary="a < b"))["text"]
    assert "Denials &lt;script&gt; &amp; co" in text and "a &lt; b" in text and "<script>" not in text
    assert text.startswith(":red_circle: *OPENED [CRITICAL]")
    assert slack_payload(_note(severity="warning"))["text"].startswith(":warning:")


def test_email_subject_is_the_title_and_the_body_lists_each_member_once():
    note = _note("repeat")
    assert subject(note) == f"[STILL OPEN] {SPIKE_TITLE}"
    mail = EmailChannel("m", "127.0.0.1", 25, "monitor@example.com", ["x@example.com"]).message(note)
    assert mail["To"] == "x@example.com"
    content = mail.get_content()
    assert content.count("  - ") == 3
    assert ("  - Denials (code 51 insufficient funds): 38/min, about 4.2/min normally (9x) (critical, firing) "
            "[rule auth_51_high]\n    p < 2e-05 over 5 min\n") in content  # the member, then its statistics


def test_an_incident_without_title_or_members_still_reads():
    bare = Incident("inc-9", "feed_outage", "open", "warning", SPIKE_START)
    note = Notification("opened", bare, ())
    assert subject(note) == "[OPENED] Feed outage (incident inc-9)"
    line = console_line(note)
    assert "\n" not in line
    assert line == "OPENED [WARNING] Feed outage (incident inc-9) | incident inc-9 (feed_outage) since " \
                   "2025-07-12T13:00:00Z; 0 alert(s)"
    body = alertmanager_payload(note, "ops")
    assert body["alerts"] == [] and body["commonLabels"] == {} and body["commonAnnotations"]["drivers"] == ""


def test_labels_name_the_series_and_numbers_read_whole_or_to_four_significant_figures():
    """alert_labels: alertname and rule are both the rule id (Alertmanager groups on alertname), then type, metric,
    severity, then the alert's own labels. Figures: whole numbers without a point, others to 4 significant
    figures, and a missing one as n/a; the dashboard link goes with the incident's annotations when set."""
    import dataclasses

    first = dataclasses.replace(spike_alerts()[0], value=38, threshold=12.345678, expected=None, labels={"region": "eu"})
    assert alert_labels(first) == {"alertname": "denied_high", "rule": "denied_high", "rule_type": "poisson_tail",
                                   "metric": "status:denied", "severity": "warning", "region": "eu"}
    body = alertmanager_payload(_note(alerts=[first]), "ops")
    annotations = body["alerts"][0]["annotations"]
    assert (annotations["value"], annotations["threshold"]) == ("38", "12.35")
    assert annotations["description"] == "worst value 38 vs threshold 12.35"
    assert "expected" not in annotations
    missing = dataclasses.replace(first, value=None, threshold=2.0, expected=0.000123456)
    annotations = alertmanager_payload(_note(alerts=[missing]), "ops")["alerts"][0]["annotations"]
    assert annotations["description"] == "worst value n/a vs threshold 2 (normal about 0.0001235)"
    assert body["commonAnnotations"]["dashboard"] == f"http://dash/?incident={SPIKE_ID}"
    without = Notification("opened", spike([first]), (first,), "")
    assert "dashboard" not in alertmanager_payload(without, "ops")["commonAnnotations"]


@pytest.mark.parametrize(("dashboard_url", "link"), [
    ("http://dash/", "http://dash/?incident=i2790863c8ccf0e9"),
    ("http://dash:8050", "http://dash:8050/?incident=i2790863c8ccf0e9"),  # no path: the page's own, /
    ("https://ops.example/monitor/", "https://ops.example/monitor/?incident=i2790863c8ccf0e9"),  # a proxy's prefix
    # The operator's own query stays byte for byte (not re-encoded), the incident goes after it.
    ("https://ops.example/m/?team=pay%20ments&x", "https://ops.example/m/?team=pay%20ments&x&incident=i2790863c8ccf0e9"),
    ("https://ops.example/m/#top", "https://ops.example/m/?incident=i2790863c8ccf0e9#top"),  # query before fragment
    ("", ""),  # no dashboard known: no link
])
def test_the_dashboard_link_opens_the_dashboard_at_the_incident_keeping_its_path_and_query(dashboard_url, link):
    assert incident_link(dashboard_url, "i2790863c8ccf0e9") == link


def test_an_incident_id_is_encoded_in_the_link():
    assert incident_link("http://dash/", "a&b=c d") == "http://dash/?incident=a%26b%3Dc+d"


def test_every_channel_links_to_the_dashboard_at_the_incident():
    """Webhook (the group's and each member's ``dashboard`` annotation), Slack, email and Alertmanager's API."""
    link = f"http://dash/?incident={SPIKE_ID}"
    note = _note()
    body = alertmanager_payload(note, "ops")
    assert body["commonAnnotations"]["dashboard"] == link
    assert [a["annotations"]["dashboard"] for a in body["alerts"]] == [link] * 3
    assert body["externalURL"] == "http://dash/"  # the dashboard itself, as Alertmanager's externalURL is
    assert slack_payload(note)["text"].split("\n")[-1] == f"<{link}|Open the dashboard>"
    assert plain_text(note).split("\n")[-1] == f"Dashboard: {link}"
    mail = EmailChannel("m", "127.0.0.1", 25, "monitor@example.com", ["x@example.com"]).message(note)
    assert mail.get_content().splitlines()[-1] == f"Dashboard: {link}"
    assert incident_alert(note, 1_790_000_000.0)["annotations"]["dashboard"] == link
    without = Notification("opened", note.incident, note.alerts, "")
    assert "dashboard" not in incident_alert(without, 1_790_000_000.0)["annotations"]
    assert "Dashboard:" not in plain_text(without) and "Open the dashboard" not in slack_payload(without)["text"]
