-- Reserve-at-admission for one tenant's budget: admit iff spent + reserved + amount <= limit.
-- One script, so concurrent admissions from any number of replicas can never overspend.
-- KEYS[1]  spend of the budget's current period (string, nano-USD)
-- KEYS[2]  reservation amounts   (hash request_id -> nano-USD)
-- KEYS[3]  reservation expiries  (zset request_id -> µs)
-- KEYS[4]  sum of live reservations (string, nano-USD)
-- ARGV[1]  now in µs, or "" for the Redis server clock (TIME)
-- ARGV[2]  request_id   ARGV[3]  amount (nano-USD)   ARGV[4]  limit (nano-USD)
-- ARGV[5]  reservation TTL in µs: a replica that dies never settles, so its reservations lapse
-- Returns {allowed, spent, reserved}; reserved includes this reservation when allowed.
-- Idempotent per request_id: reserving again returns the standing reservation.
local now
if ARGV[1] == '' then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
else
  now = tonumber(ARGV[1])
end
-- Lapse expired reservations (bounded per call to keep the script short).
local stale = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', string.format('%.0f', now),
                         'LIMIT', 0, 100)
for _, id in ipairs(stale) do
  local amount = redis.call('HGET', KEYS[2], id)
  if amount then
    redis.call('HDEL', KEYS[2], id)
    redis.call('DECRBY', KEYS[4], amount)
  end
  redis.call('ZREM', KEYS[3], id)
end
local spent = tonumber(redis.call('GET', KEYS[1]) or '0')
local reserved = tonumber(redis.call('GET', KEYS[4]) or '0')
if redis.call('HEXISTS', KEYS[2], ARGV[2]) == 1 then
  return {1, spent, reserved}
end
if spent + reserved + tonumber(ARGV[3]) > tonumber(ARGV[4]) then
  return {0, spent, reserved}
end
local ttl = tonumber(ARGV[5])
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
redis.call('ZADD', KEYS[3], string.format('%.0f', now + ttl), ARGV[2])
reserved = redis.call('INCRBY', KEYS[4], ARGV[3])
-- The three structures vanish together once every reservation in them has lapsed.
local keep_ms = math.ceil(ttl / 1000) * 2
for i = 2, 4 do
  redis.call('PEXPIRE', KEYS[i], keep_ms)
end
return {1, spent, reserved}
