"""REST routes for silences and the notification delivery log: parse, call the engine, shape JSON."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request

from detection.channels import describe_channel
from detection.delivery import Delivery
from detection.delivery_log import OUTCOMES
from detection.redact import redact_text
from detection.silences import SilenceError, Silences
from detection.store import StoreError

from .errors import ApiError
from .json_body import read_json
from .limits import (
    MAX_LIMIT,
    MAX_SILENCE_BODY_BYTES,
)
from .params import int_arg, only_args, require_bearer


def redacted_entry(entry: dict[str, Any]) -> dict[str, Any]:
    """A delivery log row as answered: any URL in its detail (a receiver's error) without its secrets."""
    return {**entry, "detail": redact_text(entry.get("detail") or "")}


def make_notifications_blueprint(delivery: Delivery, silences: Silences, api_token: str | None = None) -> Blueprint:
    """Routes that change state (POST, DELETE) and the delivery log need the API's bearer token when one is set."""
    bp = Blueprint("notifications", __name__, url_prefix="/api")



    @bp.get("/silences")
    def list_silences():
        now = silences.now()
        only_args("status")
        state = request.args.get("status")
        if state is not None and state not in ("active", "pending", "expired"):
            raise ApiError(400, "invalid_parameter", f"'status' must be active, pending or expired, got {state!r}")
        items = [s.to_dict(now) for s in silences.all()]
        if state is not None:
            items = [s for s in items if s["status"] == state]
        return jsonify({"count": len(items), "silences": items})

    @bp.post("/silences")
    def create_silence():
        require_bearer(api_token)
        body, _raw = read_json(request.environ, MAX_SILENCE_BODY_BYTES)
        try:
            silence = silences.create(body)
        except SilenceError as exc:
            raise ApiError(422, "invalid_silence", str(exc), [{"field": exc.field, "message": exc.message}]) from None
        except StoreError as exc:
            raise ApiError(503, "store_unavailable", f"the silence was not stored: {exc}") from None
        return jsonify(silence.to_dict(silences.now())), 201

    @bp.get("/silences/<silence_id>")
    def get_silence(silence_id: str):
        only_args()
        silence = silences.get(silence_id)
        if silence is None:
            raise ApiError(404, "not_found", f"no silence with id {silence_id!r}")
        return jsonify(silence.to_dict(silences.now()))

    @bp.delete("/silences/<silence_id>")
    def delete_silence(silence_id: str):
        require_bearer(api_token)
        try:
            silence = silences.expire(silence_id)
        except StoreError as exc:
            raise ApiError(503, "store_unavailable", f"the silence was not changed: {exc}") from None
        if silence is None:
            raise ApiError(404, "not_found", f"no silence with id {silence_id!r}")
        return jsonify(silence.to_dict(silences.now()))

    @bp.get("/notifications")
    def list_notifications():
        require_bearer(api_token)  # where alerts go and what receivers answered: not for anyone who can reach the port
        only_args("limit", "channel", "incident_id", "alert_id", "outcome")
        limit = int_arg("limit", 100, 1, MAX_LIMIT)
        outcome = request.args.get("outcome")
        if outcome is not None and outcome not in OUTCOMES:
            raise ApiError(400, "invalid_parameter", f"'outcome' must be one of {', '.join(OUTCOMES)}, got {outcome!r}")
        channel = request.args.get("channel")
        try:
            entries = delivery.log.entries(limit, channel, request.args.get("incident_id"), outcome,
                                           request.args.get("alert_id"))
        except StoreError as exc:
            raise ApiError(503, "store_unavailable", str(exc)) from None
        stats = delivery.stats()
        return jsonify({
            "delivery": "at-least-once",
            "channels": [describe_channel(c) for c in delivery.channels],
            "queue_depth": stats["queue_depth"],
            "pending": stats["pending"],
            "dropped_from_queue": stats["dropped"],
            "running": stats["running"],
            "count": len(entries),
            "notifications": [redacted_entry(e) for e in entries],
        })

    return bp
