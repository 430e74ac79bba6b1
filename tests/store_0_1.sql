-- A store file written by version 0.1 (commit 91a41e2), before schema versions: sqlite3 .dump of a
-- monitor that saw failed_high fire, with one silence and one incident note. Loaded by test_store_migrations.py.
BEGIN TRANSACTION;
CREATE TABLE alerts (
    id TEXT PRIMARY KEY,
    rule TEXT NOT NULL,
    rule_type TEXT NOT NULL,
    metric TEXT NOT NULL,
    severity TEXT NOT NULL,
    state TEXT NOT NULL,
    started_at INTEGER NOT NULL,
    fired_at INTEGER,
    resolved_at INTEGER,
    last_breach_at INTEGER,
    value REAL NOT NULL,
    threshold REAL NOT NULL,
    expected REAL,
    message TEXT NOT NULL,
    labels TEXT NOT NULL DEFAULT '{}',
    detail TEXT NOT NULL DEFAULT '',
    incident_id TEXT
);
INSERT INTO "alerts" VALUES('a27ff334996f967a','failed_high','threshold','status:failed','critical','firing',29205420,29205420,NULL,29205422,3.0,0.0,NULL,'Failed transactions: 3/min, above the limit of 0/min','{}','3 in the minute; fires above 0/min','i353ae6e4fc2e78e');
CREATE TABLE idempotency (
    key TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    created REAL NOT NULL,
    response TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE incident_actions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    incident_id TEXT NOT NULL,
    action TEXT NOT NULL,
    by TEXT NOT NULL,
    at REAL NOT NULL,
    text TEXT NOT NULL DEFAULT '',
    label TEXT
);
INSERT INTO "incident_actions" VALUES(1,'i353ae6e4fc2e78e','note','alice',1796279026.35563,'written by 0.1',NULL);
CREATE TABLE incident_outbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        incident_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        revision TEXT NOT NULL,
        incident TEXT NOT NULL,
        alerts TEXT NOT NULL,
        created REAL NOT NULL,
        done REAL,
        UNIQUE (incident_id, kind, revision)
    );
CREATE TABLE incidents (
    id TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    kind TEXT NOT NULL,
    severity TEXT NOT NULL,
    started_at INTEGER NOT NULL,
    resolved_at INTEGER,
    body TEXT NOT NULL
);
INSERT INTO "incidents" VALUES('i353ae6e4fc2e78e','open','processing_failure','critical',29205420,NULL,'{"title": "Processing failure driven by failed transactions", "summary": "Failures 3/min against about 0 normally, 3% of all transactions, since 13:00 UTC", "last_member_resolved_at": null, "metrics": ["status:failed"], "drivers": [["status:failed", 1.0, 9.0, 0.0]], "alert_ids": ["a27ff334996f967a"], "details": {"family": "failure", "members": [{"alert_id": "a27ff334996f967a", "rule": "failed_high", "rule_type": "threshold", "metric": "status:failed", "severity": "critical", "started_minute": 29205420, "resolved_minute": null, "last_breach_minute": 29205422, "value": 3, "threshold": 0.0, "expected": null, "for_minutes": 1, "detail": "3 in the minute; fires above 0/min"}], "span": {"from": "2025-07-12T13:00:00Z", "to": "2025-07-12T13:02:00Z", "minutes": 3}, "figures": {"status:approved": {"observed": 330.0, "expected": 0.0}, "status:denied": {"observed": 15.0, "expected": 0.0}, "status:failed": {"observed": 9.0, "expected": 0.0}, "status:reversed": {"observed": 0.0, "expected": 0.0}, "status:backend_reversed": {"observed": 0.0, "expected": 0.0}, "status:refunded": {"observed": 0.0, "expected": 0.0}, "auth_code:00": {"observed": 0.0, "expected": 0.0}, "auth_code:51": {"observed": 0.0, "expected": 0.0}, "auth_code:59": {"observed": 0.0, "expected": 0.0}}}, "open_alert_ids": ["a27ff334996f967a"], "families": ["failure"], "driver_history": ["status:failed"]}');
CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
INSERT INTO "meta" VALUES('feeds','{"status": {"watermark": 29205422, "closed_through": 29205421, "no_data_id": null}, "auth_code": {"watermark": null, "closed_through": null, "no_data_id": null}}');
CREATE TABLE minute_counts (
    feed TEXT NOT NULL,
    minute INTEGER NOT NULL,
    counts TEXT NOT NULL,
    PRIMARY KEY (feed, minute)
) WITHOUT ROWID;
INSERT INTO "minute_counts" VALUES('status',29205420,'status:approved=110;status:denied=5;status:failed=3');
INSERT INTO "minute_counts" VALUES('status',29205421,'status:approved=110;status:denied=5;status:failed=3');
INSERT INTO "minute_counts" VALUES('status',29205422,'status:approved=110;status:denied=5;status:failed=3');
CREATE TABLE notification_log (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at REAL NOT NULL,
        channel TEXT NOT NULL,
        alert_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        attempt INTEGER NOT NULL,
        outcome TEXT NOT NULL,
        detail TEXT NOT NULL,
        outbox_id INTEGER,
        incident_id TEXT
    );
CREATE TABLE rule_state (
    key TEXT PRIMARY KEY,
    state TEXT NOT NULL
) WITHOUT ROWID;
INSERT INTO "rule_state" VALUES('failed_high','{"breach": 1, "clean": 0, "open_counted": null, "alert_id": "a27ff334996f967a"}');
CREATE TABLE silences (
    id TEXT PRIMARY KEY,
    matchers TEXT NOT NULL,
    starts_at REAL NOT NULL,
    ends_at REAL NOT NULL,
    created_at REAL NOT NULL,
    created_by TEXT NOT NULL,
    comment TEXT NOT NULL
) WITHOUT ROWID;
INSERT INTO "silences" VALUES('61cecad9f6c37370','{"rule": "failed_high"}',1.7962790263541772366e+09,1.79636542635392713546e+09,1.7962790263541772366e+09,'','from 0.1');
CREATE INDEX alerts_by_start ON alerts (started_at);
CREATE INDEX alerts_by_state ON alerts (state);
CREATE INDEX incidents_by_start ON incidents (started_at);
CREATE INDEX incidents_by_state ON incidents (state);
CREATE INDEX incident_actions_by_incident ON incident_actions (incident_id, seq);
CREATE INDEX incident_outbox_open ON incident_outbox (done);
CREATE INDEX notification_log_outbox ON notification_log (outbox_id);
CREATE INDEX notification_log_incident ON notification_log (incident_id, channel);
DELETE FROM "sqlite_sequence";
INSERT INTO "sqlite_sequence" VALUES('incident_actions',1);
COMMIT;
