"""The Lua scripts of :class:`~opencx_salesforce.store.redis.RedisStore`: every
read-modify-write of the Redis store is one script, so it is atomic on the server,
and every time is read inside the script with ``TIME`` (the server's clock, never
an instance's). The key layout they work on is in :mod:`.redis`'s docstring.
"""

from __future__ import annotations

# --- key/value scripts: KEYS[1] = value key, KEYS[2] = namespace index --------------
KV_PRELUDE = """
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
-- Drop index entries whose keys Redis has already expired, so the index of a
-- namespace full of short-lived keys does not grow without bound.
local function purge(index, now)
  redis.call('ZREMRANGEBYSCORE', index, '-inf', '(' .. now)
end
local function write(member, value, ttl_ms, now)
  if ttl_ms == '' then
    redis.call('SET', KEYS[1], value)
    redis.call('ZADD', KEYS[2], '+inf', member)
  else
    redis.call('SET', KEYS[1], value, 'PX', ttl_ms)
    redis.call('ZADD', KEYS[2], now + tonumber(ttl_ms), member)
  end
end
"""

# ARGV: key, value, ttl_ms ('' = none)
SET = (
    KV_PRELUDE
    + """
local now = now_ms()
purge(KEYS[2], now)
write(ARGV[1], ARGV[2], ARGV[3], now)
return 1
"""
)

# KEYS[1] = namespace index, KEYS[2..n+1] = value keys;
# ARGV: ttl_ms ('' = none), then the n keys' names, then their n values.
SET_MANY = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl_ms, n = ARGV[1], #KEYS - 1
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. now)
for i = 1, n do
  if ttl_ms == '' then
    redis.call('SET', KEYS[i + 1], ARGV[n + 1 + i])
    redis.call('ZADD', KEYS[1], '+inf', ARGV[1 + i])
  else
    redis.call('SET', KEYS[i + 1], ARGV[n + 1 + i], 'PX', ttl_ms)
    redis.call('ZADD', KEYS[1], now + tonumber(ttl_ms), ARGV[1 + i])
  end
end
return 1
"""

# ARGV: key, value, ttl_ms
SET_IF_ABSENT = (
    KV_PRELUDE
    + """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local now = now_ms()
purge(KEYS[2], now)
write(ARGV[1], ARGV[2], ARGV[3], now)
return 1
"""
)

# ARGV: key, has_expected ('0'/'1'), expected, has_new ('0'/'1'), new, ttl_ms
COMPARE_AND_SET = (
    KV_PRELUDE
    + """
local current = redis.call('GET', KEYS[1])
if ARGV[2] == '1' then
  if current ~= ARGV[3] then return 0 end
elseif current then
  return 0
end
local now = now_ms()
purge(KEYS[2], now)
if ARGV[4] == '1' then
  write(ARGV[1], ARGV[5], ARGV[6], now)
else
  redis.call('DEL', KEYS[1])
  redis.call('ZREM', KEYS[2], ARGV[1])
end
return 1
"""
)

# ARGV: key. DEL counts only live keys: Redis treats an expired one as absent.
DELETE = """
local deleted = redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return deleted
"""

# KEYS[1] = namespace index. Returns its live keys.
KEYS = (
    KV_PRELUDE
    + """
local now = now_ms()
purge(KEYS[1], now)
return redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now, '+inf')
"""
)

# --- queue scripts: KEYS are the queue's keys in QUEUE_PARTS order ----------------
QUEUE_PARTS = ("due", "enq", "dead", "payload", "attempts", "token", "error")
# Queue times are unix seconds (a double) on the server's clock.
QUEUE_PRELUDE = """
local due, enq, dead, payload, attempts, token, err =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]
local function now_s()
  local t = redis.call('TIME')
  return tonumber(t[1]) + tonumber(t[2]) / 1000000
end
-- %.17g: a double's exact decimal, so a score round-trips.
local function fmt(x) return string.format('%.17g', x) end
"""

# ARGV: item, payload, delay, channel, queue, lease token ('': none). With a
# token the item is leased to the caller (attempt 1) for ``delay`` seconds, and
# nobody is woken: nothing is ready.
ENQUEUE = (
    QUEUE_PRELUDE
    + """
if redis.call('ZSCORE', enq, ARGV[1]) then return 0 end
local now = now_s()
redis.call('ZADD', enq, fmt(now), ARGV[1])
redis.call('ZADD', due, fmt(now + tonumber(ARGV[3])), ARGV[1])
redis.call('HSET', payload, ARGV[1], ARGV[2])
if ARGV[6] == '' then
  redis.call('HSET', attempts, ARGV[1], 0)
  redis.call('PUBLISH', ARGV[4], ARGV[5])
else
  redis.call('HSET', attempts, ARGV[1], 1)
  redis.call('HSET', token, ARGV[1], ARGV[6])
end
return 1
"""
)

# ARGV: visibility timeout, limit, token base. Returns id, payload, attempts,
# token, age (a string: Lua numbers come back as integers) for each leased item,
# flattened.
LEASE = (
    QUEUE_PRELUDE
    + """
local now = now_s()
local ids = redis.call('ZRANGEBYSCORE', due, '-inf', fmt(now), 'LIMIT', 0, tonumber(ARGV[2]))
local out = {}
for i, id in ipairs(ids) do
  local lease_token = ARGV[3] .. '.' .. i
  redis.call('ZADD', due, fmt(now + tonumber(ARGV[1])), id)
  redis.call('HSET', token, id, lease_token)
  local n = redis.call('HINCRBY', attempts, id, 1)
  table.insert(out, id)
  table.insert(out, redis.call('HGET', payload, id))
  table.insert(out, n)
  table.insert(out, lease_token)
  table.insert(out, fmt(now - tonumber(redis.call('ZSCORE', enq, id))))
end
return out
"""
)

# Each of these first checks that the lease is still the current one.
# ARGV: item, token
ACK = (
    QUEUE_PRELUDE
    + """
if redis.call('HGET', token, ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('ZREM', due, ARGV[1])
redis.call('ZREM', enq, ARGV[1])
redis.call('HDEL', payload, ARGV[1])
redis.call('HDEL', attempts, ARGV[1])
redis.call('HDEL', token, ARGV[1])
redis.call('HDEL', err, ARGV[1])
return 1
"""
)

# ARGV: item, token, delay, has_error ('0'/'1'), error, channel, queue
RETRY_IN = (
    QUEUE_PRELUDE
    + """
if redis.call('HGET', token, ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('ZADD', due, fmt(now_s() + tonumber(ARGV[3])), ARGV[1])
redis.call('HDEL', token, ARGV[1])
if ARGV[4] == '1' then redis.call('HSET', err, ARGV[1], ARGV[5]) end
redis.call('PUBLISH', ARGV[6], ARGV[7])
return 1
"""
)

# ARGV: item, token, error
BURY = (
    QUEUE_PRELUDE
    + """
if redis.call('HGET', token, ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('ZREM', due, ARGV[1])
redis.call('HDEL', token, ARGV[1])
redis.call('ZADD', dead, fmt(now_s()), ARGV[1])
redis.call('HSET', err, ARGV[1], ARGV[3])
return 1
"""
)

# ARGV: item, channel, queue. The item's clock starts anew: enqueued now.
REVIVE = (
    QUEUE_PRELUDE
    + """
if not redis.call('ZSCORE', dead, ARGV[1]) then return 0 end
local now = fmt(now_s())
redis.call('ZREM', dead, ARGV[1])
redis.call('ZADD', due, now, ARGV[1])
redis.call('ZADD', enq, now, ARGV[1])
redis.call('PUBLISH', ARGV[2], ARGV[3])
return 1
"""
)

# ARGV: item, channel, queue. Only a ready item (no lease token) not due yet.
HURRY = (
    QUEUE_PRELUDE
    + """
local at = redis.call('ZSCORE', due, ARGV[1])
local now = now_s()
if not at or redis.call('HEXISTS', token, ARGV[1]) == 1 or tonumber(at) <= now then
  return 0
end
redis.call('ZADD', due, fmt(now), ARGV[1])
redis.call('PUBLISH', ARGV[2], ARGV[3])
return 1
"""
)

# Returns seconds until the first item is due (a string; '' when none waits).
UNTIL_DUE = (
    QUEUE_PRELUDE
    + """
local first = redis.call('ZRANGE', due, 0, 0, 'WITHSCORES')
if #first == 0 then return '' end
return fmt(tonumber(first[2]) - now_s())
"""
)
