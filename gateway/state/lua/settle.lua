-- Apply one finished request's usage exactly once, touching only its tenant's keys ({tenant} tag).
-- A SET NX marker makes it idempotent: a client retry or a spool replay never counts twice.
-- KEYS[1]  settled marker of this request id (string, SET NX EX)
-- KEYS[2]  reservation amounts (hash)   KEYS[3]  reservation expiries (zset)
-- KEYS[4]  sum of live reservations (string)
-- KEYS[5]  spend of the record's UTC day (string)   KEYS[6]  spend of its UTC month (string)
-- KEYS[7]  usage aggregate of its hour (hash)       KEYS[8]  usage aggregate of its day (hash)
-- KEYS[9]  index of hours with usage (zset hour -> hour)
-- KEYS[10] raw records of its hour (list of JSON)   KEYS[11] usage event stream for consumers
-- ARGV[1]  request_id        ARGV[2]  record JSON          ARGV[3]  charge (nano-USD)
-- ARGV[4]  marker TTL s      ARGV[5]  day-spend TTL s      ARGV[6]  month-spend TTL s
-- ARGV[7]  aggregates TTL s  ARGV[8]  raw records TTL s    ARGV[9]  stream MAXLEN (0 = no stream)
-- ARGV[10] hour index        ARGV[11] oldest hour the index keeps
-- ARGV[12..] (field, increment) pairs added to both aggregates
-- Returns 1 if applied now, 0 if this request id had been settled before.
if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[4]) then
  return 0
end
local reserved = redis.call('HGET', KEYS[2], ARGV[1])
if reserved then
  redis.call('HDEL', KEYS[2], ARGV[1])
  redis.call('ZREM', KEYS[3], ARGV[1])
  redis.call('DECRBY', KEYS[4], reserved)
end
redis.call('INCRBY', KEYS[5], ARGV[3])
redis.call('EXPIRE', KEYS[5], ARGV[5])
redis.call('INCRBY', KEYS[6], ARGV[3])
redis.call('EXPIRE', KEYS[6], ARGV[6])
for i = 12, #ARGV, 2 do
  redis.call('HINCRBY', KEYS[7], ARGV[i], ARGV[i + 1])
  redis.call('HINCRBY', KEYS[8], ARGV[i], ARGV[i + 1])
end
redis.call('EXPIRE', KEYS[7], ARGV[7])
redis.call('EXPIRE', KEYS[8], ARGV[7])
redis.call('ZADD', KEYS[9], ARGV[10], ARGV[10])
redis.call('ZREMRANGEBYSCORE', KEYS[9], '-inf', '(' .. ARGV[11])
redis.call('EXPIRE', KEYS[9], ARGV[7])
redis.call('RPUSH', KEYS[10], ARGV[2])
redis.call('EXPIRE', KEYS[10], ARGV[8])
if tonumber(ARGV[9]) > 0 then
  redis.call('XADD', KEYS[11], 'MAXLEN', '~', ARGV[9], '*', 'record', ARGV[2])
end
return 1
