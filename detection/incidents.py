"""Incidents: one underlying event, its alerts as symptoms; the shape the API and notifications share.

An incident groups the alerts of one family (a denial spike, a processing
failure, a reversal burst, an approval drop, a feed outage) that start close
together. It is ``open`` while any member is open and for a short quiet period
after the last one resolved, then ``resolved``. Times are event times (epoch
minutes), like the alerts'.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .alerts import SEVERITIES
from .metrics import minute_to_iso

OPEN = "open"
RESOLVED = "resolved"
INCIDENT_STATES = (OPEN, RESOLVED)

# What happened, in the words an analyst uses; computed from the counts, not from rule names.
DENIAL_SPIKE = "denial_spike"
PROCESSING_FAILURE = "processing_failure"
REVERSAL_BURST = "reversal_burst"
APPROVAL_DROP = "approval_drop"
PARTIAL_OUTAGE = "partial_outage"  # approvals stop while other statuses go on
FEED_OUTAGE = "feed_outage"
OTHER = "other"
KINDS = (DENIAL_SPIKE, PROCESSING_FAILURE, REVERSAL_BURST, APPROVAL_DROP, PARTIAL_OUTAGE, FEED_OUTAGE, OTHER)

# What an incident's notification says happened to it.
OPENED = "opened"
ESCALATED = "escalated"  # severity rose or a new driver appeared
RESOLVED_TRANSITION = "resolved"
INCIDENT_TRANSITIONS = (OPENED, ESCALATED, RESOLVED_TRANSITION)


def severity_rank(severity: str) -> int:
    return SEVERITIES.index(severity) if severity in SEVERITIES else -1


@dataclass(slots=True)
class Driver:
    """A metric carrying part of the incident's excess (or shortfall), e.g. ``auth_code:51`` with 0.85."""

    metric: str
    share: float  # of the incident's total excess, 0..1
    observed: float  # summed over the incident's minutes so far
    expected: float

    def to_dict(self) -> dict[str, Any]:
        return {"metric": self.metric, "share": round(self.share, 4), "observed": round(self.observed, 2),
                "expected": round(self.expected, 2)}


@dataclass(slots=True)
class Incident:
    id: str
    kind: str
    state: str
    severity: str
    started_at: int  # epoch minute: the earliest member's started_at
    title: str = ""
    summary: str = ""
    resolved_at: int | None = None
    last_member_resolved_at: int | None = None  # starts the quiet period
    metrics: list[str] = field(default_factory=list)
    drivers: list[Driver] = field(default_factory=list)
    alert_ids: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)  # the statistics: rules, windows, tail probabilities

    @property
    def is_open(self) -> bool:
        return self.state == OPEN

    def copy(self) -> Incident:
        return Incident(
            self.id, self.kind, self.state, self.severity, self.started_at, self.title, self.summary,
            self.resolved_at, self.last_member_resolved_at, list(self.metrics),
            [Driver(d.metric, d.share, d.observed, d.expected) for d in self.drivers],
            list(self.alert_ids), dict(self.details),
        )

    def to_dict(self) -> dict[str, Any]:
        """The public shape (REST API, notifications): times in ISO 8601 UTC."""
        return {
            "id": self.id,
            "state": self.state,
            "kind": self.kind,
            "title": self.title,
            "summary": self.summary,
            "severity": self.severity,
            "started_at": minute_to_iso(self.started_at),
            "resolved_at": minute_to_iso(self.resolved_at),
            "metrics": list(self.metrics),
            "drivers": [d.to_dict() for d in self.drivers],
            "alerts": list(self.alert_ids),
            "details": dict(self.details),
        }


@dataclass(frozen=True, slots=True)
class IncidentTransition:
    """What an ingest or tick did to an incident: ``opened``, ``escalated`` or ``resolved``."""

    kind: str
    incident: Incident  # a copy, safe to hand to other threads
