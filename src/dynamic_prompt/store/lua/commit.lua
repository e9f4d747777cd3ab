-- KEYS[6]: the write lease; KEYS[7], KEYS[8]: labels and release (read: version numbers, pins). ARGV: now, retention, cap, channel, name,
--       mode ('load'|'write'), expected ('' = any), text, entry (JSON without version),
--       user, action, source ('' = keep), set_backup ('1'/'0'), force ('1'/'0'), lease token,
--       max_bytes (an outside text bigger than this is neither adopted nor overwritten),
--       set_config ('1': the version's config is ARGV[18]; '0': production's carries over),
--       config (canonical JSON, '' for none)
local now, retention, cap, channel, name = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4], ARGV[5]
local mode, expected, text, entry_json = ARGV[6], ARGV[7], ARGV[8], ARGV[9]
local user, action, source, set_backup, force = ARGV[10], ARGV[11], ARGV[12], ARGV[13], ARGV[14]
local token = ARGV[15]
local set_config, config = ARGV[17], ARGV[18] or ''

K_LABELS, K_RELEASE = KEYS[7] or false, KEYS[8] or false
local refused = wrong_type() or may_not_write(channel)
if refused then return refused end
local size = redis.call('STRLEN', K_ACTIVE)
if size > tonumber(ARGV[16]) then return {'toobig', size} end

-- A writer that kept losing races holds the lease: the others wait their turn. Our leases
-- always expire; one without expiry was left by someone else and is no lease at all.
local holder = redis.call('GET', KEYS[6])
if holder and redis.call('PTTL', KEYS[6]) == -1 then holder = false end
if holder and holder ~= token then
  return {'locked', tonumber(redis.call('HGET', K_META, 'version') or '0') or 0}
end

local ver, active = adopt(now, retention, cap, channel, name)
if mode == 'load' and force ~= '1' and active then
  return {'exists', ver}
end
if expected ~= '' and tonumber(expected) ~= ver then
  return {'conflict', ver}
end
if mode ~= 'load' and not active then
  return {'missing', ver}
end
-- A prompt without text (never loaded, cleared by another program) carries no config over.
local was_config = active and (redis.call('HGET', K_META, 'config') or '') or ''
if set_config ~= '1' then config = was_config end
if active == text and config == was_config
    and (set_backup ~= '1' or redis.call('GET', K_BACKUP) == text) then
  return {'nochange', ver}
end

ver = next_version(ver)
redis.call('SET', K_ACTIVE, text)
if set_backup == '1' then redis.call('SET', K_BACKUP, text) end
redis.call('HSET', K_VERSIONS, tostring(ver), text)
redis.call('HSET', K_META, 'version', tostring(ver), 'hash', redis.sha1hex(text),
  'size', tostring(#text), 'updated_at', now, 'updated_by', user, 'action', action)
if source ~= '' then redis.call('HSET', K_META, 'source', source) end
keep_config(ver, config)
production_config(config)
if set_backup == '1' then  -- the original's config, for a revert to the original
  if config ~= '' then redis.call('HSET', K_META, 'backup_config', config)
  else redis.call('HDEL', K_META, 'backup_config') end
end
local entry = cjson.decode(entry_json)
entry['version'] = ver
redis.call('LPUSH', K_LOG, cjson.encode(entry))
redis.call('LTRIM', K_LOG, 0, cap - 1)
trim_versions(ver, retention)
announce(channel, name, ver, action)
if redis.call('EXISTS', KEYS[6]) == 1 and (holder == token or not holder) then
  redis.call('DEL', KEYS[6])
end
return {'ok', ver}
