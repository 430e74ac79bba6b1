"""Failover with real server processes: two `python app.py` on one real PostgreSQL, posts from several threads
to both, `kill -9` of the leader in the middle. The standby leads within 10 s, every acknowledged record is in
the store, a failure burst posted afterwards fires, every incident transition reaches the receiver, and the
alerts and incidents of the whole run equal those of one instance on SQLite given the same data."""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import requests

from app import create_app

from .delivery_support import BASE_MINUTE, FAST, THRESHOLDS, wait_until, write_json
from .pg_support import free_port
from .server_process import kill_9, reaped, start_server

THREADS = 4  # posting threads; thread i posts minute m to instance (i + m) % 2, the other one if that fails
# failed transactions per minute: an episode that fires before the kill and resolves after it, then a burst.
PLAN = [0, 0, 0, 2, 3, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 5, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0]
KILL_AT = 6  # the leader is killed while this minute's posts are under way
TAKEOVER_SECONDS = 10.0
RETRY_SECONDS = 60.0  # how long a post keeps trying (the other instance, again) on a loaded 2-core machine


def share(thread: int, minute: int) -> list[dict]:
    """Thread ``thread``'s part of ``minute``: approvals and denials on every thread, failures on thread 0."""
    stamp = BASE_MINUTE.format(minute)
    body = [{"timestamp": stamp, "status": "approved", "count": 25 + thread},
            {"timestamp": stamp, "status": "denied", "count": 1}]
    if thread == 0:
        body.append({"timestamp": stamp, "status": "failed", "count": PLAN[minute]})
    return body


class Poster:
    """Posts shares with an Idempotency-Key each, moving to the other instance when one does not answer."""

    def __init__(self, ports: list[int]):
        self.ports = ports
        self.acked: dict[str, int] = {}  # per status, what 201 answers acknowledged
        self.lock = threading.Lock()
        self.started = threading.Event()  # a post of the current minute is on its way

    def post(self, thread: int, minute: int) -> None:
        body = share(thread, minute)
        key = f"t{thread}-m{minute}"
        target = (thread + minute) % 2
        deadline = time.monotonic() + RETRY_SECONDS
        while True:
            self.started.set()
            try:
                answer = requests.post(f"http://127.0.0.1:{self.ports[target]}/api/transaction", json=body,
                                       headers={"Idempotency-Key": key}, timeout=10)
                if answer.status_code == 201:
                    if "Idempotent-Replayed" not in answer.headers:
                        with self.lock:
                            for record in body:
                                self.acked[record["status"]] = self.acked.get(record["status"], 0) + record["count"]
                    return
                assert answer.status_code == 503, (answer.status_code, answer.text)  # retried like a lost answer
            except requests.ConnectionError:
                pass  # the instance is gone (or going): the other one takes the same key
            assert time.monotonic() < deadline, f"{key} was not accepted by either instance within {RETRY_SECONDS} s"
            target = 1 - target


def role(port: int) -> str | None:
    try:
        return requests.get(f"http://127.0.0.1:{port}/api/health", timeout=2).json()["role"]
    except (requests.RequestException, ValueError, KeyError):
        return None


def outcome(get) -> tuple[list, list]:
    alerts = sorted(get("/api/alerts")["alerts"], key=lambda a: a["id"])
    incidents = sorted(get("/api/incidents")["incidents"], key=lambda i: i["id"])
    return alerts, incidents


def stored_totals(url: str) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT metric, SUM(count) FROM minute_counts WHERE feed = 'status' GROUP BY metric")
        return {metric.split(":", 1)[1]: int(total) for metric, total in rows if int(total)}


def test_kill_9_of_the_leader_mid_stream_loses_nothing_and_the_standby_goes_on(tmp_path: Path, pg_url, httpserver):
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    thresholds = write_json(tmp_path, "thresholds.json", THRESHOLDS)
    notifications = write_json(tmp_path, "notify.json", {"version": 1, **FAST, "channels": [
        {"type": "webhook", "name": "ops", "url": httpserver.url_for("/hook")}]})
    ports = [free_port(), free_port()]
    # The same data, one instance on SQLite, minute after minute: what the two instances must give, whole.
    single = create_app({"db": str(tmp_path / "one.db"), "thresholds": thresholds}).server.test_client()
    for minute in range(len(PLAN)):
        for thread in range(THREADS):
            assert single.post("/api/transaction", json=share(thread, minute)).status_code == 201
    expected = outcome(lambda path: single.get(path).get_json())

    def start(index: int):
        return start_server(["app.py", "--db", pg_url, "--port", str(ports[index]), "--instance", "ab"[index],
                             "--thresholds", thresholds, "--notifications", notifications], ports[index],
                            log=tmp_path / f"{'ab'[index]}.log")

    with reaped(start(0)) as first, reaped(start(1)):
        assert (role(ports[0]), role(ports[1])) == ("leader", "standby")
        poster = Poster(ports)
        with ThreadPoolExecutor(THREADS) as pool:
            for minute in range(len(PLAN)):
                poster.started.clear()
                posts = [pool.submit(poster.post, thread, minute) for thread in range(THREADS)]
                if minute == KILL_AT:
                    poster.started.wait(30)
                    kill_9(first)  # mid-stream: some of this minute's posts are on their way to it
                    killed = time.monotonic()
                    wait_until(lambda: role(ports[1]) == "leader", timeout=30, what="the standby leading")
                    took = time.monotonic() - killed
                    assert took <= TAKEOVER_SECONDS, f"the standby took {took:.1f} s to lead"
                for post in posts:
                    post.result()  # a post that failed for good fails the test here, with its reason

        survivor = f"http://127.0.0.1:{ports[1]}"

        def get(path: str) -> dict:
            return requests.get(survivor + path, timeout=10).json()

        health = get("/api/health")
        assert (health["role"], health["leader"]["instance"], health["instance"]) == ("leader", "b", "b")
        # Every acknowledged record is in the store, once: the totals are exactly what was posted.
        intended: dict[str, int] = {}
        for minute in range(len(PLAN)):
            for thread in range(THREADS):
                for record in share(thread, minute):
                    intended[record["status"]] = intended.get(record["status"], 0) + record["count"]
        intended = {k: v for k, v in intended.items() if v}
        assert poster.acked == intended
        assert stored_totals(pg_url) == intended
        # Nothing waits to be judged, and both episodes (before and after the kill) fired and resolved.
        wait_until(lambda: get("/api/alerts")["alerts"] and all(
            a["state"] == "resolved" for a in get("/api/alerts")["alerts"]), what="both episodes resolved")
        alerts, incidents = outcome(get)
        assert [(a["rule"], a["started_at"]) for a in sorted(alerts, key=lambda a: a["started_at"])] == [
            ("failed_high", "2025-07-12T13:03:00Z"), ("failed_high", "2025-07-12T13:15:00Z")]

        assert (alerts, incidents) == expected  # the same as one instance on SQLite, whole

        # Notifications: every incident's opening and resolution was delivered to the receiver at least once
        # (what the killed leader sent but had not marked done comes again from the new one: at-least-once). An
        # opening and a resolution handed over together go out as one message, under the latest news. (Whether an
        # incident also escalated on the way depends on which thread's share of a minute came first.)
        wanted = {(i["id"], kind) for i in incidents for kind in ("opened", "resolved")}

        def delivered() -> set:
            log = get("/api/notifications?limit=100")["notifications"]
            return {(e["incident_id"], e["kind"]) for e in log if e["channel"] == "ops" and e["outcome"] == "delivered"}

        try:
            wait_until(lambda: wanted <= delivered(), what="every transition delivered to the receiver")
        except AssertionError:
            raise AssertionError(f"delivered {sorted(delivered())}, wanted {sorted(wanted)}; log: "
                                 f"{get('/api/notifications?limit=100')['notifications']}") from None
        hooks = [json.loads(request.get_data()) for request, _ in httpserver.log if request.path == "/hook"]
        last = {h["groupKey"]: h["commonAnnotations"]["transition"] for h in hooks}
        assert last == {i["id"]: "resolved" for i in incidents}
