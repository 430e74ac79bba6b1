"""The OpenAPI 3 document of the REST API, served at /api/openapi.json."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from detection.alerts import SEVERITIES
from detection.breakdown import MAX_BREAKDOWN_MINUTES, MAX_TOP
from detection.delivery_log import OUTCOMES
from detection.incident_actions import LABELS
from detection.incidents import INCIDENT_STATES, KINDS
from detection.slices import LABEL_PATTERN, MAX_DIMENSIONS, MAX_LABEL_CHARS

from .limits import (
    MAX_ACTION_BODY_BYTES,
    MAX_AHEAD_SECONDS,
    MAX_BODY_BYTES,
    MAX_BY,
    MAX_COMMENT,
    MAX_CREATED_BY,
    MAX_FUTURE_SECONDS,
    MAX_IDEMPOTENCY_KEY,
    MAX_INCIDENT_ID,
    MAX_INCIDENT_LIMIT,
    MAX_JSON_DEPTH,
    MAX_LABEL_LIMIT,
    MAX_LIMIT,
    MAX_MATCHER_VALUE,
    MAX_MINUTE_COUNT,
    MAX_NOTES,
    MAX_REASON,
    MAX_RECORD_COUNT,
    MAX_RECORDS,
    MAX_SILENCE_BODY_BYTES,
    MAX_TEXT,
    MAX_TIMESTAMP_CHARS,
    SILENCE_DURATIONS_MINUTES,
)

# Every number the document states is read from the constant the code enforces (api/limits.py).
MAX_COUNT = MAX_RECORD_COUNT
MAX_TIMESTAMP_LENGTH = MAX_TIMESTAMP_CHARS
MAX_FUTURE_MINUTES = MAX_FUTURE_SECONDS // 60
MAX_SILENCE_DAYS = MAX_AHEAD_SECONDS // 86_400
ALERT_STATES = ["firing", "pending", "resolved", "all"]
SILENCE_STATUSES = ["active", "pending", "expired"]
# Printable characters of a header value (Latin-1, as WSGI reads headers): no controls, no DEL,
# no non-breaking space (U+00A0) and no soft hyphen (U+00AD), which Python's str.isprintable() refuses.
# Text fields of a silence: no control characters (C0, DEL, C1); lone surrogates are refused too.
NO_CONTROLS = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$"
PRINTABLE_HEADER = "^[\\x20-\\x7E\\xA1-\\xAC\\xAE-\\xFF]+$"

UNAUTHORIZED = "MONITOR_API_TOKEN is set and the bearer token is missing or wrong."
NOT_JSON = f"The body is not valid JSON, or it is nested deeper than {MAX_JSON_DEPTH} levels."


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str) -> dict[str, Any]:
    return _json({"$ref": "#/components/schemas/Error"}, description)


def _security(token_required: bool) -> dict[str, Any]:
    """Routes that change state need the bearer token when one is configured; without one they are open."""
    return {"security": [{"bearer": []}]} if token_required else {"security": []}


def _years_up_to(year: int) -> str:
    """A regex alternation for the years 1970 to ``year`` (2000 to 2099)."""
    tens, ones = (year % 100) // 10, year % 10
    parts = ["19[7-9][0-9]"] + ([f"20[0-{tens - 1}][0-9]"] if tens else []) + [f"20{tens}[0-{ones}]"]
    return "|".join(parts)


def event_time_pattern(year: int) -> str:
    """The text forms of an event time: a date, then optionally a time (' ' or 'T'), seconds, fraction, zone."""
    return (
        f"^({_years_up_to(year)})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
        "([T ]([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\\.[0-9]{1,6})?)?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])?)?$"
    )


def _record(key: str, values: Iterable[str], example: str, year: int, dimensions: Sequence[str] = ()) -> dict[str, Any]:
    schema = {
        "type": "object",
        "required": ["timestamp", key, "count"],
        "properties": {
            "timestamp": {
                "description": (
                    "Event time, from 1970-01-01 up to "
                    f"{MAX_FUTURE_MINUTES} minutes after the server's clock, and not older than the window kept in "
                    "memory (MONITOR_WINDOW_DAYS) before the newest event: a string 'YYYY-MM-DD HH:MM:SS' or "
                    "ISO 8601 (with 'T', 'Z' or an offset; naive means UTC), or epoch seconds as a number."
                ),
                "oneOf": [
                    {"type": "string", "format": "event-time", "maxLength": MAX_TIMESTAMP_LENGTH,
                     "pattern": event_time_pattern(year), "example": "2025-07-12 13:45:00"},
                    {"type": "number", "minimum": 0, "example": 1752327900},
                ],
            },
            key: {"type": "string", "enum": list(values), "example": example},
            "count": {"type": "integer", "minimum": 0, "maximum": MAX_COUNT, "example": 3,
                      "description": f"Added to the minute's count; a minute holds at most {MAX_MINUTE_COUNT:,} per metric."},
            "labels": {
                "type": "object", "nullable": True, "maxProperties": MAX_DIMENSIONS, "additionalProperties": False,
                "properties": {name: {"type": "string", "minLength": 1, "maxLength": MAX_LABEL_CHARS,
                                      "pattern": LABEL_PATTERN}
                               for name in dimensions},
                "example": dict(zip(dimensions, ("acq-07", "m-1842", "visa", "sp"), strict=False)),
                "description": (
                    "Optional (null: none): the record's dimensions, each one the thresholds file configures (\"dimensions\"); "
                    "the record also counts in each slice (acquirer=acq-07) and configured pair. A value is 1 to "
                    f"{MAX_LABEL_CHARS} printable ASCII characters without '@', ',', '=', '|', ';' or edge spaces; values past "
                    "a dimension's max_values fold into 'other' (or are refused: overflow 'reject'). Refused with 422 "
                    "naming labels.<dimension> when the server has no such dimension."),
            },
        },
    }
    if not dimensions:  # this server configures none: a record with labels is refused
        del schema["properties"]["labels"]  # type: ignore[attr-defined]
    return schema


def _ingest_operation(summary: str, schema_name: str, token_required: bool) -> dict[str, Any]:
    body_schema = {
        "oneOf": [
            {"$ref": f"#/components/schemas/{schema_name}"},
            {"type": "array", "minItems": 1, "maxItems": MAX_RECORDS,
             "items": {"$ref": f"#/components/schemas/{schema_name}"}},
        ]
    }
    return {
        "summary": summary,
        "description": (
            "Counts add to the minute's existing count. A batch is all-or-nothing. "
            "Send an Idempotency-Key header to make retries safe (24 h)."
        ),
        **_security(token_required),
        "parameters": [
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "schema": {"type": "string", "minLength": 1, "maxLength": MAX_IDEMPOTENCY_KEY,
                           "pattern": PRINTABLE_HEADER},
                "description": (
                    f"1 to {MAX_IDEMPOTENCY_KEY} printable characters, scoped to the route. The same key within "
                    "24 h answers as the first request did and changes nothing."
                ),
            }
        ],
        "requestBody": {"required": True, "content": {"application/json": {"schema": body_schema}}},
        "responses": {
            "201": _json({"$ref": "#/components/schemas/IngestResult"}, "Stored; lists the alerts this request opened, fired or resolved. On a standby (several instances on one "
                         "PostgreSQL), the open alerts of the feeds it touched once the leader judged it (waiting at most 1 s)."),
            "400": _error(f"{NOT_JSON} Or the Idempotency-Key is not 1 to {MAX_IDEMPOTENCY_KEY} printable characters."),
            "401": _error(UNAUTHORIZED),
            "413": _error(f"Body over {MAX_BODY_BYTES:,} bytes (3 MB) or more than {MAX_RECORDS:,} records."),
            "415": _error("Content-Type is not application/json."),
            "422": _error(
                "A record is invalid (details name its index and field): a missing field, an unknown status or code, "
                f"a count that is not an integer from 0 to {MAX_COUNT:,} or that would bring a minute's count of one "
                f"metric over {MAX_MINUTE_COUNT:,}, a timestamp that cannot be parsed, is longer than "
                f"{MAX_TIMESTAMP_LENGTH} characters or holds a control character, is before 1970, more than "
                f"{MAX_FUTURE_MINUTES} minutes in the future or older than the memory window before the newest event; "
                "an empty array; "
                "or an Idempotency-Key reused with another body."
            ),
            "503": _error("The store could not be written; nothing was stored."),
        },
    }


def _minutes_param(window_minutes: int) -> dict[str, Any]:
    return {
        "name": "minutes",
        "in": "query",
        "required": False,
        "schema": {"type": "integer", "minimum": 1, "maximum": window_minutes, "default": 60},
        "description": f"How many minutes back from the newest event time; at most the window kept in memory ({window_minutes}).",
    }


def _slice_param(groups: Sequence[str]) -> list[dict[str, Any]]:
    """The ``slice`` filter of the series routes, on a server with dimensions (``groups``: dimensions and pairs)."""
    if not groups:
        return []
    value = LABEL_PATTERN[1:-1]
    ways = "|".join(",".join(f"{dim}={value}" for dim in group.split(",")) for group in groups)
    return [{"name": "slice", "in": "query", "required": False,
            "schema": {"type": "string", "pattern": f"^({ways})$", "example": f"{groups[0].split(',')[0]}=acq-07"},
            "description": "Only this slice's counts (a configured dimension, or pair: acquirer=acq-07,brand=visa); "
                           "zeros where it had none."}]


def _breakdown() -> dict[str, Any]:
    row = {"type": "object", "required": ["value", "slice", "observed", "expected", "excess", "share_of_excess"],
           "properties": {"value": {"type": "string"}, "slice": {"type": "string"},
                          "observed": {"type": "number", "minimum": 0}, "expected": {"type": "number", "minimum": 0},
                          "excess": {"type": "number", "description": "observed above expected (approvals: "
                                                                       "expected above observed)"},
                          "share_of_excess": {"type": "number", "minimum": 0, "maximum": 1},
                          "share_of_total": {"type": "number", "minimum": 0, "maximum": 1}}}
    return {
        "type": "object",
        "required": ["metric", "by", "minutes", "from", "to", "observed", "expected", "slices_total", "slices", "heatmap"],
        "properties": {
            "metric": {"type": "string"}, "by": {"type": "string"}, "minutes": {"type": "integer"},
            "from": _ISO_OR_NULL, "to": _ISO_OR_NULL,
            "observed": {"type": "integer", "minimum": 0}, "expected": {"type": "number", "minimum": 0},
            "slices_total": {"type": "integer", "minimum": 0},
            "slices": {"type": "array", "items": row},
            "heatmap": {"type": "object", "required": ["minutes", "values", "counts"], "properties": {
                "minutes": {"type": "array", "items": _ISO}, "values": {"type": "array", "items": {"type": "string"}},
                "counts": {"type": "array", "items": {"type": "array", "items": {"type": "integer", "minimum": 0}}}}},
        },
    }


def _limit_param() -> dict[str, Any]:
    return {"name": "limit", "in": "query", "required": False,
            "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": 100}}


_ISO = {"type": "string", "format": "date-time"}
_ISO_OR_NULL = {"type": "string", "format": "date-time", "nullable": True}


def _series(key_name: str, keys: list[str]) -> dict[str, Any]:
    row = {
        "type": "object",
        "required": ["timestamp", *keys, "total", "received"],
        "properties": {
            "timestamp": _ISO,
            **{k: {"type": "integer", "minimum": 0} for k in keys},
            "total": {"type": "integer", "minimum": 0},
            "received": {"type": "boolean", "description": "Whether the minute had data."},
        },
    }
    return {
        "type": "object",
        "required": [key_name, "from", "to", "data"],
        "properties": {
            key_name: {"type": "array", "items": {"type": "string"}},
            "from": _ISO_OR_NULL,
            "to": _ISO_OR_NULL,
            "data": {"type": "array", "items": row},
        },
    }


def openapi_document(version: str, statuses: Iterable[str], auth_codes: Iterable[str],
                     window_minutes: int = 7 * 24 * 60, token_required: bool = False,
                     year: int | None = None, dimensions: Sequence[str] = (),
                     pairs: Sequence[Sequence[str]] = ()) -> dict[str, Any]:
    """The document for this server: its statuses and codes, its window and whether it asks for a token.

    ``year`` is the newest year an event time may have: this year when served (the document is built per
    request); the published copy in docs/ states the year it was written for.
    """
    statuses = list(statuses)
    auth_codes = list(auth_codes)
    groups = [*dimensions, *(",".join(p) for p in pairs)]
    year = year or datetime.now(UTC).year
    alert = {
        "type": "object",
        "required": ["id", "rule", "metric", "severity", "state", "started_at", "value", "threshold", "message"],
        "properties": {
            "id": {"type": "string"},
            "rule": {"type": "string"},
            "rule_type": {"type": "string"},
            "metric": {"type": "string", "example": "status:failed"},
            "metric_label": {"type": "string"},
            "severity": {"type": "string", "enum": list(SEVERITIES)},
            "state": {"type": "string", "enum": ["pending", "firing", "resolved"]},
            "started_at": {**_ISO, "description": "Event time of the first breaching minute."},
            "fired_at": _ISO_OR_NULL,
            "resolved_at": _ISO_OR_NULL,
            "last_breach_at": _ISO_OR_NULL,
            "duration_minutes": {"type": "integer", "nullable": True},
            "value": {"type": "number", "description": "The worst value of the episode."},
            "threshold": {"type": "number"},
            "expected": {"type": "number", "nullable": True},
            "message": {"type": "string", "description": "In an analyst's words: the metric, the value it reached and "
                        "what is normal, e.g. 'Failed transactions: 7 in 5 min, about 0.5 expected'."},
            "labels": {"type": "object", "additionalProperties": {"type": "string"}},
            "detail": {"type": "string", "description": "The statistics behind the message: window, baseline, the limit it fires at, minimum count, tail probability or z."},
            "incident_id": {"type": "string", "nullable": True,
                            "description": "The incident this alert is a symptom of, once it fired."},
            "silenced": {"type": "boolean", "description": "An active silence matches it: shown, but no notification is sent."},
        },
    }
    bad_query = _error("A query parameter is out of range, not one of the listed values, or one the route does not take; "
                       "the message names it.")
    document: dict[str, Any] = {
        "openapi": "3.0.3",
        "info": {
            "title": "Transaction monitor API",
            "version": version,
            "description": "Post per-minute transaction counts; read counts, statistics, alerts and health.",
            "x-newest-event-year": year,
        },
        "paths": {
            "/api/transaction": {"post": _ingest_operation("Post status counts", "StatusRecord", token_required)},
            "/api/auth_code": {"post": _ingest_operation("Post authorization-code counts", "AuthCodeRecord", token_required)},
            "/api/transactions": {
                "get": {
                    "summary": "Per-minute counts per status, oldest first",
                    "parameters": [_minutes_param(window_minutes), *_slice_param(groups)],
                    "responses": {"200": _json(_series("statuses", statuses), "Counts"), "400": bad_query},
                }
            },
            "/api/auth_codes": {
                "get": {
                    "summary": "Per-minute counts per authorization code, oldest first",
                    "parameters": [_minutes_param(window_minutes), *_slice_param(groups)],
                    "responses": {"200": _json(_series("auth_codes", auth_codes), "Counts"), "400": bad_query},
                }
            },
            "/api/dimensions": {
                "get": {
                    "summary": "The dimensions records may carry, and the values each one holds",
                    "responses": {
                        "200": _json({"type": "object", "required": ["dimensions"], "properties": {
                            "dimensions": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}},
                            "pairs": {"type": "array", "items": {"type": "array", "items": {"type": "string"}}},
                            "limits": {"type": "object"}}}, "Dimensions"),
                        "400": bad_query,
                    },
                }
            },
            "/api/breakdown": {
                "get": {
                    "summary": "Which slices carry a count's excess: observed against expected per slice, top by excess",
                    "description": ("Each slice's expectation is its own rate per transaction over the hour before the "
                                    "window (shrunk toward all slices' rate) times its transactions in the window; "
                                    "approvals: its own level before. share_of_excess is its part of the summed "
                                    "positive excess. The heatmap is the top slices' counts minute by minute."),
                    "parameters": [
                        {"name": "metric", "in": "query", "required": True,
                         "schema": {"type": "string", "enum": [*(f"status:{s}" for s in statuses),
                                                               *(f"auth_code:{c}" for c in auth_codes)]}},
                        {"name": "by", "in": "query", "required": True,
                         "schema": {"type": "string", "enum": list(groups) or ["(none configured)"]},
                         "description": "A configured dimension, or pair written 'acquirer,brand'."},
                        {"name": "minutes", "in": "query", "required": False,
                         "schema": {"type": "integer", "minimum": 1, "maximum": MAX_BREAKDOWN_MINUTES, "default": 60}},
                        {"name": "top", "in": "query", "required": False,
                         "schema": {"type": "integer", "minimum": 1, "maximum": MAX_TOP, "default": 10}},
                    ],
                    "responses": {"200": _json(_breakdown(), "Breakdown"), "400": bad_query},
                }
            },
            "/api/stats": {
                "get": {
                    "summary": "Totals and rates per status over a window, the rules in force, the newest event time",
                    "parameters": [_minutes_param(window_minutes)],
                    "responses": {
                        "200": _json({
                            "type": "object",
                            "required": ["window_minutes", "total", "totals", "rates", "open_alerts", "rules"],
                            "properties": {
                                "window_minutes": {"type": "integer", "minimum": 0},
                                "from": _ISO_OR_NULL,
                                "to": _ISO_OR_NULL,
                                "newest_event_time": _ISO_OR_NULL,
                                "total": {"type": "integer", "minimum": 0},
                                "totals": {"type": "object", "additionalProperties": {"type": "integer", "minimum": 0}},
                                "rates": {"type": "object", "additionalProperties": {"type": "number", "minimum": 0, "maximum": 1}},
                                "auth_codes": {"type": "object", "additionalProperties": {"type": "integer", "minimum": 0}},
                                "open_alerts": {"type": "array", "items": {"$ref": "#/components/schemas/Alert"}},
                                "rules": {"type": "array", "items": {"type": "object"}},
                                "no_data_after_minutes": {"type": "integer", "minimum": 0},
                                "thresholds": {"type": "object"},
                            },
                        }, "Statistics"),
                        "400": bad_query,
                    },
                }
            },
            "/api/alerts": {
                "get": {
                    "summary": "Alerts, newest first",
                    "parameters": [
                        {"name": "state", "in": "query", "required": False,
                         "schema": {"type": "string", "enum": ALERT_STATES, "default": "all"}},
                        _limit_param(),
                    ],
                    "responses": {
                        "200": _json(
                            {"type": "object", "required": ["state", "count", "alerts"], "properties": {
                                "state": {"type": "string", "enum": ALERT_STATES},
                                "count": {"type": "integer", "minimum": 0},
                                "alerts": {"type": "array", "items": {"$ref": "#/components/schemas/Alert"}}}},
                            "Alerts",
                        ),
                        "400": bad_query,
                        "503": _error("The store could not be read."),
                    },
                }
            },
            **incident_paths(),
            **incident_action_paths(token_required),
            "/api/health": {
                "get": {
                    "summary": "Status, version, uptime, newest event time, store and feed status",
                    "responses": {"200": _json({"$ref": "#/components/schemas/Health"}, "Healthy or degraded"),
                                  "503": _json({"$ref": "#/components/schemas/Health"},
                                                "The store is unavailable: the last write failed, or the database file was deleted or replaced")},
                }
            },
            **notification_paths(token_required),
            "/api/openapi.json": {
                "get": {"summary": "This document", "responses": {"200": _json({"type": "object"}, "OpenAPI 3 document")}}
            },
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "description": "Needed on routes that change state when MONITOR_API_TOKEN is set."}},
            "schemas": {
                "StatusRecord": _record("status", statuses, "failed", year, dimensions),
                "AuthCodeRecord": _record("auth_code", auth_codes, "51", year, dimensions),
                "Alert": alert,
                "IngestResult": {
                    "type": "object",
                    "required": ["accepted", "alerts"],
                    "properties": {"accepted": {"type": "integer", "minimum": 0},
                                   "alerts": {"type": "array", "items": {"$ref": "#/components/schemas/Alert"}}},
                },
                "Health": {
                    "type": "object",
                    "required": ["status", "version", "store", "feeds"],
                    "properties": {
                        "status": {"type": "string", "enum": ["ok", "degraded"]},
                        "version": {"type": "string"},
                        "uptime_seconds": {"type": "number", "minimum": 0},
                        "newest_event_time": _ISO_OR_NULL,
                        "store": {"type": "object", "properties": {
                            "ok": {"type": "boolean"}, "path": {"type": "string"},
                            "reason": {"type": "string", "nullable": True,
                                       "description": "Why the store is degraded: the last write failed, or the file was deleted or replaced."},
                            "failed_at": {"type": "string", "nullable": True, "description": "When the last write failed (ISO 8601 UTC)."}}},
                        "feeds": {"type": "object", "additionalProperties": {"type": "object"}},
                        "instance": {"type": "string", "nullable": True,
                                     "description": "This instance's name (--instance; host:port by default)."},
                        "role": {"type": "string", "enum": ["leader", "standby"],
                                 "description": "leader: this instance evaluates rules and delivers notifications; "
                                                "standby: another one does (several instances on one PostgreSQL), "
                                                "this one accepts records and serves the API and dashboard."},
                        "leader": {"type": "object", "nullable": True,
                                   "description": "Who leads and since when (null when the store cannot say).",
                                   "properties": {"instance": {"type": "string"}, "since": _ISO_OR_NULL}},
                    },
                },
                **incident_schemas(),
                **incident_action_schemas(),
                **notification_schemas(),
                "Error": {
                    "type": "object",
                    "required": ["error", "message"],
                    "properties": {
                        "error": {"type": "string", "example": "invalid_records"},
                        "message": {"type": "string"},
                        "details": {
                            "type": "array",
                            "items": {"type": "object", "properties": {"index": {"type": "integer", "nullable": True}, "field": {"type": "string", "nullable": True}, "message": {"type": "string"}}},
                        },
                    },
                },
            },
        },
    }
    if not groups:  # no dimensions configured: there is no breakdown to ask for
        document["paths"]["/api/breakdown"]["get"] = {
            "summary": "Which slices carry a count's excess (this server has no dimensions configured)",
            "responses": {"404": _error("No dimensions are configured (the thresholds file's \"dimensions\"), so "
                                        "there are no slices to break a count down by.")}}
    return document


# --- incidents ---

def incident_paths() -> dict[str, Any]:
    states = [*INCIDENT_STATES, "all"]
    return {
        "/api/incidents": {
            "get": {
                "summary": "Incidents (alerts grouped by underlying event), newest first",
                "description": "Each incident lists its member alert ids in 'alerts'; each of those alerts carries "
                               "the incident's id in /api/alerts ('incident_id').",
                "parameters": [
                    {"name": "state", "in": "query", "required": False,
                     "schema": {"type": "string", "enum": states, "default": "all"}},
                    {"name": "limit", "in": "query", "required": False,
                     "schema": {"type": "integer", "minimum": 1, "maximum": MAX_INCIDENT_LIMIT, "default": 100}},
                ],
                "responses": {
                    "200": _json({"type": "object", "required": ["state", "count", "incidents"], "properties": {
                        "state": {"type": "string", "enum": states},
                        "count": {"type": "integer", "minimum": 0},
                        "incidents": {"type": "array", "items": {"$ref": "#/components/schemas/Incident"}}}},
                        "Incidents"),
                    "400": _error("'state' is not open, resolved or all, 'limit' is not an integer from 1 to "
                                  f"{MAX_INCIDENT_LIMIT}, or a query parameter the route does not take."),
                    "503": _error("The store could not be read."),
                },
            }
        },
        "/api/incidents/{incident_id}": {
            "parameters": [{"name": "incident_id", "in": "path", "required": True,
                            "schema": {"type": "string", "minLength": 1, "maxLength": MAX_INCIDENT_ID}}],
            "get": {
                "summary": "One incident",
                "responses": {
                    "200": _json({"$ref": "#/components/schemas/Incident"}, "The incident"),
                    "400": _error(f"The id is longer than {MAX_INCIDENT_ID} characters, or a query parameter was given."),
                    "404": _error("No incident with this id."),
                    "503": _error("The store could not be read."),
                },
            },
        },
    }


def incident_schemas() -> dict[str, Any]:
    return {
        "Incident": {
            "type": "object",
            "required": ["id", "state", "kind", "title", "summary", "severity", "started_at", "resolved_at",
                         "metrics", "drivers", "alerts", "details", "acknowledged", "notes", "label"],
            "properties": {
                "id": {"type": "string"},
                "state": {"type": "string", "enum": list(INCIDENT_STATES)},
                "kind": {"type": "string", "enum": list(KINDS)},
                "title": {"type": "string", "example": "Denial spike driven by code 51 (insufficient funds)"},
                "summary": {"type": "string"},
                "severity": {"type": "string", "enum": list(SEVERITIES)},
                "started_at": {**_ISO, "description": "Event time of the earliest member's first breaching minute."},
                "resolved_at": {**_ISO_OR_NULL, "description": "End of the quiet period after the last member resolved."},
                "metrics": {"type": "array", "items": {"type": "string"}},
                "drivers": {"type": "array", "description": "Metrics carrying the excess (or shortfall), largest share first.",
                            "items": {"type": "object", "required": ["metric", "share"], "properties": {
                                "metric": {"type": "string", "example": "auth_code:51"},
                                "share": {"type": "number", "minimum": 0, "maximum": 1},
                                "observed": {"type": "number"},
                                "expected": {"type": "number"}}}},
                "alerts": {"type": "array", "items": {"type": "string"}, "description": "Member alert ids."},
                "details": {"type": "object", "description": "The statistics: member rules, windows, thresholds, "
                                                             "values, and the figures per metric."},
                "acknowledged": {
                    "type": "object", "nullable": True, "required": ["by", "at", "note"],
                    "description": "Who acknowledged it and when (wall clock); kept after it resolves. Null: nobody yet.",
                    "properties": {"by": {"type": "string"}, "at": _ISO, "note": {"type": "string", "nullable": True}}},
                "notes": {"type": "array", "maxItems": MAX_NOTES, "description": "Analysts' notes, oldest first.",
                          "items": {"type": "object", "required": ["by", "at", "text"], "properties": {
                              "by": {"type": "string"}, "at": _ISO, "text": {"type": "string"}}}},
                "label": {"$ref": "#/components/schemas/Label"},
            },
        },
    }


# --- what analysts do to incidents ---

# Text fields: no control characters; a note may hold newlines and tabs. A required one holds a visible character.
ONE_LINE = NO_CONTROLS
MULTI_LINE = "^[^\\u0000-\\u0008\\u000b-\\u001f\\u007f-\\u009f]*$"
VISIBLE = "\\S"


def _text_schema(limit: int, one_line: bool, required: bool) -> dict[str, Any]:
    pattern = ONE_LINE if one_line else MULTI_LINE
    if not required:
        return {"type": "string", "nullable": True, "maxLength": limit, "pattern": pattern,
                "description": "Optional; null, absent or blank means none."}
    return {"type": "string", "minLength": 1, "maxLength": limit, "allOf": [{"pattern": pattern}, {"pattern": VISIBLE}]}


def incident_action_paths(token_required: bool = False) -> dict[str, Any]:
    incident_id = [{"name": "incident_id", "in": "path", "required": True,
                    "schema": {"type": "string", "minLength": 1, "maxLength": MAX_INCIDENT_ID}}]
    answer = _json({"$ref": "#/components/schemas/Incident"}, "The incident, with its acknowledgement, notes and label")
    common = {
        "400": _error(f"{NOT_JSON} Or the id is longer than {MAX_INCIDENT_ID} characters, or a query parameter was given."),
        "401": _error(UNAUTHORIZED),
        "404": _error("No incident with this id."),
        "413": _error(f"Body over {MAX_ACTION_BODY_BYTES:,} bytes."),
        "415": _error("Content-Type is not application/json."),
        "503": _error("The store could not be written; nothing was stored."),
    }

    def write(summary: str, description: str, schema: str, status: str, conflict: str, invalid: str) -> dict[str, Any]:
        return {
            "summary": summary, "description": description, **_security(token_required),
            "requestBody": {"required": True,
                            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}},
            "responses": {status: answer, **common, "409": _error(conflict),
                          "422": _error(f"A field is wrong (details name it): {invalid}")},
        }

    by_wrong = (f"'by' missing, blank, over {MAX_BY} characters or holding a control character; an unknown field")
    return {
        "/api/incidents/{incident_id}/ack": {
            "parameters": incident_id,
            "post": write(
                "Acknowledge an open incident: someone is on it",
                "It stays acknowledged (also after it resolves, for the record). Reminders (repeat_interval) stop "
                "for it; its escalation and resolution messages still go out.",
                "AckRequest", "200",
                "'incident_resolved': the incident has resolved; 'already_acknowledged': someone acknowledged it "
                "already (the message says who and when). Acknowledging twice is refused, not repeated.",
                f"{by_wrong}, or a note over {MAX_TEXT} characters."),
        },
        "/api/incidents/{incident_id}/notes": {
            "parameters": incident_id,
            "post": write(
                "Add a note to an incident (open or resolved)", f"At most {MAX_NOTES} notes per incident.",
                "NoteRequest", "201", f"'too_many_notes': the incident has {MAX_NOTES} notes already.",
                f"{by_wrong}, or 'text' missing, blank or over {MAX_TEXT} characters."),
        },
        "/api/incidents/{incident_id}/label": {
            "parameters": incident_id,
            "put": write(
                "Label a resolved incident a false alarm or expected (maintenance, a campaign)",
                "A new label replaces the previous one. The analysis CLI (--feedback) leaves 'expected' incidents "
                "out of learning and counts 'false_alarm' ones.",
                "LabelRequest", "200", "'incident_open': the incident is still open; label it once it resolved.",
                f"{by_wrong}, a label not in {', '.join(LABELS)}, or a reason over {MAX_REASON} characters."),
        },
        "/api/incidents/labels": {
            "get": {
                "summary": "Labelled incidents with their newest label, newest label first",
                "description": "Saved to a file, this answer is a labels file for `python -m analysis --feedback`.",
                "parameters": [
                    {"name": "label", "in": "query", "required": False, "schema": {"type": "string", "enum": list(LABELS)}},
                    {"name": "limit", "in": "query", "required": False,
                     "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LABEL_LIMIT, "default": 100}},
                ],
                "responses": {
                    "200": _json({"type": "object", "required": ["label", "count", "labels"], "properties": {
                        "label": {"type": "string", "nullable": True, "enum": [*LABELS, None]},
                        "count": {"type": "integer", "minimum": 0},
                        "labels": {"type": "array", "items": {"$ref": "#/components/schemas/LabelledIncident"}}}},
                        "Labels"),
                    "400": _error(f"'label' is not one of {', '.join(LABELS)}, 'limit' is not an integer from 1 to "
                                  f"{MAX_LABEL_LIMIT}, or a query parameter the route does not take."),
                    "503": _error("The store could not be read."),
                },
            }
        },
        "/api/incidents/{incident_id}/silence": {
            "parameters": incident_id,
            "get": {
                "summary": "What to post to /api/silences to silence this incident: one matcher set per member rule and metric",
                "description": "An incident is silenced when every member alert is, so silencing it takes one silence per "
                               "matcher set (POST /api/silences each, with ends_at = now + one of durations_minutes).",
                "responses": {
                    "200": _json({"type": "object", "required": ["incident_id", "matchers", "durations_minutes", "comment"],
                                  "properties": {
                                      "incident_id": {"type": "string"},
                                      "matchers": {"type": "array", "items": {
                                          "type": "object", "required": ["rule", "metric"],
                                          "properties": {"rule": {"type": "string"}, "metric": {"type": "string"}}}},
                                      "durations_minutes": {"type": "array", "items": {"type": "integer", "minimum": 1},
                                                            "example": list(SILENCE_DURATIONS_MINUTES)},
                                      "comment": {"type": "string", "maxLength": MAX_COMMENT}}},
                                 "A silence template"),
                    "400": _error(f"The id is longer than {MAX_INCIDENT_ID} characters, or a query parameter was given."),
                    "404": _error("No incident with this id."),
                    "503": _error("The store could not be read."),
                },
            },
        },
    }


def incident_action_schemas() -> dict[str, Any]:
    by = {**_text_schema(MAX_BY, one_line=True, required=True), "description": "Who (free text: there are no accounts)."}
    label = {
        "type": "object", "nullable": True, "required": ["label", "by", "at", "reason"],
        "description": "The newest label; null: not labelled.",
        "properties": {"label": {"type": "string", "enum": list(LABELS)}, "by": {"type": "string"}, "at": _ISO,
                       "reason": {"type": "string", "nullable": True}},
    }
    return {
        "AckRequest": {"type": "object", "required": ["by"], "additionalProperties": False, "properties": {
            "by": by, "note": _text_schema(MAX_TEXT, one_line=False, required=False)}},
        "NoteRequest": {"type": "object", "required": ["by", "text"], "additionalProperties": False, "properties": {
            "by": by, "text": _text_schema(MAX_TEXT, one_line=False, required=True)}},
        "LabelRequest": {"type": "object", "required": ["label", "by"], "additionalProperties": False, "properties": {
            "label": {"type": "string", "enum": list(LABELS)}, "by": by,
            "reason": _text_schema(MAX_REASON, one_line=False, required=False)}},
        "Label": label,
        "LabelledIncident": {
            "type": "object", "required": ["incident_id", "kind", "started_at", "resolved_at", "label", "by", "at"],
            "properties": {
                "incident_id": {"type": "string"}, "kind": {"type": "string", "enum": list(KINDS)},
                "title": {"type": "string"}, "started_at": _ISO, "resolved_at": _ISO_OR_NULL,
                "label": {"type": "string", "enum": list(LABELS)}, "by": {"type": "string"}, "at": _ISO,
                "reason": {"type": "string", "nullable": True},
            },
        },
    }


# --- silences, the delivery log and /metrics ---

def notification_paths(token_required: bool = False) -> dict[str, Any]:
    silence = _json({"$ref": "#/components/schemas/Silence"}, "The silence")
    not_found = _error("No silence with this id.")
    return {
        "/api/silences": {
            "get": {
                "summary": "Silences, newest first",
                "parameters": [{"name": "status", "in": "query", "required": False,
                                "schema": {"type": "string", "enum": SILENCE_STATUSES}}],
                "responses": {
                    "200": _json({"type": "object", "required": ["count", "silences"], "properties": {
                        "count": {"type": "integer", "minimum": 0},
                        "silences": {"type": "array", "items": {"$ref": "#/components/schemas/Silence"}}}}, "Silences"),
                    "400": _error("'status' is not active, pending or expired, or a query parameter the route does not take."),
                },
            },
            "post": {
                "summary": "Silence alerts matching rule/metric/severity between two times",
                "description": (
                    "A silenced alert still shows in /api/alerts and on the dashboard (silenced: true) but sends no "
                    "notification. Times are wall-clock, ISO 8601 or epoch seconds; ends_at must be after starts_at, "
                    f"in the future, and at most {MAX_SILENCE_DAYS} days after now."
                ),
                **_security(token_required),
                "requestBody": {"required": True, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/SilenceRequest"}}}},
                "responses": {
                    "201": silence,
                    "400": _error(NOT_JSON),
                    "401": _error(UNAUTHORIZED),
                    "413": _error(f"Body over {MAX_SILENCE_BODY_BYTES:,} bytes."),
                    "415": _error("Content-Type is not application/json."),
                    "422": _error(
                        "A field is wrong (details name it): an unknown field or matcher, no matcher, a time that cannot "
                        f"be parsed, an ends_at not after starts_at, already past (a silence that already ended) or more "
                        f"than {MAX_SILENCE_DAYS} days ahead, or a comment, creator or matcher that is too long or holds a "
                        "control character."
                    ),
                    "503": _error("The store could not be written."),
                },
            },
        },
        "/api/silences/{silence_id}": {
            "parameters": [{"name": "silence_id", "in": "path", "required": True, "schema": {"type": "string"}}],
            "get": {"summary": "One silence", "responses": {"200": silence, "404": not_found}},
            "delete": {
                "summary": "Expire a silence now (it is kept, as expired)",
                **_security(token_required),
                "responses": {"200": silence, "401": _error(UNAUTHORIZED), "404": not_found,
                              "503": _error("The store could not be written.")},
            },
        },
        "/api/notifications": {
            "get": {
                "summary": "The delivery log, newest first: channel, incident, attempt, outcome",
                "description": "Notifications go out per incident (opened, escalated, resolved, repeat), never per member alert. Delivery is at-least-once. Outcomes: delivered; error (an attempt that is retried); failed (gave up); silenced; skipped (send_resolved off). Channel URLs are shown with their credentials redacted; the log needs the bearer token when MONITOR_API_TOKEN is set.",
                **_security(token_required),
                "parameters": [
                    _limit_param(),
                    {"name": "channel", "in": "query", "required": False, "schema": {"type": "string"}},
                    {"name": "incident_id", "in": "query", "required": False, "schema": {"type": "string"}},
                    {"name": "alert_id", "in": "query", "required": False, "schema": {"type": "string"},
                     "description": "Rows written before notifications were per incident, which named an alert."},
                    {"name": "outcome", "in": "query", "required": False, "schema": {"type": "string", "enum": list(OUTCOMES)}},
                ],
                "responses": {
                    "200": _json({"type": "object", "required": ["count", "notifications"], "properties": {
                        "delivery": {"type": "string"},
                        "channels": {"type": "array", "items": {"type": "object"}},
                        "queue_depth": {"type": "integer", "minimum": 0},
                        "pending": {"type": "object", "additionalProperties": {"type": "integer"}},
                        "dropped_from_queue": {"type": "integer", "minimum": 0},
                        "running": {"type": "boolean"},
                        "count": {"type": "integer", "minimum": 0},
                        "notifications": {"type": "array", "items": {"$ref": "#/components/schemas/NotificationAttempt"}},
                    }}, "The log"),
                    "400": _error("A query parameter is out of range, not one of the listed values, or one the route does not take; the message names it."),
                    "401": _error(UNAUTHORIZED),
                    "503": _error("The store could not be read."),
                },
            }
        },
        "/metrics": {
            "get": {
                "summary": "Prometheus metrics (text exposition format)",
                "responses": {"200": {"description": "Counters and gauges", "content": {"text/plain": {"schema": {"type": "string"}}}}},
            }
        },
    }


def _wall_time(description: str, nullable: bool = False) -> dict[str, Any]:
    return {
        "description": description,
        "oneOf": [
            {"type": "string", "format": "date-time", "minLength": 1,
             **({"nullable": True} if nullable else {})},
            {"type": "number", "minimum": 0, "description": "Epoch seconds."},
        ],
    }


def notification_schemas() -> dict[str, Any]:
    matchers = {
        "type": "object",
        "minProperties": 1,
        "additionalProperties": False,
        "properties": {
            "rule": {"type": "string", "minLength": 1, "maxLength": MAX_MATCHER_VALUE, "pattern": NO_CONTROLS,
                     "example": "failed_high"},
            "metric": {"type": "string", "minLength": 1, "maxLength": MAX_MATCHER_VALUE, "pattern": NO_CONTROLS,
                       "example": "status:failed"},
            "severity": {"type": "string", "enum": list(SEVERITIES)},
        },
    }
    return {
        "SilenceRequest": {
            "type": "object",
            "required": ["matchers", "ends_at"],
            "additionalProperties": False,
            "properties": {
                "matchers": matchers,
                "starts_at": _wall_time("When the silence starts; null or absent means now.", nullable=True),
                "ends_at": _wall_time(f"When it stops: after starts_at, in the future, at most {MAX_SILENCE_DAYS} days after now."),
                "comment": {"type": "string", "maxLength": MAX_COMMENT, "pattern": NO_CONTROLS},
                "created_by": {"type": "string", "maxLength": MAX_CREATED_BY, "pattern": NO_CONTROLS},
            },
        },
        "Silence": {
            "type": "object",
            "required": ["id", "matchers", "starts_at", "ends_at", "created_at", "created_by", "comment", "status"],
            "properties": {
                "id": {"type": "string"},
                "matchers": matchers,
                "starts_at": _ISO,
                "ends_at": _ISO,
                "created_at": _ISO,
                "created_by": {"type": "string"},
                "comment": {"type": "string"},
                "status": {"type": "string", "enum": SILENCE_STATUSES},
            },
        },
        "NotificationAttempt": {
            "type": "object",
            "properties": {
                "id": {"type": "integer"},
                "at": _ISO,
                "at_epoch": {"type": "number"},
                "channel": {"type": "string"},
                "incident_id": {"type": "string", "nullable": True, "description": "The incident the message was about."},
                "incident_title": {"type": "string", "nullable": True,
                                   "description": "Its title when the message went out (none for a repeat)."},
                "alert_id": {"type": "string", "nullable": True,
                             "description": "Only on rows written before notifications were per incident."},
                "kind": {"type": "string", "enum": ["opened", "escalated", "resolved", "repeat", "firing"],
                         "description": "What the message said; firing only on rows from before incidents."},
                "attempt": {"type": "integer", "description": "0 for silenced/skipped notices, which make no attempt."},
                "outcome": {"type": "string", "enum": list(OUTCOMES)},
                "detail": {"type": "string"},
            },
        },
    }
