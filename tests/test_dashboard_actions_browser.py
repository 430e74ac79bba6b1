"""An analyst's actions on the page in headless Chromium (dash_duo), on a real Monitor, store and REST routes.

The app holds a resolved code-51 denial spike and an open one, posted minute by
minute through the engine. Every click goes to the app's REST route; what the
route stored is read back over the REST API, as a script would.
"""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from app import create_app
from components import ids
from components.actions import SILENCES_LIST, SILENCES_RESULT
from detection import Monitor, Store, load_thresholds

from .support import StatusFeed
from .test_dashboard_a11y_browser import BLOCKING, axe_source, described, violations
from .test_dashboard_browser import click, open_dashboard, text_of, wait_until

NOW = 1_790_000_000.0
TOKEN = "actions-T0ken-9"


def spike_app(config: dict) -> object:
    monitor = Monitor(load_thresholds(), Store(":memory:"), clock=lambda: NOW)
    feed = StatusFeed(monitor)
    feed.post(90)
    feed.post(8, c51=32, c59=8)  # a denial spike, mostly insufficient funds: resolves below
    feed.post(25)
    feed.post(8, c51=32, c59=8)  # still going: the open incident
    return create_app({"db": ":memory:", "refresh_ms": 2000, **config}, monitor=monitor)


@pytest.fixture
def actions_app():
    return spike_app({})


@pytest.fixture
def token_app():
    return spike_app({"api_token": TOKEN})


def incidents_of(app) -> tuple[str, str]:
    monitor = app.server.extensions["monitor"]
    (opened,) = monitor.incidents("open")
    resolved = monitor.incidents("resolved")
    assert resolved, "the fixture's first spike did not resolve"
    return opened.id, resolved[0].id


def api(app, method: str, path: str, token: str | None = None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    answer = app.server.test_client().open(path, method=method, headers=headers)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return answer.get_json()


def open_detail(dash_duo, incident_id: str, where: str) -> str:
    row = f"#{ids.incident_row(incident_id, where)} button.incident-open"
    wait_until(dash_duo, lambda: dash_duo.find_elements(row), f"no {where} row for {incident_id}")
    click(dash_duo, dash_duo.find_element(row))
    detail = f"#{ids.incident_detail_of(incident_id)}"
    wait_until(dash_duo, lambda: dash_duo.find_elements(f"{detail} .incident-action-panel"),
               f"the detail of {incident_id} has no actions")
    return detail


def field(dash_duo, name: str, incident_id: str):
    return dash_duo.find_element(f"#action-{name}-{incident_id} :is(input, textarea)")


def type_into(dash_duo, name: str, incident_id: str, text: str) -> None:
    box = field(dash_duo, name, incident_id)
    dash_duo.driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", box)
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys(Keys.DELETE)
    box.send_keys(text)


def press(dash_duo, detail: str, label: str) -> None:
    for button in dash_duo.find_elements(f"{detail} .incident-action-panel button"):
        if button.text == label:
            click(dash_duo, button)
            return
    raise AssertionError(f"no {label!r} button in {detail}")


def result_says(dash_duo, incident_id: str, text: str) -> None:
    selector = f"#{ids.incident_detail_of(incident_id)} .action-result"
    wait_until(dash_duo, lambda: text in dash_duo.find_element(selector).text,
               f"the action result of {incident_id} does not say {text!r}")


def test_acknowledge_note_label_silence_and_expire_through_the_page(dash_duo, actions_app):
    opened, resolved = incidents_of(actions_app)
    open_dashboard(dash_duo, actions_app)

    detail = open_detail(dash_duo, opened, "open")
    type_into(dash_duo, "name", opened, "alice")
    type_into(dash_duo, "ack-note", opened, "calling the issuer")
    press(dash_duo, detail, "Acknowledge")
    result_says(dash_duo, opened, "Acknowledged as alice.")
    row = f"#{ids.incident_row(opened)} .incident-acked"
    wait_until(dash_duo, lambda: "acknowledged by alice at" in dash_duo.find_element(row).text,
               "the open row does not say who acknowledged it")
    assert "acknowledged by alice at" in text_of(dash_duo, f"{detail} .incident-acked-line")
    stored = api(actions_app, "GET", f"/api/incidents/{opened}")
    assert stored["acknowledged"]["by"] == "alice" and stored["acknowledged"]["note"] == "calling the issuer"
    assert not [b for b in dash_duo.find_elements(f"{detail} button") if b.text == "Acknowledge"]

    # A note, with the name already there (asked once).
    assert field(dash_duo, "name", opened).get_attribute("value") == "alice"
    type_into(dash_duo, "note-text", opened, "issuer confirms a batch of declines")
    press(dash_duo, detail, "Add note")
    result_says(dash_duo, opened, "Note added.")
    assert "alice at" in text_of(dash_duo, f"{detail} .incident-notes")
    assert "issuer confirms a batch of declines" in dash_duo.find_element(f"{detail} .incident-notes").text
    wait_until(dash_duo, lambda: "1 note" in dash_duo.find_element(f"#{ids.incident_row(opened)}").text,
               "the open row does not count the note")
    assert [n["text"] for n in api(actions_app, "GET", f"/api/incidents/{opened}")["notes"]] == \
        ["issuer confirms a batch of declines"]

    # An empty note is refused by the route, in words, next to the form.
    press(dash_duo, detail, "Add note")
    result_says(dash_duo, opened, "Not saved: the note is required")

    # The resolved one: labelled false alarm, the name kept for the tab.
    detail_resolved = open_detail(dash_duo, resolved, "resolved")
    assert field(dash_duo, "name", resolved).get_attribute("value") == "alice"
    type_into(dash_duo, "reason", resolved, "issuer test batch")
    press(dash_duo, detail_resolved, "Mark false alarm")
    result_says(dash_duo, resolved, "Marked a false alarm.")
    label = api(actions_app, "GET", f"/api/incidents/{resolved}")["label"]
    assert (label["label"], label["by"], label["reason"]) == ("false_alarm", "alice", "issuer test batch")
    assert "marked false alarm by alice" in text_of(dash_duo, f"{detail_resolved} .incident-label-line")

    # Silence the open incident for 30 minutes: one silence per rule/metric pair its template lists.
    template = api(actions_app, "GET", f"/api/incidents/{opened}/silence")
    detail = open_detail(dash_duo, opened, "open")
    press(dash_duo, detail, "30 min")
    result_says(dash_duo, opened, "Silenced for 30 min")
    active = api(actions_app, "GET", "/api/silences?status=active")["silences"]
    assert sorted(map(str, (s["matchers"] for s in active))) == sorted(map(str, template["matchers"]))
    assert {s["created_by"] for s in active} == {"alice"}
    listed = f"#{SILENCES_LIST} .silence-row"
    wait_until(dash_duo, lambda: len(dash_duo.find_elements(listed)) == len(active),
               "the page's silences list does not show every new silence")
    assert "by alice" in text_of(dash_duo, listed) and "until" in text_of(dash_duo, listed)
    assert f"rule={template['matchers'][0]['rule']}" in dash_duo.find_element(f"#{SILENCES_LIST}").text

    # Expire each: gone from the page and from the API's active ones.
    for left in range(len(active), 0, -1):
        wait_until(dash_duo, lambda n=left: len(dash_duo.find_elements(listed)) == n, f"{left} silences not listed")
        click(dash_duo, dash_duo.find_element(f"{listed} .silence-expire"))
        wait_until(dash_duo, lambda n=left: len(dash_duo.find_elements(listed)) == n - 1,
                   "an expired silence is still listed")
    assert "No active silences." in text_of(dash_duo, f"#{SILENCES_LIST}")
    assert api(actions_app, "GET", "/api/silences?status=active")["count"] == 0
    assert dash_duo.find_element(f"#{SILENCES_RESULT}").text == ""
    assert dash_duo.get_logs() == []


def test_with_a_token_the_page_asks_once_and_the_route_decides(dash_duo, token_app):
    opened, _resolved = incidents_of(token_app)
    open_dashboard(dash_duo, token_app)
    detail = open_detail(dash_duo, opened, "open")
    assert field(dash_duo, "token", opened).get_attribute("type") == "password"
    type_into(dash_duo, "name", opened, "bob")
    press(dash_duo, detail, "Acknowledge")
    result_says(dash_duo, opened, "needs its API token")
    assert api(token_app, "GET", f"/api/incidents/{opened}")["acknowledged"] is None

    type_into(dash_duo, "token", opened, "not-the-token")
    press(dash_duo, detail, "Acknowledge")
    result_says(dash_duo, opened, "that is not the API token")
    assert api(token_app, "GET", f"/api/incidents/{opened}")["acknowledged"] is None

    type_into(dash_duo, "token", opened, TOKEN)
    press(dash_duo, detail, "Acknowledge")
    result_says(dash_duo, opened, "Acknowledged as bob.")
    assert api(token_app, "GET", f"/api/incidents/{opened}")["acknowledged"]["by"] == "bob"
    # Asked once: the field is gone, and the next write goes through with the kept token.
    assert not dash_duo.find_elements(f"#action-token-{opened}")
    type_into(dash_duo, "note-text", opened, "ack with the kept token")
    press(dash_duo, detail, "Add note")
    result_says(dash_duo, opened, "Note added.")
    assert len(api(token_app, "GET", f"/api/incidents/{opened}")["notes"]) == 1
    assert dash_duo.get_logs() == []


OURS = (f"#{ids.INCIDENT_DETAIL}", ".silences-panel")


def sticking_out(dash_duo) -> list[str]:
    """Elements of the actions and silences wider than the window (a box that scrolls on its own may)."""
    return dash_duo.driver.execute_script("""
        const width = window.innerWidth, out = [];
        for (const el of document.querySelectorAll(arguments[0])) {
            const box = el.getBoundingClientRect();
            if (!(box.width > 0 && box.right > width + 0.5)) continue;
            let clipped = false;
            for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
                const o = getComputedStyle(p).overflowX;
                if (o === 'auto' || o === 'scroll' || o === 'hidden') { clipped = true; break; }
            }
            if (!clipped) out.push(el.tagName + '.' + el.className + ' ' + box.right);
        }
        return out.slice(0, 8);
    """, ", ".join(f"{region}, {region} *" for region in OURS))


def test_the_actions_have_labels_and_fit_a_phone(dash_duo, actions_app):
    source = axe_source()
    opened, resolved = incidents_of(actions_app)
    open_dashboard(dash_duo, actions_app)
    dash_duo.driver.set_window_size(390, 844)
    wait_until(dash_duo, lambda: dash_duo.driver.execute_script("return window.innerWidth") == 390,
               "the window did not become 390 px wide")
    for incident_id, where in ((resolved, "resolved"), (opened, "open")):
        open_detail(dash_duo, incident_id, where)
        assert not sticking_out(dash_duo), sticking_out(dash_duo)
        for box in dash_duo.find_elements(f"#{ids.incident_detail_of(incident_id)} .action-field :is(input, textarea)"):
            # Each box sits inside its label, so it has a name a screen reader reads out.
            assert box.find_element(By.XPATH, "ancestor::label").text.strip()
        found = violations(dash_duo, source, tuple(OURS))
        blocking = [v for v in found if v["impact"] in BLOCKING]
        assert not blocking, f"with the {where} incident's actions shown: {described(blocking)}"
    assert dash_duo.get_logs() == []
