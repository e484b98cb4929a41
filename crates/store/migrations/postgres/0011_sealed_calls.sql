-- Encryption at rest of call transcripts and extraction results (issue 6
-- applied to issue 9's tables; ADR 0103). New values are sealed with the
-- organization's data key into `body_sealed` / `fields_sealed`, bound to the
-- organization, table, record id and column; the text columns stay only for
-- rows written before this migration, and the next DEK rotation of the
-- organization (`tollgate keys rotate-dek`) seals those and clears the text.
-- Exactly one of the two holds a row's value. The findings maps (kinds and
-- positions, never values) and the policy stay in the clear. Row-level
-- security of both tables is unchanged (0010).

ALTER TABLE call_transcripts ALTER COLUMN body DROP NOT NULL;
ALTER TABLE call_transcripts ADD COLUMN body_sealed BYTEA;
ALTER TABLE call_transcripts ADD CONSTRAINT call_transcripts_one_body
    CHECK ((body IS NULL) <> (body_sealed IS NULL));

ALTER TABLE call_extractions ALTER COLUMN fields DROP NOT NULL;
ALTER TABLE call_extractions ADD COLUMN fields_sealed BYTEA;
ALTER TABLE call_extractions ADD CONSTRAINT call_extractions_one_fields
    CHECK ((fields IS NULL) <> (fields_sealed IS NULL));

-- The response cache of Idempotency-Key requests keeps the first response
-- of a keyed POST, the redacted transcript or extraction included: sealed
-- too, bound to the key's record id (the lower-case hex of key_hash; the
-- table's key is a BYTEA and the rotation walk pages on a text id). Rows
-- from before 0011 keep their body until the next DEK rotation seals it.
ALTER TABLE idempotency_keys ADD COLUMN record_id TEXT NOT NULL DEFAULT '';
ALTER TABLE idempotency_keys ADD COLUMN body_sealed BYTEA;
-- Forced RLS hides the rows even from their owner: lift it for the backfill
-- only, inside this migration's transaction (as 0007 does).
ALTER TABLE idempotency_keys NO FORCE ROW LEVEL SECURITY;
UPDATE idempotency_keys SET record_id = encode(key_hash, 'hex');
ALTER TABLE idempotency_keys FORCE ROW LEVEL SECURITY;
CREATE INDEX idempotency_keys_record ON idempotency_keys (org_id, record_id);
