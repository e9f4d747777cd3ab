-- KEYS: the prompt's five keys (active, backup, meta, versions, changelog), the lease, labels.
-- ARGV: channel, name, version, text, original ('' with ARGV[6] = '0': none), has_original ('1'/'0'),
--       config (canonical JSON or ''), backup_config, source, meta JSON {updated_at, updated_by, action},
--       fields JSON {field: value} (more fields of the versions hash: "N" texts, "cN" configs),
--       labels JSON {label: number} ('' = none), entries JSON [raw entry, ...] newest first, cap.
-- Puts back a whole prompt that Redis no longer holds, and only then: a prompt with any key
-- left (text, meta, versions, changelog) is someone's data and is never overwritten.
K_LABELS = KEYS[7] or false
-- It appends the changelog with RPUSH, which the common probes do not ask about: a user denied
-- it would be refused after the text, meta and versions were written. (A key the user may not
-- write, such as the labels, is refused by Redis before the script runs: its keys are declared.)
local refused = wrong_type() or may_not_write(ARGV[1], {{'RPUSH', K_LOG, 'x'}})
  or (K_LABELS and wrong_json_type(K_LABELS))
if refused then return refused end
for i = 1, 5 do
  if redis.call('EXISTS', KEYS[i]) == 1 then
    return {'exists', tonumber(redis.call('HGET', K_META, 'version') or '0') or 0}
  end
end
if K_LABELS and redis.call('EXISTS', K_LABELS) == 1 then
  return {'exists', 0}
end
local name, ver, text = ARGV[2], ARGV[3], ARGV[4]
local meta = cjson.decode(ARGV[10])
redis.call('SET', K_ACTIVE, text)
if ARGV[6] == '1' then redis.call('SET', K_BACKUP, ARGV[5]) end
for number, body in pairs(cjson.decode(ARGV[11])) do
  redis.call('HSET', K_VERSIONS, number, body)
end
redis.call('HSET', K_VERSIONS, ver, text)
redis.call('HSET', K_META, 'version', ver, 'hash', redis.sha1hex(text), 'size', tostring(#text),
  'updated_at', tostring(meta.updated_at), 'updated_by', meta.updated_by, 'action', meta.action)
if ARGV[9] ~= '' then redis.call('HSET', K_META, 'source', ARGV[9]) end
if ARGV[7] ~= '' then
  redis.call('HSET', K_META, 'config', ARGV[7])
  redis.call('HSET', K_VERSIONS, 'c' .. ver, ARGV[7])
end
if ARGV[8] ~= '' then redis.call('HSET', K_META, 'backup_config', ARGV[8]) end
if K_LABELS and ARGV[12] ~= '' then redis.call('SET', K_LABELS, ARGV[12]) end
local entries = cjson.decode(ARGV[13])
for i = 1, #entries do redis.call('RPUSH', K_LOG, entries[i]) end
redis.call('LTRIM', K_LOG, 0, tonumber(ARGV[14]) - 1)
announce(ARGV[1], name, tonumber(ver), meta.action)
return {'ok', tonumber(ver)}
