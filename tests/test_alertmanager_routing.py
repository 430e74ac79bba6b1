"""The README's example Alertmanager config, checked by ``amtool check-config`` and loaded into a real Alertmanager:
critical incidents route to on-call, warnings to chat, and a warning is inhibited while a critical incident on
the same metric fires."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from detection.channels import AlertmanagerChannel
from detection.incident_message import Notification
from detection.incidents import OPENED

from .alertmanager_support import Alertmanager
from .delivery_support import spike, spike_alerts, wait_until

README = Path(__file__).resolve().parents[1] / "README.md"
AMTOOL = shutil.which("amtool") or "/usr/bin/amtool"


def readme_config() -> str:
    """The YAML block after "An example Alertmanager config" in the README."""
    text = README.read_text(encoding="utf-8")
    start = text.index("**An example Alertmanager config**")
    match = re.compile(r"```yaml\n(.*?)```", re.S).search(text, start)
    assert match is not None, "the README's example Alertmanager config"
    return match.group(1)


def test_amtool_accepts_the_readme_config(tmp_path):
    path = tmp_path / "alertmanager.yml"
    path.write_text(readme_config(), encoding="utf-8")
    checked = subprocess.run([AMTOOL, "check-config", str(path)], capture_output=True, text=True, timeout=60,
                             check=False)  # the code is asserted with what it printed
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS" in checked.stdout


def test_critical_pages_on_call_warnings_go_to_chat_and_a_critical_incident_inhibits_warnings_on_its_metric(
        tmp_path):
    # The README's route and inhibition rule; its receivers without integrations (nothing leaves the machine).
    config = readme_config().split("receivers:")[0] + "receivers:\n  - name: oncall\n  - name: chat\n"
    with Alertmanager(tmp_path / "alertmanager", config) as alertmanager:
        channel = AlertmanagerChannel("am", [alertmanager.url])
        denied = spike_alerts()
        failed = spike_alerts(members=(("failed_high", "status:failed", "warning", 0),))
        for note in (
            Notification(OPENED, spike(denied, "inc-critical-denied", severity="critical"), tuple(denied)),
            Notification(OPENED, spike(denied, "inc-warning-denied", severity="warning"), tuple(denied)),
            Notification(OPENED, spike(failed, "inc-warning-failed", severity="warning"), tuple(failed)),
        ):
            channel.send(note, timeout=10)

        def listed():
            alerts = {a["labels"]["incident"]: a for a in alertmanager.alerts()}
            return alerts if len(alerts) == 3 else None

        alerts = wait_until(listed, what="the three incidents in Alertmanager")

    routed = {incident: ([r["name"] for r in a["receivers"]], a["status"]["state"], bool(a["status"]["inhibitedBy"]))
              for incident, a in alerts.items()}
    assert routed == {
        "inc-critical-denied": (["oncall"], "active", False),
        "inc-warning-denied": (["chat"], "suppressed", True),  # a critical incident on status:denied fires
        "inc-warning-failed": (["chat"], "active", False),  # another metric: not inhibited
    }
