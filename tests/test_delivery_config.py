"""The notifications config: file and environment variables, with errors that name the file and field."""

from __future__ import annotations

import json

import pytest

from app import config_from, create_app
from detection import ConfigError
from detection.channels import EmailChannel, SlackChannel, WebhookChannel
from detection.notify_config import load_notification_config, parse_notification_config

HOOK = {"type": "webhook", "name": "ops", "url": "http://127.0.0.1:9/hook"}


def test_defaults_give_the_console_channel_only():
    config = load_notification_config(None, {})
    assert [c.name for c in config.channels] == ["console"]
    assert config.settings.repeat_interval_seconds == 4 * 3600
    assert config.settings.group_wait_seconds == 10


def test_a_full_file_is_read(tmp_path):
    data = {
        "version": 1,
        "dashboard_url": "https://monitor.example/",
        "group_wait_seconds": 5,
        "repeat_interval_seconds": 3600,
        "channels": [
            {**HOOK, "send_resolved": False, "max_alerts": 10},
            {"type": "slack", "name": "slack", "url_env": "SLACK_HOOK"},
            {"type": "email", "name": "mail", "host": "smtp.example", "port": 587, "starttls": True,
             "from": "monitor@example.com", "to": "oncall@example.com", "username": "u", "password_env": "SMTP_PW"},
        ],
    }
    path = tmp_path / "notify.json"
    path.write_text(json.dumps(data))
    config = load_notification_config(str(path), {"SLACK_HOOK": "https://hooks.slack.test/x", "SMTP_PW": "pw"})
    _console, hook, slack, mail = config.channels
    assert isinstance(hook, WebhookChannel) and hook.send_resolved is False and hook.max_alerts == 10
    assert isinstance(slack, SlackChannel) and slack.url == "https://hooks.slack.test/x"
    assert isinstance(mail, EmailChannel) and mail.starttls and mail.recipients == ["oncall@example.com"]
    assert config.settings.group_wait_seconds == 5 and config.dashboard_url == "https://monitor.example/"


def test_environment_variables_add_channels():
    environ = {
        "MONITOR_WEBHOOK_URL": "http://127.0.0.1:9/hook",
        "MONITOR_SLACK_WEBHOOK_URL": "https://hooks.slack.test/y",
        "MONITOR_SMTP_HOST": "127.0.0.1",
        "MONITOR_SMTP_PORT": "2525",
        "MONITOR_SMTP_FROM": "monitor@example.com",
        "MONITOR_SMTP_TO": "a@example.com, b@example.com",
        "MONITOR_SMTP_USERNAME": "u",
        "MONITOR_SMTP_PASSWORD": "pw",
        "MONITOR_SMTP_STARTTLS": "true",
        "MONITOR_DASHBOARD_URL": "https://monitor.example/",
    }
    config = load_notification_config(None, environ)
    names = {c.name: c for c in config.channels}
    assert set(names) == {"console", "webhook", "slack", "email"}
    assert names["email"].port == 2525 and names["email"].recipients == ["a@example.com", "b@example.com"]
    assert names["email"].starttls and names["email"].username == "u"
    assert config.dashboard_url == "https://monitor.example/"


def test_the_app_reads_the_file_named_by_the_environment(tmp_path):
    path = tmp_path / "notify.json"
    path.write_text(json.dumps({"channels": [HOOK]}))
    config = config_from([], {"MONITOR_NOTIFICATIONS": str(path), "MONITOR_DB": str(tmp_path / "m.db")})
    app = create_app(config)
    assert [c.name for c in app.server.extensions["delivery"].channels] == ["console", "ops"]
    listed = app.server.test_client().get("/api/notifications").get_json()
    assert listed["delivery"] == "at-least-once"
    assert [c["name"] for c in listed["channels"]] == ["console", "ops"]


@pytest.mark.parametrize(("data", "environ", "message"), [
    ({"channels": [{"type": "pager", "name": "p"}]}, {}, "channels[0].type: expected one of webhook, alertmanager, slack, email"),
    ({"channels": [{"type": "webhook", "name": "ops"}]}, {}, "channels[0].url: is required"),
    ({"channels": [{"type": "webhook", "name": "ops", "url": "ftp://x"}]}, {}, "channels[0].url: expected an http"),
    ({"channels": [{"type": "slack", "name": "s", "url": "https://hooks.slack.test/x"}]}, {},
     "channels[0].url: secrets are not read from the file"),
    ({"channels": [{"type": "slack", "name": "s", "url_env": "NOPE"}]}, {}, "environment variable NOPE is not set"),
    ({"channels": [{"type": "email", "name": "m", "host": "h", "from": "a@b", "to": []}]}, {}, "channels[0].to:"),
    ({"channels": [{"type": "email", "name": "m", "host": "h", "from": "a@b", "to": "c@d", "username": "u"}]}, {},
     "channels[0].password_env: is required"),
    ({"channels": [{"type": "email", "name": "m", "host": "h", "from": "a@b", "to": "c@d", "port": 70000}]}, {},
     "channels[0].port: expected 1 to 65535"),
    ({"channels": [HOOK, HOOK]}, {}, "two channels are named 'ops'"),
    ({"channels": [{**HOOK, "send_resolved": "yes"}]}, {}, "channels[0].send_resolved: expected true or false"),
    ({"channels": [{**HOOK, "colour": "red"}]}, {}, "channels[0]: unknown field(s) colour"),
    ({"group_wait_seconds": -1}, {}, "group_wait_seconds: expected a number >= 0"),
    ({"max_attempts": 0}, {}, "max_attempts: expected an integer >= 1"),
    ({"version": 2}, {}, "version: expected 1"),
    ({"channels": {}}, {}, "channels: expected a list"),
    ({"group_wiat_seconds": 1}, {}, "unknown field(s) group_wiat_seconds"),
])
def test_a_bad_config_names_the_field(data, environ, message):
    with pytest.raises(ConfigError) as caught:
        parse_notification_config(data, "notify.json", environ)
    assert message in str(caught.value)
    assert str(caught.value).startswith("notify.json")


def test_file_errors_name_the_file_and_line(tmp_path):
    path = tmp_path / "notify.json"
    path.write_text('{\n  "channels": [,]\n}')
    with pytest.raises(ConfigError, match=r"notify.json: not valid JSON at line 2"):
        load_notification_config(str(path), {})
    with pytest.raises(ConfigError, match="notifications config file not found"):
        load_notification_config(str(tmp_path / "missing.json"), {})


def test_main_reports_a_bad_notifications_file_without_a_traceback(tmp_path, capsys):
    from app import main

    path = tmp_path / "notify.json"
    path.write_text(json.dumps({"channels": [{"type": "webhook", "name": "ops"}]}))
    assert main(["--notifications", str(path), "--db", str(tmp_path / "m.db")]) == 2
    err = capsys.readouterr().err
    assert "channels[0].url: is required" in err and "Traceback" not in err


MAIL = {"type": "email", "name": "m", "host": "smtp.test", "from": "monitor@example.com", "to": "ops@example.com"}


@pytest.mark.parametrize(("channel", "message"), [
    ({**HOOK, "headers": ["X-Token"]}, "channels[0].headers: expected an object of strings, got ['X-Token']"),
    ({**HOOK, "headers": {"X-Retry": 3}}, "channels[0].headers: expected an object of strings, got {'X-Retry': 3}"),
    ({"type": "slack", "name": "s", "url_env": "SLACK_URL"}, "channels[0].url_env: the variable does not hold an http(s) URL"),
    ({**MAIL, "to": "ops"}, "channels[0].to: expected one or more email addresses, got ['ops']"),
    ({**MAIL, "to": []}, "channels[0].to: expected one or more email addresses, got []"),
    ({**MAIL, "to": ["ops@example.com", 7]}, "channels[0].to: expected one or more email addresses, got ['ops@example.com', 7]"),
    ({**MAIL, "to": {"a": "ops@example.com"}}, "channels[0].to: expected one or more email addresses, got {'a': 'ops@example.com'}"),
    ({**MAIL, "from": "monitor"}, "channels[0].from: expected an email address, got 'monitor'"),
    ({**MAIL, "username": ""}, "channels[0].username: expected a non-empty string, got ''"),
    ({**MAIL, "username": 5}, "channels[0].username: expected a non-empty string, got 5"),
    ({**MAIL, "port": 65536}, "channels[0].port: expected 1 to 65535, got 65536"),
])
def test_each_channel_check_refuses_with_its_own_message_word_for_word(channel, message):
    """Every refusal of a channel's fields (webhook headers, the Slack URL variable, email to / from / username /
    port), whole: the file, the field's path, what was expected and the value found."""
    with pytest.raises(ConfigError) as caught:
        parse_notification_config({"channels": [channel]}, "notify.json", {"SLACK_URL": "hooks.slack.test/x"})
    assert str(caught.value) == f"notify.json: {message}"


def test_an_email_channel_takes_its_port_at_both_ends_and_one_address_as_a_list():
    for port in (1, 65535):
        (channel,) = [c for c in parse_notification_config({"channels": [{**MAIL, "port": port}]}, "notify.json", {}).channels
                      if c.name == "m"]
        assert isinstance(channel, EmailChannel)
        assert (channel.port, channel.recipients, channel.sender) == (port, ["ops@example.com"], "monitor@example.com")


def test_every_field_a_file_gives_a_channel_reaches_it(tmp_path):
    """Headers, send_resolved and the SMTP login written in the file are what the channels use: the login
    reaches a real SMTP server (aiosmtpd) that requires it."""
    from .delivery_support import SmtpSink
    from .test_delivery_payloads import _note

    with SmtpSink(login=("monitor", "pw-from-env")) as sink:
        data = {"version": 1, "channels": [
            {**HOOK, "headers": {"X-Team": "payments"}},
            {"type": "email", "name": "mail", "host": "127.0.0.1", "port": sink.port, "send_resolved": False,
             "from": "monitor@example.com", "to": "oncall@example.com", "username": "monitor",
             "password_env": "SMTP_PW"},
        ]}
        path = tmp_path / "notify.json"
        path.write_text(json.dumps(data))
        _console, hook, mail = load_notification_config(str(path), {"SMTP_PW": "pw-from-env"}).channels
        assert isinstance(hook, WebhookChannel) and hook.headers == {"X-Team": "payments"} and hook.send_resolved
        assert isinstance(mail, EmailChannel) and mail.send_resolved is False
        assert (mail.host, mail.port, mail.sender, mail.username) == ("127.0.0.1", sink.port, "monitor@example.com",
                                                                      "monitor")
        mail.send(_note(), timeout=10.0)
    assert sink.logins == [("monitor", "pw-from-env")]
    assert [m.rcpt_tos for m in sink.messages] == [["oncall@example.com"]]


def test_a_files_errors_name_the_file_and_its_settings_are_read(tmp_path):
    path = tmp_path / "notify.json"
    path.write_text(json.dumps({"version": 1, "channels": [{"type": "webhook", "name": "ops", "url": "ftp://x"}]}))
    with pytest.raises(ConfigError) as caught:
        load_notification_config(str(path), {})
    assert str(caught.value) == f"{path}: channels[0].url: expected an http:// or https:// URL, got 'ftp://x'"
    path.write_text(json.dumps({"version": 1, "log_retention_days": 3}))
    assert load_notification_config(str(path), {}).settings.log_retention_days == 3


def test_an_smtp_server_from_the_environment_without_a_sender_is_refused():
    with pytest.raises(ConfigError) as caught:
        load_notification_config(None, {"MONITOR_SMTP_HOST": "smtp.example", "MONITOR_SMTP_TO": "a@example.com"})
    assert str(caught.value) == "environment: channels[0].from: expected a non-empty string, got ''"
