-- The dial gate's attempts keep one index, by number (ADR 0012). A lead's
-- attempts in a campaign are counted among its number's attempts (a lead's
-- number never changes), so the per-lead index is dropped: every allowed
-- dial inserted into it at a random place, one more page written and
-- synced per dial, and the count it served is only read when a campaign
-- caps attempts per lead. The number's index now carries the campaign and
-- the lead, so that count reads the index alone.
DROP INDEX dial_attempts_lead;
DROP INDEX dial_attempts_number;
CREATE INDEX dial_attempts_number
    ON dial_attempts (org_id, number_hash, attempted_at, campaign_id, lead_id);
