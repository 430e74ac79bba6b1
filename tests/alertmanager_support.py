"""Debian's real Alertmanager and Prometheus as child processes on 127.0.0.1: free ports, a temporary config and
data directory each, ready when ``/-/ready`` answers, stopped (and never left running) after."""

from __future__ import annotations

import shutil
import socket
import subprocess
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, Self

import requests

from .delivery_support import wait_until

ALERTMANAGER = shutil.which("prometheus-alertmanager") or "/usr/bin/prometheus-alertmanager"
PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"
# A cold start of a Go binary on a loaded 2-core machine (load ~8); a passing test never waits for all of it.
READY_SECONDS = 90.0

# Every alert to one receiver that sends nowhere: the tests read what Alertmanager holds, not what it sends.
ALERTMANAGER_CONFIG = """\
global:
  resolve_timeout: 5m
route:
  receiver: "null"
  group_wait: 1s
receivers:
  - name: "null"
"""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Program(ABC):
    """One real program: ``start`` waits for ``/-/ready``; ``stop`` ends it (SIGTERM, then SIGKILL)."""

    name = "program"

    def __init__(self, folder: Path):
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        self.log = folder / "output.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @abstractmethod
    def command(self) -> list[str]:
        """The program's command line (each program's own flags)."""

    def start(self) -> Self:
        with self.log.open("ab") as output:
            self.process = subprocess.Popen(self.command(), stdout=output, stderr=output, cwd=self.folder)
        try:
            wait_until(self._ready, timeout=READY_SECONDS, what=f"{self.name} ready")
        except AssertionError:
            self.stop()
            raise
        return self

    def _ready(self) -> bool:
        """Whether it answers /-/ready; a process that exited while starting fails at once, with its output."""
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"{self.name} exited with code {self.process.returncode} while starting:\n"
                                 + self.log.read_text(errors="replace")[-3000:])
        try:
            return requests.get(f"{self.url}/-/ready", timeout=1).status_code == 200
        except requests.RequestException:  # not listening yet
            return False

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=30)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class Alertmanager(_Program):
    """``prometheus-alertmanager`` with clustering off; the same port and data directory across restarts."""

    name = "Alertmanager"

    def __init__(self, folder: Path, config: str = ALERTMANAGER_CONFIG):
        super().__init__(folder)
        (folder / "alertmanager.yml").write_text(config, encoding="utf-8")

    def command(self) -> list[str]:
        return [ALERTMANAGER, f"--config.file={self.folder / 'alertmanager.yml'}",
                f"--storage.path={self.folder / 'data'}", f"--web.listen-address=127.0.0.1:{self.port}",
                "--cluster.listen-address=", "--log.level=warn"]

    def alerts(self, **filters: str) -> list[dict[str, Any]]:
        """``GET /api/v2/alerts``: active (not resolved) alerts by default, as Alertmanager lists them."""
        response = requests.get(f"{self.url}/api/v2/alerts", params={"active": "true", **filters}, timeout=5)
        response.raise_for_status()
        return response.json()

    def alerts_or_none(self) -> list[dict[str, Any]] | None:
        """Like ``alerts``, or None while it does not answer (restarting)."""
        try:
            return self.alerts()
        except requests.RequestException:
            return None


class Prometheus(_Program):
    """``prometheus`` scraping one target every second."""

    name = "Prometheus"

    def __init__(self, folder: Path, target: str):
        super().__init__(folder)
        (folder / "prometheus.yml").write_text(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
            "scrape_configs:\n  - job_name: transaction-monitor\n"
            f"    static_configs:\n      - targets: [\"{target}\"]\n", encoding="utf-8")

    def command(self) -> list[str]:
        return [PROMETHEUS, f"--config.file={self.folder / 'prometheus.yml'}",
                f"--storage.tsdb.path={self.folder / 'data'}", f"--web.listen-address=127.0.0.1:{self.port}",
                "--log.level=warn"]

    def query(self, promql: str) -> list[dict[str, Any]]:
        """``/api/v1/query``: the instant vector's samples (``metric``, ``value``)."""
        response = requests.get(f"{self.url}/api/v1/query", params={"query": promql}, timeout=5)
        response.raise_for_status()
        body = response.json()
        assert body["status"] == "success", body
        return body["data"]["result"]
