-- Heartbeat: extend the leases one replica holds on one backend.
-- Upserts: a lease that lapsed while Redis was unreachable is put back, because its request is
-- still running on the GPU and the shared occupancy must count it.
-- KEYS[1]  all leases of the backend (zset)   KEYS[2]  general leases (zset)
-- ARGV[1]  now in µs, or "" for the Redis server clock (TIME)   ARGV[2]  lease TTL in µs
-- ARGV[3..] (lease_id, 1 if general else 0) pairs
-- Returns how many of the leases had lapsed and were put back.
local now
if ARGV[1] == '' then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
else
  now = tonumber(ARGV[1])
end
local ttl = tonumber(ARGV[2])
local expiry = string.format('%.0f', now + ttl)
local restored = 0
for i = 3, #ARGV, 2 do
  restored = restored + redis.call('ZADD', KEYS[1], expiry, ARGV[i])
  if ARGV[i + 1] == '1' then
    redis.call('ZADD', KEYS[2], expiry, ARGV[i])
  end
end
local keep_ms = math.ceil(ttl / 1000) * 2
redis.call('PEXPIRE', KEYS[1], keep_ms)
redis.call('PEXPIRE', KEYS[2], keep_ms)
return restored
