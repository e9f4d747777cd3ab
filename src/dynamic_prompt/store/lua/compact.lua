-- Replace kept version ARGV[1]'s full text by a delta against version ARGV[3] (core/delta.py).
-- KEYS[1]: the versions hash; KEYS[2], KEYS[3]: labels and release (JSON strings); KEYS[4]:
-- meta (production's version, which stays whole: a promote may have moved it there). ARGV: old
-- version, SHA-1 of its text, base version, SHA-1 of the base's text, the delta (JSON). Only
-- when both texts are still the ones the delta was made from (a concurrent writer, an outside
-- write or a prune changes nothing then) and no label or release serves the old version:
-- returns 1 if replaced, else 0. Never touches the active text, the original or the changelog.
if redis.call('TYPE', KEYS[1])['ok'] ~= 'hash' then return 0 end
if KEYS[4] and redis.call('TYPE', KEYS[4])['ok'] == 'hash'
    and tonumber(redis.call('HGET', KEYS[4], 'version')) == tonumber(ARGV[1]) then
  return 0
end
for i = 2, 3 do
  if KEYS[i] and redis.call('TYPE', KEYS[i])['ok'] == 'string' then
    local ok, data = pcall(cjson.decode, redis.call('GET', KEYS[i]))
    if not ok or type(data) ~= 'table' then return 0 end
    for k, v in pairs(data) do
      if tonumber(v) == tonumber(ARGV[1]) then return 0 end
      if k == 'pins' and type(v) == 'table' then
        for _, p in ipairs(v) do
          if tonumber(p) == tonumber(ARGV[1]) then return 0 end
        end
      end
    end
  end
end
local old = redis.call('HGET', KEYS[1], ARGV[1])
local base = redis.call('HGET', KEYS[1], ARGV[3])
if not old or not base then return 0 end
if redis.sha1hex(old) ~= ARGV[2] or redis.sha1hex(base) ~= ARGV[4] then return 0 end
redis.call('HSET', KEYS[1], 'd' .. ARGV[1], ARGV[5])
redis.call('HDEL', KEYS[1], ARGV[1])
return 1
