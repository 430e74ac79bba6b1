"""Every component function of the dashboard, without a browser: ids present, types, and what each shows."""

from __future__ import annotations

import dash_bootstrap_components as dbc
import plotly.io
import pytest
from dash import dcc, html
from dash.development.base_component import Component

from components import ids
from components.alerts import alert_item, alerts_panel, duration_text, format_value, order_alerts, short_time, utc_time
from components.cards import CardFigures, change_text, signed, status_card, status_cards, value_text
from components.charts import (
    RANGES,
    Episode,
    Line,
    Panel,
    TimeAxis,
    chart,
    empty_figure,
    panel_domains,
    range_selector,
    timeseries_figure,
)
from components.page import PageSpec, banner, page_layout, panel
from components.panels import (
    ScenarioButton,
    api_endpoints,
    api_panel,
    health_badge,
    newest_event_text,
    simulate_panel,
)
from components.tables import MinuteRow, recent_transactions_table, rules_table
from components.vendor import BOOTSTRAP_URL, bootstrap_css_dir

STATUSES = ("approved", "denied", "failed", "reversed", "backend_reversed", "refunded")
CODES = ("00", "51", "59")


def walk(component):
    """Every component in a layout tree, depth first."""
    if isinstance(component, Component):
        yield component
        children = getattr(component, "children", None)
        if isinstance(children, (list, tuple)):
            for child in children:
                yield from walk(child)
        else:
            yield from walk(children)
    elif isinstance(component, (list, tuple)):
        for child in component:
            yield from walk(child)


def ids_in(component) -> list:
    return [c.id for c in walk(component) if getattr(c, "id", None) is not None]


def text_of(component) -> str:
    parts = []
    for c in walk(component):
        children = getattr(c, "children", None)
        if isinstance(children, (str, int, float)):
            parts.append(str(children))
        elif isinstance(children, (list, tuple)):
            parts += [str(x) for x in children if isinstance(x, (str, int, float))]
    return " ".join(parts)


def alert(id_: str, state: str, started: str, metric: str = "status:failed", **extra) -> dict:
    base = {"id": id_, "state": state, "started_at": started, "metric": metric, "metric_label": metric.split(":")[1],
            "severity": "critical", "value": 4, "threshold": 0, "expected": None, "duration_minutes": 3,
            "message": f"{metric} at 4/min, above 0/min"}
    base.update(extra)
    return base


# ------------------------------------------------------------------ cards

def card(state: str = "normal", **changes) -> CardFigures:
    fields = {"status": "failed", "value": 4, "window": None, "open_count": 2, "rate": 0.016, "baseline": 0.05,
              "baseline_name": "1 h avg", "state": state}
    fields.update(changes)
    return CardFigures(**fields)


@pytest.mark.parametrize("state, colour, pill", [
    ("firing", "card-firing", "firing"), ("pending", "card-pending", "pending"), ("normal", "card-normal", "normal"),
    ("silenced", "card-silenced", "silenced"), ("stale", "card-stale", "no data"),
    ("outage", "card-outage", "feed outage"), ("bogus", "card-normal", "normal"),
])
def test_status_card_has_its_id_number_and_state_colour(state, colour, pill):
    made = status_card(card(state))
    assert isinstance(made, dbc.Card)
    assert made.id == ids.status_card("failed")
    assert colour in made.className
    assert ids.status_card_count("failed") in ids_in(made)
    pills = [c.children for c in walk(made) if "card-state-pill" in (getattr(c, "className", "") or "")]
    assert pills == [pill]
    text = text_of(made)
    assert "4 last closed min" in text and "open minute: 2 so far" in text and "1.6% of total" in text


def test_a_card_shows_the_value_its_alert_judges_over_the_alert_window_against_the_alert_expectation():
    text = text_of(status_card(card("firing", value=4.8, window=5, baseline=0.6, baseline_name="expected")))
    assert "4.80 /min over 5 min" in text
    assert "▲ +4.2 vs expected 0.6" in text
    assert "last closed min" not in text


def test_a_share_alert_shows_a_percent_and_its_change_in_points():
    text = text_of(status_card(card("firing", value=0.062, window=5, baseline=0.012, baseline_name="expected",
                                    share=True)))
    assert "6.2% over 5 min" in text
    assert "▲ +5.0 pts vs expected 1.2%" in text


@pytest.mark.parametrize("state, shown", [("stale", True), ("outage", True), ("normal", False), ("firing", False)])
def test_no_data_since_shows_on_stale_and_outage_cards_only(state, shown):
    text = text_of(status_card(card(state, since="13:45 UTC")))
    assert ("no data since 13:45 UTC" in text) is shown


def test_a_card_before_any_closed_or_open_minute_shows_dashes():
    text = text_of(status_card(card(value=None, open_count=None, rate=None, baseline=None)))
    assert "– last closed min" in text and "open minute: –" in text and "no 1 h avg yet" in text


def test_status_cards_lay_out_one_column_per_status():
    row = status_cards([CardFigures(s, i, None, i, None, None, "1 h avg") for i, s in enumerate(STATUSES)])
    assert isinstance(row, dbc.Row)
    assert [ids.status_card(s) for s in STATUSES] == [i for i in ids_in(row) if str(i).startswith("card-") and "count" not in str(i)]
    assert "–" in text_of(row)  # no rate known yet


@pytest.mark.parametrize("value, baseline, expected", [
    (150, 100.0, "▲ +50% vs baseline 100"),
    (50, 100.0, "▼ -50% vs baseline 100"),
    (100, 100.0, "● 0% vs baseline 100"),  # no "+0%"
    (100.4, 100.0, "● 0% vs baseline 100"),
    (99.6, 100.0, "● 0% vs baseline 100"),  # no "-0%"
    (5, 0.05, "▲ +5.0 vs baseline 0.05"),  # sparse: a difference, not +9900 %
    (0, 0.05, "● -0.1 vs baseline 0.05"),
    (0, 0.01, "● 0.0 vs baseline 0.01"),  # issue 10's "-0.0 vs baseline 0.01"
    (0, 0.0095, "● 0.0 vs baseline 0.0095"),
    (0, 0.0, "● 0.0 vs baseline 0"),
    (3, None, "no baseline yet"),
    (None, 2.0, "baseline 2"),
])
def test_change_text_uses_percent_or_difference_and_never_a_signed_zero(value, baseline, expected):
    assert change_text(value, baseline, "baseline") == expected


@pytest.mark.parametrize("value, digits, suffix, text", [
    (0.0, 1, "", "0.0"), (-0.0, 1, "", "0.0"), (-0.04, 1, "", "0.0"), (0.04, 1, "", "0.0"), (-0.4, 0, "%", "0%"),
    (0.4, 0, "%", "0%"), (-0.05, 1, "", "-0.1"), (2.26, 1, " pts", "+2.3 pts"), (-7.0, 0, "%", "-7%"),
])
def test_signed_keeps_the_sign_of_what_does_not_round_to_zero(value, digits, suffix, text):
    assert signed(value, digits, suffix) == text


@pytest.mark.parametrize("value, share, text", [
    (None, False, "–"), (4, False, "4"), (4.8, False, "4.80"), (12.34, False, "12.3"), (-0.001, False, "0.00"),
    (0.0484, True, "4.8%"), (-0.0001, True, "0.0%"), (0.0, True, "0.0%"),
])
def test_value_text(value, share, text):
    assert value_text(value, share) == text


# ------------------------------------------------------------------ charts

def make_axis(minutes: int = 60) -> TimeAxis:
    return TimeAxis(29_000_000, minutes, "2025-02-19 21:20:00")


def test_timeseries_figure_stacks_panels_with_shared_time_axis_and_bands():
    axis = make_axis(60)
    panels = [
        Panel("status:approved", "approved", (Line("approved", [100] * 60, "#198754"),), lower=[75.0] * 60),
        Panel("status:failed", "failed", (Line("failed", [0] * 59 + [None], "#dc3545"),), upper=[0.0] * 60,
              lower=[None] * 60, expected=[float(i % 3) for i in range(60)]),
    ]
    figure = timeseries_figure(axis, panels, [], 400, "6h")
    assert set(figure) == {"data", "layout"}
    layout = figure["layout"]
    assert layout["yaxis"]["domain"][1] == 1.0 and layout["yaxis2"]["domain"][0] == 0.0
    assert layout["xaxis2"]["matches"] == "x" and layout["xaxis"]["range"][0] == axis.start_iso
    series = [t for t in figure["data"] if "x0" in t and t["name"] in ("approved", "failed")]
    assert all(t["dx"] == 60_000 and len(t["y"]) == 60 for t in series)  # no x array: one number per minute
    assert series[1]["y"][-1] is None  # a minute with no data is a gap
    bounds = [t for t in figure["data"] if t["name"].endswith("bound")]  # the legend entry is apart
    assert [len(t["x"]) for t in bounds] == [2, 2]  # constant bounds are sent as two points
    baseline = [t for t in figure["data"] if t["name"] == "failed baseline"]
    assert len(baseline[0]["y"]) == 60  # a varying baseline is sent per minute
    assert layout["yaxis2"]["range"][1] >= 3  # a sparse series is never flattened at zero
    plotly.io.from_json(plotly.io.to_json(figure))  # a valid Plotly figure, encoded as Dash encodes it (arrays too)


def test_episodes_are_shaded_on_their_panel_and_feed_gaps_on_all():
    axis = make_axis(60)
    panels = [Panel("status:approved", "approved", (Line("approved", [1] * 60, "#000"),)),
              Panel("status:failed", "failed", (Line("failed", [1] * 60, "#000"),))]
    episodes = [Episode("status:failed", 29_000_010, 29_000_020, "firing"),
                Episode(None, 29_000_030, 29_000_033, "resolved"),
                Episode("status:unknown", 29_000_001, 29_000_002, "firing"),
                Episode("status:approved", 28_999_000, 29_000_005, "resolved")]
    shapes = timeseries_figure(axis, panels, episodes, 300, "1h")["layout"]["shapes"]
    assert len(shapes) == 3
    assert shapes[0]["yref"] == "y2 domain" and "220, 53, 69, 0.2" in shapes[0]["fillcolor"]
    assert shapes[1]["yref"] == "paper"
    assert shapes[2]["x0"] == axis.start_iso  # clipped to the visible span


def test_panel_domains_fill_the_height_top_down():
    domains = panel_domains([2, 1, 1])
    assert domains[0][1] == 1.0 and domains[-1][0] == pytest.approx(0.0, abs=1e-9)
    assert domains[0][1] - domains[0][0] == pytest.approx(2 * (domains[1][1] - domains[1][0]))


def test_empty_figure_says_why():
    figure = empty_figure("waiting for data", 300)
    assert figure["data"] == [] and figure["layout"]["annotations"][0]["text"] == "waiting for data"


def test_range_selector_offers_1h_6h_24h_3d():
    selector = range_selector("24h")
    radio = next(c for c in walk(selector) if getattr(c, "id", None) == ids.RANGE)
    assert isinstance(radio, dbc.RadioItems) and radio.value == "24h"
    assert [o["value"] for o in radio.options] == ["1h", "6h", "24h", "3d"]
    assert RANGES == {"1h": 60, "6h": 360, "24h": 1440, "3d": 4320}


def test_chart_is_a_graph_without_plotly_logo():
    graph = chart(ids.STATUS_CHART, 300)
    assert isinstance(graph, dcc.Graph) and graph.id == ids.STATUS_CHART
    assert graph.config["displaylogo"] is False


# ------------------------------------------------------------------ alerts

def test_order_alerts_firing_then_pending_then_resolved_newest_first():
    open_alerts = [alert("p1", "pending", "2025-07-12T10:05:00Z"), alert("f1", "firing", "2025-07-12T10:00:00Z")]
    recent = [alert("r1", "resolved", "2025-07-12T09:00:00Z"), alert("r2", "resolved", "2025-07-12T09:30:00Z"),
              alert("f1", "firing", "2025-07-12T10:00:00Z")]
    assert [a["id"] for a in order_alerts(open_alerts, recent)] == ["f1", "p1", "r2", "r1"]
    assert len(order_alerts(open_alerts, recent, limit=2)) == 2


def test_alerts_panel_shows_each_field_and_marks_silenced():
    shown = [alert("f1", "firing", "2025-07-12T10:00:00Z", silenced=True),
             alert("f2", "firing", "2025-07-12T10:01:00Z", metric="status:denied"),
             alert("p1", "pending", "2025-07-12T10:02:00Z", silenced=True),
             alert("r1", "resolved", "2025-07-12T09:00:00Z", metric="rate:denied", value=0.31, threshold=0.2,
                   expected=0.05, duration_minutes=180)]
    panel = alerts_panel(shown)
    assert {"alert-f1", "alert-r1"} <= set(ids_in(panel))
    text = text_of(panel)
    # The silenced firing and pending alerts are counted as silenced, not as firing or pending.
    for piece in ("1 firing", "0 pending", "2 silenced", "critical", "failed", "started 2025-07-12 10:00 UTC", "3 min so far",
                  "4/min vs threshold 0/min", "31.0% vs threshold 20.0%, normal 5.0%", "3.0 h"):
        assert piece in text, piece
    item = next(c for c in walk(panel) if getattr(c, "id", None) == "alert-f1")
    assert "alert-firing" in item.className and "alert-silenced" in item.className


def test_alert_item_is_one_div_per_alert():
    item = alert_item(alert("p9", "pending", "2025-07-12T10:00:00Z", metric="feed:status", value=6.5, threshold=5))
    assert isinstance(item, html.Div) and item.id == "alert-p9" and "alert-pending" in item.className
    assert "6.5 min vs threshold 5 min" in text_of(item) and "silenced" not in text_of(item)


def test_banner_and_panel():
    top = banner(PageSpec(title="Ops desk", refresh_ms=5000, mode="REPLAY"))
    assert isinstance(top, dbc.Navbar) and "Ops desk" in text_of(top) and "REPLAY" in text_of(top)
    assert {ids.HEALTH_BADGE, ids.NEWEST_EVENT, ids.LAST_REFRESH, ids.DEMO_BADGE} <= set(ids_in(top))
    card = panel("Alerts", html.Div(id="inside"), extra=html.Span("x"))
    assert isinstance(card, dbc.Card) and "inside" in ids_in(card) and "Alerts" in text_of(card)


def test_an_alert_shows_its_plain_message_with_the_statistics_on_hover():
    item = alert_item(alert("f2", "firing", "2025-07-12T10:00:00Z",
                            message="Failed transactions: 7 in 5 min, about 0.5 expected",
                            detail="7 in a 5-min window against 0.5 expected; fires at 6 or more"))
    (message,) = [c for c in walk(item) if getattr(c, "className", None) == "alert-message"]
    assert message.children == "Failed transactions: 7 in 5 min, about 0.5 expected"
    assert message.title == "7 in a 5-min window against 0.5 expected; fires at 6 or more"


def test_alerts_panel_when_calm():
    assert "No alerts" in text_of(alerts_panel([]))


@pytest.mark.parametrize("metric, value, text", [("status:failed", 4, "4/min"), ("rate:denied", 0.125, "12.5%"),
                                                 ("status:denied", 21.4123, "21.4/min"), ("status:denied", 5.3531, "5.35/min"),
                                                 ("feed:status", 6.5, "6.5 min"), ("status:x", None, "–")])
def test_format_value(metric, value, text):
    assert format_value(metric, value) == text


def test_short_time_and_duration():
    assert short_time("2025-07-12T13:45:00Z") == "2025-07-12 13:45" and short_time(None) == "–"
    assert utc_time("2025-07-12T13:45:00Z") == "2025-07-12 13:45 UTC" and utc_time(None) == "–"
    assert duration_text({"duration_minutes": None}) == "–"
    assert duration_text({"duration_minutes": 5, "state": "resolved"}) == "5 min"


# ------------------------------------------------------------------ tables and panels

def test_recent_transactions_table_marks_open_and_missing_minutes():
    rows = [MinuteRow("2025-07-12T13:46:00Z", {"approved": 110, "denied": 5}, {"00": 110, "51": 2, "59": 3}, open=True),
            MinuteRow("2025-07-12T13:45:00Z", None, None)]
    table = recent_transactions_table(STATUSES, CODES, rows)
    assert isinstance(table, dbc.Table)
    text = text_of(table)
    assert "open" in text and "no data received" in text and "115" in text and "13:46" in text
    assert "No transactions" in text_of(recent_transactions_table(STATUSES, CODES, []))


def test_rules_table_lists_every_rule_and_the_thresholds_origin():
    rules = [{"id": "failed_high", "metric": "status:failed", "metric_label": "failed", "condition": "above 0/min",
              "for": 3, "resolve": 10, "severity": "critical"}]
    table = rules_table(rules, "thresholds.json", {"method": "poisson tail"}, 5, "critical")
    assert "rule-failed_high" in ids_in(table)
    text = text_of(table)
    assert "above 0/min" in text and "3 min" in text and "thresholds.json" in text and "poisson tail" in text
    assert "nothing received for 5 min" in text


@pytest.mark.parametrize("feeds, text, css", [
    ({}, "waiting for data", "badge-idle"),
    ({"status": {"newest_event_time": "2025-07-12T13:45:00Z", "no_data": False}}, "feed live", "badge-live"),
    ({"status": {"newest_event_time": "2025-07-12T13:45:00Z", "no_data": False},
      "auth_code": {"newest_event_time": "2025-07-12T13:40:00Z", "no_data": True}}, "feed silent: auth code", "badge-silent"),
])
def test_health_badge(feeds, text, css):
    badge = health_badge(feeds)
    assert isinstance(badge, html.Span) and badge.id == ids.HEALTH_BADGE
    assert badge.children == text and css in badge.className


def test_newest_event_text():
    assert newest_event_text({}) == "no events yet"
    feeds = {"status": {"newest_event_time": "2025-07-12T13:45:00Z", "silent_seconds": 4.2},
             "auth_code": {"newest_event_time": "2025-07-12T13:44:00Z", "silent_seconds": 9.0}}
    assert newest_event_text(feeds) == "newest event 2025-07-12 13:45 UTC · last post 4 s ago"


def test_simulate_panel_has_one_button_per_scenario():
    panel = simulate_panel([ScenarioButton("processing_failure", "Processing failure", "hint", "outline-danger"),
                            ScenarioButton("normal", "Normal minute", "hint", "success")])
    found = ids_in(panel)
    assert ids.simulate_button("processing_failure") in found and ids.simulate_button("normal") in found
    assert ids.SIMULATE_RESULT in found
    buttons = [c for c in walk(panel) if isinstance(c, dbc.Button)]
    assert [b.outline for b in buttons] == [True, False] and buttons[0].color == "danger"


def test_simulate_panel_is_disabled_when_simulation_is_off():
    panel = simulate_panel([ScenarioButton("normal", "Normal minute", "hint")], enabled=False)
    assert all(b.disabled for b in walk(panel) if isinstance(b, dbc.Button))
    assert "Simulation is off" in text_of(panel)


def test_api_endpoints_have_a_curl_example_each():
    endpoints = api_endpoints("http://127.0.0.1:8080", token_required=True)
    paths = {e.path for e in endpoints}
    assert {"/api/transaction", "/api/auth_code", "/api/transactions", "/api/auth_codes", "/api/stats", "/api/alerts",
            "/api/health", "/api/openapi.json"} == paths
    for e in endpoints:
        assert e.curl.startswith("curl ") and f"http://127.0.0.1:8080{e.path}" in e.curl
    posts = [e for e in endpoints if e.method == "POST"]
    assert all("Authorization: Bearer" in e.curl and "Content-Type: application/json" in e.curl for e in posts)
    assert all("Authorization" not in e.curl for e in api_endpoints("http://h:1", token_required=False))
    table = api_panel(endpoints)
    assert table.id == ids.API_PANEL and "/api/alerts" in text_of(table)


def test_page_layout_holds_every_id_the_callbacks_use():
    spec = PageSpec(title="Ops", refresh_ms=1234, scenarios=[ScenarioButton("normal", "Normal minute", "h")],
                    endpoints=api_endpoints("http://x:1", False), mode="DEMO")
    layout = page_layout(spec)
    found = set(map(str, ids_in(layout)))
    for wanted in (ids.REFRESH, ids.SIMULATED, ids.CHART_SIGNATURE, ids.HEALTH_BADGE, ids.NEWEST_EVENT, ids.LAST_REFRESH,
                   ids.DEMO_BADGE, ids.STATUS_CARDS, ids.RANGE, ids.STATUS_CHART, ids.AUTH_CHART, ids.ALERTS_PANEL,
                   ids.RECENT_TABLE, ids.RULES_TABLE, ids.API_PANEL, ids.SIMULATE_RESULT):
        assert wanted in found, wanted
    interval = next(c for c in walk(layout) if getattr(c, "id", None) == ids.REFRESH)
    assert isinstance(interval, dcc.Interval) and interval.interval == 1234
    assert ids.DEMO_BADGE not in map(str, ids_in(page_layout(PageSpec(title="Ops", refresh_ms=5000))))


def test_bootstrap_css_comes_from_an_installed_package():
    assert (bootstrap_css_dir() / "bootstrap.min.css").stat().st_size > 100_000
    assert BOOTSTRAP_URL.startswith("/")  # served by us, never a CDN
