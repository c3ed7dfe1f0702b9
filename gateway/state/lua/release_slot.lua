-- Release a backend slot lease and tell other replicas' schedulers (pub/sub) so they wake.
-- KEYS[1]  all leases of the backend (zset)   KEYS[2]  general leases (zset)
-- ARGV[1]  lease_id   ARGV[2]  channel to publish on ("" = do not)   ARGV[3]  message
-- Returns 1 if the lease was held, 0 if not (released before, or lapsed). Idempotent.
local removed = redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
if removed == 1 and ARGV[2] ~= '' then
  redis.call('PUBLISH', ARGV[2], ARGV[3])
end
return removed
