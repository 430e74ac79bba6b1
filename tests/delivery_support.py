"""Shared pieces for the notification tests: real receivers, an app or a bare Delivery, incidents with real alerts."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from app import create_app
from detection.alerts import FIRING, RESOLVED, SEVERITIES, Alert, alert_id
from detection.channels import Channel
from detection.delivery import Delivery
from detection.incident_tracker import QUIET_MINUTES
from detection.incidents import (
    DENIAL_SPIKE,
    OPEN,
    PROCESSING_FAILURE,
    Driver,
    Incident,
    IncidentTransition,
)
from detection.incidents import RESOLVED as INCIDENT_RESOLVED
from detection.notify_config import DeliverySettings
from detection.silences import Silences
from detection.store import PendingWrite, SqlStore, open_store
from detection.wording import headword

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
    """Clean minutes: the alert resolves (two clean minutes, closed by a third), then its incident, once the
    quiet period has passed with no new member (closed by one more minute)."""
    for minute in range(start, start + 3 + QUIET_MINUTES + 1):
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


# ------------------------------------------------------------------ incidents
# The tracker is built on another branch; these tests hand Delivery the transitions it would, with member
# alerts that are real rows of a real store.

DASHBOARD = "http://monitor.test:8080/"
TIMINGS = {k: v for k, v in FAST.items() if k != "dashboard_url"}
SPIKE_START = int(datetime(2025, 7, 12, 13, 0, tzinfo=UTC).timestamp()) // 60
SPIKE_ID = "inc-20250712-1300-denial"
SPIKE_TITLE = "Denial spike driven by code 51 (insufficient funds)"
SPIKE_SUMMARY = ("Denials 38/min against about 4 normally (9x), 36% of all transactions, since 13:00 UTC; "
                 "approvals down 30%")
# (rule, metric, severity, minutes after the spike's start)
SPIKE_MEMBERS = (
    ("denied_high", "status:denied", "warning", 0),
    ("denied_share_high", "rate:denied", "warning", 1),
    ("auth_51_high", "auth_code:51", "critical", 1),
)


def spike_alerts(resolved: bool = False, members=SPIKE_MEMBERS) -> list[Alert]:
    """The three alerts of a denial spike, firing, or resolved 12 minutes after it began."""
    out = []
    for rule, metric, severity, offset in members:
        start = SPIKE_START + offset
        out.append(Alert(
            alert_id(rule, metric, start), rule, "poisson_tail", metric, severity,
            RESOLVED if resolved else FIRING, start, fired_at=start, resolved_at=SPIKE_START + 12 if resolved else None,
            last_breach_at=start + 5, value=38, threshold=12, expected=4.2,
            message=f"{headword(metric)}: 38/min, about 4.2/min normally (9x)", detail="p < 2e-05 over 5 min",
        ))
    return out


def save_alerts(store: SqlStore, alerts: list[Alert]) -> None:
    """Commit alerts as the Monitor would (one transaction), so Delivery finds them as members."""
    store.write(PendingWrite({}, [a.copy() for a in alerts], [], {}, {}))


def spike(alerts: list[Alert], incident_id: str = SPIKE_ID, drivers=(("auth_code:51", 0.85),),
          severity: str | None = None, title: str = SPIKE_TITLE) -> Incident:
    """The incident those alerts are symptoms of: open while any is open, its severity the highest member's."""
    is_open = any(a.is_open for a in alerts)
    worst = max((a.severity for a in alerts), key=SEVERITIES.index)
    return Incident(
        incident_id, DENIAL_SPIKE, OPEN if is_open else INCIDENT_RESOLVED, severity or worst,
        min(a.started_at for a in alerts), title, SPIKE_SUMMARY,
        resolved_at=None if is_open else max(a.resolved_at or 0 for a in alerts),
        metrics=[a.metric for a in alerts],
        drivers=[Driver(metric, share, 38 * 12 * share, 4.2 * 12 * share) for metric, share in drivers],
        alert_ids=[a.id for a in alerts], details={"rules": [a.rule for a in alerts]},
    )


def tell(delivery: Delivery, kind: str, incident: Incident) -> None:
    """What the tracker does after a commit: hand the listener the transition, with a copy of the incident."""
    delivery.incident_listener([IncidentTransition(kind, incident.copy())])


class CommittedIncidents:
    """Stands in for the tracker's incidents table: what a reconcile reads (the test says what is committed)."""

    def __init__(self, *incidents: Incident):
        self.by_id: dict[str, Incident] = {}
        self._lock = threading.Lock()  # the dispatcher reads while the test commits
        for incident in incidents:
            self.commit(incident)

    def commit(self, incident: Incident) -> Incident:
        with self._lock:
            self.by_id[incident.id] = incident.copy()
        return incident

    def __call__(self, with_resolved: bool) -> list[Incident]:
        with self._lock:
            return [i.copy() for i in self.by_id.values() if with_resolved or i.is_open]


def make_delivery(db: str, channels: list[Channel], incidents=None, clock=time.time, **settings: Any) -> Delivery:
    """A bare Delivery on a real store (an SQLite file or a PostgreSQL URL), with the test timings (``settings``
    override them)."""
    store = open_store(db)
    timing = DeliverySettings(**{**TIMINGS, **settings})
    return Delivery(store, channels, timing, Silences(store, clock), DASHBOARD, clock=clock, incidents=incidents)


def incident_of_app(app, incident_id: str = "inc-app-1") -> Incident:
    """An incident made of every alert the app's store holds (what fire() and resolve() produced)."""
    alerts = app.server.extensions["monitor"].store.alerts(None, 100)
    is_open = any(a.is_open for a in alerts)
    return Incident(
        incident_id, PROCESSING_FAILURE, OPEN if is_open else INCIDENT_RESOLVED,
        max((a.severity for a in alerts), key=SEVERITIES.index), min(a.started_at for a in alerts),
        "Processing failures (failed transactions)", "Failed 3/min against none normally, since 13:00 UTC",
        resolved_at=None if is_open else max(a.resolved_at or 0 for a in alerts),
        metrics=[a.metric for a in alerts], drivers=[Driver("status:failed", 1.0, 9, 0)],
        alert_ids=[a.id for a in alerts],
    )
