"""Slices in the engine: labels counted per acquirer (brand, pair), judged per slice, stored, named in incidents."""

from __future__ import annotations

import random

import pytest

from detection import Monitor, MonitorSettings, RecordValidationError, parse_thresholds, validate_records
from detection.metrics import DEFAULT_STATUSES

from .support import START_MINUTE as T0
from .support import timestamp

NOW = (T0 + 10_000) * 60.0
ACQUIRERS = ("acq-01", "acq-02", "acq-03", "acq-04", "acq-05", "acq-06", "acq-07", "acq-08")
# Shares of traffic: acq-07 carries 5%.
SHARES = (0.30, 0.20, 0.15, 0.10, 0.10, 0.07, 0.05, 0.03)
DENIED_BY_ACQUIRER = {"id": "denied_by_acquirer", "type": "poisson_tail", "metric": "status:denied",
                      "per": "status:approved", "by": ["acquirer"], "ratio": 0.06, "window": 5,
                      "p_value": 1e-7, "min_count": 5, "for": 1, "resolve": 5}
DENIED_GLOBAL = {"id": "denied_tail", "type": "poisson_tail", "metric": "status:denied", "per": "status:approved",
                 "ratio": 0.06, "window": 5, "p_value": 1e-7, "min_count": 5, "for": 1, "resolve": 5}


def config(rules=(DENIED_BY_ACQUIRER, DENIED_GLOBAL), **extra):
    return {"version": 1, "no_data": {"after_minutes": 0},
            "dimensions": {"acquirer": {"max_values": 10}, "brand": {"max_values": 4, "overflow": "reject"}},
            "dimension_pairs": [["acquirer", "brand"]], "rules": list(rules), **extra}


def make(backend, clock, cfg=None, store=None, window=600):
    thresholds = parse_thresholds(cfg or config(), "test")
    return Monitor(thresholds, store or backend.store(),
                   MonitorSettings(window_minutes=window, retention_minutes=2 * window), clock=clock)


def minute_records(minute, volume=1000, rng=None, denial_rate=0.06, boost=None):
    """One minute of labelled status records: approvals and denials per acquirer (and brand visa/elo)."""
    rng = rng or random.Random(minute)
    records = []
    for acquirer, share in zip(ACQUIRERS, SHARES, strict=True):
        rate = denial_rate * (boost if boost and acquirer == "acq-07" else 1)
        traffic = volume * share
        denied = _poisson(rng, traffic * rate)
        approved = _poisson(rng, traffic * (1 - denial_rate))
        brand = "visa" if acquirer < "acq-05" else "elo"
        labels = {"acquirer": acquirer, "brand": brand}
        records.append({"timestamp": timestamp(T0 + minute), "status": "approved", "count": approved, "labels": labels})
        records.append({"timestamp": timestamp(T0 + minute), "status": "denied", "count": denied, "labels": labels})
    return records


def _poisson(rng, mean):
    # Knuth's method is slow for large means: a normal approximation, floored at zero, is enough here.
    return max(0, round(rng.gauss(mean, mean ** 0.5))) if mean > 30 else _knuth(rng, mean)


def _knuth(rng, mean):
    import math
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def post(monitor, records, feed="status"):
    keys = DEFAULT_STATUSES if feed == "status" else ("00", "51", "59")
    return monitor.ingest(validate_records(records, feed, keys, now=NOW, labels=monitor.labels))


def strip(records):
    return [{k: v for k, v in r.items() if k != "labels"} for r in records]


def test_one_acquirer_tripling_its_denials_is_its_own_incident_named_for_it(backend, clock):
    monitor = make(backend, clock)
    rng = random.Random(5)
    for minute in range(60):
        post(monitor, minute_records(minute, rng=rng))
    assert monitor.incidents() == []  # an hour of normal traffic over 8 acquirers: no false alarm
    fired_at = None
    for minute in range(60, 80):
        result = post(monitor, minute_records(minute, rng=rng, boost=3))
        if fired_at is None and any(a["metric"] == "status:denied@acquirer=acq-07" for a in result.alerts):
            fired_at = minute
    assert fired_at is not None and fired_at - 60 <= 5, fired_at  # found within 5 minutes
    slice_incidents = [i for i in monitor.incidents() if i.details.get("slice")]
    assert [i.details["slice"] for i in slice_incidents] == ["acquirer=acq-07"]
    incident = slice_incidents[0]
    assert incident.title == "Denial spike at acquirer acq-07"
    assert "Denials at acquirer acq-07" in incident.summary
    contribution = incident.details["contributions"]["acquirer"][0]
    assert contribution["value"] == "acq-07" and contribution["share_of_excess"] > 0.5
    # No other acquirer alerted, and the global rule (a ~10% bump) did not open an incident.
    alerted = {a.metric for a in monitor.alerts()}
    assert alerted == {"status:denied@acquirer=acq-07"}


def test_a_global_spike_names_the_acquirer_that_carries_it(backend, clock):
    monitor = make(backend, clock, config(rules=(DENIED_GLOBAL,)))
    rng = random.Random(9)
    for minute in range(60):
        post(monitor, minute_records(minute, rng=rng))
    for minute in range(60, 75):  # acq-02 (20% of traffic) denies eight times as much: a global spike
        records = minute_records(minute, rng=rng)
        for record in records:
            if record["labels"]["acquirer"] == "acq-02" and record["status"] == "denied":
                record["count"] *= 8
        post(monitor, records)
    (incident,) = monitor.incidents()
    assert "slice" not in incident.details
    top = incident.details["contributions"]["acquirer"][0]
    assert top["value"] == "acq-02" and top["share_of_excess"] > 0.8
    assert incident.details["contributions"]["brand"][0]["value"] == "visa"  # acq-02's brand
    assert f"acquirer acq-02: {top['share_of_excess'] * 100:.0f}% of the extra denials" in incident.summary


def test_labels_leave_the_global_series_and_alerts_exactly_as_without_them(backend, clock):
    labelled, plain = make(backend, clock), make(backend, clock, store=backend.store(backend.new_target()))
    rng = random.Random(3)
    for minute in range(90):
        records = minute_records(minute, rng=rng, boost=8 if 50 <= minute < 60 else None)
        post(labelled, records)
        post(plain, strip(records))
    snap_a, snap_b = labelled.snapshot(90, recent_alerts=0), plain.snapshot(90, recent_alerts=0)
    assert dict(snap_a.counts) == dict(snap_b.counts)
    global_alerts = [(a.rule, a.metric, a.started_at, a.state) for a in labelled.alerts() if "@" not in a.metric]
    assert global_alerts == [(a.rule, a.metric, a.started_at, a.state) for a in plain.alerts()]
    assert global_alerts  # the boost made the global rule fire in both


def test_slices_survive_a_restart_and_are_pruned_with_the_window(backend, clock):
    monitor = make(backend, clock, window=60)
    for minute in range(50):
        post(monitor, minute_records(minute, volume=100))
    before = monitor.slice_counts("acquirer=acq-07", 50)
    pair = monitor.slice_counts("acquirer=acq-07,brand=elo", 50)
    assert before["counts"] == pair["counts"]  # acq-07 is all elo
    assert sum(before["counts"]["status:approved"]) > 0
    monitor.store.close()
    again = make(backend, clock, window=60)
    assert again.slice_counts("acquirer=acq-07", 50) == before
    assert again.dimensions()["acquirer"] == sorted(ACQUIRERS)
    for minute in range(50, 200):  # two windows later the first minutes are gone from memory
        post(again, minute_records(minute, volume=100))
    old = again.slice_counts("acquirer=acq-07", 60)
    assert old["start_minute"] == T0 + 140
    assert again.slices.held_between(T0, T0 + 139) == 0


def test_values_past_the_cap_fold_into_other_or_are_refused_and_change_nothing(backend, clock):
    monitor = make(backend, clock)
    records = [{"timestamp": timestamp(T0), "status": "approved", "count": 1, "labels": {"acquirer": f"acq-{i:02d}"}}
               for i in range(12)]
    post(monitor, records)
    assert monitor.dimensions()["acquirer"] == [*(f"acq-{i:02d}" for i in range(10)), "other"]
    assert monitor.slice_counts("acquirer=other", 1)["counts"]["status:approved"] == (2,)
    brands = [{"timestamp": timestamp(T0), "status": "approved", "count": 1, "labels": {"brand": b}}
              for b in ("visa", "elo", "amex", "master")]
    post(monitor, brands)
    before = backend.dump()
    with pytest.raises(RecordValidationError) as refused:
        post(monitor, [{"timestamp": timestamp(T0), "status": "approved", "count": 1, "labels": {"brand": "diners"}}])
    assert refused.value.errors[0].field == "labels.brand" and "max_values" in str(refused.value)
    assert backend.dump() == before
    assert monitor.dimensions()["brand"] == sorted(("visa", "elo", "amex", "master"))
    assert monitor.snapshot(1, recent_alerts=0).counts["status:approved"] == (16,)


@pytest.mark.parametrize(("labels", "field", "words"), [
    ({"issuer": "x"}, "labels.issuer", "unknown dimension"),
    ({"acquirer": 7}, "labels.acquirer", "must be a string"),
    ({"acquirer": ""}, "labels.acquirer", "must not be empty"),
    ({"acquirer": "x" * 65}, "labels.acquirer", "at most 64"),
    ({"acquirer": "a@b"}, "labels.acquirer", "printable ASCII"),
    ({"acquirer": "a;b"}, "labels.acquirer", "printable ASCII"),
    ({"acquirer": " a"}, "labels.acquirer", "space"),
    (["acquirer"], "labels", "must be an object"),
    ({"acquirer": "a", "brand": "b", "region": "c"}, "labels", "at most 2"),
])
def test_bad_labels_are_refused_naming_the_field(backend, clock, labels, field, words):
    monitor = make(backend, clock)
    with pytest.raises(RecordValidationError) as refused:
        post(monitor, [{"timestamp": timestamp(T0), "status": "approved", "count": 1},
                       {"timestamp": timestamp(T0), "status": "denied", "count": 1, "labels": labels}])
    error = refused.value.errors[0]
    assert (error.index, error.field) == (1, field) and words in error.message
    assert monitor.newest_event_minute() is None  # nothing of the batch was taken


def test_labels_without_configured_dimensions_are_refused(clock):
    monitor = Monitor(parse_thresholds({"version": 1, "rules": []}, "test"), clock=clock)
    with pytest.raises(RecordValidationError) as refused:
        validate_records([{"timestamp": timestamp(T0), "status": "approved", "count": 1, "labels": {"acquirer": "a"}}],
                         "status", DEFAULT_STATUSES, now=NOW, labels=None)
    assert refused.value.errors[0].field == "labels" and "no dimensions" in str(refused.value)
    assert monitor.dimensions() == {}


def test_a_slice_alert_resolves_and_its_state_survives_a_restart(backend, clock):
    monitor = make(backend, clock, config(rules=(DENIED_BY_ACQUIRER,)))
    rng = random.Random(11)
    for minute in range(30):
        post(monitor, minute_records(minute, rng=rng))
    for minute in range(30, 40):
        post(monitor, minute_records(minute, rng=rng, boost=5))
    (alert,) = [a for a in monitor.alerts("firing")]
    assert alert.metric == "status:denied@acquirer=acq-07" and alert.rule == "denied_by_acquirer"
    monitor.store.close()
    again = make(backend, clock, config(rules=(DENIED_BY_ACQUIRER,)))
    assert [a.id for a in again.snapshot(5).open_alerts] == [alert.id]
    for minute in range(40, 60):
        post(again, minute_records(minute, rng=rng))
    (resolved,) = again.alerts("resolved")
    assert resolved.id == alert.id and resolved.resolved_at is not None
    assert again.snapshot(5).open_alerts == ()


def test_the_breakdown_ranks_slices_by_excess_with_a_heatmap(backend, clock):
    monitor = make(backend, clock, config(rules=()))
    rng = random.Random(2)
    for minute in range(120):
        post(monitor, minute_records(minute, rng=rng, boost=4 if minute >= 100 else None))
    answer = monitor.breakdown("status:denied", "acquirer", minutes=20, top=3)
    assert answer["slices_total"] == 8 and len(answer["slices"]) == 3
    first = answer["slices"][0]
    assert first["value"] == "acq-07" and first["share_of_excess"] > 0.7
    assert first["observed"] == sum(answer["heatmap"]["counts"][0])
    assert answer["heatmap"]["values"][0] == "acq-07" and len(answer["heatmap"]["minutes"]) == 20
    assert answer["observed"] == sum(monitor.snapshot(20, recent_alerts=0).counts["status:denied"])
    with pytest.raises(ValueError, match="by: unknown dimension 'issuer'"):
        monitor.breakdown("status:denied", "issuer")
    with pytest.raises(ValueError, match="metric: unknown count"):
        monitor.breakdown("rate:denied", "acquirer")


def test_after_memory_is_rebuilt_each_slice_is_still_judged_on_its_own_counts(backend, clock):
    """A rebuild numbers the slice series anew (in the store's order, not arrival order): the judge must look
    every slice's rows up again, or acq-07's denials would be read from another series."""
    monitor = make(backend, clock, config(rules=(DENIED_BY_ACQUIRER,)))
    rng = random.Random(4)
    for minute in range(30):
        post(monitor, minute_records(minute, rng=rng))
    monitor.reload()
    for minute in range(30, 40):
        post(monitor, minute_records(minute, rng=rng, boost=5))
    assert {a.metric for a in monitor.alerts()} == {"status:denied@acquirer=acq-07"}


DENIED_BY_BRAND = {**DENIED_BY_ACQUIRER, "id": "denied_by_brand", "by": ["brand"]}


def test_one_event_moving_an_acquirer_and_its_brand_is_one_incident(backend, clock):
    monitor = make(backend, clock, config(rules=(DENIED_BY_ACQUIRER, DENIED_BY_BRAND, DENIED_GLOBAL)))
    rng = random.Random(21)
    for minute in range(60):
        post(monitor, minute_records(minute, rng=rng))
    for minute in range(60, 80):  # acq-07 (all elo) denies eight times as much: elo's denials rise with it
        post(monitor, minute_records(minute, rng=rng, boost=8))
    alerted = {a.metric for a in monitor.alerts()}
    assert {"status:denied@acquirer=acq-07", "status:denied@brand=elo"} <= alerted
    (incident,) = monitor.incidents()  # one page, however many series it moved
    assert set(incident.details.get("slices", ())) >= {"acquirer=acq-07", "brand=elo"}
    assert incident.details["contributions"]["acquirer"][0]["value"] == "acq-07"


def test_a_small_acquirer_failing_far_harder_than_the_platform_is_its_own_incident(backend, clock):
    monitor = make(backend, clock)
    rng = random.Random(13)
    for minute in range(60):
        post(monitor, minute_records(minute, rng=rng))
    for minute in range(60, 80):  # acq-02 (20%) x3 moves the platform; acq-08 (3%) x7 at the same time
        records = minute_records(minute, rng=rng)
        for record in records:
            if record["status"] == "denied":
                record["count"] *= {"acq-02": 3, "acq-08": 7}.get(record["labels"]["acquirer"], 1)
        post(monitor, records)
    incidents = monitor.incidents()
    own = [i for i in incidents if i.details.get("slice") == "acquirer=acq-08"]
    assert len(own) == 1 and own[0].title == "Denial spike at acquirer acq-08"
    platform = [i for i in incidents if i is not own[0]]
    assert len(platform) == 1 and "acquirer=acq-08" not in platform[0].details.get("slices", ())
    assert platform[0].details["contributions"]["acquirer"][0]["value"] == "acq-02"


def test_slices_moving_with_a_platform_spike_join_its_incident(backend, clock):
    monitor = make(backend, clock)
    rng = random.Random(17)
    for minute in range(60):
        post(monitor, minute_records(minute, rng=rng))
    for minute in range(60, 80):  # every acquirer's denials x3: one platform event, one page
        post(monitor, minute_records(minute, rng=rng, denial_rate=0.18))
    alerted = {a.metric for a in monitor.alerts()}
    assert len([m for m in alerted if "@acquirer=" in m]) >= 3
    (incident,) = monitor.incidents()
    assert {m.partition("@")[2] for m in alerted if "@" in m} <= set(incident.details["slices"])
