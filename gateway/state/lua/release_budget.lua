-- Drop one request's budget reservation (a request that ends without a usage record).
-- KEYS[1]  reservation amounts (hash)   KEYS[2]  reservation expiries (zset)
-- KEYS[3]  sum of live reservations (string)
-- ARGV[1]  request_id
-- Returns the amount released in nano-USD (0 if there was none). Idempotent.
local amount = redis.call('HGET', KEYS[1], ARGV[1])
if not amount then
  return 0
end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('DECRBY', KEYS[3], amount)
return tonumber(amount)
