"""The pure parts of the page's incident actions: texts, which forms an incident gets, the silences list."""

from __future__ import annotations

from typing import Any

from components.actions import (
    ACK,
    ACTION_TYPE,
    EXPECTED,
    EXPIRE_TYPE,
    FALSE_ALARM,
    FIELD_TYPE,
    NAME,
    NOTE,
    NOTE_TEXT,
    TOKEN,
    acknowledgement_text,
    action_form,
    duration_text,
    error_text,
    label_text,
    silences_list,
)
from components.incidents import incident_row


def walk(component: Any):
    yield component
    children = getattr(component, "children", None)
    for child in children if isinstance(children, (list, tuple)) else [children] if children is not None else []:
        if hasattr(child, "to_plotly_json"):
            yield from walk(child)


def ids_of(component: Any, kind: str) -> list[dict]:
    return [c.id for c in walk(component) if isinstance(getattr(c, "id", None), dict) and c.id.get("type") == kind]


def text(component: Any) -> str:
    return " ".join(c.children for c in walk(component) if isinstance(getattr(c, "children", None), str))


OPEN = {"id": "i1", "state": "open", "acknowledged": None, "notes": [], "label": None}
RESOLVED = {"id": "i2", "state": "resolved", "acknowledged": None, "notes": [], "label": None}
ACKED = {"by": "alice", "at": "2025-07-12T13:47:09Z", "note": "on it"}


def test_durations_and_records_in_words():
    assert [duration_text(m) for m in (30, 60, 240, 1440, 90)] == ["30 min", "1 h", "4 h", "24 h", "90 min"]
    assert acknowledgement_text(ACKED) == "acknowledged by alice at 2025-07-12 13:47 UTC"
    assert acknowledgement_text(None) == ""
    label = {"label": "false_alarm", "by": "bob", "at": "2025-07-12T15:02:00Z", "reason": "test batch"}
    assert label_text(label) == "marked false alarm by bob at 2025-07-12 15:02 UTC: test batch"
    assert label_text({**label, "label": "expected", "reason": None}) == "marked expected by bob at 2025-07-12 15:02 UTC"


def test_route_errors_name_the_field_in_the_forms_words():
    answer = {"error": "invalid_action", "message": "by: is required",
              "details": [{"field": "by", "message": "is required: a non-blank string of at most 100 characters"}]}
    assert error_text(422, answer) == "Not saved: your name is required: a non-blank string of at most 100 characters"
    conflict = {"error": "already_acknowledged", "message": "incident i1 was already acknowledged by 'alice'"}
    assert error_text(409, conflict) == "Not saved: incident i1 was already acknowledged by 'alice'"
    assert error_text(502, None) == "Not saved: the server answered 502."


def test_an_open_unacknowledged_incident_gets_acknowledge_note_and_silence_but_no_label():
    form = action_form(OPEN, "alice", durations=(30, 60))
    actions = [i["action"] for i in ids_of(form, ACTION_TYPE)]
    assert actions == [ACK, NOTE, "silence-30", "silence-60"]
    fields = {i["field"] for i in ids_of(form, FIELD_TYPE)}
    assert TOKEN not in fields and {NAME, NOTE_TEXT} <= fields
    name = next(c for c in walk(form) if getattr(c, "id", None) == {"type": FIELD_TYPE, "field": NAME, "incident": "i1"})
    assert name.value == "alice"


def test_an_acknowledged_incident_shows_who_and_offers_no_second_acknowledge():
    form = action_form({**OPEN, "acknowledged": ACKED, "notes": [{"by": "bob", "at": "2025-07-12T14:00:00Z",
                                                                  "text": "issuer called"}]})
    assert ACK not in [i["action"] for i in ids_of(form, ACTION_TYPE)]
    words = text(form)
    assert "acknowledged by alice at 2025-07-12 13:47 UTC (on it)" in words
    assert "bob at 2025-07-12 14:00 UTC: " in words and "issuer called" in words


def test_a_resolved_incident_gets_the_labels_and_a_token_field_when_asked():
    form = action_form(RESOLVED, ask_token=True, message="Not saved: the reason ...", failed=True,
                       values={NOTE_TEXT: "kept text"})
    actions = [i["action"] for i in ids_of(form, ACTION_TYPE)]
    assert ACK not in actions and FALSE_ALARM in actions and EXPECTED in actions
    assert TOKEN in {i["field"] for i in ids_of(form, FIELD_TYPE)}
    note = next(c for c in walk(form) if getattr(c, "id", None) == {"type": FIELD_TYPE, "field": NOTE_TEXT,
                                                                      "incident": "i2"})
    assert note.value == "kept text"  # what the route refused is not typed again


def test_every_box_sits_inside_a_label_with_words():
    form = action_form(RESOLVED, ask_token=True)
    labels = [c for c in walk(form) if type(c).__name__ == "Label"]
    boxes = ids_of(form, FIELD_TYPE)
    assert len(labels) == len(boxes) == 4  # name, token, note, reason
    for label in labels:
        assert isinstance(label.children[0].children, str) and label.children[0].children


def test_the_silences_list_shows_only_active_ones_soonest_end_first_with_expire():
    items = [
        {"id": "s2", "status": "active", "matchers": {"rule": "r", "metric": "auth_code:51"},
         "ends_at": "2025-07-12T18:00:00Z", "created_by": "alice", "comment": "from incident i1"},
        {"id": "s1", "status": "active", "matchers": {"rule": "q"}, "ends_at": "2025-07-12T14:30:00Z",
         "created_by": "", "comment": ""},
        {"id": "s3", "status": "expired", "matchers": {"rule": "x"}, "ends_at": "2025-07-12T12:00:00Z"},
    ]
    shown = silences_list(items)
    assert [i["silence"] for i in ids_of(shown, EXPIRE_TYPE)] == ["s1", "s2"]
    words = text(shown)
    assert "rule=r, metric=auth_code:51" in words and "by alice" in words and "until 2025-07-12 18:00 UTC" in words
    assert "by someone unnamed" in words and "from incident i1" in words
    assert "No active silences." in text(silences_list([items[2]]))
    assert TOKEN in {i["field"] for i in ids_of(silences_list(items, ask_token=True), FIELD_TYPE)}


def test_an_open_row_says_who_acknowledged_it():
    row = incident_row({**OPEN, "severity": "warning", "kind": "denial_spike", "title": "t", "acknowledged": ACKED,
                        "notes": [{"by": "bob", "at": "2025-07-12T14:00:00Z", "text": "a"},
                                  {"by": "cy", "at": "2025-07-12T14:05:00Z", "text": "issuer confirms"}]})
    assert "acknowledged by alice at 2025-07-12 13:47 UTC" in text(row) and "2 notes" in text(row)
    assert any(getattr(c, "title", None) == "cy: issuer confirms" for c in walk(row))
    assert "acknowledged" not in text(incident_row({**OPEN, "severity": "warning", "kind": "denial_spike", "title": "t"}))
