"""Alert episodes: one per (rule, metric) breach, moving pending -> firing -> resolved.

Times are event times (epoch minutes of the data), except for no-data alerts,
which are about the wall clock and carry wall-clock minutes.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from .metrics import metric_label, minute_to_iso

PENDING = "pending"
FIRING = "firing"
RESOLVED = "resolved"
STATES = (PENDING, FIRING, RESOLVED)
OPEN_STATES = (PENDING, FIRING)

SEVERITIES = ("info", "warning", "critical")


def alert_id(rule_id: str, metric: str, started_minute: int) -> str:
    """Deterministic, so a replay and a live feed give the same ids for the same episodes."""
    digest = hashlib.sha1(f"{rule_id}|{metric}|{started_minute}".encode()).hexdigest()
    return f"a{digest[:15]}"


@dataclass(slots=True)
class Alert:
    id: str
    rule: str
    rule_type: str
    metric: str
    severity: str
    state: str
    started_at: int  # epoch minute of the first breaching minute
    fired_at: int | None = None
    resolved_at: int | None = None
    last_breach_at: int | None = None
    value: float = 0.0  # the worst value seen in the episode
    threshold: float = 0.0
    expected: float | None = None  # what normal looks like, where the rule knows
    message: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    detail: str = ""  # the statistics behind the message: window, tail probability, baseline
    incident_id: str | None = None  # the incident this alert is a symptom of, once it fired

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    def copy(self) -> Alert:
        # Written out rather than dataclasses.replace(): this runs on every alert change.
        return Alert(
            self.id, self.rule, self.rule_type, self.metric, self.severity, self.state, self.started_at,
            self.fired_at, self.resolved_at, self.last_breach_at, self.value, self.threshold, self.expected,
            self.message, dict(self.labels), self.detail, self.incident_id,
        )

    def to_dict(self) -> dict[str, Any]:
        """The public shape (REST API, notifications): times in ISO 8601 UTC."""
        end = self.resolved_at
        duration = None
        if end is not None:
            duration = end - self.started_at
        elif self.last_breach_at is not None:
            duration = self.last_breach_at - self.started_at + 1
        return {
            "id": self.id,
            "rule": self.rule,
            "rule_type": self.rule_type,
            "metric": self.metric,
            "metric_label": metric_label(self.metric),
            "severity": self.severity,
            "state": self.state,
            "started_at": minute_to_iso(self.started_at),
            "fired_at": minute_to_iso(self.fired_at),
            "resolved_at": minute_to_iso(self.resolved_at),
            "last_breach_at": minute_to_iso(self.last_breach_at),
            "duration_minutes": duration,
            "value": _round(self.value),
            "threshold": _round(self.threshold),
            "expected": None if self.expected is None else _round(self.expected),
            "message": self.message,
            "labels": dict(self.labels),
            "detail": self.detail,
            "incident_id": self.incident_id,
        }


def _round(value: float) -> float | int:
    if float(value).is_integer():
        return int(value)
    return round(value, 4)


@dataclass(frozen=True, slots=True)
class Transition:
    """What an ingest or tick did to an alert: ``pending``, ``firing`` or ``resolved``."""

    kind: str
    alert: Alert  # a copy, safe to hand to other threads
