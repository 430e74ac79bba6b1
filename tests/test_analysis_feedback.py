"""Analysts' labels feed learning: ``--feedback`` with a store file or a labels file leaves expected incidents out
and counts false alarms; a bad file is an error naming it."""

from __future__ import annotations

import json

import pytest

from analysis.__main__ import main
from analysis.feedback import FeedbackError, load_feedback
from analysis.learn import LearnOptions, learn
from analysis.loading import history_from_rows
from analysis.synthetic import generate, write_csvs
from detection.incident_actions import IncidentActions, label_json
from detection.incidents import PROCESSING_FAILURE, RESOLVED, Incident
from detection.metrics import minute_to_datetime
from detection.store import PendingWrite, Store, open_store

from .pg_support import free_port

START = 29_188_800  # 2025-07-01 00:00 UTC
# An 8-hour campaign on the second day: denials half as high again, real but not a problem.
CAMPAIGN = (START + 1440 + 600, START + 1440 + 600 + 479)


@pytest.fixture(scope="module")
def campaign_rows():
    data = generate(START, 3 * 1440, seed=8, incidents=[])
    stamps = {minute_to_datetime(m).strftime("%Y-%m-%d %H:%M:%S") for m in range(CAMPAIGN[0], CAMPAIGN[1] + 1)}
    status = [dict(r) for r in data.status_rows]
    for row in status:
        if row["status"] == "denied" and row["timestamp"] in stamps:
            row["count"] = int(row["count"] * 1.5) + 1
    data.status_rows = status
    return data


def _rule(analysis, rule_id):
    return next(r for r in analysis.thresholds.rules if r.id == rule_id)


def test_expected_minutes_are_left_out_of_the_baselines(campaign_rows):
    history = history_from_rows(campaign_rows.status_rows, campaign_rows.auth_rows)
    plain = learn(history)
    told = learn(history, LearnOptions(excluded=(CAMPAIGN,)))
    inside = slice(CAMPAIGN[0] - START, CAMPAIGN[1] - START + 1)
    assert plain.clean[inside].sum() > 100  # cleaning alone keeps part of a mild, long campaign as normal
    assert told.clean[inside].sum() == 0
    assert told.thresholds.provenance["excluded_minutes"] == 480 and plain.thresholds.provenance["excluded_minutes"] == 0
    assert told.baselines["status:denied"].mean < plain.baselines["status:denied"].mean
    assert _rule(told, "denied_share_high").baseline < _rule(plain, "denied_share_high").baseline


def labelled_store(path: str) -> tuple[Incident, Incident, Incident]:
    """A store with three resolved incidents: the campaign labelled expected, one false alarm (relabelled from
    expected), one not labelled."""
    store = open_store(path)
    campaign = Incident("inc-campaign", "denial_spike", RESOLVED, "warning", CAMPAIGN[0], "Denial spike",
                        resolved_at=CAMPAIGN[1])
    noise = Incident("inc-noise", PROCESSING_FAILURE, RESOLVED, "critical", START + 200, "Failures",
                     resolved_at=START + 210)
    unlabelled = Incident("inc-other", PROCESSING_FAILURE, RESOLVED, "critical", START + 3000, "Failures",
                          resolved_at=START + 3010)
    store.write(PendingWrite({}, [], [], {}, {}, incidents=[campaign, noise, unlabelled]))
    actions = IncidentActions(store)
    actions.set_label("inc-campaign", {"label": "expected", "by": "alice", "reason": "autumn campaign"})
    actions.set_label("inc-noise", {"label": "expected", "by": "bob"})
    actions.set_label("inc-noise", {"label": "false_alarm", "by": "bob", "reason": "test traffic"})
    store.close()
    return campaign, noise, unlabelled


def test_the_store_and_its_label_listing_give_the_same_feedback(tmp_path, store_url):
    # On both backends: an SQLite file, or a PostgreSQL URL as --feedback takes it.
    labelled_store(store_url)
    from_store = load_feedback(store_url)
    store = open_store(store_url)
    listing = {"label": None, "labels": [label_json(lb, i) for lb, i in IncidentActions(store).labels(limit=100)]}
    store.close()
    (tmp_path / "labels.json").write_text(json.dumps(listing))
    from_file = load_feedback(tmp_path / "labels.json")
    for feedback in (from_store, from_file):
        assert (feedback.false_alarms, feedback.expected) == (1, 1)
        assert feedback.excluded_periods() == (CAMPAIGN,)
    (tmp_path / "bare.json").write_text(json.dumps(listing["labels"]))
    assert load_feedback(tmp_path / "bare.json").excluded_periods() == (CAMPAIGN,)


def test_the_cli_reads_feedback_and_says_how_many_incidents_were_judged_false(tmp_path, campaign_rows, capsys):
    write_csvs(campaign_rows, tmp_path)
    labelled_store(str(tmp_path / "monitor.db"))
    out = tmp_path / "thresholds.json"
    args = [str(tmp_path / "transactions.csv"), "--auth-codes", str(tmp_path / "transactions_auth_codes.csv"),
            "--out", str(out), "--report", str(tmp_path / "report.html")]
    assert main([*args, "--feedback", str(tmp_path / "monitor.db")]) == 0
    said = ("Feedback from {}: 2 labelled incidents; 1 of its incidents were judged false alarms, 1 expected "
            "(480 minutes of the history left out of learning).").format(tmp_path / "monitor.db")
    assert said in capsys.readouterr().out
    assert json.loads(out.read_text())["provenance"]["excluded_minutes"] == 480
    assert "1 of its incidents were judged false alarms" in (tmp_path / "report.html").read_text()


@pytest.mark.parametrize(("content", "names"), [
    ("{", "neither a monitor store (SQLite) nor a labels file (JSON)"),
    ('{"rows": []}', "expected the answer of GET /api/incidents/labels"),
    ('[{"incident_id": "a", "label": "bogus", "started_at": "2025-07-01T00:00:00Z", '
     '"resolved_at": "2025-07-01T00:10:00Z"}]', "labels[0]: 'label' expected one of false_alarm, expected, got 'bogus'"),
    ('[{"incident_id": "a", "label": "expected", "started_at": "yesterday", "resolved_at": "2025-07-01T00:10:00Z"}]',
     "labels[0]: 'started_at' expected an ISO 8601 UTC time"),
    ('[{"incident_id": "a", "label": "expected", "started_at": "2025-07-01T00:10:00Z", '
     '"resolved_at": "2025-07-01T00:00:00Z"}]', "labels[0]: 'resolved_at' is before 'started_at'"),
    ('[{"label": "expected"}]', "labels[0]: 'incident_id' expected a non-empty string"),
])
def test_a_bad_labels_file_is_an_error_naming_the_file_and_field(tmp_path, capsys, content, names):
    path = tmp_path / "labels.json"
    path.write_text(content)
    with pytest.raises(FeedbackError, match="labels.json"):
        load_feedback(path)
    data = generate(START, 1440, seed=3, incidents=[])
    write_csvs(data, tmp_path)
    assert main([str(tmp_path / "transactions.csv"), "--out", str(tmp_path / "t.json"), "--feedback", str(path)]) == 2
    error = capsys.readouterr().err.splitlines()[-1]
    assert error.startswith(f"error: {path}") and names in error
    assert not (tmp_path / "t.json").exists()


def test_a_store_without_labels_counts_nothing(tmp_path):
    Store(str(tmp_path / "monitor.db")).close()
    feedback = load_feedback(tmp_path / "monitor.db")
    assert (feedback.false_alarms, feedback.expected, feedback.excluded_periods()) == (0, 0, ())


def test_an_unreachable_postgresql_store_is_an_error_naming_it_without_its_password():
    port = free_port()  # nothing listens there
    url = f"postgresql://monitor:s3cret@127.0.0.1:{port}/monitor"
    with pytest.raises(FeedbackError) as caught:
        load_feedback(url)
    message = str(caught.value)
    assert message.startswith(f"postgresql://***@127.0.0.1:{port}/monitor: cannot read "
                              "incident labels from this store: ")
    assert "s3cret" not in message
