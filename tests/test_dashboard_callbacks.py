"""The dashboard's callbacks through Dash's real HTTP endpoint (no browser), on a real Monitor and store."""

from __future__ import annotations

import copy
import json
import re
import time

import pytest

from app import create_app
from callbacks import view
from callbacks.bands import RuleBands
from components import ids
from components.cards import value_text
from detection import Monitor, Snapshot, Store, parse_thresholds
from detection.metrics import epoch_to_iso, minute_to_datetime, minute_to_iso
from detection.rules import Judgement
from feeds.demo import FeedWriter

from .support import two_figures

START = 29_166_000  # epoch minute, a little before the FakeClock's wall time


def refresh_key(app) -> str:
    return next(k for k in app.callback_map if f"{ids.STATUS_CHART}.figure" in k)


def call_refresh(client, app, range_label: str = "6h", signature=None, trigger: str = ids.REFRESH, window=None,
                 selected=None, digests=None, open_ids=None, slice_filter=None) -> tuple[dict, int]:
    """Sends the page's refresh request (see ``refresh_request``) and returns its answer and size in bytes."""
    body = refresh_request(app, range_label, signature, trigger, window, selected, digests, open_ids, slice_filter)
    response = client.post("/_dash-update-component", json=body)
    assert response.status_code == 200, response.data[:500]
    return response.get_json()["response"], len(response.data)


def refresh_request(app, range_label: str = "6h", signature=None, trigger: str = ids.REFRESH, window=None,
                    selected=None, digests=None, open_ids=None, slice_filter=None) -> dict:
    """The request the page sends for a refresh; ``window`` is the charts' pinned window (None: follow live),
    ``slice_filter`` the slice the charts are filtered to (None: all traffic)."""
    key = refresh_key(app)
    spec = app.callback_map[key]
    outputs = [{"id": part.split(".")[0], "property": part.split(".")[1]} for part in key.strip(".").split("...")]
    values = {ids.REFRESH: 1, ids.RANGE: range_label, ids.SIMULATED: 0, ids.VIEW_WINDOW: window,
              ids.CHART_SIGNATURE: signature, ids.SELECTED_INCIDENT: selected, ids.OPEN_INCIDENT_IDS: open_ids,
              ids.PART_DIGESTS: digests, ids.SLICE_FILTER: slice_filter}
    inputs = [{"id": i["id"], "property": i["property"], "value": values[i["id"]]} for i in spec["inputs"]]
    prop = {ids.REFRESH: "n_intervals", ids.RANGE: "value", ids.SIMULATED: "data", ids.VIEW_WINDOW: "data",
            ids.SLICE_FILTER: "data"}[trigger]
    return {"output": key, "outputs": outputs, "inputs": inputs, "changedPropIds": [f"{trigger}.{prop}"],
            "state": [{"id": i["id"], "property": i["property"], "value": values[i["id"]]} for i in spec["state"]]}


def simulate_body(app, scenario: str, token: object = "", kept: object = None) -> dict:
    """The request the page sends for a simulate click: the token typed in the page and the one kept for the tab."""
    key = next(k for k in app.callback_map if ids.SIMULATE_RESULT in k)
    button = json.dumps(ids.simulate_button(scenario), separators=(",", ":"), sort_keys=True)
    return {
        "output": key,
        "outputs": [{"id": ids.SIMULATE_RESULT, "property": "children"}, {"id": ids.SIMULATED, "property": "data"}],
        "inputs": [[{"id": ids.simulate_button(scenario), "property": "n_clicks", "value": 1}]],
        "changedPropIds": [f"{button}.n_clicks"],
        "state": [{"id": ids.SIMULATED, "property": "data", "value": 0},
                  {"id": ids.SIMULATE_TOKEN, "property": "value", "value": token},
                  {"id": ids.API_TOKEN_STORE, "property": "data", "value": kept}],
    }


def call_simulate(client, app, scenario: str) -> dict:
    response = client.post("/_dash-update-component", json=simulate_body(app, scenario))
    assert response.status_code == 200, response.data[:500]
    return response.get_json()["response"]


def failed_high_expectation(monitor) -> tuple[str, str]:
    """What failed_high expected in its worst window, from the thresholds' ratio and the approvals the demo
    stream sent in that window (the window with the most failures), as the alert texts show it."""
    rule = next(r for r in monitor.thresholds.rules if r.id == "failed_high")
    (alert,) = [a for a in monitor.alerts() if a.rule == "failed_high"]
    worst = max(range(alert.started_at, alert.last_breach_at + 1),
                key=lambda m: monitor.series.window_sum("status:failed", m, rule.window))
    approvals = monitor.series.window_sum("status:approved", worst, rule.window)
    return two_figures(rule.ratio * approvals), two_figures(rule.ratio * 100)


@pytest.fixture
def demo_app(monitor, clock):
    clock.now = (START + 24 * 60) * 60.0 + 10
    app = create_app({"db": ":memory:", "refresh_ms": 1000, "simulate": True}, monitor=monitor)
    app.server.extensions["feed_writer"].backfill(6 * 60)
    return app


def test_refresh_fills_cards_charts_alerts_table_and_health(demo_app):
    client = demo_app.server.test_client()
    out, _size = call_refresh(client, demo_app, "6h")
    cards = json.dumps(out[ids.STATUS_CARDS]["children"])
    assert ids.status_card("failed") in cards and ids.status_card("approved") in cards
    status_fig = out[ids.STATUS_CHART]["figure"]
    assert len(status_fig["data"]) >= 6 and status_fig["layout"]["height"] > 0
    series = next(t for t in status_fig["data"] if t.get("name") == "approved")
    assert len(series["y"]) == 360 and series["dx"] == 60_000
    auth_names = {t["name"] for t in out[ids.AUTH_CHART]["figure"]["data"]}
    assert {"00 approved", "51 insufficient funds", "59 suspected fraud"} <= auth_names
    assert out[ids.HEALTH_BADGE]["children"] == "feed live"
    assert "newest event" in out[ids.NEWEST_EVENT]["children"]
    assert "open" in json.dumps(out[ids.RECENT_TABLE]["children"])
    assert out[ids.CHART_SIGNATURE]["data"].startswith("6h|")


def test_an_unchanged_chart_shape_is_sent_as_a_patch(demo_app):
    client = demo_app.server.test_client()
    first, first_size = call_refresh(client, demo_app, "6h")
    signature = first[ids.CHART_SIGNATURE]["data"]
    second, second_size = call_refresh(client, demo_app, "6h", signature=signature)
    patch = second[ids.STATUS_CHART]["figure"]
    assert patch.get("__dash_patch_update") == "__dash_patch_update"
    assert second_size < first_size
    # A new range changes the shape: the whole figure again.
    third, _ = call_refresh(client, demo_app, "1h", signature=signature, trigger=ids.RANGE)
    assert "layout" in third[ids.STATUS_CHART]["figure"]


def apply_patch(figure: dict, patch: dict) -> dict:
    """What the browser does with a Patch, for the operations the dashboard sends."""
    figure = copy.deepcopy(figure)
    for op in patch["operations"]:
        *path, last = op["location"]
        target = figure
        for key in path:
            target = target[key]
        if op["operation"] == "Assign":
            target[last] = op["params"]["value"]
        elif op["operation"] == "Delete":
            del target[last]
        elif op["operation"] == "Extend":
            target[last].extend(op["params"]["value"])
        else:
            raise AssertionError(f"unexpected operation {op['operation']}")
    return figure


@pytest.mark.parametrize("new_minutes", [0, 1, 3])
def test_a_patch_turns_the_browsers_chart_into_the_new_one(demo_app, new_minutes):
    client = demo_app.server.test_client()
    writer = demo_app.server.extensions["feed_writer"]
    first, _ = call_refresh(client, demo_app, "24h")
    for _ in range(new_minutes):
        writer.stream_next()
    newest = demo_app.server.extensions["monitor"].newest_event_minute()
    writer.post([{"timestamp": minute_to_iso(newest), "status": "failed", "count": 2}], [])  # the open minute grows
    patched, patch_size = call_refresh(client, demo_app, "24h", signature=first[ids.CHART_SIGNATURE]["data"])
    full, full_size = call_refresh(client, demo_app, "24h")
    for chart in (ids.STATUS_CHART, ids.AUTH_CHART):
        patch = patched[chart]["figure"]
        assert patch["__dash_patch_update"] == "__dash_patch_update"
        result = apply_patch(first[chart]["figure"], patch)
        expected = full[chart]["figure"]
        assert [t.get("y") for t in result["data"]] == [t.get("y") for t in expected["data"]]
        assert [t.get("x0") for t in result["data"]] == [t.get("x0") for t in expected["data"]]
        assert result["layout"]["shapes"] == expected["layout"]["shapes"]
        assert result["layout"]["xaxis"]["range"] == expected["layout"]["xaxis"]["range"]
        assert len(json.dumps(patch)) < len(json.dumps(expected)) / 3  # only the changed minutes travel
    assert patch_size < full_size


def test_a_long_absence_or_a_new_range_sends_the_whole_figure(demo_app):
    client = demo_app.server.test_client()
    first, _ = call_refresh(client, demo_app, "1h")
    old = first[ids.CHART_SIGNATURE]["data"]
    range_label, end, kinds = old.split("|")
    far_behind = f"{range_label}|{int(end) - 58}|{kinds}"  # more new minutes than the patch would keep
    out, _ = call_refresh(client, demo_app, "1h", signature=far_behind)
    assert "layout" in out[ids.STATUS_CHART]["figure"]
    out, _ = call_refresh(client, demo_app, "1h", signature=f"{range_label}|{end}|changed")
    assert "layout" in out[ids.STATUS_CHART]["figure"]
    out, _ = call_refresh(client, demo_app, "1h", signature="garbage")
    assert "layout" in out[ids.STATUS_CHART]["figure"]


@pytest.mark.parametrize("range_label, minutes", [("1h", 60), ("24h", 1440), ("3d", 4320)])
def test_range_selector_sets_the_span_sent(demo_app, range_label, minutes):
    out, _ = call_refresh(demo_app.server.test_client(), demo_app, range_label)
    series = next(t for t in out[ids.STATUS_CHART]["figure"]["data"] if t.get("name") == "failed")
    assert len(series["y"]) == min(minutes, demo_app.server.extensions["monitor"].settings.window_minutes)


def test_simulate_processing_failure_fires_and_turns_the_failed_card_red(demo_app):
    client = demo_app.server.test_client()
    result = call_simulate(client, demo_app, "processing_failure")
    assert "Processing failure" in json.dumps(result[ids.SIMULATE_RESULT]["children"])
    assert result[ids.SIMULATED]["data"] == 1
    out, _ = call_refresh(client, demo_app, "1h", trigger=ids.SIMULATED)
    panel = json.dumps(out[ids.ALERTS_PANEL]["children"])
    assert re.findall(r"(\d+) firing", panel) == ["2"]  # the panel's summary: failed_high and one more
    # The seeded demo stream and the fixed clock give these exact figures; the statistics show on hover.
    expected, per_100 = failed_high_expectation(demo_app.server.extensions["monitor"])
    assert f'"children": "Failed transactions: 18 in 5 min, about {expected} expected"' in panel
    assert (f'"title": "18 in a 5-min window against {expected} expected ({per_100} per 100 approvals); fires at 3 or more: '
            'at least 3 and an upper-tail probability of at most 2.5e-05 (Poisson)"') in panel
    cards = out[ids.STATUS_CARDS]["children"]["props"]["children"]
    failed = next(c["props"]["children"] for c in cards if c["props"]["children"]["props"]["id"] == ids.status_card("failed"))
    assert "card-firing" in failed["props"]["className"]
    shapes = out[ids.STATUS_CHART]["figure"]["layout"]["shapes"]
    assert any(s["fillcolor"].startswith("rgba(220, 53, 69, 0.2") for s in shapes)  # the episode is shaded


def test_simulate_with_an_unknown_scenario_says_so_and_posts_nothing(demo_app):
    monitor = demo_app.server.extensions["monitor"]
    before = monitor.newest_event_minute()
    result = call_simulate(demo_app.server.test_client(), demo_app, "meteor_strike")
    assert "unknown scenario 'meteor_strike'" in json.dumps(result[ids.SIMULATE_RESULT]["children"])
    assert monitor.newest_event_minute() == before


def test_simulation_is_refused_unless_switched_on(monitor):
    app = create_app({"db": ":memory:"}, monitor=monitor)
    result = call_simulate(app.server.test_client(), app, "processing_failure")
    assert "Simulation is off" in json.dumps(result[ids.SIMULATE_RESULT]["children"])
    assert monitor.newest_event_minute() is None  # nothing synthetic was written
    layout = app.server.test_client().get("/_dash-layout").get_json()
    assert '"disabled": true' in json.dumps(layout)


def test_refresh_before_any_data_shows_waiting(monitor):
    app = create_app({"db": ":memory:"}, monitor=monitor)
    out, _ = call_refresh(app.server.test_client(), app)
    assert out[ids.HEALTH_BADGE]["children"] == "waiting for data"
    assert "waiting for data" in json.dumps(out[ids.STATUS_CHART]["figure"])


def test_view_bands_come_from_the_rules_in_force(clock):
    config = {"version": 1, "rules": [
        {"id": "a", "type": "threshold", "metric": "status:approved", "direction": "below", "threshold": 75},
        {"id": "f", "type": "threshold", "metric": "status:failed", "direction": "above", "threshold": 0},
    ]}
    monitor = Monitor(parse_thresholds(config, "test"), Store(":memory:"), clock=clock)
    clock.now = (START + 120) * 60.0
    writer = FeedWriter(monitor)
    writer.backfill(90)
    bands = RuleBands(monitor.thresholds.rules)
    snap = monitor.snapshot(60)
    with bands.for_snapshot(snap) as lines:
        panels = {p.key: p for p in view.status_panels(snap, lines)}
    # Half a count outside the turn: 74 approvals breach "below 75", 75 do not; 1 failure breaches "above 0".
    assert set(panels["status:approved"].lower[:-1]) == {74.5} and panels["status:approved"].upper is None
    # The open minute: a "below" rule judges it once it closes, an "above" one (a count only grows) at once.
    assert snap.feeds["status"].closed_through == snap.end_minute - 1 and panels["status:approved"].lower[-1] is None
    assert set(panels["status:failed"].upper) == {0.5}
    assert panels["status:reversed"].expected is None and panels["status:reversed"].upper is None
    wider = monitor.snapshot(90)
    with bands.for_snapshot(wider) as lines:  # a range of its own
        again = {p.key: p for p in view.status_panels(wider, lines)}
    assert len(again["status:failed"].upper) == 90 and set(again["status:failed"].upper) == {0.5}
    assert again["status:approved"].lower[-2] == 74.5


class StepRule:
    """A stand-in rule whose limit changes every minute, as a learned seasonal rule's does: it breaches when the
    minute's denials exceed ``minute % 7``."""

    id, metric = "seasonal", "status:denied"

    def judge(self, view, minute):
        count = view.count(self.metric, minute)
        return Judgement(count > minute % 7, count, minute % 7, True)

    def worse(self, new, old):
        return new > old

    def expected(self, minute):
        return float(minute % 5)


def snapshot_of(start: int, counts: dict[str, list[int]]) -> Snapshot:
    n = len(next(iter(counts.values())))
    return Snapshot(start_minute=start, end_minute=start + n - 1, counts=counts,
                    received={"status": (True,) * n, "auth_code": (True,) * n}, open_alerts=(), recent_alerts=(),
                    rules=(), feeds={}, statuses=("denied", "failed"), auth_codes=())


def test_rule_bands_follow_minute_by_minute_limits_and_pick_the_line_crossed_first():
    class Flat(StepRule):
        def judge(self, view, minute):
            count = view.count(self.metric, minute)
            return Judgement(count > 4, count, 4, True)

        def expected(self, minute):
            return None

    class Few(Flat):
        def judge(self, view, minute):
            count = view.count(self.metric, minute)
            return Judgement(count < 1, count, 1, True)

        def worse(self, new, old):
            return new < old

    bands = RuleBands([StepRule(), Flat(), Few()])
    snap = snapshot_of(700, {"status:denied": [2] * 14, "status:failed": [0] * 14})
    lower, upper, expected = bands.lines_of(snap, "status:denied", range(700, 714))
    assert upper == [min(4.5, m % 7 + 0.5) for m in range(700, 714)]
    assert lower == [0.5] * 14 and expected == [float(m % 5) for m in range(700, 714)]
    assert bands.lines_of(snap, "status:failed", range(700, 714)) == (None, None, None)


def test_counts_become_arrays_with_gaps_as_nan():
    import math

    assert view._values((1, 2, 3), (True, True, True)).tolist() == [1, 2, 3]
    gapped = view._values((1, 0, 3), (True, False, True)).tolist()
    assert gapped[0] == 1 and math.isnan(gapped[1]) and gapped[2] == 3


def test_stale_pending_rows_are_not_shown_as_alerts(monitor, clock):
    """A pending breach that cleared inside one ingest batch can be left in the store; it never fired."""
    clock.now = (START + 30) * 60.0
    writer = FeedWriter(monitor)
    rows = [{"timestamp": minute_to_iso(START + i), "status": "failed", "count": 1 if i == 3 else 0} for i in range(10)]
    writer.post(rows, [])
    snap = monitor.snapshot(30, recent_alerts=10)
    assert all(a.state != "pending" for a in view.recent_alerts(snap))


def test_a_silenced_alert_is_shown_marked_silenced(demo_app):
    client = demo_app.server.test_client()
    made = client.post("/api/silences", json={"matchers": {"metric": "status:failed"}, "ends_at": time.time() + 86_400,
                                             "comment": "gateway maintenance", "created_by": "ana"})
    assert made.status_code == 201
    call_simulate(client, demo_app, "processing_failure")
    out, _ = call_refresh(client, demo_app, "1h", trigger=ids.SIMULATED)
    panel = json.dumps(out[ids.ALERTS_PANEL]["children"])
    expected, _ = failed_high_expectation(demo_app.server.extensions["monitor"])
    assert f'"children": "Failed transactions: 18 in 5 min, about {expected} expected"' in panel
    assert "silenced-badge" in panel
    client.delete(f"/api/silences/{made.get_json()['id']}")
    out, _ = call_refresh(client, demo_app, "1h")
    assert "silenced-badge" not in json.dumps(out[ids.ALERTS_PANEL]["children"])


def test_a_refresh_when_nothing_changed_sends_only_the_time_and_a_new_minute_sends_its_parts(demo_app):
    client = demo_app.server.test_client()
    first, first_size = call_refresh(client, demo_app, "24h")
    signature, digests = first[ids.CHART_SIGNATURE]["data"], first[ids.PART_DIGESTS]["data"]
    open_ids = first[ids.OPEN_INCIDENT_IDS]["data"]
    quiet, quiet_size = call_refresh(client, demo_app, "24h", signature=signature, digests=digests, open_ids=open_ids)
    assert set(quiet) == {ids.LAST_REFRESH}  # everything else is what the browser shows already
    assert quiet_size < 5 * 1024 < first_size
    # A window pinned by a zoom changes the charts though no minute did.
    newest = demo_app.server.extensions["monitor"].newest_event_minute()
    pinned = [view.plotly_time(newest - 120), view.plotly_time(newest - 60)]
    zoomed, _ = call_refresh(client, demo_app, "24h", signature=signature, digests=digests, open_ids=open_ids,
                             window=pinned)
    assert zoomed[ids.STATUS_CHART]["figure"]["operations"] and zoomed[ids.AUTH_CHART]["figure"]["operations"]
    demo_app.server.extensions["feed_writer"].stream_next()
    moved, _ = call_refresh(client, demo_app, "24h", signature=signature, digests=digests, open_ids=open_ids)
    assert {ids.STATUS_CHART, ids.AUTH_CHART, ids.RECENT_TABLE, ids.CHART_SIGNATURE, ids.PART_DIGESTS} <= set(moved)
    # A page that lost its digests (a reload) gets every part again.
    again, _ = call_refresh(client, demo_app, "24h", signature=signature)
    assert {ids.STATUS_CARDS, ids.ALERTS_PANEL, ids.OPEN_INCIDENTS} <= set(again)


# ------------------------------------------------------------------ cards that agree with the alerts

def card_of(out: dict, status: str) -> dict:
    """The card of ``status`` in a refresh answer."""
    cols = out[ids.STATUS_CARDS]["children"]["props"]["children"]
    return next(c["props"]["children"] for c in cols if c["props"]["children"]["props"]["id"] == ids.status_card(status))


def card_texts(card: dict) -> list[str]:
    """Every text in the card, in page order."""
    found: list[str] = []

    def visit(node):
        if isinstance(node, dict):
            visit(node.get("props", {}).get("children"))
        elif isinstance(node, list):
            for child in node:
                visit(child)
        elif isinstance(node, str):
            found.append(node)

    visit(card)
    return found


def card_classes(out: dict) -> dict[str, str]:
    cols = out[ids.STATUS_CARDS]["children"]["props"]["children"]
    return {c["props"]["children"]["props"]["id"]: c["props"]["children"]["props"]["className"] for c in cols}


def test_a_failure_burst_card_shows_the_value_and_window_its_alert_judges(demo_app):
    client = demo_app.server.test_client()
    call_simulate(client, demo_app, "processing_failure")
    out, _ = call_refresh(client, demo_app, "1h", trigger=ids.SIMULATED)
    monitor = demo_app.server.extensions["monitor"]
    (alert,) = [a for a in monitor.alerts() if a.rule == "failed_high" and a.state == "firing"]
    rule = next(r for r in monitor.thresholds.rules if r.id == "failed_high")
    texts = card_texts(card_of(out, "failed"))
    # The big number is the alert's value (18 failures in the 5-minute window: 3.60/min), not the open minute.
    assert texts[2:4] == [value_text(alert.value, False), f"/min over {rule.window} min"]
    assert texts[2] == "3.60"
    assert texts[4].startswith("open minute: ") and texts[4].endswith(" so far")
    assert texts[6] == f"▲ +3.6 vs expected {alert.expected:.2g}"
    assert "card-firing" in card_of(out, "failed")["props"]["className"]
    # A card without an alert shows its last closed minute, with no minus zero anywhere on the row.
    assert card_texts(card_of(out, "approved"))[3] == "last closed min"
    row = json.dumps(out[ids.STATUS_CARDS]["children"])
    assert "-0.0" not in row and "+0%" not in row and "-0%" not in row


def test_a_silenced_alert_leaves_its_card_marked_silenced_not_firing(demo_app):
    client = demo_app.server.test_client()
    call_simulate(client, demo_app, "processing_failure")
    demo_app.server.extensions["silences"].create({"matchers": {"rule": "failed_high"},
                                                   "ends_at": epoch_to_iso(time.time() + 3600), "comment": "known"})
    out, _ = call_refresh(client, demo_app, "1h", trigger=ids.SIMULATED)
    failed = card_of(out, "failed")
    assert "card-silenced" in failed["props"]["className"] and "card-firing" not in failed["props"]["className"]
    assert card_texts(failed)[1] == "silenced"
    # The other alert of the burst is not silenced: its card stays red.
    assert "card-firing" in card_of(out, "backend_reversed")["props"]["className"]


def test_a_stopped_feed_greys_its_cards_then_turns_every_card_red_when_the_no_data_alert_fires(demo_app, clock):
    client = demo_app.server.test_client()
    monitor = demo_app.server.extensions["monitor"]
    out, _ = call_refresh(client, demo_app, "1h")
    assert set(card_classes(out).values()) == {"status-card card-normal border-success"}
    since = minute_to_datetime(monitor.newest_event_minute()).strftime("%H:%M UTC")
    clock.advance(view.STALE_SECONDS + 10)  # silent for 100 s: stale, no alert yet (the demo's waits 2 min)
    monitor.tick()
    out, _ = call_refresh(client, demo_app, "1h")
    assert not [a for a in monitor.alerts() if a.metric == "feed:status" and a.is_open]
    assert all("card-stale" in css for css in card_classes(out).values())
    texts = card_texts(card_of(out, "approved"))
    assert texts[1] == "no data" and texts[-1] == f"no data since {since}"
    clock.advance(60)  # 160 s: the no-data alert fires
    monitor.tick()
    assert [a.state for a in monitor.alerts() if a.metric == "feed:status" and a.is_open] == ["firing"]
    out, _ = call_refresh(client, demo_app, "1h")
    assert all("card-outage" in css for css in card_classes(out).values())
    texts = card_texts(card_of(out, "failed"))
    assert texts[1] == "feed outage" and texts[-1] == f"no data since {since}"


def test_a_simulated_feed_outage_turns_every_card_red_while_the_closed_minute_is_in_the_gap(demo_app):
    client = demo_app.server.test_client()
    monitor = demo_app.server.extensions["monitor"]
    before = monitor.newest_event_minute()
    call_simulate(client, demo_app, "feed_outage")
    # The posted gap resolves as soon as the minute after it arrives; the cards judge the gap's last minute.
    (gap,) = [a for a in monitor.alerts() if a.metric == "feed:status"]
    assert gap.state == "resolved" and gap.started_at == before + 1
    out, _ = call_refresh(client, demo_app, "1h", trigger=ids.SIMULATED)
    assert all("card-outage" in css for css in card_classes(out).values())
    texts = card_texts(card_of(out, "approved"))
    since = minute_to_datetime(before).strftime("%H:%M UTC")
    assert texts[1:4] == ["feed outage", "–", "last closed min"] and texts[-1] == f"no data since {since}"
    # The next minute closes with data: the outage is over for the cards too.
    writer = demo_app.server.extensions["feed_writer"]
    writer.simulate("normal")
    writer.simulate("normal")
    out, _ = call_refresh(client, demo_app, "1h", trigger=ids.SIMULATED)
    assert all("card-normal" in css for css in card_classes(out).values())


def test_a_silenced_no_data_alert_leaves_the_cards_grey_not_red(demo_app, clock):
    client = demo_app.server.test_client()
    monitor = demo_app.server.extensions["monitor"]
    demo_app.server.extensions["silences"].create({"matchers": {"rule": "no_data"},
                                                   "ends_at": epoch_to_iso(time.time() + 3600), "comment": "maintenance"})
    clock.advance(view.STALE_SECONDS + 70)
    monitor.tick()
    assert [a.state for a in monitor.alerts() if a.metric == "feed:status" and a.is_open] == ["firing"]
    out, _ = call_refresh(client, demo_app, "1h")
    assert all("card-stale" in css for css in card_classes(out).values())
