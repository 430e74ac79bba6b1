"""Incidents: one underlying event, its alerts as symptoms; the shape the API and notifications share.

An incident groups the alerts of one family (a denial spike, a processing
failure, a reversal burst, an approval drop, a feed outage) that start close
together. It is ``open`` while any member is open and for a short quiet period
after the last one resolved, then ``resolved``. Times are event times (epoch
minutes), like the alerts'.
"""

from __future__ import annotations

import json
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


class MemberEntry(dict[str, Any]):
    """One member alert's statistics in ``details["members"]``: made whole, then never changed.

    The tracker replaces an entry instead of changing it, so copies of an incident share its entries and
    each entry's JSON is encoded once, not on every write of an incident listing up to MAX_MEMBERS of them.
    """

    __slots__ = ("_json",)

    def json(self) -> str:
        try:
            return self._json
        except AttributeError:
            self._json: str = json.dumps(self)
            return self._json


def _details_json(details: dict[str, Any]) -> str:
    """``json.dumps(details)``, byte for byte, with the member entries' own encodings reused."""
    members = details.get("members")
    if not isinstance(members, list) or not all(isinstance(k, str) for k in details):
        return json.dumps(details)
    encoded = "[" + ", ".join(m.json() if isinstance(m, MemberEntry) else json.dumps(m) for m in members) + "]"
    return "{" + ", ".join(f"{json.dumps(k)}: {encoded if k == 'members' else json.dumps(v)}"
                           for k, v in details.items()) + "}"


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
    # The tracker's bookkeeping (stored, not in the public shape): members still open, the alert
    # families it holds, and every driver it has named (a driver new to the incident escalates it).
    open_alert_ids: list[str] = field(default_factory=list)
    families: list[str] = field(default_factory=list)
    driver_history: list[str] = field(default_factory=list)

    @property
    def is_open(self) -> bool:
        return self.state == OPEN

    def copy(self) -> Incident:
        """A copy later changes to this incident do not reach (safe to hand to another thread).

        ``details`` is copied one level down: its lists (the member entries) are new lists, everything in
        them and its other values are shared. That is safe because the tracker never changes a value of
        ``details`` in place: it replaces a member entry or a figures dict with a new one (see
        ``IncidentTracker._note_member``). A deep copy of up to MAX_MEMBERS entries on every closed
        minute was most of an ingest's time while an incident was open.
        """
        details = {k: list(v) if isinstance(v, list) else v for k, v in self.details.items()}
        return Incident(
            self.id, self.kind, self.state, self.severity, self.started_at, self.title, self.summary,
            self.resolved_at, self.last_member_resolved_at, list(self.metrics),
            [Driver(d.metric, d.share, d.observed, d.expected) for d in self.drivers],
            list(self.alert_ids), details, list(self.open_alert_ids), list(self.families),
            list(self.driver_history),
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


    def to_record(self) -> dict[str, Any]:
        """Everything the store keeps besides its indexed columns (times stay epoch minutes)."""
        return {
            "title": self.title, "summary": self.summary, "last_member_resolved_at": self.last_member_resolved_at,
            "metrics": self.metrics, "drivers": [[d.metric, d.share, d.observed, d.expected] for d in self.drivers],
            "alert_ids": self.alert_ids, "details": self.details, "open_alert_ids": self.open_alert_ids,
            "families": self.families, "driver_history": self.driver_history,
        }

    def record_json(self) -> str:
        """``json.dumps(self.to_record())``, the same text, without encoding unchanged member entries again."""
        return "{" + ", ".join(
            f"{json.dumps(k)}: {_details_json(v) if k == 'details' else json.dumps(v)}" for k, v in self.to_record().items()
        ) + "}"

    @classmethod
    def from_record(cls, id: str, state: str, kind: str, severity: str, started_at: int, resolved_at: int | None,
                    body: dict[str, Any]) -> Incident:
        """The inverse of ``to_record``; raises (KeyError, TypeError, ValueError) on a malformed body."""
        if state not in INCIDENT_STATES:
            raise ValueError(f"unknown incident state {state!r}")
        return cls(
            id, kind, state, severity, int(started_at), str(body["title"]), str(body["summary"]),
            None if resolved_at is None else int(resolved_at), body.get("last_member_resolved_at"),
            [str(m) for m in body["metrics"]],
            [Driver(str(m), float(s), float(o), float(e)) for m, s, o, e in body["drivers"]],
            [str(a) for a in body["alert_ids"]], dict(body["details"]),
            [str(a) for a in body.get("open_alert_ids", [])], [str(f) for f in body.get("families", [])],
            [str(d) for d in body.get("driver_history", [])],
        )


@dataclass(frozen=True, slots=True)
class IncidentTransition:
    """What an ingest or tick did to an incident: ``opened``, ``escalated`` or ``resolved``."""

    kind: str
    incident: Incident  # a copy, safe to hand to other threads
