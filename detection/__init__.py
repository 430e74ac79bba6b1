"""The monitoring engine: a library with no web imports.

Use ``Monitor(load_thresholds(path), Store(db_path))``, feed it records that
``validate_records`` produced, and read ``Monitor.snapshot()`` / ``Monitor.alerts()``.
"""

from . import drop_rule, drop_sequential, rhythm, stat_rules  # noqa: F401  register drop, sequential_drop, profile_drop, poisson_tail, seasonal, rate
from .alerts import FIRING, PENDING, RESOLVED, Alert, Transition
from .monitor import IdempotencyConflict, IngestResult, Monitor, MonitorSettings
from .records import CountRecord, RecordValidationError, validate_records
from .rules import RULE_TYPES, ConfigError, Judgement, Rule, ThresholdRule, register_rule
from .snapshot import FeedStatus, Snapshot
from .store import Store, StoreError
from .thresholds import Thresholds, load_thresholds, parse_thresholds

__all__ = [
    "FIRING",
    "PENDING",
    "RESOLVED",
    "RULE_TYPES",
    "Alert",
    "ConfigError",
    "CountRecord",
    "IdempotencyConflict",
    "IngestResult",
    "Judgement",
    "Monitor",
    "MonitorSettings",
    "RecordValidationError",
    "Rule",
    "Snapshot",
    "FeedStatus",
    "Store",
    "StoreError",
    "ThresholdRule",
    "Thresholds",
    "Transition",
    "load_thresholds",
    "parse_thresholds",
    "register_rule",
    "validate_records",
]

__version__ = "0.1.0"
