"""The breakdown panel and the slice filter without a browser (issue 12): the pure component functions, on
breakdowns shaped as ``monitor.breakdown`` answers, and the helpers that lay a slice's counts on the charts."""

from __future__ import annotations

from types import MappingProxyType

import pytest
from dash import html

from callbacks.breakdown import BreakdownReader, clicked_slice, metric_options
from callbacks.slice_view import NoLines, aligned_counts, slice_alerts, sliced_snapshot
from components import ids
from components.breakdown import (
    DEFAULT_MINUTES,
    EVERY_VALUE,
    HEAT_SCALE,
    MAX_INCIDENT_MINUTES,
    NO_DIMENSIONS,
    WAITING,
    Focus,
    bar_text,
    breakdown_heading,
    breakdown_panel,
    contribution_figure,
    contribution_table,
    dimension_label,
    excess_word,
    heatmap_figure,
    incident_focus,
    main_metric,
    minute_of,
    slice_chip,
    slice_filter_bar,
    slice_key,
    slice_label,
    value_options,
)
from detection import Alert, Snapshot

from .slice_support import END, MINUTES, callback_request, labelled_app
from .test_dashboard_callbacks import refresh_request
from .test_dashboard_components import ids_in, text_of, walk

DAY = 29_937_600  # 2026-12-03 00:00 UTC, in epoch minutes
ISO_MINUTES = ["2026-12-03T12:00:00Z", "2026-12-03T12:01:00Z", "2026-12-03T12:02:00Z"]
BREAKDOWN = {
    "metric": "status:denied", "by": "acquirer", "from": ISO_MINUTES[0], "to": ISO_MINUTES[-1], "minutes": 3,
    "observed": 95, "expected": 47.5, "slices_total": 5,
    "slices": [
        {"value": "acq-07", "slice": "acquirer=acq-07", "observed": 52, "expected": 17.3, "excess": 34.7,
         "share_of_excess": 0.81, "share_of_total": 0.547},
        {"value": "acq-02", "slice": "acquirer=acq-02", "observed": 20, "expected": 11.9, "excess": 8.1,
         "share_of_excess": 0.19, "share_of_total": 0.21},
        {"value": "acq-01", "slice": "acquirer=acq-01", "observed": 23, "expected": 25.0, "excess": -2.0,
         "share_of_excess": 0.0, "share_of_total": 0.242},
    ],
    "heatmap": {"minutes": ISO_MINUTES, "values": ["acq-07", "acq-02", "acq-01"],
                "counts": [[17, 18, 17], [7, 6, 7], [0, 11, 12]]},
}
DIMENSIONS = {"acquirer": ["acq-01", "acq-02", "acq-07"], "brand": ["visa", "mc"], "acquirer,brand": ["acq-07,visa"]}
METRICS = [{"label": "denied transactions", "value": "status:denied"}]


# ------------------------------------------------------------------ names

@pytest.mark.parametrize("key, label", [
    ("acquirer=acq-07", "acquirer acq-07"),
    ("acquirer=acq-07,brand=visa", "acquirer acq-07, brand visa"),
    ("merchant=other", "merchant other"),
])
def test_a_slice_key_reads_as_words(key, label):
    assert slice_label(key) == label


@pytest.mark.parametrize("by, value, key", [
    ("acquirer", "acq-07", "acquirer=acq-07"),
    ("acquirer,brand", "acq-07,visa", "acquirer=acq-07,brand=visa"),
    ("acquirer,brand", "acq-07", "acquirer,brand=acq-07"),  # not a pair's value: kept as given, never split wrongly
])
def test_a_value_of_a_dimension_or_pair_gives_its_slice_key(by, value, key):
    assert slice_key(by, value) == key


def test_a_pair_is_named_with_a_times_sign():
    assert dimension_label("acquirer,brand") == "acquirer × brand"
    assert dimension_label("brand") == "brand"


# ------------------------------------------------------------------ focus

@pytest.mark.parametrize("incident, metric", [
    ({"drivers": [{"metric": "auth_code:51"}], "metrics": ["status:denied"]}, "auth_code:51"),
    ({"drivers": [], "metrics": ["status:denied@acquirer=acq-07"]}, "status:denied"),
    ({"drivers": [], "metrics": ["rate:denied"]}, "status:denied"),
    ({"drivers": [], "metrics": ["feed:status", "status:failed"]}, "status:failed"),
    ({"drivers": [], "metrics": ["feed:status"]}, None),
    # The engine's contributions say which count they were measured on: that one first.
    ({"drivers": [{"metric": "auth_code:51"}], "metrics": ["status:denied"],
      "details": {"contributions": {"acquirer": [{"metric": "status:denied", "share_of_excess": 0.8}]}}}, "status:denied"),
])
def test_an_incidents_main_metric_is_a_count_metric_read_from_its_drivers_then_its_members(incident, metric):
    assert main_metric(incident) == metric


def test_without_an_incident_the_focus_is_the_picked_metric_over_the_last_hour():
    assert incident_focus(None, 29_000_000, "status:failed") == Focus("status:failed", DEFAULT_MINUTES)


def test_a_selected_incident_gives_its_metric_window_from_its_span_and_its_slice():
    incident = {"id": "inc-1", "title": "Denial spike at acquirer acq-07", "started_at": "2026-12-03T12:10:00Z",
                "metrics": ["status:denied@acquirer=acq-07"], "drivers": [],
                "details": {"span": {"from": "2026-12-03T12:05:00Z", "to": "2026-12-03T12:20:00Z", "minutes": 16},
                            "slice": "acquirer=acq-07"}}
    newest = DAY + 12 * 60 + 30  # 2026-12-03 12:30 UTC
    focus = incident_focus(incident, newest, "status:failed")
    assert focus == Focus("status:denied", 26, "inc-1", "acquirer=acq-07", "Denial spike at acquirer acq-07")


def test_an_incident_without_a_span_starts_at_its_start_and_an_old_one_reads_at_most_a_day():
    incident = {"id": "inc-2", "started_at": "2026-12-03T12:10:00Z", "metrics": ["status:failed"], "drivers": []}
    newest = DAY + 12 * 60 + 30
    assert incident_focus(incident, newest, "status:denied").minutes == 21
    assert incident_focus(incident, newest + 10 * 1440, "status:denied").minutes == MAX_INCIDENT_MINUTES
    assert incident_focus(incident, None, "status:denied").minutes == DEFAULT_MINUTES


# ------------------------------------------------------------------ bars

def test_bars_put_the_largest_share_on_top_with_share_observed_and_expected_as_text_and_hover():
    figure = contribution_figure(BREAKDOWN, "denied transactions")
    (bars,) = figure["data"]
    assert bars["type"] == "bar" and bars["orientation"] == "h"
    assert bars["y"] == ["acq-01", "acq-02", "acq-07"]  # Plotly draws the first at the bottom: acq-07 on top
    assert bars["x"] == [0.0, 19.0, 81.0]
    assert bars["text"][-1] == "81% · 52 vs 17.3 expected"
    assert "observed %{customdata[0]} · expected %{customdata[1]}" in bars["hovertemplate"]
    assert "of the extra denied transactions" in bars["hovertemplate"]
    assert bars["customdata"][-1] == ["52", "17.3", "acquirer=acq-07"]  # the slice a click filters the charts to
    colours = bars["marker"]["color"]
    assert colours[0] != colours[-1]  # no excess is told apart (and by its "0%" text, not by colour alone)
    assert figure["layout"]["xaxis"]["title"]["text"] == "share of the extra denied transactions (%)"


def test_bars_keep_only_the_top_n_and_say_when_there_is_nothing_yet():
    assert contribution_figure(BREAKDOWN, "denials", top=1)["data"][0]["y"] == ["acq-07"]
    empty = contribution_figure({**BREAKDOWN, "slices": []}, "denials")
    assert empty["data"] == [] and empty["layout"]["annotations"][0]["text"] == WAITING


def test_a_fall_is_a_share_of_the_shortfall():
    assert excess_word("status:approved") == "shortfall of" and excess_word("auth_code:00") == "shortfall of"
    assert excess_word("status:denied") == "extra"
    figure = contribution_figure(BREAKDOWN, "approvals", what="shortfall of")
    assert figure["layout"]["xaxis"]["title"]["text"] == "share of the shortfall of approvals (%)"
    assert "share of the shortfall of approvals" in text_of(contribution_table(BREAKDOWN, "approvals", what="shortfall of"))


def test_bar_text_rounds_like_the_page():
    assert bar_text({"share_of_excess": 0.6449, "observed": 1204, "expected": 980.25}) == "64% · 1,204 vs 980.2 expected"
    assert bar_text({"share_of_excess": None, "observed": 3, "expected": None}) == "– · 3 vs – expected"


# ------------------------------------------------------------------ heatmap

def test_the_heatmap_has_a_row_per_value_top_first_a_scale_from_an_honest_zero_and_a_legend():
    figure = heatmap_figure(BREAKDOWN, "denied transactions")
    rows = figure["data"]
    assert [r["name"] for r in rows] == ["acq-07", "acq-02", "acq-01"]
    assert [r["base"] for r in rows] == [2, 1, 0]  # acq-07 on top
    assert rows[2]["marker"]["color"] == [0, 11, 12] and rows[2]["customdata"] == [0, 11, 12]
    for row in rows:
        assert row["marker"]["cmin"] == 0 and row["marker"]["cmax"] == 18  # one scale for every row
        assert row["marker"]["colorscale"] == HEAT_SCALE
        assert row["x0"] == "2026-12-03 12:00:00" and row["dx"] == 60_000 and row["width"] == 60_000
    assert HEAT_SCALE[0] == [0.0, "#ffffff"]  # zero is no colour
    assert [r["marker"]["showscale"] for r in rows] == [True, False, False]  # one colour bar
    assert "denied transactions" in rows[0]["marker"]["colorbar"]["title"]["text"]
    y = figure["layout"]["yaxis"]
    assert y["ticktext"] == ["acq-07", "acq-02", "acq-01"] and y["tickvals"] == [2.5, 1.5, 0.5]
    assert figure["layout"]["xaxis"]["title"]["text"] == "minute (UTC)"
    assert "%{customdata} denied transactions" in rows[0]["hovertemplate"]


def test_the_heatmap_draws_at_most_the_top_rows_and_waits_without_data():
    assert len(heatmap_figure(BREAKDOWN, "denials", rows=2)["data"]) == 2
    assert heatmap_figure({**BREAKDOWN, "heatmap": {"minutes": [], "values": [], "counts": []}}, "x")["data"] == []
    mismatched = {"minutes": ISO_MINUTES, "values": ["acq-07", "acq-02"], "counts": [[1, 2, 3]]}
    assert heatmap_figure({**BREAKDOWN, "heatmap": mismatched}, "x")["data"] == []
    all_zero = {"minutes": ISO_MINUTES, "values": ["acq-07"], "counts": [[0, 0, 0]]}
    assert heatmap_figure({**BREAKDOWN, "heatmap": all_zero}, "x")["data"][0]["marker"]["cmax"] == 1


# ------------------------------------------------------------------ words and table

def test_the_table_lists_each_slice_with_its_share_observed_and_expected_and_how_many_are_left_out():
    table = contribution_table(BREAKDOWN, "denied transactions")
    assert table.id == ids.BREAKDOWN_TABLE
    rows = [c for c in walk(table) if getattr(c, "className", None) == "slice-row"]
    assert [getattr(r, "data-slice") for r in rows] == ["acquirer=acq-07", "acquirer=acq-02", "acquirer=acq-01"]
    assert text_of(rows[0]) == "acq-07 81% 52 17.3 55%"
    assert "Top 3 by excess of 5 values" in text_of(table)
    headers = [c for c in walk(table) if isinstance(c, html.Th) and getattr(c, "scope", None) == "col"]
    assert [h.children for h in headers][:2] == ["acquirer", "share of the extra denied transactions"]


def test_the_table_says_so_when_no_slice_has_counts():
    assert text_of(contribution_table({**BREAKDOWN, "slices": []}, "denials")) == WAITING


def test_the_heading_says_what_by_what_when_and_the_total_against_normal():
    assert breakdown_heading(BREAKDOWN, "denied transactions", Focus("status:denied", 60)) == (
        "Denied transactions by acquirer, the last hour (12:00–12:02 UTC): 95 denied transactions against 47.5 expected")
    about_incident = breakdown_heading({**BREAKDOWN, "by": "acquirer,brand"}, "denials",
                                       Focus("status:denied", 26, "inc-1", None, "Denial spike at acquirer acq-07"))
    assert about_incident.startswith("Denials by acquirer × brand, incident “Denial spike at acquirer acq-07”")


def test_the_heading_says_when_the_total_is_within_normal_so_the_shares_split_noise():
    quiet = {**BREAKDOWN, "observed": 321, "expected": 322.5}
    assert breakdown_heading(quiet, "denials", Focus("status:denied", 60)).endswith(
        "321 denials against 322.5 expected (within normal: the shares split noise)")
    # Approvals count by their shortfall: 40 under 120 expected is no longer noise.
    short = {**BREAKDOWN, "metric": "status:approved", "observed": 80, "expected": 120}
    assert "within normal" not in breakdown_heading(short, "approvals", Focus("status:approved", 60))
    assert "within normal" in breakdown_heading({**short, "observed": 130}, "approvals", Focus("status:approved", 60))


# ------------------------------------------------------------------ the panel's frame

def test_without_dimensions_the_panel_is_a_note_and_the_slice_bar_is_hidden():
    panel = breakdown_panel({}, METRICS, "status:denied")
    assert ids_in(panel) == [ids.BREAKDOWN_PANEL, ids.BREAKDOWN_NOTE]
    assert text_of(panel) == NO_DIMENSIONS
    assert slice_filter_bar({}).hidden is True


def test_with_dimensions_the_panel_has_labelled_controls_figures_and_a_focusable_table():
    panel = breakdown_panel(DIMENSIONS, METRICS, "status:denied")
    found = ids_in(panel)
    for wanted in (ids.BREAKDOWN_BY, ids.BREAKDOWN_METRIC, ids.BREAKDOWN_TOGGLE, ids.BREAKDOWN_BODY, ids.BREAKDOWN_HEADING,
                   ids.BREAKDOWN_BARS, ids.BREAKDOWN_HEATMAP, ids.BREAKDOWN_TABLE_BOX):
        assert wanted in found
    labelled = {c.htmlFor for c in walk(panel) if isinstance(c, html.Label)}
    assert {ids.BREAKDOWN_BY, ids.BREAKDOWN_METRIC} <= labelled
    by = next(c for c in walk(panel) if getattr(c, "id", None) == ids.BREAKDOWN_BY)
    assert [o["label"] for o in by.options] == ["acquirer", "brand", "acquirer × brand"] and by.value == "acquirer"
    toggle = next(c for c in walk(panel) if getattr(c, "id", None) == ids.BREAKDOWN_TOGGLE)
    assert getattr(toggle, "aria-expanded") == "true" and getattr(toggle, "aria-controls") == ids.BREAKDOWN_BODY
    detach = next(c for c in walk(panel) if getattr(c, "id", None) == ids.BREAKDOWN_DETACH)
    assert detach.hidden is True  # shown only while the panel follows an incident
    box = next(c for c in walk(panel) if getattr(c, "id", None) == ids.BREAKDOWN_TABLE_BOX)
    assert box.tabIndex == "0" and box.role == "region"
    captions = [c for c in walk(panel) if isinstance(c, html.Figcaption)]
    assert len(captions) == 2


def test_the_slice_bar_offers_single_dimensions_and_starts_on_all_traffic():
    bar = slice_filter_bar(DIMENSIONS)
    assert not bar.hidden
    dimension = next(c for c in walk(bar) if getattr(c, "id", None) == ids.SLICE_DIMENSION)
    assert [o["value"] for o in dimension.options] == ["acquirer", "brand"]  # a pair is filtered to by a bar click
    chip = next(c for c in walk(bar) if getattr(c, "id", None) == ids.SLICE_CHIP)
    clear = next(c for c in walk(bar) if getattr(c, "id", None) == ids.SLICE_CLEAR)
    assert chip.children == "all traffic" and clear.hidden is True
    assert {c.htmlFor for c in walk(bar) if isinstance(c, html.Label)} == {ids.SLICE_DIMENSION, ids.SLICE_VALUE}


def test_the_chip_names_the_slice_and_its_clear_button_says_what_it_clears():
    chip = slice_chip("acquirer=acq-07")
    assert chip.text == "filtered to acquirer acq-07" and not chip.clear_hidden
    assert chip.clear_label == "Clear the filter to acquirer acq-07"
    assert slice_chip(None).text == "all traffic" and slice_chip(None).clear_hidden


def test_value_options_start_with_every_value():
    # Not "": a select whose value is "" shows an empty box, not "every value".
    assert value_options(["acq-01"]) == [{"label": "every value", "value": EVERY_VALUE},
                                         {"label": "acq-01", "value": "acq-01"}]


# ------------------------------------------------------------------ the callbacks' helpers

def test_a_click_on_a_bar_carries_its_slice_key_and_anything_else_is_no_slice():
    click = {"points": [{"y": "acq-07", "customdata": ["52", "17.3", "acquirer=acq-07"]}]}
    assert clicked_slice(click) == "acquirer=acq-07"
    for bad in (None, {}, {"points": []}, {"points": [{"customdata": [1, 2, 3]}]}, {"points": ["x"]},
                {"points": [{"customdata": ["", "", "x" * 500]}]}):
        assert clicked_slice(bad) is None


def test_metric_options_name_each_status_and_code():
    options = metric_options(("approved", "denied"), ("51",))
    assert [o["value"] for o in options] == ["status:approved", "status:denied", "auth_code:51"]
    assert options[1]["label"] == "denials"


def snapshot(start: int, n: int, counts: dict[str, tuple[int, ...]]) -> Snapshot:
    return Snapshot(start, start + n - 1, MappingProxyType(counts), MappingProxyType({"status": (True,) * n}),
                    (), (), (), MappingProxyType({}), ("approved", "denied"), ())


def test_a_slices_counts_are_laid_on_the_snapshots_minutes_with_zero_where_it_has_none():
    snap = snapshot(100, 5, {"status:approved": (50,) * 5, "status:denied": (9,) * 5})
    found = {"start_minute": 102, "end_minute": 105,
             "counts": {"status:approved": (4, 5, 6, 7), "status:denied": (1, 0, 3, 8), "status:failed": (1, 1, 1, 1)}}
    assert aligned_counts(found, snap) == {"status:approved": (0, 0, 4, 5, 6), "status:denied": (0, 0, 1, 0, 3)}
    sliced = sliced_snapshot(snap, found)
    assert sliced.counts["status:denied"] == (0, 0, 1, 0, 3) and sliced.start_minute == 100
    # Before the slice's read starts (the engine keeps slices for its window) is no data, a gap: not a 0.
    assert sliced.received["status"] == (False, False, True, True, True)
    assert sliced_snapshot(snap, {**found, "start_minute": 100}).received == snap.received
    nothing = {"start_minute": None, "end_minute": None, "counts": {}}
    assert aligned_counts(nothing, snap)["status:denied"] == (0,) * 5
    assert sliced_snapshot(snap, nothing).received["status"] == (False,) * 5


def test_a_filtered_chart_shades_only_the_slices_alerts_on_their_base_metric_and_draws_no_global_line():
    def alert(id_: str, metric: str) -> Alert:
        return Alert(id_, "rule", "poisson_tail", metric, "warning", "firing", 100)
    alerts = [alert("a1", "status:denied@acquirer=acq-07"), alert("a2", "status:denied"),
              alert("a3", "status:denied@acquirer=acq-01"), alert("a4", "auth_code:51@acquirer=acq-07,brand=visa")]
    shown = slice_alerts(alerts, "acquirer=acq-07")
    assert [(a.id, a.metric) for a in shown] == [("a1", "status:denied")]
    assert alerts[0].metric == "status:denied@acquirer=acq-07"  # the snapshot's alert is left as it was
    assert NoLines().lines("status:denied", range(3)) == (None, None, None)


# ------------------------------------------------------------------ through Dash's HTTP endpoint, on the real engine

@pytest.fixture(scope="module")
def labelled():
    """Ninety labelled minutes posted through the REST API (tests/slice_support.py); the app is only read."""
    return labelled_app(60_000)


def answer(app, body: dict) -> tuple[int, dict | None]:
    response = app.server.test_client().post("/_dash-update-component", json=body)
    return response.status_code, (response.get_json() or {}).get("response") if response.status_code == 200 else None


def test_a_refresh_filtered_to_a_slice_draws_its_posted_counts_without_global_lines(labelled):
    feed = labelled.server.extensions["labelled_feed"]
    _, found = answer(labelled, refresh_request(labelled, "6h", slice_filter="acquirer=acq-07"))
    figure = found[ids.STATUS_CHART]["figure"]
    traces = {t["name"]: t for t in figure["data"] if "y" in t and t.get("name")}
    assert list(traces["denied"]["y"])[-MINUTES:] == feed.posted["acq-07"]["denied"]
    assert list(traces["approved"]["y"])[-MINUTES:] == feed.posted["acq-07"]["approved"]
    assert not [t for t in figure["data"] if t.get("legendgroup") in ("bound", "baseline")]  # no global lines
    assert "acquirer acq-07 only" in [a["text"].removeprefix("<b>").removesuffix("</b>")
                                      for a in figure["layout"]["annotations"]]
    auth = {t["name"]: t for t in found[ids.AUTH_CHART]["figure"]["data"] if "y" in t and t.get("name")}
    assert list(auth["51 insufficient funds"]["y"])[-MINUTES:] == feed.posted["acq-07"]["denied"]
    # The cards stay the whole traffic's: the denied card's open minute is all acquirers' denials.
    unfiltered = answer(labelled, refresh_request(labelled, "6h"))[1]
    everyone = {t["name"]: t for t in unfiltered[ids.STATUS_CHART]["figure"]["data"] if "y" in t and t.get("name")}
    assert list(everyone["denied"]["y"])[-MINUTES:] == feed.total("denied")
    assert found[ids.STATUS_CARDS] == unfiltered[ids.STATUS_CARDS]


def test_a_forged_slice_filter_is_said_on_the_charts_and_nothing_else_changes(labelled):
    _, found = answer(labelled, refresh_request(labelled, "6h", slice_filter="planet=mars"))
    message = found[ids.STATUS_CHART]["figure"]["layout"]["annotations"][0]["text"]
    assert message.startswith("slice: 'planet=mars' is not of a configured dimension")
    assert ids.STATUS_CARDS in found  # the rest of the page is drawn as usual


def test_the_breakdown_callback_answers_the_engines_figures_and_a_forged_dimension_in_words(labelled):
    values = {f"{ids.BREAKDOWN_BY}.value": "acquirer", f"{ids.BREAKDOWN_METRIC}.value": "status:denied",
              f"{ids.BREAKDOWN_SHOWN}.data": True, f"{ids.REFRESH}.n_intervals": 1}
    status, found = answer(labelled, callback_request(labelled, f"{ids.BREAKDOWN_BARS}.figure", values,
                                                       f"{ids.BREAKDOWN_BY}.value"))
    assert status == 200
    assert found[ids.BREAKDOWN_HEADING]["children"].startswith("Denials by acquirer, the last hour")
    assert found[ids.BREAKDOWN_BARS]["figure"]["data"][0]["y"][-1] == "acq-07"
    digests = found[ids.BREAKDOWN_DIGESTS]["data"]
    # The next tick with nothing new sends nothing (an empty answer), and neither does a hidden panel.
    again = {**values, f"{ids.BREAKDOWN_DIGESTS}.data": digests}
    assert answer(labelled, callback_request(labelled, f"{ids.BREAKDOWN_BARS}.figure", again,
                                             f"{ids.REFRESH}.n_intervals"))[0] == 204
    hidden = {**values, f"{ids.BREAKDOWN_SHOWN}.data": False}
    assert answer(labelled, callback_request(labelled, f"{ids.BREAKDOWN_BARS}.figure", hidden,
                                             f"{ids.BREAKDOWN_SHOWN}.data"))[0] == 204
    forged = {**values, f"{ids.BREAKDOWN_BY}.value": "planet"}
    status, found = answer(labelled, callback_request(labelled, f"{ids.BREAKDOWN_BARS}.figure", forged,
                                                       f"{ids.BREAKDOWN_BY}.value"))
    assert status == 200
    assert found[ids.BREAKDOWN_HEADING]["children"].startswith("by: unknown dimension 'planet'; configured: acquirer")


def test_the_slice_selectors_list_known_values_and_a_bar_click_sets_the_filter_and_both_selects(labelled):
    click = {"points": [{"y": "acq-07", "customdata": ["52", "17.3", "acquirer=acq-07"]}]}
    values = {f"{ids.SLICE_DIMENSION}.value": "brand", f"{ids.SLICE_VALUE}.value": EVERY_VALUE,
              f"{ids.BREAKDOWN_BARS}.clickData": click, f"{ids.SLICE_FILTER}.data": None}
    _, found = answer(labelled, callback_request(labelled, f"{ids.SLICE_FILTER}.data", values,
                                                 f"{ids.BREAKDOWN_BARS}.clickData"))
    assert found[ids.SLICE_FILTER]["data"] == "acquirer=acq-07"
    assert found[ids.SLICE_CHIP]["children"] == "filtered to acquirer acq-07"
    assert found[ids.SLICE_CLEAR]["hidden"] is False
    assert found[ids.SLICE_DIMENSION]["value"] == "acquirer" and found[ids.SLICE_VALUE]["value"] == "acq-07"
    assert [o["value"] for o in found[ids.SLICE_VALUE]["options"]] == [EVERY_VALUE, *(f"acq-0{i}" for i in range(1, 9))]
    cleared = {**values, f"{ids.SLICE_FILTER}.data": "acquirer=acq-07", f"{ids.SLICE_DIMENSION}.value": "acquirer",
               f"{ids.SLICE_VALUE}.value": "acq-07", f"{ids.SLICE_CLEAR}.n_clicks": 1}
    _, found = answer(labelled, callback_request(labelled, f"{ids.SLICE_FILTER}.data", cleared, f"{ids.SLICE_CLEAR}.n_clicks"))
    assert found[ids.SLICE_FILTER]["data"] is None and found[ids.SLICE_CHIP]["children"] == "all traffic"
    assert found[ids.SLICE_VALUE]["value"] == EVERY_VALUE and found[ids.SLICE_CLEAR]["hidden"] is True


def test_the_reader_focuses_on_a_stored_incident_and_on_the_picked_metric_for_an_unknown_or_forged_id(labelled):
    monitor = labelled.server.extensions["monitor"]
    reader = BreakdownReader(monitor)
    incident = monitor.incidents("open")[0]
    focus = reader.focus(incident.id, "status:failed")
    assert focus.incident == incident.id and focus.title == incident.title
    assert focus.metric == main_metric(incident.to_dict()) and focus.metric != "status:failed"
    assert focus.minutes == END - minute_of(incident.details["span"]["from"]) + 1
    for other in ("i-not-stored", "i" * 65, None, 7):
        assert reader.focus(other, "status:failed") == Focus("status:failed", DEFAULT_MINUTES)
