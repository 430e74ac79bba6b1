"""Eight clients posting at once to the real server: every count is exact, in memory and on disk (SQLite and
PostgreSQL: ``store_url`` is parametrized)."""

from __future__ import annotations

import random
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import requests

from app import create_app
from detection import Monitor, load_thresholds
from detection.store import open_store

from .support import START_MINUTE, ServerThread, timestamp

THREADS = 8
RECORDS_PER_THREAD = 10_000
MINUTES = 20  # few minutes, so the threads keep adding to the same buckets


STATUSES = ("approved", "denied", "failed", "reversed", "backend_reversed", "refunded")


def client_records(seed: int) -> list[dict]:
    rng = random.Random(seed)
    return [
        {"timestamp": timestamp(START_MINUTE + rng.randrange(MINUTES)), "status": rng.choice(STATUSES), "count": rng.randint(1, 3)}
        for _ in range(RECORDS_PER_THREAD)
    ]


def test_eight_threads_posting_ten_thousand_records_each_give_exact_counts(store_url):
    app = create_app({"db": store_url})
    work = [client_records(seed) for seed in range(THREADS)]
    expected = Counter()
    for records in work:
        for r in records:
            expected[(r["timestamp"], r["status"])] += r["count"]

    def post_all(records: list[dict]) -> int:
        accepted = 0
        with requests.Session() as session:
            # mixed sizes: single records and batches, so both paths race each other
            index = 0
            while index < len(records):
                size = 1 if index % 1000 < 50 else 250
                chunk = records[index:index + size]
                body = chunk[0] if size == 1 else chunk
                response = session.post(f"{server.url}/api/transaction", json=body, timeout=30)
                assert response.status_code == 201, response.text
                accepted += response.json()["accepted"]
                index += size
        return accepted

    with ServerThread(app.server) as server:
        with ThreadPoolExecutor(THREADS) as pool:
            accepted = sum(pool.map(post_all, work))
        rows = requests.get(f"{server.url}/api/transactions?minutes={MINUTES}", timeout=10).json()["data"]
    app.server.extensions["monitor"].store.close()

    assert accepted == THREADS * RECORDS_PER_THREAD
    served = Counter({(r["timestamp"].replace("T", " ").rstrip("Z"), s): r[s] for r in rows for s in STATUSES})
    assert +served == expected  # unary + drops the zero cells

    # and the same on disk: a fresh engine on the same file sees the exact totals
    store = open_store(store_url)
    try:
        snap = Monitor(load_thresholds(), store).snapshot(MINUTES)
    finally:
        store.close()
    on_disk = Counter()
    for metric, column in snap.counts.items():
        if metric.startswith("status:"):
            for minute, value in zip(snap.minutes, column, strict=True):
                if value:
                    on_disk[(timestamp(minute), metric.split(":", 1)[1])] = value
    assert on_disk == expected
