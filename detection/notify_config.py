"""The notifications config: which channels to send to and the delivery timings, from a JSON file and/or env vars.

``load_notification_config(path, environ)`` is called by ``app.py`` (the only
place that reads the environment), which hands it the environment. Secrets
(Slack URL, SMTP password) are never written in the file: a channel names the
environment variable that holds them (``url_env``, ``password_env``). Errors
name the file and the field, e.g. ``notify.json: channels[1].url: is required``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .am_alerts import DEFAULT_SOURCE
from .channels import AlertmanagerChannel, Channel, ConsoleChannel, EmailChannel, SlackChannel, WebhookChannel
from .json_files import read_json_file
from .redact import redact_url
from .rules import ConfigError, FieldReader

CHANNEL_TYPES = ("webhook", "alertmanager", "slack", "email")
# Below Alertmanager's default resolve_timeout (5 min), so a firing incident is never resolved there for want
# of a refresh; 0.1 s at the least, so a typo cannot turn it into a busy loop.
DEFAULT_RESEND_SECONDS = 60.0
MIN_RESEND_SECONDS = 0.1
CONFIG_VERSION = 1


@dataclass(frozen=True)
class DeliverySettings:
    """Timings of the delivery worker (Alertmanager's names where they exist)."""

    group_wait_seconds: float = 10.0  # alerts that change within this wait go out as one message per channel
    repeat_interval_seconds: float = 4 * 3600.0  # remind of a still-firing alert after this long
    timeout_seconds: float = 10.0  # per attempt
    max_attempts: int = 5
    backoff_seconds: float = 2.0  # first retry; doubles each time
    backoff_max_seconds: float = 60.0
    queue_size: int = 10_000  # transitions waiting for the worker; beyond it they are picked up by a reconcile
    reconcile_seconds: float = 30.0  # how often the worker looks for committed transitions it has not seen
    log_retention_days: float = 30.0


@dataclass(frozen=True)
class NotificationConfig:
    channels: tuple[Channel, ...]
    settings: DeliverySettings = field(default_factory=DeliverySettings)
    dashboard_url: str = ""
    source: str = "defaults"


def _bool(reader: FieldReader, key: str, default: bool) -> bool:
    reader.used.add(key)
    if key not in reader.obj:
        return default
    value = reader.obj[key]
    if not isinstance(value, bool):
        raise ConfigError(f"{reader.where}.{key}: expected true or false, got {value!r}")
    return value


def _secret(reader: FieldReader, key: str, environ: Mapping[str, str], required: bool) -> str | None:
    """A value that must come from the environment: the file names the variable in ``<key>_env``."""
    env_key = f"{key}_env"
    if key in reader.obj:
        raise ConfigError(f"{reader.where}.{key}: secrets are not read from the file; name an environment "
                          f"variable in {env_key!r} instead")
    if env_key not in reader.obj:
        if required:
            raise ConfigError(f"{reader.where}.{env_key}: is required (the environment variable holding the {key})")
        reader.used.add(env_key)
        return None
    var = reader.text(env_key)
    value = environ.get(var)
    if not value:
        raise ConfigError(f"{reader.where}.{env_key}: environment variable {var} is not set")
    return value


def _url(reader: FieldReader, key: str = "url") -> str:
    url = reader.text(key)
    if not url.startswith(("http://", "https://")):
        raise ConfigError(f"{reader.where}.{key}: expected an http:// or https:// URL, got {redact_url(url)!r}")
    return url


def _alertmanager(reader: FieldReader, name: str, send_resolved: bool,
                  runbooks: Mapping[str, str]) -> AlertmanagerChannel:
    where = reader.where
    urls = reader.obj.get("urls")
    reader.used.add("urls")
    if isinstance(urls, str):
        urls = [urls]
    if not isinstance(urls, list) or not urls or not all(isinstance(u, str) and u for u in urls):
        raise ConfigError(f"{where}.urls: expected one or more Alertmanager URLs, got {urls!r}")
    for i, url in enumerate(urls):
        if not url.startswith(("http://", "https://")):
            raise ConfigError(f"{where}.urls[{i}]: expected an http:// or https:// URL, got {redact_url(url)!r}")
    instance = reader.obj.get("instance", "")
    reader.used.add("instance")
    if not isinstance(instance, str):
        raise ConfigError(f"{where}.instance: expected a string, got {instance!r}")
    return AlertmanagerChannel(
        name, urls, send_resolved, source=reader.text("source", DEFAULT_SOURCE), instance=instance,
        resend_seconds=reader.number("resend_seconds", DEFAULT_RESEND_SECONDS, minimum=MIN_RESEND_SECONDS),
        group_wait=_bool(reader, "group_wait", True), runbooks=runbooks,
    )


def _channel(obj: Any, where: str, environ: Mapping[str, str], runbooks: Mapping[str, str]) -> Channel:
    reader = FieldReader(obj, where)
    kind = reader.text("type", choices=CHANNEL_TYPES)
    name = reader.text("name")
    send_resolved = _bool(reader, "send_resolved", True)
    channel: Channel
    if kind == "webhook":
        headers = reader.obj.get("headers", {})
        reader.used.add("headers")
        if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
            raise ConfigError(f"{where}.headers: expected an object of strings, got {headers!r}")
        channel = WebhookChannel(name, _url(reader), send_resolved, headers, reader.int("max_alerts", 0))
    elif kind == "alertmanager":
        channel = _alertmanager(reader, name, send_resolved, runbooks)
    elif kind == "slack":
        url = _secret(reader, "url", environ, required=True) or ""
        if not url.startswith(("http://", "https://")):
            raise ConfigError(f"{where}.url_env: the variable does not hold an http(s) URL")
        channel = SlackChannel(name, url, send_resolved)
    else:
        recipients = reader.obj.get("to")
        reader.used.add("to")
        if isinstance(recipients, str):
            recipients = [recipients]
        if not isinstance(recipients, list) or not recipients or not all(isinstance(r, str) and "@" in r for r in recipients):
            raise ConfigError(f"{where}.to: expected one or more email addresses, got {recipients!r}")
        sender = reader.text("from")
        if "@" not in sender:
            raise ConfigError(f"{where}.from: expected an email address, got {sender!r}")
        username = reader.obj.get("username")
        reader.used.add("username")
        if username is not None and (not isinstance(username, str) or not username):
            raise ConfigError(f"{where}.username: expected a non-empty string, got {username!r}")
        password = _secret(reader, "password", environ, required=bool(username))
        port = reader.int("port", 25, minimum=1)
        if port > 65535:
            raise ConfigError(f"{where}.port: expected 1 to 65535, got {port}")
        channel = EmailChannel(
            name, reader.text("host"), port, sender, recipients, send_resolved,
            starttls=_bool(reader, "starttls", False), username=username, password=password,
        )
    reader.reject_unknown()
    return channel


def _settings(reader: FieldReader) -> DeliverySettings:
    d = DeliverySettings()
    return DeliverySettings(
        group_wait_seconds=reader.number("group_wait_seconds", d.group_wait_seconds, minimum=0),
        repeat_interval_seconds=reader.number("repeat_interval_seconds", d.repeat_interval_seconds, minimum=0.1),
        timeout_seconds=reader.number("timeout_seconds", d.timeout_seconds, minimum=0.01),
        max_attempts=reader.int("max_attempts", d.max_attempts, minimum=1),
        backoff_seconds=reader.number("backoff_seconds", d.backoff_seconds, minimum=0),
        backoff_max_seconds=reader.number("backoff_max_seconds", d.backoff_max_seconds, minimum=0),
        queue_size=reader.int("queue_size", d.queue_size, minimum=1),
        reconcile_seconds=reader.number("reconcile_seconds", d.reconcile_seconds, minimum=0.01),
        log_retention_days=reader.number("log_retention_days", d.log_retention_days, minimum=1),
    )


def parse_notification_config(data: Any, source: str, environ: Mapping[str, str] | None = None,
                              runbooks: Mapping[str, str] | None = None) -> NotificationConfig:
    """Validate the file's JSON; the console channel is always added first. ``runbooks`` (rule id -> URL, from
    the thresholds file) go into the ``alertmanager`` channels' ``runbook_url`` annotation."""
    environ = environ or {}
    reader = FieldReader(data, source)
    version = reader.int("version", CONFIG_VERSION, minimum=1)
    if version != CONFIG_VERSION:
        raise ConfigError(f"{source}.version: expected {CONFIG_VERSION}, got {version}")
    settings = _settings(reader)
    dashboard_url = reader.obj.get("dashboard_url", "")
    reader.used.add("dashboard_url")
    if not isinstance(dashboard_url, str):
        raise ConfigError(f"{source}.dashboard_url: expected a URL string, got {dashboard_url!r}")
    raw_channels = reader.obj.get("channels", [])
    reader.used.add("channels")
    if not isinstance(raw_channels, list):
        raise ConfigError(f"{source}.channels: expected a list, got {type(raw_channels).__name__}")
    console_resolved = _bool(reader, "console_send_resolved", True)
    reader.reject_unknown()
    channels: list[Channel] = [ConsoleChannel(send_resolved=console_resolved)]
    for i, obj in enumerate(raw_channels):
        channels.append(_channel(obj, f"{source}: channels[{i}]", environ, runbooks or {}))
    _check_unique(channels, source)
    return NotificationConfig(tuple(channels), settings, dashboard_url, source)


def _check_unique(channels: list[Channel], source: str) -> None:
    seen: set[str] = set()
    for channel in channels:
        if channel.name in seen:
            raise ConfigError(f"{source}: two channels are named {channel.name!r}; names must be unique "
                              "(the delivery log refers to them)")
        seen.add(channel.name)


# Environment variables that add a channel without a file (documented in the README).
ENV_WEBHOOK_URL = "MONITOR_WEBHOOK_URL"
ENV_SLACK_URL = "MONITOR_SLACK_WEBHOOK_URL"
ENV_ALERTMANAGER_URLS = "MONITOR_ALERTMANAGER_URLS"
ENV_SMTP = {
    "host": "MONITOR_SMTP_HOST",
    "port": "MONITOR_SMTP_PORT",
    "from": "MONITOR_SMTP_FROM",
    "to": "MONITOR_SMTP_TO",
    "username": "MONITOR_SMTP_USERNAME",
    "password": "MONITOR_SMTP_PASSWORD",
    "starttls": "MONITOR_SMTP_STARTTLS",
}
ENV_DASHBOARD_URL = "MONITOR_DASHBOARD_URL"


TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off")


def _env_flag(environ: Mapping[str, str], var: str) -> bool:
    """A true/false variable: only the usual words; anything else is an error rather than a silent false."""
    raw = environ.get(var, "")
    word = raw.strip().lower()
    if not word or word in FALSE_WORDS:
        return False
    if word in TRUE_WORDS:
        return True
    raise ConfigError(f"{var}: expected one of 1/0, true/false, yes/no, on/off, got {raw!r}")


def _env_url(environ: Mapping[str, str], var: str) -> str:
    url = environ[var]
    if not url.startswith(("http://", "https://")):
        raise ConfigError(f"{var}: expected an http:// or https:// URL, got {redact_url(url)!r}")
    return url


def channels_from_environment(environ: Mapping[str, str]) -> list[dict[str, Any]]:
    """Channel objects (as in the file) for the MONITOR_* variables that are set; errors name the variable."""
    out: list[dict[str, Any]] = []
    if environ.get(ENV_WEBHOOK_URL):
        out.append({"type": "webhook", "name": "webhook", "url": _env_url(environ, ENV_WEBHOOK_URL)})
    if environ.get(ENV_ALERTMANAGER_URLS):
        urls = [u.strip() for u in environ[ENV_ALERTMANAGER_URLS].split(",") if u.strip()]
        for url in urls:
            if not url.startswith(("http://", "https://")):
                raise ConfigError(f"{ENV_ALERTMANAGER_URLS}: expected comma-separated http:// or https:// URLs, "
                                  f"got {redact_url(url)!r}")
        if urls:
            out.append({"type": "alertmanager", "name": "alertmanager", "urls": urls})
    if environ.get(ENV_SLACK_URL):
        _env_url(environ, ENV_SLACK_URL)
        out.append({"type": "slack", "name": "slack", "url_env": ENV_SLACK_URL})
    if environ.get(ENV_SMTP["host"]):
        email: dict[str, Any] = {
            "type": "email",
            "name": "email",
            "host": environ[ENV_SMTP["host"]],
            "from": environ.get(ENV_SMTP["from"], ""),
            "to": [a.strip() for a in environ.get(ENV_SMTP["to"], "").split(",") if a.strip()],
            "starttls": _env_flag(environ, ENV_SMTP["starttls"]),
        }
        port = environ.get(ENV_SMTP["port"])
        if port:
            try:
                email["port"] = int(port)
            except ValueError:
                raise ConfigError(f"{ENV_SMTP['port']}: expected an integer, got {port!r}") from None
            if not 1 <= email["port"] <= 65535:
                raise ConfigError(f"{ENV_SMTP['port']}: expected 1 to 65535, got {email['port']}")
        if environ.get(ENV_SMTP["username"]):
            email["username"] = environ[ENV_SMTP["username"]]
            email["password_env"] = ENV_SMTP["password"]
        out.append(email)
    return out


def load_notification_config(path: str | Path | None, environ: Mapping[str, str],
                             runbooks: Mapping[str, str] | None = None) -> NotificationConfig:
    """The file at ``path`` (if any) plus channels from MONITOR_* variables; the console channel always."""
    data: dict[str, Any] = {}
    source = "environment"
    if path is not None:
        file = Path(path)
        source = str(path)
        data = read_json_file(file, "notifications config file")
        if not isinstance(data, dict):
            raise ConfigError(f"{file}: expected a JSON object, got {type(data).__name__}")
    from_env = channels_from_environment(environ)
    if from_env and isinstance(data.get("channels", []), list):  # a non-list is reported by the parser
        data = {**data, "channels": [*data.get("channels", []), *from_env]}
    if environ.get(ENV_DASHBOARD_URL) and "dashboard_url" not in data:
        data = {**data, "dashboard_url": environ[ENV_DASHBOARD_URL]}
    return parse_notification_config(data, source, environ, runbooks)
