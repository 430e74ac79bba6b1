"""The hostile-client table: requests that must each get a 4xx JSON error naming the problem and change nothing.

Shared by the in-process test (Flask's test client) and the real-server test (HTTP,
then ``kill -9``). Every body is raw bytes, so nothing on the way re-encodes it.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import time
from dataclasses import dataclass

from detection.metrics import epoch_to_iso

BASE = "2025-07-12 13:45:00"  # the minute the baseline data is in
BEFORE = "2025-07-12 13:44:00"
GOOD = {"timestamp": BASE, "status": "failed", "count": 3}
TRANSACTION, AUTH_CODE, SILENCES, DASH = "/api/transaction", "/api/auth_code", "/api/silences", "/_dash-update-component"
DAY = 24 * 3600


@dataclass(frozen=True)
class Case:
    name: str
    path: str
    body: bytes
    status: int
    error: str
    field: str | None = None  # must be named in the error's details
    words: str = ""  # must be in the error's message
    content_type: str | None = "application/json"
    headers: dict[str, str] = dataclasses.field(default_factory=dict)


def raw(value: object) -> bytes:
    return json.dumps(value).encode()


def record(**fields: object) -> bytes:
    return raw(dict(GOOD, **fields))


def silence(**fields: object) -> bytes:
    return raw({"matchers": {"rule": "failed_high"}, "ends_at": time.time() + DAY, **fields})


def deep(levels: int) -> bytes:
    return b"[" * levels + b"]" * levels


BIG_INT = "1" * 5_000  # past Python's 4,300-digit limit for int()
DEEP = deep(20_000)  # past the recursion limit of json, and under the 64 KB of a silence
DASH_BODY = '{"output": "x", "outputs": {"id": "x", "property": "children"}, "inputs": [], "changedPropIds": [], "state": %s}'

# The baseline: a normal minute, plus a metric at the per-minute ceiling (10 x 1,000,000).
SETUP = [
    (TRANSACTION, raw([GOOD, dict(GOOD, status="approved", count=100)])),
    (TRANSACTION, raw([dict(GOOD, status="refunded", count=1_000_000)] * 10)),
    (AUTH_CODE, raw({"timestamp": BASE, "auth_code": "00", "count": 100})),
]


def cases() -> list[Case]:
    """Built when called: silence times are relative to now."""
    now = time.time()
    table = [
        # -- issue 1's bad-input table (tests/test_api.py) --
        Case("not json", TRANSACTION, b"{not json", 400, "invalid_json", words="not valid JSON"),
        Case("text/plain", TRANSACTION, raw(GOOD), 415, "unsupported_media_type", words="application/json", content_type="text/plain"),
        Case("no content type", TRANSACTION, raw(GOOD), 415, "unsupported_media_type", words="application/json", content_type=None),
        Case("body over 3 MB", TRANSACTION, raw([dict(GOOD, note="x" * 600)] * 5_000), 413, "payload_too_large", words="3000000 bytes"),
        Case("10,001 records", TRANSACTION, raw([GOOD] * 10_001), 413, "too_many_records", words="at most 10000"),
        Case("missing timestamp", TRANSACTION, raw([GOOD, {"status": "failed", "count": 1}]), 422, "invalid_records", "timestamp", "is required"),
        Case("timestamp a list", TRANSACTION, raw([GOOD, dict(GOOD, timestamp=[1])]), 422, "invalid_records", "timestamp"),
        Case("negative count", TRANSACTION, record(count=-1), 422, "invalid_records", "count", "non-negative integer"),
        Case("fractional count", TRANSACTION, record(count=2.5), 422, "invalid_records", "count"),
        Case("count as text", TRANSACTION, record(count="3"), 422, "invalid_records", "count"),
        Case("unknown status", TRANSACTION, record(status="processing"), 422, "invalid_records", "status", "unknown status 'processing'"),
        Case("a 100,000-character status", TRANSACTION, record(status="s" * 100_000), 422, "invalid_records", "status", "unknown status"),
        Case("a 100,000-element count", TRANSACTION, record(count=[1] * 100_000), 422, "invalid_records", "count", "got an array"),
        Case("null status", TRANSACTION, record(status=None), 422, "invalid_records", "status"),
        Case("unparseable timestamp", TRANSACTION, record(timestamp="12/07/2025"), 422, "invalid_records", "timestamp", "could not parse"),
        Case("timestamp in 2099", TRANSACTION, record(timestamp="2099-01-01 00:00:00"), 422, "invalid_records", "timestamp", "in the future"),
        Case("empty array", TRANSACTION, raw([]), 422, "invalid_records", words="empty"),
        Case("a string", TRANSACTION, raw("failed"), 422, "invalid_records", words="expected a JSON object"),
        Case("auth code as number", AUTH_CODE, raw({"timestamp": BASE, "auth_code": 51, "count": 1}), 422, "invalid_records", "auth_code", "must be a string"),
        Case("unknown auth code", AUTH_CODE, raw({"timestamp": BASE, "auth_code": "05", "count": 1}), 422, "invalid_records", "auth_code", "unknown auth_code '05'"),
        Case("idempotency key too long", TRANSACTION, raw(GOOD), 400, "invalid_idempotency_key", words="Idempotency-Key",
             headers={"Idempotency-Key": "k" * 256}),
        # -- issue 8: timestamps outside 1970 .. now + 5 minutes, or malformed (findings 1, 2, 6) --
        Case("year 1900", TRANSACTION, record(timestamp="1900-01-01 00:00:00"), 422, "invalid_records", "timestamp", "1970-01-01T00:00:00Z"),
        Case("epoch -1e15 on auth codes", AUTH_CODE, raw({"timestamp": -1e15, "auth_code": "51", "count": 1}), 422, "invalid_records",
             "timestamp", "1970-01-01T00:00:00Z"),
        Case("epoch -1e300", TRANSACTION, record(timestamp=-1e300), 422, "invalid_records", "timestamp", "1970-01-01T00:00:00Z"),
        Case("epoch 1e300", TRANSACTION, record(timestamp=1e300), 422, "invalid_records", "timestamp", "1970-01-01T00:00:00Z"),
        Case("epoch 10**400", TRANSACTION, record(timestamp=10**400), 422, "invalid_records", "timestamp", "in the future"),
        Case("epoch -1", TRANSACTION, record(timestamp=-1), 422, "invalid_records", "timestamp", "before 1970"),
        Case("year 9999", TRANSACTION, record(timestamp="9999-12-31 23:59:59"), 422, "invalid_records", "timestamp", "in the future"),
        Case("year 9999 at -14:00", TRANSACTION, record(timestamp="9999-12-31T23:59:59-14:00"), 422, "invalid_records", "timestamp", "in the future"),
        Case("NUL after the timestamp", TRANSACTION, record(timestamp=BASE + "\x00"), 422, "invalid_records", "timestamp", "control character"),
        Case("tab in the timestamp", TRANSACTION, record(timestamp="2025-07-12\t13:45:00"), 422, "invalid_records", "timestamp", "control character"),
        Case("65-character timestamp", TRANSACTION, record(timestamp=BASE + " " * 46), 422, "invalid_records", "timestamp", "at most 64"),
        Case("older than the memory window", TRANSACTION, record(timestamp="2025-07-01 00:00:00"), 422, "invalid_records", "timestamp",
             "older than the newest event"),
        # -- counts with a ceiling (finding 4) --
        Case("count 10**30", TRANSACTION, record(count=10**30), 422, "invalid_records", "count", "at most 1,000,000"),
        Case("count 2**63", AUTH_CODE, raw({"timestamp": BASE, "auth_code": "51", "count": 2**63}), 422, "invalid_records", "count", "at most 1,000,000"),
        Case("count 1,000,001", TRANSACTION, record(count=1_000_001), 422, "invalid_records", "count", "at most 1,000,000"),
        Case("a full minute", TRANSACTION, record(status="refunded", count=1), 422, "invalid_records", "count", "at most 10,000,000"),
        Case("a batch past the minute ceiling", TRANSACTION, raw([dict(GOOD, timestamp=BEFORE, status="reversed", count=1_000_000)] * 11),
             422, "invalid_records", "count", "record 10"),
        # -- silences (finding 3) --
        Case("silence ends 1e300", SILENCES, silence(ends_at=1e300), 422, "invalid_silence", "ends_at", "365 days"),
        Case("silence ends 10**30", SILENCES, silence(ends_at=10**30), 422, "invalid_silence", "ends_at", "365 days"),
        Case("silence ends 10**400", SILENCES, silence(ends_at=10**400), 422, "invalid_silence", "ends_at", "365 days"),
        Case("silence ends 9999 at -14:00", SILENCES, silence(ends_at="9999-12-31T23:59:59-14:00"), 422, "invalid_silence", "ends_at"),
        Case("silence ends in 400 days", SILENCES, silence(ends_at=epoch_to_iso(now + 400 * DAY)), 422, "invalid_silence", "ends_at"),
        Case("silence already ended", SILENCES, silence(ends_at="2001-01-01T00:00:00Z"), 422, "invalid_silence", "ends_at"),
        Case("silence starts in 1900", SILENCES, silence(starts_at="1900-01-01T00:00:00Z"), 422, "invalid_silence", "starts_at", "1970"),
        Case("silence time with NUL", SILENCES, silence(ends_at=epoch_to_iso(now + DAY) + "\x00"), 422, "invalid_silence", "ends_at"),
        Case("lone surrogate in comment", SILENCES, silence(comment="\ud800"), 422, "invalid_silence", "comment", "surrogate"),
        Case("lone surrogate in created_by", SILENCES, silence(created_by="ana\udfff"), 422, "invalid_silence", "created_by"),
        Case("NUL in created_by", SILENCES, silence(created_by="\x00"), 422, "invalid_silence", "created_by", "control"),
        Case("comment of 1,001 characters", SILENCES, silence(comment="c" * 1_001), 422, "invalid_silence", "comment", "1000"),
        Case("created_by of 201 characters", SILENCES, silence(created_by="a" * 201), 422, "invalid_silence", "created_by", "200"),
        Case("matcher with a control character", SILENCES, silence(matchers={"rule": "failed\x07high"}), 422, "invalid_silence", "matchers.rule"),
        Case("matcher of 201 characters", SILENCES, silence(matchers={"rule": "r" * 201}), 422, "invalid_silence", "matchers.rule", "200"),
        Case("silence body over 64 KB", SILENCES, silence(comment="c" * 70_000), 413, "payload_too_large", words="64000 bytes"),
        Case("silence not json", SILENCES, b"{nope", 400, "invalid_json", words="not valid JSON"),
        # -- 500 instead of 400 (finding 5): every POST route, Dash's too --
        Case("dash not json", DASH, b"{nope", 400, "invalid_json", words="not valid JSON"),
        Case("dash body over 1 MB", DASH, (DASH_BODY % json.dumps(["x" * 1_100_000])).encode(), 413, "payload_too_large", words="1000000 bytes"),
    ]
    for path, valid in ((TRANSACTION, record(count=1)), (AUTH_CODE, raw({"timestamp": BASE, "auth_code": "00", "count": 1})),
                        (SILENCES, silence()), (DASH, (DASH_BODY % "null").encode())):
        route = path.rsplit("/", 1)[-1]
        table += [
            Case(f"{route}: 20,000 levels deep", path, DEEP, 400, "invalid_json", words="levels deep"),
            Case(f"{route}: 33 levels deep", path, deep(33), 400, "invalid_json", words="at most 32"),
            Case(f"{route}: a 5,000-digit integer", path, valid[:-1] + b', "n": ' + BIG_INT.encode() + b"}", 400, "invalid_json",
                 words="4300 digits"),
            Case(f"{route}: NaN", path, valid[:-1] + b', "n": NaN}', 400, "invalid_json", words="NaN"),
            Case(f"{route}: 1e999", path, valid[:-1] + b', "n": 1e999}', 400, "invalid_json", words="too large"),
        ]
    return table


def dump(db_path: str) -> dict[str, list]:
    """Every row of every table, to prove a refused request changed nothing."""
    with sqlite3.connect(db_path) as conn:
        tables = [t for (t,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        rows = {t: sorted(conn.execute(f"SELECT * FROM {t}").fetchall(), key=repr) for t in tables}
    conn.close()
    return rows


def check_answer(case: Case, status: int, body: dict, text: str) -> None:
    """The answer a hostile request must get: its status, a JSON error naming the field, no stack trace."""
    assert status == case.status, f"{case.name}: {status} {text[:300]}"
    assert body["error"] == case.error, f"{case.name}: {body}"
    assert case.words in body["message"], f"{case.name}: {body['message']!r} lacks {case.words!r}"
    if case.field is not None:
        assert case.field in [d["field"] for d in body["details"]], f"{case.name}: {body['details']}"
        assert case.field in body["message"]
    assert "Traceback" not in text
    assert len(text) < 5_000, f"{case.name}: the answer echoes the request ({len(text)} characters)"
