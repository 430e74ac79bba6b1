"""Labelled minutes for the breakdown tests (issue 12): eight acquirers with skewed volumes, each denying a steady
share of its traffic, except acq-07 whose denials triple for the last ``SPIKE`` minutes; posted through the
REST API, with what was posted kept per acquirer to compare the page with."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from app import create_app
from detection import Monitor, Store, parse_thresholds
from detection.thresholds import DEFAULT_THRESHOLDS_PATH, load_thresholds

from .support import timestamp

NOW = 1_790_000_000.0  # the monitor's wall clock: 2026-09-21 14:13 UTC
END = int(NOW // 60) - 1  # the newest minute posted
MINUTES = 90
SPIKE = 20  # acq-07's denials triple over the last SPIKE minutes
# approvals per minute of each acquirer (skewed volumes), and its denials per minute before the spike
ACQUIRERS = {"acq-01": (40, 3), "acq-02": (30, 2), "acq-03": (24, 2), "acq-04": (18, 1), "acq-05": (12, 1),
             "acq-06": (10, 1), "acq-07": (8, 2), "acq-08": (6, 1)}
BRANDS = ("visa", "mc")


def thresholds(sliced_rule: bool = False):
    """The built-in thresholds (acquirer, merchant, brand and region, and acquirer x brand) without their
    per-slice rules, whose pooled ratios would judge these made-up acquirers from the first minute; with
    ``sliced_rule``, only a denial rule per acquirer whose slice ratios are each acquirer's own, so that
    acq-07's tripling is an incident of its own."""
    data = json.loads(DEFAULT_THRESHOLDS_PATH.read_text(encoding="utf-8"))
    data["rules"] = [r for r in data["rules"] if not r.get("by")]
    if sliced_rule:
        # Alone: the built-in global rules find these made-up volumes off from the first minute, and a slice's
        # alert joins an open incident its slice carries (the engine's rule), so acq-07 would not be its own.
        data["rules"] = []
        ratios = {f"acquirer={a}": round((base + 1 / 3) / approved, 4) for a, (approved, base) in ACQUIRERS.items()}
        data["rules"].append({
            "id": "denied_by_acquirer", "type": "poisson_tail", "metric": "status:denied", "per": "status:approved",
            "by": ["acquirer"], "ratio": 0.08, "slices": ratios, "window": 5, "p_value": 1e-7, "min_count": 6,
            "dispersion": None, "severity": "warning", "for": 1, "resolve": 5,
            "description": "denials above normal at one acquirer"})
    return parse_thresholds(data, "built-in thresholds, test rules per slice")


def denials(acquirer: str, minute: int) -> int:
    base = ACQUIRERS[acquirer][1] + (minute % 3 == 0)  # a little movement, the same in every acquirer
    return base * 3 if acquirer == "acq-07" and minute > END - SPIKE else base


class LabelledFeed:
    """Posts each minute's labelled records through the REST API (``POST /api/transaction`` and
    ``/api/auth_code``), remembering what it posted per acquirer."""

    def __init__(self, client):
        self.client = client
        self.posted: dict[str, dict[str, list[int]]] = {a: {"approved": [], "denied": []} for a in ACQUIRERS}

    def post_minute(self, minute: int) -> None:
        statuses, codes = [], []
        for i, (acquirer, (approved, _)) in enumerate(ACQUIRERS.items()):
            denied = denials(acquirer, minute)
            labels = {"acquirer": acquirer, "brand": BRANDS[i % 2]}
            ts = timestamp(minute)
            statuses += [{"timestamp": ts, "status": "approved", "count": approved, "labels": labels},
                         {"timestamp": ts, "status": "denied", "count": denied, "labels": labels}]
            codes += [{"timestamp": ts, "auth_code": "00", "count": approved, "labels": labels},
                      {"timestamp": ts, "auth_code": "51", "count": denied, "labels": labels}]
            self.posted[acquirer]["approved"].append(approved)
            self.posted[acquirer]["denied"].append(denied)
        for route, records in (("/api/transaction", statuses), ("/api/auth_code", codes)):
            answer = self.client.post(route, json=records)
            assert answer.status_code == 201, answer.get_json()

    def total(self, status: str) -> list[int]:
        return [sum(minute) for minute in zip(*(p[status] for p in self.posted.values()), strict=True)]


def labelled_app(refresh_ms: int, sliced_rule: bool = False, minutes: int = MINUTES,
                 prepare: Callable[[Any], None] | None = None):
    """A dashboard on a real Monitor and in-memory store holding ``minutes`` labelled minutes up to ``END``;
    the feed (what was posted) is ``app.server.extensions["labelled_feed"]``. ``prepare`` gets the app before
    the first request (Flask takes hooks only then)."""
    monitor = Monitor(thresholds(sliced_rule), Store(":memory:"), clock=lambda: NOW)
    app = create_app({"db": ":memory:", "refresh_ms": refresh_ms}, monitor=monitor)
    if prepare is not None:
        prepare(app)
    feed = LabelledFeed(app.server.test_client())
    for minute in range(END - minutes + 1, END + 1):
        feed.post_minute(minute)
    app.server.extensions["labelled_feed"] = feed
    return app


def global_config() -> dict:
    """The built-in thresholds without their dimensions, pairs and per-slice rules: the global rules alone."""
    config = load_thresholds().to_config()
    config.pop("dimensions", None)
    config.pop("dimension_pairs", None)
    config["rules"] = [rule for rule in config["rules"] if "by" not in rule]
    return config


def callback_request(app, output: str, values: dict, trigger: str) -> dict:
    """The request the page sends for the callback whose outputs include ``output`` (``id.property``)."""
    key = next(k for k in app.callback_map if output in k)
    spec = app.callback_map[key]
    outputs = [{"id": part.split(".")[0], "property": part.split(".")[1]} for part in key.strip(".").split("...")]

    def shaped(items):
        return [{"id": i["id"], "property": i["property"], "value": values.get(f"{i['id']}.{i['property']}")}
                for i in items]
    return {"output": key, "outputs": outputs, "inputs": shaped(spec["inputs"]), "state": shaped(spec["state"]),
            "changedPropIds": [trigger]}
