"""Send a chart only what changed since the browser's last refresh, as a Dash ``Patch``.

Each page keeps a signature of what its charts hold: the range, the newest
minute and the kind of every trace (``m`` per-minute values, ``c`` a two-point
constant). When the range and trace kinds are unchanged and the window moved
forward by ``k`` minutes, each per-minute trace gets: drop its first ``k``
values, replace its last ``TAIL_MINUTES`` (the open minute and any just
closed, which may still grow) and append the ``k`` new ones. Anything else
(first load, a new range, a changed trace) sends the whole figure.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from dash import Patch

# Minutes at the end of the window that are always resent: the open minute grows,
# and a record for a just-closed minute may arrive a little late.
TAIL_MINUTES = 3


@dataclass(frozen=True)
class ChartSignature:
    range_label: str
    end_minute: int
    kinds: str

    def __str__(self) -> str:
        return f"{self.range_label}|{self.end_minute}|{self.kinds}"

    @classmethod
    def parse(cls, text: str | None) -> ChartSignature | None:
        if not isinstance(text, str):
            return None
        parts = text.split("|")
        if len(parts) != 3 or not parts[1].lstrip("-").isdigit():
            return None
        return cls(parts[0], int(parts[1]), parts[2])


def signature(range_label: str, end_minute: int, *figures: dict) -> ChartSignature:
    kinds = "/".join("".join("m" if "x0" in trace else "c" for trace in figure["data"]) for figure in figures)
    return ChartSignature(range_label, end_minute, kinds)


def _plain(values) -> list:
    """JSON-ready values: NaN (no data that minute) becomes null, numpy numbers become Python numbers."""
    items = values.tolist() if hasattr(values, "tolist") else list(values)
    return [None if isinstance(v, float) and math.isnan(v) else v for v in items]


def chart_update(figure: dict, old: ChartSignature | None, new: ChartSignature) -> dict | Patch:
    """The whole ``figure``, or a Patch turning the browser's copy (described by ``old``) into it."""
    if old is None or old.range_label != new.range_label or old.kinds != new.kinds:
        return figure
    span = next((len(t["y"]) for t in figure["data"] if "x0" in t), 0)
    shift = new.end_minute - old.end_minute
    if shift < 0 or span - shift - TAIL_MINUTES < 0:
        return figure
    patch = Patch()
    keep = span - shift - TAIL_MINUTES  # values the browser already has and keeps
    for i, trace in enumerate(figure["data"]):
        if "x0" in trace:
            values = patch["data"][i]["y"]
            for _ in range(shift):
                del values[0]
            for _ in range(TAIL_MINUTES):
                del values[keep]
            values.extend(_plain(trace["y"][keep:]))
            if shift:
                patch["data"][i]["x0"] = trace["x0"]
        else:
            patch["data"][i]["x"] = trace["x"]
            patch["data"][i]["y"] = trace["y"]
    layout = figure["layout"]
    patch["layout"]["shapes"] = layout["shapes"]
    for key, axis in layout.items():
        if key.startswith(("xaxis", "yaxis")) and "range" in axis:
            patch["layout"][key]["range"] = axis["range"]
    return patch
