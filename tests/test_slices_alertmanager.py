"""A slice's incident reaches a real Alertmanager with a label per dimension of its slice (routable per acquirer)."""

from __future__ import annotations

from app import create_app

from .alertmanager_support import Alertmanager
from .delivery_support import FAST, settle, wait_until, write_json
from .test_slices_api import THRESHOLDS, minute


def test_an_acquirers_incident_carries_the_acquirer_as_a_label(tmp_path):
    with Alertmanager(tmp_path / "alertmanager") as alertmanager:
        app = create_app({
            "db": str(tmp_path / "monitor.db"),
            "thresholds": write_json(tmp_path, "thresholds.json", THRESHOLDS),
            "notifications": write_json(tmp_path, "notify.json", {"version": 1, **FAST, "channels": [
                {"type": "alertmanager", "name": "am", "urls": [alertmanager.url]}]}),
        })
        delivery = app.server.extensions["delivery"].start()
        client = app.server.test_client()
        try:
            for m in range(30):
                assert client.post("/api/transaction", json=minute(m)).status_code == 201
            for m in range(30, 36):
                assert client.post("/api/transaction", json=minute(m, boost=4)).status_code == 201
            (incident,) = app.server.extensions["monitor"].incidents()
            (listed,) = wait_until(lambda: [a for a in alertmanager.alerts()
                                            if a["labels"].get("incident") == incident.id],
                                   30, "Alertmanager to list the acquirer's incident")
            settle(delivery)
        finally:
            delivery.stop()
            app.server.extensions["monitor"].store.close()
    assert listed["labels"]["acquirer"] == "acq-07"
    assert listed["labels"]["metric"] == "status:denied@acquirer=acq-07"
    assert listed["labels"]["alertname"] == "denial_spike"
    assert listed["annotations"]["summary"] == "Denial spike at acquirer acq-07"
