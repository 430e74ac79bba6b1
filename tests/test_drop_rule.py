"""The sudden-drop rule: a high count falling to a fraction of its own recent level, and nothing else."""

from __future__ import annotations

import pytest

from detection import ConfigError, Monitor, Store, parse_thresholds, validate_records
from detection.drop_rule import DropRule
from detection.metrics import DEFAULT_STATUSES
from detection.series import MinuteSeries

from .support import START_MINUTE as T0
from .support import timestamp

RULE = DropRule(rule_id="drop", metric="status:approved", window=3, reference=60, max_ratio=0.5, min_level=40)


def series(values):
    s = MinuteSeries(DEFAULT_STATUSES)
    for minute, value in enumerate(values):
        if value is not None:
            s.add("status", "status:approved", minute, value)
            s.add("status", "status:denied", minute, 5)
    return s


def test_a_minute_with_data_but_no_approved_row_counts_as_zero():
    s = series(FLAT + [117, 117, 117])
    for minute in (60, 61, 62):
        s.counts["status:approved"].pop(minute)  # sparse export: the zero rows were omitted
    assert RULE.judge(s, 62).breach


FLAT = [117] * 60


@pytest.mark.parametrize(
    "tail, breach",
    [
        ([117, 117, 117], False),  # steady
        ([50, 50, 50], True),  # fell to 43%
        ([70, 70, 70], False),  # a denial spike's dip to 60% is the denial rules' business
        ([117, 117, 20], False),  # one low minute: the 3-minute mean is still 85
        ([0, 0, 0], True),  # all zeros after normal traffic
        ([None, None, None], False),  # the feed sent nothing: a feed gap, unknown rather than zero
    ],
)
def test_drops_against_the_previous_hour(tail, breach):
    s = series(FLAT + tail)
    assert RULE.judge(s, 62).breach is breach


@pytest.mark.parametrize(
    "history",
    [
        [0] * 63,  # all zeros: nothing to drop from
        [30] * 60 + [5, 5, 5],  # night traffic below min_level: not judged
        [117] * 20 + [50, 50, 50],  # too little history to know the level
    ],
)
def test_stays_quiet_where_it_cannot_know(history):
    assert RULE.judge(series(history), len(history) - 1).breach is False


def test_a_slow_daily_decline_never_alerts():
    # volume falling steadily from 150 to 40 over 6 hours, as an evening does
    values = [round(150 - 110 * i / 360) for i in range(400)]
    s = series(values)
    assert not any(RULE.judge(s, m).breach for m in range(60, 400))


def test_fires_and_resolves_through_the_monitor(clock):
    thresholds = parse_thresholds({"version": 1, "no_data": {"after_minutes": 0}, "rules": [dict(RULE.to_config(), resolve=2)]}, "t")
    monitor = Monitor(thresholds, Store(":memory:"), clock=clock)
    levels = [117] * 70 + [40] * 5 + [117] * 6
    for i, level in enumerate(levels):
        records = [{"timestamp": timestamp(T0 + i), "status": "approved", "count": level}]
        monitor.ingest(validate_records(records, "status", DEFAULT_STATUSES, now=clock()))
    (alert,) = monitor.alerts("all")
    assert alert.state == "resolved" and alert.started_at == T0 + 72  # the third low minute
    # The worst minute: 3 minutes at 40 against 117 in the hour before; the statistics stay in the detail.
    assert alert.message == "Approvals: 40/min, about 120/min in the 60 min before (-66%)"
    assert alert.detail == ("40/min over the last 3 min against 120/min over the 60 min before; fires below 50% of "
                            "that level (58/min); not judged while that level is under 40/min")


@pytest.mark.parametrize(
    "change, message",
    [
        ({"max_ratio": 1.2}, "max_ratio: expected a fraction below 1"),
        ({"window": 0}, "window: expected an integer >= 1"),
        ({"reference": 5}, "reference: expected an integer >= 10"),
        ({"min_level": -1}, "min_level: expected a number >= 0"),
        ({"speed": 1}, "unknown field(s) speed"),
    ],
)
def test_config_errors_name_the_field(change, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_thresholds({"version": 1, "rules": [dict(RULE.to_config(), **change)]}, "t")
