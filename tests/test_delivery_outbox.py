"""The incident outbox on a real store, SQLite and PostgreSQL (``store`` is parametrized): what a transition adds,
what a prune keeps."""

from __future__ import annotations

from detection.delivery_log import DELIVERED, DeliveryLog, LogRecord
from detection.incidents import ESCALATED, OPENED, RESOLVED_TRANSITION
from detection.store import SqlStore

from .delivery_support import save_alerts, spike, spike_alerts


def _log(store: SqlStore) -> DeliveryLog:
    save_alerts(store, spike_alerts())
    return DeliveryLog(store)


def test_a_transition_whose_opening_never_reached_the_outbox_brings_it(store):
    log = _log(store)
    added = log.add_transitions([(ESCALATED, spike(spike_alerts(), "inc-a")),
                                 (RESOLVED_TRANSITION, spike(spike_alerts(resolved=True), "inc-b"))], 1.0)
    assert [(e.incident.id, e.kind) for e in added] == [("inc-a", OPENED), ("inc-b", OPENED), ("inc-b", "resolved")]
    # The member alerts are read from the store and kept with the row.
    assert [a.rule for a in added[0].alerts] == ["denied_high", "denied_share_high", "auth_51_high"]
    # The same transitions again add nothing: each is one row.
    assert log.add_transitions([(OPENED, spike(spike_alerts(), "inc-a")),
                                (RESOLVED_TRANSITION, spike(spike_alerts(resolved=True), "inc-b"))], 2.0) == []


def test_a_prune_keeps_outbox_rows_of_stored_incidents_and_drops_old_log_rows(store):
    log = _log(store)
    entries = log.add_transitions([(OPENED, spike(spike_alerts(), "inc-kept")),
                                   (OPENED, spike(spike_alerts(), "inc-gone"))], 1.0)
    log.record([LogRecord("console", e.incident.id, e.kind, 1, DELIVERED, "", e.id) for e in entries], 10.0,
               ["console"])
    assert log.open_entries() == []  # every channel has its final outcome
    assert log.prune(5.0, {"inc-kept"}) == 0  # the log rows are newer than the cut
    assert set(log.told(["inc-kept", "inc-gone"])) == {"inc-kept"}
    assert log.prune(11.0, None) == 2
    assert log.entries() == []
    assert set(log.told(["inc-kept"])) == {"inc-kept"}  # without a list of stored incidents the outbox stays


def test_a_row_a_sender_finishes_between_the_two_reads_of_the_open_rows_is_not_seen_as_unsent(store, monkeypatch):
    """The reconcile reads the open rows, then their outcomes: a sender that finishes a row in between (its outcome
    committed, the row marked done) must not make the row look unsent on every channel, or it is sent again."""
    log = _log(store)
    [entry] = log.add_transitions([(OPENED, spike(spike_alerts(), "inc-a"))], 1.0)
    channels = ["console", "ops"]
    log.record([LogRecord("console", "inc-a", OPENED, 1, DELIVERED, "", entry.id)], 2.0, channels)
    reads: list[str] = []
    read = store.query

    def query(sql, params=()):
        answer = read(sql, params)
        reads.append(sql)
        if len(reads) == 1:  # the open rows are read: now the other channel's sender finishes the row
            log.record([LogRecord("ops", "inc-a", OPENED, 1, DELIVERED, "", entry.id)], 3.0, channels)
        return answer

    monkeypatch.setattr(store, "query", query)
    [(seen, finished)] = log.open_entries()
    assert (seen.id, finished) == (entry.id, {"console", "ops"})  # was: set(), so both channels got it again
    monkeypatch.undo()
    assert log.open_entries() == []
