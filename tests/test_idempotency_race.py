"""The same Idempotency-Key sent by several clients at once still counts once (the first may not be on disk yet),
on SQLite and on PostgreSQL (``store_url`` is parametrized)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import requests

from app import create_app

from .support import ServerThread


def test_simultaneous_retries_with_one_key_count_once(store_url):
    app = create_app({"db": store_url})
    body = [{"timestamp": "2025-07-12 13:45:00", "status": "failed", "count": 2}]
    with ServerThread(app.server) as server:
        def post(_: int) -> requests.Response:
            return requests.post(f"{server.url}/api/transaction", json=body, headers={"Idempotency-Key": "retry-storm"}, timeout=10)

        for _round in range(3):
            with ThreadPoolExecutor(8) as pool:
                responses = list(pool.map(post, range(8)))
            assert {r.status_code for r in responses} == {201}
            assert len({r.text for r in responses}) == 1  # every answer is the first answer
        rows = requests.get(f"{server.url}/api/transactions?minutes=1", timeout=5).json()["data"]
    store = app.server.extensions["monitor"].store
    try:
        assert rows[-1]["failed"] == 2
        assert store.count_rows("idempotency") == 1
        assert [c for metric, _, c in store.counts_since(0) if metric == "status:failed"] == [2]  # on disk too
    finally:
        store.close()
