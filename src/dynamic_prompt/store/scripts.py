"""The Lua scripts that make every write one atomic step on the server.

Both scripts take the five keys of one prompt (active, backup, meta, versions,
changelog: one hash tag, so one cluster slot) and first *adopt* any write made
outside this tool: when the active text's SHA-1 differs from the hash the meta
recorded, that text becomes a version of its own with an ``external`` entry.
Because the check and the record happen in one script, an outside write is
recorded exactly once, by whichever process sees it first.

A script is atomic against other clients but not transactional: a command
refused half-way (a key of the wrong type, an ACL rule) leaves the commands
before it applied. So every script checks the keys' types and, on Redis 7+,
the user's permission for each command it may run, *before* its first write.
"""

from __future__ import annotations

# Shared prelude: argument helpers and the adoption step.
_ADOPT = r"""
local K_ACTIVE, K_BACKUP, K_META, K_VERSIONS, K_LOG = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]

local function trim_versions(ver, retention)
  if retention <= 0 then return end
  local oldest = tonumber(redis.call('HGET', K_META, 'oldest') or '1') or 1
  local keep_from = ver - retention + 1
  if keep_from > oldest then
    for v = oldest, keep_from - 1 do
      redis.call('HDEL', K_VERSIONS, tostring(v))
    end
    redis.call('HSET', K_META, 'oldest', tostring(keep_from))
  elseif redis.call('HEXISTS', K_META, 'oldest') == 0 then
    redis.call('HSET', K_META, 'oldest', tostring(oldest))
  end
end

-- The type each key must hold (KEYS[6], when given, is the write lease).
local WANT = {'string', 'string', 'hash', 'hash', 'list', 'string'}

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
local function may_not_write(channel)
  if not redis.acl_check_cmd then return nil end  -- Redis < 7 cannot ask from Lua
  local probes = {
    {'SET', K_ACTIVE, 'x'}, {'SET', K_BACKUP, 'x'},
    {'HSET', K_META, 'f', 'x'}, {'HDEL', K_META, 'f'},
    {'HSET', K_VERSIONS, 'f', 'x'}, {'HDEL', K_VERSIONS, 'f'},
    {'LPUSH', K_LOG, 'x'}, {'LTRIM', K_LOG, '0', '1'},
  }
  if KEYS[6] then probes[#probes + 1] = {'DEL', KEYS[6]} end
  if channel ~= '' then probes[#probes + 1] = {'PUBLISH', channel, 'x'} end
  for _, p in ipairs(probes) do
    if not redis.acl_check_cmd(unpack(p)) then
      return redis.error_reply('NOPERM this user may not run ' .. p[1] .. ' on ' .. p[2])
    end
  end
  return nil
end

local function announce(channel, name, ver, action)
  if channel ~= '' then
    redis.call('PUBLISH', channel, cjson.encode({name = name, version = ver, action = action}))
  end
end

-- Record an outside write (redis-cli, the Ruby gem, ...) as a version of its own.
local function adopt(now, retention, cap, channel, name)
  local active = redis.call('GET', K_ACTIVE)
  local ver = tonumber(redis.call('HGET', K_META, 'version') or '0') or 0
  if not active then return ver, false end
  local h = redis.sha1hex(active)
  if h == redis.call('HGET', K_META, 'hash') then return ver, active end
  ver = ver + 1
  redis.call('HSET', K_VERSIONS, tostring(ver), active)
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
"""

STATE = (
    _ADOPT
    + r"""
-- ARGV: now, retention, cap, channel, name, with_backup ('1'/'0')
local bad = wrong_type()
if bad then return bad end
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
return {active, backup, redis.call('HGETALL', K_META)}
"""
)
"""Read a prompt's state in one round trip (adopting outside writes first).

Returns ``[active or nil, backup or nil, meta as a flat field/value list]``.
"""

COMMIT = (
    _ADOPT
    + r"""
-- KEYS[6]: the write lease. ARGV: now, retention, cap, channel, name,
--       mode ('load'|'write'), expected ('' = any), text, entry (JSON without version),
--       user, action, source ('' = keep), set_backup ('1'/'0'), force ('1'/'0'), lease token
local now, retention, cap, channel, name = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4], ARGV[5]
local mode, expected, text, entry_json = ARGV[6], ARGV[7], ARGV[8], ARGV[9]
local user, action, source, set_backup, force = ARGV[10], ARGV[11], ARGV[12], ARGV[13], ARGV[14]
local token = ARGV[15]

local refused = wrong_type() or may_not_write(channel)
if refused then return refused end

-- A writer that kept losing races holds the lease: the others wait their turn.
local holder = redis.call('GET', KEYS[6])
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
if active == text and (set_backup ~= '1' or redis.call('GET', K_BACKUP) == text) then
  return {'nochange', ver}
end

ver = ver + 1
redis.call('SET', K_ACTIVE, text)
if set_backup == '1' then redis.call('SET', K_BACKUP, text) end
redis.call('HSET', K_VERSIONS, tostring(ver), text)
redis.call('HSET', K_META, 'version', tostring(ver), 'hash', redis.sha1hex(text),
  'size', tostring(#text), 'updated_at', now, 'updated_by', user, 'action', action)
if source ~= '' then redis.call('HSET', K_META, 'source', source) end
local entry = cjson.decode(entry_json)
entry['version'] = ver
redis.call('LPUSH', K_LOG, cjson.encode(entry))
redis.call('LTRIM', K_LOG, 0, cap - 1)
trim_versions(ver, retention)
announce(channel, name, ver, action)
if holder then redis.call('DEL', KEYS[6]) end
return {'ok', ver}
"""
)
"""Write a new version: check, write, bump, keep, log, announce; all or nothing.

Returns ``[status, version]``; status is ``ok``, ``exists`` (load without
force), ``conflict`` (not at the expected version), ``missing``, ``nochange``
or ``locked`` (another writer holds the lease).
"""

CLEAR = r"""
-- KEYS: the prompt's five keys. ARGV: channel, name
if ARGV[1] ~= '' and redis.acl_check_cmd and not redis.acl_check_cmd('PUBLISH', ARGV[1], 'x') then
  return redis.error_reply('NOPERM this user may not run PUBLISH on ' .. ARGV[1])
end
local n = redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5])
if ARGV[1] ~= '' then
  redis.call('PUBLISH', ARGV[1], cjson.encode({name = ARGV[2], version = 0, action = 'clear'}))
end
return n
"""
"""Delete every key of one prompt and announce it."""

RELEASE = r"""
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
"""Delete the write lease ``KEYS[1]`` only if it still holds our token ``ARGV[1]``."""
