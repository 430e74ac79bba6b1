"""The ingest log on PostgreSQL: how instances sharing one database learn of each other's records.

Every write that adds counts also adds one ``ingest_log`` row with the same records, in the same
transaction, and sends ``NOTIFY monitor_ingest`` (delivered at commit). The row says whether the
records were judged in that transaction (an engine that judges inline: one instance used as a
library) or still wait for the leader (every POST on a cluster, the leader's own included, see
shared_ingest.py). Two readers follow it:

- The leader takes the rows not yet judged, judges their records as if they had been posted to
  it, and marks them judged in the same transaction as the alerts, rule states and incidents
  that judging produced. Whatever the leader had not judged when it died is still marked so,
  and the next leader judges it: nothing acknowledged is lost, nothing is judged twice.
- Standbys follow every row by a PostgreSQL snapshot, not by id: ids are taken when a
  transaction inserts but become visible when it commits, so a row with a smaller id can
  appear after one with a larger id. "Visible now but not in the last snapshot I read" is
  exact whatever the commit order (``pg_visible_in_snapshot``).

The ``leadership`` row names the leader and its term. A leader's judging writes check the
term in their transaction (a fence): an instance that lost its lock without noticing yet
cannot write over the state of the one that took over.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .records import CountRecord
from .store_schema import Dialect, Migration, SqlConnection

NOTIFY_CHANNEL = "monitor_ingest"
# Which advisory lock elects the leader (any fixed 64-bit number; per database, so tests on their own
# databases never contend). "leader" in ASCII: not the schema's lock ("monitor", store_schema.py), which
# a starting instance takes while a leader holds this one.
LEADER_LOCK_KEY = 0x6C6561646572
# Judged rows are kept this long for standbys that follow the log; one that fell further behind reloads.
LOG_KEEP_SECONDS = 600.0
ROWS_PER_READ = 2000  # log rows read at once (each holds one request's records)

TABLES = (
    """CREATE TABLE IF NOT EXISTS ingest_log (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    txid xid8 NOT NULL DEFAULT pg_current_xact_id(),
    instance TEXT NOT NULL,
    at DOUBLE PRECISION NOT NULL,
    judged BOOLEAN NOT NULL,
    records TEXT NOT NULL
)""",
    "CREATE INDEX IF NOT EXISTS ingest_log_waiting ON ingest_log (id) WHERE NOT judged",
    "CREATE INDEX IF NOT EXISTS ingest_log_by_txid ON ingest_log (txid)",
    "CREATE INDEX IF NOT EXISTS ingest_log_by_at ON ingest_log (at)",
    """CREATE TABLE IF NOT EXISTS leadership (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    instance TEXT NOT NULL,
    since DOUBLE PRECISION NOT NULL,
    term BIGINT NOT NULL
)""",
)


def _tables(conn: SqlConnection, dialect: Dialect) -> None:
    for statement in TABLES:  # PostgreSQL's own types (xid8, identity): no translation
        conn.execute(statement, ())


MIGRATIONS = (Migration(1, "the ingest log and the leadership row (several instances)", _tables),)

INSERT_ENTRY = "INSERT INTO ingest_log (instance, at, judged, records) VALUES (?, ?, ?, ?) RETURNING id"
MARK_JUDGED = "UPDATE ingest_log SET judged = TRUE WHERE id = ANY(?::bigint[]) AND NOT judged"
UNJUDGED = f"SELECT id, instance, records FROM ingest_log WHERE NOT judged ORDER BY id LIMIT {ROWS_PER_READ}"
# Rows committed since snapshot ``?`` (the reader's cursor), as this transaction's snapshot sees them.
SINCE_SNAPSHOT = ("SELECT id, instance, records FROM ingest_log WHERE txid >= pg_snapshot_xmin(?::pg_snapshot) "
                  "AND NOT pg_visible_in_snapshot(txid, ?::pg_snapshot) ORDER BY id")
# An Idempotency-Key is stored if new or expired; RETURNING nothing means another request holds it.
CLAIM_KEY = ("INSERT INTO idempotency (key, fingerprint, created, response) VALUES (?, ?, ?, ?) "
             "ON CONFLICT (key) DO UPDATE SET fingerprint = excluded.fingerprint, created = excluded.created, "
             "response = excluded.response WHERE idempotency.created < ? RETURNING key")
KEY_SECONDS = 24 * 3600  # as long as the engine keeps a key (detection/monitor.py, IDEMPOTENCY_SECONDS)
TERM_FOR_WRITE = "SELECT instance, term FROM leadership WHERE id = 1 FOR SHARE"


class KeyTaken(ValueError):
    """Two instances stored the same Idempotency-Key at once: the later write fails, nothing of it is kept."""


@dataclass(frozen=True)
class LogEntry:
    """One request's records as the log holds them."""

    id: int
    instance: str  # which instance accepted the request
    records: tuple[CountRecord, ...]


@dataclass(frozen=True)
class Leader:
    """Who leads (evaluates rules) and since when (wall-clock epoch seconds); ``term`` counts the changes."""

    instance: str
    since: float
    term: int


def encode_records(deltas: dict[tuple[str, int], dict[str, int]]) -> str:
    """A change's count deltas as compact JSON: ``[[feed, metric, minute, count], ...]``."""
    return json.dumps([[feed, metric, minute, count] for (feed, minute), counts in deltas.items()
                       for metric, count in counts.items()], separators=(",", ":"))


def decode_records(text: str) -> tuple[CountRecord, ...]:
    return tuple(CountRecord(feed, metric, int(minute), int(count)) for feed, metric, minute, count in json.loads(text))


def entries(rows: Iterable[Sequence[object]]) -> list[LogEntry]:
    return [LogEntry(int(str(row[0])), str(row[1]), decode_records(str(row[2]))) for row in rows]


def deltas_of(records: Iterable[CountRecord]) -> dict[tuple[str, int], dict[str, int]]:
    """Records summed per (feed, minute) and metric: what a write adds to the stored counts."""
    out: dict[tuple[str, int], dict[str, int]] = {}
    for feed, metric, minute, count in records:
        row = out.setdefault((feed, minute), {})
        row[metric] = row.get(metric, 0) + count
    return out
