"""Notification channels: console log, Alertmanager-style webhook, Alertmanager's own API, Slack and SMTP email.

Every channel has the same small interface: a ``name``, ``send_resolved`` and
``send(notification, timeout)``, which either returns (delivered) or raises
``DeliveryError`` (the delivery worker retries and logs it). A notification is
about one incident; what it says is ``detection/incident_message.py``. Channels
do no queueing, retrying or silencing of their own: that is ``detection/delivery.py``.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any, Protocol

import requests

from .am_alerts import DEFAULT_SOURCE, incident_alert, incident_labels
from .incident_message import Notification, alertmanager_payload, console_line, plain_text, slack_payload, subject
from .redact import redact_url

log = logging.getLogger("monitor.alerts")

USER_AGENT = "transaction-monitor"


class DeliveryError(RuntimeError):
    """A channel could not deliver; the message says what the receiver did (status, timeout, refusal)."""


class Channel(Protocol):
    name: str
    send_resolved: bool

    def send(self, notification: Notification, timeout: float) -> None:
        """Deliver or raise ``DeliveryError``."""


# ----------------------------------------------------------------- channels

def _post_json(url: str, body: dict[str, Any] | list[Any], headers: dict[str, str], timeout: float) -> None:
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
    """Always on: each incident transition written to the log as one readable line."""

    def __init__(self, name: str = "console", send_resolved: bool = True, logger: logging.Logger | None = None):
        self.name = name
        self.send_resolved = send_resolved
        self._log = logger or log

    def send(self, notification: Notification, timeout: float) -> None:
        self._log.warning("%s", console_line(notification))


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


class AlertmanagerChannel:
    """Hands each incident to Alertmanager as one alert (``POST /api/v2/alerts``), as Prometheus does.

    Posted to every URL (an Alertmanager cluster deduplicates); delivered once every one accepted it, else a
    ``DeliveryError`` naming those that did not, and the retry posts to all again (the same alert twice is
    one alert there). A firing incident is re-sent every ``resend_seconds`` (the delivery worker's reminder,
    which Alertmanager takes as a refresh, not news), so an Alertmanager that restarted, or would resolve it
    after its ``resolve_timeout``, has it again within one interval. ``group_wait=False`` sends at once and
    leaves grouping to Alertmanager.
    """

    def __init__(self, name: str, urls: Sequence[str], send_resolved: bool = True, source: str = DEFAULT_SOURCE,
                 instance: str = "", resend_seconds: float = 60.0, group_wait: bool = True,
                 runbooks: Mapping[str, str] | None = None, clock: Callable[[], float] = time.time):
        self.name = name
        self.urls = list(urls)
        self.send_resolved = send_resolved
        self.source = source
        self.instance = instance
        self.resend_seconds = resend_seconds
        self.group_wait_seconds: float | None = None if group_wait else 0.0  # None: the worker's setting
        self.runbooks: Mapping[str, str] = dict(runbooks or {})  # rule id -> runbook URL (thresholds file)
        self._clock = clock
        # The label set last accepted per open incident: an escalation changes ``severity``, which is a new
        # alert to Alertmanager, so the old one is ended in the same post rather than left to time out.
        self._sent: dict[str, dict[str, str]] = {}
        self._lock = threading.Lock()

    def alerts(self, notification: Notification) -> list[dict[str, Any]]:
        """The body of the post: the incident's alert, and the label set it replaced if its severity changed."""
        now = self._clock()
        alert = incident_alert(notification, now, self.source, self.instance, self.runbooks)
        with self._lock:
            before = self._sent.get(notification.incident.id)
        body = [alert]
        if before is not None and before != alert["labels"]:
            ended = incident_alert(notification, now, self.source, self.instance, self.runbooks, ends=True)
            ended["labels"] = before
            body.append(ended)
        return body

    def send(self, notification: Notification, timeout: float) -> None:
        body = self.alerts(notification)
        failures = []
        for url in self.urls:
            try:
                _post_json(f"{url.rstrip('/')}/api/v2/alerts", body, {}, timeout)
            except DeliveryError as exc:
                failures.append(str(exc))
        if failures:
            raise DeliveryError(f"{len(failures)} of {len(self.urls)} Alertmanager(s) did not take it: "
                                + "; ".join(failures))
        incident_id = notification.incident.id
        with self._lock:
            if notification.status == "resolved":
                self._sent.pop(incident_id, None)
            else:
                self._sent[incident_id] = incident_labels(notification, self.source, self.instance)


class SlackChannel:
    """A Slack incoming webhook: ``{"text": ...}`` in Slack's mrkdwn, the incident first, then its alerts briefly."""

    def __init__(self, name: str, url: str, send_resolved: bool = True):
        self.name = name
        self.url = url
        self.send_resolved = send_resolved

    def send(self, notification: Notification, timeout: float) -> None:
        _post_json(self.url, slack_payload(notification), {}, timeout)


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
        # Every message about one incident refers to the same root, so mail clients thread them together.
        msg["References"] = f"<incident-{notification.incident.id}@transaction-monitor>"
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
    elif isinstance(channel, AlertmanagerChannel):
        info.update(urls=[redact_url(u) for u in channel.urls], resend_seconds=channel.resend_seconds,
                    group_wait=channel.group_wait_seconds is None)
    elif isinstance(channel, EmailChannel):
        info.update(host=channel.host, port=channel.port, to=channel.recipients, starttls=channel.starttls)
    return info

