"""Per-slice minute counts in memory: one row per slice series, one column per minute of the window (a ring).

Thousands of slice series over a week of minutes do not fit in dicts of dicts (about 80 bytes a minute
each); here a minute of a series costs 4 bytes. Column ``minute % width`` holds the minute recorded in
``_minute_at``; a column is zeroed when a newer minute takes it, so nothing older than the window is
ever read. Row 0 is always zero: a slice with no row for a metric reads it. Not thread-safe on its own:
the Monitor guards it with its lock, like ``MinuteSeries``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from .slices import SLICE_SEPARATOR, slice_dimension, split_slice

_FIRST_ROWS = 64


class SliceSeries:
    """Counts of ``<metric>@<slice>`` series, by minute, for the newest ``width`` minutes."""

    def __init__(self, width: int):
        self.width = width
        self._data = np.zeros((_FIRST_ROWS, width), dtype=np.int32)
        self._minute_at = np.full(width, -1, dtype=np.int64)
        self._rows: dict[str, int] = {}  # slice metric -> row (row 0 stays zero)
        self._next_row = 1
        self._keys: dict[str, set[str]] = {}  # slice key -> base metrics it has rows for
        self._groups: dict[str, list[str]] = {}  # dimension (or pair) -> its slice keys, in order of arrival
        self.newest: int | None = None

    # -- writing (under the Monitor's lock) --
    def add_records(self, records: Sequence[tuple[str, str, int, int]], keep_from: int) -> set[tuple[str, int]]:
        """Add slice records (feed, slice metric, minute, count); minutes before ``keep_from`` are not held.
        Returns the (slice feed, minute) cells it changed, for the store."""
        width, minute_at = self.width, self._minute_at
        kept = [r for r in records if r[2] >= keep_from]
        # A column takes a newer minute (zeroed first); a minute older than what its column holds is outside
        # the window (keep_from is measured from the newest event) and is dropped.
        usable: dict[int, bool] = {}
        for minute in {r[2] for r in kept}:
            column = minute % width
            held = int(minute_at[column])
            if held == minute:
                usable[minute] = True
            elif held > minute:
                usable[minute] = False
            else:
                self._data[:, column] = 0
                minute_at[column] = minute
                usable[minute] = True
        if not all(usable.values()):
            kept = [r for r in kept if usable[r[2]]]
        if not kept:
            return set()
        rows_of = self._rows
        rows = [rows_of.get(r[1]) or self._new_row(r[1]) for r in kept]
        columns = np.fromiter((r[2] % width for r in kept), dtype=np.int64, count=len(kept))
        counts = np.fromiter((r[3] for r in kept), dtype=np.int64, count=len(kept))
        np.add.at(self._data, (np.asarray(rows, dtype=np.int64), columns), counts)
        newest = max(usable)
        if self.newest is None or newest > self.newest:
            self.newest = newest
        return {(r[0], r[2]) for r in kept}

    def _new_row(self, metric: str) -> int:
        row = self._next_row
        if row >= self._data.shape[0]:
            # A quarter more at a time: a week of 10,000 series is 400 MB, and doubling would hold up to twice that.
            grown = np.zeros((max(row + _FIRST_ROWS, row * 5 // 4), self.width), dtype=np.int32)
            grown[: self._data.shape[0]] = self._data
            self._data = grown
        self._rows[metric] = row
        self._next_row += 1
        base, key = split_slice(metric)
        metrics = self._keys.get(key)
        if metrics is None:
            metrics = self._keys[key] = set()
            self._groups.setdefault(slice_dimension(key), []).append(key)
        metrics.add(base)
        return row

    def prune_before(self, minute: int) -> None:
        """Forget minutes older than ``minute`` (they live on in the store)."""
        old = (self._minute_at >= 0) & (self._minute_at < minute)
        if old.any():
            self._data[:, old] = 0
            self._minute_at[old] = -1

    # -- reading --
    @property
    def series_count(self) -> int:
        return len(self._rows)

    @property
    def nbytes(self) -> int:
        return int(self._data.nbytes + self._minute_at.nbytes)

    def keys(self, group: str) -> list[str]:
        """The slice keys of a dimension or pair (``acquirer``, ``acquirer,brand``) held, in order of arrival."""
        return list(self._groups.get(group, ()))

    def all_keys(self) -> list[str]:
        return list(self._keys)

    def has(self, key: str) -> bool:
        return key in self._keys

    def rows(self, metric: str, keys: Sequence[str]) -> np.ndarray:
        """Row numbers of ``metric`` in each slice (0, a zero row, where the slice has none)."""
        get = self._rows.get
        return np.fromiter((get(f"{metric}{SLICE_SEPARATOR}{key}", 0) for key in keys), dtype=np.int64,
                           count=len(keys))

    def _columns(self, start: int, end: int) -> tuple[np.ndarray, np.ndarray]:
        minutes = np.arange(start, end + 1, dtype=np.int64)
        columns = minutes % self.width
        valid = self._minute_at[columns] == minutes
        return columns, valid

    def held_between(self, start: int, end: int) -> int:
        """How many of minutes ``start..end`` have slice counts in memory."""
        if end < start:
            return 0
        start = max(start, end - self.width + 1)
        return int(self._columns(start, end)[1].sum())

    def matrix(self, rows: np.ndarray, start: int, end: int) -> np.ndarray:
        """Counts of ``rows`` over minutes ``start..end``: an array of shape (len(rows), minutes)."""
        if end < start:
            return np.zeros((len(rows), 0), dtype=np.int64)
        if end - start + 1 > self.width:
            start = end - self.width + 1
            # (the caller's earlier minutes are outside memory: zero, which the caller sized for)
        columns, valid = self._columns(start, end)
        block = self._data[np.ix_(rows, columns)].astype(np.int64)
        block[:, ~valid] = 0
        return block

    def window_sums(self, rows: np.ndarray, end: int, minutes: int) -> np.ndarray:
        """Each row's sum over the ``minutes`` minutes ending at ``end``."""
        return self.matrix(rows, end - minutes + 1, end).sum(axis=1)

    def column(self, metric: str, start: int, end: int) -> tuple[int, ...]:
        """One slice series' counts over ``start..end`` (zeros where nothing was counted)."""
        row = self._rows.get(metric, 0)
        return tuple(int(v) for v in self.matrix(np.array([row]), start, end)[0])

    def stored_rows(self, feed_metrics: Mapping[str, Sequence[str]], cells: Iterable[tuple[str, int]]) -> dict[tuple[str, int], dict[str, int]]:
        """Whole store rows for the (slice feed, minute) cells given: every metric of that feed in the slice."""
        out: dict[tuple[str, int], dict[str, int]] = {}
        width, minute_at, data, rows_of = self.width, self._minute_at, self._data, self._rows
        for feed, minute in cells:
            base_feed, _sep, key = feed.partition(SLICE_SEPARATOR)
            column = minute % width
            row: dict[str, int] = {}
            if minute_at[column] == minute:
                for metric in feed_metrics.get(base_feed, ()):
                    name = f"{metric}{SLICE_SEPARATOR}{key}"
                    index = rows_of.get(name)
                    if index is not None:
                        value = int(data[index, column])
                        if value:
                            row[name] = value
            out[(feed, minute)] = row
        return out

