"""Shared pieces for the notification tests: an app with real channels, a burst of failures, real receivers."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Self

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from app import create_app

# One rule, quick to fire and resolve: any failed transaction fires at once; two clean minutes resolve it.
THRESHOLDS = {
    "version": 1,
    "no_data": {"after_minutes": 0},
    "rules": [
        {"id": "failed_high", "type": "threshold", "metric": "status:failed", "direction": "above",
         "threshold": 0, "for": 1, "resolve": 2, "severity": "critical"},
        {"id": "denied_high", "type": "threshold", "metric": "status:denied", "direction": "above",
         "threshold": 20, "for": 1, "resolve": 2, "severity": "warning"},
    ],
}

# Short timings so tests end quickly; every one of them is a real setting of the config file.
FAST = {
    "group_wait_seconds": 0.2,
    "timeout_seconds": 1.0,
    "max_attempts": 3,
    "backoff_seconds": 0.05,
    "backoff_max_seconds": 0.1,
    "reconcile_seconds": 0.2,
    "dashboard_url": "http://monitor.test:8080/",
}

BASE_MINUTE = "2025-07-12 13:{:02d}:00"


def write_json(folder: Path, name: str, data: Any) -> str:
    path = folder / name
    path.write_text(json.dumps(data), encoding="utf-8")
    return str(path)


def make_app(folder: Path, channels: list[dict[str, Any]], environ: dict[str, str] | None = None,
             db: str | None = None, **settings: Any):
    notify = {"version": 1, **FAST, **settings, "channels": channels}
    return create_app({
        "db": db or str(folder / "monitor.db"),
        "thresholds": write_json(folder, "thresholds.json", THRESHOLDS),
        "notifications": write_json(folder, "notify.json", notify),
        "notify_environ": environ or {},
    })


def post_minute(client, minute: int, failed: int = 0, denied: int = 5) -> dict[str, Any]:
    stamp = BASE_MINUTE.format(minute)
    body = [
        {"timestamp": stamp, "status": "approved", "count": 110},
        {"timestamp": stamp, "status": "denied", "count": denied},
        {"timestamp": stamp, "status": "failed", "count": failed},
    ]
    response = client.post("/api/transaction", json=body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def fire(client, start: int = 0) -> None:
    """Three minutes with failures: the failed_high alert fires on the first and stays firing."""
    for minute in range(start, start + 3):
        post_minute(client, minute, failed=3)


def resolve(client, start: int = 3) -> None:
    """Two clean minutes, closed by a third: the alert resolves."""
    for minute in range(start, start + 3):
        post_minute(client, minute, failed=0)


# Long enough for a loaded 2-core machine (load 6-8 with other suites beside this one); a passing test
# never waits for it, since every wait returns as soon as its condition holds.
DEADLINE = 60.0


def wait_until(predicate: Callable[[], Any], timeout: float = DEADLINE, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)


def settle(delivery, timeout: float = DEADLINE) -> None:
    """Wait until the worker has nothing more to send, so that a duplicate would already be here.

    A positive signal, not a pause: the worker has run a reconcile that began after this call, its queue
    is empty, no channel holds or is sending a notice, and every committed transition has a final outcome
    in the delivery log. Whatever a test counts after this is all there will be.
    """
    assert delivery.wait_settled(timeout), (
        f"the delivery worker did not settle within {timeout} s: {delivery.stats()}")


class SmtpSink:
    """A real SMTP server on 127.0.0.1 (aiosmtpd) that keeps what it receives and who logged in."""

    def __init__(self, login: tuple[str, str] | None = None):
        self.messages: list[Any] = []
        self.logins: list[tuple[str, str]] = []
        self._expected = login
        self.port = _free_port()
        kwargs: dict[str, Any] = {}
        if login is not None:
            kwargs = {"authenticator": self._authenticate, "auth_require_tls": False}
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port, **kwargs)

    def _authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        user = auth_data.login.decode()
        password = auth_data.password.decode()
        self.logins.append((user, password))
        return AuthResult(success=(user, password) == self._expected)

    async def handle_DATA(self, server, session, envelope) -> str:
        self.messages.append(envelope)
        return "250 OK"

    def __enter__(self) -> Self:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()


class HangingReceiver:
    """Accepts connections and reads requests but never answers: the worst kind of receiver."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections.append(conn)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(2)
        for conn in self.connections:
            conn.close()
        self.sock.close()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def log_rows(client, **params: Any) -> list[dict[str, Any]]:
    response = client.get("/api/notifications", query_string={"limit": 1000, **params})
    assert response.status_code == 200
    return response.get_json()["notifications"]
