"""The rule for what people have not been told of an incident yet (opened, escalated, resolved)."""

from __future__ import annotations

import pytest

from detection.incident_news import is_news, revision, untold
from detection.incidents import Driver, Incident


def inc(severity: str = "warning", drivers: tuple[str, ...] = ("auth_code:51",), state: str = "open") -> Incident:
    return Incident("inc-1", "denial_spike", state, severity, 100, resolved_at=None if state == "open" else 120,
                    drivers=[Driver(m, 1 / len(drivers), 10, 2) for m in drivers])


@pytest.mark.parametrize(("now", "told", "news"), [
    (inc(), [], True),  # nothing told yet
    (inc(), [inc()], False),  # the same state
    (inc("critical"), [inc()], True),  # severity rose
    (inc("info"), [inc()], False),  # severity fell: not worth a page
    (inc(drivers=("auth_code:51", "auth_code:59")), [inc()], True),  # a new driver
    (inc(drivers=("auth_code:59",)), [inc(drivers=("auth_code:51",)), inc(drivers=("auth_code:59",))], False),
    (inc(drivers=()), [inc()], False),  # a driver dropped out
    (inc("critical"), [inc(), inc("critical")], False),  # told of critical already
])
def test_is_news(now, told, news):
    assert is_news(now, told) is news


@pytest.mark.parametrize(("now", "told", "missing"), [
    (inc(), [], ["opened"]),
    (inc(state="resolved"), [], ["opened", "resolved"]),  # opened and resolved while nobody listened
    (inc(), [("opened", inc())], []),
    (inc("critical"), [("opened", inc())], ["escalated"]),
    (inc("critical"), [("opened", inc()), ("escalated", inc("critical"))], []),
    (inc("critical", state="resolved"), [("opened", inc())], ["resolved"]),  # the resolution tells the final state
    (inc(state="resolved"), [("opened", inc()), ("resolved", inc(state="resolved"))], []),
])
def test_untold(now, told, missing):
    assert untold(now, told) == missing


def test_revision_names_the_announced_state_only_for_escalations():
    assert revision("opened", inc("critical")) == revision("resolved", inc()) == ""
    assert revision("escalated", inc("critical", ("auth_code:59", "auth_code:51"))) == "critical|auth_code:51,auth_code:59"
