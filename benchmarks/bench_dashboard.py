"""Dashboard speed: the refresh callback with 3 days of per-minute history, and first page load in headless Chromium.

Run: python benchmarks/bench_dashboard.py [--repeat 30] [--no-browser]

Prints, side by side, for each range: the median server-side time of one
refresh (the real Dash endpoint, through Flask's test client) and its response
size, for a full figure and for the Patch sent on an ordinary refresh; then the
median time from navigation to both charts drawn in headless Chromium
(targets: 24 h refresh <= 100 ms and <= 300 KB; page load < 2 s).
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from analysis.synthetic import generate  # noqa: E402
from app import create_app  # noqa: E402
from components import ids  # noqa: E402
from detection import Monitor, MonitorSettings, Store, load_thresholds  # noqa: E402

DAYS = 3


def build_app():
    """An app whose Monitor holds 3 days of per-minute synthetic history (with incidents), posted minute by minute."""
    now = time.time()
    end = int(now // 60)
    monitor = Monitor(load_thresholds(), Store(":memory:"), MonitorSettings())
    app = create_app({"db": ":memory:"}, monitor=monitor)
    writer = app.server.extensions["feed_writer"]
    data = generate(end - DAYS * 1440 + 1, DAYS * 1440, seed=7)
    by_minute: dict[str, tuple[list, list]] = {}
    for row in data.status_rows:
        by_minute.setdefault(row["timestamp"], ([], []))[0].append(row)
    for row in data.auth_rows:
        by_minute.setdefault(row["timestamp"], ([], []))[1].append(row)
    for stamp in sorted(by_minute):
        writer.post(*by_minute[stamp], now=(end + 1) * 60.0)
    return app, len(by_minute), len(data.incidents)


def refresh_request(app, range_label: str, signature, open_ids=None, digests=None):
    key = next(k for k in app.callback_map if f"{ids.STATUS_CHART}.figure" in k)
    spec = app.callback_map[key]
    outputs = [{"id": part.split(".")[0], "property": part.split(".")[1]} for part in key.strip(".").split("...")]
    values = {ids.REFRESH: 1, ids.RANGE: range_label, ids.SIMULATED: 0, ids.VIEW_WINDOW: None,
              ids.CHART_SIGNATURE: signature, ids.SELECTED_INCIDENT: None, ids.OPEN_INCIDENT_IDS: open_ids,
              ids.PART_DIGESTS: digests}
    inputs = [{"id": i["id"], "property": i["property"], "value": values[i["id"]]} for i in spec["inputs"]]
    state = [{"id": i["id"], "property": i["property"], "value": values[i["id"]]} for i in spec["state"]]
    return {"output": key, "outputs": outputs, "inputs": inputs, "changedPropIds": [f"{ids.REFRESH}.n_intervals"],
            "state": state}


def time_refresh(app, range_label: str, repeat: int) -> dict[str, float]:
    """Median time and size of three kinds of refresh: ``full`` (first load or a new range), ``patch`` (a new
    minute since the browser's last refresh: charts as Patches, every other part sent), and ``quiet`` (nothing
    changed: the browser sends back the digests of what it shows, and only the refresh time comes back)."""
    client = app.server.test_client()
    first = client.post("/_dash-update-component", json=refresh_request(app, range_label, None))
    answer = first.get_json()["response"]
    signature = answer[ids.CHART_SIGNATURE]["data"]
    open_ids = answer.get(ids.OPEN_INCIDENT_IDS, {}).get("data")
    settled = client.post("/_dash-update-component",
                          json=refresh_request(app, range_label, signature, open_ids, answer[ids.PART_DIGESTS]["data"]))
    # Its digests, if the second refresh changed any (it sends none when the first answer already showed all).
    digests = settled.get_json()["response"].get(ids.PART_DIGESTS, {}).get("data") or answer[ids.PART_DIGESTS]["data"]
    out = {}
    for kind, body in (("full", refresh_request(app, range_label, None)),
                       ("patch", refresh_request(app, range_label, signature, open_ids)),
                       ("quiet", refresh_request(app, range_label, signature, open_ids, digests))):
        times, size = [], 0
        for _ in range(repeat):
            start = time.perf_counter()
            response = client.post("/_dash-update-component", json=body)
            times.append((time.perf_counter() - start) * 1000)
            size = len(response.data)
            assert response.status_code == 200
        out[f"{kind}_ms"] = statistics.median(times)
        out[f"{kind}_ms_iqr"] = spread(times)
        out[f"{kind}_kb"] = size / 1024
    return out


def spread(times: list[float]) -> float:
    """Interquartile range: how much the runs differ, beside the median."""
    q = statistics.quantiles(times, n=4) if len(times) >= 2 else [times[0]] * 3
    return q[2] - q[0]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def minimal_app():
    """The floor for comparison: a Dash page with one small graph, same Dash, same server, same browser."""
    from dash import Dash, dcc, html

    app = Dash(__name__, serve_locally=True)
    app.layout = html.Div([html.H1("minimal"), dcc.Graph(id="g", figure={"data": [{"y": [1, 3, 2]}]})])
    return app


def serve(app):
    from waitress.server import create_server

    server = create_server(app.server, host="127.0.0.1", port=free_port(), threads=8)
    threading.Thread(target=server.run, daemon=True).start()
    return server, f"http://127.0.0.1:{server.effective_port}/"


def load_times(url: str, drawn_js: str) -> tuple[float, float]:
    """(cold, warm): navigation to charts drawn in a fresh browser profile, then again with its cache warm."""
    from selenium import webdriver

    options = webdriver.ChromeOptions()
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1600,1500"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options)
    try:
        out = []
        for _ in range(2):
            driver.get("about:blank")
            start = time.perf_counter()
            driver.get(url)
            while not driver.execute_script(drawn_js):
                if time.perf_counter() - start > 30:
                    raise RuntimeError(f"{url}: charts not drawn within 30 s")
                time.sleep(0.005)
            out.append(time.perf_counter() - start)
        errors = [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]
        if errors:
            print("browser console errors:", errors)
    finally:
        driver.quit()
    return out[0], out[1]


def time_page_load(app, rounds: int) -> dict[str, list[float]]:
    dashboard, dashboard_url = serve(app)
    minimal, minimal_url = serve(minimal_app())
    drawn = (f"return document.querySelectorAll('#{ids.STATUS_CHART} .scatterlayer .trace').length >= 6 && "
             f"document.querySelectorAll('#{ids.AUTH_CHART} .scatterlayer .trace').length >= 3;")
    minimal_drawn = "return document.querySelectorAll('#g .scatterlayer .trace').length >= 1;"
    times: dict[str, list[float]] = {"dashboard cold": [], "dashboard warm": [], "minimal cold": [], "minimal warm": []}
    try:
        for _ in range(rounds):  # alternate, so machine load hits both alike
            cold, warm = load_times(dashboard_url, drawn)
            times["dashboard cold"].append(cold)
            times["dashboard warm"].append(warm)
            cold, warm = load_times(minimal_url, minimal_drawn)
            times["minimal cold"].append(cold)
            times["minimal warm"].append(warm)
    finally:
        dashboard.close()
        minimal.close()
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3, help="browser rounds for the page-load figure")
    parser.add_argument("--no-browser", action="store_true")
    parser.add_argument("--refresh-ms", type=int, default=5000, help="the page's refresh interval, for the per-hour figure")
    args = parser.parse_args()

    start = time.perf_counter()
    app, minutes, incidents = build_app()
    print(f"history: {minutes} minutes ({DAYS} days, {incidents} incidents) posted in {time.perf_counter() - start:.1f} s")
    print()
    print(f"refresh callback, median of {args.repeat} (server side, Flask test client):")
    print(f"{'range':>6} {'full ms':>9} {'(IQR)':>7} {'full KB':>8} {'patch ms':>9} {'(IQR)':>7} {'patch KB':>9} "
          f"{'quiet ms':>9} {'(IQR)':>7} {'quiet KB':>9}")
    results = {}
    for label in ("1h", "6h", "24h", "3d"):
        r = results[label] = time_refresh(app, label, args.repeat)
        print(f"{label:>6} {r['full_ms']:9.1f} {r['full_ms_iqr']:7.1f} {r['full_kb']:8.1f} {r['patch_ms']:9.1f} "
              f"{r['patch_ms_iqr']:7.1f} {r['patch_kb']:9.1f} {r['quiet_ms']:9.1f} {r['quiet_ms_iqr']:7.1f} "
              f"{r['quiet_kb']:9.2f}")
    day = results["24h"]
    worst = max(day["full_ms"], day["patch_ms"])
    print(f"24h target: <= 100 ms -> {worst:.1f} ms ({worst / 100:.2f} of budget); <= 300 KB -> {day['full_kb']:.1f} KB "
          f"({day['full_kb'] / 300:.2f} of budget)")
    per_hour = 3600 / (args.refresh_ms / 1000)
    print(f"nothing changed, 24h: {day['quiet_kb'] * 1024:.0f} bytes per refresh (target < 5 KB: "
          f"{day['quiet_kb'] / 5:.2f} of budget), {day['quiet_kb'] * per_hour / 1024:.2f} MB per hour per tab at one "
          f"refresh every {args.refresh_ms / 1000:g} s; server time {day['quiet_ms']:.1f} ms (target < 50 ms)")
    if not args.no_browser:
        loads = time_page_load(app, args.rounds)
        print()
        print(f"first page load to all charts drawn, headless Chromium + waitress, median of {args.rounds} "
              f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores):")
        print(f"{'':>10} {'dashboard s':>12} {'minimal Dash page s':>20} {'ratio':>6}")
        for kind in ("cold", "warm"):
            mine, floor = statistics.median(loads[f"dashboard {kind}"]), statistics.median(loads[f"minimal {kind}"])
            print(f"{kind:>10} {mine:12.2f} {floor:20.2f} {mine / floor:6.2f}")
        warm = statistics.median(loads["dashboard warm"])
        print(f"target < 2 s: cold {statistics.median(loads['dashboard cold']) / 2:.2f} of budget, warm {warm / 2:.2f} of budget")
    return 0


if __name__ == "__main__":
    sys.exit(main())
