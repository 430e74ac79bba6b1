"""What an analyst does to an incident on the page: acknowledge, note, label, silence; and the active silences.

Pure functions of the REST API's dicts (an incident with ``acknowledged``, ``notes``
and ``label``; a silence as GET /api/silences lists it). The buttons and fields carry
pattern-matching ids naming their incident, so one callback serves whichever incident
the detail panel shows, and no callback names a component that is not on the page.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import dash_bootstrap_components as dbc
from dash import dcc, html

from .alerts import utc_time
from .ids import detail_part

ACTOR_NAME_STORE = "actor-name-store"  # the analyst's name, kept for the browser tab (sessionStorage)
SILENCES_LIST = "silences-list"
SILENCES_VERSION = "silences-version"  # store: bumped after the page created or expired a silence
SILENCES_DIGEST = "silences-digest"  # store: what the list shows, so an unchanged list is not resent
SILENCES_RESULT = "silences-result"
SILENCES_TOKEN_OWNER = "silences"  # the token field beside the silences list carries this as its "incident"

ACTION_TYPE = "incident-action"  # buttons: {"type", "action", "incident"}
FIELD_TYPE = "incident-action-field"  # inputs: {"type", "field", "incident"}
RESULT_TYPE = "incident-action-result"
EXPIRE_TYPE = "silence-expire"

ACK = "ack"
NOTE = "note"
FALSE_ALARM = "false_alarm"
EXPECTED = "expected"
SILENCE = "silence"  # with the duration: "silence-30"

NAME = "name"
ACK_NOTE = "ack_note"
NOTE_TEXT = "note_text"
REASON = "reason"
TOKEN = "token"

LABEL_WORDS = {FALSE_ALARM: "false alarm", EXPECTED: "expected"}
MAX_NAME = 100  # detection.incident_actions.MAX_BY
MAX_TEXT = 2000  # a note
MAX_REASON = 1000
DEFAULT_DURATIONS = (30, 60, 240, 1440)


def action_button_id(action: str, incident_id: str) -> dict[str, str]:
    return {"type": ACTION_TYPE, "action": action, "incident": incident_id}


def field_id(field: str, incident_id: str) -> dict[str, str]:
    return {"type": FIELD_TYPE, "field": field, "incident": incident_id}


def result_id(incident_id: str) -> dict[str, str]:
    return {"type": RESULT_TYPE, "incident": incident_id}


def expire_button_id(silence_id: str) -> dict[str, str]:
    return {"type": EXPIRE_TYPE, "silence": silence_id}


def duration_text(minutes: int) -> str:
    """30 -> '30 min', 60 -> '1 h', 1440 -> '24 h'."""
    return f"{minutes} min" if minutes < 60 or minutes % 60 else f"{minutes // 60} h"


def acknowledgement_text(acknowledged: Mapping[str, Any] | None) -> str:
    """'acknowledged by alice at 2025-07-12 13:47 UTC', or '' when nobody has."""
    if not acknowledged:
        return ""
    return f"acknowledged by {acknowledged.get('by', '')} at {utc_time(acknowledged.get('at'))}"


def label_text(label: Mapping[str, Any] | None) -> str:
    """'marked false alarm by bob at 2025-07-12 15:02 UTC: the bank's test run', or ''."""
    if not label:
        return ""
    word = LABEL_WORDS.get(str(label.get("label")), str(label.get("label")))
    reason = f": {label['reason']}" if label.get("reason") else ""
    return f"marked {word} by {label.get('by', '')} at {utc_time(label.get('at'))}{reason}"


def record_view(incident: Mapping[str, Any]) -> html.Div:
    """Who acknowledged it (with the note), its label, and its notes, oldest first."""
    parts: list[Any] = []
    ack = incident.get("acknowledged")
    if ack:
        note = f" ({ack['note']})" if ack.get("note") else ""
        parts.append(html.Div(acknowledgement_text(ack) + note, className="incident-acked-line"))
    if incident.get("label"):
        parts.append(html.Div(label_text(incident["label"]), className="incident-label-line"))
    notes = incident.get("notes") or []
    if notes:
        parts.append(html.Ul([html.Li([html.Span(f"{n.get('by', '')} at {utc_time(n.get('at'))}: ",
                                                 className="note-who"), html.Span(n.get("text", ""))])
                              for n in notes], className="incident-notes", **{"aria-label": "Notes"}))
    return html.Div(parts, className="incident-record")


def _field(incident_id: str, field: str, label: str, value: str = "", *, kind: str = "text", limit: int = MAX_TEXT,
           textarea: bool = False, placeholder: str = "") -> html.Div:
    """One labelled input; the label is tied to it, so a screen reader and axe both find it."""
    dom_id = f"action-{field.replace('_', '-')}-{incident_id}"
    control: Any
    if textarea:
        control = dcc.Textarea(id=field_id(field, incident_id), value=value, maxLength=limit, placeholder=placeholder,
                               className="form-control form-control-sm action-input", rows=2)
    else:
        control = dcc.Input(id=field_id(field, incident_id), type=kind, value=value, maxLength=limit,
                            placeholder=placeholder, className="form-control form-control-sm action-input",
                            **({"autoComplete": "off"} if kind == "password" else {}))
    # Dash gives a dict id no DOM id a label could name: the label wraps its input instead.
    return html.Div(html.Label([html.Span(label, className="action-label"), control], id=dom_id,
                               className="action-field"))


def action_form(incident: Mapping[str, Any], name: str = "", ask_token: bool = False,
                durations: Sequence[int] = DEFAULT_DURATIONS, message: str = "", failed: bool = False,
                values: Mapping[str, str] | None = None) -> html.Div:
    """The detail panel's actions for one incident: what was done so far, then the forms that apply to it.

    The record and the forms are parts of their own (``ids.detail_part`` ``record`` and ``forms``): a refresh
    redraws the record when it changed, the forms only when which actions apply changed (see ``form_shape``),
    so what an analyst is typing is left alone.
    """
    iid = str(incident["id"])
    result = html.Div(message, id=result_id(iid), role="status",
                      className="action-result " + ("text-danger" if failed else "text-body"))
    return html.Div([html.Div(record_view(incident), id=detail_part("record", iid)),
                     html.Div(action_forms(incident, name, ask_token, durations, values), className="action-forms",
                              id=detail_part("forms", iid), **{"data-shape": shape_text(incident, ask_token)}),
                     result],
                    className="incident-action-panel")


def shape_text(incident: Mapping[str, Any], ask_token: bool) -> str:
    """What decides which forms apply: open or resolved, acknowledged or not, and whether the token is asked
    (kept on the forms' box, so what was drawn can be compared with what applies now)."""
    return f"open={incident.get('state') == 'open'} acked={bool(incident.get('acknowledged'))} ask={ask_token}"


def action_forms(incident: Mapping[str, Any], name: str = "", ask_token: bool = False,
                 durations: Sequence[int] = DEFAULT_DURATIONS, values: Mapping[str, str] | None = None) -> list[Any]:
    """The forms that apply to an incident.

    An open incident not yet acknowledged gets Acknowledge; any incident gets Add note and Silence;
    a resolved one gets Mark false alarm / Mark expected. ``ask_token``: the monitor has an API token
    and the page holds none that worked yet. ``values``: what is in the boxes, kept when they are redrawn.
    """
    iid = str(incident["id"])
    typed = values or {}  # what was in the boxes when the route refused: kept, so nothing is typed twice
    is_open = incident.get("state") == "open"
    forms: list[Any] = [_field(iid, NAME, "Your name", name, limit=MAX_NAME, placeholder="who is acting")]
    if ask_token:
        forms.append(_field(iid, TOKEN, "API token (asked once for this tab)", typed.get(TOKEN, ""), kind="password",
                            limit=200, placeholder="Bearer token"))
    if is_open and not incident.get("acknowledged"):
        forms.append(html.Div([
            _field(iid, ACK_NOTE, "Acknowledgement note (optional)", typed.get(ACK_NOTE, ""), textarea=True),
            dbc.Button("Acknowledge", id=action_button_id(ACK, iid), size="sm", color="primary", n_clicks=0),
        ], className="action-group"))
    forms.append(html.Div([
        _field(iid, NOTE_TEXT, "Note", typed.get(NOTE_TEXT, ""), textarea=True),
        dbc.Button("Add note", id=action_button_id(NOTE, iid), size="sm", color="secondary", n_clicks=0),
    ], className="action-group"))
    if not is_open:
        forms.append(html.Div([
            _field(iid, REASON, "Reason (optional)", typed.get(REASON, ""), limit=MAX_REASON),
            html.Div([
                dbc.Button("Mark false alarm", id=action_button_id(FALSE_ALARM, iid), size="sm", color="secondary",
                           outline=True, n_clicks=0, className="me-2"),
                dbc.Button("Mark expected", id=action_button_id(EXPECTED, iid), size="sm", color="secondary",
                           outline=True, n_clicks=0),
            ], className="action-buttons"),
        ], className="action-group"))
    forms.append(html.Div([
        html.Span("Silence its rules for", className="action-label"),
        html.Div([dbc.Button(duration_text(m), id=action_button_id(f"{SILENCE}-{m}", iid), size="sm",
                             color="secondary", outline=True, n_clicks=0, className="me-1 mb-1",
                             title=f"Silence this incident's rule and metric pairs for {duration_text(m)}")
                  for m in durations], className="action-buttons"),
    ], className="action-group"))
    return forms


def error_text(status: int, answer: Any) -> str:
    """A REST error in words: the field and what is wrong with it (422), or the message (409, 404, ...)."""
    if not isinstance(answer, Mapping):
        return f"Not saved: the server answered {status}."
    details = answer.get("details") or []
    if status == 422 and details and isinstance(details[0], Mapping):
        field = str(details[0].get("field", ""))
        return f"Not saved: {FIELD_WORDS.get(field, field)} {details[0].get('message', '')}".rstrip()
    return f"Not saved: {answer.get('message') or answer.get('error') or status}"


# The API's field names as the form calls them, so an error points at the box to fix.
FIELD_WORDS = {"by": "your name", "created_by": "your name", "text": "the note", "note": "the note",
               "reason": "the reason", "label": "the label", "ends_at": "the end", "comment": "the comment"}


def matchers_text(matchers: Mapping[str, Any]) -> str:
    """{'rule': 'code_51_spike', 'metric': 'auth_code:51'} -> 'rule=code_51_spike, metric=auth_code:51'."""
    return ", ".join(f"{k}={v}" for k, v in matchers.items())


def silences_list(silences: Sequence[Mapping[str, Any]], ask_token: bool = False) -> html.Div:
    """The active silences, the soonest to end first: what they match, who made them, until when, why.

    ``ask_token``: Expire needs the API token and the page holds none yet, so a field for it comes first.
    """
    active = sorted((s for s in silences if s.get("status") == "active"), key=lambda s: (s.get("ends_at", ""), s["id"]))
    if not active:
        return html.Div("No active silences.", className="no-silences text-muted")
    token = [_field(SILENCES_TOKEN_OWNER, TOKEN, "API token (asked once for this tab)", kind="password", limit=200,
                    placeholder="Bearer token")] if ask_token else []
    rows = [html.Li([
        html.Div([html.Span(matchers_text(s.get("matchers") or {}), className="silence-matchers"),
                  dbc.Button("Expire", id=expire_button_id(s["id"]), size="sm", color="secondary", outline=True,
                             n_clicks=0, className="silence-expire",
                             title="End this silence now: its alerts notify again")], className="silence-line"),
        html.Div([html.Span(f"by {s.get('created_by') or 'someone unnamed'}"),
                  html.Span(f"until {utc_time(s.get('ends_at'))}"),
                  *([html.Span(s["comment"], className="silence-comment")] if s.get("comment") else [])],
                 className="silence-meta"),
    ], className="silence-row", id=f"silence-{s['id']}") for s in active]
    return html.Div([*token, html.Ul(rows, className="silence-list")])


def silences_panel() -> html.Div:
    """The static frame of the Silences section (the list is filled by a callback) and the kept name."""
    return html.Section([
        html.H3("Active silences", className="h6 mt-3 mb-2"),
        html.Div(id=SILENCES_LIST, className="silences"),
        html.Div(id=SILENCES_RESULT, role="status", className="action-result text-danger"),
        dcc.Store(id=ACTOR_NAME_STORE, storage_type="session"),
        dcc.Store(id=SILENCES_VERSION, data=0),
        dcc.Store(id=SILENCES_DIGEST, data=None),
    ], className="silences-panel", **{"aria-label": "Active silences"})
