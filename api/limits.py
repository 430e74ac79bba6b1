"""The API layer's limits, in one place: the routes enforce them and the OpenAPI document states them.

The engine's own limits (event-time range, count ceilings, silence fields) live
beside the code that enforces them in ``detection/`` and are re-exported here,
so the document reads every number from where it is enforced.
"""

from __future__ import annotations

from detection.incident_actions import MAX_BY, MAX_NOTES, MAX_REASON, MAX_TEXT
from detection.records import MAX_FUTURE_SECONDS, MAX_MINUTE_COUNT, MAX_RECORD_COUNT, MAX_TIMESTAMP_CHARS
from detection.silences import MAX_AHEAD_SECONDS, MAX_COMMENT, MAX_CREATED_BY, MAX_MATCHER_VALUE

MAX_BODY_BYTES = 3_000_000  # an ingest body: 10,000 records fit with room to spare, labelled ones (about 150 bytes) too
MAX_RECORDS = 10_000  # records in one ingest request
MAX_IDEMPOTENCY_KEY = 255  # characters of an Idempotency-Key
MAX_LIMIT = 10_000  # rows one list request may ask for (?limit=)
MAX_INCIDENT_LIMIT = 1_000  # incidents one request may ask for: each carries its drivers and member statistics
MAX_INCIDENT_ID = 64  # characters of an incident id in a path (ids are 16)
MAX_SILENCE_BODY_BYTES = 64_000
MAX_DASH_BODY_BYTES = 1_000_000  # the dashboard's own POST routes
MAX_ACTION_BODY_BYTES = 64_000  # an acknowledgement, note or label: 2,000 characters fit several times over
MAX_LABEL_LIMIT = 10_000  # labels one GET /api/incidents/labels may ask for
# What the dashboard offers when silencing from an incident or an alert (minutes): half an hour to a day.
SILENCE_DURATIONS_MINUTES = (30, 60, 240, 1440)
MAX_JSON_DEPTH = 32  # arrays and objects inside each other; a record batch needs 2

__all__ = [
    "MAX_ACTION_BODY_BYTES", "MAX_BY", "MAX_LABEL_LIMIT", "MAX_NOTES", "MAX_REASON", "MAX_TEXT",
    "SILENCE_DURATIONS_MINUTES", "MAX_AHEAD_SECONDS", "MAX_BODY_BYTES", "MAX_COMMENT", "MAX_CREATED_BY", "MAX_DASH_BODY_BYTES",
    "MAX_FUTURE_SECONDS", "MAX_IDEMPOTENCY_KEY", "MAX_INCIDENT_ID", "MAX_INCIDENT_LIMIT", "MAX_JSON_DEPTH", "MAX_LIMIT", "MAX_MATCHER_VALUE",
    "MAX_MINUTE_COUNT", "MAX_RECORDS", "MAX_RECORD_COUNT", "MAX_SILENCE_BODY_BYTES", "MAX_TIMESTAMP_CHARS",
]
