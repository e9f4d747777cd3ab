local K_ACTIVE, K_BACKUP, K_META, K_VERSIONS, K_LOG = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
-- The labels and release keys (JSON strings, core/labels.py), when the script is given them
-- (KEYS[7] and KEYS[8] of a write script: the script body sets these).
local K_LABELS, K_RELEASE = false, false

-- A key's JSON table, or nil: absent, another program's key of another type, not JSON.
local function json_at(key)
  if not key then return nil end
  local got, raw = pcall(redis.call, 'GET', key)
  if not got or not raw then return nil end
  local ok, data = pcall(cjson.decode, raw)
  if ok and type(data) == 'table' then return data end
  return nil
end

-- A version number as another program may have stored it: a whole number in range, else nil
-- (2.5, 1e400 or "x" must not become a version, nor a field name like "1e+15").
local function whole(v)
  local n = tonumber(v)
  if n and n == math.floor(n) and n > 0 and n < 1e14 then return n end
  return nil
end

-- A labels table with only what this tool would write there: label names mapped to whole
-- numbers (anything else another program left is dropped, so encoding it cannot fail).
local function clean_labels(data)
  local out = {}
  if type(data) ~= 'table' then return out end
  for k, v in pairs(data) do
    local n = whole(v)
    if type(k) == 'string' and n then out[k] = n end
  end
  return out
end

-- The version numbers no prune may take: production's, every label's, a release's pins.
local function pinned()
  local out = {}
  out[tonumber(redis.call('HGET', K_META, 'version') or '0') or 0] = true
  local labels = json_at(K_LABELS)
  if labels then
    for _, v in pairs(labels) do
      local n = whole(v)
      if n then out[n] = true end
    end
  end
  local release = json_at(K_RELEASE)
  if release and type(release.pins) == 'table' then
    for _, v in ipairs(release.pins) do
      local n = whole(v)
      if n then out[n] = true end
    end
  end
  return out
end

-- The number of the next version: past production's, past the newest a label edit made,
-- and past any version still kept under that number.
local function next_version(ver)
  local n = ver
  local labels = json_at(K_LABELS)
  if labels then
    local latest = whole(labels['latest'])
    if latest and latest > n then n = latest end
  end
  n = n + 1
  while redis.call('HEXISTS', K_VERSIONS, tostring(n)) == 1
      or redis.call('HEXISTS', K_VERSIONS, 'd' .. n) == 1 do
    n = n + 1
  end
  return n
end

-- A version's config (a JSON object, core/prompt_config.py) sits beside its text in the
-- versions hash, as field 'c'..N when not empty; production's is copied into meta's
-- 'config', so an agent reads it with the version number. '' is the empty config.
local function keep_config(ver, config)
  if config ~= '' then
    redis.call('HSET', K_VERSIONS, 'c' .. ver, config)
  else
    redis.call('HDEL', K_VERSIONS, 'c' .. ver)  -- another program's leftover must not become this version's
  end
end

local function production_config(config)
  if config ~= '' then
    redis.call('HSET', K_META, 'config', config)
  else
    redis.call('HDEL', K_META, 'config')
  end
end

local function trim_versions(ver, retention)
  if retention <= 0 then return end
  local oldest = tonumber(redis.call('HGET', K_META, 'oldest') or '1') or 1
  local keep_from = ver - retention + 1
  if keep_from > oldest then
    local keep = pinned()
    for v = oldest, keep_from - 1 do
      if not keep[v] then  -- a labelled version stays, however old
        -- full text or delta (core/delta.py), and its config
        redis.call('HDEL', K_VERSIONS, tostring(v), 'd' .. v, 'c' .. v)
      end
    end
    redis.call('HSET', K_META, 'oldest', tostring(keep_from))
  elseif redis.call('HEXISTS', K_META, 'oldest') == 0 then
    redis.call('HSET', K_META, 'oldest', tostring(oldest))
  end
end

-- The type each key must hold (KEYS[6], when given, is the write lease). Labels and release
-- (KEYS[7], KEYS[8]) are only read here, through json_at: another program's key of another
-- type there reads as none and never stops a write of production; the scripts that write
-- them check their types themselves.
local WANT = {'string', 'string', 'hash', 'hash', 'list', 'string'}

-- Refuse before the first effect: a labels or release key another program filled with the
-- wrong type, for the scripts that write them.
local function wrong_json_type(...)
  for _, key in ipairs({...}) do
    local t = redis.call('TYPE', key)['ok']
    if t ~= 'none' and t ~= 'string' then
      return redis.error_reply('WRONGTYPE ' .. key .. ' holds a ' .. t .. ', not a string')
    end
  end
  return nil
end

-- Refuse before the first effect: a key another program filled with the wrong type.
local function wrong_type()
  for i = 1, #KEYS do
    local want = WANT[i]
    if want then
      local t = redis.call('TYPE', KEYS[i])['ok']
      if t ~= 'none' and t ~= want then
        return redis.error_reply('WRONGTYPE ' .. KEYS[i] .. ' holds a ' .. t .. ', not a ' .. want)
      end
    end
  end
  return nil
end

-- Refuse before the first effect: a user that may run some of our writes but not all.
-- ``more``: the commands a script runs beyond these ({command, key, args...} each).
local function may_not_write(channel, more)
  if not redis.acl_check_cmd then return nil end  -- Redis < 7 cannot ask from Lua
  local probes = {
    {'SET', K_ACTIVE, 'x'}, {'SET', K_BACKUP, 'x'},
    {'HSET', K_META, 'f', 'x'}, {'HDEL', K_META, 'f'},
    {'HSET', K_VERSIONS, 'f', 'x'}, {'HDEL', K_VERSIONS, 'f'},
    {'LPUSH', K_LOG, 'x'}, {'LTRIM', K_LOG, '0', '1'},
  }
  if KEYS[6] then probes[#probes + 1] = {'DEL', KEYS[6]} end
  if channel ~= '' then probes[#probes + 1] = {publish_command(channel), channel, 'x'} end
  for _, p in ipairs(more or {}) do probes[#probes + 1] = p end
  for _, p in ipairs(probes) do
    if not redis.acl_check_cmd(unpack(p)) then
      return redis.error_reply('NOPERM this user may not run ' .. p[1] .. ' on ' .. p[2])
    end
  end
  return nil
end

-- Record an outside write (redis-cli, the Ruby gem, ...) as a version of its own.
local function adopt(now, retention, cap, channel, name)
  local active = redis.call('GET', K_ACTIVE)
  local ver = tonumber(redis.call('HGET', K_META, 'version') or '0') or 0
  if not active then return ver, false end
  local h = redis.sha1hex(active)
  if h == redis.call('HGET', K_META, 'hash') then return ver, active end
  ver = next_version(ver)
  redis.call('HSET', K_VERSIONS, tostring(ver), active)
  keep_config(ver, redis.call('HGET', K_META, 'config') or '')  -- an outside write keeps the config
  redis.call('HSET', K_META, 'version', tostring(ver), 'hash', h, 'size', tostring(#active),
    'updated_at', now, 'updated_by', '', 'action', 'external')
  if redis.call('EXISTS', K_BACKUP) == 0 then
    redis.call('SET', K_BACKUP, active)
  end
  local entry = {timestamp = math.floor(tonumber(now)), action = 'external', user_id = '',
    instruction = 'changed outside dprompt', version = ver}
  redis.call('LPUSH', K_LOG, cjson.encode(entry))
  redis.call('LTRIM', K_LOG, 0, cap - 1)
  trim_versions(ver, retention)
  announce(channel, name, ver, 'external')
  return ver, active
end
