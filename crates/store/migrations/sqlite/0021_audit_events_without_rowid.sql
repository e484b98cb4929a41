-- Issue 5: the audit log is stored in its primary key's order.
--
-- As a rowid table, audit_events kept its rows in a B-tree keyed by a hidden
-- rowid and PRIMARY KEY (org_id, seq) as a second B-tree beside it, so
-- reading a chain in order (verification, exports, the event list) walked
-- the key index and then looked every row up by rowid: two B-tree descents
-- a row. WITHOUT ROWID makes (org_id, seq) the table's own key: a chain is
-- one range of one B-tree, and an append writes one B-tree less.
--
-- The table is rebuilt with the same columns in the same order, the same
-- constraints (STRICT, NOT NULL, the foreign key, UNIQUE id) and the same
-- append-only triggers. Every row is copied as stored, column for column:
-- the event hashes cover the stored values, so nothing may be re-encoded.
-- No table references audit_events, and nothing reads its rowid (the API's
-- cursor is seq). DROP TABLE removes the triggers before its implicit
-- delete, so they do not fire on it.

CREATE TABLE audit_events_by_key (
    org_id      TEXT NOT NULL REFERENCES organizations(id),
    seq         INTEGER NOT NULL,
    id          TEXT NOT NULL UNIQUE,
    occurred_at INTEGER NOT NULL,
    actor_kind  TEXT NOT NULL,
    actor_id    TEXT,
    action      TEXT NOT NULL,
    target_kind TEXT,
    target_id   TEXT,
    outcome     TEXT NOT NULL,
    request_id  TEXT,
    ip          TEXT,
    user_agent  TEXT,
    method      TEXT,
    route       TEXT,
    details     TEXT NOT NULL,
    prev_hash   BLOB NOT NULL,
    hash        BLOB NOT NULL,
    PRIMARY KEY (org_id, seq)
) STRICT, WITHOUT ROWID;

INSERT INTO audit_events_by_key (org_id, seq, id, occurred_at, actor_kind, actor_id, action,
    target_kind, target_id, outcome, request_id, ip, user_agent, method, route, details,
    prev_hash, hash)
SELECT org_id, seq, id, occurred_at, actor_kind, actor_id, action,
    target_kind, target_id, outcome, request_id, ip, user_agent, method, route, details,
    prev_hash, hash
FROM audit_events ORDER BY org_id, seq;

DROP TABLE audit_events;

ALTER TABLE audit_events_by_key RENAME TO audit_events;

CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit events are append-only');
END;

CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit events are append-only');
END;
