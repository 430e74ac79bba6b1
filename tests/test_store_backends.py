"""The store's contract, run on both backends (``store`` is parametrized: an SQLite file, then a real PostgreSQL).

Each Store method a caller uses is exercised here; what differs between the backends (SQLite's WAL and
file identity, PostgreSQL's connection errors) is tested in test_store_migrations.py and test_store_postgres.py.
"""

from __future__ import annotations

import dataclasses

import pytest

from detection.alerts import FIRING, PENDING, RESOLVED
from detection.delivery_log import DELIVERED, DeliveryLog, LogRecord
from detection.incident_actions import ActionConflict, IncidentActions
from detection.incidents import ESCALATED, OPENED, RESOLVED_TRANSITION
from detection.silences import Silences
from detection.store import PendingWrite, SqlStore, StoreError, open_store

from .delivery_support import SPIKE_START, save_alerts, spike, spike_alerts

NOW = 1_790_000_000.0


def write(**parts) -> PendingWrite:
    base = {"counts": {}, "alerts": [], "deleted_alerts": [], "rule_states": {}, "meta": {}}
    return PendingWrite(**{**base, **parts})


def test_full_counts_replace_and_deltas_add_up_per_minute(store: SqlStore):
    store.write(write(counts={("status", 100): {"status:approved": 5, "status:failed": 1}}))
    store.write(write(counts={("status", 100): {"status:approved": 7, "status:failed": 1}}))  # a minute's full counts
    store.write(write(counts={("auth", 101): {"auth_code:00": 3}},
                      count_deltas={("status", 100): {"status:failed": 2}, ("status", 50): {"status:denied": 4}}))
    assert sorted(store.counts_since(0)) == [
        ("auth_code:00", 101, 3), ("status:approved", 100, 7), ("status:denied", 50, 4), ("status:failed", 100, 3)]
    assert sorted(store.counts_since(100)) == [("auth_code:00", 101, 3), ("status:approved", 100, 7),
                                               ("status:failed", 100, 3)]
    assert store.count_rows("minute_counts") == 3  # (feed, minute) pairs on both backends


def test_a_group_commit_is_all_or_nothing(store: SqlStore):
    good = write(counts={("status", 1): {"status:approved": 1}}, meta={"a": 1})
    # No 64-bit integer holds this start: both drivers refuse it, after the rest of the batch ran.
    bad = write(counts={("status", 2): {"status:approved": 2}},
                alerts=[dataclasses.replace(spike_alerts()[0], started_at=2 ** 70)])
    with pytest.raises(StoreError, match="store write failed"):
        store.write_many([good, bad])
    assert store.counts_since(0) == [] and store.meta() == {}
    assert store.health().ok  # a value refused is that write's fault: the store itself is fine
    store.write_many([good])
    assert store.counts_since(0) == [("status:approved", 1, 1)] and store.meta() == {"a": 1}


def test_alerts_are_replaced_by_id_deleted_and_read_newest_first_by_state(store: SqlStore):
    first, second, third = spike_alerts()
    store.write(write(alerts=[first, second, third]))
    resolved = dataclasses.replace(first, state=RESOLVED, resolved_at=first.started_at + 3, labels={"team": "a"})
    store.write(write(alerts=[resolved], deleted_alerts=[third.id]))
    assert {a.id: a.state for a in store.alerts()} == {first.id: RESOLVED, second.id: FIRING}
    assert store.alerts_by_id([second.id, first.id, "gone"]) == sorted([resolved, second], key=lambda a: (a.started_at, a.id))
    assert [a.id for a in store.open_alerts()] == [second.id]
    assert store.alerts([PENDING]) == []
    assert store.alerts(limit=1)[0].started_at == max(first.started_at, second.started_at)
    assert store.alerts_by_id([first.id])[0].labels == {"team": "a"}


def test_incidents_are_written_whole_and_paged_by_cursor(store: SqlStore):
    alerts = spike_alerts()
    incidents = [dataclasses.replace(spike(alerts, f"inc-{n}"), started_at=1000 + n) for n in range(5)]
    store.write(write(incidents=incidents))
    store.write(write(incidents=[dataclasses.replace(incidents[0], title="renamed")]))
    assert store.incident("inc-0").title == "renamed"
    assert store.incident("missing") is None
    page = store.incidents(limit=2)
    assert [i.id for i in page] == ["inc-4", "inc-3"]
    assert [i.id for i in store.incidents(limit=2, before=(page[-1].started_at, page[-1].id))] == ["inc-2", "inc-1"]
    assert len(store.open_incidents()) == 5
    assert store.incident("inc-2") == incidents[2]


def test_rule_state_meta_and_idempotency_keys_come_back(store: SqlStore):
    store.write(write(rule_states={"failed_high": {"n": 1, "seen": [1, 2]}}, meta={"watermark": 12},
                      idempotency=("key-1", "fp", NOW, '{"accepted": 1}')))
    store.write(write(rule_states={"failed_high": {"n": 2}}, meta={"watermark": 13}))
    assert store.rule_states() == {"failed_high": {"n": 2}}
    assert store.meta() == {"watermark": 13}
    assert store.idempotent_response("key-1", NOW - 1) == ("fp", '{"accepted": 1}')
    assert store.idempotent_response("key-1", NOW + 1) is None  # expired
    assert store.idempotent_response("key-2", 0) is None


def test_prune_keeps_open_things_and_recent_minutes(store: SqlStore):
    alerts = spike_alerts(resolved=True)
    old = spike(alerts, "inc-old")
    open_incident = dataclasses.replace(spike(spike_alerts(), "inc-open"), started_at=1)
    cut = SPIKE_START + 100  # after the spike resolved
    store.write(write(counts={("status", 10): {"a": 1, "b": 2}, ("status", cut): {"a": 1}, ("auth", 10): {"c": 1}},
                      alerts=alerts, incidents=[old, open_incident], idempotency=("k", "fp", 10.0, "{}")))
    IncidentActions(store, clock=lambda: NOW).add_note(old.id, {"by": "alice", "text": "looked at it"})
    removed = store.prune(before_minute=cut, idempotency_before=11.0)
    assert removed == {"minutes": 2, "alerts": 3, "incidents": 1, "idempotency_keys": 1}
    assert store.counts_since(0) == [("a", cut, 1)]
    assert [i.id for i in store.incidents()] == ["inc-open"]
    assert store.count_rows("incident_actions") == 0  # the pruned incident's note went with it


def test_a_failed_write_makes_health_say_why_until_a_probe_succeeds(store: SqlStore):
    assert store.health().ok
    with pytest.raises(StoreError):
        with store.transaction() as conn:
            conn.execute("INSERT INTO no_such_table VALUES (1)")
    health = store.health()
    assert not health.ok and "the last write failed" in (health.reason or "") and "no_such_table" in health.reason
    store.probe()
    assert store.health().ok and "store_probe" in store.meta()


def test_a_callers_own_error_rolls_its_transaction_back_without_marking_health(store: SqlStore):
    with pytest.raises(ValueError, match="refused"):
        with store.transaction() as conn:
            conn.execute("INSERT INTO meta (key, value) VALUES (?, ?)", ("half", "1"))
            raise ValueError("refused")
    assert store.meta() == {} and store.health().ok
    store.write(write(meta={"next": 1}))  # the writer is usable again
    assert store.meta() == {"next": 1}


def test_incident_actions_are_checked_in_their_transaction_and_read_back(store: SqlStore):
    incident = spike(spike_alerts(resolved=True), "inc-a")
    store.write(write(incidents=[incident]))
    actions = IncidentActions(store, clock=lambda: NOW)
    actions.add_note("inc-a", {"by": "alice", "text": "first look"})
    actions.set_label("inc-a", {"label": "false_alarm", "by": "bob", "reason": "a test merchant"})
    actions.set_label("inc-a", {"label": "expected", "by": "bob", "reason": "maintenance after all"})
    with pytest.raises(ActionConflict):
        actions.acknowledge("inc-a", {"by": "carol"})  # a resolved incident is not acknowledged
    rows = store.incident_actions(["inc-a", "inc-none"])["inc-a"]
    assert [(r.action, r.by, r.label) for r in rows] == [("note", "alice", None), ("label", "bob", "false_alarm"),
                                                        ("label", "bob", "expected")]
    assert rows[0].seq < rows[1].seq < rows[2].seq
    labelled = store.labelled_incidents(10)
    assert [(row.label, found.id) for row, found in labelled] == [("expected", "inc-a")]
    assert store.labelled_incidents(10, "false_alarm") == []
    with pytest.raises(LookupError):
        store.add_incident_action("missing", "note", "alice", NOW)


def test_silences_survive_reopening_the_store(store_url: str):
    store = open_store(store_url)
    created = Silences(store, clock=lambda: NOW).create({"matchers": {"rule": "failed_high"}, "ends_at": NOW + 600,
                                                         "comment": "deploy", "created_by": "alice"})
    Silences(store, clock=lambda: NOW + 1).expire(created.id)
    store.close()
    again = open_store(store_url)
    try:
        [silence] = Silences(again, clock=lambda: NOW + 2).all()
        assert (silence.id, silence.comment, silence.ends_at) == (created.id, "deploy", NOW + 1)
    finally:
        again.close()


def test_the_outbox_adds_each_transition_once_and_the_log_marks_it_done(store: SqlStore):
    save_alerts(store, spike_alerts())
    log = DeliveryLog(store)
    added = log.add_transitions([(ESCALATED, spike(spike_alerts(), "inc-a")),
                                 (RESOLVED_TRANSITION, spike(spike_alerts(resolved=True), "inc-b"))], 1.0)
    assert [(e.incident.id, e.kind) for e in added] == [("inc-a", OPENED), ("inc-b", OPENED), ("inc-b", "resolved")]
    assert log.add_transitions([(OPENED, spike(spike_alerts(), "inc-a"))], 2.0) == []
    assert len({e.id for e in added}) == 3
    log.record([LogRecord("console", e.incident.id, e.kind, 1, DELIVERED, "", e.id) for e in added], 10.0, ["console"])
    assert log.open_entries() == []
    [newest, *_] = log.entries(limit=10)
    assert newest["incident_title"] == added[-1].incident.title and newest["outcome"] == DELIVERED
    assert log.last_announced(["inc-a"]) == {("inc-a", "console"): {DELIVERED: 10.0}}
    assert log.prune(11.0, {"inc-a"}) == 3
    assert set(log.told(["inc-a", "inc-b"])) == {"inc-a"}


def test_count_rows_refuses_a_table_it_does_not_know(store: SqlStore):
    with pytest.raises(ValueError):
        store.count_rows("schema_version; DROP TABLE alerts")
    assert store.has_table("alerts") and not store.has_table("no_such_table")
