"""Reading ``/?incident=<id>`` without a browser: which incident an address names, which ids are worth asking the
store about, and the message for one it does not hold."""

from __future__ import annotations

import pytest

from api.limits import MAX_INCIDENT_ID
from callbacks.incident_link import plausible_id, requested_incident
from components.incidents import incident_missing


@pytest.mark.parametrize(("search", "wanted"), [
    ("?incident=i2790863c8ccf0e9", "i2790863c8ccf0e9"),
    ("?team=pay&incident=i2790863c8ccf0e9", "i2790863c8ccf0e9"),  # the operator's own parameters around it
    ("?incident=a&incident=b", "b"),  # named twice: the last, as a link built by appending says
    ("?incident=", ""),  # named emptily: a message, not the page as usual
    ("?incident=%3Cb%3E", "<b>"),  # decoded, then judged by plausible_id
    ("?team=pay", None),
    ("", None),
    (None, None),
    (["?incident=x"], None),  # anything but a string (a forged request): no incident
])
def test_the_incident_an_address_names(search, wanted):
    assert requested_incident(search) == wanted


@pytest.mark.parametrize(("value", "plausible"), [
    ("i2790863c8ccf0e9", True),
    ("inc-20250712-1300-denial", True),
    ("i" * MAX_INCIDENT_ID, True),
    ("i" * (MAX_INCIDENT_ID + 1), False),
    ("", False),
    ("<b>x</b>", False),
    ("i279 0863", False),
    ("i2790863c8ccf0e9\n", False),
])
def test_only_an_id_an_incident_could_have_is_looked_up(value, plausible):
    assert plausible_id(value) is plausible


def _text(component) -> str:
    return " ".join(str(c.children) for c in component.children)


def test_the_missing_message_names_the_id_and_the_retention_as_plain_text():
    assert _text(incident_missing("i0000000000000000", 64, 30)).startswith(
        "No incident i0000000000000000 in the store (retention 30 days).")
    assert _text(incident_missing("x" * 70, 64, 30)).startswith(f"No incident {'x' * 64}\u2026 in the store")
    assert _text(incident_missing("a\x00b", 64, 7.5)).startswith("No incident a\ufffdb in the store (retention 7.5 days).")
    assert _text(incident_missing("", 64, 30)).startswith("No incident (empty id) in the store")
    # A string child: Dash renders it as text, so markup in a forged link stays characters.
    first = incident_missing("<script>alert(1)</script>", 64, 30).children[0]
    assert first.children == "No incident <script>alert(1)</script> in the store (retention 30 days)."
