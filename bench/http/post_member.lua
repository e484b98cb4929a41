-- wrk: POST /v1/members with a fresh address per request (an invitation is
-- a real write: membership, person, directory entry and audit event).
counter = 0
request = function()
  counter = counter + 1
  local body = string.format('{"email":"bench-%d-%d@bench.example.com","role":"viewer"}', math.random(1, 1000000000), counter)
  return wrk.format("POST", "/v1/members", nil, body)
end
