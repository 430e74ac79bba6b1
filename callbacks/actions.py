"""The page's incident actions and silences, each sent to the app's own REST route (``RouteClient``).

A click is a request to the very route a script would use (POST /api/incidents/<id>/ack,
POST /api/silences, ...), made in-process through Flask's test client with the page's
token as a bearer header: validation, conflicts and the token check are the route's, so
the page can do nothing the API would refuse. The token is asked for once (kept for the
tab, as the simulate buttons keep it); the analyst's name is kept the same way.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from dash import ALL, Dash, Input, Output, State, ctx, no_update, set_props
from flask import Flask

from components import ids
from components.actions import (
    ACK,
    ACK_NOTE,
    ACTION_TYPE,
    ACTOR_NAME_STORE,
    DEFAULT_DURATIONS,
    EXPECTED,
    EXPIRE_TYPE,
    FALSE_ALARM,
    FIELD_TYPE,
    NAME,
    NOTE,
    NOTE_TEXT,
    REASON,
    SILENCE,
    SILENCES_DIGEST,
    SILENCES_LIST,
    SILENCES_RESULT,
    SILENCES_TOKEN_OWNER,
    SILENCES_VERSION,
    TOKEN,
    action_form,
    duration_text,
    error_text,
    silences_list,
)
from components.incidents import incident_detail
from detection import Monitor
from detection.incident_actions import IncidentActions

from .access import TOKEN_MISSING, TOKEN_WRONG
from .unchanged import drawn_digests

NAME_NEEDED = "Not saved: your name is required (who acknowledged, noted or silenced it)."


def iso(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


class RouteClient:
    """Requests to this app's REST routes, answered in-process by the same views a remote client reaches."""

    def __init__(self, server: Flask):
        self.server = server

    def call(self, method: str, path: str, token: str | None = None, body: Any = None) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        answer = self.server.test_client().open(path, method=method, headers=headers,
                                                **({"json": body} if body is not None else {}))
        return answer.status_code, answer.get_json(silent=True)


def field_values(states: list[dict[str, Any]]) -> dict[str, str]:
    """The form's fields by name ({"name": "alice", ...}); anything that is not text counts as empty."""
    out: dict[str, str] = {}
    for state in states:
        field = state.get("id", {}).get("field")
        value = state.get("value")
        if isinstance(field, str):
            out[field] = value if isinstance(value, str) else ""
    return out


def refusal(status: int, answer: Any, token_given: bool) -> str:
    """Why the route refused, in words; a 401 says what to do about the token."""
    if status == 401:
        return TOKEN_WRONG if token_given else TOKEN_MISSING.replace("above", "below your name")
    return error_text(status, answer)


class PageActions:
    """Renders an incident's detail with its actions, and carries out the clicks through ``RouteClient``."""

    def __init__(self, monitor: Monitor, actions: IncidentActions, routes: RouteClient, api_token: str | None):
        self.monitor = monitor
        self.actions = actions
        self.routes = routes
        self.token_required = bool(api_token)

    def durations(self, incident_id: str) -> list[int]:
        status, answer = self.routes.call("GET", f"/api/incidents/{quote(incident_id, safe='')}/silence")
        if status == 200 and isinstance(answer, Mapping):
            return [int(m) for m in answer.get("durations_minutes", []) if isinstance(m, int)]
        return list(DEFAULT_DURATIONS)

    def detail(self, incident_id: str, name: object, kept_token: object, message: str = "", failed: bool = False,
               values: Mapping[str, str] | None = None) -> Any:
        """The detail panel for one incident with what analysts did and the forms (None when it is gone)."""
        incident = self.monitor.incident(incident_id)
        if incident is None:
            return incident_detail(None)
        shaped = self.actions.shape([incident])[0]
        newest = self.monitor.newest_event_minute()
        end = incident.resolved_at if incident.resolved_at is not None else max(incident.started_at, newest or 0)
        ask = self.token_required and not (isinstance(kept_token, str) and kept_token)
        form = action_form(shaped, name if isinstance(name, str) else "", ask, self.durations(incident_id), message,
                           failed, values)
        return incident_detail(shaped, incident.started_at, end, form)

    def act(self, action: str, incident_id: str, fields: Mapping[str, str], token: str | None) -> tuple[bool, str]:
        """One click: (done, what to say). Everything is decided by the REST route's answer."""
        name = fields.get(NAME, "").strip()
        base = f"/api/incidents/{quote(incident_id, safe='')}"
        if action == ACK:
            status, answer = self.routes.call("POST", f"{base}/ack", token,
                                              {"by": name, **({"note": fields[ACK_NOTE]} if fields.get(ACK_NOTE) else {})})
            return (True, f"Acknowledged as {name}.") if status == 200 else (False, refusal(status, answer, bool(token)))
        if action == NOTE:
            status, answer = self.routes.call("POST", f"{base}/notes", token, {"by": name, "text": fields.get(NOTE_TEXT, "")})
            return (True, "Note added.") if status == 201 else (False, refusal(status, answer, bool(token)))
        if action in (FALSE_ALARM, EXPECTED):
            status, answer = self.routes.call("PUT", f"{base}/label", token,
                                              {"label": action, "by": name,
                                               **({"reason": fields[REASON]} if fields.get(REASON) else {})})
            word = "a false alarm" if action == FALSE_ALARM else "expected"
            return (True, f"Marked {word}.") if status == 200 else (False, refusal(status, answer, bool(token)))
        if action.startswith(f"{SILENCE}-"):
            return self.silence(incident_id, int(action.rpartition("-")[2]), name, token)
        return False, f"Not saved: unknown action {action[:40]!r}."

    def silence(self, incident_id: str, minutes: int, name: str, token: str | None) -> tuple[bool, str]:
        """One silence per matcher set the incident's silence template lists, all ending ``minutes`` from now."""
        if not name:
            return False, NAME_NEEDED
        status, template = self.routes.call("GET", f"/api/incidents/{quote(incident_id, safe='')}/silence")
        if status != 200 or not isinstance(template, Mapping):
            return False, refusal(status, template, bool(token))
        if minutes not in template.get("durations_minutes", []):
            return False, f"Not saved: {minutes} minutes is not one of the durations offered."
        ends = iso(time.time() + minutes * 60)
        made = 0
        for matchers in template.get("matchers", []):
            status, answer = self.routes.call("POST", "/api/silences", token, {
                "matchers": matchers, "ends_at": ends, "created_by": name, "comment": template.get("comment", "")})
            if status != 201:
                prefix = f"{made} silence(s) made, then: " if made else ""
                return False, prefix + refusal(status, answer, bool(token))
            made += 1
        if not made:
            return False, "Not saved: this incident has no member alerts to silence."
        return True, f"Silenced for {duration_text(minutes)}: {made} silence(s), until {ends.replace('T', ' ')[:16]} UTC."


def register_action_callbacks(app: Dash, page: PageActions) -> None:

    @app.callback(
        Output(ids.INCIDENT_DETAIL, "children", allow_duplicate=True),
        Output(ids.SIMULATED, "data", allow_duplicate=True),
        Output(SILENCES_VERSION, "data", allow_duplicate=True),
        Output(ids.DETAIL_DIGESTS, "data", allow_duplicate=True),
        Input({"type": ACTION_TYPE, "action": ALL, "incident": ALL}, "n_clicks"),
        State({"type": FIELD_TYPE, "field": ALL, "incident": ALL}, "value"),
        State(ids.API_TOKEN_STORE, "data"),
        State(ids.SIMULATED, "data"),
        State(SILENCES_VERSION, "data"),
        prevent_initial_call=True,
    )
    def incident_action(_clicks: list[int | None], _values: list[Any], kept: object, simulated: object,
                        version: object):
        trigger = ctx.triggered_id
        # The form is redrawn with n_clicks 0: only a real click acts.
        if not isinstance(trigger, dict) or not any(t.get("value") for t in ctx.triggered):
            return no_update, no_update, no_update, no_update
        incident_id = str(trigger.get("incident", ""))
        action = str(trigger.get("action", ""))
        states = [s for s in ctx.states_list[0] if s.get("id", {}).get("incident") == incident_id]
        fields = field_values(states)
        typed = fields.get(TOKEN, "").strip()
        token = typed or (kept if isinstance(kept, str) and kept else None)
        name = fields.get(NAME, "").strip()
        if name:
            set_props(ACTOR_NAME_STORE, {"data": name})  # asked once: the next form starts with it
        done, message = page.act(action, incident_id, fields, token)
        if page.token_required and token:
            # Kept for the tab once the route took it; forgotten when the route said it is wrong.
            wrong = not done and message == TOKEN_WRONG
            set_props(ids.API_TOKEN_STORE, {"data": None if wrong else token})
            kept = None if wrong else token
        keep = None if done else {k: v for k, v in fields.items() if k != TOKEN}
        detail = page.detail(incident_id, name, kept, message, not done, keep)
        drawn = drawn_digests(detail)  # the detail keeping itself current compares with what was drawn here
        if not done:
            return detail, no_update, no_update, drawn
        counter = simulated if isinstance(simulated, int) else 0
        bumped = (version if isinstance(version, int) else 0) + 1
        return detail, counter + 1, bumped if action.startswith(SILENCE) else no_update, drawn

    @app.callback(
        Output(SILENCES_LIST, "children"),
        Output(SILENCES_DIGEST, "data"),
        Input(ids.REFRESH, "n_intervals"),
        Input(SILENCES_VERSION, "data"),
        Input(ids.API_TOKEN_STORE, "data"),
        State(SILENCES_DIGEST, "data"),
    )
    def show_silences(_n: int, _version: int, kept: object, digest: object):
        status, answer = page.routes.call("GET", "/api/silences?status=active")
        items = answer.get("silences", []) if status == 200 and isinstance(answer, Mapping) else []
        ask = page.token_required and not (isinstance(kept, str) and kept)
        # An unchanged list is not sent again on every tick.
        new_digest = hashlib.sha256(json.dumps([items, ask], sort_keys=True).encode()).hexdigest()[:16]
        if new_digest == digest:
            return no_update, no_update
        return silences_list(items, ask), new_digest

    @app.callback(
        Output(SILENCES_VERSION, "data", allow_duplicate=True),
        Output(SILENCES_RESULT, "children"),
        Input({"type": EXPIRE_TYPE, "silence": ALL}, "n_clicks"),
        State({"type": FIELD_TYPE, "field": ALL, "incident": SILENCES_TOKEN_OWNER}, "value"),
        State(ids.API_TOKEN_STORE, "data"),
        State(SILENCES_VERSION, "data"),
        prevent_initial_call=True,
    )
    def expire(_clicks: list[int | None], typed: list[Any], kept: object, version: object):
        trigger = ctx.triggered_id
        if not isinstance(trigger, dict) or not any(t.get("value") for t in ctx.triggered):
            return no_update, no_update
        given = next((t.strip() for t in typed or [] if isinstance(t, str) and t.strip()), "")
        token = given or (kept if isinstance(kept, str) and kept else None)
        status, answer = page.routes.call("DELETE", f"/api/silences/{quote(str(trigger.get('silence', '')), safe='')}", token)
        if page.token_required and token:
            set_props(ids.API_TOKEN_STORE, {"data": None if status == 401 else token})
        bumped = (version if isinstance(version, int) else 0) + 1
        if status != 200:
            return bumped, refusal(status, answer, bool(token)).replace("Not saved", "Not expired")
        return bumped, ""
