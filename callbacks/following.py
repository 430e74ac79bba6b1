"""Keep the opened incident's detail current: each refresh redraws the parts that changed, and sends nothing else.

The detail is drawn at the click (``callbacks.incidents``); while it stays open its
incident goes on: members join and resolve, the summary and timeline grow, someone
acknowledges it or adds a note over the API. On every tick the parts are drawn again
from the store and compared by digest (``callbacks.unchanged``) with what the page
last got: ``info`` (head, summary, drivers, timeline, members) and ``record`` (who
acknowledged, the label, the notes) are sent when they differ; ``forms`` only when
which actions apply changed (resolved, acknowledged), with what is typed in the
boxes kept, so a refresh never takes a half-written note away.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dash import ALL, Dash, Input, Output, State, ctx, no_update
from dash.exceptions import PreventUpdate

from components import ids
from components.actions import ACTOR_NAME_STORE, FIELD_TYPE, NAME, action_forms, record_view, shape_text
from components.incidents import incident_info
from detection import Monitor

from .actions import PageActions, field_values
from .unchanged import digest

PARTS = ("info", "record", "forms")


class DetailFollower:
    """The parts of one incident's detail as they are now, with their digests."""

    def __init__(self, monitor: Monitor, page: PageActions | None = None):
        self.monitor = monitor
        self.page = page

    def parts(self, incident_id: str, name: object, kept_token: object, typed: Mapping[str, str],
              old: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]] | None:
        """({part: its children, or no_update when its digest is in ``old``}, the new digests); None when the
        incident is gone from the store."""
        incident = self.monitor.incident(incident_id)
        if incident is None:
            return None
        shaped = self.page.actions.shape([incident])[0] if self.page is not None else incident.to_dict()
        newest = self.monitor.newest_event_minute()
        end = incident.resolved_at if incident.resolved_at is not None else max(incident.started_at, newest or 0)
        drawn: dict[str, Any] = {"info": incident_info(shaped, incident.started_at, end)}
        digests = {"info": digest(drawn["info"])}
        if self.page is not None:
            drawn["record"] = record_view(shaped)
            digests["record"] = digest(drawn["record"])
            ask = self.page.token_required and not (isinstance(kept_token, str) and kept_token)
            digests["forms"] = digest(shape_text(shaped, ask))
            if old.get("forms") != digests["forms"]:  # drawn only when needed: durations are a request
                typed_name = typed.get(NAME) or (name if isinstance(name, str) else "")
                drawn["forms"] = action_forms(shaped, typed_name, ask, self.page.durations(incident_id), typed)
        out = {part: (no_update if old.get(part) == digests[part] or part not in drawn else drawn[part])
               for part in digests}
        return out, digests


def register_detail_following(app: Dash, follower: DetailFollower) -> None:

    @app.callback(
        Output(ids.detail_part("info", ALL), "children"),
        Output(ids.detail_part("record", ALL), "children"),
        Output(ids.detail_part("forms", ALL), "children"),
        Output(ids.DETAIL_DIGESTS, "data"),
        Input(ids.REFRESH, "n_intervals"),
        State(ids.detail_part("info", ALL), "id"),
        State({"type": FIELD_TYPE, "field": ALL, "incident": ALL}, "value"),
        State(ACTOR_NAME_STORE, "data"),
        State(ids.API_TOKEN_STORE, "data"),
        State(ids.DETAIL_DIGESTS, "data"),
        prevent_initial_call=True,
    )
    def follow_incident(_n: int, shown: list[dict], _values: list[Any], name: object, kept: object, stored: object):
        slots = [len(ctx.outputs_list[i]) for i in range(3)]
        if not shown:
            raise PreventUpdate  # no incident opened
        incident_id = str(shown[0].get("incident", ""))
        # What the page shows, as the click or the last action drew it (``drawn_digests``) or the last tick sent.
        before = stored if isinstance(stored, dict) and stored.get("incident") == incident_id else {}
        typed = field_values([s for s in ctx.states_list[1] if s.get("id", {}).get("incident") == incident_id])
        found = follower.parts(incident_id, name, kept, typed, before)
        if found is None:
            raise PreventUpdate  # gone from the store: the detail keeps what it showed
        drawn, digests = found
        if all(drawn.get(p, no_update) is no_update for p in PARTS):
            raise PreventUpdate  # nothing changed: nothing is sent (an empty answer)
        # A wildcard output takes one value per component it matched (none, when the part is not on the page).
        answer = [[no_update if drawn.get(part, no_update) is no_update else drawn[part]] * slots[i]
                  for i, part in enumerate(PARTS)]
        return (*answer, {"incident": incident_id, **digests})
