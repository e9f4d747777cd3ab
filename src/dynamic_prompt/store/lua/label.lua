-- Move, remove, or edit on a label other than production: the labels key, the kept versions
-- and the changelog, never the active text. So a user whose ACL may write those three keys
-- but not the active text, meta or release (a "tuner") can run it, and nothing else.
-- KEYS[1]: labels (JSON string), KEYS[2]: versions (hash), KEYS[3]: changelog (list).
-- ARGV: op ('set'|'rm'|'commit'), now, cap, channel, name, label, version ('' unless 'set'),
--       text (the version's text: 'set' of a delta version, or 'commit's new text),
--       entry (JSON without version), hint (production's version as last read), expected
--       ('' any: the label's version the caller derived from), set_config ('1': 'commit' gives
--       the new version config ARGV[13]; else the label's version's config carries over),
--       config (canonical JSON, '' for none; see keep_config in prelude.lua)
-- Returns {status, version, previous}: 'ok', 'nochange', 'conflict', 'missing', 'noversion',
-- 'whole' (a delta version: call again with its text).
local K_LABELS, K_VERSIONS, K_LOG = KEYS[1], KEYS[2], KEYS[3]
local op, now, cap, channel, name = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4], ARGV[5]
local label, text, entry_json = ARGV[6], ARGV[8], ARGV[9]
local hint, expected = tonumber(ARGV[10]) or 0, ARGV[11]
local set_config, config = ARGV[12] or '0', ARGV[13] or ''

local want = {'string', 'hash', 'list'}
for i = 1, 3 do
  local t = redis.call('TYPE', KEYS[i])['ok']
  if t ~= 'none' and t ~= want[i] then
    return redis.error_reply('WRONGTYPE ' .. KEYS[i] .. ' holds a ' .. t .. ', not a ' .. want[i])
  end
end
if redis.acl_check_cmd then
  local probes = {{'SET', K_LABELS, 'x'}, {'HSET', K_VERSIONS, 'f', 'x'}, {'HDEL', K_VERSIONS, 'f'},
    {'LPUSH', K_LOG, 'x'}, {'LTRIM', K_LOG, '0', '1'}}
  if channel ~= '' then probes[#probes + 1] = {publish_command(channel), channel, 'x'} end
  for _, p in ipairs(probes) do
    if not redis.acl_check_cmd(unpack(p)) then
      return redis.error_reply('NOPERM this user may not run ' .. p[1] .. ' on ' .. p[2])
    end
  end
end

local labels = {}
local raw = redis.call('GET', K_LABELS)
if raw then
  local ok, data = pcall(cjson.decode, raw)
  if not ok or type(data) ~= 'table' then
    return redis.error_reply('CORRUPT ' .. K_LABELS .. ' does not hold JSON labels (another program wrote it)')
  end
  -- Only label names mapped to whole numbers (see whole, below): anything else another
  -- program left there is dropped, so the encode after the first write cannot fail.
  for k, v in pairs(data) do
    local n = tonumber(v)
    if type(k) == 'string' and n and n == math.floor(n) and n > 0 and n < 1e14 then labels[k] = n end
  end
end
-- A version number as another program may have stored it: a whole number in range, else nil.
local function whole(v)
  local n = tonumber(v)
  if n and n == math.floor(n) and n > 0 and n < 1e14 then return n end
  return nil
end
local current = whole(labels[label])

local function kept(v)
  return redis.call('HEXISTS', K_VERSIONS, tostring(v)) == 1
end

local function log(ver, previous)
  local entry = cjson.decode(entry_json)
  entry['version'] = ver
  entry['metadata']['from'] = previous
  redis.call('LPUSH', K_LOG, cjson.encode(entry))
  redis.call('LTRIM', K_LOG, 0, cap - 1)
end

if expected ~= '' and tonumber(expected) ~= (current or 0) then
  return {'conflict', current or 0, 0}
end

if op == 'set' then
  local ver = tonumber(ARGV[7])
  if not kept(ver) then
    if redis.call('HEXISTS', K_VERSIONS, 'd' .. ver) == 0 then return {'noversion', ver, 0} end
    if text == '' then return {'whole', ver, 0} end
    -- A labelled version is kept whole: no prune or newer base can strand it.
    redis.call('HSET', K_VERSIONS, tostring(ver), text)
    redis.call('HDEL', K_VERSIONS, 'd' .. ver)
  end
  if current == ver then return {'nochange', ver, ver} end
  labels[label] = ver
  redis.call('SET', K_LABELS, cjson.encode(labels))
  log(ver, current or 0)
  announce(channel, name, ver, 'label')
  return {'ok', ver, current or 0}
elseif op == 'rm' then
  if not current then return {'missing', 0, 0} end
  labels[label] = nil
  redis.call('SET', K_LABELS, cjson.encode(labels))
  log(current, current)
  announce(channel, name, current, 'label')
  return {'ok', current, current}
elseif op == 'commit' then
  if not current then return {'missing', 0, 0} end
  local was_config = redis.call('HGET', K_VERSIONS, 'c' .. current) or ''
  if set_config ~= '1' then config = was_config end
  if redis.call('HGET', K_VERSIONS, tostring(current)) == text and config == was_config then
    return {'nochange', current, current}
  end
  local n = math.max(whole(labels['latest']) or 0, whole(hint) or 0, current)
  for _, v in pairs(labels) do
    if whole(v) and whole(v) > n then n = whole(v) end
  end
  n = n + 1
  while kept(n) or redis.call('HEXISTS', K_VERSIONS, 'd' .. n) == 1 do n = n + 1 end
  redis.call('HSET', K_VERSIONS, tostring(n), text)
  if config ~= '' then
    redis.call('HSET', K_VERSIONS, 'c' .. n, config)
  else
    redis.call('HDEL', K_VERSIONS, 'c' .. n)  -- another program's leftover must not become this version's
  end
  labels[label] = n
  labels['latest'] = n
  redis.call('SET', K_LABELS, cjson.encode(labels))
  log(n, current)
  announce(channel, name, n, 'modify')
  return {'ok', n, current}
end
return redis.error_reply('ERR unknown label operation ' .. op)
