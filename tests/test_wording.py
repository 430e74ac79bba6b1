"""Alert wording: each rule type's message names the metric in words with the observed and the expected value,
and its detail holds the statistics (window, tail probability or z, minimum count, the limit it fired at)."""

from __future__ import annotations

import pytest

from detection import Monitor, MonitorSettings, Store, parse_thresholds, validate_records, wording
from detection.metrics import DEFAULT_STATUSES, metric_name

from .support import START_MINUTE as T0
from .support import builtin_rule, timestamp, two_figures

NOW = (T0 + 10_000) * 60.0
CODES = ("00", "51", "59")


def monitor_with(clock, *rules):
    thresholds = parse_thresholds({"version": 1, "no_data": {"after_minutes": 0}, "rules": list(rules)}, "test")
    return Monitor(thresholds, Store(":memory:"), MonitorSettings(), clock=clock)


def feed(monitor, minutes, feed_name="status"):
    """Post one minute at a time: ``minutes`` is a list of {status or code: count}."""
    allowed = DEFAULT_STATUSES if feed_name == "status" else CODES
    for offset, counts in enumerate(minutes):
        records = [{"timestamp": timestamp(T0 + offset), feed_name: key, "count": c} for key, c in counts.items()]
        monitor.ingest(validate_records(records, feed_name, allowed, now=NOW))


def only_alert(monitor, rule_id):
    (alert,) = [a for a in monitor.alerts("all") if a.rule == rule_id]
    return alert


def test_a_sparse_count_reads_as_a_count_in_its_window_against_what_was_expected(clock):
    rule = {"id": "failed_high", "type": "poisson_tail", "metric": "status:failed", "per": "status:approved",
            "ratio": 0.001, "window": 5, "p_value": 1e-4, "min_count": 3}
    monitor = monitor_with(clock, rule)
    feed(monitor, [{"approved": 100, "failed": 0}] * 10 + [{"approved": 100, "failed": 7}]
         + [{"approved": 100, "failed": 0}] * 3)
    alert = only_alert(monitor, "failed_high")
    # 7 failures in the 5-minute window, against 0.1 per 100 approvals x 500 approvals = 0.5 expected.
    assert alert.message == "Failed transactions: 7 in 5 min, about 0.5 expected"
    # Poisson(0.5): P(X >= 6) <= 1e-4 is the first count that far out (scipy.stats.poisson.sf agrees).
    assert alert.detail == ("7 in a 5-min window against 0.5 expected (0.1 per 100 approvals); fires at 6 or more: "
                            "at least 3 and an upper-tail probability of at most 0.0001 (Poisson)")


def test_a_busier_count_reads_as_a_rate_against_its_normal_with_how_many_times_it_is(clock):
    rule = {"id": "auth_51_high", "type": "poisson_tail", "metric": "auth_code:51", "per": "auth_code:00",
            "ratio": 0.03, "window": 2, "p_value": 1e-4, "min_count": 8, "dispersion": 20}
    monitor = monitor_with(clock, rule)
    normal = {"00": 100, "51": 3}
    feed(monitor, [normal] * 10 + [{"00": 100, "51": 40}] * 2 + [normal] * 3, "auth_code")
    alert = only_alert(monitor, "auth_51_high")
    # The worst window: 80 in 2 min against 3 per 100 code 00 x 200 = 6 expected, 13.3 times as many.
    assert alert.message == "Denials (code 51 insufficient funds): 40/min, about 3/min normally (13x)"
    assert alert.detail == ("80 in a 2-min window against 6 expected (3 per 100 code 00); fires at 21 or more: "
                            "at least 8 and an upper-tail probability of at most 0.0001 (negative binomial, size 20)")


def test_a_share_reads_as_a_percentage_of_transactions_against_its_usual_share(clock):
    rule = {"id": "denied_share_high", "type": "rate", "metric": "rate:denied", "direction": "above",
            "baseline": 0.05, "window": 2, "p_value": 1e-4, "min_count": 5}
    monitor = monitor_with(clock, rule)
    normal = {"approved": 95, "denied": 5}
    feed(monitor, [normal] * 10 + [{"approved": 40, "denied": 60}] * 2 + [normal] * 3)
    alert = only_alert(monitor, "denied_share_high")
    assert alert.message == "Denied share: 60% of transactions, usually 5%"
    # 200 transactions in the worst window: Poisson(10) first passes 1e-4 at 25, i.e. 12.5% of them.
    assert alert.detail == ("60% over a 2-min window against a usual 5%; fires at 12.5% or more: at least 5 denials "
                            "and an upper-tail probability of at most 0.0001 (Poisson)")


@pytest.mark.parametrize(("profile", "expected_words", "baseline"), [
    (100, "about 100/min expected (-50%)", "flat"),
    ([100] * 24, "about 100/min expected at this hour (-50%)", "hour-of-day"),
])
def test_a_level_against_its_baseline_reads_as_a_change_in_percent(clock, profile, expected_words, baseline):
    rule = {"id": "approved_low", "type": "seasonal", "metric": "status:approved", "direction": "below",
            "profile": profile, "window": 5, "z": 3, "relative_sd": 0.1, "min_change": 0.2}
    monitor = monitor_with(clock, rule)
    feed(monitor, [{"approved": 100}] * 10 + [{"approved": 50}] * 5 + [{"approved": 100}] * 8)
    alert = only_alert(monitor, "approved_low")
    assert alert.message == f"Approvals: 50/min, {expected_words}"
    # Limit: 500 - 3 * sqrt(500 + (0.1 * 500)^2) = 335.7 in the window, 67/min.
    assert alert.detail == (f"50/min over a 5-min window against 100/min from the {baseline} baseline; fires below "
                            "67/min: more than 3 sd (Poisson noise plus 10% of the level) and at least 20% away")


def test_a_static_limit_on_a_share_reads_in_percent(clock):
    rule = {"id": "denied_share_over", "type": "threshold", "metric": "rate:denied", "direction": "above",
            "threshold": 0.2, "recovery": 0.1}
    monitor = monitor_with(clock, rule)
    feed(monitor, [{"approved": 95, "denied": 5}] * 3 + [{"approved": 40, "denied": 60}] + [{"approved": 95, "denied": 5}] * 6)
    alert = only_alert(monitor, "denied_share_over")
    assert alert.message == "Denied share: 60% of transactions, above the limit of 20%"
    assert alert.detail == "60% of the minute's transactions; fires above 20%, clean again at or below 10%"


def test_a_gap_in_the_auth_code_feed_names_that_feed(clock):
    monitor = monitor_with(clock)
    counts = {"00": 100, "51": 2, "59": 2}
    for offset in (0, 1, 5):  # minutes 2, 3 and 4 never arrive
        feed_at = [{"timestamp": timestamp(T0 + offset), "auth_code": k, "count": c} for k, c in counts.items()]
        monitor.ingest(validate_records(feed_at, "auth_code", CODES, now=NOW))
    alert = only_alert(monitor, "feed_gap")
    assert alert.message == "No auth-code counts received for 3 min (00:02 to 00:04 UTC)"
    assert alert.detail == ("event-time minutes 2025-07-12T00:02:00Z to 2025-07-12T00:04:00Z missing from the "
                            "auth-code feed while later minutes arrived; they were not judged")


def test_the_api_shows_the_plain_message_and_the_statistics_apart(client):
    for minute in range(6):
        records = [{"timestamp": timestamp(T0 + minute), "status": "approved", "count": 100},
                   {"timestamp": timestamp(T0 + minute), "status": "failed", "count": 4 if minute == 4 else 0}]
        assert client.post("/api/transaction", json=records).status_code == 201
    (alert,) = client.get("/api/alerts?state=all").json["alerts"]
    # The built-in failed_high rule: 4 failures against its ratio (per approval) x 500 approvals.
    ratio = builtin_rule("failed_high")["ratio"]
    expected, per_100 = two_figures(ratio * 500), two_figures(ratio * 100)
    assert alert["message"] == f"Failed transactions: 4 in 5 min, about {expected} expected"
    assert alert["detail"] == (f"4 in a 5-min window against {expected} expected ({per_100} per 100 approvals); fires at 3 "
                               "or more: at least 3 and an upper-tail probability of at most 2.5e-05 (Poisson)")


@pytest.mark.parametrize(("metric", "name"), [
    ("status:approved", "approvals"),
    ("status:denied", "denials"),
    ("status:failed", "failed transactions"),
    ("status:backend_reversed", "backend reversals"),
    ("status:refunded", "refunds"),
    ("status:processing", "processing transactions"),  # a status a configuration adds
    ("auth_code:00", "approvals (code 00)"),
    ("auth_code:51", "denials (code 51 insufficient funds)"),
    ("auth_code:59", "denials (code 59 suspected fraud)"),
    ("auth_code:05", "auth code 05"),
    ("rate:denied", "denied share"),
    ("feed:status", "transactions"),
    ("feed:auth_code", "auth-code counts"),
])
def test_every_metric_has_a_plain_name(metric, name):
    assert metric_name(metric) == name


@pytest.mark.parametrize(("value", "text"), [
    (112.4, "110"), (38.0, "38"), (4.2, "4.2"), (0.31, "0.31"), (0.0437, "0.044"), (0.0, "0"), (1234.0, "1200"),
])
def test_rates_keep_two_significant_figures(value, text):
    assert wording.rate(value) == text


@pytest.mark.parametrize(("share", "text"), [
    (0.36, "36%"), (0.047, "5%"), (0.004, "0.4%"), (0.00437, "0.4%"), (0.0, "0%"), (1.0, "100%"),
])
def test_percentages_are_whole_except_below_one_percent(share, text):
    assert wording.percent(share) == text


@pytest.mark.parametrize(("value", "expected", "change", "times"), [
    (52, 110, "-53%", "0.47x"), (38, 4.2, "+805%", "9x"), (100, 100, "+0%", "1x"),
])
def test_changes_are_signed_whole_percentages_and_multiples_two_figures(value, expected, change, times):
    assert wording.change(value, expected) == change
    assert wording.times(value, expected) == times


@pytest.mark.parametrize(("silent", "last", "text"), [
    (7.4, T0 + 17 * 60 + 9, "No transactions received for 7 min (last data 17:09 UTC)"),
    (2.0, None, "No transactions received for 2 min (nothing received yet)"),
])
def test_a_silent_feed_says_for_how_long_and_when_data_last_came(silent, last, text):
    assert wording.no_data_message("feed:status", silent, last) == text


def test_a_share_rules_statistics_keep_three_significant_figures():
    text = wording.share_detail(0.123456, 5, 0.0712345, 0.1254321, "above", 5, 1e-4, None, "status:denied")
    assert text == ("12.3% over a 5-min window against a usual 7.12%; fires at 12.5% or more: at least 5 denials and "
                    "an upper-tail probability of at most 0.0001 (Poisson)")
