-- KEYS[1]: the prompt's write lease. ARGV: token, lease ms. Returns 1 if taken, else 0.
-- Our leases always expire; one without expiry was left by someone else and would block
-- the prompt forever, so it does not count.
if redis.call('PTTL', KEYS[1]) == -1 then redis.call('DEL', KEYS[1]) end
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
return 0
