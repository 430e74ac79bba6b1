"""The ``alertmanager`` channel's settings (file and MONITOR_ALERTMANAGER_URLS), a rule's ``runbook_url`` in the
thresholds file, and the alert body: errors name the file and field; secrets in URLs never shown."""

from __future__ import annotations

import json

import pytest

from app import create_app
from detection import ConfigError
from detection.am_alerts import incident_alert
from detection.channels import AlertmanagerChannel, describe_channel
from detection.incident_message import Notification
from detection.incidents import ESCALATED, OPENED, RESOLVED_TRANSITION
from detection.notify_config import load_notification_config, parse_notification_config
from detection.thresholds import parse_thresholds

from .delivery_support import THRESHOLDS, spike, spike_alerts, write_json

AM = {"type": "alertmanager", "name": "am", "urls": ["http://127.0.0.1:9093"]}


def _channel(**fields) -> AlertmanagerChannel:
    config = parse_notification_config({"channels": [{**AM, **fields}]}, "notify.json", {},
                                        runbooks={"failed_high": "https://wiki.example/failed"})
    channel = config.channels[1]
    assert isinstance(channel, AlertmanagerChannel)
    return channel


def test_the_channel_takes_its_urls_labels_interval_and_grouping_and_the_runbooks():
    channel = _channel(urls=["http://am-1:9093", "https://am-2:9093/"], source="payments-monitor",
                       instance="monitor-a", resend_seconds=30, group_wait=False, send_resolved=False)
    assert channel.urls == ["http://am-1:9093", "https://am-2:9093/"]
    assert (channel.source, channel.instance, channel.resend_seconds) == ("payments-monitor", "monitor-a", 30.0)
    assert channel.group_wait_seconds == 0.0 and channel.send_resolved is False
    assert channel.runbooks == {"failed_high": "https://wiki.example/failed"}
    defaults = _channel()
    assert (defaults.source, defaults.instance, defaults.resend_seconds) == ("transaction-monitor", "", 60.0)
    assert defaults.group_wait_seconds is None  # the worker's group_wait_seconds
    assert _channel(urls="http://one:9093").urls == ["http://one:9093"]


@pytest.mark.parametrize(("fields", "message"), [
    ({"urls": None}, "notify.json: channels[0].urls: expected one or more Alertmanager URLs, got None"),
    ({"urls": []}, "notify.json: channels[0].urls: expected one or more Alertmanager URLs, got []"),
    ({"urls": ["http://am:9093", "am-2:9093"]},
     "notify.json: channels[0].urls[1]: expected an http:// or https:// URL, got '***'"),
    ({"resend_seconds": 0}, "notify.json: channels[0].resend_seconds: expected a number >= 0.1, got 0"),
    ({"resend_seconds": "60"}, "notify.json: channels[0].resend_seconds: expected a number, got '60'"),
    ({"group_wait": "no"}, "notify.json: channels[0].group_wait: expected true or false, got 'no'"),
    ({"instance": 5}, "notify.json: channels[0].instance: expected a string, got 5"),
    ({"source": ""}, "notify.json: channels[0].source: expected a non-empty string, got ''"),
    ({"url": "http://am:9093"}, "notify.json: channels[0]: unknown field(s) url"),
])
def test_a_wrong_field_is_named(fields, message):
    channel = {**AM, **fields}
    if fields.get("urls", "") is None:
        del channel["urls"]
    with pytest.raises(ConfigError) as caught:
        parse_notification_config({"channels": [channel]}, "notify.json", {})
    assert str(caught.value) == message


def test_monitor_alertmanager_urls_adds_a_channel_and_a_wrong_one_is_named():
    config = load_notification_config(None, {"MONITOR_ALERTMANAGER_URLS": "http://am-1:9093, http://am-2:9093"})
    (channel,) = [c for c in config.channels if isinstance(c, AlertmanagerChannel)]
    assert channel.name == "alertmanager" and channel.urls == ["http://am-1:9093", "http://am-2:9093"]
    with pytest.raises(ConfigError) as caught:
        load_notification_config(None, {"MONITOR_ALERTMANAGER_URLS": "http://am-1:9093,am-2"})
    assert str(caught.value) == ("MONITOR_ALERTMANAGER_URLS: expected comma-separated http:// or https:// URLs, "
                                 "got '***'")  # not taken apart: shown as *** (redact_url)


def test_the_channel_list_shows_urls_without_their_secrets():
    info = describe_channel(_channel(urls=["https://user:pw@am.example:9093/?token=abc"]))
    assert info == {"name": "am", "type": "alertmanager", "send_resolved": True,
                    "urls": ["https://***@am.example:9093/?token=***"], "resend_seconds": 60.0, "group_wait": True}


def _rules(**extra) -> dict:
    return {**THRESHOLDS, "rules": [{**THRESHOLDS["rules"][0], **extra}, THRESHOLDS["rules"][1]]}


def test_a_rule_may_name_its_runbook_and_a_wrong_one_is_named():
    thresholds = parse_thresholds(_rules(runbook_url="https://wiki.example/failed"), "thresholds.json")
    assert thresholds.runbooks() == {"failed_high": "https://wiki.example/failed"}
    assert thresholds.to_config()["rules"][0]["runbook_url"] == "https://wiki.example/failed"
    assert "runbook_url" not in thresholds.to_config()["rules"][1]
    assert parse_thresholds(thresholds.to_config(), "again").runbooks() == thresholds.runbooks()
    for wrong in ("wiki/failed", 7, "https://wiki.example/a b", "https://x/" + "a" * 2000):
        with pytest.raises(ConfigError) as caught:
            parse_thresholds(_rules(runbook_url=wrong), "thresholds.json")
        assert str(caught.value).startswith("thresholds.json.rules[0].runbook_url: expected an http:// or https:// "
                                            "URL of at most 2000 characters without spaces, got ")


def test_the_app_hands_the_thresholds_runbooks_to_the_channel(tmp_path):
    app = create_app({
        "db": str(tmp_path / "monitor.db"),
        "thresholds": write_json(tmp_path, "thresholds.json", _rules(runbook_url="https://wiki.example/failed")),
        "notifications": write_json(tmp_path, "notify.json", {"version": 1, "channels": [AM]}),
    })
    (channel,) = [c for c in app.server.extensions["delivery"].channels if isinstance(c, AlertmanagerChannel)]
    assert channel.runbooks == {"failed_high": "https://wiki.example/failed"}


NOW = 1_790_000_000.0  # 2026-09-21T...: after the spike's event times


def test_firing_has_no_end_a_resolution_ends_now_and_a_feed_ahead_of_the_clock_starts_no_later_than_now():
    firing = spike_alerts()
    note = Notification(OPENED, spike(firing), tuple(firing), "http://monitor.test/")
    alert = incident_alert(note, NOW)
    assert "endsAt" not in alert and alert["startsAt"] == "2025-07-12T13:00:00Z"
    done = spike_alerts(resolved=True)
    ended = incident_alert(Notification(RESOLVED_TRANSITION, spike(done), tuple(done)), NOW)
    assert ended["endsAt"] == "2026-09-21T14:13:20Z" and "generatorURL" not in ended  # no dashboard URL known
    early = incident_alert(note, spike(firing).started_at * 60 - 3600.0)  # the clock an hour behind the feed
    assert early["startsAt"] == "2025-07-12T12:00:00Z"


def test_an_escalation_ends_the_label_set_it_replaces_in_the_same_post():
    firing = spike_alerts()
    channel = AlertmanagerChannel("am", ["http://127.0.0.1:9"], clock=lambda: NOW)
    warning = Notification(OPENED, spike(firing, severity="warning"), tuple(firing))
    channel._sent[warning.incident.id] = channel.alerts(warning)[0]["labels"]  # as after a delivered post
    body = channel.alerts(Notification(ESCALATED, spike(firing, severity="critical"), tuple(firing)))
    assert [(a["labels"]["severity"], a.get("endsAt")) for a in body] == [
        ("critical", None), ("warning", "2026-09-21T14:13:20Z")]
    assert json.dumps(body)  # the body is plain JSON


def test_the_readme_examples_of_the_channel_are_read_as_written():
    from .test_alertmanager_routing import README

    text = README.read_text(encoding="utf-8")
    start = text.index("**Hand incidents to Alertmanager.**")
    example = json.loads(text[text.index("```json\n", start) + 8:text.index("```", text.index("```json\n", start) + 8)])
    config = parse_notification_config({"channels": [example]}, "README")
    channel = config.channels[1]
    assert isinstance(channel, AlertmanagerChannel)
    assert channel.urls == ["http://alertmanager-1:9093", "http://alertmanager-2:9093"]
    assert (channel.instance, channel.resend_seconds, channel.group_wait_seconds) == ("monitor-a", 60.0, None)


def test_the_generator_url_is_the_incident_in_the_api_under_the_dashboards_path_without_its_query():
    from detection.am_alerts import incident_api_url

    assert incident_api_url("http://monitor:8080/", "i1") == "http://monitor:8080/api/incidents/i1"
    assert incident_api_url("https://ops.example/monitor?team=pay#top", "i1") == \
        "https://ops.example/monitor/api/incidents/i1"
    assert incident_api_url("", "i1") == ""
