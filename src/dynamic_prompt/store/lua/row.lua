-- Listing rows. KEYS: active, meta, labels and release of each prompt, in fours (one prompt
-- per call on a cluster, where each call must stay in one slot; many on one server).
-- Returns one element per prompt: nil when there is no active text, else
-- {size, version, updated_at, updated_by, action, labels, release} (labels and release as
-- stored, or false). Another program's key of the wrong type reads as size 0 / no fields /
-- no labels (pcall), never an error.
local function get(key)
  local ok, v = pcall(redis.call, 'GET', key)
  if ok and v then return v end
  return false
end
local out = {}
for i = 1, #KEYS, 4 do
  local n = redis.pcall('STRLEN', KEYS[i])
  if type(n) ~= 'number' then n = 0 end
  if n == 0 and redis.call('EXISTS', KEYS[i]) == 0 then
    out[#out + 1] = false
  else
    local m = redis.pcall('HMGET', KEYS[i + 1], 'version', 'updated_at', 'updated_by', 'action')
    if type(m) ~= 'table' or m.err then m = {false, false, false, false} end
    out[#out + 1] = {n, m[1], m[2], m[3], m[4], get(KEYS[i + 2]), get(KEYS[i + 3])}
  end
end
return out
