"""REST routes for what analysts do to incidents: acknowledge, add notes, label, list labels, prefill a silence.

Thin: parse, call ``detection.incident_actions.IncidentActions``, shape the JSON. Every route that
writes needs the bearer token when one is set; the reads are open like GET /api/incidents.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, jsonify, request

from detection.incident_actions import (
    LABELS,
    ActionConflict,
    ActionError,
    IncidentActions,
    UnknownIncident,
    label_json,
    silence_matchers,
)
from detection.incidents import Incident
from detection.store import StoreError

from .errors import ApiError
from .json_body import read_json
from .limits import MAX_ACTION_BODY_BYTES, MAX_INCIDENT_ID, MAX_LABEL_LIMIT, SILENCE_DURATIONS_MINUTES
from .params import int_arg, only_args, require_bearer


def checked_id(incident_id: str) -> str:
    if len(incident_id) > MAX_INCIDENT_ID:
        raise ApiError(400, "invalid_parameter", f"incident id {incident_id[:MAX_INCIDENT_ID]!r}... is longer than "
                                                 f"{MAX_INCIDENT_ID} characters")
    return incident_id


def make_incident_actions_blueprint(actions: IncidentActions, api_token: str | None = None) -> Blueprint:
    bp = Blueprint("incident_actions", __name__, url_prefix="/api")

    def act(incident_id: str, do: Callable[[str, Any], tuple[Incident, Any]], status: int):
        require_bearer(api_token)
        only_args()
        checked_id(incident_id)
        body, _raw = read_json(request.environ, MAX_ACTION_BODY_BYTES)
        try:
            incident, record = do(incident_id, body)
        except ActionError as exc:
            raise ApiError(422, "invalid_action", str(exc), [{"field": exc.field, "message": exc.message}]) from None
        except UnknownIncident:
            raise ApiError(404, "not_found", f"no incident with id {incident_id!r}") from None
        except ActionConflict as exc:
            raise ApiError(409, exc.code, exc.message) from None
        except StoreError as exc:
            raise ApiError(503, "store_unavailable", f"nothing was stored: {exc}") from None
        return jsonify({**incident.to_dict(), **record.to_dict()}), status

    @bp.post("/incidents/<incident_id>/ack")
    def acknowledge(incident_id: str):
        return act(incident_id, actions.acknowledge, 200)

    @bp.post("/incidents/<incident_id>/notes")
    def add_note(incident_id: str):
        return act(incident_id, actions.add_note, 201)

    @bp.put("/incidents/<incident_id>/label")
    def set_label(incident_id: str):
        return act(incident_id, actions.set_label, 200)

    @bp.get("/incidents/labels")
    def list_labels():
        only_args("label", "limit")
        label = request.args.get("label")
        if label is not None and label not in LABELS:
            raise ApiError(400, "invalid_parameter", f"'label' must be one of {', '.join(LABELS)}, got {label[:40]!r}")
        limit = int_arg("limit", 100, 1, MAX_LABEL_LIMIT)
        try:
            found = actions.labels(label, limit)
        except StoreError as exc:
            raise ApiError(503, "store_unavailable", str(exc)) from None
        return jsonify({"label": label, "count": len(found), "labels": [label_json(lb, i) for lb, i in found]})

    @bp.get("/incidents/<incident_id>/silence")
    def silence_template(incident_id: str):
        only_args()
        checked_id(incident_id)
        try:
            incident = actions.store.incident(incident_id)
            alerts = actions.store.alerts_by_id(incident.alert_ids) if incident is not None else []
        except StoreError as exc:
            raise ApiError(503, "store_unavailable", str(exc)) from None
        if incident is None:
            raise ApiError(404, "not_found", f"no incident with id {incident_id!r}")
        return jsonify({
            "incident_id": incident.id,
            "matchers": silence_matchers(alerts),
            "durations_minutes": list(SILENCE_DURATIONS_MINUTES),
            "comment": f"silenced from incident {incident.id}: {incident.title}"[:200],
        })

    return bp
