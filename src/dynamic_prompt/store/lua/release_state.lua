-- Start, change or end a rollout or an experiment: the release key, written whole.
-- KEYS: the write keys (five, lease, labels, release). ARGV: now, retention, cap, channel,
--   name, release (JSON to store; '' deletes it), expected (SHA-1 of the release JSON the
--   caller derived from; '' when there was none), entry (JSON without version),
--   pins (JSON list of the versions the release serves by number), their texts (JSON list,
--   the same order: each is stored whole where the version is kept as a delta)
-- Returns {status, production version}: 'ok', 'conflict', 'missing', 'noversion', 'whole'.
K_LABELS, K_RELEASE = KEYS[7], KEYS[8]
local now, retention, cap, channel, name = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4], ARGV[5]
local new, expected, entry_json = ARGV[6], ARGV[7], ARGV[8]
local pins, pin_texts = cjson.decode(ARGV[9]), cjson.decode(ARGV[10])

local refused = wrong_type() or wrong_json_type(K_RELEASE)
if refused then return refused end
if redis.acl_check_cmd then
  local probes = {{'SET', K_RELEASE, 'x'}, {'DEL', K_RELEASE}, {'HSET', K_VERSIONS, 'f', 'x'},
    {'HDEL', K_VERSIONS, 'f'}, {'LPUSH', K_LOG, 'x'}, {'LTRIM', K_LOG, '0', '1'}}
  if channel ~= '' then probes[#probes + 1] = {publish_command(channel), channel, 'x'} end
  for _, p in ipairs(probes) do
    if not redis.acl_check_cmd(unpack(p)) then
      return redis.error_reply('NOPERM this user may not run ' .. p[1] .. ' on ' .. p[2])
    end
  end
end
local ver = tonumber(redis.call('HGET', K_META, 'version') or '0') or 0
if redis.call('EXISTS', K_ACTIVE) == 0 then return {'missing', ver} end
local raw = redis.call('GET', K_RELEASE)
local seen = ''
if raw then seen = redis.sha1hex(raw) end
if seen ~= expected then return {'conflict', ver} end
-- Every check before the first write: each pinned version is kept, whole or with its text.
for i, pin in ipairs(pins) do
  local field = tostring(pin)
  if redis.call('HEXISTS', K_VERSIONS, field) == 0 then
    if redis.call('HEXISTS', K_VERSIONS, 'd' .. field) == 0 then return {'noversion', pin} end
    if (pin_texts[i] or '') == '' then return {'whole', pin} end
  end
end
for i, pin in ipairs(pins) do
  local field = tostring(pin)
  if redis.call('HEXISTS', K_VERSIONS, field) == 0 then
    redis.call('HSET', K_VERSIONS, field, pin_texts[i])  -- a version served by number is kept whole
    redis.call('HDEL', K_VERSIONS, 'd' .. field)
  end
end
if new == '' then redis.call('DEL', K_RELEASE) else redis.call('SET', K_RELEASE, new) end
local entry = cjson.decode(entry_json)
entry['version'] = ver
redis.call('LPUSH', K_LOG, cjson.encode(entry))
redis.call('LTRIM', K_LOG, 0, cap - 1)
announce(channel, name, math.max(ver, 1), 'release')
return {'ok', ver}
