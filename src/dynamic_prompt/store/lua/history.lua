-- KEYS[1]: a changelog list. ARGV: start, stop, max bytes per entry.
-- Returns {entry, size, entry, size, ...}: each entry cut to max bytes, with its real size,
-- so an entry another program made huge costs a reader max bytes, not all of it.
local items = redis.call('LRANGE', KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]))
local limit = tonumber(ARGV[3])
local out = {}
for i, item in ipairs(items) do
  out[2 * i - 1] = string.sub(item, 1, limit)
  out[2 * i] = #item
end
return out
