/**
 * The Lua of the Redis GEO projection (redis-geo.ts). Keys: KEYS[1] the GEO set, KEYS[2] its `:seen`
 * sorted set (last fix time), KEYS[3] (KEYS[2] for NEARBY) the `:state` hash; one hash tag, one slot.
 */

/** Per-driver state kept in `<key>:state` (JSON, all strings: readable with redis-cli HGET). */
const STATE = `
local function load(id)
  local raw = redis.call('HGET', KEYS[3], id)
  if raw then return cjson.decode(raw) end
  return { v = '0', a = '0', o = '', e = '', r = '', t = '', lat = '', lng = '' }
end
-- On the map (the index nearby searches) when online, not on a ride, with a fix that is not stale and
-- Redis can index. A driver holding an offer stays on it: whether the hold still counts depends on
-- the time of the question, so nearby decides that (FREE below), not the event that placed them.
-- s.m remembers whether this placed the driver on the map ('1') or took them off ('0'), so a driver
-- on a ride is not taken off again with every point (one ZREM per point saved); unknown (state
-- written before m was kept) counts as on. The sweep (SWEEP_LUA) may take a placed driver off without
-- telling s.m: that only costs one ZREM later. Returns whether the driver is on the map (seen updated).
local function place(id, s, now, staleAfter)
  local lat = tonumber(s.lat)
  local fresh = s.t ~= '' and tonumber(s.t) >= now - staleAfter
  if s.a == '1' and s.r == '' and lat and lat >= -85.05112878 and lat <= 85.05112878 and fresh then
    redis.call('GEOADD', KEYS[1], s.lng, s.lat, id)
    redis.call('ZADD', KEYS[2], s.t, id)
    s.m = '1'
    return true
  end
  if s.m ~= '0' then redis.call('ZREM', KEYS[1], id) end
  s.m = '0'
  return false
end
`;

/**
 * KEYS: geo, seen, state. ARGV: driverId, version, type, rideId, available ('1'|'0'|''), now, staleAfterMs,
 * the hold's expiresAt ('' unless DriverOfferHeld). The fields folded are the driver decider's state
 * (domain/driver/index.ts `evolveDriver`): a available, o offeredRideId, e offerExpiresAt, r rideId.
 * Returns 0 for an event at or below the driver's applied version (redelivery, replay), else 1.
 */
export const DRIVER_LUA = `${STATE}
local id = ARGV[1]
local s = load(id)
local version = tonumber(ARGV[2])
if version <= tonumber(s.v) then return 0 end
s.v = ARGV[2]
local kind, ride = ARGV[3], ARGV[4]
if kind == 'DriverAvailabilityChanged' then s.a = ARGV[5]
elseif kind == 'DriverOfferHeld' then s.o = ride; s.e = ARGV[8]
elseif kind == 'DriverOfferReleased' then if s.o == ride then s.o = ''; s.e = '' end
elseif kind == 'DriverAssigned' then s.o = ''; s.e = ''; s.r = ride
elseif kind == 'DriverFreed' then if s.r == ride then s.r = '' end
end
place(id, s, tonumber(ARGV[6]), tonumber(ARGV[7]))
redis.call('HSET', KEYS[3], id, cjson.encode(s))
return 1
`;

/**
 * A point not newer (device time) than the driver's last one changes nothing: a redelivery or a late
 * point never moves the driver back. Else records the fix and places the driver. Returns 1 if applied.
 */
const LOCATE = `${STATE}
local function locate(id, lat, lng, t, now, staleAfter)
  local s = load(id)
  if s.t ~= '' and tonumber(t) <= tonumber(s.t) then return 0 end
  s.lat = lat; s.lng = lng; s.t = t
  -- The last fix time goes to seen either way: with the placing (place), or here.
  if not place(id, s, now, staleAfter) then redis.call('ZADD', KEYS[2], s.t, id) end
  redis.call('HSET', KEYS[3], id, cjson.encode(s))
  return 1
end
`;

/** KEYS: geo, seen, state. ARGV: driverId, lat, lng, recordedAt, now, staleAfterMs. Returns 1 if applied. */
export const LOCATION_LUA = `${LOCATE}
return locate(ARGV[1], ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5]), tonumber(ARGV[6]))
`;

/**
 * A batch of points in one call (a consumer's read): KEYS: geo, seen, state. ARGV: now, staleAfterMs,
 * then driverId, lat, lng, recordedAt per point, in log order. Returns how many were applied.
 */
export const LOCATIONS_LUA = `${LOCATE}
local now, staleAfter, applied = tonumber(ARGV[1]), tonumber(ARGV[2]), 0
for i = 3, #ARGV, 4 do
  applied = applied + locate(ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], now, staleAfter)
end
return applied
`;

/**
 * "Is this driver free" at `now`: the driver decider's `isFree` (domain/driver/index.ts), line for
 * line, on the state folded above: online, no ride, no live hold. A hold counts until its offer's
 * expiry plus the grace (HOLD_GRACE_MS, passed in); one with no expiry recorded (a state written
 * before expiries were kept) counts until released. test/driver-free.test.ts holds the two together.
 * With it, `fixIsFresh`: the last fix (device time) is at most freshMs old.
 */
const FREE = `
local function free(s, now, grace)
  if s.a ~= '1' or s.r ~= '' then return false end
  if s.o == '' then return true end
  local e = tonumber(s.e or '')
  return e ~= nil and now > e + grace
end
local function fresh(s, now, freshMs)
  local t = tonumber(s.t or '')
  return t ~= nil and now - t <= freshMs
end
`;

/**
 * KEYS: geo, state. ARGV: lng, lat, radiusM, limit, now, freshMs, graceMs. Up to `limit` drivers on
 * the map within the radius, nearest first (Redis' measure), that are free and fresh at `now`:
 * { id, lat, lng } with the coordinates of the recorded fix. Searches COUNT n, doubling n while the
 * search came back full and too few were free.
 */
export const NEARBY_LUA = `${FREE}
local want, now, freshMs, grace = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local n = want
while true do
  local ids = redis.call('GEOSEARCH', KEYS[1], 'FROMLONLAT', ARGV[1], ARGV[2], 'BYRADIUS', ARGV[3], 'm', 'ASC', 'COUNT', n)
  local out = {}
  for _, id in ipairs(ids) do
    local raw = redis.call('HGET', KEYS[2], id)
    if raw then
      local s = cjson.decode(raw)
      if free(s, now, grace) and fresh(s, now, freshMs) then
        out[#out + 1] = { id, s.lat, s.lng }
        if #out >= want then return out end
      end
    end
  end
  if #ids < n then return out end
  n = n * 2
end
`;

/** KEYS: geo, seen. ARGV: cutoff (exclusive), batch. Removes up to `batch` drivers last seen before cutoff. */
export const SWEEP_LUA = `
local ids = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
if #ids == 0 then return { 0, 0 } end
local removed = redis.call('ZREM', KEYS[1], unpack(ids))
redis.call('ZREM', KEYS[2], unpack(ids))
return { #ids, removed }
`;
