-- wrk: POST /v1/dial-checks, cycling through the lead ids in $LEADS_FILE
-- (one per line) at the planned instant $PLANNED_AT (inside calling hours),
-- so every answer is an allowed decision with its attempt and audit event
-- written durably.
local ids = {}
local planned = os.getenv("PLANNED_AT")
local campaign = os.getenv("CAMPAIGN_ID")
for line in io.lines(os.getenv("LEADS_FILE")) do
  ids[#ids + 1] = line
end
local i = 0
request = function()
  i = i + 1
  local body = string.format('{"lead_id":"%s","campaign_id":"%s","channel":"voice","planned_at":"%s"}',
    ids[(i % #ids) + 1], campaign, planned)
  return wrk.format("POST", "/v1/dial-checks", nil, body)
end

-- With DELAY_MS set, each connection pauses that long between an answer
-- and its next request: a paced load (the fixed-rate phase of gate.sh).
local pause = tonumber(os.getenv("DELAY_MS") or "")
if pause then
  delay = function()
    return pause
  end
end
