-- Redaction on every write path (issue 9): redaction policies, calls, their
-- transcripts and extraction results. Nothing here ever holds unredacted
-- text: the store's only constructors of transcript and extraction bodies
-- run the redaction engine first.

-- A redaction policy. One per organization is its default (is_default,
-- at most one, enforced by the partial unique index); campaigns will point
-- at a policy row by id (campaigns.redaction_policy_id), so a campaign can
-- have a stricter policy than its organization without a schema change here.
CREATE TABLE redaction_policies (
    id           TEXT PRIMARY KEY,
    org_id       TEXT NOT NULL REFERENCES organizations(id),
    is_default   BOOLEAN NOT NULL DEFAULT false,
    -- Space-separated kind codes (tollgate_redact::Kind::code).
    kinds        TEXT NOT NULL,
    -- `tag` or `last_four`.
    card_style   TEXT NOT NULL,
    strict_pci   BOOLEAN NOT NULL,
    min_score    INTEGER NOT NULL,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);
CREATE UNIQUE INDEX redaction_policies_default ON redaction_policies (org_id) WHERE is_default;

CREATE TABLE calls (
    id                TEXT PRIMARY KEY,
    org_id            TEXT NOT NULL REFERENCES organizations(id),
    external_id       TEXT NOT NULL,
    direction         TEXT NOT NULL,
    -- Free text until campaigns exist; then a campaign id.
    campaign_id       TEXT,
    started_at        BIGINT NOT NULL,
    created_by_member TEXT NOT NULL,
    created_at        BIGINT NOT NULL
);
CREATE INDEX calls_org ON calls (org_id, id);
CREATE UNIQUE INDEX calls_external ON calls (org_id, external_id);

-- One transcript per call. `body` is the redacted turns as JSON; it is
-- written and read by one pair of store functions so that encryption at rest
-- is a change in one place.
CREATE TABLE call_transcripts (
    call_id     TEXT PRIMARY KEY REFERENCES calls(id),
    org_id      TEXT NOT NULL REFERENCES organizations(id),
    body        TEXT NOT NULL,
    -- The map of removals (kind and positions, never values), JSON.
    findings    TEXT NOT NULL,
    -- The policy applied, as JSON (kinds, card style, strict, min score).
    policy      TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX call_transcripts_org ON call_transcripts (org_id, call_id);

CREATE TABLE call_extractions (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL REFERENCES organizations(id),
    call_id     TEXT NOT NULL REFERENCES calls(id),
    fields      TEXT NOT NULL,
    findings    TEXT NOT NULL,
    policy      TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX call_extractions_call ON call_extractions (org_id, call_id, id);

ALTER TABLE redaction_policies ENABLE ROW LEVEL SECURITY;
ALTER TABLE redaction_policies FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON redaction_policies
    USING (org_id = current_setting('app.org_id', true))
    WITH CHECK (org_id = current_setting('app.org_id', true));

ALTER TABLE calls ENABLE ROW LEVEL SECURITY;
ALTER TABLE calls FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON calls
    USING (org_id = current_setting('app.org_id', true))
    WITH CHECK (org_id = current_setting('app.org_id', true));

ALTER TABLE call_transcripts ENABLE ROW LEVEL SECURITY;
ALTER TABLE call_transcripts FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON call_transcripts
    USING (org_id = current_setting('app.org_id', true))
    WITH CHECK (org_id = current_setting('app.org_id', true));

ALTER TABLE call_extractions ENABLE ROW LEVEL SECURITY;
ALTER TABLE call_extractions FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON call_extractions
    USING (org_id = current_setting('app.org_id', true))
    WITH CHECK (org_id = current_setting('app.org_id', true));
