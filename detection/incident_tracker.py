"""Groups firing alerts into incidents, follows their lifecycle and names them from the counts.

The ``IncidentTracker`` is fed, once per ingest or tick, with the alert
transitions of that call, the alerts it touched, a read-only view of the minute
counts and the newest event minute. It answers with the incidents that changed
and their ``IncidentTransition``s (opened, escalated, resolved).

Families (which alerts belong together), by the alert's metric:

=========  ===============================================================  ==============================
family     metrics                                                          natural kind
=========  ===============================================================  ==============================
feed       ``feed:*`` (rules ``feed_gap``, ``no_data``)                     feed_outage
denial     ``status:denied``, ``rate:denied``, decline codes (not ``00``)   denial_spike
failure    ``status:failed``, ``status:backend_reversed`` (and their rates)  processing_failure
reversal   ``status:reversed``, ``status:refunded`` (and their rates)       reversal_burst
approval   ``status:approved``, ``auth_code:00``, ``rate:approved``         approval_drop
other      anything else (a status the defaults do not know)                other
=========  ===============================================================  ==============================

Joining, in this order, for an alert that fires (a pending breach that clears
never opens or joins anything):

- an approval alert joins an open denial or failure incident (the dip that goes
  with it), else an open incident of its own family;
- a reversal alert joins an open reversal incident, else an open denial incident;
- a denial or failure alert joins an open incident of its family, else an open
  approval-only incident that started at most ``JOIN_MINUTES`` before it (the
  drop turned out to have a cause);
- any other alert joins an open incident of its family;
- otherwise it opens a new incident.

A slice's alert (``status:denied@acquirer=acq-07``) joins by the same rules: one event moves one acquirer,
its merchants, brands and regions together, and is one page. An incident opened by a slice is described
from that slice's counts ("Denial spike at acquirer acq-07") while only slices' alerts are in it; once a
global alert joins, it is the platform's incident, described from the global counts, its contributions
naming the slices that carry it.

"Open" includes the quiet period: an incident resolves only when every member
has resolved and ``QUIET_MINUTES`` event-time minutes passed with no new member,
so a flapping member rejoins the incident it left. ``resolved_at`` is the end of
the quiet period, so a replay and a live feed resolve at the same minute.

Kind and drivers come from the counts over the incident's minutes (its start to
the last minute any member's breaches show was off, open or resolved: a breach
judged over the newest w minutes at minute m shows m - w + 1, so minutes where a
long window only drains or a member resolves are left out; at most
``MAX_SPAN_MINUTES``): the excess (or shortfall) of each status and auth code
over what is normal for those minutes (``incident_normal.NormalCounts``: a count
rule's ratio to approvals at the approvals seen, or at their normal for the minute
when fewer were seen; else the rule's profile or the hour before the incident).
The group (denials, failures, reversals) with the largest excess names the kind;
backend reversals with no excess of failed transactions are a reversal burst, not
a processing failure. A code or status is a driver when it carries at least
``MIN_DRIVER_SHARE`` of its group's excess and its own excess is beyond chance.
With no group in excess, approvals well below normal are an approval drop, and
approvals stopped while the other statuses go on a partial outage.
"""

from __future__ import annotations

import hashlib
import math
import operator
from collections.abc import Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Any

from .alerts import FIRING, RESOLVED, Alert, Transition
from .contributions import FALLING, contributions
from .incident_normal import BASELINE_MINUTES, NormalCounts, knowing_rules, received_between
from .incidents import (
    APPROVAL_DROP,
    DENIAL_SPIKE,
    ESCALATED,
    FEED_OUTAGE,
    OPEN,
    OPENED,
    OTHER,
    PARTIAL_OUTAGE,
    PROCESSING_FAILURE,
    RESOLVED_TRANSITION,
    REVERSAL_BURST,
    Driver,
    Incident,
    IncidentTransition,
    MemberEntry,
    severity_rank,
)
from .incidents import RESOLVED as INCIDENT_RESOLVED
from .metrics import (
    AUTH_CODE_FEED,
    RATE_PREFIX,
    STATUS_FEED,
    auth_code_metric,
    feed_of,
    metric_label,
    minute_to_datetime,
    minute_to_iso,
    split_metric,
    status_metric,
)
from .rules import Rule
from .series import MinuteSeries
from .slice_series import SliceSeries
from .slices import SLICE_SEPARATOR, slice_dimension, slice_words, split_slice

# Event-time minutes with every member resolved before the incident resolves; the thresholds file's
# "incidents": {"quiet_minutes": N} sets it (Thresholds.incident_quiet_minutes).
QUIET_MINUTES = 5
JOIN_MINUTES = 5  # a denial/failure alert this close after an approval-only incident's start explains it
MAX_SPAN_MINUTES = 24 * 60  # drivers are computed over at most the newest day of an incident
# While open, an incident is described again every minute: over its newest hour only, so a long outage does
# not cost a day of minutes on every request (and the description is reused while nothing it reads changed:
# see _Described). Once resolved it is described once more over MAX_SPAN_MINUTES.
OPEN_SPAN_MINUTES = 60
MAX_MEMBERS = 100  # member alerts listed per incident; later ones still carry its incident_id
MIN_DRIVER_SHARE = 0.1
CONTRIBUTORS = 3  # slices named per dimension in an incident's contributions
LEAD_SLICE_SHARE = 0.5  # a slice carrying this share of its dimension's excess is the event's: it joins
STANDS_APART = 3.0  # a slice rising this many times as steeply as its whole dimension is an event of its own
LEAD_SHARE = 0.3  # a dimension's top slice is named in the summary when it carries at least this share
DRIVER_NOISE_SD = 2.0  # a driver's excess is beyond this many Poisson standard deviations of its expectation
STOPPED_SHARE = 0.1  # approvals at or below this share of normal have stopped (a partial outage)

FEED, DENIAL, FAILURE, REVERSAL, APPROVAL, OTHER_FAMILY = "feed", "denial", "failure", "reversal", "approval", "other"
# The order transitions of the same minute are taken in: upper-bound families first, so a batch
# replay meets them in the order a live feed does (a count fires while its minute is open, an
# approval drop only once the minute closed).
FAMILY_ORDER = (FEED, DENIAL, FAILURE, REVERSAL, APPROVAL, OTHER_FAMILY)
NATURAL_KIND = {FEED: FEED_OUTAGE, DENIAL: DENIAL_SPIKE, FAILURE: PROCESSING_FAILURE, REVERSAL: REVERSAL_BURST,
                APPROVAL: APPROVAL_DROP, OTHER_FAMILY: OTHER}
APPROVED_CODE = "00"
GROUP_STATUSES = {DENIAL: ("denied",), FAILURE: ("failed", "backend_reversed"), REVERSAL: ("reversed", "refunded")}
GROUP_WORDS = {DENIAL: "Denials", FAILURE: "Failures", REVERSAL: "Reversals and refunds"}
KIND_OF_GROUP = {DENIAL: DENIAL_SPIKE, FAILURE: PROCESSING_FAILURE, REVERSAL: REVERSAL_BURST}


def family_of(alert: Alert) -> str:
    kind, key = split_metric(split_slice(alert.metric)[0])  # a slice's alert is of its metric's family
    if kind == "feed":
        return FEED
    if kind == AUTH_CODE_FEED:
        return APPROVAL if key == APPROVED_CODE else DENIAL
    if kind in (STATUS_FEED, RATE_PREFIX[:-1]):
        for family, statuses in GROUP_STATUSES.items():
            if key in statuses:
                return family
        if key == "approved":
            return APPROVAL
    return OTHER_FAMILY


def incident_id(first_member_id: str) -> str:
    """Deterministic (like ``alert_id``): from the alert that opened it, so replay and live give the same id.

    An alert opens at most one incident, so two incidents never share an id.
    """
    digest = hashlib.sha1(f"incident|{first_member_id}".encode()).hexdigest()
    return f"i{digest[:15]}"


@dataclass
class IncidentChanges:
    """What one ``observe`` call did: the incidents to store (copies) and their transitions."""

    incidents: list[Incident] = field(default_factory=list)
    transitions: list[IncidentTransition] = field(default_factory=list)


@dataclass
class _Figures:
    """Counts over an incident's minutes: per metric (observed, expected), and the feeds' silent minutes."""

    first: int
    last: int
    observed: dict[str, float]
    expected: dict[str, float]
    silent: dict[str, int]
    stopped: int = 0  # minutes with approvals at most STOPPED_SHARE of their expectation
    others_when_stopped: tuple[float, float] = (0.0, 0.0)  # other statuses in those minutes: observed, expected

    def excess(self, metric: str) -> float:
        return self.observed.get(metric, 0.0) - self.expected.get(metric, 0.0)

    def per_minute(self, metric: str) -> tuple[float, float]:
        minutes = self.last - self.first + 1
        return self.observed.get(metric, 0.0) / minutes, self.expected.get(metric, 0.0) / minutes


@dataclass(frozen=True, slots=True)
class _Described:
    """What an open incident's description (kind, drivers, title, summary, span, figures) was computed from.

    It is a function of these inputs and of the counts of minutes ``low..high`` (and of the rules'
    ``expected``, which come from the thresholds file): while none of them changed, describing the
    incident again would give the same, field for field.
    """

    inputs: tuple[Any, ...]
    low: int  # the oldest minute whose counts it read: the hour before the incident
    high: int  # the newest: its last minute
    oldest: int | None  # the series' oldest minute held then: a prune may since have dropped counts it read

    def still_holds(self, inputs: tuple[Any, ...], oldest: int | None) -> bool:
        return inputs == self.inputs and _unpruned(self.oldest, oldest, self.low)


def _unpruned(then: int | None, now: int | None, low: int) -> bool:
    """True when the series' oldest minute moving from ``then`` to ``now`` (a prune) left every minute
    from ``low`` on as it was."""
    if now == then:
        return True
    return now is not None and then is not None and max(now, then) <= low


class IncidentTracker:
    """Owned by the Monitor and called under its lock; single-threaded like a rule."""

    def __init__(self, rules: Sequence[Rule], statuses: Sequence[str], auth_codes: Sequence[str],
                 quiet_minutes: int = QUIET_MINUTES, dimensions: Sequence[str] = ()):
        self.quiet_minutes = quiet_minutes
        # The dimensions (and pairs) slices are kept for, and their counts (the Monitor's, read under its
        # lock): every incident names the slices that carry its excess (detection/contributions.py).
        self.dimensions = tuple(dimensions)
        self.slices: SliceSeries | None = None
        self._statuses = tuple(statuses)
        self._status_metrics = tuple(status_metric(s) for s in statuses)
        self._code_metrics = tuple(auth_code_metric(c) for c in auth_codes)
        self._feed_metrics: dict[str, Sequence[str]] = {STATUS_FEED: self._status_metrics, AUTH_CODE_FEED: self._code_metrics}
        self._decline_codes = tuple(auth_code_metric(c) for c in auth_codes if c != APPROVED_CODE)
        # A count rule that knows what normal is for its metric (poisson_tail, seasonal); rates and
        # drops do not say it as a count.
        self._expecting = knowing_rules([rule for rule in rules if not rule.by])
        self._rules = {rule.id: rule for rule in rules}
        # The statistics a member entry repeats from its rule's configuration (fixed for the tracker's life).
        self._member_params = {rule.id: _member_params(rule) for rule in rules}
        # Rules judged while their minute is open fire before the closed-minute rules of that minute.
        self._open_judged = frozenset(rule.id for rule in rules if rule.monotone)
        self._open: dict[str, Incident] = {}
        self._computed: dict[str, int] = {}  # incident id -> the newest minute its figures include
        # member alert id -> (its last breach, the last minute its breaches show was off): judged again
        # only when the member breached anew; dropped when its incident resolves.
        self._evidence: dict[str, tuple[int, int]] = {}
        # incident id -> what its current description was computed from: reused while none of it changed.
        self._described: dict[str, _Described] = {}
        # incident id -> (its member entries, its start, their newest evidence): see _last_evidence.
        self._last_ends: dict[str, tuple[tuple[Mapping[str, Any], ...], int, int]] = {}
        # incident id -> its yardstick (NormalCounts): the hour-before means and the scaled reference
        # counts of its minutes, kept while those counts are unchanged.
        self._normals: dict[str, NormalCounts] = {}
        # incident id -> the copy last handed to the store: an open incident is written only when it differs.
        self._stored: dict[str, Incident] = {}

    # ------------------------------------------------------------- state
    def restore(self, incidents: Iterable[Incident], open_alerts: Iterable[Alert]) -> None:
        """Continue the open incidents read back from the store (after a restart or a reload).

        A member listed as open that is no longer an open alert resolved while nobody watched.
        """
        still_open = {a.id for a in open_alerts if a.is_open}
        self._open = {}
        for incident in incidents:
            if not incident.is_open:
                continue
            incident.open_alert_ids = [i for i in incident.open_alert_ids if i in still_open]
            if not incident.open_alert_ids and incident.last_member_resolved_at is None:
                # Its members closed while the process was down: the quiet period starts after the last breach.
                ends = [m["last_breach_minute"] for m in incident.details.get("members", [])]
                incident.last_member_resolved_at = max(ends, default=incident.started_at) + 1
            self._open[incident.id] = incident
        self._computed = {}
        self._evidence = {}
        self._described = {}
        self._last_ends = {}
        self._normals = {}
        self._stored = {}

    def open_incidents(self) -> list[Incident]:
        return [i.copy() for i in sorted(self._open.values(), key=lambda i: (-i.started_at, i.id))]

    # ------------------------------------------------------------- feeding
    def observe(self, transitions: Sequence[Transition], touched: Mapping[str, Alert], series: MinuteSeries,
                now_minute: int | None, counted: Iterable[tuple[str, int]] | None = None) -> IncidentChanges:
        """Take one call's alert transitions (any order) and the alerts it touched (live objects).

        ``counted`` is the (feed, minute) cells whose counts this call changed in ``series``; None means
        not known, and every description is then computed afresh (nothing kept from earlier calls is
        used). An incident opened and resolved in the same call (a replayed batch) gets both transitions,
        each carrying the final copy.
        """
        if not transitions and not self._open:
            return IncidentChanges()  # the common case, on every posted record: nothing to do
        self._forget_counts(counted)
        changed: dict[str, Incident] = {}
        events: dict[str, list[str]] = {}
        severities = {i.id: i.severity for i in self._open.values()}

        copies: dict[str, list[Alert]] = {}
        for transition in transitions:
            copies.setdefault(transition.alert.id, []).append(transition.alert)
        for transition in sorted((t for t in transitions if t.kind in (FIRING, RESOLVED)),
                                 key=lambda t: _order(t, self._open_judged)):
            alert = transition.alert
            self._expire(_event_minute(transition), changed, events)
            if transition.kind == FIRING:
                incident = self._place(alert, changed, events)
                live = touched.get(alert.id)
                if live is not None:
                    live.incident_id = incident.id
                for handed in copies.get(alert.id, ()):  # the copies handed to listeners say it too
                    handed.incident_id = incident.id
            else:
                self._member_resolved(alert, changed)
        # Newer breaches of members, and members resolved without a transition (an orphan closed on load).
        for alert in touched.values():
            member_of = self._open.get(alert.incident_id or "")
            if member_of is None:
                continue
            self._note_member(member_of, alert)
            if not alert.is_open and alert.id in member_of.open_alert_ids:
                self._member_resolved(alert, changed)
        if now_minute is not None:
            self._expire(now_minute, changed, events)

        # Figures change as minutes pass: open incidents are described again once per new minute.
        for incident in self._open.values():
            if now_minute is not None and (incident.id in changed or self._computed.get(incident.id) != now_minute):
                changed[incident.id] = incident
        for incident in changed.values():
            if now_minute is not None or not incident.is_open:
                self._describe(incident, series)
            if incident.is_open:
                self._computed[incident.id] = now_minute if now_minute is not None else incident.started_at
            else:
                self._computed.pop(incident.id, None)
            kinds = events.get(incident.id, [])
            if incident.is_open and OPENED not in kinds:
                rose = severity_rank(incident.severity) > severity_rank(severities.get(incident.id, incident.severity))
                new_driver = any(d.metric not in incident.driver_history for d in incident.drivers)
                if rose or new_driver:
                    events.setdefault(incident.id, []).append(ESCALATED)
            for driver in incident.drivers:
                if driver.metric not in incident.driver_history:
                    incident.driver_history.append(driver.metric)

        out = IncidentChanges()
        for incident in changed.values():
            # Re-described every minute, an open incident mostly reads as it did: its row is written (and
            # copied for the store) only when something stored in it changed, or for a transition.
            if incident.id in events or self._stored.get(incident.id) != incident:
                stored = incident.copy()
                out.incidents.append(stored)
                if incident.is_open:
                    self._stored[incident.id] = stored
            if not incident.is_open:
                self._stored.pop(incident.id, None)
        for iid, kinds in events.items():
            copy = changed[iid].copy()
            out.transitions += [IncidentTransition(kind, copy) for kind in kinds]
        return out

    def _place(self, alert: Alert, changed: dict[str, Incident], events: dict[str, list[str]]) -> Incident:
        """Join the alert to the incident it belongs to, or open one."""
        family = family_of(alert)
        incident = self._home(alert, family)
        if incident is None:
            incident = Incident(
                id=incident_id(alert.id), kind=NATURAL_KIND[family], state=OPEN,
                severity=alert.severity, started_at=alert.started_at,
            )
            incident.details["family"] = family
            key = split_slice(alert.metric)[1]
            if key:  # opened by a slice: described and titled as that slice's, while only slices are in it
                incident.details["slice"] = key
            self._open[incident.id] = incident
            events.setdefault(incident.id, []).append(OPENED)
        elif family not in incident.families and incident.families == [APPROVAL] and family in (DENIAL, FAILURE):
            incident.details["family"] = family  # the drop turned out to have a cause
        if family not in incident.families:
            incident.families.append(family)
        key = split_slice(alert.metric)[1]
        if key:
            slices = incident.details.setdefault("slices", [])
            if key not in slices and len(slices) < MAX_MEMBERS:
                slices.append(key)
        elif incident.details.pop("slice", None) is not None:
            # The global series moved too: the platform's incident, described from the global counts, whose
            # contributions name the slices carrying it.
            incident.details["first_slice"] = incident.details.get("slices", [""])[0]
        if severity_rank(alert.severity) > severity_rank(incident.severity):
            incident.severity = alert.severity
        incident.started_at = min(incident.started_at, alert.started_at)
        if alert.id not in incident.open_alert_ids:
            incident.open_alert_ids.append(alert.id)
        incident.last_member_resolved_at = None
        if alert.metric not in incident.metrics:
            incident.metrics.append(alert.metric)
        if alert.id not in incident.alert_ids:
            if len(incident.alert_ids) < MAX_MEMBERS:
                incident.alert_ids.append(alert.id)
            else:
                incident.details["members_not_listed"] = incident.details.get("members_not_listed", 0) + 1
        self._note_member(incident, alert)
        changed[incident.id] = incident
        return incident

    def _home(self, alert: Alert, family: str) -> Incident | None:
        """The open incident this alert joins, or None (newest first among candidates)."""
        candidates = sorted(self._open.values(), key=lambda i: (-i.started_at, i.id))

        def first(families: tuple[str, ...], only_approval: bool = False) -> Incident | None:
            for incident in candidates:
                if only_approval:
                    if (incident.families == [APPROVAL] and alert.started_at - incident.started_at <= JOIN_MINUTES
                            and self._belongs(alert, incident)):
                        return incident
                elif incident.details.get("family") in families and self._belongs(alert, incident):
                    return incident
            return None

        if family == APPROVAL:
            return first((DENIAL, FAILURE)) or first((APPROVAL,))
        if family == REVERSAL:
            return first((REVERSAL,)) or first((DENIAL,))
        if family in (DENIAL, FAILURE):
            return first((family,)) or first((), only_approval=True)
        return first((family,))

    def _belongs(self, alert: Alert, incident: Incident) -> bool:
        """Whether a slice's alert of the incident's family is a symptom of the same event.

        Alerts of one family that start close together are one event (a denial spike moves acquirers,
        brands, regions and merchants together: one page), unless the slice stands apart: it carries less
        than half of the excess of its dimension over the incident's minutes and rises more than
        STANDS_APART times as steeply as its dimension as a whole (one merchant failing hard while the
        platform wobbles is its own incident). A global alert joins a slice's incident only when that slice
        carries at least half of the global excess (the slice was seen first); platform incidents as always.
        """
        metric, key = split_slice(alert.metric)
        own_slice = incident.details.get("slice")
        if (not key and not own_slice) or key in incident.details.get("slices", ()) or self.slices is None:
            return True
        if split_metric(metric)[0] not in (STATUS_FEED, AUTH_CODE_FEED):
            return True
        first, last = incident.started_at, max(_event_minute(Transition(FIRING, alert)), incident.started_at)
        judged = str(key or own_slice)
        rows = contributions(self.slices, metric, slice_dimension(judged), first, last, self._feed_metrics)
        mine = next((c for c in rows if c.key == judged), None)
        if not key:  # the platform's alert joins a slice's incident only when that slice carries it
            return mine is not None and mine.share >= LEAD_SLICE_SHARE
        if mine is None or mine.share >= LEAD_SLICE_SHARE:
            return True
        observed, expected = sum(c.observed for c in rows), sum(c.expected for c in rows)
        whole = observed / expected if expected > 0 else 1.0
        own = mine.observed / mine.expected if mine.expected > 0 else float("inf")
        return own <= STANDS_APART * max(whole, 1.0)

    def _note_member(self, incident: Incident, alert: Alert) -> None:
        """Keep the member's statistics in ``details`` (the rule, its window, its worst value).

        An entry is replaced, never changed in place: ``Incident.copy`` shares the entries with the
        copies handed to the store and the listeners."""
        members: list[dict[str, Any]] = incident.details.setdefault("members", [])
        index = next((i for i, m in enumerate(members) if m["alert_id"] == alert.id), None)
        if index is None and len(members) >= MAX_MEMBERS:
            return
        rule = self._rules.get(alert.rule)
        params = self._member_params.get(alert.rule, {})
        # Keys in the order the entry has always had (the stored JSON reads the same): the id first.
        fields: dict[str, Any] = {} if index is None else dict(members[index])
        fields.update({
            "alert_id": alert.id,
            "rule": alert.rule, "rule_type": alert.rule_type, "metric": alert.metric, "severity": alert.severity,
            # Epoch minutes (the tracker reads them back); the API's times are the alerts' own.
            "started_minute": alert.started_at, "resolved_minute": alert.resolved_at,
            "last_breach_minute": alert.last_breach_at if alert.last_breach_at is not None else alert.started_at,
            "value": alert.value, "threshold": alert.threshold, "expected": alert.expected,
            **params,
            "for_minutes": rule.for_minutes if rule is not None else None,
        })
        if alert.detail:
            fields["detail"] = alert.detail
        if index is None:
            members.append(MemberEntry(fields))
        elif fields != members[index]:
            members[index] = MemberEntry(fields)

    def _member_resolved(self, alert: Alert, changed: dict[str, Incident]) -> None:
        incident = self._open.get(alert.incident_id or "")
        if incident is None or alert.id not in incident.open_alert_ids:
            return
        incident.open_alert_ids.remove(alert.id)
        self._note_member(incident, alert)
        ended = alert.resolved_at if alert.resolved_at is not None else alert.started_at
        if not incident.open_alert_ids:
            incident.last_member_resolved_at = max(ended, incident.last_member_resolved_at or ended)
        changed[incident.id] = incident

    def _expire(self, minute: int, changed: dict[str, Incident], events: dict[str, list[str]]) -> None:
        """Resolve the incidents whose quiet period ended by ``minute``."""
        for incident in list(self._open.values()):
            quiet_from = incident.last_member_resolved_at
            if incident.open_alert_ids or quiet_from is None or quiet_from + self.quiet_minutes > minute:
                continue
            incident.state = INCIDENT_RESOLVED
            incident.resolved_at = quiet_from + self.quiet_minutes
            del self._open[incident.id]
            changed[incident.id] = incident
            events.setdefault(incident.id, []).append(RESOLVED_TRANSITION)

    # ------------------------------------------------------------- naming
    def _describe(self, incident: Incident, series: MinuteSeries) -> None:
        """Kind, drivers, title and summary from the counts over the incident's minutes."""
        # The problem's minutes, not the minutes its members' windows took to drain or its members to
        # resolve: a halving of 10 minutes seen by a 15-minute window must read "down 50%", not 32%.
        last = self._last_evidence(incident, series)
        span = OPEN_SPAN_MINUTES if incident.is_open else MAX_SPAN_MINUTES
        first = max(incident.started_at, last - span + 1)
        # Everything the words and figures below are made of besides the counts (kept in ``_Described``).
        inputs = (first, last, incident.started_at, incident.state, incident.resolved_at, tuple(incident.families),
                  incident.details.get("family", OTHER_FAMILY), tuple(incident.metrics),
                  tuple(bool(series.received_of(feed)) for feed in (STATUS_FEED, AUTH_CODE_FEED)))
        known = self._described.pop(incident.id, None)
        if known is not None and known.still_holds(inputs, series.oldest_minute()):
            self._described[incident.id] = known
            return  # the incident still carries the description these inputs give
        if incident.details.get("slice"):
            self._describe_slice(incident, incident.details["slice"], first, last)
            if incident.is_open:
                self._described[incident.id] = _Described(inputs, incident.started_at - BASELINE_MINUTES, last,
                                                          series.oldest_minute())
            return
        figures = self._figures(series, first, last, self._normal(incident, series))
        family = incident.details.get("family", OTHER_FAMILY)
        kind = self._kind(figures, incident.families, family)
        incident.kind = kind
        incident.drivers = self._drivers(kind, figures, incident.families)
        incident.title, incident.summary = _words(incident, kind, figures, self._status_metrics,
                                                  self._reversal_metrics(incident.families))
        incident.details["span"] = {"from": minute_to_iso(first), "to": minute_to_iso(last), "minutes": last - first + 1}
        incident.details["figures"] = {
            m: {"observed": round(figures.observed[m], 2), "expected": round(figures.expected[m], 2)}
            for m in (*self._status_metrics, *self._code_metrics)
        }
        self._contributions(incident, kind, first, last)
        if incident.is_open:
            # The counts read: the hour before the incident (NormalCounts.before) to its last minute.
            self._described[incident.id] = _Described(inputs, incident.started_at - BASELINE_MINUTES, last,
                                                      series.oldest_minute())

    def _main_metric(self, incident: Incident, kind: str) -> str | None:
        """The count whose excess (or, for approvals, shortfall) contributions are measured on."""
        if kind == FEED_OUTAGE:
            return None
        for driver in incident.drivers:
            if not driver.metric.startswith("feed:"):
                return split_slice(driver.metric)[0]
        wanted = {DENIAL_SPIKE: "denied", PROCESSING_FAILURE: "failed", REVERSAL_BURST: "backend_reversed",
                  APPROVAL_DROP: "approved", PARTIAL_OUTAGE: "approved"}.get(kind)
        if wanted is not None and wanted in self._statuses:
            return status_metric(wanted)
        counted = [split_slice(m)[0] for m in incident.metrics if m.split(":")[0] in (STATUS_FEED, AUTH_CODE_FEED)]
        return counted[0] if counted else None

    def _contributions(self, incident: Incident, kind: str, first: int, last: int) -> None:
        """``details["contributions"]``: per dimension, the slices carrying most of the excess (top
        CONTRIBUTORS), and the summary names the leading ones ("acquirer acq-07: 81% of the extra denials")."""
        metric = self._main_metric(incident, kind)
        if self.slices is None or not self.dimensions or metric is None or not self.slices.series_count:
            incident.details.pop("contributions", None)
            return
        out: dict[str, list[dict[str, Any]]] = {}
        leaders: list[tuple[int, int, str]] = []
        for group in self.dimensions:
            rows = [c for c in contributions(self.slices, metric, group, first, last, self._feed_metrics)
                    if c.excess > 0][:CONTRIBUTORS]
            if not rows:
                continue
            out[group] = [{**c.to_dict(), "metric": metric} for c in rows]
            if "," not in group and rows[0].share >= LEAD_SHARE:
                # The larger share first; at an equal share the finer dimension (more values) says more.
                leaders.append((-round(rows[0].share * 100), -len(self.slices.keys(group)),
                                f"{slice_words(rows[0].key)}: {rows[0].share * 100:.0f}%"))
        incident.details["contributions"] = out
        if leaders:
            leaders.sort()
            what = "shortfall of" if metric in FALLING else "extra"
            texts = [text for _share, _values, text in leaders[:2]]
            texts[0] += f" of the {what} {_driver_name(metric)}"
            incident.summary += "; " + ", ".join(texts)

    def _describe_slice(self, incident: Incident, key: str, first: int, last: int) -> None:
        """A slice's incident, from the slice's own counts: 'Denial spike at acquirer acq-07'."""
        family = incident.details.get("family", OTHER_FAMILY)
        kind = NATURAL_KIND.get(family, OTHER)
        group = slice_dimension(key)
        metrics = [split_slice(m)[0] for m in incident.metrics]
        if family in GROUP_STATUSES:
            metrics += [status_metric(st) for st in GROUP_STATUSES[family] if st in self._statuses]
        elif family == APPROVAL and "approved" in self._statuses:
            metrics.append(status_metric("approved"))
        metrics = list(dict.fromkeys(metrics))
        figures: dict[str, Any] = {}
        drivers: list[Driver] = []
        shares: dict[str, float] = {}
        computed: dict[str, list[Any]] = {}
        for metric in metrics:
            rows = computed[metric] = (contributions(self.slices, metric, group, first, last, self._feed_metrics)
                                       if self.slices else [])
            mine = next((c for c in rows if c.key == key), None)
            if mine is None:
                continue
            figures[metric] = {"observed": round(mine.observed, 2), "expected": round(mine.expected, 2)}
            shares[metric] = mine.share
            if mine.excess > 0:
                drivers.append(Driver(metric, 0.0, mine.observed, mine.expected))
        failed = status_metric("failed")
        if kind == PROCESSING_FAILURE and not any(d.metric == failed for d in drivers):
            kind = REVERSAL_BURST  # backend reversals with no failed transactions in excess (as for the platform)
        incident.kind = kind
        total = sum(d.observed - d.expected for d in drivers)
        incident.drivers = sorted((Driver(d.metric, (d.observed - d.expected) / total, d.observed, d.expected)
                                   for d in drivers if total > 0), key=lambda d: (-d.share, d.metric))
        where = slice_words(key)
        head = {DENIAL_SPIKE: "Denial spike", PROCESSING_FAILURE: "Processing failure",
                REVERSAL_BURST: "Reversal burst", APPROVAL_DROP: "Approvals down"}.get(kind, "Unusual counts")
        incident.title = f"{head} at {where}"
        minutes = last - first + 1
        main = incident.drivers[0].metric if incident.drivers else (metrics[0] if metrics else None)
        if main is not None and main in figures:
            obs, exp = figures[main]["observed"] / minutes, figures[main]["expected"] / minutes
            ratio = f" ({obs / exp:.0f}x)" if exp > 0 and obs / exp >= 2 else ""
            name = _driver_name(main)
            incident.summary = (f"{name[:1].upper() + name[1:]} at {where} {_num(obs)}/min against about {_num(exp)} "
                                f"normally{ratio}, {_when(incident)}")
            share = shares.get(main, 0.0)
            if share > 0:
                incident.summary += f"; {share * 100:.0f}% of the extra {name} across {group.replace(',', ' x ')}s"
        else:
            incident.summary = f"Alerts at {where}, {_when(incident)}"
        others = [slice_words(k) for k in incident.details.get("slices", []) if k != key]
        if others:
            incident.summary += f"; also at {', '.join(others[:3])}" + (f" and {len(others) - 3} more" if len(others) > 3 else "")
        incident.details["span"] = {"from": minute_to_iso(first), "to": minute_to_iso(last), "minutes": minutes}
        incident.details["figures"] = figures
        if main is not None and self.slices is not None:
            rows = [c for c in computed.get(main) or contributions(self.slices, main, group, first, last,
                                                                   self._feed_metrics) if c.excess > 0]
            incident.details["contributions"] = {group: [{**c.to_dict(), "metric": main} for c in rows[:CONTRIBUTORS]]}

    def _last_evidence(self, incident: Incident, series: MinuteSeries) -> int:
        """The newest minute any member's breaches show was off (the incident's start at the earliest).

        Member entries are replaced, never changed, and each one's evidence is kept: while an open
        incident lists the very same entries, the answer is the one found last time."""
        members = incident.details.get("members", [])
        known = self._last_ends.get(incident.id)
        if (incident.is_open and known is not None and known[1] == incident.started_at
                and len(known[0]) == len(members) and all(map(operator.is_, known[0], members))):
            return known[2]
        ends = [self._evidence_end(m, series) for m in members]
        last = max(*ends, incident.started_at)
        if incident.is_open:
            self._last_ends[incident.id] = (tuple(members), incident.started_at, last)
        else:
            self._last_ends.pop(incident.id, None)
            for member in members:
                self._evidence.pop(member["alert_id"], None)
        return last

    def _forget_counts(self, counted: Iterable[tuple[str, int]] | None) -> None:
        """Drop what was kept from counts this call changed (everything kept when that is not known)."""
        if counted is None:
            self._described.clear()
            self._last_ends.clear()
            self._normals.clear()
            return
        if not self._described and not self._normals:
            return
        minutes = {minute for _, minute in counted}
        if not minutes:
            return
        for iid, known in list(self._described.items()):
            if any(known.low <= m <= known.high for m in minutes):
                del self._described[iid]
        for iid, normal in list(self._normals.items()):
            if any(normal.reads_before(m) for m in minutes):
                del self._normals[iid]  # the hour before the incident changed: every mean it keeps
            else:
                normal.forget(minutes)

    def _evidence_end(self, member: Mapping[str, Any], series: MinuteSeries) -> int:
        """The last minute a member's breaches show was off: a breach at minute m judged over the newest w
        minutes shows a problem in m - w + 1 .. m, so the latest such m - w + 1 over its breaching minutes.
        Breaches after it only say the window still holds the problem (a 15-minute window goes on
        breaching for minutes after approvals are back). Feed gaps (no rule) end at their last silent minute."""
        last, started = member["last_breach_minute"], member.get("started_minute", member["last_breach_minute"])
        rule = self._rules.get(member.get("rule", ""))
        if rule is None:
            return last
        if SLICE_SEPARATOR in member.get("metric", ""):  # a slice's window: its breaches show m - w + 1 on
            return max(started, last - int(member.get("window", 1)) + 1)
        known = self._evidence.get(member["alert_id"])
        if known is not None and known[0] == last:
            return known[1]
        best: int | None = None
        minute = last
        # Walking back from the last breach: a breach at minute m shows at most m, so stop once m <= best.
        while minute >= started and (best is None or minute > best):
            judgement = rule.judge(series, minute)
            if judgement.breach:
                end = minute - judgement.window + 1
                best = end if best is None else max(best, end)
            minute -= 1
        # Minutes no longer held in memory (a restart) cannot be judged again: the breach itself then.
        end = last if best is None else max(best, started)
        self._evidence[member["alert_id"]] = (last, end)
        return end

    def _normal(self, incident: Incident, series: MinuteSeries) -> NormalCounts:
        """The incident's yardstick, kept while it is open and what it read is unchanged (see ``_forget_counts``)."""
        normal = self._normals.pop(incident.id, None)
        oldest = series.oldest_minute()
        if (normal is None or normal.series is not series or normal.started != incident.started_at
                or not _unpruned(normal.oldest, oldest, incident.started_at - BASELINE_MINUTES)):
            normal = NormalCounts(self._expecting, series, incident.started_at)
        if incident.is_open:
            self._normals[incident.id] = normal
        return normal

    def _figures(self, series: MinuteSeries, first: int, last: int, normal: NormalCounts) -> _Figures:
        observed: dict[str, float] = {}
        expected: dict[str, float] = {}
        silent: dict[str, int] = {}
        received = {feed: series.received_of(feed) for feed in (STATUS_FEED, AUTH_CODE_FEED)}
        seen = {feed: received_between(got, first, last) for feed, got in received.items()}
        for feed, minutes in seen.items():
            if received[feed]:
                silent[feed] = (last - first + 1) - len(minutes)
        for metric in (*self._status_metrics, *self._code_metrics):
            counts = series.counts_of(metric)
            minutes = seen[feed_of(metric)]
            observed[metric] = float(sum(counts.get(m, 0) for m in minutes))
            expected[metric] = normal.over(metric, minutes)
        figures = _Figures(first, last, observed, expected, silent)
        self._count_stopped(figures, series, seen[STATUS_FEED], normal)
        return figures

    def _count_stopped(self, figures: _Figures, series: MinuteSeries, minutes: list[int], normal: NormalCounts) -> None:
        """Minutes where approvals stopped, and what the other statuses did meanwhile (a partial outage)."""
        approved = status_metric("approved")
        if approved not in self._status_metrics or not minutes:
            return
        per_minute = {m: normal.at(approved, m) for m in minutes}
        counts = series.counts_of(approved)
        stopped = [m for m in minutes if per_minute[m] > 0 and counts.get(m, 0) <= STOPPED_SHARE * per_minute[m]]
        others = [m for m in self._status_metrics if m != approved]
        observed = sum(series.counts_of(o).get(m, 0) for o in others for m in stopped)
        expected = sum(normal.over(o, stopped) for o in others)
        figures.stopped = len(stopped)
        figures.others_when_stopped = (float(observed), expected)

    def _group(self, figures: _Figures, group: str) -> tuple[float, float]:
        metrics = [status_metric(s) for s in GROUP_STATUSES[group] if s in self._statuses]
        return (sum(figures.observed.get(m, 0.0) for m in metrics), sum(figures.expected.get(m, 0.0) for m in metrics))

    def _kind(self, figures: _Figures, families: list[str], family: str) -> str:
        if families == [FEED]:
            return FEED_OUTAGE
        approved = status_metric("approved")
        a_obs, a_exp = figures.observed.get(approved, 0.0), figures.expected.get(approved, 0.0)
        others_obs, others_exp = figures.others_when_stopped
        # Approvals stopped for most of the incident while the rest went on: windows make members
        # breach a few minutes past the end, so "most", not "all".
        minutes = figures.last - figures.first + 1
        if (figures.stopped >= max(2, minutes / 2) and a_exp >= 10 * minutes * STOPPED_SHARE
                and others_obs > 0 and others_obs >= 0.25 * others_exp):
            return PARTIAL_OUTAGE
        best, best_score = None, 0.0
        # Only the groups the incident has symptoms of: failures during a denial spike are another incident.
        for group in (g for g in GROUP_STATUSES if g in families):
            obs, exp = self._group(figures, group)
            excess = obs - exp
            if excess >= _notable(exp):
                score = excess / math.sqrt(exp + 1.0)
                if score > best_score:
                    best, best_score = group, score
        if best == FAILURE and not self._failures_notable(figures):
            # Backend reversals with no failed transactions carrying any of the excess: a reversal
            # burst (DATA.md), not a processing failure, though its alerts are of the failure family.
            return REVERSAL_BURST
        if best is not None:
            return KIND_OF_GROUP[best]
        if a_exp > 0 and a_exp - a_obs >= _notable(a_exp) and a_obs <= 0.75 * a_exp:
            return APPROVAL_DROP
        return NATURAL_KIND.get(family, OTHER)

    def _failures_notable(self, figures: _Figures) -> bool:
        failed = status_metric("failed")
        return failed in self._status_metrics and figures.excess(failed) >= _notable(figures.expected[failed])

    def _reversal_metrics(self, families: Sequence[str]) -> list[str]:
        """The reversal statuses of the families the incident has symptoms of: backend reversals (failure
        family) and/or reversals and refunds (reversal family)."""
        groups = [g for g in (FAILURE, REVERSAL) if g in families] or [REVERSAL]
        return [status_metric(s) for g in groups for s in GROUP_STATUSES[g] if s != "failed" and s in self._statuses]

    def _drivers(self, kind: str, figures: _Figures, families: Sequence[str]) -> list[Driver]:
        if kind == FEED_OUTAGE:
            total = sum(figures.silent.values())
            out = [Driver(f"feed:{feed}", n / total, float(figures.last - figures.first + 1 - n),
                          float(figures.last - figures.first + 1)) for feed, n in figures.silent.items() if n and total]
        elif kind in (APPROVAL_DROP, PARTIAL_OUTAGE):
            metric = status_metric("approved")
            out = [Driver(metric, 1.0, figures.observed.get(metric, 0.0), figures.expected.get(metric, 0.0))]
        else:
            if kind == DENIAL_SPIKE:
                candidates = list(self._decline_codes)
                fallback = [status_metric("denied")]
            elif kind == PROCESSING_FAILURE:
                candidates = [status_metric(s) for s in GROUP_STATUSES[FAILURE] if s in self._statuses]
                fallback = []
            elif kind == REVERSAL_BURST:
                candidates = self._reversal_metrics(families)
                fallback = []
            else:
                candidates = [*self._status_metrics, *self._code_metrics]
                candidates = [m for m in candidates if m != status_metric("approved")]
                fallback = []
            out = _shares(candidates, figures)
            if not out and fallback:
                out = _shares(fallback, figures)
        out = [d for d in out if d.share >= MIN_DRIVER_SHARE]
        out.sort(key=lambda d: (-d.share, d.metric))
        return out


def _member_params(rule: Rule) -> dict[str, Any]:
    params = rule.params()
    return {k: params[k] for k in ("window", "p_value", "min_count") if k in params}


def _shares(metrics: Sequence[str], figures: _Figures) -> list[Driver]:
    """Each metric's share of the candidates' summed excess. A metric whose own excess is within chance
    of its expectation (under DRIVER_NOISE_SD Poisson standard deviations) is not named a driver, unless
    none is beyond it: over a minute or two of a slow drift, code 59's noise must not read as 'both codes'."""
    excess = {m: max(0.0, figures.excess(m)) for m in metrics}
    total = sum(excess.values())
    if total <= 0:
        return []
    beyond = {m for m, e in excess.items()
              if e >= max(1.0, DRIVER_NOISE_SD * math.sqrt(figures.expected.get(m, 0.0)))}
    named = beyond or {m for m, e in excess.items() if e > 0}
    return [Driver(m, e / total, figures.observed.get(m, 0.0), figures.expected.get(m, 0.0))
            for m, e in excess.items() if m in named]


def _notable(expected: float) -> float:
    """How far above (or below) its expectation a sum must be to say it moved: at least 3, a
    quarter of the expectation and 4 Poisson standard deviations (counts are noisier than Poisson)."""
    return max(3.0, 0.25 * expected, 4.0 * math.sqrt(expected))


def _order(transition: Transition, open_judged: AbstractSet[str] = frozenset()) -> tuple[int, int, int, int, int, int, str]:
    """Event minute first; within a minute, what a live feed meets first: firing before resolving,
    rules judged on the open minute before those that wait for it to close (the next minute closes it),
    upper-bound families before approvals, the status feed before the auth-code feed (payment systems
    post statuses, then codes)."""
    alert = transition.alert
    feed_rank = {STATUS_FEED: 0, AUTH_CODE_FEED: 1}.get(feed_of(alert.metric), 2)
    return (_event_minute(transition), 0 if transition.kind == FIRING else 1, 0 if alert.rule in open_judged else 1,
            FAMILY_ORDER.index(family_of(alert)), feed_rank, alert.started_at, alert.id)


def _event_minute(transition: Transition) -> int:
    alert = transition.alert
    if transition.kind == FIRING:
        return alert.fired_at if alert.fired_at is not None else alert.started_at
    return alert.resolved_at if alert.resolved_at is not None else alert.started_at


# ------------------------------------------------------------------ words
def _num(value: float) -> str:
    if value >= 10:
        return f"{value:.0f}"
    if value >= 1:
        return f"{value:.1f}".rstrip("0").rstrip(".")
    if value <= 0:
        return "0"
    return f"{value:.2g}"


def _clock(minute: int) -> str:
    return minute_to_datetime(minute).strftime("%H:%M")


def _when(incident: Incident) -> str:
    if incident.is_open or incident.resolved_at is None:
        return f"since {_clock(incident.started_at)} UTC"
    return f"from {_clock(incident.started_at)} to {_clock(incident.resolved_at)} UTC"


STATUS_WORDS = {"failed": "failed transactions", "backend_reversed": "backend reversals", "reversed": "reversals",
                "refunded": "refunds", "denied": "denials", "approved": "approvals"}


def _driver_name(metric: str) -> str:
    """'code 51 (insufficient funds)' (labels from detection/metrics.py), 'backend reversals'."""
    kind, key = split_metric(metric)
    if kind == STATUS_FEED:
        return STATUS_WORDS.get(key, key.replace("_", " "))
    return metric_label(metric).replace("auth code", "code")


def _status_words(metrics: Sequence[str]) -> str:
    """'Reversals and refunds', 'Backend reversals'."""
    names = [_driver_name(m) for m in metrics]
    text = ", ".join(names[:-1]) + (" and " if len(names) > 1 else "") + names[-1] if names else "reversals"
    return text[:1].upper() + text[1:]


def _words(incident: Incident, kind: str, figures: _Figures, status_metrics: Sequence[str],
           reversal_metrics: Sequence[str]) -> tuple[str, str]:
    """Title and summary, in an analyst's words, from the same figures as the kind and drivers
    (``reversal_metrics``: the reversal statuses a reversal burst is judged on)."""
    when = _when(incident)
    approved = status_metric("approved")
    a_obs, a_exp = figures.per_minute(approved)
    total = sum(figures.per_minute(m)[0] for m in status_metrics)
    approvals = ""
    if a_exp > 0 and abs(a_obs / a_exp - 1) >= 0.1:
        change = a_obs / a_exp - 1
        approvals = f"; approvals {'down' if change < 0 else 'up'} {abs(change) * 100:.0f}%"
    drivers = [d for d in incident.drivers if d.share >= 0.25] or incident.drivers[:1]

    if kind in (DENIAL_SPIKE, PROCESSING_FAILURE, REVERSAL_BURST):
        group = {DENIAL_SPIKE: DENIAL, PROCESSING_FAILURE: FAILURE, REVERSAL_BURST: REVERSAL}[kind]
        metrics = list(reversal_metrics) if kind == REVERSAL_BURST else [status_metric(s) for s in GROUP_STATUSES[group]]
        words = GROUP_WORDS[group] if kind != REVERSAL_BURST else _status_words(metrics)
        obs = sum(figures.per_minute(m)[0] for m in metrics)
        exp = sum(figures.per_minute(m)[1] for m in metrics)
        head = {DENIAL_SPIKE: "Denial spike", PROCESSING_FAILURE: "Processing failure",
                REVERSAL_BURST: "Reversal burst"}[kind]
        if drivers:
            names = [_driver_name(d.metric) for d in drivers]
            title = f"{head} driven by {' and '.join(names)}"
        else:
            title = head
        ratio = f" ({obs / exp:.0f}x)" if exp > 0 and obs / exp >= 2 else ""
        share = f", {obs / total * 100:.0f}% of all transactions" if total > 0 else ""
        summary = f"{words} {_num(obs)}/min against about {_num(exp)} normally{ratio}{share}, {when}{approvals}"
        return title, summary
    if kind == APPROVAL_DROP:
        change = (1 - a_obs / a_exp) * 100 if a_exp > 0 else 0.0
        title = f"Approvals down {change:.0f}%"
        others = total - a_obs
        return title, (f"Approvals {_num(a_obs)}/min against about {_num(a_exp)} normally, {when}; "
                       f"other transactions {_num(others)}/min")
    if kind == PARTIAL_OUTAGE:
        others_obs, others_exp = figures.others_when_stopped
        stopped = max(figures.stopped, 1)
        return ("Partial outage: approvals stopped while other transactions go on",
                f"Approvals stopped (under {STOPPED_SHARE * 100:.0f}% of about {_num(a_exp)}/min) for {figures.stopped} "
                f"of {figures.last - figures.first + 1} minutes while other transactions went on at "
                f"{_num(others_obs / stopped)}/min (about {_num(others_exp / stopped)} normally), {when}")
    if kind == FEED_OUTAGE:
        feeds = [d.metric.partition(":")[2] for d in incident.drivers] or [
            m.partition(":")[2] for m in incident.metrics if m.startswith("feed:")]
        feed_names = " and ".join(f"{f.replace('_', '-')}" for f in feeds) or "a"
        silent = max(figures.silent.values(), default=0)
        return (f"Feed outage: no {feed_names} data",
                f"No {feed_names} data for {silent} of {figures.last - figures.first + 1} minutes, {when}")
    watched = ", ".join(metric_label(m) for m in incident.metrics[:3])
    return (f"Unusual {watched}", f"Alerts on {watched}, {when}{approvals}")
