"""Incidents are durable like alerts: the real server is kill -9'd in the middle of one, and after the restart the
same incident (same id, same member alerts) continues and resolves; no second incident is opened."""

from __future__ import annotations

import requests

from .server_process import kill_9, reaped, start_monitor
from .support import START_MINUTE, StatusFeed, free_port

BASELINE = 90  # steady minutes: the rules' windows and the 60-minute baselines fill up


class HttpFeed(StatusFeed):
    """The same minutes as StatusFeed, posted over HTTP to a running server."""

    def __init__(self, url: str, start: int = START_MINUTE):
        self.url = url
        self.minute = start
        self.posted: dict[int, dict[str, int]] = {}

    def post(self, minutes: int = 1, **changes: int) -> None:
        for _ in range(minutes):
            statuses, codes = self.records(self.minute, **changes)
            for route, body in (("transaction", statuses), ("auth_code", codes)):
                response = requests.post(f"{self.url}/api/{route}", json=body, timeout=30)
                assert response.status_code == 201, response.text
            self.minute += 1


def incidents(url: str) -> list[dict]:
    response = requests.get(f"{url}/api/incidents", params={"state": "all"}, timeout=30)
    assert response.status_code == 200
    return response.json()["incidents"]


def test_an_open_incident_survives_kill_9_and_resolves_as_the_same_incident(tmp_path):
    db_path = str(tmp_path / "monitor.db")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    feed = HttpFeed(url)
    with reaped(start_monitor(db_path, port)) as process:
        feed.post(BASELINE)
        feed.post(10, c51=32, c59=8)  # a denial spike, mostly insufficient funds: still going on at the crash
        (before,) = incidents(url)
        assert (before["state"], before["kind"]) == ("open", "denial_spike")
        assert len(before["alerts"]) >= 2
        kill_9(process)

    with reaped(start_monitor(db_path, port)):
        (after,) = incidents(url)
        assert after == before  # everything the 201s acknowledged, nothing more, nothing less
        feed.post(5, c51=32, c59=8)  # the spike goes on after the restart: its alerts stay in the same incident
        feed.post(60)  # then back to normal until every member and the incident have resolved
        (resolved,) = incidents(url)
        assert (resolved["id"], resolved["state"], resolved["kind"]) == (before["id"], "resolved", "denial_spike")
        assert set(before["alerts"]) <= set(resolved["alerts"])
        alerts = requests.get(f"{url}/api/alerts", params={"limit": 100}, timeout=30).json()["alerts"]
        assert {a["incident_id"] for a in alerts if a["fired_at"]} == {before["id"]}
