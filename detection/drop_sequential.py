"""A sequential (CUSUM) test for a sustained fall of a count, judged against the day's rhythm.

``SequentialDropRule`` (type ``sequential_drop``) asks, every closed minute, whether the newest minutes are
better explained by "the count fell to ``1 - drop`` of what this minute normally has" than by "normal". Each
minute adds its negative-binomial log-likelihood ratio (LLR) of the two; the evidence is Page's CUSUM, the
largest sum over the segments that end at the judged minute, restricted to the newest ``lookback`` minutes so
the rule stays a pure function of the series (batch replay = live). A sequential test of this kind is the
quickest detector of a sustained shift for a given false-alarm rate (Lorden): at high volume one minute is
enough, at the night trough it gathers the evidence of several minutes, and its false-alarm rate is set by
one number, ``threshold`` (per judged minute roughly exp(-threshold) at any volume; the learning sets it from
the false-alarm budget). Normal is what ``profile_drop`` computes: today's level from the reference hour
before the lookback, times the week profile.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Sequence
from typing import Any

from .metrics import feed_of
from .rhythm import MAX_TREND, AgainstProfile, ProfileDropRule, minute_of_week, profile_param, profile_rule_fields
from .rules import ConfigError, FieldReader, Judgement, Rule, register_rule
from .series import SeriesView

MAX_LOOKBACK = 60
QUIET = Judgement(False, 0.0, 0.0, True, None)


@register_rule
class SequentialDropRule(AgainstProfile, Rule):
    """A fall to ``1 - drop`` of normal, found by accumulating evidence minute by minute (Page's CUSUM).

    Expected count of minute m = today's level x the profile at m, where the level is ``profile_drop``'s
    (the ``reference`` minutes before the lookback, minutes far below the others left out; with ``trend``,
    extrapolated along the reference's change to minute m, at most ``MAX_TREND`` of the level). Minute m adds
    ``minute_llr(count, expected, drop, dispersion)``; minutes the feed sent nothing for add nothing (unknown,
    not zero: a feed gap is its own alert). The rule breaches at minute t when, over some segment of the
    newest ``lookback`` minutes ending at t, the summed LLR reaches ``threshold``, the segment's count is at
    least ``min_change`` below its expectation (a tiny drift at high volume never fires), its expectation is
    at least ``min_expected``, and minute t itself looks like the drop (its own LLR is positive: an alert
    resolves as soon as the count is back, instead of waiting for old evidence to drain).
    """

    type_name = "sequential_drop"

    def __init__(self, *, profile: Sequence[float], threshold: float, drop: float = 0.5,
                 dispersion: float | None = None, lookback: int = 15, reference: int = 60,
                 min_change: float = 0.25, min_expected: float = 5.0, trend: bool = False, **common: Any):
        super().__init__(**common)
        self.threshold = threshold
        self.drop = drop
        self.dispersion = dispersion
        self.lookback = lookback
        self.min_change = min_change
        self.min_expected = min_expected
        # profile_drop's level, with its one window as long as the lookback: the reference ends right before it.
        self._levels = ProfileDropRule(rule_id=self.id, metric=self.metric, profile=profile, windows=(lookback,),
                                       dispersion=(None,), p_value=0.01, reference=reference, trend=trend)
        self.profile = self._levels.profile
        self.reference = reference
        self.trend = trend
        self._feed = feed_of(self.metric)
        # The LLR is linear in the count: a + b x count, with a and b depending on the expectation only
        # through it (Poisson) or through size / expectation (negative binomial).
        self._log_keep = math.log(1.0 - drop)

    def _llr_terms(self, expected: float) -> tuple[float, float]:
        """(a, b) with LLR = a + b x count for a minute expecting ``expected``."""
        lower = (1.0 - self.drop) * expected
        size = self.dispersion
        if size is None:
            return expected - lower, self._log_keep
        return (size * math.log((size + expected) / (size + lower)),
                math.log(lower * (size + expected) / (expected * (size + lower))))

    def _expected_minutes(self, view: SeriesView, minute: int) -> list[tuple[int, int, float]] | None:
        """(minute, count, expected) of the received minutes of the lookback, newest first; None when the level is unknown."""
        found = self._levels.levels(view, minute)
        if found is None:
            return None
        level, change = found
        counts, seen = view.counts_of(self.metric), view.received_of(self._feed)
        by_minute = self.profile.by_minute
        half = self.reference // 2
        newer_middle = minute - self.lookback - (half - 1) / 2
        out = []
        for m in range(minute, minute - self.lookback, -1):
            if m not in seen:
                continue
            if change is None:
                at = level
            else:
                shift = change * (m - newer_middle) / half
                at = max(level + max(-MAX_TREND * level, min(MAX_TREND * level, shift)), 0.0)
            out.append((m, counts.get(m, 0), at * by_minute[minute_of_week(m)]))
        return out

    def judge(self, view: SeriesView, minute: int) -> Judgement:
        if minute not in view.received_of(self._feed):
            return QUIET
        minutes = self._expected_minutes(view, minute)
        if not minutes:
            return QUIET
        _, count, expected = minutes[0]
        if expected <= 0:
            return QUIET
        a, b = self._llr_terms(expected)
        if a + b * count <= 0:
            return QUIET  # the newest minute does not look like the drop
        return self._segment(minute, minutes)

    def first_breach(self, view: SeriesView, minutes: Sequence[int], start: int) -> int | None:
        """``judge`` only where the newest minute could look like the drop: today's level is a weighted mean of
        the reference minutes' count / profile, so it is at most their largest (times 1 + ``MAX_TREND`` with
        ``trend``), and the LLR crossover count grows with the expectation; a count above the crossover of
        that bound cannot breach. The largest ratio slides with the reference (a monotone queue), so most
        quiet minutes cost a few look-ups instead of a level."""
        counts, seen = view.counts_of(self.metric), view.received_of(self._feed)
        growth = 1.0 + MAX_TREND if self.trend else 1.0
        by_minute, lookback, reference = self.profile.by_minute, self.lookback, self.reference
        window: deque[tuple[int, float]] = deque()  # (minute, count / profile), ratios decreasing
        newest = None  # the newest reference minute pushed
        for index in range(start, len(minutes)):
            minute = minutes[index]
            if minute not in seen:
                continue  # judge() says QUIET for a minute the feed sent nothing for
            last, first = minute - lookback, minute - lookback - reference + 1
            if newest is None or newest < first - 1 or newest > last:
                window.clear()
                newest = first - 1
            for m in range(newest + 1, last + 1):
                shape = by_minute[minute_of_week(m)]
                if shape > 0 and m in seen:
                    ratio = counts.get(m, 0) / shape
                    while window and window[-1][1] <= ratio:
                        window.pop()
                    window.append((m, ratio))
            newest = last
            while window and window[0][0] < first:
                window.popleft()
            bound = (window[0][1] if window else 0.0) * growth * by_minute[minute_of_week(minute)]
            if bound > 0:
                a, b = self._llr_terms(bound)
                if counts.get(minute, 0) > a / -b + 1e-9:
                    continue
            if self.judge(view, minute).breach:
                return index
        return None

    def _segment(self, minute: int, minutes: list[tuple[int, int, float]]) -> Judgement:
        """The strongest qualifying segment ending at the judged minute (``minutes`` newest first)."""
        evidence = observed = expected_sum = 0.0
        best: tuple[float, float, float, int, float, float] | None = None  # evidence, obs, exp, n, sum a, sum b*exp
        sum_a = sum_bx = 0.0
        length = 1
        for m, count, expected in minutes:
            length = minute - m + 1  # the segment's span in minutes (feed gaps inside it included)
            if expected <= 0:
                continue
            a, b = self._llr_terms(expected)
            evidence += a + b * count
            observed += count
            expected_sum += expected
            sum_a += a
            sum_bx += b * expected
            if (evidence >= self.threshold and expected_sum >= self.min_expected
                    and observed <= (1.0 - self.min_change) * expected_sum
                    and (best is None or evidence > best[0])):
                best = (evidence, observed, expected_sum, length, sum_a, sum_bx)
        if best is None:
            return Judgement(False, observed / max(length, 1), 0.0, True,
                             expected_sum / max(length, 1) if expected_sum else None, max(length, 1))
        _, observed, expected_sum, length, sum_a, sum_bx = best
        # The count over the segment at which its evidence would just reach the threshold (b weighted by the
        # expectations), capped by the minimum change: what the message calls the limit.
        slope = sum_bx / expected_sum
        critical = min((self.threshold - sum_a) / slope, (1.0 - self.min_change) * expected_sum)
        return Judgement(True, observed / length, max(critical, 0.0) / length, False, expected_sum / length, length)

    def condition_text(self) -> str:
        return (f"the newest minutes look like a fall to {1 - self.drop:.0%} of what this hour of this kind of day "
                f"normally has ({self.profile.kind} profile, at today's level): log-likelihood ratio over up to "
                f"{self.lookback} min above {self.threshold:g}, and at least {self.min_change:.0%} below")

    def params(self) -> dict[str, Any]:
        return {"profile": profile_param(self.profile),
                "threshold": self.threshold, "drop": self.drop, "dispersion": self.dispersion,
                "lookback": self.lookback, "reference": self.reference, "min_change": self.min_change,
                "min_expected": self.min_expected, "trend": self.trend}

    @classmethod
    def from_config(cls, reader: FieldReader, metrics: Iterable[str]) -> SequentialDropRule:
        fields = profile_rule_fields(cls, reader, metrics)
        threshold = reader.number("threshold")
        if not 0 < threshold <= 100:
            raise ConfigError(f"{reader.where}.threshold: expected a log-likelihood ratio above 0 and at most 100, "
                              f"got {threshold!r}")
        drop = reader.number("drop", 0.5)
        if not 0 < drop < 1:
            raise ConfigError(f"{reader.where}.drop: expected the fall to detect as a fraction between 0 and 1 "
                              f"(0.5: a halving), got {drop!r}")
        dispersion = reader.optional_number("dispersion")
        if dispersion is not None and not (0 < dispersion < math.inf):
            raise ConfigError(f"{reader.where}.dispersion: expected a negative-binomial size (> 0) per minute, or "
                              f"null for Poisson, got {dispersion!r}")
        lookback = reader.int("lookback", 15, minimum=1)
        if lookback > MAX_LOOKBACK:
            raise ConfigError(f"{reader.where}.lookback: expected an integer from 1 to {MAX_LOOKBACK}, got {lookback}")
        reader.reject_unknown(("type", "description"))
        return cls(threshold=threshold, drop=drop, dispersion=dispersion, lookback=lookback, **fields)
