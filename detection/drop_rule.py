"""A sudden drop of a high count against its own recent level: approvals halving within minutes.

Volume-relative, so a daily cycle (which moves over hours) does not alert, and it
needs no history: it compares the mean of the last ``window`` minutes with the
mean of the ``reference`` minutes before them. Below ``min_level`` per minute
the reference is too thin to judge (night traffic) and the rule stays quiet.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from typing import Any

from . import wording
from .metrics import feed_of
from .rules import ConfigError, FieldReader, Judgement, Rule, register_rule
from .series import SeriesView


def _slide(sums: tuple[int, int], get, seen: AbstractSet[int], entering: int, leaving: int) -> tuple[int, int]:
    total, n = sums
    if entering in seen:
        total += get(entering, 0)
        n += 1
    if leaving in seen:
        total -= get(leaving, 0)
        n -= 1
    return total, n


@register_rule
class DropRule(Rule):
    type_name = "drop"

    def __init__(self, *, window: int = 3, reference: int = 60, max_ratio: float = 0.5, min_level: float = 40.0,
                 **common: Any):
        super().__init__(**common)
        self.window = window
        self.reference = reference
        self.max_ratio = max_ratio
        self.min_level = min_level
        self._feed = feed_of(self.metric)

    def _sums(self, counts: Mapping[int, int], seen: AbstractSet[int], first: int, last: int) -> tuple[int, int]:
        """(sum, minutes) over the minutes in [first, last] the feed sent data for: a gap is unknown, not zero."""
        total = n = 0
        for m in range(first, last + 1):
            if m in seen:
                total += counts.get(m, 0)
                n += 1
        return total, n

    def _judge_sums(self, recent: tuple[int, int], reference: tuple[int, int]) -> Judgement:
        (recent_sum, recent_n), (reference_sum, reference_n) = recent, reference
        mean = recent_sum / recent_n if recent_n else 0.0
        if recent_n < self.window or reference_n < self.reference // 2:
            return Judgement(False, mean, 0.0, True, None)  # a gap in the window, or too little history
        level = reference_sum / reference_n
        if level < self.min_level:
            return Judgement(False, mean, 0.0, True, level)  # too thin to judge (night traffic)
        limit = self.max_ratio * level
        return Judgement(mean < limit, mean, limit, mean >= limit, level, self.window)

    def judge(self, view: SeriesView, minute: int) -> Judgement:
        counts, seen = view.counts_of(self.metric), view.received_of(self._feed)
        end = minute - self.window
        return self._judge_sums(
            self._sums(counts, seen, end + 1, minute), self._sums(counts, seen, end - self.reference + 1, end)
        )

    def first_breach(self, view: SeriesView, minutes: Sequence[int], start: int) -> int | None:
        # Rolling sums: one minute in and one out of each window per step, instead of 63 look-ups.
        counts, seen = view.counts_of(self.metric), view.received_of(self._feed)
        get = counts.get
        previous = None
        recent = reference = (0, 0)
        for index in range(start, len(minutes)):
            minute = minutes[index]
            end = minute - self.window
            if previous is not None and minute == previous + 1:
                recent = _slide(recent, get, seen, minute, minute - self.window)
                reference = _slide(reference, get, seen, end, end - self.reference)
            else:
                recent = self._sums(counts, seen, end + 1, minute)
                reference = self._sums(counts, seen, end - self.reference + 1, end)
            previous = minute
            if self._judge_sums(recent, reference).breach:
                return index
        return None

    def worse(self, new: float, old: float) -> bool:
        return new < old

    def condition_text(self) -> str:
        return (f"below {self.max_ratio:.0%} of its level over the previous {self.reference} min "
                f"({self.window}-min mean)")

    def message(self, judgement: Judgement) -> str:
        return wording.drop_message(self.metric, judgement.value, judgement.expected, self.reference)

    def detail(self, judgement: Judgement) -> str:
        return wording.drop_detail(judgement.value, self.window, judgement.expected, self.reference,
                                   judgement.threshold, self.max_ratio, self.min_level)

    def params(self) -> dict[str, Any]:
        return {"window": self.window, "reference": self.reference, "max_ratio": self.max_ratio,
                "min_level": self.min_level}

    @classmethod
    def from_config(cls, reader: FieldReader, metrics: Iterable[str]) -> DropRule:
        common = cls.common_fields(reader, metrics)
        window = reader.int("window", 3, minimum=1)
        reference = reader.int("reference", 60, minimum=10)
        if window > 60:
            raise ConfigError(f"{reader.where}.window: expected an integer from 1 to 60, got {window}")
        max_ratio = reader.number("max_ratio", 0.5, minimum=0.0)
        if max_ratio >= 1:
            raise ConfigError(f"{reader.where}.max_ratio: expected a fraction below 1, got {max_ratio!r}")
        min_level = reader.number("min_level", 40.0, minimum=0.0)
        reader.reject_unknown(("type", "description"))
        return cls(window=window, reference=reference, max_ratio=max_ratio, min_level=min_level, **common)
