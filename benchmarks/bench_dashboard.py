"""Dashboard speed: the refresh callback with 3 days of per-minute history, and first page load in headless Chromium.

Run: python benchmarks/bench_dashboard.py [--repeat 30] [--no-browser]

Prints, side by side, for each range: the median server-side time of one
refresh (the real Dash endpoint, through Flask's test client) and its response
size, for a full figure and for the Patch sent on an ordinary refresh; then the
median time from navigation to both charts drawn in headless Chromium
(targets: 24 h refresh <= 100 ms and <= 300 KB; page load < 2 s).

Then the bytes on the wire: every file of a first page load and each refresh's answer
as sent to a browser (compressed, ``Accept-Encoding`` as Chromium sends it) beside the
same answer uncompressed, medians over a new minute posted before each refresh; and,
with the browser, what Chromium itself counted (Resource Timing ``transferSize``,
headers included) on a first visit and on a second one with a warm cache.
"""

from __future__ import annotations

import argparse
import os
import re
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
              ids.PART_DIGESTS: digests, ids.SLICE_FILTER: None}
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


def time_cold_lines(app, range_label: str, rounds: int = 3) -> float:
    """Median ms to work out a range's alert lines from nothing (callbacks/bands.py): what the first refresh of a
    range pays once per process; every later refresh computes only the minutes whose data changed."""
    from callbacks.bands import RuleBands, trimmed
    from components.charts import RANGES

    monitor = app.server.extensions["monitor"]
    times = []
    for _ in range(rounds):
        bands = RuleBands(monitor.thresholds.rules)
        start = time.perf_counter()
        read = monitor.snapshot(RANGES[range_label] + bands.lead)
        snap = trimmed(read, RANGES[range_label])
        with bands.for_snapshot(read) as lines:
            for metric in snap.counts:
                lines.lines(metric, snap.minutes)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


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


# What headless Chromium sends, to 127.0.0.1 too (checked with an echo route, Chromium 156).
BROWSER_ACCEPT = "gzip, deflate, br, zstd"


def sent_and_raw(client, method: str, url: str, json_body=None) -> tuple[int, int, str, str]:
    """(bytes sent to a browser, bytes uncompressed, Content-Encoding, Cache-Control) of one answer."""
    sizes, headers = [], None
    for accept in (BROWSER_ACCEPT, "identity"):
        with client.open(url, method=method, json=json_body, headers={"Accept-Encoding": accept}) as response:
            assert response.status_code == 200, (url, response.status_code)
            sizes.append(len(response.get_data()))
            headers = headers or response.headers
    return sizes[0], sizes[1], headers.get("Content-Encoding", "-"), headers.get("Cache-Control", "-")


def first_load_files(app) -> list[tuple[str, str, dict | None]]:
    """(method, url, body) of every answer a first visit needs before the charts are drawn."""
    client = app.server.test_client()
    index = client.get("/", headers={"Accept-Encoding": "identity"}).get_data(as_text=True)
    files = [("GET", "/", None)] + [("GET", u, None) for u in re.findall(r'(?:src|href)="(/[^"]+)"', index)]
    files += [("GET", "/_dash-layout", None), ("GET", "/_dash-dependencies", None),
              # the graphs' code chunk (fetched by Dash's renderer, unversioned: revalidated by ETag) and Plotly
              ("GET", "/_dash-component-suites/dash/dcc/async-graph.js", None), ("GET", app.plotly_url, None),
              ("POST", "/_dash-update-component", refresh_request(app, "6h", None))]
    return files


def first_load_bytes(app) -> dict[str, float]:
    """Every answer of a first visit, sent vs uncompressed; a warm visit re-fetches only what has no year's cache."""
    client = app.server.test_client()
    out = {"files": 0, "sent": 0.0, "raw": 0.0, "warm": 0.0}
    rows = []
    for method, url, body in first_load_files(app):
        sent, raw, encoding, cache = sent_and_raw(client, method, url, body)
        kept = "max-age=31536000" in cache
        revalidated = url.endswith("async-graph.js")  # an ETag: a warm visit gets 304 and no body
        out["files"] += 1
        out["sent"] += sent
        out["raw"] += raw
        out["warm"] += 0 if kept or revalidated else sent
        rows.append((url, raw, sent, encoding, "1 year" if kept else "ETag" if revalidated else "no"))
    print(f"{'file':<58} {'raw KB':>8} {'sent KB':>8} {'enc':>5}  cached")
    for url, raw, sent, encoding, kept in rows:
        shown = url if len(url) <= 58 else url[:26] + "..." + url[-29:]
        print(f"{shown:<58} {raw / 1024:8.1f} {sent / 1024:8.1f} {encoding:>5}  {kept}")
    return out


def refresh_bytes(app, range_label: str, repeat: int) -> dict[str, float]:
    """Median bytes of a full refresh and of an ordinary (Patch) one, sent and uncompressed, a new minute before each."""
    client = app.server.test_client()
    writer = app.server.extensions["feed_writer"]
    signature = None
    sizes: dict[str, list[int]] = {"full_sent": [], "full_raw": [], "patch_sent": [], "patch_raw": []}
    for _ in range(repeat):
        writer.stream_next()
        full_sent, full_raw, _, _ = sent_and_raw(client, "POST", "/_dash-update-component",
                                                 refresh_request(app, range_label, None))
        sizes["full_sent"].append(full_sent)
        sizes["full_raw"].append(full_raw)
        if signature is not None:
            patch_sent, patch_raw, _, _ = sent_and_raw(client, "POST", "/_dash-update-component",
                                                       refresh_request(app, range_label, signature))
            sizes["patch_sent"].append(patch_sent)
            sizes["patch_raw"].append(patch_raw)
        answer = client.post("/_dash-update-component", json=refresh_request(app, range_label, signature))
        signature = answer.get_json()["response"][ids.CHART_SIGNATURE]["data"]
    return {k: statistics.median(v) / 1024 for k, v in sizes.items()}


def browser_transfer(url: str, drawn_js: str) -> tuple[float, float, float]:
    """(cold sent, cold uncompressed, warm sent) in bytes, as Chromium's Resource Timing counts them up to the
    charts being drawn: a fresh profile, then the same page again with its cache."""
    from selenium import webdriver

    options = webdriver.ChromeOptions()
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1600,1500"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options)
    count = ("const all = performance.getEntriesByType('navigation').concat(performance.getEntriesByType('resource'));"
             "return [all.reduce((s, e) => s + e.transferSize, 0), all.reduce((s, e) => s + e.decodedBodySize, 0)];")
    try:
        out = []
        for _ in range(2):
            driver.get("about:blank")
            driver.get(url)
            start = time.perf_counter()
            while not driver.execute_script(drawn_js):
                if time.perf_counter() - start > 30:
                    raise RuntimeError(f"{url}: charts not drawn within 30 s")
                time.sleep(0.005)
            out.append(driver.execute_script(count))
    finally:
        driver.quit()
    return out[0][0], out[0][1], out[1][0]


def print_bytes(app, repeat: int, browser: bool) -> None:
    print()
    print(f"bytes on the wire, first page load (Accept-Encoding: {BROWSER_ACCEPT}; Flask test client):")
    load = first_load_bytes(app)
    print(f"first visit: {load['files']:.0f} answers, {load['raw'] / 1024:,.0f} KB uncompressed -> "
          f"{load['sent'] / 1024:,.0f} KB sent ({load['sent'] / load['raw']:.2f}); a second visit re-fetches "
          f"{load['warm'] / 1024:,.0f} KB (the page, layout, dependencies and first refresh; every other file is "
          "cached for a year)")
    print()
    print(f"bytes per refresh, median of {repeat} (a new minute posted before each):")
    print(f"{'range':>6} {'full raw KB':>12} {'full sent KB':>13} {'patch raw KB':>13} {'patch sent KB':>14}")
    for label in ("1h", "6h", "24h", "3d"):
        r = refresh_bytes(app, label, repeat)
        print(f"{label:>6} {r['full_raw']:12.1f} {r['full_sent']:13.1f} {r['patch_raw']:13.1f} {r['patch_sent']:14.1f}")
    if browser:
        server, url = serve(app)
        drawn = (f"return document.querySelectorAll('#{ids.STATUS_CHART} .scatterlayer .trace').length >= 6 && "
                 f"document.querySelectorAll('#{ids.AUTH_CHART} .scatterlayer .trace').length >= 3;")
        try:
            runs = [browser_transfer(url, drawn) for _ in range(3)]
        finally:
            server.close()
        cold, raw, warm = (statistics.median(r[i] for r in runs) / 1024 for i in range(3))
        print()
        print("Chromium's own count (Resource Timing transferSize, headers included), median of 3 visits:")
        print(f"first visit {cold:,.0f} KB sent of {raw:,.0f} KB uncompressed; second visit {warm:,.0f} KB")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3, help="browser rounds for the page-load figure")
    parser.add_argument("--no-browser", action="store_true")
    parser.add_argument("--bytes-only", action="store_true", help="only the bytes on the wire (no timings)")
    parser.add_argument("--refresh-ms", type=int, default=5000, help="the page's refresh interval, for the per-hour figure")
    args = parser.parse_args()

    start = time.perf_counter()
    app, minutes, incidents = build_app()
    print(f"history: {minutes} minutes ({DAYS} days, {incidents} incidents) posted in {time.perf_counter() - start:.1f} s")
    if args.bytes_only:
        print_bytes(app, args.repeat, not args.no_browser)
        return 0
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
    cold = {label: time_cold_lines(app, label) for label in ("1h", "6h", "24h", "3d")}
    print("alert lines from nothing (a range's first refresh in a process, then remembered), median of 3: "
          + ", ".join(f"{label} {ms:.0f} ms" for label, ms in cold.items()))
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
    # Last: it posts a new minute before each refresh it measures, so the timings above see the same history.
    print_bytes(app, args.repeat, not args.no_browser)
    return 0


if __name__ == "__main__":
    sys.exit(main())
