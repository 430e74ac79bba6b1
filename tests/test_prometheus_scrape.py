"""Debian's real Prometheus scrapes the app served by waitress: PromQL on the ingested counters equals what was
posted; ``promtool check metrics`` finds nothing to say about /metrics."""

from __future__ import annotations

import random
import subprocess

import requests

from app import create_app

from .alertmanager_support import PROMTOOL, Prometheus
from .delivery_support import fire, make_app, wait_until
from .support import ServerThread

STATUSES = ("approved", "denied", "failed", "reversed", "backend_reversed", "refunded")
CODES = ("00", "51", "59")


def _post(url: str, feed: str, batch: list[dict]) -> None:
    response = requests.post(f"{url}/api/{feed}", json=batch, timeout=30)
    assert response.status_code == 201, response.text


def _values(prometheus: Prometheus, promql: str, label: str) -> dict[str, float]:
    return {s["metric"][label]: float(s["value"][1]) for s in prometheus.query(promql)}


def test_a_real_prometheus_scrapes_the_ingested_counters_as_posted(tmp_path):
    app = create_app({"db": str(tmp_path / "monitor.db")})
    rng = random.Random(14)
    sent_status = dict.fromkeys(STATUSES, 0)
    sent_codes = dict.fromkeys(CODES, 0)
    with ServerThread(app.server) as server:
        for minute in range(20):
            stamp = f"2025-07-12 10:{minute:02d}:00"
            statuses = []
            for status in STATUSES:
                count = rng.randint(0, 120 if status == "approved" else 6)
                sent_status[status] += count
                statuses.append({"timestamp": stamp, "status": status, "count": count})
            _post(server.url, "transaction", statuses)
            codes = []
            for code in CODES:
                count = rng.randint(0, 50)
                sent_codes[code] += count
                codes.append({"timestamp": stamp, "auth_code": code, "count": count})
            _post(server.url, "auth_code", codes)
        target = server.url.removeprefix("http://")
        with Prometheus(tmp_path / "prometheus", target) as prometheus:
            # The scrape every second: wait for one that saw all of it (the counters only grow).
            statuses_seen = wait_until(
                lambda: (v := _values(prometheus, 'monitor_ingested_transactions_total{job="transaction-monitor"}',
                                      "status")) == sent_status and v,
                what="Prometheus to hold the posted status counts")
            codes_seen = wait_until(
                lambda: (v := _values(prometheus, "monitor_ingested_auth_codes_total", "auth_code")) == sent_codes
                and v, what="Prometheus to hold the posted auth-code counts")
            total = prometheus.query('sum(monitor_ingested_transactions_total{job="transaction-monitor"})')
            up = _values(prometheus, "up", "job")
    assert statuses_seen == {s: float(n) for s, n in sent_status.items()}
    assert codes_seen == {c: float(n) for c, n in sent_codes.items()}
    assert float(total[0]["value"][1]) == sum(sent_status.values())
    assert up == {"transaction-monitor": 1.0}


def test_promtool_check_metrics_has_nothing_to_say_about_the_metrics_page(tmp_path, httpserver):
    # Every family present: ingest, firing alerts, an open incident, notification outcomes and queue depths.
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    app = make_app(tmp_path, [{"type": "webhook", "name": "ops", "url": httpserver.url_for("/hook")}])
    delivery = app.server.extensions["delivery"].start()
    client = app.server.test_client()
    try:
        fire(client)
        # The receiver has the message a moment before the sender records the outcome the counter reads.
        def counted() -> str | None:
            page = client.get("/metrics").get_data(as_text=True)
            return page if "monitor_notifications_total{" in page else None

        text = wait_until(counted, what="the delivery counted")
    finally:
        delivery.stop()
    assert "monitor_notifications_total{" in text and "monitor_incidents_open{" in text
    checked = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True, text=True, timeout=60,
                             check=False)  # the code is asserted with what it printed
    assert (checked.returncode, checked.stdout, checked.stderr) == (0, "", "")
