"""The hostile-client table against the real app: each request gets its 4xx JSON error and changes nothing;
then, over real HTTP, the server stays healthy and 20 records acknowledged after the table survive ``kill -9``."""

from __future__ import annotations

import pytest
import requests

from app import create_app

from .hostile_cases import SETUP, TRANSACTION, Case, cases, check_answer, dump
from .server_process import kill_9, reaped, start_monitor
from .support import START_MINUTE, free_port, timestamp

TABLE = cases()


def post(client, case: Case):
    headers = dict(case.headers)
    if case.content_type is not None:
        headers["Content-Type"] = case.content_type
    return client.post(case.path, data=case.body, headers=headers)


def set_up(client) -> None:
    for path, body in SETUP:
        assert client.post(path, data=body, content_type="application/json").status_code == 201


@pytest.fixture(scope="module")
def hostile_app(tmp_path_factory):
    db_path = str(tmp_path_factory.mktemp("hostile") / "monitor.db")
    app = create_app({"db": db_path})
    set_up(app.server.test_client())
    return app, db_path


@pytest.mark.parametrize("case", TABLE, ids=[c.name for c in TABLE])
def test_a_hostile_request_gets_a_clear_error_and_changes_nothing(hostile_app, case):
    app, db_path = hostile_app
    client = app.server.test_client()
    before = dump(db_path)
    response = post(client, case)
    check_answer(case, response.status_code, response.get_json(), response.get_data(as_text=True))
    assert dump(db_path) == before


def test_the_monitor_stays_healthy_and_writable_after_the_whole_table(db_path):
    client = create_app({"db": db_path}).server.test_client()
    set_up(client)
    for case in TABLE:
        assert post(client, case).status_code == case.status, case.name
    assert client.get("/api/health").status_code == 200
    assert client.get("/api/alerts").status_code == 200
    assert client.get("/api/silences").get_json()["count"] == 0
    assert client.post(TRANSACTION, json={"timestamp": "2025-07-12 13:46:00", "status": "failed", "count": 4}).status_code == 201
    assert client.get("/api/transactions?minutes=1").get_json()["data"][-1]["failed"] == 4
    # and after a restart on the same file
    again = create_app({"db": db_path}).server.test_client()
    assert again.get("/api/health").status_code == 200
    assert again.get("/api/silences").status_code == 200
    assert again.get("/api/transactions?minutes=2").get_json()["data"][-1]["failed"] == 4


def test_the_table_over_http_then_20_acknowledged_records_survive_kill_9(db_path):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    acknowledged: dict[str, int] = {}
    with reaped(start_monitor(db_path, port)) as process:
        with requests.Session() as session:
            for path, body in SETUP:
                assert session.post(url + path, data=body, headers={"Content-Type": "application/json"}, timeout=30).status_code == 201
            for case in TABLE:
                headers = dict(case.headers)
                if case.content_type is not None:
                    headers["Content-Type"] = case.content_type
                before = dump(db_path)
                response = session.post(url + case.path, data=case.body, headers=headers, timeout=60)
                check_answer(case, response.status_code, response.json(), response.text)
                assert dump(db_path) == before, case.name
            assert session.get(f"{url}/api/health", timeout=30).status_code == 200
            # 20 records, each acknowledged on its own, after the table
            for n in range(20):
                ts = timestamp(START_MINUTE + 13 * 60 + 46 + n)  # the minutes after the table's baseline
                response = session.post(f"{url}/api/transaction", json={"timestamp": ts, "status": "approved", "count": n + 1}, timeout=30)
                assert response.status_code == 201
                acknowledged[ts.replace(" ", "T") + "Z"] = n + 1
        kill_9(process)

    with reaped(start_monitor(db_path, port)):
        assert requests.get(f"{url}/api/health", timeout=30).status_code == 200
        rows = requests.get(f"{url}/api/transactions?minutes=60", timeout=30).json()["data"]
        stored = {r["timestamp"]: r["approved"] for r in rows if r["timestamp"] in acknowledged}
        assert stored == acknowledged
        assert requests.get(f"{url}/api/silences", timeout=30).json()["count"] == 0
