"""The OpenAPI 3 document of the REST API, served at /api/openapi.json."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str) -> dict[str, Any]:
    return _json({"$ref": "#/components/schemas/Error"}, description)


def _record(key: str, values: Iterable[str], example: str) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["timestamp", key, "count"],
        "properties": {
            "timestamp": {
                "type": "string",
                "description": "Event time; 'YYYY-MM-DD HH:MM:SS' or ISO 8601. Naive means UTC. At most 5 minutes in the future.",
                "example": "2025-07-12 13:45:00",
            },
            key: {"type": "string", "enum": list(values), "example": example},
            "count": {"type": "integer", "minimum": 0, "example": 3},
        },
    }


def _ingest_operation(summary: str, schema_name: str) -> dict[str, Any]:
    body_schema = {
        "oneOf": [
            {"$ref": f"#/components/schemas/{schema_name}"},
            {"type": "array", "maxItems": 10000, "items": {"$ref": f"#/components/schemas/{schema_name}"}},
        ]
    }
    return {
        "summary": summary,
        "description": (
            "Counts add to the minute's existing count. A batch is all-or-nothing. "
            "Send an Idempotency-Key header to make retries safe (24 h)."
        ),
        "security": [{}, {"bearer": []}],
        "parameters": [
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "schema": {"type": "string", "maxLength": 255},
                "description": "The same key within 24 h answers as the first request did and changes nothing.",
            }
        ],
        "requestBody": {"required": True, "content": {"application/json": {"schema": body_schema}}},
        "responses": {
            "201": _json({"$ref": "#/components/schemas/IngestResult"}, "Stored; lists the alerts this request opened, fired or resolved."),
            "400": _error("The body is not valid JSON, or the Idempotency-Key is malformed."),
            "401": _error("MONITOR_API_TOKEN is set and the bearer token is missing or wrong."),
            "413": _error("Body over 1 MB or more than 10,000 records."),
            "415": _error("Content-Type is not application/json."),
            "422": _error("A record is invalid (details name its index and field), or an Idempotency-Key was reused for another body."),
            "503": _error("The store could not be written; nothing was stored."),
        },
    }


def _minutes_param() -> dict[str, Any]:
    return {
        "name": "minutes",
        "in": "query",
        "required": False,
        "schema": {"type": "integer", "minimum": 1, "default": 60},
        "description": "How many minutes back from the newest event time.",
    }


def openapi_document(version: str, statuses: Iterable[str], auth_codes: Iterable[str]) -> dict[str, Any]:
    statuses = list(statuses)
    auth_codes = list(auth_codes)
    alert = {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "rule": {"type": "string"},
            "rule_type": {"type": "string"},
            "metric": {"type": "string", "example": "status:failed"},
            "metric_label": {"type": "string"},
            "severity": {"type": "string", "enum": ["info", "warning", "critical"]},
            "state": {"type": "string", "enum": ["pending", "firing", "resolved"]},
            "started_at": {"type": "string", "format": "date-time", "description": "Event time of the first breaching minute."},
            "fired_at": {"type": "string", "format": "date-time", "nullable": True},
            "resolved_at": {"type": "string", "format": "date-time", "nullable": True},
            "last_breach_at": {"type": "string", "format": "date-time", "nullable": True},
            "duration_minutes": {"type": "integer", "nullable": True},
            "value": {"type": "number", "description": "The worst value of the episode."},
            "threshold": {"type": "number"},
            "expected": {"type": "number", "nullable": True},
            "message": {"type": "string"},
            "labels": {"type": "object", "additionalProperties": {"type": "string"}},
            "silenced": {"type": "boolean", "description": "An active silence matches it: shown, but no notification is sent."},
        },
    }
    series = {
        "type": "object",
        "properties": {
            "from": {"type": "string", "format": "date-time", "nullable": True},
            "to": {"type": "string", "format": "date-time", "nullable": True},
            "data": {"type": "array", "items": {"type": "object", "additionalProperties": True}},
        },
    }
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Transaction monitor API",
            "version": version,
            "description": "Post per-minute transaction counts; read counts, statistics, alerts and health.",
        },
        "paths": {
            "/api/transaction": {"post": _ingest_operation("Post status counts", "StatusRecord")},
            "/api/auth_code": {"post": _ingest_operation("Post authorization-code counts", "AuthCodeRecord")},
            "/api/transactions": {
                "get": {
                    "summary": "Per-minute counts per status, oldest first",
                    "parameters": [_minutes_param()],
                    "responses": {"200": _json(series, "Counts"), "400": _error("Bad query parameter.")},
                }
            },
            "/api/auth_codes": {
                "get": {
                    "summary": "Per-minute counts per authorization code, oldest first",
                    "parameters": [_minutes_param()],
                    "responses": {"200": _json(series, "Counts"), "400": _error("Bad query parameter.")},
                }
            },
            "/api/stats": {
                "get": {
                    "summary": "Totals and rates per status over a window, the rules in force, the newest event time",
                    "parameters": [_minutes_param()],
                    "responses": {"200": _json({"type": "object"}, "Statistics"), "400": _error("Bad query parameter.")},
                }
            },
            "/api/alerts": {
                "get": {
                    "summary": "Alerts, newest first",
                    "parameters": [
                        {"name": "state", "in": "query", "schema": {"type": "string", "enum": ["firing", "pending", "resolved", "all"], "default": "all"}},
                        {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 10000, "default": 100}},
                    ],
                    "responses": {
                        "200": _json(
                            {"type": "object", "properties": {"state": {"type": "string"}, "count": {"type": "integer"}, "alerts": {"type": "array", "items": {"$ref": "#/components/schemas/Alert"}}}},
                            "Alerts",
                        ),
                        "400": _error("Bad query parameter."),
                    },
                }
            },
            "/api/health": {
                "get": {
                    "summary": "Status, version, uptime, newest event time, store and feed status",
                    "responses": {"200": _json({"type": "object"}, "Healthy or degraded"), "503": _json({"type": "object"}, "The store is unavailable")},
                }
            },
            **notification_paths(),
            "/api/openapi.json": {
                "get": {"summary": "This document", "responses": {"200": _json({"type": "object"}, "OpenAPI 3 document")}}
            },
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "description": "Needed on POST routes when MONITOR_API_TOKEN is set."}},
            "schemas": {
                "StatusRecord": _record("status", statuses, "failed"),
                "AuthCodeRecord": _record("auth_code", auth_codes, "51"),
                "Alert": alert,
                "IngestResult": {
                    "type": "object",
                    "properties": {"accepted": {"type": "integer"}, "alerts": {"type": "array", "items": {"$ref": "#/components/schemas/Alert"}}},
                },
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


# --- silences, the delivery log and /metrics ---

def notification_paths() -> dict[str, Any]:
    silence = _json({"$ref": "#/components/schemas/Silence"}, "The silence")
    not_found = _error("No silence with this id.")
    return {
        "/api/silences": {
            "get": {
                "summary": "Silences, newest first",
                "parameters": [{"name": "status", "in": "query", "schema": {"type": "string", "enum": ["active", "pending", "expired"]}}],
                "responses": {
                    "200": _json({"type": "object", "properties": {"count": {"type": "integer"}, "silences": {"type": "array", "items": {"$ref": "#/components/schemas/Silence"}}}}, "Silences"),
                    "400": _error("Bad query parameter."),
                },
            },
            "post": {
                "summary": "Silence alerts matching rule/metric/severity between two times",
                "description": "A silenced alert still shows in /api/alerts and on the dashboard (silenced: true) but sends no notification. Times are wall-clock, ISO 8601 or epoch seconds.",
                "security": [{}, {"bearer": []}],
                "requestBody": {"required": True, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/SilenceRequest"}}}},
                "responses": {
                    "201": silence,
                    "400": _error("The body is not valid JSON."),
                    "401": _error("MONITOR_API_TOKEN is set and the bearer token is missing or wrong."),
                    "415": _error("Content-Type is not application/json."),
                    "422": _error("A field is wrong; details name it."),
                    "503": _error("The store could not be written."),
                },
            },
        },
        "/api/silences/{silence_id}": {
            "parameters": [{"name": "silence_id", "in": "path", "required": True, "schema": {"type": "string"}}],
            "get": {"summary": "One silence", "responses": {"200": silence, "404": not_found}},
            "delete": {
                "summary": "Expire a silence now (it is kept, as expired)",
                "security": [{}, {"bearer": []}],
                "responses": {"200": silence, "401": _error("Bearer token missing or wrong."), "404": not_found},
            },
        },
        "/api/notifications": {
            "get": {
                "summary": "The delivery log, newest first: channel, alert, attempt, outcome",
                "description": "Delivery is at-least-once. Outcomes: delivered; error (an attempt that is retried); failed (gave up); silenced; skipped (send_resolved off).",
                "parameters": [
                    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 10000, "default": 100}},
                    {"name": "channel", "in": "query", "schema": {"type": "string"}},
                    {"name": "alert_id", "in": "query", "schema": {"type": "string"}},
                    {"name": "outcome", "in": "query", "schema": {"type": "string", "enum": ["delivered", "error", "failed", "silenced", "skipped"]}},
                ],
                "responses": {
                    "200": _json({"type": "object", "properties": {
                        "delivery": {"type": "string"},
                        "channels": {"type": "array", "items": {"type": "object"}},
                        "queue_depth": {"type": "integer"},
                        "pending": {"type": "object", "additionalProperties": {"type": "integer"}},
                        "count": {"type": "integer"},
                        "notifications": {"type": "array", "items": {"$ref": "#/components/schemas/NotificationAttempt"}},
                    }}, "The log"),
                    "400": _error("Bad query parameter."),
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


def notification_schemas() -> dict[str, Any]:
    matchers = {
        "type": "object",
        "minProperties": 1,
        "additionalProperties": False,
        "properties": {
            "rule": {"type": "string", "example": "failed_high"},
            "metric": {"type": "string", "example": "status:failed"},
            "severity": {"type": "string", "enum": ["info", "warning", "critical"]},
        },
    }
    return {
        "SilenceRequest": {
            "type": "object",
            "required": ["matchers", "ends_at"],
            "properties": {
                "matchers": matchers,
                "starts_at": {"type": "string", "format": "date-time", "description": "Default: now."},
                "ends_at": {"type": "string", "format": "date-time"},
                "comment": {"type": "string", "maxLength": 1000},
                "created_by": {"type": "string", "maxLength": 1000},
            },
        },
        "Silence": {
            "type": "object",
            "properties": {
                "id": {"type": "string"},
                "matchers": matchers,
                "starts_at": {"type": "string", "format": "date-time"},
                "ends_at": {"type": "string", "format": "date-time"},
                "created_at": {"type": "string", "format": "date-time"},
                "created_by": {"type": "string"},
                "comment": {"type": "string"},
                "status": {"type": "string", "enum": ["active", "pending", "expired"]},
            },
        },
        "NotificationAttempt": {
            "type": "object",
            "properties": {
                "id": {"type": "integer"},
                "at": {"type": "string", "format": "date-time"},
                "at_epoch": {"type": "number"},
                "channel": {"type": "string"},
                "alert_id": {"type": "string"},
                "kind": {"type": "string", "enum": ["firing", "resolved", "repeat"]},
                "attempt": {"type": "integer", "description": "0 for silenced/skipped notices, which make no attempt."},
                "outcome": {"type": "string", "enum": ["delivered", "error", "failed", "silenced", "skipped"]},
                "detail": {"type": "string"},
            },
        },
    }
