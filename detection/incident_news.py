"""What people have not been told yet about an incident: the rule the outbox and the reconcile share.

People are told when an incident opens, when it escalates (its severity rises
above anything they were told, or a driver they were not told of appears) and
when it resolves. Each of those is one outbox row keyed by (incident, kind,
revision); the revision of an escalation is the state it announces, so the
same state is never announced twice, however often a restart reconciles.
"""

from __future__ import annotations

from collections.abc import Sequence

from .incidents import ESCALATED, OPENED, RESOLVED_TRANSITION, Incident, severity_rank

NO_REVISION = ""  # an incident opens and resolves once: its opening and its resolution need no revision


def revision(kind: str, incident: Incident) -> str:
    """The outbox key's third part: for an escalation, the severity and drivers it announces."""
    if kind != ESCALATED:
        return NO_REVISION
    return f"{incident.severity}|{','.join(sorted(d.metric for d in incident.drivers))}"


def is_news(incident: Incident, told: Sequence[Incident]) -> bool:
    """True when the incident is worse than anything told: a higher severity or a driver never named."""
    if not told:
        return True
    if severity_rank(incident.severity) > max(severity_rank(t.severity) for t in told):
        return True
    named = {d.metric for t in told for d in t.drivers}
    return any(d.metric not in named for d in incident.drivers)


def untold(incident: Incident, told: Sequence[tuple[str, Incident]]) -> list[str]:
    """The transitions the store implies that the outbox lacks, oldest first.

    ``told`` is the outbox's (kind, incident as announced) rows for this incident. An incident that opened
    and resolved while nobody was listening gets both messages; an escalation is only added while the
    incident is open (its resolution tells the final state anyway).
    """
    kinds = {kind for kind, _ in told}
    missing = []
    if OPENED not in kinds:
        missing.append(OPENED)
    elif incident.is_open and is_news(incident, [i for k, i in told if k in (OPENED, ESCALATED)]):
        missing.append(ESCALATED)
    if not incident.is_open and RESOLVED_TRANSITION not in kinds:
        missing.append(RESOLVED_TRANSITION)
    return missing
