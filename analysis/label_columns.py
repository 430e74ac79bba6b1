"""Label columns of the users' CSV exports (issue 12): the columns after timestamp, key and count.

``timestamp,status,count,acquirer,merchant``: each column after the last of the three required ones names a
label dimension, and each row counts for its label combination (an empty cell: no label for that dimension).
The names follow the thresholds file's dimension names (``[a-z][a-z0-9_]{0,31}``), at most
``MAX_LABEL_COLUMNS`` of them; a value is what the API accepts in a record's ``labels``: 1 to
``MAX_LABEL_CHARS`` printable characters without ``@ , = |``, not starting or ending with a space.
Values are kept as codes per column (a few distinct strings), so a file of millions of rows stays small.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

MAX_LABEL_COLUMNS = 8
MAX_LABEL_CHARS = 64
NO_LABEL = -1  # the code of an empty cell
DIMENSION_NAME = re.compile(r"[a-z][a-z0-9_]{0,31}")
FORBIDDEN = "@,=|"  # they separate slice keys and metrics (``status:denied@acquirer=acq-07,brand=visa``)


class LabelError(ValueError):
    """A label column's header is not a dimension name; the message names the column."""


@dataclass(frozen=True)
class LabelColumns:
    """The label columns of one export: per column its name, its distinct values and a code per row."""

    names: tuple[str, ...] = ()
    values: tuple[tuple[str, ...], ...] = ()
    codes: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.int32))  # rows x columns

    def combination(self) -> np.ndarray:
        """A number per row for its label combination, 0 .. ``combinations`` - 1 (all 0 without label columns)."""
        if not self.names:
            return np.zeros(len(self.codes), dtype=np.int64)
        import pandas as pd

        frame = pd.DataFrame(self.codes)
        return frame.groupby(list(frame.columns), sort=False).ngroup().to_numpy(dtype=np.int64)

    def take(self, kept: np.ndarray) -> LabelColumns:
        return LabelColumns(self.names, self.values, self.codes[kept]) if self.names else self

    def of_row(self, row: int) -> dict[str, str]:
        return {name: self.values[d][code] for d, name in enumerate(self.names)
                if (code := int(self.codes[row, d])) != NO_LABEL}

    def described(self, row: int) -> str:
        """`` with labels acquirer=acq-07, brand=visa`` for a message (nothing without labels)."""
        if not self.names:
            return ""
        labels = self.of_row(row)
        return " with " + (", ".join(f"{k}={v}" for k, v in labels.items()) if labels else "no labels")

    def problem(self, column: int, row: int, cells: Sequence[tuple[str, pd.Series]]) -> tuple[str, str]:
        """(column name, what is wrong) for the bad label cell of ``row`` in ``column``."""
        name, values = cells[column]
        return name, value_problem(str(values.iloc[row]))


def label_columns(name: str, header: list[str], last_required: int) -> tuple[int, ...]:
    """Positions of the label columns (those after ``last_required``); raises LoadError naming a bad header cell."""
    from analysis.loading import LoadError

    positions = tuple(range(last_required + 1, len(header)))
    if len(positions) > MAX_LABEL_COLUMNS:
        raise LoadError(f"{name} line 1: {len(positions)} label columns after count; expected at most "
                        f"{MAX_LABEL_COLUMNS} (the columns after timestamp, key and count are label dimensions)")
    seen: set[str] = set()
    for position in positions:
        label = header[position].strip().lower()
        if not DIMENSION_NAME.fullmatch(label):
            raise LoadError(f"{name} line 1, column {position + 1} ({header[position]!r}): a label column's name "
                            f"must be a dimension name (a lowercase letter, then up to 31 lowercase letters, digits "
                            f"or '_'); the columns after timestamp, key and count are label dimensions")
        if label in seen:
            raise LoadError(f"{name} line 1, column {position + 1}: the label column {label!r} appears twice")
        seen.add(label)
    return positions


def value_problem(value: str) -> str:
    """Why ``value`` is not a label value ('' when it is one)."""
    if len(value) > MAX_LABEL_CHARS:
        return f"a label value has at most {MAX_LABEL_CHARS} characters, got {len(value)}: {value[:40]!r}..."
    if not value.isprintable():
        return f"a label value has printable characters only, got {value!r}"
    if value != value.strip(" "):
        return f"a label value does not start or end with a space, got {value!r}"
    bad = [c for c in FORBIDDEN if c in value]
    if bad:
        return f"a label value has none of {' '.join(FORBIDDEN)}, got {value!r} (with {bad[0]!r})"
    return ""


def check_label_cells(cells: Sequence[tuple[str, pd.Series]], rows: int) -> tuple[LabelColumns, np.ndarray]:
    """Codes per column (NO_LABEL for an empty cell), and per row the first bad column (-1: none)."""
    import pandas as pd

    bad = np.full(rows, -1, dtype=np.int64)
    if not cells:
        return LabelColumns(codes=np.zeros((rows, 0), dtype=np.int32)), bad
    codes = np.empty((rows, len(cells)), dtype=np.int32)
    names, values = [], []
    for d, (name, column) in enumerate(cells):
        index, distinct = pd.factorize(column)
        wrong = np.array([bool(value_problem(v)) for v in distinct], dtype=bool) if len(distinct) else \
            np.zeros(0, dtype=bool)
        empty = np.array([v == "" for v in distinct], dtype=bool) if len(distinct) else np.zeros(0, dtype=bool)
        # Codes count the usable values only, in order of first sight.
        usable = ~wrong & ~empty
        renumber = np.full(len(distinct), NO_LABEL, dtype=np.int64)
        renumber[usable] = np.arange(int(usable.sum()))
        codes[:, d] = renumber[index]
        bad_rows = wrong[index] & (bad < 0)
        bad[bad_rows] = d
        names.append(name)
        values.append(tuple(str(v) for v in np.asarray(distinct, dtype=object)[usable]))
    return LabelColumns(tuple(names), tuple(values), codes), bad


def label_rows(labels: LabelColumns, order: np.ndarray) -> list[dict[str, str]] | None:
    """The ``labels`` dict of each row in ``order`` (one dict per combination, shared by its rows); None
    without label columns."""
    if not labels.names:
        return None
    combination = labels.combination()
    first_row: dict[int, int] = {}
    for row, combo in enumerate(combination.tolist()):
        first_row.setdefault(combo, row)
    dicts = {combo: labels.of_row(row) for combo, row in first_row.items()}
    return [dicts[combo] for combo in combination[order].tolist()]


@dataclass(frozen=True)
class SliceCounts:
    """One label column's counts: ``counts[key][v, i]`` at value ``values[v]`` and minute ``start + i`` of the feed."""

    values: tuple[str, ...]
    counts: dict[str, np.ndarray]


def slice_counts(labels: LabelColumns, offset: np.ndarray, key: np.ndarray, count: np.ndarray,
                 keys: Sequence[str], span: int) -> dict[str, SliceCounts]:
    """Per label column, per key, a (values x minutes) array of the counts of the rows carrying each value."""
    out: dict[str, SliceCounts] = {}
    for d, name in enumerate(labels.names):
        values = labels.values[d]
        code = labels.codes[:, d].astype(np.int64)
        per_key = {}
        for k, key_name in enumerate(keys):
            mine = (key == k) & (code != NO_LABEL)
            flat = np.bincount(code[mine] * span + offset[mine], weights=count[mine].astype(np.float64),
                               minlength=len(values) * span)
            per_key[key_name] = np.rint(flat).astype(np.int64).reshape(len(values), span)
        out[name] = SliceCounts(values, per_key)
    return out
