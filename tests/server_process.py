"""The real monitor as a child process, for the tests that kill it: start it and wait until it answers,
``kill -9`` it, and never leave one running when a test fails."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
START_SECONDS = 60  # a cold start on a loaded 2-core machine


def start_server(args: Sequence[str], port: int, log: Path | None = None) -> subprocess.Popen:
    """``python <args>`` from the project root; returns once /api/health answers 200 on ``port``.

    ``log``: a file for the server's output (what a failing test may want to show), else it is dropped.
    """
    output = subprocess.DEVNULL if log is None else log.open("ab")
    try:
        process = subprocess.Popen([sys.executable, *args], cwd=ROOT, stdout=output, stderr=output)
    finally:
        if log is not None:
            output.close()  # the child holds its own copy
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the monitor exited with code {process.returncode} while starting")
        try:
            if requests.get(f"http://127.0.0.1:{port}/api/health", timeout=1).status_code == 200:
                return process
        except requests.RequestException:  # not listening yet, or too busy to answer within 1 s
            time.sleep(0.1)
    process.kill()
    process.wait(timeout=10)
    raise AssertionError(f"the monitor did not start within {START_SECONDS} s")


def start_monitor(db_path: str, port: int) -> subprocess.Popen:
    """``python app.py`` on the store file ``db_path``."""
    return start_server(["app.py", "--db", db_path, "--port", str(port)], port)


def kill_9(process: subprocess.Popen) -> None:
    """SIGKILL, as a crash or the OOM killer would: no handler, no flush, no clean shutdown."""
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)


@contextmanager
def reaped(process: subprocess.Popen) -> Iterator[subprocess.Popen]:
    """The process, killed on the way out if it still runs (a failing test must not leave a server behind)."""
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)
