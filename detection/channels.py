"""Notification channels: console log, Alertmanager-style webhook, Slack incoming webhook and SMTP email.

Every channel has the same small interface: a ``name``, ``send_resolved`` and
``send(notification, timeout)``, which either returns (delivered) or raises
``DeliveryError`` (the delivery worker retries and logs it). Channels do no
queueing, retrying or silencing of their own: that is ``detection/delivery.py``.
"""

from __future__ import annotations

import hashlib
import logging
import smtplib
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any, Protocol

import requests

from .alerts import FIRING, RESOLVED, Alert
from .metrics import minute_to_iso
from .redact import redact_url

log = logging.getLogger("monitor.alerts")

# Alertmanager writes this as endsAt while an alert is still firing and has no known end.
ZERO_TIME = "0001-01-01T00:00:00Z"
WEBHOOK_VERSION = "4"
USER_AGENT = "transaction-monitor"


class DeliveryError(RuntimeError):
    """A channel could not deliver; the message says what the receiver did (status, timeout, refusal)."""


@dataclass(frozen=True)
class Notice:
    """One alert in a notification: ``kind`` is firing or resolved; ``repeat`` marks a reminder of a firing alert."""

    kind: str
    alert: Alert
    repeat: bool = False


@dataclass(frozen=True)
class Notification:
    """What one channel sends in one message: the alerts that changed together (a group)."""

    notices: tuple[Notice, ...]
    dashboard_url: str = ""

    @property
    def status(self) -> str:
        """Alertmanager's rule: the group is firing while any of its alerts is."""
        return FIRING if any(n.kind == FIRING for n in self.notices) else RESOLVED

    @property
    def firing(self) -> list[Notice]:
        return [n for n in self.notices if n.kind == FIRING]

    @property
    def resolved(self) -> list[Notice]:
        return [n for n in self.notices if n.kind == RESOLVED]


class Channel(Protocol):
    name: str
    send_resolved: bool

    def send(self, notification: Notification, timeout: float) -> None:
        """Deliver or raise ``DeliveryError``."""


# ----------------------------------------------------------------- wording

def _number(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:g}" if isinstance(value, int) or float(value).is_integer() else f"{value:.4g}"


def alert_labels(alert: Alert) -> dict[str, str]:
    """Identity of the alert series, as Alertmanager labels (``alertname`` is the rule id)."""
    labels = {
        "alertname": alert.rule,
        "rule": alert.rule,
        "rule_type": alert.rule_type,
        "metric": alert.metric,
        "severity": alert.severity,
    }
    labels.update({str(k): str(v) for k, v in alert.labels.items()})
    return labels


def fingerprint(labels: dict[str, str]) -> str:
    """A stable 16-hex-digit hash of the label set, like Alertmanager's: the same for every episode of a series."""
    text = "\xff".join(f"{k}\xfe{labels[k]}" for k in sorted(labels))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def headline(notice: Notice) -> str:
    """One line a person reads first: what, how bad, since when."""
    alert = notice.alert
    state = "RESOLVED" if notice.kind == RESOLVED else ("STILL FIRING" if notice.repeat else "FIRING")
    since = minute_to_iso(alert.started_at)
    # The message starts with the metric's plain name ("Failed transactions: ..."), so it leads on its own.
    text = f"{state} [{alert.severity.upper()}] {alert.message} (since {since}"
    if notice.kind == RESOLVED and alert.resolved_at is not None:
        text += f", resolved {minute_to_iso(alert.resolved_at)}, {alert.resolved_at - alert.started_at} min"
    return text + f"; rule {alert.rule})"


def value_line(alert: Alert) -> str:
    text = f"worst value {_number(alert.value)} vs threshold {_number(alert.threshold)}"
    if alert.expected is not None:
        text += f" (normal about {_number(alert.expected)})"
    return text


def _detail_line(alert: Alert, indent: str = "  ") -> str:
    """The statistics behind the message as one more line of a readable body, when the alert has them."""
    return f"\n{indent}{alert.detail}" if alert.detail else ""


def alert_annotations(alert: Alert, dashboard_url: str) -> dict[str, str]:
    out = {
        "summary": alert.message,
        "description": value_line(alert),
        "value": _number(alert.value),
        "threshold": _number(alert.threshold),
        "alert_id": alert.id,
    }
    if alert.expected is not None:
        out["expected"] = _number(alert.expected)
    if alert.detail:
        out["detail"] = alert.detail
    if dashboard_url:
        out["dashboard"] = dashboard_url
    return out


def _common(maps: Sequence[dict[str, str]]) -> dict[str, str]:
    if not maps:
        return {}
    first = maps[0]
    return {k: v for k, v in first.items() if all(m.get(k) == v for m in maps[1:])}


def alertmanager_payload(notification: Notification, receiver: str, max_alerts: int = 0) -> dict[str, Any]:
    """The JSON body of an Alertmanager webhook (version 4), so existing receivers accept it unchanged."""
    alerts: list[dict[str, Any]] = []
    for notice in notification.notices:
        alert = notice.alert
        labels = alert_labels(alert)
        ends = minute_to_iso(alert.resolved_at) if notice.kind == RESOLVED and alert.resolved_at is not None else ZERO_TIME
        alerts.append({
            "status": notice.kind,
            "labels": labels,
            "annotations": alert_annotations(alert, notification.dashboard_url),
            "startsAt": minute_to_iso(alert.started_at),
            "endsAt": ends,
            "generatorURL": notification.dashboard_url,
            "fingerprint": fingerprint(labels),
        })
    truncated = 0
    if max_alerts and len(alerts) > max_alerts:
        truncated = len(alerts) - max_alerts
        alerts = alerts[:max_alerts]
    return {
        "version": WEBHOOK_VERSION,
        "groupKey": f'{{}}:{{receiver="{receiver}"}}',
        "truncatedAlerts": truncated,
        "status": notification.status,
        "receiver": receiver,
        "groupLabels": {},
        "commonLabels": _common([a["labels"] for a in alerts]),
        "commonAnnotations": _common([a["annotations"] for a in alerts]),
        "externalURL": notification.dashboard_url,
        "alerts": alerts,
    }


def plain_text(notification: Notification) -> str:
    """The readable body shared by Slack and email: a block per alert, then the dashboard link."""
    blocks = []
    for notice in notification.notices:
        blocks.append(f"{headline(notice)}\n  {value_line(notice.alert)}{_detail_line(notice.alert)}")
    text = "\n".join(blocks)
    if notification.dashboard_url:
        text += f"\nDashboard: {notification.dashboard_url}"
    return text


def subject(notification: Notification) -> str:
    firing, resolved = len(notification.firing), len(notification.resolved)
    if len(notification.notices) == 1:
        return headline(notification.notices[0]).split(" (since")[0]
    parts = []
    if firing:
        parts.append(f"{firing} firing")
    if resolved:
        parts.append(f"{resolved} resolved")
    return f"[{notification.status.upper()}] transaction monitor: {', '.join(parts)}"


# ----------------------------------------------------------------- channels

def _post_json(url: str, body: dict[str, Any], headers: dict[str, str], timeout: float) -> None:
    # Errors go to the delivery log and the API: they name the receiver by its redacted URL only.
    try:
        response = requests.post(
            url, json=body, headers={"User-Agent": USER_AGENT, **headers}, timeout=timeout, allow_redirects=False
        )
    except requests.Timeout:
        raise DeliveryError(f"no answer within {timeout:g} s from {redact_url(url)}") from None
    except requests.RequestException as exc:
        raise DeliveryError(f"cannot reach the receiver {redact_url(url)}: {type(exc).__name__}") from None
    if not 200 <= response.status_code < 300:
        raise DeliveryError(f"receiver {redact_url(url)} answered HTTP {response.status_code}")


class ConsoleChannel:
    """Always on: each firing or resolved alert written once to the log, readably."""

    def __init__(self, name: str = "console", send_resolved: bool = True, logger: logging.Logger | None = None):
        self.name = name
        self.send_resolved = send_resolved
        self._log = logger or log

    def send(self, notification: Notification, timeout: float) -> None:
        for notice in notification.notices:
            self._log.warning("%s", headline(notice))


class WebhookChannel:
    """POSTs Alertmanager's webhook JSON (version 4) to ``url``."""

    def __init__(self, name: str, url: str, send_resolved: bool = True, headers: dict[str, str] | None = None,
                 max_alerts: int = 0):
        self.name = name
        self.url = url
        self.send_resolved = send_resolved
        self.headers = dict(headers or {})
        self.max_alerts = max_alerts

    def send(self, notification: Notification, timeout: float) -> None:
        _post_json(self.url, alertmanager_payload(notification, self.name, self.max_alerts), self.headers, timeout)


class SlackChannel:
    """A Slack incoming webhook: ``{"text": ...}`` in Slack's mrkdwn, one line of context per alert."""

    def __init__(self, name: str, url: str, send_resolved: bool = True):
        self.name = name
        self.url = url
        self.send_resolved = send_resolved

    def send(self, notification: Notification, timeout: float) -> None:
        _post_json(self.url, slack_payload(notification), {}, timeout)


def slack_payload(notification: Notification) -> dict[str, Any]:
    lines = []
    for notice in notification.notices:
        alert = notice.alert
        icon = ":white_check_mark:" if notice.kind == RESOLVED else (
            ":red_circle:" if alert.severity == "critical" else ":warning:")
        lines.append(f"{icon} *{_slack_escape(headline(notice))}*\n{_slack_escape(value_line(alert))}"
                     f"{_slack_escape(_detail_line(alert, indent=''))}")
    if notification.dashboard_url:
        lines.append(f"<{notification.dashboard_url}|Open the dashboard>")
    return {"text": "\n".join(lines)}


def _slack_escape(text: str) -> str:
    # Slack treats &, < and > as control characters in mrkdwn.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class EmailChannel:
    """Email over SMTP with smtplib; STARTTLS and login are optional, the password comes from the environment."""

    def __init__(self, name: str, host: str, port: int, sender: str, recipients: Sequence[str],
                 send_resolved: bool = True, starttls: bool = False, username: str | None = None,
                 password: str | None = None):
        self.name = name
        self.host = host
        self.port = port
        self.sender = sender
        self.recipients = list(recipients)
        self.send_resolved = send_resolved
        self.starttls = starttls
        self.username = username
        self._password = password

    def message(self, notification: Notification) -> EmailMessage:
        msg = EmailMessage()
        msg["Subject"] = subject(notification)
        msg["From"] = self.sender
        msg["To"] = ", ".join(self.recipients)
        msg["Date"] = formatdate(usegmt=True)
        msg["Message-ID"] = make_msgid(domain="transaction-monitor")
        msg.set_content(plain_text(notification) + "\n")
        return msg

    def send(self, notification: Notification, timeout: float) -> None:
        msg = self.message(notification)
        try:
            with smtplib.SMTP(self.host, self.port, timeout=timeout) as smtp:
                if self.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if self.username:
                    smtp.login(self.username, self._password or "")
                smtp.send_message(msg)
        except (TimeoutError, smtplib.SMTPServerDisconnected) as exc:
            raise DeliveryError(f"SMTP server {self.host}:{self.port} did not answer in time: {exc}") from None
        except smtplib.SMTPException as exc:
            raise DeliveryError(f"SMTP server {self.host}:{self.port} refused: {exc}") from None
        except OSError as exc:
            raise DeliveryError(f"cannot reach SMTP server {self.host}:{self.port}: {exc}") from None


def describe_channel(channel: Channel) -> dict[str, Any]:
    """For the API: the channel's type and where it sends, never a secret."""
    info: dict[str, Any] = {"name": channel.name, "type": type(channel).__name__.removesuffix("Channel").lower(),
                            "send_resolved": channel.send_resolved}
    if isinstance(channel, WebhookChannel | SlackChannel):
        info["url"] = redact_url(channel.url)  # credentials, query values and Slack's path token masked
    elif isinstance(channel, EmailChannel):
        info.update(host=channel.host, port=channel.port, to=channel.recipients, starttls=channel.starttls)
    return info

