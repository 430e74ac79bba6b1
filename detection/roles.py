"""Which instance leads (judges rules, delivers notifications), as /api/health, /metrics and serve() ask it.

One instance on SQLite leads alone (``SoleInstance``); several on PostgreSQL elect one
(detection/cluster.py). Both answer the same questions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from .ingest_log import Leader

LEADER = "leader"
STANDBY = "standby"


class Roles(Protocol):
    """This instance's place among the instances sharing its store."""

    instance: str

    @property
    def role(self) -> str: ...

    def leader(self) -> Leader | None:
        """Who leads and since when (None: not known, the store cannot be read)."""

    def start(self) -> object: ...

    def stop(self, timeout: float = 5.0) -> None: ...


@dataclass
class SoleInstance:
    """One instance on its own store (SQLite): it leads from the moment it starts."""

    instance: str
    started: float

    @property
    def role(self) -> str:
        return LEADER

    def leader(self) -> Leader | None:
        return Leader(self.instance, self.started, 1)

    def start(self) -> SoleInstance:
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Nothing runs: there is nobody to hand over to."""
