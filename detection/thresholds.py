"""The thresholds file: which rules are in force, read and validated on load.

Format (version 1), documented in the README::

    {"version": 1,
     "provenance": {...},                       # who wrote it, from what data
     "statuses": [...], "auth_codes": [...],    # optional: what the feeds may send
     "no_data": {"after_minutes": 5, "severity": "critical"},
     "feed_gap": {"severity": "warning"},
     "incidents": {"quiet_minutes": 5},         # optional: minutes an incident stays open after its last alert
     "rules": [{"id": "...", "type": "threshold", "metric": "status:failed", ...}]}

Every error names the file and the field (``rules[2].for``), never a traceback.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .alerts import SEVERITIES
from .json_files import read_json_file
from .metrics import (
    DEFAULT_AUTH_CODES,
    DEFAULT_STATUSES,
    auth_code_metric,
    rate_metric,
    status_metric,
)
from .rules import RULE_TYPES, ConfigError, FieldReader, Rule
from .slices import (
    DIMENSION_NAME,
    MAX_DIMENSIONS,
    MAX_PAIRS,
    MAX_VALUES_PER_DIMENSION,
    OVERFLOW_MODES,
    Dimension,
    label_problem,
    parse_slice_key,
)

FORMAT_VERSION = 1
MAX_QUIET_MINUTES = 24 * 60
_NAME = re.compile(r"[A-Za-z0-9_.-]+")
DEFAULT_THRESHOLDS_PATH = Path(__file__).with_name("default_thresholds.json")


@dataclass(frozen=True)
class Thresholds:
    rules: tuple[Rule, ...]
    statuses: tuple[str, ...] = DEFAULT_STATUSES
    auth_codes: tuple[str, ...] = DEFAULT_AUTH_CODES
    no_data_minutes: int = 5
    no_data_severity: str = "critical"
    feed_gap_severity: str = "warning"
    incident_quiet_minutes: int = 5  # event-time minutes an incident stays open after its last member resolved
    provenance: dict[str, Any] = field(default_factory=dict)
    source: str = "built-in defaults"
    # Labels records may carry, and pairs of them kept together (detection/slices.py); none: no slices.
    dimensions: tuple[Dimension, ...] = ()
    dimension_pairs: tuple[tuple[str, str], ...] = ()

    def metrics(self) -> list[str]:
        return known_metrics(self.statuses, self.auth_codes)

    def runbooks(self) -> dict[str, str]:
        """Rule id -> ``runbook_url``, for the rules that have one."""
        return {rule.id: rule.runbook_url for rule in self.rules if rule.runbook_url}

    def to_config(self) -> dict[str, Any]:
        return {
            "version": FORMAT_VERSION,
            "provenance": self.provenance,
            "statuses": list(self.statuses),
            "auth_codes": list(self.auth_codes),
            "no_data": {"after_minutes": self.no_data_minutes, "severity": self.no_data_severity},
            "feed_gap": {"severity": self.feed_gap_severity},
            "incidents": {"quiet_minutes": self.incident_quiet_minutes},
            **({"dimensions": {d.name: d.to_config() for d in self.dimensions}} if self.dimensions else {}),
            **({"dimension_pairs": [list(p) for p in self.dimension_pairs]} if self.dimension_pairs else {}),
            "rules": [rule.to_config() for rule in self.rules],
        }


def known_metrics(statuses: tuple[str, ...], auth_codes: tuple[str, ...]) -> list[str]:
    return (
        [status_metric(s) for s in statuses]
        + [auth_code_metric(c) for c in auth_codes]
        + [rate_metric(s) for s in statuses]
    )


def parse_thresholds(data: Any, source: str) -> Thresholds:
    """Build ``Thresholds`` from the parsed JSON of a thresholds file."""
    top = FieldReader(data, source)
    version = top.int("version", minimum=1)
    if version != FORMAT_VERSION:
        raise ConfigError(f"{source}.version: this monitor reads version {FORMAT_VERSION}, got {version}")
    statuses = _names(data, "statuses", DEFAULT_STATUSES, source)
    auth_codes = _names(data, "auth_codes", DEFAULT_AUTH_CODES, source)
    metrics = known_metrics(statuses, auth_codes)

    no_data = FieldReader(data.get("no_data", {}), f"{source}.no_data")
    no_data_minutes = no_data.int("after_minutes", 5, minimum=0)  # 0 turns the no-data alert off
    no_data_severity = no_data.text("severity", "critical", SEVERITIES)
    no_data.reject_unknown()
    feed_gap = FieldReader(data.get("feed_gap", {}), f"{source}.feed_gap")
    feed_gap_severity = feed_gap.text("severity", "warning", SEVERITIES)
    feed_gap.reject_unknown()
    incidents = FieldReader(data.get("incidents", {}), f"{source}.incidents")
    # At most a day: an incident that never resolves would hide the next one behind it.
    incident_quiet_minutes = incidents.int("quiet_minutes", 5, minimum=0)
    if incident_quiet_minutes > MAX_QUIET_MINUTES:
        raise ConfigError(f"{source}.incidents.quiet_minutes: expected an integer from 0 to {MAX_QUIET_MINUTES}, "
                          f"got {incident_quiet_minutes}")
    incidents.reject_unknown()

    dimensions = _dimensions(data.get("dimensions", {}), f"{source}.dimensions")
    pairs = _pairs(data.get("dimension_pairs", []), f"{source}.dimension_pairs", dimensions)

    provenance = data.get("provenance", {})
    if not isinstance(provenance, dict):
        raise ConfigError(f"{source}.provenance: expected an object")

    raw_rules = data.get("rules")
    if not isinstance(raw_rules, list):
        raise ConfigError(f"{source}.rules: expected an array of rules")
    rules: list[Rule] = []
    seen_ids: set[str] = set()
    for index, raw in enumerate(raw_rules):
        where = f"{source}.rules[{index}]"
        reader = FieldReader(raw, where)
        rule_type = reader.text("type")
        rule_cls = RULE_TYPES.get(rule_type)
        if rule_cls is None:
            raise ConfigError(f"{where}.type: unknown rule type {rule_type!r}; expected one of {', '.join(sorted(RULE_TYPES))}")
        runbook = _runbook_url(reader)
        by, slice_ratios = _by(reader, dimensions, pairs)
        rule = rule_cls.from_config(reader, metrics)
        rule.runbook_url = runbook
        if by:
            if not rule.sliceable:
                raise ConfigError(f"{where}.by: only poisson_tail rules can be judged per slice; "
                                  f"a {rule_type} rule watches the global series")
            rule.by, rule.slice_ratios = by, slice_ratios
        if rule.id in seen_ids:
            raise ConfigError(f"{where}.id: duplicate rule id {rule.id!r}")
        seen_ids.add(rule.id)
        rules.append(rule)
    top.used.update({"statuses", "auth_codes", "no_data", "feed_gap", "incidents", "provenance", "rules", "description",
                     "dimensions", "dimension_pairs"})
    top.reject_unknown()
    return Thresholds(
        rules=tuple(rules),
        statuses=statuses,
        auth_codes=auth_codes,
        no_data_minutes=no_data_minutes,
        no_data_severity=no_data_severity,
        feed_gap_severity=feed_gap_severity,
        incident_quiet_minutes=incident_quiet_minutes,
        provenance=provenance,
        source=source,
        dimensions=dimensions,
        dimension_pairs=pairs,
    )


def _dimensions(raw: Any, where: str) -> tuple[Dimension, ...]:
    """``{"acquirer": {"max_values": 50, "overflow": "other"}, ...}``."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected an object of dimension name -> {{\"max_values\": N}}")
    if len(raw) > MAX_DIMENSIONS:
        raise ConfigError(f"{where}: {len(raw)} dimensions; at most {MAX_DIMENSIONS}")
    out = []
    for name, spec in raw.items():
        if not DIMENSION_NAME.fullmatch(name):
            raise ConfigError(f"{where}: {name!r} is not a dimension name (lower-case letters, digits and '_', "
                              "starting with a letter, at most 32)")
        reader = FieldReader(spec, f"{where}.{name}")
        max_values = reader.int("max_values", 100, minimum=1)
        if max_values > MAX_VALUES_PER_DIMENSION:
            raise ConfigError(f"{where}.{name}.max_values: at most {MAX_VALUES_PER_DIMENSION}, got {max_values}")
        overflow = reader.text("overflow", "other", OVERFLOW_MODES)
        reader.reject_unknown()
        out.append(Dimension(name, max_values, overflow))
    return tuple(out)


def _pairs(raw: Any, where: str, dimensions: tuple[Dimension, ...]) -> tuple[tuple[str, str], ...]:
    """``[["acquirer", "brand"]]``: slices by two configured dimensions at once."""
    names = {d.name for d in dimensions}
    if not isinstance(raw, list) or len(raw) > MAX_PAIRS:
        raise ConfigError(f"{where}: expected an array of at most {MAX_PAIRS} pairs such as [\"acquirer\", \"brand\"]")
    out: list[tuple[str, str]] = []
    for index, pair in enumerate(raw):
        if (not isinstance(pair, list) or len(pair) != 2 or not all(isinstance(p, str) for p in pair)
                or pair[0] == pair[1]):
            raise ConfigError(f"{where}[{index}]: expected two different dimension names, got {pair!r}")
        unknown = [p for p in pair if p not in names]
        if unknown:
            raise ConfigError(f"{where}[{index}]: {unknown[0]!r} is not a configured dimension")
        if (pair[0], pair[1]) in out or (pair[1], pair[0]) in out:
            raise ConfigError(f"{where}[{index}]: the pair {pair!r} is listed twice")
        out.append((pair[0], pair[1]))
    return tuple(out)


def _by(reader: FieldReader, dimensions: tuple[Dimension, ...],
        pairs: tuple[tuple[str, str], ...]) -> tuple[tuple[str, ...], dict[str, float]]:
    """A rule's ``by`` (a dimension, or a configured pair) and its per-slice ``slices`` ratios."""
    reader.used.update({"by", "slices"})
    raw = reader.obj.get("by")
    if raw is None:
        if "slices" in reader.obj:
            raise ConfigError(f"{reader.where}.slices: only a rule with \"by\" has per-slice values")
        return (), {}
    names = {d.name for d in dimensions}
    if not isinstance(raw, list) or not raw or not all(isinstance(d, str) for d in raw):
        raise ConfigError(f"{reader.where}.by: expected an array of dimension names such as [\"acquirer\"]")
    unknown = [d for d in raw if d not in names]
    if unknown:
        configured = ", ".join(sorted(names)) or "none are (the file has no \"dimensions\")"
        raise ConfigError(f"{reader.where}.by: {unknown[0]!r} is not a configured dimension; configured: {configured}")
    if len(raw) == 2 and tuple(raw) not in pairs:
        raise ConfigError(f"{reader.where}.by: {raw!r} is not a configured pair (\"dimension_pairs\")")
    if len(raw) > 2:
        raise ConfigError(f"{reader.where}.by: one dimension or a configured pair of two, got {len(raw)}")
    slices = reader.obj.get("slices", {})
    if not isinstance(slices, dict):
        raise ConfigError(f"{reader.where}.slices: expected an object of slice -> ratio")
    ratios: dict[str, float] = {}
    for key, ratio in slices.items():
        try:
            parts = parse_slice_key(key)
        except ValueError as exc:
            raise ConfigError(f"{reader.where}.slices: {exc}") from None
        if [d for d, _v in parts] != list(raw) or any(label_problem(v) for _d, v in parts):
            raise ConfigError(f"{reader.where}.slices: {key!r} is not a slice of {','.join(raw)} "
                              f"such as '{raw[0]}=value'")
        if isinstance(ratio, bool) or not isinstance(ratio, (int, float)) or not 0 <= ratio < float("inf"):
            raise ConfigError(f"{reader.where}.slices.{key}: expected a non-negative number, got {ratio!r}")
        ratios[key] = float(ratio)
    return tuple(raw), ratios


MAX_RUNBOOK_URL = 2000


def _runbook_url(reader: FieldReader) -> str:
    """A rule's optional ``runbook_url``: an http(s) URL of at most MAX_RUNBOOK_URL characters."""
    reader.used.add("runbook_url")
    url = reader.obj.get("runbook_url", "")
    if not isinstance(url, str) or (url and (not url.startswith(("http://", "https://")) or len(url) > MAX_RUNBOOK_URL
                                             or any(c.isspace() for c in url))):
        raise ConfigError(f"{reader.where}.runbook_url: expected an http:// or https:// URL of at most "
                          f"{MAX_RUNBOOK_URL} characters without spaces, got {url!r}")
    return url


def _names(data: dict[str, Any], key: str, default: tuple[str, ...], source: str) -> tuple[str, ...]:
    if key not in data:
        return default
    value = data[key]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
        raise ConfigError(f"{source}.{key}: expected a non-empty array of strings, got {value!r}")
    if len(set(value)) != len(value):
        raise ConfigError(f"{source}.{key}: has duplicates")
    odd = [v for v in value if not _NAME.fullmatch(v)]
    if odd:
        raise ConfigError(f"{source}.{key}: {odd[0]!r} is not a plain name (letters, digits, '_', '-', '.')")
    return tuple(value)


def load_thresholds(path: str | Path | None = None) -> Thresholds:
    """Read a thresholds file, or the built-in defaults when ``path`` is None."""
    file = Path(path) if path is not None else DEFAULT_THRESHOLDS_PATH
    name = str(path) if path is not None else "built-in defaults"
    data = read_json_file(file, "thresholds file")
    return parse_thresholds(data, name)


def write_thresholds(thresholds: Thresholds, path: str | Path) -> None:
    """Write atomically, so a reader never sees half a file."""
    target = Path(path)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(json.dumps(thresholds.to_config(), indent=2) + "\n", encoding="utf-8")
    tmp.replace(target)
