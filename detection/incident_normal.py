"""What each status and auth code normally counts in an incident's minutes: the yardstick incidents are named by.

A count rule that scales with volume (``poisson_tail``: ``ratio`` x a reference count such as approvals)
says what is normal at the volume of those minutes: ``ratio`` x the reference's count, where the
reference is taken at what was seen or, when fewer were seen, at what is normal for the minute.
Approvals that fell are a symptom (an acquirer dropping traffic, a partial outage, declines taking
their place), not less traffic: scaling by them alone would make denials look doubled when approvals
halve. Normal for the reference is its own rule's profile when it has one (learned thresholds), else
its mean over the hour before the incident (the built-in rules' fixed level is the day's average, too
high at night and too low at the peak). Metrics whose rule knows a profile use it; the rest the hour
before.
"""

from __future__ import annotations

from collections.abc import Sequence
from collections.abc import Set as AbstractSet

from .metrics import AUTH_CODE_FEED, STATUS_FEED, auth_code_metric, feed_of, split_metric, status_metric
from .rules import Rule
from .series import MinuteSeries
from .stat_rules import PoissonTailRule

BASELINE_MINUTES = 60  # before the incident: "normal" for metrics no rule knows
APPROVED_CODE = "00"  # the auth code of an approval: its count is the approvals'


def received_between(received: AbstractSet[int], first: int, last: int) -> list[int]:
    """The received minutes in ``first..last``, in order; walks whichever is shorter, the span or the
    set, so an incident after a gap of decades costs no more than the minutes held (as Monitor._close)."""
    if last - first < len(received):
        return [m for m in range(first, last + 1) if m in received]
    return sorted(m for m in received if first <= m <= last)


class NormalCounts:
    """Per metric and minute, the count normal for an incident that started at ``started``.

    Kept by the tracker while the incident is open: the hour-before means and, per reference metric and
    minute, the reference's count at that minute (``scale``) are computed once, lazily. What they read
    is the counts of the hour before the incident and of the minutes scaled; ``forget`` drops the
    minutes whose counts changed (the tracker starts a new one when the hour before changed)."""

    def __init__(self, expecting: dict[str, Rule], series: MinuteSeries, started: int):
        self._expecting = expecting
        self.series = series
        self.started = started
        self.oldest = series.oldest_minute()  # a prune past the hour before changes what it read
        self._before: dict[str, float] = {}
        self._scale: dict[str, dict[int, float]] = {}  # reference metric -> minute -> max(seen, normal)

    def at(self, metric: str, minute: int) -> float:
        rule = self._expecting.get(metric)
        if rule is None:
            return self.before(metric)
        if isinstance(rule, PoissonTailRule):
            return rule.ratio * self.scale(rule.per, (minute,))[0]
        return rule.expected(minute) or 0.0

    def over(self, metric: str, minutes: Sequence[int]) -> float:
        """``at`` summed over ``minutes``, with the rule looked up once (this runs every minute an incident is open)."""
        rule = self._expecting.get(metric)
        if rule is None:
            return self.before(metric) * len(minutes)
        if isinstance(rule, PoissonTailRule):
            ratio = rule.ratio
            return sum(ratio * scale for scale in self.scale(rule.per, minutes))
        expected = rule.expected
        return sum(expected(m) or 0.0 for m in minutes)

    def scale(self, per: str, minutes: Sequence[int]) -> list[float]:
        """Per minute, the reference count a count rule's ratio applies to: what was seen, or what is
        normal for the minute when fewer were seen (the same for every metric scaled by ``per``)."""
        known = self._scale.get(per)
        if known is None:
            known = self._scale[per] = {}
        out = []
        seen = None
        for m in minutes:
            value = known.get(m)
            if value is None:
                if seen is None:
                    seen = self.series.counts_of(per)
                value = known[m] = max(float(seen.get(m, 0)), self.volume(per, m))
            out.append(value)
        return out

    def forget(self, minutes: AbstractSet[int]) -> None:
        """Counts of these minutes changed: scale them again when asked."""
        for known in self._scale.values():
            for m in minutes:
                known.pop(m, None)

    def reads_before(self, minute: int) -> bool:
        """True when ``minute`` is in the hour before the incident, whose means this keeps."""
        return self.started - BASELINE_MINUTES <= minute < self.started

    def volume(self, metric: str, minute: int) -> float:
        """What a reference count (approvals, code 00) normally is at ``minute``: its own profile if a
        rule on it has one, code 00 as approvals, else the hour before."""
        rule = self._expecting.get(metric)
        if rule is not None and not isinstance(rule, PoissonTailRule):
            expected = rule.expected(minute)
            if expected is not None:
                return expected
        if metric == auth_code_metric(APPROVED_CODE) and status_metric("approved") in self._expecting:
            return self.volume(status_metric("approved"), minute)
        return self.before(metric)

    def before(self, metric: str) -> float:
        """The metric's mean per received minute over the BASELINE_MINUTES before the incident."""
        known = self._before.get(metric)
        if known is not None:
            return known
        received = self.series.received_of(feed_of(metric))
        minutes = received_between(received, self.started - BASELINE_MINUTES, self.started - 1)
        counts = self.series.counts_of(metric)
        mean = sum(counts.get(m, 0) for m in minutes) / len(minutes) if minutes else 0.0
        self._before[metric] = mean
        return mean


def knowing_rules(rules: Sequence[Rule]) -> dict[str, Rule]:
    """Per status or auth-code metric, the first count rule that says what normal is for it (poisson_tail,
    seasonal, a profile_drop with a profile of its own); rates do not say it as a count."""
    out: dict[str, Rule] = {}
    for rule in rules:
        if split_metric(rule.metric)[0] in (STATUS_FEED, AUTH_CODE_FEED) and rule.expected(0) is not None:
            out.setdefault(rule.metric, rule)
    return out
