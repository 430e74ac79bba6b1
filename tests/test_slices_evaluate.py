"""The issue's check through the real engine: thresholds learned by the CLI's function from labelled days, the
next day replayed minute by minute; records without labels give exactly the global results they gave before."""

from __future__ import annotations

import pytest

from analysis.evaluate_slices import learn_thresholds, score_slices
from analysis.replay import replay_run
from analysis.synthetic_labels import LabelledData, LabelledIncident
from detection.thresholds import Thresholds

START = 29_188_800  # 2025-07-01 00:00 UTC
SPLIT = START + 2 * 1440
SMALL_ACQUIRER = LabelledIncident("acquirer_denial", SPLIT + 14 * 60, 20, 3.0, "acquirer=acq-07")
GLOBAL_SPIKE = LabelledIncident("denial_51", SPLIT + 16 * 60, 20, 4.0, "acquirer=acq-03")


@pytest.fixture(scope="module")
def learned():
    data = LabelledData(START, 3 * 1440, seed=21, rate=1000, incidents=[SMALL_ACQUIRER, GLOBAL_SPIKE])
    return data, learn_thresholds(data, train_days=2)


def test_one_small_acquirer_tripling_is_named_within_5_minutes_and_a_spike_names_its_contributor(learned):
    data, thresholds = learned
    assert data.platform.share("acquirer=acq-07") == pytest.approx(0.05, abs=0.005)
    first, minutes = SPLIT + 13 * 60, 4 * 60
    run = replay_run(thresholds, data.minute_rows(first, minutes))
    score = score_slices(data, run.incidents, first, minutes, 1000)
    index = score.incidents.index(SMALL_ACQUIRER)
    assert index in score.found, [e.incident.title for e in run.incidents]
    assert score.delays[index] <= 5
    found = score.found[index].incident
    assert found.details["slice"] == "acquirer=acq-07" and "acq-07" in found.title
    # The global spike runs mostly through acq-03: the global incident names it first.
    assert score.contributors == [(GLOBAL_SPIKE, "acq-03")]
    assert len(score.false) <= 1, [e.incident.title for e in score.false]


def _global_episodes(thresholds: Thresholds, minutes) -> list[tuple]:
    run = replay_run(thresholds, minutes)
    return [(e.rule, e.metric, e.started_at, e.fired_wall, e.resolved_at, e.value) for e in run.episodes
            if "@" not in e.metric]


def _without_labels(minutes):
    return [(minute, [{k: v for k, v in row.items() if k != "labels"} for row in status],
             [{k: v for k, v in row.items() if k != "labels"} for row in auth]) for minute, status, auth in minutes]


def test_records_without_labels_give_todays_global_results(learned):
    data, thresholds = learned
    labelled = list(data.minute_rows(SPLIT + 15 * 60 + 30, 90))
    unlabelled = _without_labels(labelled)
    today = Thresholds(rules=tuple(r for r in thresholds.rules if not r.by), statuses=thresholds.statuses,
                       auth_codes=thresholds.auth_codes, no_data_minutes=thresholds.no_data_minutes,
                       provenance=thresholds.provenance, source="global rules only")
    before = _global_episodes(today, unlabelled)
    assert before, "the global spike raises global alerts"
    # The same unlabelled records with dimensions and sliced rules configured: the same global alerts.
    assert _global_episodes(thresholds, unlabelled) == before
    # Labelled records count in the global series exactly once: the same global alerts again.
    assert _global_episodes(thresholds, labelled) == before
