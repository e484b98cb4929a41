-- A campaign's own redaction policy (issue 9): a policy row bound to one
-- campaign. What is submitted about a call of that campaign is redacted
-- with the stricter of it and the organization's default, kind by kind, so
-- a campaign can only ever remove more.
ALTER TABLE redaction_policies ADD COLUMN campaign_id TEXT;
CREATE UNIQUE INDEX redaction_policies_campaign ON redaction_policies (org_id, campaign_id)
    WHERE campaign_id IS NOT NULL;
