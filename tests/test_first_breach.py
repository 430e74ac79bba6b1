"""Every rule's fast skip-ahead (first_breach) finds exactly the minute judge() would: the engine relies on it."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from detection import load_thresholds
from detection.drop_rule import DropRule
from detection.metrics import DEFAULT_STATUSES
from detection.series import MinuteSeries
from detection.stat_rules import PoissonTailRule, RateRule
from detection.store import decode_counts, encode_counts

RULES = [
    *load_thresholds().rules,  # the built-in defaults, whatever analysis learned
    PoissonTailRule(rule_id="tail", metric="status:failed", ratio=0.001, per="status:approved", window=5,
                    p_value=1e-4, min_count=2),
    RateRule(rule_id="share_low", metric="rate:approved", direction="below", baseline=0.9, window=3,
             p_value=1e-3, min_count=0),
    DropRule(rule_id="drop", metric="status:approved", window=2, reference=20, max_ratio=0.6, min_level=10),
]

minute_counts = st.fixed_dictionaries({
    "approved": st.integers(0, 150), "denied": st.integers(0, 60), "failed": st.integers(0, 8),
    "backend_reversed": st.integers(0, 6), "reversed": st.integers(0, 6), "refunded": st.integers(0, 6),
    "00": st.integers(0, 150), "51": st.integers(0, 40), "59": st.integers(0, 40),
})


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.none(), minute_counts), min_size=1, max_size=120), st.integers(0, 30))
def test_first_breach_agrees_with_judge(minutes, start):
    series = MinuteSeries(DEFAULT_STATUSES)
    for minute, counts in enumerate(minutes):
        if counts is None:
            continue  # a feed gap
        for key, count in counts.items():
            feed, metric = ("auth_code", f"auth_code:{key}") if key.isdigit() else ("status", f"status:{key}")
            series.add(feed, metric, minute, count)
    received = sorted(series.received_of("status"))
    start = min(start, len(received))
    for rule in RULES:
        expected = next((i for i in range(start, len(received)) if rule.judge(series, received[i]).breach), None)
        assert rule.first_breach(series, received, start) == expected, rule.id


@given(st.dictionaries(st.from_regex(r"(status|auth_code):[A-Za-z0-9_.-]+", fullmatch=True), st.integers(0, 10**9)))
def test_stored_counts_decode_to_what_was_encoded(counts):
    assert decode_counts(encode_counts(counts)) == counts
