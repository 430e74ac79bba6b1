"""Read the users' exports (transactions.csv, transactions_auth_codes.csv): the one CSV reader of the monitor.

``python -m analysis`` and ``python app.py --replay`` both read through ``read_export``, so they accept the
same files and word the same mistakes the same way. Accepted: a header naming ``timestamp``, the key column
(``status`` or ``auth_code``) and ``count`` in any order (other columns are ignored); timestamps as the API
takes them (``2025-07-12 13:45:00`` or ISO 8601 with ``T``, ``Z`` or a UTC offset; naive means UTC) from
1970 up to now; codes as strings ("00" stays "00"); zero rows omitted or present; rows in any order; one
row per minute and key. Columns after the last of the three are label dimensions (``timestamp,status,count,
acquirer,merchant``): a row then counts for one label combination, an empty cell means no label, and the
global series are the sums over labels (``analysis.label_columns``). Anything else stops with one ``LoadError`` naming the file, the line, the column
and the value: ``transactions.csv line 12, column 'count': expected a non-negative integer, got '-3'``.
"""

from __future__ import annotations

import csv
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

from analysis.label_columns import (
    LabelColumns,
    SliceCounts,
    check_label_cells,
    label_columns,
    label_rows,
    slice_counts,
)
from detection.metrics import DEFAULT_AUTH_CODES, DEFAULT_STATUSES, minute_to_iso
from detection.records import timestamp_minute

TIMESTAMP_HINT = "a timestamp such as '2025-07-12 13:45:00' or '2025-07-12T13:45:00Z'"
# An unknown key is refused unless configured; the replay and the analysis CLI are configured differently.
EXTRA_HINT = {
    "status": "list extra ones in the thresholds file's \"statuses\" for python app.py, with --statuses for python -m analysis",
    "auth_code": "list extra ones in the thresholds file's \"auth_codes\" for python app.py, "
                 "with --auth-code-list for python -m analysis",
}
MAX_COUNT = 1_000_000_000  # per row: far below 2**53, so sums stay exact in int64, floats and JSON clients
MAX_SPAN_DAYS = 400  # the analysis holds one array slot per minute: a stray 1970 row must not ask for gigabytes


class LoadError(ValueError):
    """A user's file is not as expected; the message names the file, the line and the problem."""


@dataclass
class Feed:
    """One export as dense arrays: ``counts[key][i]`` is the count at minute ``start + i``."""

    path: str
    key_field: str  # "status" or "auth_code"
    keys: tuple[str, ...]
    start: int
    counts: dict[str, np.ndarray]
    received: np.ndarray  # bool per minute: did the export have any row for it
    rows: int
    slices: dict[str, SliceCounts] = field(default_factory=dict)  # per label column: counts per value

    @property
    def minutes(self) -> int:
        return len(self.received)


@dataclass
class History:
    """Both exports on one minute axis (``start`` .. ``start + minutes - 1``)."""

    status: Feed
    auth: Feed | None
    start: int
    minutes: int
    sources: list[str] = field(default_factory=list)

    def series(self, metric: str) -> np.ndarray:
        kind, _, key = metric.partition(":")
        feed = self.status if kind == "status" else self.auth
        if feed is None or key not in feed.counts:
            raise KeyError(metric)
        return self._align(feed, feed.counts[key])

    def status_total(self) -> np.ndarray:
        return sum(self.series(f"status:{s}") for s in self.status.keys)  # type: ignore[return-value]

    def received(self, feed_name: str) -> np.ndarray:
        feed = self.status if feed_name == "status" else self.auth
        if feed is None:
            return np.zeros(self.minutes, dtype=bool)
        return self._align(feed, feed.received)

    def _align(self, feed: Feed, values: np.ndarray) -> np.ndarray:
        if feed.start == self.start and feed.minutes == self.minutes:
            return values
        out = np.zeros(self.minutes, dtype=values.dtype)
        offset = feed.start - self.start
        out[offset:offset + feed.minutes] = values
        return out

    def time_range(self) -> tuple[str | None, str | None]:
        return minute_to_iso(self.start), minute_to_iso(self.start + self.minutes - 1)

    def dimensions(self) -> tuple[str, ...]:
        """The label columns of either export, in the status export's order first."""
        names = list(self.status.slices) + (list(self.auth.slices) if self.auth is not None else [])
        return tuple(dict.fromkeys(names))

    def dimension_values(self, dimension: str) -> tuple[str, ...]:
        """Every value seen in the label column ``dimension`` (either export), in order of first sight."""
        values: list[str] = []
        for feed in (self.status, self.auth):
            if feed is not None and dimension in feed.slices:
                values += feed.slices[dimension].values
        return tuple(dict.fromkeys(values))

    def slice_series(self, metric: str, dimension: str) -> tuple[tuple[str, ...], np.ndarray]:
        """(values, counts): one row per value of ``dimension`` (``dimension_values`` order), one column per minute
        of the axis; zeros for a value or a minute its export does not have."""
        kind, _, key = metric.partition(":")
        feed = self.status if kind == "status" else self.auth
        values = self.dimension_values(dimension)
        out = np.zeros((len(values), self.minutes), dtype=np.int64)
        if feed is None or key not in feed.counts:
            raise KeyError(metric)
        mine = feed.slices.get(dimension)
        if mine is None:
            return values, out
        offset = feed.start - self.start
        for row, value in enumerate(mine.values):
            out[values.index(value), offset:offset + feed.minutes] = mine.counts[key][row]
        return values, out


def parse_minute(text: str) -> int:
    """Epoch minute of a timestamp in the forms the API takes (``detection.records.timestamp_minute``), any year."""
    return timestamp_minute(text)


@dataclass(frozen=True)
class Export:
    """The checked rows of one export: parallel arrays in file order (blank lines left out)."""

    name: str
    key_field: str  # "status" or "auth_code"
    keys: tuple[str, ...]
    minute: np.ndarray  # epoch minute per row
    key: np.ndarray  # index into ``keys`` per row
    count: np.ndarray
    labels: LabelColumns = field(default_factory=LabelColumns)  # the label columns after count, if any

    def __len__(self) -> int:
        return len(self.minute)

    def rows_by_minute(self) -> dict[int, list[dict]]:
        """Rows grouped by minute, in minute order, as the ingestion gate takes them (ISO 8601 UTC timestamps);
        a labelled row carries ``labels`` ({dimension: value} for its non-empty label cells)."""
        order = np.argsort(self.minute, kind="stable")
        out: dict[int, list[dict]] = {}
        labels = label_rows(self.labels, order)
        for index, (minute, key, count) in enumerate(zip(self.minute[order].tolist(), self.key[order].tolist(),
                                                         self.count[order].tolist(), strict=True)):
            rows = out.get(minute)
            if rows is None:
                rows = out[minute] = []
            row = {"timestamp": minute_to_iso(minute), self.key_field: self.keys[key], "count": count}
            if labels is not None and labels[index]:
                row["labels"] = labels[index]
            rows.append(row)
        return out


def read_export(path: str | Path, key_field: str, keys: Sequence[str], *, until: int | None = None,
                now: float | None = None) -> Export:
    """Read and check one export. ``until`` (epoch minute) keeps only rows up to it (all rows are checked);
    ``now`` (epoch seconds, default the wall clock) is the latest time a row may have."""
    name = str(path)
    path = Path(path)
    header = _header(path, name, key_field)
    columns = _columns(name, header, key_field)
    import pandas as pd  # here, not at the top: `python app.py` imports this module and need not load pandas

    try:
        with warnings.catch_warnings():
            # pandas drops the extra fields of a long first row with only a warning: that is a malformed row here
            warnings.simplefilter("error", pd.errors.ParserWarning)
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False, skip_blank_lines=False,
                                index_col=False, encoding="utf-8-sig")
    except (pd.errors.ParserError, pd.errors.ParserWarning) as exc:
        raise _structure_error(path, name, len(header), str(exc)) from None
    except UnicodeDecodeError:
        raise LoadError(f"{name}: not a UTF-8 text file; expected a CSV export") from None
    except OSError as exc:
        raise LoadError(f"{name}: cannot read ({exc.strerror})") from None
    cells = [frame.iloc[:, index] for index in columns[:3]]
    labels = [(header[index].strip().lower(), frame.iloc[:, index]) for index in columns[3:]]
    del frame  # the label cells are turned into codes next: the strings need not all stay
    return _check(name, key_field, keys, cells, lambda row: _line_of(path, row), until,
                  time.time() if now is None else now, labels)


def export_from_rows(name: str, rows: Iterable[dict], key_field: str, keys: Sequence[str], *,
                     until: int | None = None) -> Export:
    """The same checks for rows already in memory (dicts in the CSV schema), e.g. synthetic data."""
    import pandas as pd

    rows = list(rows)
    cells = [pd.Series([str(row[column]) for row in rows], dtype=str) for column in ("timestamp", key_field, "count")]
    return _check(name, key_field, keys, cells, lambda row: row + 2, until, None)


def _header(path: Path, name: str, key_field: str) -> list[str]:
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except FileNotFoundError:
        raise LoadError(f"{name}: file not found") from None
    except OSError as exc:
        raise LoadError(f"{name}: cannot read ({exc.strerror})") from None
    with handle:
        try:
            header = next(csv.reader(handle), None)
        except csv.Error as exc:
            raise LoadError(f"{name} line 1: not valid CSV ({exc})") from None
        except UnicodeDecodeError:
            raise LoadError(f"{name}: not a UTF-8 text file; expected a CSV export") from None
    if header is None:
        raise LoadError(f"{name}: the file is empty; {_expected_header(key_field)}, then one row per minute "
                        f"and {key_field}")
    return header


def _expected_header(key_field: str) -> str:
    return f"expected a header naming the columns timestamp, {key_field}, count in any order (other columns are ignored)"


def _columns(name: str, header: list[str], key_field: str) -> tuple[int, ...]:
    """Positions of timestamp, key and count in the header, then of the label columns after the last of them;
    names are matched ignoring case and spaces."""
    names = [cell.strip().lower() for cell in header]
    wanted = ("timestamp", key_field, "count")
    for column in wanted:
        if names.count(column) > 1:
            raise LoadError(f"{name} line 1: the column {column!r} appears {names.count(column)} times; "
                            f"{_expected_header(key_field)}")
    missing = [column for column in wanted if column not in names]
    if missing:
        raise LoadError(f"{name} line 1: missing column{'s' if len(missing) > 1 else ''} "
                        f"{', '.join(map(repr, missing))}; {_expected_header(key_field)}, got {','.join(header)!r}")
    required = (names.index("timestamp"), names.index(key_field), names.index("count"))
    return required + label_columns(name, header, max(required))


def _records(path: Path) -> Iterator[tuple[int, list[str]]]:
    """(line, fields) of each record after the header, blank lines included: the slow path, for messages only."""
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        next(reader, None)
        for record in reader:
            yield reader.line_num, record


def _line_of(path: Path, row: int) -> int:
    """The line of the ``row``-th record after the header (quoted line breaks make it differ from row + 2)."""
    for index, (line, _) in enumerate(_records(path)):
        if index == row:
            return line
    return row + 2


def _structure_error(path: Path, name: str, width: int, detail: str) -> LoadError:
    """Name the first record that does not fit the header; the tokenizer's own words if none is found."""
    try:
        for line, record in _records(path):
            if len(record) > width:
                return LoadError(f"{name} line {line}: expected at most {width} fields as in the header, "
                                 f"got {len(record)}: {','.join(record)!r}")
    except csv.Error as exc:
        return LoadError(f"{name}: not valid CSV ({exc})")
    return LoadError(f"{name}: not valid CSV ({detail.strip().splitlines()[-1]})")


def _check(name: str, key_field: str, keys: Sequence[str], cells: list[pd.Series], line_of: Callable[[int], int],
           until: int | None, now: float | None, label_cells: Sequence[tuple[str, pd.Series]] = ()) -> Export:
    """Every rule over whole columns at once; the first offending row in file order is the one named."""
    import pandas as pd

    stamps, names, counts = (column.str.strip() for column in cells)
    blank = ((stamps == "") & (names == "") & (counts == "")).to_numpy()
    for _, column in label_cells:
        blank = blank & (column == "").to_numpy()
    rows = np.flatnonzero(~blank)  # position in the file's records of each kept row
    if not len(rows):
        raise LoadError(f"{name}: no data rows; expected one row per minute and {key_field} under the header")
    if blank.any():
        stamps, names, counts = (column.iloc[rows].reset_index(drop=True) for column in (stamps, names, counts))
        label_cells = [(dim, column.iloc[rows].reset_index(drop=True)) for dim, column in label_cells]
    labels, bad_label = check_label_cells(label_cells, len(stamps))

    # Timestamps repeat once per key: parse each distinct one with the API's own parser.
    codes, distinct = pd.factorize(stamps)
    minute_of = np.zeros(len(distinct), dtype=np.int64)
    unreadable = np.zeros(len(distinct), dtype=bool)
    for index, stamp in enumerate(distinct):
        try:
            minute_of[index] = timestamp_minute(stamp)
        except (ValueError, OverflowError):
            unreadable[index] = True
    latest = None if now is None else int(now // 60)
    outside = ~unreadable & ((minute_of < 0) | (minute_of > latest if latest is not None else False))
    minute = minute_of[codes]
    bad_stamp = unreadable[codes] | outside[codes]

    allowed = tuple(keys)
    key = pd.Index(allowed, dtype=object).get_indexer(names).astype(np.int64)
    bad_key = key < 0

    digits = counts.str.fullmatch(r"[0-9]+").to_numpy(dtype=bool)
    significant = counts.str.lstrip("0").str.len().to_numpy()
    fits = digits & (significant <= len(str(MAX_COUNT)))
    count = np.zeros(len(counts), dtype=np.int64)
    count[fits] = counts[fits].astype("int64").to_numpy()
    bad_count = ~digits | (digits & ~fits) | (count > MAX_COUNT)

    bad_labels = bad_label >= 0
    valid = ~(bad_stamp | bad_key | bad_count | bad_labels)
    # One row per minute, key and label combination (the combination's number: 0 without label columns).
    combination = labels.combination()
    combinations = int(combination.max()) + 1 if len(combination) else 1
    cell = (minute * len(allowed) + key) * combinations + combination
    checked = np.flatnonzero(valid)
    repeated = checked[pd.Series(cell[checked]).duplicated().to_numpy()]
    problems = [np.flatnonzero(mask)[:1] for mask in (bad_stamp, bad_key, bad_count, bad_labels)] + [repeated[:1]]
    first = min((int(found[0]) for found in problems if len(found)), default=None)
    if first is not None and valid[first]:
        original = int(checked[np.flatnonzero(cell[checked] == cell[first])[0]])
        per = f"{key_field} and label combination" if labels.names else key_field
        raise LoadError(f"{name} line {line_of(int(rows[first]))}: a second row for {minute_to_iso(int(minute[first]))} "
                        f"{key_field} {allowed[key[first]]!r}{labels.described(first)} (the first is on line "
                        f"{line_of(int(rows[original]))}); expected one row per minute and {per}")
    if first is not None and not (bad_stamp[first] or bad_key[first] or bad_count[first]):
        column, message = labels.problem(int(bad_label[first]), first, label_cells)
        raise LoadError(f"{name} line {line_of(int(rows[first]))}, column {column!r}: {message}")
    if first is not None:
        raise _cell_error(f"{name} line {line_of(int(rows[first]))}", key_field, allowed, stamps.iloc[first],
                          names.iloc[first], counts.iloc[first], bool(unreadable[codes[first]]),
                          bool(bad_stamp[first]), bool(bad_key[first]), bool(digits[first]))
    if until is not None:
        kept = minute <= until
        minute, key, count = minute[kept], key[kept], count[kept]
        labels = labels.take(kept)
    return Export(name, key_field, allowed, minute, key, count, labels)


def _cell_error(prefix: str, key_field: str, allowed: tuple[str, ...], stamp: str, key: str, count: str,
                unreadable: bool, bad_stamp: bool, bad_key: bool, digits: bool) -> LoadError:
    """The first bad cell of a row, columns in the order timestamp, key, count."""
    if bad_stamp:
        expected = TIMESTAMP_HINT if unreadable else "a time between 1970-01-01 and now"
        return LoadError(f"{prefix}, column 'timestamp': expected {expected}, got {stamp!r}")
    if bad_key:
        return LoadError(f"{prefix}, column {key_field!r}: unknown {key_field} {key!r}; expected one of "
                         f"{', '.join(allowed)} ({EXTRA_HINT[key_field]})")
    if digits:
        return LoadError(f"{prefix}, column 'count': expected at most {MAX_COUNT:,}, got {count!r}")
    return LoadError(f"{prefix}, column 'count': expected a non-negative integer, got {count!r}")


def read_feed(path: str | Path, key_field: str, keys: Sequence[str], until: int | None = None) -> Feed:
    """Read one export onto a minute axis. ``until`` (epoch minute) keeps only rows up to and including it."""
    return _feed(read_export(path, key_field, keys, until=until))


def feed_from_rows(name: str, rows: Iterable[dict], key_field: str, keys: Sequence[str],
                   until: int | None = None) -> Feed:
    """The same checks for rows already in memory (dicts in the CSV schema), e.g. synthetic data."""
    return _feed(export_from_rows(name, rows, key_field, keys, until=until))


def _feed(export: Export) -> Feed:
    if not len(export):
        raise LoadError(f"{export.name}: no data rows up to --until; expected rows at or before it")
    first, last = int(export.minute.min()), int(export.minute.max())
    span = last - first + 1
    if span > MAX_SPAN_DAYS * 1440:
        raise LoadError(f"{export.name}: the rows span {span / 1440:,.0f} days ({minute_to_iso(first)} to "
                        f"{minute_to_iso(last)}); expected at most {MAX_SPAN_DAYS} days (use --until, or a shorter export)")
    offset = export.minute - first
    counts = {}
    for index, key in enumerate(export.keys):
        mine = export.key == index
        if export.labels.names:
            # Several rows per minute and key (one per label combination): the global series is their sum.
            values = np.zeros(span, dtype=np.int64)
            np.add.at(values, offset[mine], export.count[mine])
        else:
            values = np.zeros(span, dtype=np.int64)
            values[offset[mine]] = export.count[mine]
        counts[key] = values
    received = np.zeros(span, dtype=bool)
    received[offset] = True
    return Feed(export.name, export.key_field, export.keys, first, counts, received, len(export),
                slice_counts(export.labels, offset, export.key, export.count, export.keys, span))


def load_history(transactions: str | Path, auth_codes: str | Path | None = None, *,
                 statuses: Sequence[str] = DEFAULT_STATUSES, codes: Sequence[str] = DEFAULT_AUTH_CODES,
                 until: str | None = None) -> History:
    """Load the exports onto one minute axis. ``until`` is a timestamp string; later rows are ignored."""
    until_minute = None
    if until is not None:
        try:
            until_minute = parse_minute(until)
        except ValueError:
            raise LoadError(f"--until: expected {TIMESTAMP_HINT}, got {until!r}") from None
    status = read_feed(transactions, "status", statuses, until_minute)
    auth = read_feed(auth_codes, "auth_code", codes, until_minute) if auth_codes is not None else None
    return _combine(status, auth)


def history_from_rows(status_rows: Iterable[dict], auth_rows: Iterable[dict] | None, *,
                      statuses: Sequence[str] = DEFAULT_STATUSES, codes: Sequence[str] = DEFAULT_AUTH_CODES,
                      until: int | None = None, name: str = "synthetic") -> History:
    """Like ``load_history`` for rows in memory; ``until`` is an epoch minute."""
    status = feed_from_rows(f"{name} transactions", status_rows, "status", statuses, until)
    auth = feed_from_rows(f"{name} auth codes", auth_rows, "auth_code", codes, until) if auth_rows is not None else None
    return _combine(status, auth)


def _combine(status: Feed, auth: Feed | None) -> History:
    start = status.start if auth is None else min(status.start, auth.start)
    end = status.start + status.minutes if auth is None else max(status.start + status.minutes,
                                                                 auth.start + auth.minutes)
    sources = [status.path] + ([auth.path] if auth else [])
    return History(status, auth, start, end - start, sources)
