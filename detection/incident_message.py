"""What a notification about an incident says: the Alertmanager webhook body, Slack's text, the email and the log line.

One message is about one incident: what happened to it (opened, escalated,
resolved, or a reminder that it is still open), its title and summary in an
analyst's words, its drivers, then its member alerts briefly. The statistics
stay in each member's annotations (webhook) for whoever wants them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from .alerts import FIRING, RESOLVED, Alert
from .incidents import ESCALATED, OPENED, RESOLVED_TRANSITION, Incident
from .metrics import minute_to_iso

# Alertmanager writes this as endsAt while an alert is still firing and has no known end.
ZERO_TIME = "0001-01-01T00:00:00Z"
WEBHOOK_VERSION = "4"
REPEAT = "repeat"  # a reminder that an incident is still open, after repeat_interval
MESSAGE_KINDS = (OPENED, ESCALATED, RESOLVED_TRANSITION, REPEAT)

_WORDS = {OPENED: "OPENED", ESCALATED: "ESCALATED", RESOLVED_TRANSITION: "RESOLVED", REPEAT: "STILL OPEN"}


@dataclass(frozen=True)
class Notification:
    """One message about one incident: ``kind`` is opened, escalated, resolved or repeat."""

    kind: str
    incident: Incident
    alerts: tuple[Alert, ...]  # its member alerts as they stood when the transition was committed
    dashboard_url: str = ""
    acknowledged_by: str = ""  # who acknowledged the incident and when ("alice at 2026-...Z"), if anyone did

    @property
    def dashboard_link(self) -> str:
        """The dashboard opened at this incident ('' without a dashboard URL)."""
        return incident_link(self.dashboard_url, self.incident.id)

    @property
    def status(self) -> str:
        """Alertmanager's word for the group: firing while the incident is open, resolved once it is."""
        return RESOLVED if self.kind == RESOLVED_TRANSITION or not self.incident.is_open else FIRING


def incident_link(dashboard_url: str, incident_id: str) -> str:
    """``dashboard_url`` opened at one incident: ``incident=<id>`` added to its query, its own path, query and
    fragment kept as they are (a proxy's prefix or parameters still work); '' without a dashboard URL."""
    if not dashboard_url:
        return ""
    parts = urlsplit(dashboard_url)
    # Appended, not parsed and re-encoded: the operator's own query reaches the proxy byte for byte.
    query = "&".join(q for q in (parts.query, urlencode({"incident": incident_id})) if q)
    return urlunsplit(parts._replace(path=parts.path or "/", query=query))


# ----------------------------------------------------------------- wording

def _number(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:g}" if isinstance(value, int) or float(value).is_integer() else f"{value:.4g}"


def title(incident: Incident) -> str:
    """The tracker's title; an incident without one (older data) is still named by its kind and id."""
    return incident.title or f"{incident.kind.replace('_', ' ').capitalize()} (incident {incident.id})"


def drivers_text(incident: Incident) -> str:
    """``auth_code:51 85%, auth_code:59 15%``; empty when the tracker named no driver."""
    return ", ".join(f"{d.metric} {d.share:.0%}" for d in incident.drivers)


def headline(note: Notification) -> str:
    """The line a person reads first: what happened to which incident, how bad."""
    return f"{_WORDS.get(note.kind, note.kind.upper())} [{note.incident.severity.upper()}] {title(note.incident)}"


def context_line(note: Notification) -> str:
    """Which incident, since when (UTC), for how long, driven by what, how many alerts."""
    incident = note.incident
    text = f"incident {incident.id} ({incident.kind}) since {minute_to_iso(incident.started_at)}"
    if incident.resolved_at is not None:
        text += f", resolved {minute_to_iso(incident.resolved_at)} after {incident.resolved_at - incident.started_at} min"
    drivers = drivers_text(incident)
    if drivers:
        text += f"; driven by {drivers}"
    text += f"; {len(note.alerts)} alert(s)"
    if note.acknowledged_by:  # an escalation tells the person on it, and everyone else who that is
        text += f"; acknowledged by {note.acknowledged_by}"
    return text


def member_line(alert: Alert) -> str:
    """One member alert, briefly: its message (which starts with the metric's plain name), state, rule."""
    state = RESOLVED if alert.state == RESOLVED else FIRING
    return f"{alert.message} ({alert.severity}, {state}) [rule {alert.rule}]"


def console_line(note: Notification) -> str:
    """The whole message on one log line."""
    text = headline(note)
    if note.incident.summary:
        text += f" | {note.incident.summary}"
    rules = ", ".join(a.rule for a in note.alerts)
    return f"{text} | {context_line(note)}" + (f": {rules}" if rules else "")


def plain_text(note: Notification) -> str:
    """The email body: title and summary first, then the context, the member alerts and the dashboard link."""
    lines = [headline(note)]
    if note.incident.summary:
        lines.append(note.incident.summary)
    context = context_line(note)
    lines += ["", context[0].upper() + context[1:]]
    if note.alerts:
        lines.append("Alerts:")
        for alert in note.alerts:
            lines.append(f"  - {member_line(alert)}")
            if alert.detail:  # the statistics behind the message, for whoever wants them
                lines.append(f"    {alert.detail}")
    if note.dashboard_url:
        lines.append(f"Dashboard: {note.dashboard_link}")
    return "\n".join(lines)


def subject(note: Notification) -> str:
    """The incident's title, tagged with what happened to it so an opening and a resolution differ in the inbox."""
    return f"[{_WORDS.get(note.kind, note.kind.upper())}] {title(note.incident)}"


def slack_payload(note: Notification) -> dict[str, Any]:
    """Slack mrkdwn: the headline in bold, the summary, the context in italics, a bullet per member alert."""
    icon = ":white_check_mark:" if note.status == RESOLVED else (
        ":red_circle:" if note.incident.severity == "critical" else ":warning:")
    lines = [f"{icon} *{_slack_escape(headline(note))}*"]
    if note.incident.summary:
        lines.append(_slack_escape(note.incident.summary))
    lines.append(f"_{_slack_escape(context_line(note))}_")
    lines += [f"\u2022 {_slack_escape(member_line(a))}" for a in note.alerts]
    if note.dashboard_url:
        lines.append(f"<{note.dashboard_link}|Open the dashboard>")
    return {"text": "\n".join(lines)}


def _slack_escape(text: str) -> str:
    # Slack treats &, < and > as control characters in mrkdwn.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# ----------------------------------------------------------------- webhook

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


def value_line(alert: Alert) -> str:
    text = f"worst value {_number(alert.value)} vs threshold {_number(alert.threshold)}"
    if alert.expected is not None:
        text += f" (normal about {_number(alert.expected)})"
    return text


def alert_annotations(alert: Alert, dashboard_link: str) -> dict[str, str]:
    """The member alert's annotations; ``dashboard`` is the dashboard opened at its incident."""
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
    if dashboard_link:
        out["dashboard"] = dashboard_link
    return out


def _common(maps: Sequence[dict[str, str]]) -> dict[str, str]:
    if not maps:
        return {}
    first = maps[0]
    return {k: v for k, v in first.items() if all(m.get(k) == v for m in maps[1:])}


def _member_entry(alert: Alert, dashboard_url: str, dashboard_link: str) -> dict[str, Any]:
    labels = alert_labels(alert)
    done = alert.state == RESOLVED and alert.resolved_at is not None
    return {
        "status": RESOLVED if alert.state == RESOLVED else FIRING,
        "labels": labels,
        "annotations": alert_annotations(alert, dashboard_link),
        "startsAt": minute_to_iso(alert.started_at),
        "endsAt": minute_to_iso(alert.resolved_at) if done else ZERO_TIME,
        "generatorURL": dashboard_url,
        "fingerprint": fingerprint(labels),
    }


def incident_annotations(note: Notification) -> dict[str, str]:
    """What the whole group is about: the incident's title, summary, kind and drivers (Alertmanager receivers
    template ``commonAnnotations``, so this is where they find them)."""
    incident = note.incident
    out = {
        "title": title(incident),
        "summary": incident.summary,
        "kind": incident.kind,
        "drivers": drivers_text(incident),
        "severity": incident.severity,
        "incident_id": incident.id,
        "transition": note.kind,
        "started_at": minute_to_iso(incident.started_at) or "",
    }
    if incident.resolved_at is not None:
        out["resolved_at"] = minute_to_iso(incident.resolved_at) or ""
    if note.acknowledged_by:
        out["acknowledged_by"] = note.acknowledged_by
    if note.dashboard_url:
        out["dashboard"] = note.dashboard_link
    return out


def alertmanager_payload(note: Notification, receiver: str, max_alerts: int = 0) -> dict[str, Any]:
    """The JSON body of an Alertmanager webhook (version 4): one group per incident, its members as the alerts.

    ``groupKey`` is the incident id, so a receiver that threads or deduplicates by group keeps one thread per
    incident. The extra ``incident`` field (the incident's public shape) is ignored by receivers that do not
    know it.
    """
    alerts = [_member_entry(a, note.dashboard_url, note.dashboard_link) for a in note.alerts]
    truncated = 0
    if max_alerts and len(alerts) > max_alerts:
        truncated = len(alerts) - max_alerts
        alerts = alerts[:max_alerts]
    incident = note.incident
    return {
        "version": WEBHOOK_VERSION,
        "groupKey": incident.id,
        "truncatedAlerts": truncated,
        "status": note.status,
        "receiver": receiver,
        "groupLabels": {"incident_id": incident.id, "kind": incident.kind},
        "commonLabels": _common([a["labels"] for a in alerts]),
        "commonAnnotations": incident_annotations(note),
        "externalURL": note.dashboard_url,
        "alerts": alerts,
        "incident": incident.to_dict(),
    }
