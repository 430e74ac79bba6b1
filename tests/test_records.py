"""Validation of incoming records: every way in goes through it, so every bad input must be named."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from detection.metrics import DEFAULT_AUTH_CODES, DEFAULT_STATUSES, datetime_to_minute
from detection.records import RecordValidationError, parse_timestamp, validate_records

NOW = datetime(2025, 7, 12, 14, 0, tzinfo=UTC).timestamp()
M1345 = datetime_to_minute(datetime(2025, 7, 12, 13, 45))


@pytest.mark.parametrize(
    "text, minute",
    [
        ("2025-07-12 13:45:00", M1345),
        ("2025-07-12T13:45:00", M1345),
        ("2025-07-12T13:45:59", M1345),  # truncated to the minute
        ("2025-07-12T13:45:00Z", M1345),
        ("2025-07-12T15:45:00+02:00", M1345),  # offsets are converted to UTC
        ("2025-07-12T09:45:00-04:00", M1345),
        (M1345 * 60 + 30, M1345),  # epoch seconds
    ],
)
def test_timestamps_in_every_style_land_on_the_same_utc_minute(text, minute):
    assert parse_timestamp(text) == minute


@pytest.mark.parametrize(
    "record, field, words",
    [
        ({"status": "failed", "count": 1}, "timestamp", "is required"),
        ({"timestamp": "yesterday", "status": "failed", "count": 1}, "timestamp", "could not parse"),
        ({"timestamp": "2025-07-12 14:06:00", "status": "failed", "count": 1}, "timestamp", "in the future"),
        ({"timestamp": True, "status": "failed", "count": 1}, "timestamp", "boolean"),
        ({"timestamp": "2025-07-12 13:45:00", "count": 1}, "status", "is required"),
        ({"timestamp": "2025-07-12 13:45:00", "status": "processing", "count": 1}, "status", "unknown status 'processing'"),
        ({"timestamp": "2025-07-12 13:45:00", "status": 3, "count": 1}, "status", "must be a string"),
        ({"timestamp": "2025-07-12 13:45:00", "status": "failed"}, "count", "is required"),
        ({"timestamp": "2025-07-12 13:45:00", "status": "failed", "count": -1}, "count", "non-negative integer"),
        ({"timestamp": "2025-07-12 13:45:00", "status": "failed", "count": 1.5}, "count", "non-negative integer"),
        ({"timestamp": "2025-07-12 13:45:00", "status": "failed", "count": "3"}, "count", "non-negative integer"),
        ({"timestamp": "2025-07-12 13:45:00", "status": "failed", "count": True}, "count", "non-negative integer"),
    ],
)
def test_each_bad_field_is_named(record, field, words):
    good = {"timestamp": "2025-07-12 13:45:00", "status": "approved", "count": 5}
    with pytest.raises(RecordValidationError) as caught:
        validate_records([good, record], "status", DEFAULT_STATUSES, now=NOW)
    errors = caught.value.errors
    assert [(e.index, e.field) for e in errors] == [(1, field)]
    assert words in errors[0].message
    assert f"record 1, field '{field}'" in str(caught.value)


def test_a_batch_with_several_errors_lists_them_all_and_counts_the_rest():
    bad = [{"timestamp": "2025-07-12 13:45:00", "status": "nope", "count": 1}] * 30
    with pytest.raises(RecordValidationError) as caught:
        validate_records(bad, "status", DEFAULT_STATUSES, now=NOW)
    assert caught.value.total_errors == 30
    assert len(caught.value.errors) == 20  # capped, so an error answer stays small
    assert "(and 29 more)" in str(caught.value)


def test_auth_codes_stay_strings_and_an_integer_code_is_refused():
    records = validate_records(
        [{"timestamp": "2025-07-12 13:45:00", "auth_code": "00", "count": 116}], "auth_code", DEFAULT_AUTH_CODES, now=NOW
    )
    assert records[0].metric == "auth_code:00"
    with pytest.raises(RecordValidationError) as caught:
        validate_records([{"timestamp": "2025-07-12 13:45:00", "auth_code": 0, "count": 1}], "auth_code", DEFAULT_AUTH_CODES, now=NOW)
    assert caught.value.errors[0].field == "auth_code"


@pytest.mark.parametrize("payload", [[], "text", 3, None, [1, 2]])
def test_payloads_that_are_not_records_are_refused(payload):
    with pytest.raises(RecordValidationError):
        validate_records(payload, "status", DEFAULT_STATUSES, now=NOW)


def test_a_single_object_is_one_record_and_errors_carry_no_index():
    records = validate_records({"timestamp": "2025-07-12 13:45:00", "status": "failed", "count": 3}, "status", DEFAULT_STATUSES, now=NOW)
    assert [(r.metric, r.minute, r.count) for r in records] == [("status:failed", M1345, 3)]
    with pytest.raises(RecordValidationError) as caught:
        validate_records({"timestamp": "2025-07-12 13:45:00", "status": "failed", "count": -3}, "status", DEFAULT_STATUSES, now=NOW)
    assert caught.value.errors[0].index is None


def test_an_old_export_from_last_year_is_valid():
    records = validate_records([{"timestamp": "2024-01-01 00:00:00", "status": "failed", "count": 1}], "status", DEFAULT_STATUSES, now=NOW)
    assert records[0].minute == datetime_to_minute(datetime(2024, 1, 1))
