"""An open incident described only when its inputs changed reads, minute by minute, exactly as one described afresh.

The tracker reuses an open incident's description (kind, drivers, title, summary, span, figures) until
its span, its membership or the counts it read change, and writes its row only when something stored in
it changed. These tests pin what that relies on: a real Monitor on a real SQLite file is driven with
generated data (bursts of every family, approval drops, feed gaps, late records inside an incident's
minutes and the hour before it, a memory window small enough to be pruned under an open incident), and
after every call its tracker must hold the same incidents, field for field, and announce the same
transitions as a twin that describes every incident from scratch; after every new minute each stored
open incident must be what the tracker holds, as when every open incident was rewritten each minute.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from hypothesis import example, given, settings
from hypothesis import strategies as st

from detection import Monitor, MonitorSettings, Store, load_thresholds, validate_records
from detection.incident_tracker import IncidentTracker
from detection.incidents import Driver, Incident, MemberEntry
from detection.metrics import DEFAULT_AUTH_CODES, DEFAULT_STATUSES

from .support import START_MINUTE, timestamp

NOW = 1_790_000_000.0
BASELINE = 90  # steady minutes first: the rules' windows and the hour before an incident fill up
MINUTES = 170
MEANS = {"approved": 117.0, "failed": 0.05, "reversed": 1.0, "backend_reversed": 0.05, "refunded": 1.0}
KINDS = ("code51", "code59", "failed", "backend_reversed", "reversed", "refunded", "approvals_drop", "gap")


class TwinTracker:
    """Stands in for the Monitor's tracker: every call goes to one that reuses descriptions (its answer is
    the Monitor's) and to one told nothing about which minutes were counted, so it describes afresh."""

    def __init__(self, monitor: Monitor):
        thresholds = monitor.thresholds
        self.reused = monitor.incident_tracker
        self.fresh = IncidentTracker(thresholds.rules, thresholds.statuses, thresholds.auth_codes,
                                     thresholds.incident_quiet_minutes)
        self.calls = 0
        self.minute: int | None = None  # the newest minute of the previous call
        self.resolved: dict = {}  # incident id -> its copy in the from-scratch twin's resolved transition
        self.reused_descriptions = 0  # calls where an open incident was due and its description was reused

    def restore(self, incidents, open_alerts) -> None:
        incidents = list(incidents)
        self.fresh.restore([i.copy() for i in incidents], open_alerts)
        self.reused.restore(incidents, open_alerts)

    def open_incidents(self):
        return self.reused.open_incidents()

    def observe(self, transitions, touched, series, now_minute, counted=None):
        # A new minute makes every open incident due: count those whose description was kept, not recomputed.
        kept = dict(self.reused._described) if now_minute != self.minute else {}
        self.minute = now_minute
        fresh = self.fresh.observe(transitions, touched, series, now_minute, None)
        out = self.reused.observe(transitions, touched, series, now_minute, counted)
        self.calls += 1
        self.reused_descriptions += sum(1 for iid, d in kept.items() if self.reused._described.get(iid) is d)
        assert self.reused.open_incidents() == self.fresh.open_incidents()
        assert [(t.kind, t.incident) for t in out.transitions] == [(t.kind, t.incident) for t in fresh.transitions]
        self.resolved.update((t.incident.id, t.incident) for t in fresh.transitions if t.kind == "resolved")
        # Every row written is the incident as the from-scratch twin holds it.
        fresh_written = {i.id: i for i in fresh.incidents}
        for written in out.incidents:
            assert written == fresh_written[written.id]
            # The row's text reuses each member entry's encoding: it must be json.dumps's own.
            assert written.record_json() == json.dumps(written.to_record())
        return out


def minute_records(rng: np.random.Generator, minute: int, bursts) -> tuple[list[dict], list[dict]] | None:
    counts = {s: int(rng.poisson(m)) for s, m in MEANS.items()}
    codes = {"51": int(rng.poisson(2.0)), "59": int(rng.poisson(4.0))}
    for kind, first, length, size in bursts:
        if not first <= minute - BASELINE < first + length:
            continue
        if kind == "gap":
            return None
        if kind == "approvals_drop":
            counts["approved"] = int(counts["approved"] * (1 - min(size, 40) / 40))
        elif kind.startswith("code"):
            codes[kind[4:]] += size
        else:
            counts[kind] += max(1, size // 5)
    counts["denied"] = codes["51"] + codes["59"]
    codes["00"] = counts["approved"]
    ts = timestamp(START_MINUTE + minute)
    return ([{"timestamp": ts, "status": s, "count": n} for s, n in counts.items()],
            [{"timestamp": ts, "auth_code": c, "count": n} for c, n in codes.items()])


def stored_open(monitor: Monitor) -> list:
    return sorted((i for i in monitor.incidents("open", limit=1000)), key=lambda i: i.id)


burst = st.tuples(st.sampled_from(KINDS), st.integers(0, MINUTES - 10), st.integers(1, 40), st.integers(2, 40))
# A late record: (minute it is posted after, how many minutes back, metric, count); approvals are what
# the count rules scale by, so a late approval changes the normal of every status in that minute.
LATE_METRICS = ("status:failed", "status:approved", "auth_code:51", "auth_code:00")
late = st.tuples(st.integers(0, MINUTES - 1), st.integers(1, 80), st.sampled_from(LATE_METRICS), st.integers(0, 60))


def run(folder: Path, seed: int, bursts, lates, window: int | None, codes_from: int = 0) -> tuple[TwinTracker, int]:
    """Post BASELINE + MINUTES minutes (statuses, then codes from minute ``codes_from`` after the baseline,
    then any late records) through a twin-tracked Monitor, checking the stored open incidents at every new
    minute; returns the twin and how many minutes had an incident open."""
    settings_ = MonitorSettings() if window is None else MonitorSettings(window_minutes=window, retention_minutes=window,
                                                                         prune_every_minutes=5)
    monitor = Monitor(load_thresholds(), Store(str(folder / "monitor.db")), settings=settings_, clock=lambda: NOW)
    twin = TwinTracker(monitor)
    monitor.incident_tracker = twin  # type: ignore[assignment]
    rng = np.random.default_rng(seed)
    late_at: dict[int, list] = {}
    for at, back, metric, count in lates:
        late_at.setdefault(BASELINE + at, []).append((back, metric, count))
    seen_open = 0
    for minute in range(BASELINE + MINUTES):
        records = minute_records(rng, minute, bursts)
        if records is None:
            continue
        statuses, codes = records
        monitor.ingest(validate_records(statuses, "status", DEFAULT_STATUSES, now=NOW))
        # A new minute: every open incident was due, so its row must be what the tracker holds.
        held = sorted(twin.open_incidents(), key=lambda i: i.id)
        assert stored_open(monitor) == held
        seen_open += bool(held)
        if minute >= BASELINE + codes_from:
            monitor.ingest(validate_records(codes, "auth_code", DEFAULT_AUTH_CODES, now=NOW))
        for back, metric, count in late_at.get(minute, ()):
            feed, key = metric.split(":")
            allowed = DEFAULT_STATUSES if feed == "status" else DEFAULT_AUTH_CODES
            record = {"timestamp": timestamp(START_MINUTE + minute - back), feed: key, "count": count}
            monitor.ingest(validate_records([record], feed, allowed, now=NOW))
    assert twin.calls > BASELINE + MINUTES // 2
    # Resolved incidents: their final rows are what the twin described afresh when they resolved.
    for incident in monitor.incidents("resolved", limit=1000):
        assert incident == twin.resolved[incident.id]
    return twin, seen_open


@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 2**16), bursts=st.lists(burst, min_size=1, max_size=4), lates=st.lists(late, max_size=8),
       window=st.sampled_from([None, 100]), codes_from=st.sampled_from([-BASELINE, -BASELINE, 30]))
# A denial spike long enough for the pruned memory window to reach the hour before it, with late records
# inside its minutes and in that hour.
@example(seed=5, bursts=[("code51", 10, 60, 30)], window=100, codes_from=-BASELINE,
         lates=[(40, 45, "auth_code:51", 9), (50, 5, "status:failed", 3), (45, 10, "status:approved", 50),
                (55, 3, "auth_code:00", 40), (30, 25, "status:approved", 60)])
# A feed outage still open (its quiet period) when the auth-code feed sends its first minute.
@example(seed=8, bursts=[("gap", 20, 6, 2)], lates=[], window=None, codes_from=28)
def test_a_reused_description_equals_one_computed_afresh_after_every_call(tmp_path_factory, seed, bursts, lates,
                                                                         window, codes_from):
    run(tmp_path_factory.mktemp("reuse"), seed, bursts, lates, window, codes_from)


def test_the_benchmark_load_reuses_descriptions_and_still_equals_them_afresh(tmp_path):
    # bench_delivery.py's load: failures every 20 minutes keep one incident open, members joining and
    # resolving; a late record lands in it.
    bursts = [("failed", start, 3, 20) for start in range(0, MINUTES, 20)]
    twin, seen_open = run(tmp_path, 3, bursts, [(70, 30, "status:failed", 4), (71, 3, "status:approved", 30)], None, -BASELINE)
    assert seen_open > MINUTES // 2
    assert twin.reused_descriptions > seen_open // 2  # most minutes of the open incident reuse its description


json_values = st.one_of(st.none(), st.booleans(), st.integers(-10**12, 10**12), st.text(max_size=12),
                        st.floats(allow_nan=True, allow_infinity=True))


@settings(max_examples=200, deadline=None)
@given(entries=st.lists(st.tuples(st.booleans(), st.dictionaries(st.text(max_size=8), json_values, max_size=6)),
                        max_size=6),
       extra=st.dictionaries(st.text(max_size=8), json_values, max_size=4), title=st.text(max_size=20),
       share=st.floats())
def test_an_incident_row_text_is_json_dumps_of_its_record(entries, extra, title, share):
    # Member entries made by the tracker (MemberEntry) and read back from the store (plain dicts), next to
    # other details, unicode text, floats of every kind.
    members = [MemberEntry(fields) if made else dict(fields) for made, fields in entries]
    details = {"family": "denial", **{k: v for k, v in extra.items() if k != "members"}, "members": members}
    incident = Incident("i1", "denial_spike", "open", "warning", 29_000_000, title=title, summary="\u00e9t\u00e9 \u2014",
                        drivers=[Driver("auth_code:51", share, 3.0, 0.5)], details=details, metrics=["status:denied"])
    for entry in members:
        if isinstance(entry, MemberEntry):
            entry.json()  # encoded once, then reused
    text = incident.record_json()
    assert text == json.dumps(incident.to_record())
    assert incident.copy().record_json() == text
