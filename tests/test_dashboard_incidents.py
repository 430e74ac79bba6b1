"""The incidents panels and the charts' time window without a browser: pure pieces, the history pager on a real
Monitor, and the callbacks through Dash's real HTTP endpoint."""

from __future__ import annotations

import json

import pytest

from app import create_app
from callbacks import window
from callbacks.incidents import HistoryFilter, IncidentHistory
from components import ids
from components.incidents import (
    Member,
    driver_label,
    drivers_text,
    history_page,
    incident_detail,
    incident_row,
    open_incidents_panel,
    timeline,
)
from detection import Monitor, Store, load_thresholds

from .support import StatusFeed
from .test_dashboard_callbacks import call_refresh

NOW = 1_790_000_000.0


@pytest.fixture
def feed():
    """Four code-51 denial spikes and four processing failures, resolved, then an open denial spike."""
    feed = StatusFeed(Monitor(load_thresholds(), Store(":memory:"), clock=lambda: NOW))
    feed.post(90)
    for _ in range(4):
        feed.post(8, c51=32, c59=8)
        feed.post(25)
        feed.post(6, failed=5)
        feed.post(25)
    feed.post(8, c51=32, c59=8)
    return feed


# --- pure pieces ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("metric, label", [
    ("auth_code:51", "code 51"), ("status:backend_reversed", "backend reversed"), ("rate:denied", "denied share"),
    ("feed:auth_code", "auth code feed"), ("odd", "odd"),
])
def test_driver_labels(metric, label):
    assert driver_label(metric) == label


def test_drivers_read_as_shares_largest_first():
    drivers = [{"metric": "auth_code:51", "share": 0.8619}, {"metric": "auth_code:59", "share": 0.1381}]
    assert drivers_text(drivers) == "code 51: 86%, code 59: 14%"
    assert drivers_text([]) == ""


INCIDENT = {
    "id": "i1", "state": "open", "kind": "denial_spike", "severity": "warning",
    "title": "Denial spike driven by code 51 (insufficient funds)", "summary": "Denials 40/min against about 5.9 normally",
    "started_at": "2025-07-12T01:30:00Z", "resolved_at": None,
    "drivers": [{"metric": "auth_code:51", "share": 0.86}],
    "details": {"members": [
        {"rule": "auth_51_high", "metric": "auth_code:51", "severity": "warning", "started_minute": 100,
         "resolved_minute": 120, "value": 32.0, "threshold": 13.0, "detail": "64 in a 2-min window"},
        {"rule": "denied_share_high", "metric": "rate:denied", "severity": "warning", "started_minute": 110,
         "resolved_minute": None, "value": 0.25, "threshold": 0.15},
    ]},
}


def text(component) -> str:
    return json.dumps(component.to_plotly_json(), default=lambda c: c.to_plotly_json(), ensure_ascii=False)


def test_an_open_incident_row_says_what_since_when_driven_by_what_and_has_an_actions_slot():
    row = text(incident_row(INCIDENT, selected=True))
    for piece in ("Denial spike driven by code 51 (insufficient funds)", "since 2025-07-12 01:30 UTC", "code 51: 86%",
                  "warning", ids.incident_actions("i1"), "incident-selected", '"list": "open"'):
        assert piece in row, piece
    resolved = text(incident_row({**INCIDENT, "state": "resolved", "resolved_at": "2025-07-12T02:02:00Z",
                                  "acknowledged": {"by": "ana", "at": "2025-07-12T01:41:07Z", "note": None}},
                                 where="resolved"))
    assert "2025-07-12 01:30 UTC to 2025-07-12 02:02 UTC" in resolved and "acknowledged by ana at 2025-07-12 01:41 UTC" in resolved
    assert ids.incident_actions("i1", "resolved") in resolved and "incident-selected" not in resolved


def test_no_open_incidents_is_a_calm_line():
    assert "No open incidents." in text(open_incidents_panel([]))
    assert text(open_incidents_panel([INCIDENT])).count("incident-open") >= 1


def test_the_detail_has_summary_members_timeline_and_an_actions_slot():
    detail = text(incident_detail(INCIDENT, 100, 140))
    for piece in ("Denials 40/min against about 5.9 normally", "Driven by code 51: 86%", "auth_51_high",
                  "denied_share_high", "32/min vs 13/min", "25.0% vs 15.0%", ids.incident_actions("i1", "detail"),
                  "2025-07-12 01:30 UTC"):
        assert piece in detail, piece
    assert "Click an incident" in text(incident_detail(None))


def test_timeline_bars_sit_where_members_started_and_ended():
    members = [Member("a", "status:failed", "critical", 100, 120, 1, 1), Member("b", "status:failed", "warning", 110, None, 1, 1)]
    bars = [b for b in timeline(members, 100, 140).children if b.className == "timeline-row"]
    first, second = (row.children[1].children for row in bars)
    assert first.style == {"left": "0.0%", "width": "50.0%"}
    assert second.style == {"left": "25.0%", "width": "75.0%"} and "timeline-open" in second.className


def test_history_page_says_where_it_is():
    assert "page 1 · older ones follow" in text(history_page([INCIDENT], 1, True))
    assert "page 3 · the oldest stored" in text(history_page([INCIDENT], 3, False))
    assert "No resolved incidents match." in text(history_page([], 1, False))
    assert "No older incidents match." in text(history_page([], 2, False))


# --- the charts' window ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("data", [None, "x", [], ["2025-07-12 10:00"], [1, 2], ["nonsense", "2025-07-12 11:00"],
                                  ["2025-07-12 11:00", "2025-07-12 10:00"]])
def test_a_window_that_is_not_two_ordered_dates_means_follow_live(data):
    assert window.parse_window(data) is None


def test_a_zoomed_window_keeps_plotlys_strings_and_reads_as_minutes():
    pinned = window.parse_window(["2025-07-12 10:00:30.5", "2025-07-12 11:00"])
    assert pinned is not None and pinned.start_text == "2025-07-12 10:00:30.5"
    assert pinned.end - pinned.start == pytest.approx(59.4917, abs=1e-3)


def test_the_span_read_reaches_back_to_a_pinned_window():
    newest = 29_204_640 + 3000
    assert window.span_label("6h", None, newest) == "6h"
    assert window.span_label("bogus", None, newest) == "6h"
    near = window.parse_window([window.plotly_time(newest - 100), window.plotly_time(newest - 50)])
    assert window.span_label("1h", near, newest) == "6h"
    assert window.span_label("24h", near, newest) == "24h"  # never shorter than the chosen range
    far = window.parse_window([window.plotly_time(newest - 2000), window.plotly_time(newest - 1900)])
    assert window.span_label("1h", far, newest) == "3d"
    beyond = window.parse_window([window.plotly_time(newest - 9000), window.plotly_time(newest - 8900)])
    assert window.span_label("1h", beyond, newest) == "3d"  # as far as the charts go


@pytest.mark.parametrize("start, end, message", [
    ("", "2025-07-12 10:00", "from: expected a date and time in UTC, YYYY-MM-DD HH:MM; got nothing"),
    ("2025-07-12 10:00", "12/07/2025", "to: expected YYYY-MM-DD HH:MM (UTC); got '12/07/2025'"),
    ("2025-07-12 10:00", "2025-07-12 09:00", "to: must be after from (2025-07-12 10:00 UTC)"),
    ("2025-07-01", "2025-07-12", "to: the charts show at most 72 h at once; this range is 264 h"),
    ("x" * 41, "2025-07-12", "from: expected YYYY-MM-DD HH:MM (UTC); got 41 characters"),
    (None, "2025-07-12", "from: expected a date and time in UTC, YYYY-MM-DD HH:MM; got nothing"),
])
def test_a_bad_date_range_names_its_field(start, end, message):
    with pytest.raises(ValueError) as caught:
        window.absolute_window(start, end, 4320)
    assert str(caught.value) == message


def test_a_date_range_accepts_a_day_or_a_minute_and_utc():
    assert window.absolute_window("2025-07-12", "2025-07-12 06:30 UTC", 4320) == ["2025-07-12 00:00:00", "2025-07-12 06:30:00"]


def test_an_incident_window_pads_its_minutes():
    start = 29_204_640
    assert window.incident_window(start, start + 20, None) == [window.plotly_time(start - 15), window.plotly_time(start + 35)]
    assert window.incident_window(start, start + 200, None) == [window.plotly_time(start - 50), window.plotly_time(start + 250)]
    # Open: up to the newest minute.
    assert window.incident_window(start, None, start + 40) == [window.plotly_time(start - 15), window.plotly_time(start + 56)]


# --- the history pager on a real Monitor ---------------------------------------------------------------------

def test_history_pages_filter_as_they_read(feed):
    resolved = feed.monitor.incidents("resolved")
    assert len(resolved) == 8
    history = IncidentHistory(feed.monitor, page_size=3, batch=2)  # small batches: the reading loop turns
    first = history.page(HistoryFilter(), None)
    assert [i.id for i in first.incidents] == [i.id for i in resolved[:3]] and first.next_cursor is not None
    second = history.page(HistoryFilter(), first.next_cursor)
    third = history.page(HistoryFilter(), second.next_cursor)
    assert [i.id for i in second.incidents + third.incidents] == [i.id for i in resolved[3:]]
    assert third.next_cursor is None
    failures = history.page(HistoryFilter.of("processing_failure", "all", ""), None)
    assert [i.kind for i in failures.incidents] == ["processing_failure"] * 3
    by_text = history.page(HistoryFilter.of("all", "all", "  CODE 51 "), None)
    assert all("code 51" in i.title for i in by_text.incidents) and len(by_text.incidents) == 3
    assert history.page(HistoryFilter.of("all", "info", ""), None).incidents == []
    # Values the page cannot send filter nothing.
    assert HistoryFilter.of("meteor", 7, ["x"]) == HistoryFilter()


def test_a_filter_matching_little_reads_a_bounded_number_of_incidents(feed):
    history = IncidentHistory(feed.monitor, page_size=3, batch=2, scan_limit=6)
    page = history.page(HistoryFilter.of("all", "all", "no such words"), None)
    assert page.incidents == [] and page.next_cursor is not None and page.note == "searched 6 incidents, more with Older"
    rest = history.page(HistoryFilter.of("all", "all", "no such words"), page.next_cursor)
    assert rest.incidents == [] and rest.next_cursor is None


# --- the callbacks, through Dash's HTTP endpoint ---------------------------------------------------------------

def call(app, output_part: str, values: dict, trigger: str) -> dict:
    key = next(k for k in app.callback_map if output_part in k)
    spec = app.callback_map[key]
    outputs = [{"id": p.split(".")[0], "property": p.split(".")[1].split("@")[0]} for p in key.strip(".").split("...")]
    def fill(items):
        return [dict(i, value=values.get(i["id"] if isinstance(i["id"], str) else json.dumps(i["id"]))) for i in items]
    body = {"output": key, "outputs": outputs, "inputs": fill(spec["inputs"]), "state": fill(spec.get("state", [])),
            "changedPropIds": [trigger]}
    response = app.server.test_client().post("/_dash-update-component", json=body)
    assert response.status_code == 200, response.data[:500]
    return response.get_json()["response"]


def test_a_typed_range_pins_the_window_and_a_bad_one_is_answered(feed):
    app = create_app({"db": ":memory:"}, monitor=feed.monitor)
    out = call(app, ids.RANGE_ERROR, {ids.RANGE_FROM: "2025-07-12 01:00", ids.RANGE_TO: "2025-07-12 03:00"},
               f"{ids.RANGE_APPLY}.n_clicks")
    assert out[ids.VIEW_WINDOW]["data"] == ["2025-07-12 01:00:00", "2025-07-12 03:00:00"]
    assert out[ids.RANGE_ERROR]["children"] == ""
    out = call(app, ids.RANGE_ERROR, {ids.RANGE_FROM: "yesterday", ids.RANGE_TO: "2025-07-12 03:00"},
               f"{ids.RANGE_APPLY}.n_clicks")
    assert ids.VIEW_WINDOW not in out and out[ids.RANGE_ERROR]["children"].startswith("from: expected")
    out = call(app, ids.RANGE_ERROR, {}, f"{ids.LIVE}.n_clicks")
    assert out[ids.VIEW_WINDOW]["data"] is None


def test_a_pinned_window_is_drawn_on_both_charts_and_kept_by_later_refreshes(feed):
    app = create_app({"db": ":memory:"}, monitor=feed.monitor)
    client = app.server.test_client()
    newest = feed.monitor.newest_event_minute()
    pinned = [window.plotly_time(newest - 300) + ".5", window.plotly_time(newest - 240)]
    first, _ = call_refresh(client, app, "1h", trigger=ids.VIEW_WINDOW, window=pinned)
    for chart in (ids.STATUS_CHART, ids.AUTH_CHART):
        layout = first[chart]["figure"]["layout"]
        assert layout["xaxis"]["range"] == pinned and layout["xaxis"]["autorange"] is False
    assert first[ids.CHART_SIGNATURE]["data"].startswith("6h|")  # read back far enough to hold the window
    assert first[ids.WINDOW_TEXT]["children"].endswith("(pinned)")
    later, _ = call_refresh(client, app, "1h", signature=first[ids.CHART_SIGNATURE]["data"], window=pinned)
    patch = later[ids.STATUS_CHART]["figure"]
    ranges = [op["params"]["value"] for op in patch["operations"] if op["location"][-1] == "range"
              and op["location"][1].startswith("xaxis")]
    assert ranges and all(r == pinned for r in ranges)
    live, _ = call_refresh(client, app, "1h", signature=first[ids.CHART_SIGNATURE]["data"], window=None)
    assert live[ids.STATUS_CHART]["figure"]["layout"]["xaxis"]["range"][1] == window.plotly_time(newest)


def test_refresh_lists_the_open_incident_and_says_when_the_open_set_changed(feed):
    app = create_app({"db": ":memory:"}, monitor=feed.monitor)
    (incident,) = feed.monitor.incidents("open")
    out, _ = call_refresh(app.server.test_client(), app, "6h")
    assert incident.title in json.dumps(out[ids.OPEN_INCIDENTS]["children"])
    assert out[ids.OPEN_INCIDENT_IDS]["data"] == incident.id


def test_clicking_an_incident_opens_it_and_sets_the_window_to_its_minutes(feed):
    app = create_app({"db": ":memory:"}, monitor=feed.monitor)
    incident = feed.monitor.incidents("resolved")[2]
    button = ids.incident_open(incident.id, "resolved")
    key = json.dumps(button, separators=(",", ":"), sort_keys=True)
    out = call(app, ids.INCIDENT_DETAIL, {}, f"{key}.n_clicks")
    assert out == {}  # no click came with it: nothing changes
    spec = next(v for k, v in app.callback_map.items() if ids.INCIDENT_DETAIL in k)
    body = {"output": next(k for k in app.callback_map if ids.INCIDENT_DETAIL in k),
            "outputs": [{"id": ids.INCIDENT_DETAIL, "property": "children"}, {"id": ids.SELECTED_INCIDENT, "property": "data"},
                        {"id": ids.VIEW_WINDOW, "property": "data"}, {"id": ids.DETAIL_DIGESTS, "property": "data"}],
            "inputs": [[{"id": button, "property": "n_clicks", "value": 1}]], "changedPropIds": [f"{key}.n_clicks"],
            "state": spec.get("state", [])}
    response = app.server.test_client().post("/_dash-update-component", json=body).get_json()["response"]
    assert response[ids.SELECTED_INCIDENT]["data"] == incident.id
    assert response[ids.VIEW_WINDOW]["data"] == window.incident_window(incident.started_at, incident.resolved_at, None)
    assert incident.summary in json.dumps(response[ids.INCIDENT_DETAIL]["children"])
    # What was drawn, part by part, for the refresh that keeps the detail current (callbacks/following.py).
    drawn = response[ids.DETAIL_DIGESTS]["data"]
    assert drawn["incident"] == incident.id and {"info", "record", "forms"} <= set(drawn)
