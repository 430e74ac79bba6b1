"""Several instances on one real PostgreSQL, in one process: election, the shared ingest log, following,
takeover, the fence. (tests/test_failover.py does the same with real server processes and kill -9.)"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest

from app import create_app
from detection.ingest_log import LEADER_LOCK_KEY
from detection.store import StoreError

from .delivery_support import BASE_MINUTE, THRESHOLDS, post_minute, wait_until, write_json

QUICK = 0.2  # seconds between a standby's tries for the lock in these tests (1 s by default)


def make(tmp_path: Path, url: str, name: str):
    app = create_app({"db": url, "instance": name, "port": 8080,
                      "thresholds": write_json(tmp_path, f"thresholds-{name}.json", THRESHOLDS)})
    app.server.extensions["roles"].retry_seconds = QUICK
    return app


@contextmanager
def instances(tmp_path: Path, url: str, *names: str) -> Iterator[list]:
    """Apps on one database, each with its cluster thread running (what serve() starts); all closed after."""
    apps = []
    try:
        for name in names:
            apps.append(make(tmp_path, url, name))
        for app in apps:
            app.server.extensions["roles"].start()
        yield apps
    finally:
        for app in apps:
            app.server.extensions["roles"].stop()
            app.server.extensions["monitor"].store.close()


def health(app) -> dict:
    return app.server.test_client().get("/api/health").get_json()


def alerts(app) -> list[dict]:
    return app.server.test_client().get("/api/alerts").get_json()["alerts"]


def test_the_first_instance_leads_at_once_and_the_second_stands_by(tmp_path, pg_url):
    with instances(tmp_path, pg_url, "a", "b") as (a, b):
        first, second = health(a), health(b)
        assert (first["instance"], first["role"]) == ("a", "leader")
        assert (second["instance"], second["role"]) == ("b", "standby")
        assert first["leader"]["instance"] == second["leader"]["instance"] == "a"
        assert first["leader"]["since"] == second["leader"]["since"]
        assert first["leader"]["since"].endswith("Z")
        metrics = b.server.test_client().get("/metrics").get_data(as_text=True)
        assert 'monitor_leader{instance="b"} 0.0' in metrics
        assert 'monitor_leader_since_seconds{leader="a"}' in metrics
        assert 'monitor_leader{instance="a"} 1.0' in a.server.test_client().get("/metrics").get_data(as_text=True)


def test_one_instance_on_sqlite_leads_alone(tmp_path):
    app = create_app({"db": str(tmp_path / "m.db"), "instance": "solo",
                      "thresholds": write_json(tmp_path, "t.json", THRESHOLDS)})
    body = health(app)
    assert (body["instance"], body["role"], body["leader"]["instance"]) == ("solo", "leader", "solo")


def test_records_posted_to_a_standby_are_judged_by_the_leader_and_its_answer_has_the_alerts(tmp_path, pg_url):
    with instances(tmp_path, pg_url, "a", "b") as (a, b):
        client = b.server.test_client()
        post_minute(client, 0, failed=0)
        answer = post_minute(client, 1, failed=4)  # fires failed_high while minute 1 is open
        assert [(x["rule"], x["state"]) for x in answer["alerts"]] == [("failed_high", "firing")]
        # The leader judged it: the alert is in the store for every instance to serve.
        assert [(x["rule"], x["state"], x["started_at"]) for x in alerts(a)] == [
            ("failed_high", "firing", "2025-07-12T13:01:00Z")]
        assert alerts(b) == alerts(a)
        assert a.server.extensions["monitor"].store.query("SELECT COUNT(*) FROM ingest_log WHERE NOT judged") == [(0,)]


def test_a_standbys_page_shows_the_counts_posted_to_every_instance(tmp_path, pg_url):
    with instances(tmp_path, pg_url, "a", "b") as (a, b):
        post_minute(a.server.test_client(), 0, failed=1)
        post_minute(b.server.test_client(), 0, failed=2, denied=7)
        for app in (a, b):
            monitor = app.server.extensions["monitor"]

            def both_in(monitor=monitor) -> bool:
                snap = monitor.snapshot(1, recent_alerts=0)
                return snap.counts.get("status:failed") == (3,) and snap.counts.get("status:denied") == (12,)

            wait_until(both_in, what=f"{app.server.extensions['roles'].instance}'s page showing both posts")
        assert health(b)["newest_event_time"] == "2025-07-12T13:00:00Z"


def run_minutes(apps, plan: list[tuple[int, int]]) -> None:
    """Post each (minute, failed) to the apps in turn, one minute after the other."""
    for index, (minute, failed) in enumerate(plan):
        post_minute(apps[index % len(apps)].server.test_client(), minute, failed=failed)


PLAN = [(0, 0), (1, 0), (2, 3), (3, 5), (4, 0), (5, 0), (6, 0), (7, 0), (8, 2), (9, 0), (10, 0), (11, 0),
        (12, 0), (13, 0), (14, 0)]


def outcome(app) -> tuple[list, list]:
    """Every alert and incident as the API answers them, whole (figures, members, wording, times)."""
    client = app.server.test_client()
    found = client.get("/api/alerts").get_json()["alerts"]
    incidents = client.get("/api/incidents").get_json()["incidents"]
    return sorted(found, key=lambda x: x["id"]), sorted(incidents, key=lambda i: i["id"])


def test_the_same_data_gives_the_same_alerts_and_incidents_over_three_instances_as_on_one(tmp_path, pg_server):
    with instances(tmp_path, pg_server.fresh_database(), "solo") as (solo,):
        run_minutes([solo], PLAN)
        single = outcome(solo)
    with instances(tmp_path, pg_server.fresh_database(), "a", "b", "c") as apps:
        run_minutes(apps, PLAN)
        wait_until(lambda: outcome(apps[0]) == single, what="the three instances' outcome equal to one's")
        spread = outcome(apps[1])
    sqlite_app = create_app({"db": str(tmp_path / "one.db"), "thresholds": write_json(tmp_path, "t.json", THRESHOLDS)})
    run_minutes([sqlite_app], PLAN)
    assert [a["state"] for a in single[0]] == ["resolved", "resolved"] and single[1]  # something happened
    assert spread == single == outcome(sqlite_app)


def test_a_standby_takes_over_when_the_leaders_session_ends_and_judges_what_it_left(tmp_path, pg_url):
    with instances(tmp_path, pg_url, "a", "b") as (a, b):
        post_minute(b.server.test_client(), 0, failed=0)
        wait_until(lambda: a.server.extensions["monitor"].newest_event_minute() is not None, what="a judged minute 0")
        # The leader is held before it judges (its judge lock taken), and records arrive that nobody judges ...
        held = a.server.extensions["roles"]._judge_lock
        held.acquire()
        try:
            b.server.extensions["roles"].shared.answer_wait = 0.05
            post_minute(b.server.test_client(), 1, failed=6)
            store = b.server.extensions["monitor"].store
            assert store.query("SELECT COUNT(*) FROM ingest_log WHERE NOT judged") == [(1,)]
            # ... then its sessions end (what kill -9 does): the lock is free, b takes over and judges them.
            a.server.extensions["monitor"].store.close()
        finally:
            held.release()
        wait_until(lambda: health(b)["role"] == "leader", timeout=10, what="b leading within 10 s")
        assert health(b)["leader"]["instance"] == "b"
        wait_until(lambda: [x["rule"] for x in alerts(b)] == ["failed_high"], what="b judging what a left")
        assert store.query("SELECT COUNT(*) FROM ingest_log WHERE NOT judged") == [(0,)]
        assert store.query("SELECT term FROM leadership") == [(2,)]


def test_an_instance_that_lost_its_term_writes_no_judging(tmp_path, pg_url):
    with instances(tmp_path, pg_url, "a") as (a,):
        monitor = a.server.extensions["monitor"]
        post_minute(a.server.test_client(), 0, failed=0)
        # Another instance took a new term (as after a takeover this one has not noticed yet).
        with psycopg.connect(pg_url, autocommit=True) as other:
            other.execute("UPDATE leadership SET instance = 'z', term = term + 1")
        before = monitor.store.rule_states()
        with pytest.raises(StoreError, match=r"no longer leads \(its term 1; now z \(term 2\)\)"):
            monitor.tick(monitor._clock() + 3600)  # a judging write: a minute closes by the wall clock
        assert monitor.store.rule_states() == before


def test_the_leader_lock_is_per_database_and_held_by_the_leaders_own_session(tmp_path, pg_url, pg_server):
    with instances(tmp_path, pg_url, "a") as (a,), instances(tmp_path, pg_server.fresh_database(), "b") as (b,):
        assert health(a)["role"] == health(b)["role"] == "leader"
        with psycopg.connect(pg_url, autocommit=True) as conn:
            holders = conn.execute(
                "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                "WHERE l.locktype = 'advisory' AND l.granted AND (l.classid::bigint << 32) + l.objid::bigint = %s "
                "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())",
                (LEADER_LOCK_KEY,)).fetchall()
        assert holders == [("monitor a",)]


def test_an_idempotency_key_is_one_request_across_instances(tmp_path, pg_url):
    with instances(tmp_path, pg_url, "a", "b") as (a, b):
        body = [{"timestamp": BASE_MINUTE.format(0), "status": "failed", "count": 2}]
        headers = {"Idempotency-Key": "k-1"}
        first = a.server.test_client().post("/api/transaction", json=body, headers=headers)
        again = b.server.test_client().post("/api/transaction", json=body, headers=headers)
        other = b.server.test_client().post("/api/transaction", json=[{**body[0], "count": 3}], headers=headers)
        assert (first.status_code, again.status_code, other.status_code) == (201, 201, 422)
        assert "Idempotent-Replayed" not in first.headers and again.headers["Idempotent-Replayed"] == "true"
        assert again.get_json() == {"accepted": 1, "alerts": []}
        assert other.get_json()["error"] == "idempotency_key_reused"
        store = a.server.extensions["monitor"].store
        assert store.query("SELECT count FROM minute_counts WHERE metric = 'status:failed'") == [(2,)]
        assert json.loads(store.query("SELECT response FROM idempotency WHERE key = 'status:k-1'")[0][0])["accepted"] == 1


def test_a_silence_made_on_one_instance_holds_on_every_instance(tmp_path, pg_url):
    with instances(tmp_path, pg_url, "a", "b") as (a, b):
        made = b.server.test_client().post("/api/silences", json={
            "matchers": {"rule": "failed_high"}, "ends_at": time.time() + 7200, "created_by": "ops"})
        assert made.status_code == 201, made.get_json()
        silence_id = made.get_json()["id"]
        leader = a.server.extensions["silences"]  # what the leader's delivery asks before it pages
        wait_until(lambda: leader.get(silence_id) is not None, what="the leader knowing b's silence")
        assert leader.get(silence_id).matchers == {"rule": "failed_high"}
        ended = a.server.test_client().delete(f"/api/silences/{silence_id}")
        assert ended.status_code == 200, ended.get_json()
        wait_until(lambda: b.server.extensions["silences"].get(silence_id).state(leader.now()) == "expired",
                   what="b seeing the silence expired on a")


def test_the_same_key_posted_to_two_instances_at_once_is_stored_once(tmp_path, pg_url):
    """A client's retry that reaches the other instance while the first request still commits: one is stored,
    the other answers with the first answer (or 503, and its own retry then gets it)."""
    rounds = 25
    with instances(tmp_path, pg_url, "a", "b") as apps:
        clients = [app.server.test_client() for app in apps]  # Flask's test clients: one per thread

        def post(index: int, key: str):
            body = [{"timestamp": BASE_MINUTE.format(1), "status": "failed", "count": 1}]
            for _attempt in range(20):
                answer = clients[index].post("/api/transaction", json=body, headers={"Idempotency-Key": key})
                if answer.status_code != 503:
                    return answer
            raise AssertionError(f"{key}: 503 twenty times")

        with ThreadPoolExecutor(2) as pool:
            for n in range(rounds):
                start = threading.Barrier(2)

                def raced(index: int, key: str = f"race-{n}", start=start):
                    start.wait(10)
                    return post(index, key)

                answers = list(pool.map(raced, (0, 1)))
                assert [a.status_code for a in answers] == [201, 201]
                assert [a.get_json()["accepted"] for a in answers] == [1, 1]
                replayed = ["Idempotent-Replayed" in a.headers for a in answers]
                assert replayed.count(True) == 1, (n, replayed)  # exactly one of the two stored it
        store = apps[0].server.extensions["monitor"].store
        assert store.query("SELECT count FROM minute_counts WHERE metric = 'status:failed'") == [(rounds,)]
        assert store.query("SELECT COUNT(*) FROM idempotency") == [(rounds,)]


def test_a_leader_whose_lock_session_is_ended_stops_judging_and_one_instance_leads_again(tmp_path, pg_url):
    """An administrator's pg_terminate_backend (or a network cut) ends the leader's lock session while its process
    lives: it must stop judging at once, and exactly one instance leads after, in a new term."""
    with instances(tmp_path, pg_url, "a", "b") as (a, b):
        post_minute(a.server.test_client(), 0, failed=0)
        with psycopg.connect(pg_url, autocommit=True) as admin:
            [(ended,)] = admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'monitor a'"
                " AND datname = current_database()").fetchall()
            assert ended is True

            def one_new_leader() -> bool:
                roles = [health(app)["role"] for app in (a, b)]
                terms = admin.execute("SELECT term FROM leadership").fetchall()
                return sorted(roles) == ["leader", "standby"] and terms == [(2,)]

            wait_until(one_new_leader, timeout=10, what="one leader in term 2")
        for app in (a, b):  # an instance judges exactly while it leads
            assert app.server.extensions["monitor"].judging == (health(app)["role"] == "leader")
        answer = post_minute(b.server.test_client(), 1, failed=5)
        assert [(x["rule"], x["state"]) for x in answer["alerts"]] == [("failed_high", "firing")]
