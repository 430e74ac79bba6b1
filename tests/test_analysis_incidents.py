"""The analysis and the evaluation see exactly the incidents the engine stores: same ids, kinds, drivers, members."""

from __future__ import annotations

from analysis.incidents import find_incidents, last_minute
from analysis.learn import learn
from analysis.loading import history_from_rows
from analysis.replay import replay_run, rows_by_minute
from analysis.synthetic import Incident, generate
from detection import Store, load_thresholds

START = 29_188_800  # 2025-07-01 00:00 UTC

LABELLED = [Incident("denial_51", START + 300, 20, 5.0), Incident("processing_failure", START + 700, 30, 4.0),
            Incident("feed_outage", START + 1100, 10, 0.0)]


def _day():
    return generate(START, 1440, seed=5, incidents=LABELLED)


def test_the_replay_hands_over_the_incidents_the_engine_stored(tmp_path):
    data = _day()
    store = Store(str(tmp_path / "monitor.db"))
    run = replay_run(load_thresholds(), rows_by_minute(data.status_rows, data.auth_rows, START, 1440), store=store)
    stored = {i.id: i for i in store.incidents(None, 1000)}
    assert [i.id for i in run.incidents] and {i.id for i in run.incidents} == set(stored)
    for found in run.incidents:
        engine = stored[found.id]
        assert found.incident.to_dict() == engine.to_dict()
    # Every fired alert carries the incident it joined, and is listed among that incident's members.
    assert run.episodes and all(e.incident_id in stored for e in run.episodes)
    assert sorted(e.alert_id for e in run.episodes) == sorted(a for i in stored.values() for a in i.alert_ids)
    # An incident opened when its first member fired: the earliest of its episodes.
    for found in run.incidents:
        members = [e for e in run.episodes if e.incident_id == found.id]
        assert found.opened_wall == min(e.fired_wall for e in members)
    assert [i.opened_wall for i in run.incidents] == sorted(i.opened_wall for i in run.incidents)
    kinds = [(i.kind, i.incident.started_at - START) for i in run.incidents]
    assert [k for k, _ in kinds] == ["denial_spike", "processing_failure", "feed_outage"]
    assert run.incidents[0].incident.drivers[0].metric == "auth_code:51"


def test_the_history_report_lists_the_engines_incidents_with_their_span():
    data = _day()
    analysis = learn(history_from_rows(data.status_rows, data.auth_rows))
    found = find_incidents(analysis)
    assert [i.kind for i in found] == ["denial_spike", "processing_failure", "feed_outage"]
    assert found[0].incident.title == "Denial spike driven by code 51 (insufficient funds)"
    last = last_minute(analysis)
    assert last == START + 1439
    for incident in found:
        members = incident.incident.details["members"]
        # From the first member's first breach to the last minute any member breached.
        assert incident.incident.started_at == min(m["started_minute"] for m in members)
        assert incident.end(last) == max(m["last_breach_minute"] for m in members)
        assert not incident.incident.is_open
    outage = found[2]
    assert outage.incident.started_at == START + 1100 and outage.end(last) - outage.incident.started_at + 1 == 10


def test_an_incident_still_open_when_the_replay_ends_is_handed_over_as_the_engine_holds_it(tmp_path):
    data = _day()
    store = Store(str(tmp_path / "monitor.db"))
    # The export ends 10 minutes into the denial spike.
    run = replay_run(load_thresholds(), rows_by_minute(data.status_rows, data.auth_rows, START, 311), store=store)
    assert [i.incident.state for i in run.incidents] == ["open"]
    held = store.open_incidents()
    assert [i.to_dict() for i in held] == [run.incidents[0].incident.to_dict()]
    assert run.incidents[0].end(START + 310) == START + 310
    assert run.incidents[0].incident.title == "Denial spike driven by code 51 (insufficient funds)"
