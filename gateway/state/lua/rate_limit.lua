-- GCRA over one minute for the requests and the tokens of one API key, decided atomically.
-- Mirrors gateway/state/gcra.py operation for operation (the contract suite pins equal numbers).
-- KEYS[1]  TAT of the request limit (string, integer µs)
-- KEYS[2]  TAT of the token limit   (string, integer µs)
-- ARGV[1]  now in µs, or "" to read the Redis server clock (TIME), so skewed replicas agree
-- ARGV[2]  requests per window (0 = no limit)      ARGV[3]  tokens per window (0 = no limit)
-- ARGV[4]  tokens this request costs              ARGV[5]  window in µs
-- Returns {allowed, too_large, retry_after_us, remaining_requests, reset_requests_us,
--          remaining_tokens, reset_tokens_us}; -1 for a limit that is not set.
-- Counts the request against both limits iff allowed; a refused request costs nothing.
local now
if ARGV[1] == '' then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
else
  now = tonumber(ARGV[1])
end
local window = tonumber(ARGV[5])
local limits = {tonumber(ARGV[2]), tonumber(ARGV[3])}
local costs = {1, tonumber(ARGV[4])}
local allowed, too_large, retry = 1, 0, 0
local bases, fresh = {0, 0}, {0, 0}
for i = 1, 2 do
  local limit = limits[i]
  if limit > 0 then
    local interval = window / limit
    bases[i] = math.max(tonumber(redis.call('GET', KEYS[i]) or '0'), now)
    fresh[i] = bases[i] + costs[i] * interval
    if costs[i] > limit then
      allowed, too_large = 0, 1
      retry = math.max(retry, window)
    elseif fresh[i] - now > window + 1.0 then
      allowed = 0
      retry = math.max(retry, math.ceil(fresh[i] - now - window))
    end
  end
end
local out = {allowed, too_large, retry, -1, -1, -1, -1}
for i = 1, 2 do
  local limit = limits[i]
  if limit > 0 then
    local after = bases[i]
    if allowed == 1 then
      after = math.ceil(fresh[i])
      -- string.format: Lua's default number-to-string keeps 14 digits, too few for µs epochs.
      redis.call('SET', KEYS[i], string.format('%.0f', after),
                 'PX', math.ceil((after - now) / 1000) + 1)
    end
    local interval = window / limit
    local left = math.floor((window - (after - now)) / interval + 1e-6)
    out[2 + 2 * i] = math.min(limit, math.max(0, left))
    out[3 + 2 * i] = math.max(0, after - now)
  end
end
return out
