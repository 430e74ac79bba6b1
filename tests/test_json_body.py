"""Bodies as JSON: the nesting-depth walk agrees with a plain recursive count, and the limits sit exactly where documented."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from api.json_body import MAX_JSON_DEPTH, nested_deeper_than

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=3),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=3), inner, max_size=4),
    max_leaves=30,
)


def depth(value) -> int:
    if isinstance(value, list):
        return 1 + max((depth(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((depth(v) for v in value.values()), default=0)
    return 0


@settings(max_examples=300, deadline=None)
@given(JSON_VALUES, st.integers(min_value=0, max_value=8))
def test_the_depth_walk_agrees_with_a_recursive_count(value, limit):
    assert nested_deeper_than(value, limit) == (depth(value) > limit)


def nested(levels: int) -> list:
    value: list = []
    for _ in range(levels - 1):
        value = [value]
    return value


def test_a_batch_of_records_is_two_levels_deep():
    batch = [{"timestamp": "2025-07-12 13:45:00", "status": "failed", "count": 1}] * 1000
    assert not nested_deeper_than(batch, 2) and nested_deeper_than(batch, 1)


@pytest.mark.parametrize("path", ["/api/transaction", "/api/auth_code", "/api/silences"])
def test_32_levels_reach_validation_and_33_are_refused_as_json(client, path):
    at_limit = client.post(path, data=json.dumps(nested(MAX_JSON_DEPTH)), content_type="application/json")
    assert at_limit.status_code == 422  # parsed, then refused by the route's own checks
    over = client.post(path, data=json.dumps(nested(MAX_JSON_DEPTH + 1)), content_type="application/json")
    assert over.status_code == 400 and over.get_json()["error"] == "invalid_json"
    assert "more than 32 levels" in over.get_json()["message"]


def test_a_record_with_a_nested_extra_field_within_the_limit_is_accepted(client):
    record = {"timestamp": "2025-07-12 13:45:00", "status": "failed", "count": 1, "note": nested(MAX_JSON_DEPTH - 2)}
    assert client.post("/api/transaction", json=[record]).status_code == 201

