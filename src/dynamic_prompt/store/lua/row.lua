-- Listing rows. KEYS: active and meta of each prompt, in pairs (one pair per call on a
-- cluster, where each call must stay in one slot; many pairs on one server).
-- Returns one element per pair: nil when there is no active text, else
-- {size, version, updated_at, updated_by, action}. Another program's key of the wrong type
-- reads as size 0 / no fields (pcall), never an error.
local out = {}
for i = 1, #KEYS, 2 do
  local n = redis.pcall('STRLEN', KEYS[i])
  if type(n) ~= 'number' then n = 0 end
  if n == 0 and redis.call('EXISTS', KEYS[i]) == 0 then
    out[#out + 1] = false
  else
    local m = redis.pcall('HMGET', KEYS[i + 1], 'version', 'updated_at', 'updated_by', 'action')
    if type(m) ~= 'table' or m.err then m = {false, false, false, false} end
    out[#out + 1] = {n, m[1], m[2], m[3], m[4]}
  end
end
return out
