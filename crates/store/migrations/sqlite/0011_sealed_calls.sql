-- Encryption at rest of call transcripts and extraction results (issue 6
-- applied to issue 9's tables; ADR 0103). New values are sealed with the
-- organization's data key into `body_sealed` / `fields_sealed`, bound to the
-- organization, table, record id and column; the text columns stay only for
-- rows written before this migration, and the next DEK rotation of the
-- organization (`tollgate keys rotate-dek`) seals those and clears the text.
-- Exactly one of the two holds a row's value.
--
-- SQLite cannot drop a NOT NULL constraint, so both tables are rebuilt with
-- their rows (nothing references them). The findings maps (kinds and
-- positions, never values) and the policy stay in the clear.

CREATE TABLE call_transcripts_0011 (
    call_id     TEXT PRIMARY KEY REFERENCES calls(id),
    org_id      TEXT NOT NULL REFERENCES organizations(id),
    -- Legacy plaintext (rows from before 0011 until sealed); NULL otherwise.
    body        TEXT,
    -- The redacted turns as JSON, sealed (docs/crypto.md).
    body_sealed BLOB,
    findings    TEXT NOT NULL,
    policy      TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    CHECK ((body IS NULL) <> (body_sealed IS NULL))
) STRICT;
INSERT INTO call_transcripts_0011 (call_id, org_id, body, findings, policy, created_at)
    SELECT call_id, org_id, body, findings, policy, created_at FROM call_transcripts;
DROP TABLE call_transcripts;
ALTER TABLE call_transcripts_0011 RENAME TO call_transcripts;
CREATE INDEX call_transcripts_org ON call_transcripts (org_id, call_id);

CREATE TABLE call_extractions_0011 (
    id            TEXT PRIMARY KEY,
    org_id        TEXT NOT NULL REFERENCES organizations(id),
    call_id       TEXT NOT NULL REFERENCES calls(id),
    -- Legacy plaintext (rows from before 0011 until sealed); NULL otherwise.
    fields        TEXT,
    -- The redacted fields as JSON, sealed (docs/crypto.md).
    fields_sealed BLOB,
    findings      TEXT NOT NULL,
    policy        TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    CHECK ((fields IS NULL) <> (fields_sealed IS NULL))
) STRICT;
INSERT INTO call_extractions_0011 (id, org_id, call_id, fields, findings, policy, created_at)
    SELECT id, org_id, call_id, fields, findings, policy, created_at FROM call_extractions;
DROP TABLE call_extractions;
ALTER TABLE call_extractions_0011 RENAME TO call_extractions;
CREATE INDEX call_extractions_call ON call_extractions (org_id, call_id, id);

-- The response cache of Idempotency-Key requests keeps the first response
-- of a keyed POST, the redacted transcript or extraction included: sealed
-- too, bound to the key's record id (the lower-case hex of key_hash; the
-- table's key is a BLOB and the rotation walk pages on a text id). Rows
-- from before 0011 keep their body until the next DEK rotation seals it.
ALTER TABLE idempotency_keys ADD COLUMN record_id TEXT NOT NULL DEFAULT '';
ALTER TABLE idempotency_keys ADD COLUMN body_sealed BLOB;
UPDATE idempotency_keys SET record_id = lower(hex(key_hash));
CREATE INDEX idempotency_keys_record ON idempotency_keys (org_id, record_id);
