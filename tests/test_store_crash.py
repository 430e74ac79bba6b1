"""An arbitrary error in the middle of a group commit on the real server, then kill -9: every request of
the failed batch got 503 and none of it is stored; every acknowledged record is there, exactly."""

from __future__ import annotations

import subprocess
import threading
import time
from datetime import datetime

import requests

from detection.metrics import datetime_to_minute

from .server_process import kill_9, reaped, start_monitor, start_server
from .support import START_MINUTE, free_port, timestamp

HOLD, FAIL = START_MINUTE + 1, START_MINUTE + 2  # the held batch, and the minute whose write raises


def start_faulty(db_path: str, port: int, release_file: str) -> subprocess.Popen:
    return start_server(["-m", "tests.faulty_server", "--db", db_path, "--port", str(port), "--fail-minute", str(FAIL),
                         "--hold-minute", str(HOLD), "--release-file", release_file], port)


def ingested(url: str) -> dict[str, float]:
    """monitor_ingested_transactions_total per status, from /metrics."""
    out = {}
    for line in requests.get(f"{url}/metrics", timeout=10).text.splitlines():
        if line.startswith("monitor_ingested_transactions_total{"):
            status = line.split('"')[1]
            out[status] = float(line.rsplit(" ", 1)[1])
    return out


def test_a_fault_mid_group_commit_then_kill_9_keeps_exactly_the_acknowledged_records(db_path, tmp_path):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    release = tmp_path / "release"
    acked: dict[tuple[int, str], int] = {}

    def post(minute: int, status: str, count: int) -> int:
        body = {"timestamp": timestamp(minute), "status": status, "count": count}
        code = requests.post(f"{url}/api/transaction", json=body, timeout=60).status_code
        if code == 201:
            acked[(minute, status)] = acked.get((minute, status), 0) + count
        return code

    with reaped(start_faulty(db_path, port, str(release))) as process:
        assert post(START_MINUTE, "approved", 100) == 201
        codes: dict[str, int] = {}

        def post_in_thread(name: str, minute: int, status: str, count: int) -> threading.Thread:
            thread = threading.Thread(target=lambda: codes.__setitem__(name, post(minute, status, count)))
            thread.start()
            return thread

        threads = [post_in_thread("held", HOLD, "refunded", 1)]  # its commit waits for the release file
        deadline = time.monotonic() + 60
        while ingested(url).get("refunded") != 1:
            assert time.monotonic() < deadline, "the held request was never staged"
            time.sleep(0.05)
        # Six requests queue behind it: one group commit, which fails after BEGIN on the FAIL minute.
        threads += [post_in_thread(f"ok{i}", START_MINUTE + 3 + i, "approved", 10) for i in range(5)]
        threads.append(post_in_thread("poison", FAIL, "failed", 7))
        while ingested(url).get("approved") != 150 or ingested(url).get("failed") != 7:
            assert time.monotonic() < deadline, "the six requests were never staged"
            time.sleep(0.05)
        release.touch()
        for thread in threads:
            thread.join(60)
            assert not thread.is_alive(), "a request never got an answer"
        assert codes == {"held": 201, "poison": 503, **{f"ok{i}": 503 for i in range(5)}}
        after = ingested(url)
        assert (after["approved"], after["failed"], after["refunded"]) == (100, 0, 1)  # counters taken back

        for i in range(20):  # acknowledged after the failure, some on the failed batch's minutes
            assert post(START_MINUTE + 3 + i % 8, "approved", i + 1) == 201
        assert requests.get(f"{url}/api/health", timeout=10).status_code == 200
        kill_9(process)

    with reaped(start_monitor(db_path, port)):
        rows = requests.get(f"{url}/api/transactions?minutes=30", timeout=10).json()["data"]
        stored = {}
        for row in rows:
            minute = datetime_to_minute(datetime.fromisoformat(row["timestamp"].replace("Z", "+00:00")))
            for status in ("approved", "failed", "refunded"):
                if row[status]:
                    stored[(minute, status)] = row[status]
        assert stored == acked
        assert (FAIL, "failed") not in stored
