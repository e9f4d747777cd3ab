-- Move production (the active text) to a kept version: promote a label's version, or roll
-- back to an earlier one. No new version: production points at version ARGV[6] itself.
-- KEYS: the write keys (five, lease, labels, release). ARGV: now, retention, cap, channel,
--   name, version, text (the version's text when it is kept as a delta, else ''), entry
--   (JSON without version), user, expected ('' any: production's version the caller saw),
--   max_bytes. A running rollout ends in the same step (its agents read production again);
--   an experiment goes on.
-- Returns {status, version, previous}: 'ok', 'nochange', 'conflict', 'missing', 'noversion',
-- 'whole' (call again with the text), 'locked', 'toobig'.
K_LABELS, K_RELEASE = KEYS[7], KEYS[8]
local now, retention, cap, channel, name = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4], ARGV[5]
local target, text, entry_json, user = tonumber(ARGV[6]), ARGV[7], ARGV[8], ARGV[9]
local expected = ARGV[10]

local refused = wrong_type() or wrong_json_type(K_LABELS, K_RELEASE) or may_not_write(channel)
if refused then return refused end
if redis.acl_check_cmd then
  for _, p in ipairs({{'SET', K_LABELS, 'x'}, {'SET', K_RELEASE, 'x'}, {'DEL', K_RELEASE}}) do
    if not redis.acl_check_cmd(unpack(p)) then
      return redis.error_reply('NOPERM this user may not run ' .. p[1] .. ' on ' .. p[2])
    end
  end
end
local size = redis.call('STRLEN', K_ACTIVE)
if size > tonumber(ARGV[11]) then return {'toobig', size, 0} end
local holder = redis.call('GET', KEYS[6])
if holder and redis.call('PTTL', KEYS[6]) ~= -1 then
  return {'locked', tonumber(redis.call('HGET', K_META, 'version') or '0') or 0, 0}
end

-- Everything that could fail is worked out before the first write (adopt included): the
-- labels as clean numbers, and the release without its rollout, encoded.
local labels = clean_labels(json_at(K_LABELS))
local release = json_at(K_RELEASE)
local rollout = release and release['rollout']
local kept_release = false  -- false: delete the release key; a string: store it
if rollout and type(release['experiment']) == 'table' then
  -- An experiment (never beside a rollout from this tool) goes on, with the versions it names
  -- by number still pinned.
  release['rollout'] = nil
  local pins = {}
  local variants = release['experiment']['variants']
  for _, v in ipairs(type(variants) == 'table' and variants or {}) do
    local n = whole(string.match(tostring(type(v) == 'table' and v['target'] or ''), '^v(%d+)$'))
    if n then pins[#pins + 1] = n end
  end
  release['pins'] = pins
  local ok, encoded = pcall(cjson.encode, release)
  if ok then kept_release = encoded end
end

local ver, active = adopt(now, retention, cap, channel, name)
if not active then return {'missing', ver, 0} end
if expected ~= '' and tonumber(expected) ~= ver then return {'conflict', ver, 0} end
local body = redis.call('HGET', K_VERSIONS, tostring(target))
if not body then
  if redis.call('HEXISTS', K_VERSIONS, 'd' .. target) == 0 then return {'noversion', ver, 0} end
  if text == '' then return {'whole', ver, 0} end
  body = text
end
if target == ver and not rollout then return {'nochange', ver, ver} end
local target_config = redis.call('HGET', K_VERSIONS, 'c' .. target) or ''

-- Keep the newest version's number known before production moves back, so the next
-- write still gets a new number (next_version) and `latest` stays where it was.
if (labels['latest'] or 0) < ver then
  labels['latest'] = ver
  redis.call('SET', K_LABELS, cjson.encode(labels))
end
if redis.call('HEXISTS', K_VERSIONS, tostring(target)) == 0 then
  redis.call('HSET', K_VERSIONS, tostring(target), body)  -- production's version is kept whole
  redis.call('HDEL', K_VERSIONS, 'd' .. target)
end
redis.call('SET', K_ACTIVE, body)
redis.call('HSET', K_META, 'version', tostring(target), 'hash', redis.sha1hex(body),
  'size', tostring(#body), 'updated_at', now, 'updated_by', user, 'action', 'promote')
production_config(target_config)  -- production serves that version's config with its text
if rollout then
  if kept_release then redis.call('SET', K_RELEASE, kept_release) else redis.call('DEL', K_RELEASE) end
end
local entry = cjson.decode(entry_json)
entry['version'] = target
entry['metadata']['from'] = ver
redis.call('LPUSH', K_LOG, cjson.encode(entry))
redis.call('LTRIM', K_LOG, 0, cap - 1)
announce(channel, name, target, 'promote')
return {'ok', target, ver}
