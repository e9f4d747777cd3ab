-- KEYS: the prompt's keys (five, labels, release). ARGV: channel, name (a hash-tagged channel is a shard channel)
local command = publish_command(ARGV[1])
if ARGV[1] ~= '' and redis.acl_check_cmd and not redis.acl_check_cmd(command, ARGV[1], 'x') then
  return redis.error_reply('NOPERM this user may not run ' .. command .. ' on ' .. ARGV[1])
end
local n = redis.call('DEL', unpack(KEYS))
if ARGV[1] ~= '' then
  redis.call(command, ARGV[1], cjson.encode({name = ARGV[2], version = 0, action = 'clear'}))
end
return n
