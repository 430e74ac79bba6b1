"""What an incident's minutes normally count (detection/incident_normal.py), from its docstrings: the hour-before
mean over received minutes, a count rule's ratio scaled by the reference's own profile, and the yardstick kept
by the tracker while the incident is open and what it read is unchanged."""

from __future__ import annotations

import pytest

from detection.incident_normal import BASELINE_MINUTES, NormalCounts, knowing_rules
from detection.incident_tracker import IncidentTracker
from detection.incidents import Incident
from detection.metrics import DEFAULT_AUTH_CODES, DEFAULT_STATUSES
from detection.series import MinuteSeries
from detection.stat_rules import PoissonTailRule, SeasonalRule

STARTED = 29_000_000  # the incident's first minute


def test_the_hour_before_mean_counts_a_received_minute_without_the_metric_as_zero():
    # The auth-code feed sent all 60 minutes of the hour before; code 51 is in every other one, twice.
    series = MinuteSeries(DEFAULT_STATUSES)
    for minute in range(STARTED - BASELINE_MINUTES, STARTED):
        series.add("auth_code", "auth_code:00", minute, 100)
        if minute % 2:
            series.add("auth_code", "auth_code:51", minute, 2)
    series.add("auth_code", "auth_code:51", STARTED - BASELINE_MINUTES - 1, 500)  # before the hour: not read
    normal = NormalCounts({}, series, STARTED)
    assert normal.before("auth_code:51") == pytest.approx(1.0)  # 30 x 2 over 60 received minutes
    assert normal.at("auth_code:51", STARTED + 3) == pytest.approx(1.0)  # no rule knows it: the hour before
    assert normal.before("auth_code:59") == 0.0  # never sent: nothing normal


def test_a_count_rule_scales_by_the_reference_rules_profile_not_by_the_hour_before():
    # Approvals have a seasonal rule saying 200 a minute is normal now; the hour before ran at 117, and in the
    # incident's minute only 50 came (the declined ones are missing from them, not from the traffic).
    approved = SeasonalRule(rule_id="approved_low", metric="status:approved", direction="below", profile=[200.0],
                            window=5, z=4.0, relative_sd=0.1, min_change=0.3)
    denied = PoissonTailRule(rule_id="denied_high", metric="status:denied", ratio=0.05, per="status:approved",
                             window=5, p_value=1e-4, min_count=3)
    code_51 = PoissonTailRule(rule_id="code_51_high", metric="auth_code:51", ratio=0.02, per="auth_code:00",
                              window=5, p_value=1e-4, min_count=3)
    series = MinuteSeries(DEFAULT_STATUSES)
    for minute in range(STARTED - BASELINE_MINUTES, STARTED):
        series.add("status", "status:approved", minute, 117)
        series.add("auth_code", "auth_code:00", minute, 117)
    series.add("status", "status:approved", STARTED, 50)
    series.add("auth_code", "auth_code:00", STARTED, 50)
    normal = NormalCounts(knowing_rules([approved, denied, code_51]), series, STARTED)
    assert normal.volume("status:approved", STARTED) == pytest.approx(200.0)  # its own profile
    assert normal.at("status:denied", STARTED) == pytest.approx(0.05 * 200)
    # Code 00 has no rule of its own: it is approvals, so the approvals' profile again.
    assert normal.volume("auth_code:00", STARTED) == pytest.approx(200.0)
    assert normal.at("auth_code:51", STARTED) == pytest.approx(0.02 * 200)


def test_the_tracker_keeps_an_open_incidents_yardstick_until_a_prune_reaches_the_hour_before_it():
    series = MinuteSeries(DEFAULT_STATUSES)
    for minute in range(STARTED - 2 * BASELINE_MINUTES, STARTED + 10):
        series.add("status", "status:approved", minute, 100 if minute < STARTED - BASELINE_MINUTES else 120)
    tracker = IncidentTracker([], DEFAULT_STATUSES, DEFAULT_AUTH_CODES)
    incident = Incident("i1", "approval_drop", "open", "warning", STARTED)
    kept = tracker._normal(incident, series)
    assert kept.before("status:approved") == pytest.approx(120.0)
    # Computed once while the incident is open (its hour-before means are read every minute it is described).
    assert tracker._normal(incident, series) is kept
    series.prune_before(STARTED - BASELINE_MINUTES - 30)  # older than the hour before: nothing it read
    assert tracker._normal(incident, series) is kept
    series.prune_before(STARTED - BASELINE_MINUTES // 2)  # half the hour before is gone: read it again
    again = tracker._normal(incident, series)
    assert again is not kept
    assert again.before("status:approved") == pytest.approx(120.0)
    assert tracker._normal(incident, series) is again
