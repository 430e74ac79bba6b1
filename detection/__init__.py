"""The monitoring engine: a library with no web imports.

Use ``Monitor(load_thresholds(path), Store(db_path))``, feed it records that
``validate_records`` produced, and read ``Monitor.snapshot()`` / ``Monitor.alerts()``.
"""

from . import stat_rules  # noqa: F401  registers the statistical rule types (poisson_tail, seasonal, rate)
from .alerts import FIRING, PENDING, RESOLVED, Alert, Transition
from .monitor import IdempotencyConflict, IngestResult, Monitor, MonitorSettings, Snapshot
from .records import CountRecord, RecordValidationError, validate_records
from .rules import RULE_TYPES, ConfigError, Judgement, Rule, ThresholdRule, register_rule
from .store import Store, StoreError
from .thresholds import Thresholds, load_thresholds, parse_thresholds

__all__ = [
    "FIRING", "PENDING", "RESOLVED", "Alert", "Transition",
    "IdempotencyConflict", "IngestResult", "Monitor", "MonitorSettings", "Snapshot",
    "CountRecord", "RecordValidationError", "validate_records",
    "RULE_TYPES", "ConfigError", "Judgement", "Rule", "ThresholdRule", "register_rule",
    "Store", "StoreError", "Thresholds", "load_thresholds", "parse_thresholds",
]

__version__ = "0.1.0"
