-- One listing row. KEYS[1]: active, KEYS[2]: meta.
-- Returns nil when there is no active text, else {size, version, updated_at, updated_by, action}.
-- Another program's key of the wrong type reads as size 0 / no fields (pcall), never an error.
local n = redis.pcall('STRLEN', KEYS[1])
if type(n) ~= 'number' then n = 0 end
if n == 0 and redis.call('EXISTS', KEYS[1]) == 0 then return false end
local m = redis.pcall('HMGET', KEYS[2], 'version', 'updated_at', 'updated_by', 'action')
if type(m) ~= 'table' or m.err then m = {false, false, false, false} end
return {n, m[1], m[2], m[3], m[4]}
