K_LABELS, K_RELEASE = KEYS[7] or false, KEYS[8] or false
-- ARGV: now, retention, cap, channel, name, with_backup ('1'/'0'), max_bytes
-- Returns {'ok', active or false, backup or false, meta as a flat list}, or {'toobig', size}.
local bad = wrong_type()
if bad then return bad end
local size = redis.call('STRLEN', K_ACTIVE)
if size > tonumber(ARGV[7]) then
  -- Another program stored more than any prompt may hold: neither copy nor return it.
  return {'toobig', size}
end
local ver, active
if may_not_write(ARGV[4]) then
  -- A read-only user reads as things are; the next writer records any outside write.
  active = redis.call('GET', K_ACTIVE)
  ver = tonumber(redis.call('HGET', K_META, 'version') or '0') or 0
else
  ver, active = adopt(ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4], ARGV[5])
end
local backup = false
if ARGV[6] == '1' then backup = redis.call('GET', K_BACKUP) end
return {'ok', active, backup, redis.call('HGETALL', K_META)}
