"""What the time-series figures say about rules: colours apart from the alert red, units, legend, hover, bounds."""

from __future__ import annotations

import re

import pytest

from callbacks.view import CODE_COLOURS, FALLBACK_COLOURS, STATUS_COLOURS
from components.charts import ALERT_RED, BOUND_NAME, EPISODE_FILL, Episode, Line, Panel, TimeAxis, timeseries_figure


def rgb(colour: str) -> tuple[int, int, int]:
    """'#rrggbb' or 'rgba(r, g, b, a)' as an (r, g, b) tuple."""
    if colour.startswith("#"):
        return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)
    r, g, b = re.findall(r"\d+", colour)[:3]
    return int(r), int(g), int(b)


def contrast_on_white(colour: str) -> float:
    """WCAG 2 contrast ratio of a colour against #ffffff."""
    def channel(c: int) -> float:
        c = c / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = (channel(c) for c in rgb(colour))
    luminance = 0.2126 * r + 0.7152 * g + 0.0722 * b
    return 1.05 / (luminance + 0.05)


def make_axis(minutes: int = 60) -> TimeAxis:
    return TimeAxis(29_000_000, minutes, "2025-02-19 21:20:00")


SERIES_COLOURS = {**{f"status {k}": v for k, v in STATUS_COLOURS.items()},
                  **{f"code {k}": v for k, v in CODE_COLOURS.items()},
                  **{f"fallback {i}": v for i, v in enumerate(FALLBACK_COLOURS)}}


@pytest.mark.parametrize("name", sorted(SERIES_COLOURS))
def test_no_series_is_drawn_in_the_alert_red(name):
    colour = rgb(SERIES_COLOURS[name])
    assert colour != rgb(ALERT_RED)
    assert colour != rgb(EPISODE_FILL["firing"]) and colour != rgb(EPISODE_FILL["resolved"])


@pytest.mark.parametrize("name", sorted(SERIES_COLOURS))
def test_every_series_colour_is_readable_on_white(name):
    """WCAG 1.4.11: a graphic needed to understand the chart (a series line) has at least 3:1 against its background."""
    assert contrast_on_white(SERIES_COLOURS[name]) >= 3.0


def lab(colour: str) -> tuple[float, float, float]:
    """CIE L*a*b* (D65) of an sRGB colour, for how far apart two colours look."""
    def linear(c: int) -> float:
        c = c / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = (linear(c) for c in rgb(colour))
    x = (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047
    y = 0.2126 * r + 0.7152 * g + 0.0722 * b
    z = (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883

    def f(t: float) -> float:
        return t ** (1 / 3) if t > 0.008856 else 7.787 * t + 16 / 116
    return 116 * f(y) - 16, 500 * (f(x) - f(y)), 200 * (f(y) - f(z))


def apart(a: str, b: str) -> float:
    return sum((p - q) ** 2 for p, q in zip(lab(a), lab(b), strict=True)) ** 0.5


@pytest.mark.parametrize("palette", [STATUS_COLOURS, CODE_COLOURS], ids=["statuses", "codes"])
def test_series_drawn_together_have_colours_far_apart(palette):
    """The series of one chart are told apart by colour: every pair at least 25 apart in CIE L*a*b* (ΔE76; 2.3 is a just-noticeable difference)."""
    pairs = [(a, b) for a in palette for b in palette if a < b]
    assert all(apart(palette[a], palette[b]) >= 25 for a, b in pairs), \
        {f"{a}/{b}": round(apart(palette[a], palette[b])) for a, b in pairs}
    assert all(apart(colour, ALERT_RED) >= 25 for colour in palette.values())


def test_denied_and_its_code_51_share_a_colour_apart_from_failed():
    assert STATUS_COLOURS["denied"] == CODE_COLOURS["51"]
    assert STATUS_COLOURS["failed"] not in {v for k, v in STATUS_COLOURS.items() if k != "failed"}


def test_contrast_helper_matches_known_ratios():
    # The helper itself is checked against WCAG's extremes so the 3:1 test above means something.
    assert contrast_on_white("#000000") == pytest.approx(21.0)
    assert contrast_on_white("#ffffff") == pytest.approx(1.0)


def test_series_traces_in_a_figure_never_take_the_bound_colour():
    axis = make_axis(60)
    panels = [Panel("status:failed", "failed", (Line("failed", [1] * 60, STATUS_COLOURS["failed"]),),
                    upper=[5.0] * 60, lower=[1.0] * 60, expected=[2.0] * 60)]
    figure = timeseries_figure(axis, panels, [Episode("status:failed", 29_000_010, 29_000_020, "firing")], 300, "1h")
    bounds = [t for t in figure["data"] if t["name"].endswith("bound")]
    series = [t for t in figure["data"] if t["name"] == "failed"]
    assert bounds and series
    assert {t["line"]["color"] for t in bounds} == {ALERT_RED}
    assert rgb(series[0]["line"]["color"]) != rgb(ALERT_RED)


def test_axes_carry_units():
    axis = make_axis(60)
    panels = [Panel("status:approved", "approved", (Line("approved", [100] * 60, "#198754"),)),
              Panel("status:failed", "failed", (Line("failed", [1] * 60, STATUS_COLOURS["failed"]),))]
    layout = timeseries_figure(axis, panels, [], 300, "1h")["layout"]
    assert layout["xaxis2"]["title"]["text"] == "time (UTC)"  # on the one time axis that shows its ticks
    assert "title" not in layout["xaxis"]
    units = [a for a in layout["annotations"] if a["text"] == "transactions per minute"]
    assert len(units) == 1 and units[0]["textangle"] == -90


def legend_names(figure: dict) -> list[str]:
    return [t["name"] for t in figure["data"] if t.get("showlegend")]


def test_legend_names_bound_baseline_and_shading_when_drawn():
    axis = make_axis(60)
    panels = [Panel("status:failed", "failed", (Line("failed", [1] * 60, STATUS_COLOURS["failed"]),),
                    upper=[5.0] * 60, expected=[2.0] * 60)]
    episodes = [Episode("status:failed", 29_000_010, 29_000_020, "firing"), Episode(None, 29_000_030, 29_000_033, "resolved")]
    figure = timeseries_figure(axis, panels, episodes, 300, "1h")
    assert legend_names(figure) == [BOUND_NAME, "normal", "alert episode", "feed outage"]
    assert BOUND_NAME == "alert line: a minute beyond it breaches a rule"
    assert figure["layout"]["showlegend"] is True
    entries = {t["name"]: t for t in figure["data"] if t.get("showlegend")}
    bound = entries[BOUND_NAME]
    assert bound["line"]["color"] == ALERT_RED and bound["line"]["dash"] == "dash" and bound["y"] == [None]
    assert entries["normal"]["line"]["dash"] == "dot"
    assert entries["alert episode"]["marker"]["color"] == EPISODE_FILL["firing"]
    # Clicking the legend's bound entry hides every panel's bound: they share its group.
    assert {t["legendgroup"] for t in figure["data"] if t["name"].endswith("bound")} == {"bound"}


def test_legend_leaves_out_what_is_not_drawn():
    axis = make_axis(60)
    panels = [Panel("status:approved", "approved", (Line("approved", [100] * 60, "#198754"),))]
    figure = timeseries_figure(axis, panels, [], 300, "1h")
    assert legend_names(figure) == []
    assert figure["layout"]["showlegend"] is False


def series(figure: dict, name: str) -> dict:
    return next(t for t in figure["data"] if t["name"] == name and not t.get("legendgroup"))


def test_hover_shows_value_normal_and_varying_lines_together_for_each_minute():
    """Lines that vary answer the hover themselves: the unified hover box shows them beside the value."""
    axis = make_axis(4)
    panels = [Panel("status:failed", "failed", (Line("failed", [1, 2, 3, 9], STATUS_COLOURS["failed"]),),
                    lower=[None, 1.0, 1.0, None], upper=[5.0, 6.5, 7.0, 8.0], expected=[2.0, 2.5, None, 3.0])]
    figure = timeseries_figure(axis, panels, [], 300, "1h")
    assert figure["layout"]["hovermode"] == "x unified"
    assert series(figure, "failed")["hovertemplate"] == "%{y} per minute" and "customdata" not in series(figure, "failed")
    by_name = {t["name"]: t for t in figure["data"] if not t.get("showlegend")}
    assert by_name["failed upper bound"]["hovertemplate"] == "alert above %{y}<extra></extra>"
    assert by_name["failed lower bound"]["hovertemplate"] == "alert below %{y}<extra></extra>"
    assert by_name["failed baseline"]["hovertemplate"] == "normal %{y:.2g}<extra></extra>"
    assert by_name["failed upper bound"]["y"].tolist() == [5.0, 6.5, 7.0, 8.0]  # an array: encoded in one call


def test_hover_says_a_flat_alert_line_in_counts_once():
    """Lines half a count outside where a rule turns (callbacks/bands.py) read as the counts that alert."""
    axis = make_axis(3)
    panels = [Panel("status:failed", "failed", (Line("failed", [1, 2, 3], STATUS_COLOURS["failed"]),),
                    upper=[7.5] * 3, expected=[0.25] * 3)]
    figure = timeseries_figure(axis, panels, [], 300, "1h")
    assert series(figure, "failed")["hovertemplate"] == "%{y} per minute · normal 0.2 · alert at 8 or more"
    assert all(t.get("hoverinfo") == "skip" for t in figure["data"] if t["name"] != "failed")
    both = [Panel("status:denied", "denied", (Line("denied", [1, 2, 3], STATUS_COLOURS["denied"]),),
                  upper=[7.5] * 3, lower=[0.5] * 3)]
    assert series(timeseries_figure(axis, both, [], 300, "1h"), "denied")["hovertemplate"] == \
        "%{y} per minute · alert at 0 or fewer, or 8 or more"


def test_a_varying_line_beside_a_flat_normal_keeps_the_normal_in_the_template():
    axis = make_axis(3)
    panels = [Panel("status:failed", "failed", (Line("failed", [1, 2, 3], STATUS_COLOURS["failed"]),),
                  upper=[7.5, 8.5, 7.5], expected=[2.0] * 3)]
    assert series(timeseries_figure(axis, panels, [], 300, "1h"), "failed")["hovertemplate"] == \
        "%{y} per minute · normal 2"


def test_hover_of_flat_lines_is_written_once_not_per_minute():
    axis = make_axis(60)
    panels = [Panel("status:approved", "approved", (Line("approved", [100] * 60, "#198754"),),
                    lower=[75.0] * 60, expected=[100.0] * 60)]
    trace = series(timeseries_figure(axis, panels, [], 300, "1h"), "approved")
    assert trace["hovertemplate"] == "%{y} per minute · normal 100 · alert below 75"
    assert "customdata" not in trace


def test_hover_without_a_rule_shows_the_value_and_its_unit():
    axis = make_axis(60)
    panels = [Panel("status:refunded", "refunded", (Line("refunded", [1] * 60, "#0d6efd"),))]
    trace = series(timeseries_figure(axis, panels, [], 300, "1h"), "refunded")
    assert trace["hovertemplate"] == "%{y} per minute" and "customdata" not in trace
