"""Dimensions and slices: the names of per-acquirer (merchant, brand, ...) series, and the labels a record may carry.

A record may carry ``labels`` (``{"acquirer": "acq-07", "brand": "visa"}``) for the dimensions the
thresholds file configures. It then counts in the global series as before, and once more in each of its
*slices*: one per dimension it carries (``acquirer=acq-07``) and one per configured pair of dimensions
(``acquirer=acq-07,brand=visa``). A slice's series of a metric is named ``<metric>@<slice key>``
(``status:denied@acquirer=acq-07``): the store, the alerts and the API use that name.

Cardinality is bounded per dimension (``max_values``): a value first seen once a dimension holds that many
either folds into the value ``other`` or, with ``"overflow": "reject"``, makes the request a 422. The
``LabelPolicy`` keeps which values each dimension holds; it belongs to one Monitor (it is seeded from the
store when the Monitor loads) and is safe to use from several request threads.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .records import CountRecord

SLICE_SEPARATOR = "@"
OTHER = "other"  # the value that values past a dimension's cap fold into
OVERFLOW_MODES = ("other", "reject")
DIMENSION_NAME = re.compile(r"[a-z][a-z0-9_]{0,31}")
MAX_DIMENSIONS = 8
MAX_PAIRS = 8
MAX_VALUES_PER_DIMENSION = 5000
MAX_LABEL_CHARS = 64
MAX_CHECKED_LABEL_SETS = 200_000  # label sets whose check is remembered (past it, checked each time)
MAX_SETTLED = 500_000  # slice feeds remembered as needing no folding (past it, they are checked each time)
# A label value: printable ASCII without the characters slice names and stored rows are made of ('@', ',',
# '=', '|', ';'), no space at either end. The same pattern is in the OpenAPI document (a schema-valid value is accepted).
LABEL_PATTERN = r"^[!-+\x2d-:<>?A-{}~]([ -+\x2d-:<>?A-{}~]*[!-+\x2d-:<>?A-{}~])?$"
_LABEL = re.compile(LABEL_PATTERN[1:-1])  # (used with fullmatch: "$" would let a final newline in)


@dataclass(frozen=True)
class Dimension:
    """A label a record may carry, e.g. ``acquirer``; at most ``max_values`` distinct values are kept."""

    name: str
    max_values: int = 100
    overflow: str = "other"

    def to_config(self) -> dict[str, Any]:
        return {"max_values": self.max_values, "overflow": self.overflow}


def slice_key(pairs: Sequence[tuple[str, str]]) -> str:
    """``[("acquirer", "acq-07"), ("brand", "visa")]`` -> ``acquirer=acq-07,brand=visa``."""
    return ",".join(f"{dim}={value}" for dim, value in pairs)


def parse_slice_key(key: str) -> list[tuple[str, str]]:
    """The inverse of ``slice_key``; raises ValueError for a malformed key."""
    out = []
    for part in key.split(","):
        dim, sep, value = part.partition("=")
        if not sep or not dim or not value:
            raise ValueError(f"{key!r} is not a slice such as 'acquirer=acq-07' or 'acquirer=acq-07,brand=visa'")
        out.append((dim, value))
    return out


def slice_dimension(key: str) -> str:
    """The dimension (or pair, ``acquirer,brand``) a slice key belongs to."""
    return ",".join(dim for dim, _value in parse_slice_key(key))


def slice_value(key: str) -> str:
    """The value part of a slice key: ``acq-07``, or ``acq-07,visa`` for a pair."""
    return ",".join(value for _dim, value in parse_slice_key(key))


def slice_metric(metric: str, key: str) -> str:
    return f"{metric}{SLICE_SEPARATOR}{key}"


def split_slice(metric: str) -> tuple[str, str]:
    """``status:denied@acquirer=acq-07`` -> (``status:denied``, ``acquirer=acq-07``); a global metric -> (metric, '')."""
    base, _sep, key = metric.partition(SLICE_SEPARATOR)
    return base, key


def slice_feed(feed: str, key: str) -> str:
    """The store's row key for a slice's counts of one feed (``status@acquirer=acq-07``)."""
    return f"{feed}{SLICE_SEPARATOR}{key}"


def is_slice(name: str) -> bool:
    return SLICE_SEPARATOR in name


def slice_words(key: str) -> str:
    """``acquirer=acq-07`` -> 'acquirer acq-07'; a pair -> 'acquirer acq-07, brand visa'."""
    return ", ".join(f"{dim.replace('_', ' ')} {value}" for dim, value in parse_slice_key(key))


def label_problem(value: Any) -> str | None:
    """Why ``value`` cannot be a label value, or None when it can."""
    if not isinstance(value, str):
        return f"must be a string, got {type(value).__name__}"
    if not value:
        return "must not be empty"
    if len(value) > MAX_LABEL_CHARS:
        return f"is {len(value)} characters long; a label value has at most {MAX_LABEL_CHARS}"
    if not _LABEL.fullmatch(value):
        return ("must be printable ASCII without '@', ',', '=', '|' or ';', and without a space at either end, "
                f"got {value[:40]!r}")
    return None


class LabelRefused(ValueError):
    """A label the policy refuses; ``field`` names it (``labels.brand``)."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


class LabelPolicy:
    """Which dimensions records may carry, and the values each one holds (bounded by its ``max_values``)."""

    def __init__(self, dimensions: Sequence[Dimension] = (), pairs: Sequence[tuple[str, str]] = ()):
        self.dimensions = {d.name: d for d in dimensions}
        self.pairs = tuple(tuple(p) for p in pairs)
        self._pairs_of: dict[str, list[tuple[str, str]]] = {}
        for pair in self.pairs:
            self._pairs_of.setdefault(pair[0], []).append(pair)  # type: ignore[arg-type]
        self._values: dict[str, set[str]] = {name: set() for name in self.dimensions}
        self._lock = threading.Lock()  # values() is read by request threads while the Monitor folds
        # Slice feeds (status@acquirer=acq-07) whose every value is held: they never fold (values are only added).
        self._settled: set[str] = set()
        # Label sets already checked -> their slice keys: a platform sends the same few thousand again each minute.
        self._checked: dict[tuple[tuple[Any, Any], ...], list[str]] = {}

    @property
    def enabled(self) -> bool:
        return bool(self.dimensions)

    def groups(self) -> list[str]:
        """Every dimension and pair slices are kept for: ``acquirer``, ``acquirer,brand``."""
        return list(self.dimensions) + [",".join(p) for p in self.pairs]

    def values(self) -> dict[str, list[str]]:
        """Each dimension's values held now (``other`` among them once something folded into it)."""
        with self._lock:
            return {name: sorted(values) for name, values in self._values.items()}

    def seed(self, keys: Iterable[str]) -> None:
        """Take the values of stored slices (when the Monitor loads), so a restart keeps the same values."""
        with self._lock:
            for key in keys:
                try:
                    parts = parse_slice_key(key)
                except ValueError:
                    continue
                for dim, value in parts:
                    held = self._values.get(dim)
                    if held is not None and (value == OTHER or value in held or len(held) < self._cap(dim)):
                        held.add(value)

    def _cap(self, dim: str) -> int:
        return self.dimensions[dim].max_values

    def fold(self, records: list[CountRecord]) -> list[CountRecord]:
        """Slice records with every value past its dimension's cap folded into ``other`` (the values each
        dimension holds grow by the new ones that fit); raises LabelRefused, holding nothing new, when a
        dimension that refuses values past its cap would need one. Called under the Monitor's lock."""
        boundary = getattr(records, "sliced_from", None)
        sliced = records[boundary:] if boundary is not None else [r for r in records if SLICE_SEPARATOR in r[0]]
        settled = self._settled
        # In the order records came (a batch past the cap keeps its first values, on every instance alike).
        feeds = [feed for feed in dict.fromkeys(record[0] for record in sliced) if feed not in settled]
        if not feeds:
            return records  # the common case: every slice already held, nothing to fold
        new: dict[str, list[str]] = {}
        folded_feeds: dict[str, str] = {}
        with self._lock:
            for feed in feeds:
                base_feed, _sep, key = feed.partition(SLICE_SEPARATOR)
                folded = []
                for dim, value in parse_slice_key(key):
                    held = self._values[dim]
                    if value not in held and value != OTHER:
                        pending = new.setdefault(dim, [])
                        if value not in pending:
                            if len(held - {OTHER}) + len(pending) < self._cap(dim):
                                pending.append(value)
                            elif self.dimensions[dim].overflow == "reject":
                                raise LabelRefused(f"labels.{dim}", (
                                    f"{dim} already holds {self._cap(dim)} values (its max_values); {value!r} is a "
                                    "new one, and this dimension refuses values past its cap"))
                            else:
                                folded.append((dim, OTHER))
                                continue
                    folded.append((dim, value))
                folded_key = slice_key(folded)
                if folded_key != key:
                    folded_feeds[feed] = slice_feed(base_feed, folded_key)
            for dim, values in new.items():
                self._values[dim].update(values)
            for target in folded_feeds.values():
                if f"={OTHER}" in target:
                    for dim, value in parse_slice_key(target.partition(SLICE_SEPARATOR)[2]):
                        if value == OTHER:
                            self._values[dim].add(OTHER)
            if len(self._settled) < MAX_SETTLED:
                self._settled.update(feed for feed in feeds if feed not in folded_feeds)
        if not folded_feeds:
            return records
        out = type(records)()  # a RecordBatch keeps its boundary: folding renames records, it never moves them
        if boundary is not None:
            out.sliced_from = boundary  # type: ignore[attr-defined]
        for record in records:
            target = folded_feeds.get(record[0], "")
            if not target:
                out.append(record)
            else:
                base_metric = split_slice(record[1])[0]
                out.append(type(record)(target, slice_metric(base_metric, target.partition(SLICE_SEPARATOR)[2]),
                                        record[2], record[3]))
        return out

    def slice_keys(self, labels: Any) -> list[str]:
        """The slice keys a record with these labels counts in (values as sent: ``fold`` applies the caps
        once the whole batch is valid); raises LabelRefused naming the field."""
        try:
            frozen = tuple(labels.items())
            known = self._checked.get(frozen)
        except (AttributeError, TypeError):  # not an object, or a value that cannot be a key (a list): checked below
            frozen, known = None, None
        if known is not None:
            return known
        keys = self._check(labels)
        if frozen is not None and len(self._checked) < MAX_CHECKED_LABEL_SETS:
            self._checked[frozen] = keys  # (a dict's item assignment is atomic: safe from request threads)
        return keys

    def _check(self, labels: Any) -> list[str]:
        if not isinstance(labels, dict):
            raise LabelRefused("labels", f"must be an object such as {{\"acquirer\": \"acq-07\"}}, "
                                         f"got {type(labels).__name__}")
        if not self.dimensions:
            raise LabelRefused("labels", "this monitor has no dimensions configured (the thresholds file's "
                                         "\"dimensions\"); send records without labels")
        if len(labels) > len(self.dimensions):
            raise LabelRefused("labels", f"has {len(labels)} labels; at most {len(self.dimensions)} "
                                         f"(one per dimension: {', '.join(self.dimensions)})")
        for dim, value in labels.items():
            if dim not in self.dimensions:
                shown = dim if len(dim) <= 40 else dim[:39] + "…"
                raise LabelRefused(f"labels.{shown}", f"unknown dimension {shown!r}; expected one of "
                                                      f"{', '.join(self.dimensions)}")
            problem = label_problem(value)
            if problem is not None:
                raise LabelRefused(f"labels.{dim}", problem)
        keys = [f"{dim}={value}" for dim, value in labels.items()]
        for dim in labels:
            for first, second in self._pairs_of.get(dim, ()):
                if second in labels:
                    keys.append(f"{first}={labels[first]},{second}={labels[second]}")
        return keys
