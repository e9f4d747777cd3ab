-- Announcing a change on the change channel (shared by every write script).

-- A hash-tagged channel is a shard channel (a cluster: dprompt:changes:{NAME}, one per
-- prompt, in the prompt's own slot, heard on the node that holds it); else classic pub/sub.
local function publish_command(channel)
  if string.find(channel, '{', 1, true) then return 'SPUBLISH' end
  return 'PUBLISH'
end

local function announce(channel, name, ver, action)
  if channel ~= '' then
    local command = publish_command(channel)
    if command == 'SPUBLISH' then channel = 'dprompt:changes:{' .. name .. '}' end
    redis.call(command, channel, cjson.encode({name = name, version = ver, action = action}))
  end
end

