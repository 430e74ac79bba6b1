"""A slice's sparse metric that first appears after the slice itself (its first backend reversal) is judged."""

from __future__ import annotations

from detection import Monitor, MonitorSettings, Store, validate_records
from detection.thresholds import load_thresholds, parse_thresholds

START = 29_210_400


def test_a_slice_rule_sees_a_metric_that_appears_after_the_slice():
    config = load_thresholds().to_config()
    config["dimensions"] = {"acquirer": {"max_values": 20}}
    config.pop("dimension_pairs", None)
    config["rules"] = [{"id": "backend_reversed_by_acquirer", "type": "poisson_tail",
                        "metric": "status:backend_reversed", "per": "status:approved", "by": ["acquirer"],
                        "ratio": 0.0003, "window": 5, "p_value": 1e-6, "min_count": 4, "dispersion": None,
                        "severity": "warning", "for": 1, "resolve": 5}]
    thresholds = parse_thresholds(config, "sparse")
    now = [0.0]
    monitor = Monitor(thresholds, Store(":memory:"), MonitorSettings(), clock=lambda: now[0])
    labels = {"acquirer": "acq-04"}

    def post(minute: int, reversals: int) -> None:
        now[0] = (minute + 1) * 60 + 5
        rows = [{"timestamp": minute * 60, "status": "approved", "count": 100, "labels": labels}]
        if reversals:
            rows.append({"timestamp": minute * 60, "status": "backend_reversed", "count": reversals, "labels": labels})
        monitor.ingest(validate_records(rows, "status", thresholds.statuses, now=now[0], labels=monitor.labels))

    for minute in range(START, START + 10):  # the slice exists, without a single backend reversal
        post(minute, 0)
    for minute in range(START + 10, START + 20):  # then a burst: 10 a minute against 0.03 expected
        post(minute, 10)
    fired = [a for a in monitor.alerts() if a.rule == "backend_reversed_by_acquirer"]
    assert [a.metric for a in fired] == ["status:backend_reversed@acquirer=acq-04"]
