"""The ingest routes' work (POST /api/transaction, /api/auth_code), and a WSGI fast path for the answers they accept.

Every posted record is a request, and Flask's own work per request (request context, URL matching, the
app's before- and after-request hooks, teardown) costs more than validating and storing a single record: in
benchmarks/bench_post.py a median single-record POST took about 235 us through Flask and about 95 us without
it (3 December 2026). A POST the monitor accepts needs none of that work, so
``IngestFastPath`` answers it straight from the WSGI environ. Everything else still goes through Flask: other
paths and methods, and every refusal. A refusal found on the fast path (401, 413, 415, 400, 422, 503, or an
unexpected error) is handed to the Flask route, which raises it there, so the answer has the same JSON body,
error handlers, hooks, compression and metrics as without the fast path; the records are never stored twice.
An accepted answer too large to leave uncompressed is handed over the same way.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterable
from typing import Any

from flask import Response

from detection import IdempotencyConflict, Monitor, RecordValidationError, StoreError, validate_records
from detection.metrics import AUTH_CODE_FEED, STATUS_FEED
from detection.records import FieldError

from .errors import ApiError
from .json_body import read_json
from .limits import MAX_BODY_BYTES, MAX_IDEMPOTENCY_KEY, MAX_RECORDS
from .params import check_bearer

# The ingest routes, as the blueprint mounts them (url_prefix /api), and the feed each one takes.
INGEST_PATHS = {"/api/transaction": STATUS_FEED, "/api/auth_code": AUTH_CODE_FEED}
# Where the fast path leaves, for the Flask route, when it started and what to answer: (started, refusal or
# None, accepted answer or None).
_HANDED_OVER = "monitor.ingest.handed_over"

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


class Ingest:
    """Validate posted records, store them through ``Monitor.ingest``, and shape the 201 answer."""

    def __init__(self, monitor: Monitor, api_token: str | None,
                 observe: Callable[[str, int, str | None, float], None] | None):
        thresholds = monitor.thresholds
        self.monitor = monitor
        self.api_token = api_token
        # Told of every ingest request: (feed, HTTP status, error code or None, seconds), for /metrics.
        self.observe = observe
        self.allowed = {STATUS_FEED: frozenset(thresholds.statuses), AUTH_CODE_FEED: frozenset(thresholds.auth_codes)}
        self.labels = monitor.labels if monitor.labels.enabled else None

    def store(self, feed: str, environ: dict[str, Any]) -> tuple[bytes, bool]:
        """The answer's JSON and whether it replays an earlier request; raises ``ApiError`` for a refusal."""
        check_bearer(environ.get("HTTP_AUTHORIZATION", ""), self.api_token)
        payload, body = read_json(environ, MAX_BODY_BYTES)
        if isinstance(payload, list) and len(payload) > MAX_RECORDS:
            raise ApiError(413, "too_many_records", f"{len(payload)} records in one request; at most {MAX_RECORDS}")
        key = _idempotency_key(environ, feed)
        try:
            records = validate_records(payload, feed, self.allowed[feed], now=time.time(), labels=self.labels)
            fingerprint = hashlib.sha256(body).hexdigest() if key is not None else ""
            result = self.monitor.ingest(records, key, fingerprint)
        except RecordValidationError as exc:
            if isinstance(payload, dict):  # one object, not an array: the engine's errors name no index
                exc = RecordValidationError([FieldError(None, e.field, e.message) for e in exc.errors], exc.total_errors)
            raise ApiError(422, "invalid_records", str(exc), [e.to_dict() for e in exc.errors]) from None
        except IdempotencyConflict as exc:
            raise ApiError(422, "idempotency_key_reused", str(exc)) from None
        except StoreError as exc:
            raise ApiError(503, "store_unavailable", f"nothing was stored: {exc}") from None
        return json.dumps(result.to_dict()).encode(), result.replayed

    def flask_answer(self, feed: str, environ: dict[str, Any]) -> Response:
        """The route's answer inside Flask: the fast path's hand-over when there is one, else the work itself."""
        started, refusal, accepted = environ.pop(_HANDED_OVER, (time.perf_counter(), None, None))
        try:
            if refusal is not None:
                raise refusal
            body, replayed = accepted if accepted is not None else self.store(feed, environ)
        except ApiError as exc:
            self.observed(feed, exc.status, exc.code, started)
            raise
        self.observed(feed, 201, None, started)
        response = Response(body, status=201, mimetype="application/json")
        if replayed:
            response.headers["Idempotent-Replayed"] = "true"
        return response

    def observed(self, feed: str, status: int, code: str | None, started: float) -> None:
        if self.observe is not None:
            self.observe(feed, status, code, time.perf_counter() - started)


def _idempotency_key(environ: dict[str, Any], feed: str) -> str | None:
    key = environ.get("HTTP_IDEMPOTENCY_KEY")
    if key is None:
        return None
    if not key or len(key) > MAX_IDEMPOTENCY_KEY or not key.isprintable():
        raise ApiError(400, "invalid_idempotency_key", f"Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY} printable characters")
    return f"{feed}:{key}"  # a key is scoped to its route


class IngestFastPath:
    """WSGI middleware (``server.wsgi_app``): an accepted ingest POST whose answer is under ``direct_below``
    bytes is answered here; every other request, refusal or larger answer goes on to Flask (``app``)."""

    def __init__(self, app: WsgiApp, ingest: Ingest, direct_below: int):
        self.app = app
        self.ingest = ingest
        # Answers from this size on are left to Flask's after-request hooks, which may compress them.
        self.direct_below = direct_below

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        feed = INGEST_PATHS.get(environ.get("PATH_INFO", "")) if environ.get("REQUEST_METHOD") == "POST" else None
        if feed is None:
            return self.app(environ, start_response)
        started = time.perf_counter()
        try:
            body, replayed = self.ingest.store(feed, environ)
        except Exception as exc:  # noqa: BLE001 - not handled here: the Flask route raises it, and Flask answers
            environ[_HANDED_OVER] = (started, exc, None)
            return self.app(environ, start_response)
        if len(body) >= self.direct_below:
            environ[_HANDED_OVER] = (started, None, (body, replayed))
            return self.app(environ, start_response)
        self.ingest.observed(feed, 201, None, started)
        headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
        if replayed:
            headers.append(("Idempotent-Replayed", "true"))
        start_response("201 CREATED", headers)
        return [body]
