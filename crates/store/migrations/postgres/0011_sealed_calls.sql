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
