-- Rename a prompt: move its keys to the new name's, whole, in one step.
-- KEYS[1..8]: the prompt's write keys (five, lease, labels, release); KEYS[9..16]: the new name's.
-- ARGV: now, retention, cap, channel, name, new name, entry (JSON without version), user, max_bytes
-- Returns {status, n[, active]}: {'ok', version, text}, {'missing', version},
-- {'exists', 1 if the new name has text else 0}, {'locked', version}, {'toobig', size}.
-- Both names' keys are named, so the script runs only where all of them live: one server,
-- or the Sentinel primary. Every refusal comes before the first write.
local now, retention, cap, channel = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
local name, new_name = ARGV[5], ARGV[6]

K_LABELS, K_RELEASE = KEYS[7], KEYS[8]
local MOVED = {1, 2, 3, 4, 5, 7, 8}  -- every key but the lease
local refused = wrong_type() or may_not_write(channel)
if refused then return refused end
if redis.acl_check_cmd then
  for _, i in ipairs(MOVED) do
    if not redis.acl_check_cmd('RENAME', KEYS[i], KEYS[i + 8]) then
      return redis.error_reply('NOPERM this user may not run RENAME on ' .. KEYS[i])
    end
  end
end
local size = redis.call('STRLEN', K_ACTIVE)
if size > tonumber(ARGV[9]) then return {'toobig', size} end
local ver = tonumber(redis.call('HGET', K_META, 'version') or '0') or 0
-- A writer that kept losing races holds the lease: wait for it (the caller tries again).
if redis.call('GET', KEYS[6]) and redis.call('PTTL', KEYS[6]) ~= -1 then return {'locked', ver} end
if redis.call('EXISTS', K_ACTIVE) == 0 then return {'missing', ver} end
-- Any key of the new name refuses: a history there would be mixed with ours.
for _, i in ipairs(MOVED) do
  if redis.call('EXISTS', KEYS[i + 8]) == 1 then
    return {'exists', redis.call('EXISTS', KEYS[9])}
  end
end

local active
ver, active = adopt(now, retention, cap, channel, name)
local entry = cjson.decode(ARGV[7])
entry['version'] = ver
redis.call('LPUSH', K_LOG, cjson.encode(entry))
redis.call('LTRIM', K_LOG, 0, cap - 1)
redis.call('HSET', K_META, 'updated_at', now, 'updated_by', ARGV[8], 'action', 'rename')
for _, i in ipairs(MOVED) do
  if redis.call('EXISTS', KEYS[i]) == 1 then redis.call('RENAME', KEYS[i], KEYS[i + 8]) end
end
announce(channel, name, 0, 'rename')
announce(channel, new_name, ver, 'rename')
return {'ok', ver, active}
