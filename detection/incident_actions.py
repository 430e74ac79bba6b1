"""What analysts do to incidents: acknowledge one, write notes on it, label a resolved one false_alarm or expected.

Actions are rows of the store's ``incident_actions`` table (same database, one
transaction each, pruned with their incident) and belong to the incident, not to
its alerts. There are no user accounts: ``by`` is whoever the person says they are.
Times are wall-clock (epoch seconds), like silences: "alice acknowledged at 14:03".

- An open incident is acknowledged once; it stays acknowledged (also after it resolves,
  for the record). Acknowledging an acknowledged or a resolved incident is a conflict.
- Notes are added to open or resolved incidents, at most ``MAX_NOTES`` per incident.
- Only a resolved incident is labelled; a new label replaces the old one (both are kept,
  the newest counts). ``expected`` incidents are left out of learning by the analysis CLI.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .alerts import Alert
from .incidents import Incident
from .metrics import epoch_to_iso, minute_to_iso
from .records import shown
from .store_core import IncidentActionRow, SqlStore

ACK = "ack"
NOTE = "note"
LABEL = "label"
FALSE_ALARM = "false_alarm"
EXPECTED = "expected"  # maintenance, a campaign: real, but not a problem, and not normal either
LABELS = (FALSE_ALARM, EXPECTED)

MAX_BY = 100  # characters of ``by``
MAX_TEXT = 2000  # characters of a note, or of an acknowledgement's note
MAX_REASON = 1000  # characters of a label's reason
MAX_NOTES = 50  # notes per incident: every incident answer carries them all
# Control characters other than newline and tab, and lone surrogates (SQLite cannot store them as text).
_UNPRINTABLE = re.compile("[\\x00-\\x08\\x0b-\\x1f\\x7f-\\x9f\\ud800-\\udfff]")
_UNPRINTABLE_LINE = re.compile("[\\x00-\\x1f\\x7f-\\x9f\\ud800-\\udfff]")
_VISIBLE = re.compile("\\S")  # the OpenAPI document's pattern for a required text says the same


class ActionError(ValueError):
    """A request body is wrong; ``field`` names the field (422)."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class ActionConflict(RuntimeError):
    """The incident's state does not allow the action (409); ``code`` says which rule."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


class UnknownIncident(LookupError):
    """No incident with that id (404)."""


@dataclass(frozen=True)
class Acknowledgement:
    by: str
    at: float
    note: str

    def to_dict(self) -> dict[str, Any]:
        return {"by": self.by, "at": epoch_to_iso(self.at), "note": self.note or None}


@dataclass(frozen=True)
class Label:
    label: str
    by: str
    at: float
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "by": self.by, "at": epoch_to_iso(self.at), "reason": self.reason or None}


@dataclass(frozen=True)
class IncidentRecord:
    """What analysts did to one incident so far."""

    acknowledged: Acknowledgement | None
    notes: tuple[IncidentActionRow, ...]
    label: Label | None

    def to_dict(self) -> dict[str, Any]:
        """The fields an incident's JSON gains."""
        return {
            "acknowledged": self.acknowledged.to_dict() if self.acknowledged else None,
            "notes": [{"by": n.by, "at": epoch_to_iso(n.at), "text": n.text} for n in self.notes],
            "label": self.label.to_dict() if self.label else None,
        }


NOTHING_YET = IncidentRecord(None, (), None)


def summarise(actions: Iterable[IncidentActionRow]) -> IncidentRecord:
    """The first acknowledgement, every note, the newest label."""
    ack: Acknowledgement | None = None
    label: Label | None = None
    notes: list[IncidentActionRow] = []
    for row in actions:
        if row.action == ACK and ack is None:
            ack = Acknowledgement(row.by, row.at, row.text)
        elif row.action == NOTE:
            notes.append(row)
        elif row.action == LABEL and row.label is not None:
            label = Label(row.label, row.by, row.at, row.text)
    return IncidentRecord(ack, tuple(notes), label)


def _object(body: Any, fields: Sequence[str], what: str) -> Mapping[str, Any]:
    if not isinstance(body, dict):
        raise ActionError("body", f"expected a JSON object with {what}")
    unknown = set(body) - set(fields)
    if unknown:
        raise ActionError(min(unknown)[:40], f"unknown field; expected {', '.join(fields)}")
    return body


def _text(body: Mapping[str, Any], field: str, limit: int, required: bool, one_line: bool = False) -> str:
    """A text field; an optional one that is absent, null or blank is ''."""
    value = body.get(field)
    if value is None and not required:
        return ""
    if value is None:
        raise ActionError(field, f"is required: a non-blank string of at most {limit} characters")
    if not isinstance(value, str) or len(value) > limit:
        raise ActionError(field, f"expected a string of at most {limit} characters, got {shown(value)}")
    if (_UNPRINTABLE_LINE if one_line else _UNPRINTABLE).search(value):
        allowed = "" if one_line else " other than newlines and tabs"
        raise ActionError(field, f"must not contain control characters{allowed} or lone surrogates")
    if not _VISIBLE.search(value):
        if required:
            raise ActionError(field, f"is required: a non-blank string of at most {limit} characters")
        return ""
    return value


class IncidentActions:
    """Acknowledgements, notes and labels of the incidents in one store. Thread-safe: each call is one transaction."""

    def __init__(self, store: SqlStore, clock: Callable[[], float] = time.time):
        self.store = store
        self._clock = clock

    def _add(self, incident_id: str, action: str, by: str, text: str, label: str | None,
             check: Callable[[Incident, list[IncidentActionRow]], None]) -> tuple[Incident, IncidentRecord]:
        try:
            incident, actions = self.store.add_incident_action(incident_id, action, by, self._clock(), text, label, check)
        except LookupError:
            raise UnknownIncident(incident_id) from None
        return incident, summarise(actions)

    def acknowledge(self, incident_id: str, body: Any) -> tuple[Incident, IncidentRecord]:
        """``{"by": ..., "note": ...?}``: an open incident, not acknowledged yet; raises ActionError,
        ActionConflict, UnknownIncident or StoreError."""
        fields = _object(body, ("by", "note"), "by and an optional note")
        by = _text(fields, "by", MAX_BY, required=True, one_line=True)
        note = _text(fields, "note", MAX_TEXT, required=False)

        def check(incident: Incident, actions: list[IncidentActionRow]) -> None:
            if not incident.is_open:
                raise ActionConflict("incident_resolved", f"incident {incident.id} resolved at "
                                     f"{minute_to_iso(incident.resolved_at)}; only an open incident is acknowledged")
            done = summarise(actions).acknowledged
            if done is not None:
                raise ActionConflict("already_acknowledged", f"incident {incident.id} was already acknowledged by "
                                     f"{done.by!r} at {epoch_to_iso(done.at)}")

        return self._add(incident_id, ACK, by, note, None, check)

    def add_note(self, incident_id: str, body: Any) -> tuple[Incident, IncidentRecord]:
        """``{"by": ..., "text": ...}`` on an open or resolved incident, up to MAX_NOTES of them."""
        fields = _object(body, ("by", "text"), "by and text")
        by = _text(fields, "by", MAX_BY, required=True, one_line=True)
        text = _text(fields, "text", MAX_TEXT, required=True)

        def check(incident: Incident, actions: list[IncidentActionRow]) -> None:
            if sum(1 for a in actions if a.action == NOTE) >= MAX_NOTES:
                raise ActionConflict("too_many_notes", f"incident {incident.id} has {MAX_NOTES} notes, the most "
                                                       "one incident keeps")

        return self._add(incident_id, NOTE, by, text, None, check)

    def set_label(self, incident_id: str, body: Any) -> tuple[Incident, IncidentRecord]:
        """``{"label": "false_alarm"|"expected", "by": ..., "reason": ...?}`` on a resolved incident."""
        fields = _object(body, ("label", "by", "reason"), "label, by and an optional reason")
        label = fields.get("label")
        if label is None:
            raise ActionError("label", f"is required: one of {', '.join(LABELS)}")
        if label not in LABELS:
            raise ActionError("label", f"expected one of {', '.join(LABELS)}, got {shown(label)}")
        by = _text(fields, "by", MAX_BY, required=True, one_line=True)
        reason = _text(fields, "reason", MAX_REASON, required=False)

        def check(incident: Incident, _actions: list[IncidentActionRow]) -> None:
            if incident.is_open:
                raise ActionConflict("incident_open", f"incident {incident.id} is still open; label it once it "
                                                      "has resolved")

        return self._add(incident_id, LABEL, by, reason, label, check)

    # ------------------------------------------------------------------ read
    def records(self, incident_ids: Iterable[str]) -> dict[str, IncidentRecord]:
        """Every incident of ``incident_ids`` with its record (NOTHING_YET when nobody acted on it)."""
        ids = list(incident_ids)
        found = self.store.incident_actions(ids)
        return {i: summarise(found[i]) if i in found else NOTHING_YET for i in ids}

    def shape(self, incidents: Sequence[Incident]) -> list[dict[str, Any]]:
        """Incidents as the API answers them: their public shape plus acknowledged, notes and label."""
        records = self.records(i.id for i in incidents)
        return [{**i.to_dict(), **records[i.id].to_dict()} for i in incidents]

    def acknowledged(self, incident_ids: Iterable[str]) -> dict[str, Acknowledgement]:
        """The acknowledged ones among ``incident_ids`` (for the delivery: no reminders for them)."""
        return {i: r.acknowledged for i, r in self.records(incident_ids).items() if r.acknowledged is not None}

    def labels(self, label: str | None = None, limit: int = 100) -> list[tuple[Label, Incident]]:
        """Labelled incidents with their newest label, newest first; only ``label`` ones when given."""
        rows = self.store.labelled_incidents(limit, label)
        return [(Label(str(row.label), row.by, row.at, row.text), incident) for row, incident in rows]


def silence_matchers(alerts: Iterable[Alert]) -> list[dict[str, str]]:
    """One matcher set per (rule, metric) among an incident's member alerts, in the order they started.

    A silence matches an alert on every one of its matchers, and an incident is silenced only when all of
    its members are: silencing an incident takes one silence per set (each also mutes that rule on that
    metric if it fires again while the silence lasts, which is what "silence this" means to an analyst).
    """
    seen: dict[tuple[str, str], None] = {}
    for alert in sorted(alerts, key=lambda a: (a.started_at, a.id)):
        seen.setdefault((alert.rule, alert.metric), None)
    return [{"rule": rule, "metric": metric} for rule, metric in seen]


def label_json(label: Label, incident: Incident) -> dict[str, Any]:
    """One row of the label listing: enough for the analysis CLI to find the incident's minutes in an export."""
    return {
        "incident_id": incident.id, "kind": incident.kind, "title": incident.title,
        "started_at": minute_to_iso(incident.started_at), "resolved_at": minute_to_iso(incident.resolved_at),
        **label.to_dict(),
    }
