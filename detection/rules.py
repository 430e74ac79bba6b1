"""Alert rules: small pure objects that judge one metric at one minute.

A rule knows nothing of alert state or threads: ``judge(view, minute)`` reads
counts through a ``SeriesView`` and says whether the minute breaches. The
``Monitor`` turns judgements into alert episodes using the rule's ``for_minutes``
and ``resolve_minutes``. New rule types register themselves in ``RULE_TYPES``
with ``@register_rule`` and are then usable from the thresholds file.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from typing import Any, ClassVar, NamedTuple

from . import wording
from .alerts import SEVERITIES
from .metrics import AUTH_CODE_FEED, RATE_PREFIX, STATUS_FEED, metric_label, split_metric
from .series import SeriesView


class ConfigError(ValueError):
    """A thresholds or config file is wrong; the message names the file and field."""


class Judgement(NamedTuple):
    """One rule's verdict on one minute (a NamedTuple: made for every rule every minute, so cheap)."""

    breach: bool
    value: float
    threshold: float
    clean: bool  # counts towards resolving a firing alert (hysteresis: may differ from "not breach")
    expected: float | None = None
    # The newest minutes a breach rests on, ending at the judged minute (the rule's window; the shortest
    # breaching one of a multi-window rule): a breach at minute m shows something was off in
    # m - window + 1 .. m. The incident tracker uses it to tell a problem's minutes from a window draining.
    window: int = 1


class FieldReader:
    """Reads typed fields out of one JSON object, raising ConfigError that names ``where.field``."""

    def __init__(self, obj: Any, where: str):
        if not isinstance(obj, dict):
            raise ConfigError(f"{where}: expected an object, got {type(obj).__name__}")
        self.obj = obj
        self.where = where
        self.used: set[str] = set()

    def _fail(self, key: str, expected: str) -> ConfigError:
        return ConfigError(f"{self.where}.{key}: expected {expected}, got {self.obj.get(key)!r}")

    def has(self, key: str) -> bool:
        return key in self.obj

    def text(self, key: str, default: str | None = None, choices: Iterable[str] | None = None) -> str:
        self.used.add(key)
        if key not in self.obj:
            if default is None:
                raise ConfigError(f"{self.where}.{key}: is required")
            return default
        value = self.obj[key]
        options = tuple(choices) if choices is not None else None
        if not isinstance(value, str) or not value or (options and value not in options):
            raise self._fail(key, f"one of {', '.join(options)}" if options else "a non-empty string")
        return value

    def int(self, key: str, default: int | None = None, minimum: int = 0) -> int:
        self.used.add(key)
        if key not in self.obj:
            if default is None:
                raise ConfigError(f"{self.where}.{key}: is required")
            return default
        value = self.obj[key]
        if type(value) is not int or value < minimum:
            raise self._fail(key, f"an integer >= {minimum}")
        return value

    def number(self, key: str, default: float | None = None, minimum: float | None = None) -> float:
        self.used.add(key)
        if key not in self.obj or self.obj[key] is None:
            if default is None:
                raise ConfigError(f"{self.where}.{key}: is required")
            return default
        value = self.obj[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
            raise self._fail(key, "a number")
        if minimum is not None and value < minimum:
            raise self._fail(key, f"a number >= {minimum}")
        return float(value)

    def optional_number(self, key: str) -> float | None:
        if key not in self.obj or self.obj[key] is None:
            self.used.add(key)
            return None
        return self.number(key)

    def reject_unknown(self, allowed_extra: Iterable[str] = ()) -> None:
        unknown = set(self.obj) - self.used - set(allowed_extra)
        if unknown:
            raise ConfigError(f"{self.where}: unknown field(s) {', '.join(sorted(unknown))}")


class Rule(ABC):
    """One metric, one condition. Subclasses set ``type_name`` and implement ``judge``."""

    type_name: ClassVar[str]
    # Where the on-call person reads what to do (thresholds file ``runbook_url``); the Alertmanager channel
    # passes it on. Set by the thresholds parser for every rule type alike.
    runbook_url: str = ""
    # Judged per slice (detection/slice_judge.py): the dimension, or pair, of the thresholds file's ``by``,
    # and each slice's own ratio (``slices``); set by the thresholds parser on rule types that are ``sliceable``.
    by: tuple[str, ...] = ()
    slice_ratios: dict[str, float] = {}  # noqa: RUF012  (replaced per rule, never changed in place)
    sliceable: ClassVar[bool] = False

    def __init__(
        self,
        rule_id: str,
        metric: str,
        severity: str = "warning",
        for_minutes: int = 1,
        resolve_minutes: int = 5,
        description: str = "",
    ):
        self.id = rule_id
        self.metric = metric
        self.severity = severity
        self.for_minutes = for_minutes
        self.resolve_minutes = resolve_minutes
        self.description = description

    @property
    def monotone(self) -> bool:
        """True when more data in a minute can only make a breach more certain.

        Such rules may fire while a minute is still open (a count only grows);
        others judge closed minutes only.
        """
        return False

    @abstractmethod
    def judge(self, view: SeriesView, minute: int) -> Judgement: ...

    def worse(self, new: float, old: float) -> bool:
        """Whether ``new`` is a worse value than ``old`` (an alert keeps its worst value)."""
        return new > old

    def first_breach(self, view: SeriesView, minutes: Sequence[int], start: int) -> int | None:
        """Index of the first of ``minutes[start:]`` that breaches, or None.

        The Monitor calls this while a rule is quiet to skip the minutes where
        nothing happens; subclasses may override it with a faster scan.
        """
        for index in range(start, len(minutes)):
            if self.judge(view, minutes[index]).breach:
                return index
        return None

    def bounds(self, minute: int) -> tuple[float | None, float | None]:
        """The (lower, upper) per-minute value this rule tolerates at ``minute``, for drawing bands.

        ``None`` where the rule sets no bound on that side or the bound is not a
        per-minute value (window rules may approximate).
        """
        return (None, None)

    def expected(self, minute: int) -> float | None:
        """What normal looks like at ``minute`` (a baseline), where the rule knows; for drawing."""
        return None

    @abstractmethod
    def condition_text(self) -> str:
        """The condition in words, e.g. 'above 20 per minute'."""

    def params(self) -> dict[str, Any]:
        """Rule-type specific fields, as written in the thresholds file."""
        return {}

    def to_config(self) -> dict[str, Any]:
        base = {
            "id": self.id,
            "type": self.type_name,
            "metric": self.metric,
            "severity": self.severity,
            "for": self.for_minutes,
            "resolve": self.resolve_minutes,
        }
        if self.description:
            base["description"] = self.description
        if self.runbook_url:
            base["runbook_url"] = self.runbook_url
        base.update(self.params())
        if self.by:
            base["by"] = list(self.by)
            base["slices"] = dict(self.slice_ratios)
        return base

    @property
    def state_key(self) -> str:
        """Where the engine keeps this rule's state (a per-slice view of a rule keeps its own)."""
        return self.id

    def describe(self) -> dict[str, Any]:
        """For the API and the dashboard: the config plus a readable condition."""
        info = self.to_config()
        info["metric_label"] = metric_label(self.metric)
        info["condition"] = self.condition_text()
        return info

    # ---- wording (detection/wording.py): a plain message for people, the statistics as its detail
    def message(self, judgement: Judgement) -> str:
        """What, how much, against what normal, in an analyst's words; rule types override it."""
        text = f"{wording.headword(self.metric)}: {_fmt(judgement.value, self.metric)}"
        if judgement.expected is not None:
            text += f", about {_fmt(judgement.expected, self.metric)} normally"
        return text

    def detail(self, judgement: Judgement) -> str:
        """The statistics behind the message: the condition and the numbers it was judged on."""
        return f"{self.condition_text()}; value {_fmt(judgement.value, self.metric)}, limit {_fmt(judgement.threshold, self.metric)}"

    @classmethod
    def common_fields(cls, reader: FieldReader, metrics: Iterable[str]) -> dict[str, Any]:
        known = set(metrics)
        metric = reader.text("metric")
        if metric not in known:
            raise ConfigError(
                f"{reader.where}.metric: unknown metric {metric!r}; expected one of {', '.join(sorted(known))}"
            )
        return {
            "rule_id": reader.text("id"),
            "metric": metric,
            "severity": reader.text("severity", "warning", SEVERITIES),
            "for_minutes": reader.int("for", 1, minimum=1),
            "resolve_minutes": reader.int("resolve", 5, minimum=1),
            "description": reader.obj.get("description", "") if isinstance(reader.obj.get("description", ""), str) else "",
        }

    @classmethod
    @abstractmethod
    def from_config(cls, reader: FieldReader, metrics: Iterable[str]) -> Rule: ...


def _fmt(value: float, metric: str) -> str:
    if metric.startswith(RATE_PREFIX):
        return f"{value * 100:.1f}%"
    if float(value).is_integer():
        return f"{int(value)}/min"
    return f"{value:.2f}/min"


RULE_TYPES: dict[str, type[Rule]] = {}


def register_rule(cls: type[Rule]) -> type[Rule]:
    RULE_TYPES[cls.type_name] = cls
    return cls


@register_rule
class ThresholdRule(Rule):
    """A static bound on a metric's per-minute value: ``above`` or ``below`` a threshold.

    ``recovery`` (optional) is a separate bound a firing alert must get back past
    to count a minute as clean, so a value hovering at the threshold does not flap.
    """

    type_name = "threshold"

    def __init__(self, *, direction: str, threshold: float, recovery: float | None = None, **common: Any):
        super().__init__(**common)
        self.direction = direction
        self.threshold = threshold
        self.recovery = recovery
        self._above = direction == "above"
        self._clean_bound = recovery if recovery is not None else threshold
        self._is_rate = self.metric.startswith(RATE_PREFIX)

    @property
    def monotone(self) -> bool:
        kind, _ = split_metric(self.metric)
        return self.direction == "above" and kind in (STATUS_FEED, AUTH_CODE_FEED)

    def judge(self, view: SeriesView, minute: int) -> Judgement:
        value = view.value(self.metric, minute) if self._is_rate else view.count(self.metric, minute)
        if self._above:
            return Judgement(value > self.threshold, value, self.threshold, value <= self._clean_bound)
        return Judgement(value < self.threshold, value, self.threshold, value >= self._clean_bound)

    def worse(self, new: float, old: float) -> bool:
        return new < old if self.direction == "below" else new > old

    def first_breach(self, view: SeriesView, minutes: Sequence[int], start: int) -> int | None:
        if self._is_rate:
            return super().first_breach(view, minutes, start)
        get = view.counts_of(self.metric).get
        threshold = self.threshold
        if self._above:
            for index in range(start, len(minutes)):
                if get(minutes[index], 0) > threshold:
                    return index
        else:
            for index in range(start, len(minutes)):
                if get(minutes[index], 0) < threshold:
                    return index
        return None

    def bounds(self, minute: int) -> tuple[float | None, float | None]:
        return (self.threshold, None) if self.direction == "below" else (None, self.threshold)

    def condition_text(self) -> str:
        return f"{self.direction} {_fmt(self.threshold, self.metric)}"

    def message(self, judgement: Judgement) -> str:
        return wording.threshold_message(self.metric, judgement.value, self.direction, self.threshold)

    def detail(self, judgement: Judgement) -> str:
        return wording.threshold_detail(self.metric, judgement.value, self.direction, self.threshold, self.recovery)

    def params(self) -> dict[str, Any]:
        out: dict[str, Any] = {"direction": self.direction, "threshold": self.threshold}
        if self.recovery is not None:
            out["recovery"] = self.recovery
        return out

    @classmethod
    def from_config(cls, reader: FieldReader, metrics: Iterable[str]) -> ThresholdRule:
        common = cls.common_fields(reader, metrics)
        direction = reader.text("direction", choices=("above", "below"))
        threshold = reader.number("threshold", minimum=0)
        recovery = reader.optional_number("recovery")
        if recovery is not None:
            if direction == "above" and recovery > threshold:
                raise ConfigError(f"{reader.where}.recovery: must be <= threshold for an 'above' rule")
            if direction == "below" and recovery < threshold:
                raise ConfigError(f"{reader.where}.recovery: must be >= threshold for a 'below' rule")
        reader.reject_unknown(("type", "description"))
        return cls(direction=direction, threshold=threshold, recovery=recovery, **common)

