-- Lease one of a backend's slots, shared by every replica; a lease lapses unless renewed.
-- KEYS[1]  all leases of the backend        (zset lease_id -> expiry µs)
-- KEYS[2]  general (non-reserve) leases     (zset lease_id -> expiry µs)
-- ARGV[1]  now in µs, or "" for the Redis server clock (TIME)
-- ARGV[2]  lease_id   ARGV[3]  1 if general, 0 if it may use reserved capacity
-- ARGV[4]  capacity   ARGV[5]  general_limit   ARGV[6]  lease TTL in µs
-- Returns {granted, in_use, general_in_use, next_expiry_in_us}: the occupancy after the
-- decision, and when refused the time until the oldest blocking lease lapses (-1 if none).
-- Idempotent per lease_id: acquiring a lease already held renews it.
local now
if ARGV[1] == '' then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
else
  now = tonumber(ARGV[1])
end
local now_text = string.format('%.0f', now)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now_text)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now_text)
local ttl = tonumber(ARGV[6])
local expiry = string.format('%.0f', now + ttl)
local general = ARGV[3] == '1'
local granted = 0
if redis.call('ZSCORE', KEYS[1], ARGV[2]) then
  granted = 1
elseif redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[4])
    and (not general or redis.call('ZCARD', KEYS[2]) < tonumber(ARGV[5])) then
  granted = 1
end
local next_expiry = -1
if granted == 1 then
  redis.call('ZADD', KEYS[1], expiry, ARGV[2])
  if general then
    redis.call('ZADD', KEYS[2], expiry, ARGV[2])
  end
  local keep_ms = math.ceil(ttl / 1000) * 2
  redis.call('PEXPIRE', KEYS[1], keep_ms)
  redis.call('PEXPIRE', KEYS[2], keep_ms)
else
  local blocking = KEYS[1]
  if general and redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[4]) then
    blocking = KEYS[2]
  end
  local first = redis.call('ZRANGE', blocking, 0, 0, 'WITHSCORES')
  if first[2] then
    next_expiry = tonumber(first[2]) - now
  end
end
return {granted, redis.call('ZCARD', KEYS[1]), redis.call('ZCARD', KEYS[2]), next_expiry}
