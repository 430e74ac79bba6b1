"""REST routes: parse the request, call the Monitor, shape the JSON answer. No logic of their own."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, jsonify, request

from detection import Alert, Monitor, StoreError
from detection.breakdown import MAX_BREAKDOWN_MINUTES, MAX_TOP
from detection.incident_actions import IncidentActions
from detection.metrics import AUTH_CODE_FEED, STATUS_FEED, auth_code_metric, epoch_to_iso, minute_to_iso, status_metric
from detection.roles import LEADER, Roles

from .errors import ApiError
from .ingest import Ingest
from .limits import (
    MAX_INCIDENT_ID,
    MAX_INCIDENT_LIMIT,
    MAX_LIMIT,
)
from .openapi import openapi_document
from .params import choice_arg, int_arg, only_args

ALERT_STATES = ("firing", "pending", "resolved", "all")
INCIDENT_STATES = ("open", "resolved", "all")


@dataclass(frozen=True)
class ApiSettings:
    api_token: str | None = None
    version: str = "0.1.0"
    store_path: str = ":memory:"
    # Extra fields for each alert in answers, e.g. {"silenced": true} from the silences.
    alert_marks: Callable[[Alert], dict[str, Any]] | None = None
    # Told of every ingest request: (feed, HTTP status, error code or None, seconds), for /metrics.
    observe_ingest: Callable[[str, int, str | None, float], None] | None = None
    # Acknowledgements, notes and labels added to each incident in answers; None: read from the monitor's store.
    incident_actions: IncidentActions | None = None
    # This instance's place among several sharing a PostgreSQL store (leader or standby); None: it leads alone.
    roles: Roles | None = None


def role_json(roles: Roles | None) -> dict[str, Any]:
    """``instance``, ``role`` (leader or standby) and ``leader`` {instance, since}: who judges rules, since when."""
    if roles is None:
        return {"instance": None, "role": LEADER, "leader": None}
    leader = roles.leader()
    return {"instance": roles.instance, "role": roles.role,
            "leader": None if leader is None else {"instance": leader.instance, "since": epoch_to_iso(leader.since)}}


def make_blueprint(monitor: Monitor, settings: ApiSettings, ingest: Ingest | None = None) -> Blueprint:
    api = Blueprint("api", __name__, url_prefix="/api")
    thresholds = monitor.thresholds
    ingest = ingest or Ingest(monitor, settings.api_token, settings.observe_ingest)
    actions = settings.incident_actions or IncidentActions(monitor.store)

    def alert_json(alert: Alert) -> dict[str, Any]:
        shaped = alert.to_dict()
        if settings.alert_marks is not None:
            shaped.update(settings.alert_marks(alert))
        return shaped


    # Accepted POSTs are mostly answered before Flask (api.ingest.IngestFastPath); these routes answer the rest.
    @api.post("/transaction")
    def post_transaction():
        return ingest.flask_answer(STATUS_FEED, request.environ)

    @api.post("/auth_code")
    def post_auth_code():
        return ingest.flask_answer(AUTH_CODE_FEED, request.environ)


    def window_minutes(*also: str) -> int:
        only_args("minutes", *also)
        return int_arg("minutes", 60, 1, monitor.settings.window_minutes)

    def series_rows(keys: tuple[str, ...], to_metric, feed: str) -> dict[str, Any]:
        minutes = window_minutes("slice")
        snap = monitor.snapshot(minutes, recent_alerts=0)
        counts: Any = snap.counts
        key = request.args.get("slice")
        if key is not None:  # one slice's counts (acquirer=acq-07), minute for minute as the global ones
            try:
                sliced = monitor.slice_counts(key, minutes)
            except ValueError as exc:
                raise ApiError(400, "invalid_parameter", str(exc)) from None
            counts = sliced["counts"] if sliced["end_minute"] == snap.end_minute else {}
        rows = []
        columns = {k: counts.get(to_metric(k), ()) or (0,) * len(snap.minutes) for k in keys}
        received = snap.received.get(feed, ())
        for i, minute in enumerate(snap.minutes):
            row: dict[str, Any] = {"timestamp": minute_to_iso(minute)}
            for k in keys:
                row[k] = columns[k][i]
            row["total"] = sum(columns[k][i] for k in keys)
            row["received"] = received[i] if received else False
            rows.append(row)
        body = {"from": minute_to_iso(snap.start_minute), "to": minute_to_iso(snap.end_minute), "data": rows}
        if key is not None:
            body["slice"] = key
        return body

    @api.get("/transactions")
    def get_transactions():
        body = series_rows(thresholds.statuses, status_metric, STATUS_FEED)
        return jsonify({"statuses": list(thresholds.statuses), **body})

    @api.get("/auth_codes")
    def get_auth_codes():
        body = series_rows(thresholds.auth_codes, auth_code_metric, AUTH_CODE_FEED)
        return jsonify({"auth_codes": list(thresholds.auth_codes), **body})

    @api.get("/dimensions")
    def get_dimensions():
        only_args()
        return jsonify({"dimensions": monitor.dimensions(),
                        "pairs": [list(p) for p in thresholds.dimension_pairs],
                        "limits": {d.name: d.to_config() for d in thresholds.dimensions}})

    @api.get("/breakdown")
    def get_breakdown():
        if not monitor.labels.enabled:
            raise ApiError(404, "no_dimensions", "this server has no dimensions configured (the thresholds file's "
                                                 "\"dimensions\"): there are no slices to break a count down by")
        only_args("metric", "by", "minutes", "top")
        metric = request.args.get("metric")
        by = request.args.get("by")
        for name, value in (("metric", metric), ("by", by)):
            if not value:
                raise ApiError(400, "invalid_parameter", f"'{name}' is required, e.g. "
                                                         "?metric=status:denied&by=acquirer&minutes=60")
        minutes = int_arg("minutes", 60, 1, MAX_BREAKDOWN_MINUTES)
        top = int_arg("top", 10, 1, MAX_TOP)
        try:
            return jsonify(monitor.breakdown(str(metric), str(by), minutes, top))
        except ValueError as exc:
            raise ApiError(400, "invalid_parameter", str(exc)) from None

    @api.get("/stats")
    def get_stats():
        snap = monitor.snapshot(window_minutes(), recent_alerts=0)
        totals = {s: sum(snap.counts.get(status_metric(s), ())) for s in thresholds.statuses}
        total = sum(totals.values())
        codes = {c: sum(snap.counts.get(auth_code_metric(c), ())) for c in thresholds.auth_codes}
        return jsonify({
            "window_minutes": len(snap.minutes),
            "from": minute_to_iso(snap.start_minute),
            "to": minute_to_iso(snap.end_minute),
            "newest_event_time": minute_to_iso(snap.end_minute),
            "total": total,
            "totals": totals,
            "rates": {s: (n / total if total else 0.0) for s, n in totals.items()},
            "auth_codes": codes,
            "open_alerts": [alert_json(a) for a in snap.open_alerts],
            "rules": list(snap.rules),
            "no_data_after_minutes": thresholds.no_data_minutes,
            "thresholds": {"source": thresholds.source, "provenance": thresholds.provenance},
        })

    @api.get("/alerts")
    def get_alerts():
        only_args("state", "limit")
        state = choice_arg("state", "all", ALERT_STATES)
        limit = int_arg("limit", 100, 1, MAX_LIMIT)
        try:
            alerts = monitor.alerts(state, limit)
        except StoreError as exc:
            raise ApiError(503, "store_unavailable", str(exc)) from None
        return jsonify({"state": state, "count": len(alerts), "alerts": [alert_json(a) for a in alerts]})

    @api.get("/incidents")
    def get_incidents():
        only_args("state", "limit")
        state = choice_arg("state", "all", INCIDENT_STATES)
        limit = int_arg("limit", 100, 1, MAX_INCIDENT_LIMIT)
        try:
            incidents = monitor.incidents(state, limit)
            shaped = actions.shape(incidents)
        except StoreError as exc:
            raise ApiError(503, "store_unavailable", str(exc)) from None
        return jsonify({"state": state, "count": len(shaped), "incidents": shaped})

    @api.get("/incidents/<incident_id>")
    def get_incident(incident_id: str):
        only_args()
        if len(incident_id) > MAX_INCIDENT_ID:
            raise ApiError(400, "invalid_parameter", f"incident id {incident_id[:MAX_INCIDENT_ID]!r}... is longer than "
                                                     f"{MAX_INCIDENT_ID} characters")
        try:
            incident = monitor.incident(incident_id)
            shaped = actions.shape([incident]) if incident is not None else []
        except StoreError as exc:
            raise ApiError(503, "store_unavailable", str(exc)) from None
        if not shaped:
            raise ApiError(404, "not_found", f"no incident with id {incident_id!r}")
        return jsonify(shaped[0])

    @api.get("/health")
    def get_health():
        # No only_args() here: load balancers and probes may add a cache-busting parameter.
        # 503 exactly when the store cannot be trusted with writes (the last write failed, the file was
        # deleted or replaced); a silent feed is "degraded" too, but the service itself is up (200).
        store = monitor.store.health()
        feeds = monitor.feed_statuses()
        silent = any(f.no_data_alert for f in feeds.values())
        status = "ok" if store.ok and not silent else "degraded"
        return jsonify({
            "status": status,
            "version": settings.version,
            "uptime_seconds": round(monitor.uptime_seconds(), 1),
            "newest_event_time": minute_to_iso(monitor.newest_event_minute()),
            "store": {"ok": store.ok, "path": settings.store_path, "reason": store.reason,
                      "failed_at": epoch_to_iso(store.failed_at)},
            "feeds": {name: f.to_dict() for name, f in feeds.items()},
            **role_json(settings.roles),
        }), (200 if store.ok else 503)

    @api.get("/openapi.json")
    def get_openapi():
        return jsonify(openapi_document(settings.version, thresholds.statuses, thresholds.auth_codes,
                                        monitor.settings.window_minutes, bool(settings.api_token),
                                        dimensions=[d.name for d in thresholds.dimensions],
                                        pairs=thresholds.dimension_pairs))

    @api.route("/<path:unknown>", methods=["GET", "POST"])
    def not_found(unknown: str):
        # Without this, Dash's catch-all page route would answer unknown API paths with HTML.
        raise ApiError(404, "not_found", f"no API route /api/{unknown}; see /api/openapi.json")

    return api
