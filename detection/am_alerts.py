"""An incident as one alert of Alertmanager's API v2 (``POST /api/v2/alerts``), the way Prometheus hands alerts over.

The labels identify the incident (Alertmanager deduplicates and groups by
them): ``alertname`` is the incident's kind, ``severity`` its severity,
``metric`` the first metric it was about (the one an inhibition rule compares),
``incident`` its id, plus the configured ``source`` and ``instance``; a slice's incident adds one label per
dimension of its slice (``acquirer="acq-07"``), so a route can send each acquirer's incidents where they
belong. A firing
alert has no ``endsAt``, so Alertmanager keeps it for its ``resolve_timeout``
after each (re-)send; a resolved one ends at the moment it is sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from .incident_message import Notification, context_line, title
from .metrics import epoch_to_iso
from .slices import parse_slice_key

DEFAULT_SOURCE = "transaction-monitor"


def incident_labels(note: Notification, source: str, instance: str = "") -> dict[str, str]:
    """The label set of the incident's alert; it changes only when its severity does (an escalation)."""
    incident = note.incident
    labels = {
        "alertname": incident.kind,
        "severity": incident.severity,
        "metric": incident.metrics[0] if incident.metrics else "",
        "incident": incident.id,
        "source": source,
    }
    if instance:
        labels["instance"] = instance
    key = incident.details.get("slice")
    if isinstance(key, str) and key:
        for dim, value in parse_slice_key(key):
            labels.setdefault(dim, value)  # a dimension named like a label above never overrides it
    return {k: v for k, v in labels.items() if v}  # Alertmanager treats an empty label as an absent one


def runbook_of(note: Notification, runbooks: Mapping[str, str]) -> str:
    """The runbook of the first member alert whose rule has one in the thresholds file ('' if none does)."""
    for alert in note.alerts:
        url = runbooks.get(alert.rule)
        if url:
            return url
    return ""


def incident_api_url(base_url: str, incident_id: str) -> str:
    """The incident as the REST API shows it: its state, members and drivers at the incident's time.

    Under the dashboard URL's path (a proxy's prefix stays); its query and fragment belong to the page, not here.
    """
    if not base_url:
        return ""
    parts = urlsplit(base_url)
    path = f"{parts.path.rstrip('/')}/api/incidents/{quote(incident_id, safe='')}"
    return urlunsplit(parts._replace(path=path, query="", fragment=""))


def incident_alert(note: Notification, now: float, source: str = DEFAULT_SOURCE, instance: str = "",
                   runbooks: Mapping[str, str] | None = None, ends: bool | None = None) -> dict[str, Any]:
    """One postable alert. ``now`` (epoch seconds, wall clock) ends a resolved incident and bounds ``startsAt``
    (event time: a feed ahead of the clock must not start an alert after it ends). ``ends`` overrides whether
    this alert is ended (True for a label set an escalation replaced)."""
    incident = note.incident
    started = min(incident.started_at * 60, int(now))
    annotations = {
        "summary": title(incident),
        "description": (f"{incident.summary}\n" if incident.summary else "") + context_line(note),
    }
    if note.dashboard_url:
        annotations["dashboard"] = note.dashboard_link  # the dashboard opened at this incident
    runbook = runbook_of(note, runbooks or {})
    if runbook:
        annotations["runbook_url"] = runbook
    alert: dict[str, Any] = {
        "labels": incident_labels(note, source, instance),
        "annotations": annotations,
        "startsAt": epoch_to_iso(started),
    }
    link = incident_api_url(note.dashboard_url, incident.id)
    if link:  # Alertmanager validates it as a URI: an empty one is left out
        alert["generatorURL"] = link
    if ends if ends is not None else note.status == "resolved":
        alert["endsAt"] = epoch_to_iso(max(now, started))
    return alert
