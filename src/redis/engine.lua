-- One sender's state, decided and changed atomically on the server.
-- KEYS (all share the member's hash tag): 1 h (facts, counters), 2 s (sends),
-- 3 n (notes), 4 p (invitations by send time), 5 i (invitation records),
-- 6 q (pair state by recipient), 7 k (idempotency records), 8 kz (their times),
-- 9 c (connections), 10 a (attempts), 11 g (sends to strangers), 12 t (notes by
-- fingerprint), 13 fb (recipients' feedback), 14 sk (spam strikes); on a standalone
-- server a send also names the recipient's facts: 15 h, 16 f (whom they follow),
-- 17 e (their contacts), 18 c (their connections), 19 em (their emails), then the
-- sender's 20 em and 21 e, 22 the owner key of the email given, and 23 the fleet's
-- policy hash (whose version must be the one the arguments were made from).
-- ARGV: 1 mode, 2 now ('' = the server's clock), 3 day, 4 week, 5 note window,
-- 6 pending ttl, 7 pair cap, 8 re-invite cooldown, 9 idempotency window,
-- 10 idle ttl, 11..14 free daily/weekly/notes(-1 = none)/note chars,
-- 15..18 the same for premium, 19 spam on, 20..33 spam rules (max and window of
-- burst, strangers, template, reports; percent, minimum and window of ignored;
-- cooldown, strike memory, restriction ladder), 34 the rules in shadow mode (bits:
-- pair 1, cooldown 2, daily 4, weekly 8, notes 16, long 32, spam 64), 35.. by mode.
-- A rule of max -1 is off. A member's own limits, if any, are H's 'lim' field
-- ("daily,weekly,notes,chars", notes -1 = none) and replace their tier's.
-- Every span is half-open: an event at t counts at q when t <= q < t + span.
local H, S, N, P, I, Q, K, KZ, C = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5],
  KEYS[6], KEYS[7], KEYS[8], KEYS[9]
local A, G, T, FB, SK = KEYS[10], KEYS[11], KEYS[12], KEYS[13], KEYS[14]
local mode = ARGV[1]
local DAY, WEEK, NOTE = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local TTL, CAP, COOL = tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])
local IDEM, IDLE = tonumber(ARGV[9]), tonumber(ARGV[10])
local SPAM = ARGV[19] == '1'
local function rule_at(i) return { max = tonumber(ARGV[i]), per = tonumber(ARGV[i + 1]) } end
local BURST, STRANGERS, TEMPLATE, REPORTS = rule_at(20), rule_at(22), rule_at(24), rule_at(26)
local IGN = { pct = tonumber(ARGV[28]), min = tonumber(ARGV[29]), per = tonumber(ARGV[30]) }
local COOLDOWN, STRIKES = tonumber(ARGV[31]), tonumber(ARGV[32])
local LADDER = {}
for d in string.gmatch(ARGV[33], '%d+') do LADDER[#LADDER + 1] = tonumber(d) end
local FB_SPAN = math.max(REPORTS.max >= 0 and REPORTS.per or 0, IGN.pct >= 0 and IGN.per or 0)
local SHADOW = tonumber(ARGV[34]) or 0
local SHADOW_BIT = { pair = 1, cooldown = 2, daily = 4, weekly = 8, notes = 16, long = 32, spam = 64 }
local X = 35

local function fmt(x) return string.format('%.0f', x) end
local function bad(what) error({ err = 'BADDATA ' .. what .. ' under ' .. H }) end
local function num(v, what)
  local x = tonumber(v)
  if x == nil then bad(what) end
  return x
end

-- The acting instant: never earlier than any this member has seen.
local now
if ARGV[2] == '' then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
else
  now = num(ARGV[2], 'clock')
end

-- The member's facts (tier, status) live in H, which never expires; the activity
-- counters (latest instant, pending count, sequences, spam cooldown) live in I under
-- '_' names, beside the invitation records, and expire with them. Both are read once;
-- writes are buffered and made once, with the expiry of every activity key written
-- (each call to Redis costs; see `finish`).
local hv = redis.call('HMGET', H, 'tier', 'st', 'until', 'lim')
local xv = redis.call('HMGET', I, '_now', '_pend', '_seq', '_ev', '_cdu', '_cds')
local M = { tier = hv[1] or '0', st = hv[2] or '0', ['until'] = hv[3] or '-1', lim = hv[4],
  now = xv[1], pend = xv[2] or '0', seq = xv[3] or '0', ev = xv[4] or '0', cdu = xv[5] or '0',
  cds = xv[6] }
local ACTIVITY = { now = true, pend = true, seq = true, ev = true, cdu = true, cds = true }
local hw, xw, dirty = {}, {}, {}
local function hset(field, value)
  M[field] = value
  if ACTIVITY[field] then xw['_' .. field] = value else hw[field] = value end
end
local function mark(key) dirty[key] = true end
if M.now then now = math.max(now, num(M.now, 'now')) end
-- Only a change records the instant, so a read of an unknown member creates nothing.
local WRITES = mode == 'send' or mode == 'end' or mode == 'mirror'
if WRITES and M.now ~= fmt(now) then hset('now', fmt(now)) end

local function flush(key, fields)
  local args = {}
  for f, v in pairs(fields) do
    args[#args + 1] = f
    args[#args + 1] = v
  end
  if #args > 0 then redis.call('HSET', key, unpack(args)) end
  return #args > 0
end

local function finish(reply)
  flush(H, hw)
  if flush(I, xw) then mark(I) end
  -- Pending invitations, their records and their pairs expire together, so an idle
  -- sender's pending count never outlives the invitations it counts.
  if dirty[P] or dirty[I] or dirty[Q] then
    mark(P)
    mark(I)
    mark(Q)
  end
  for key in pairs(dirty) do redis.call('PEXPIRE', key, IDLE) end
  return reply
end

local function add_pend(d) hset('pend', fmt(num(M.pend, 'pend') + d)) end

local function parse_inv(v)
  local r, t, st = string.match(v, '^(%d+)|(%d+)|(%a)$')
  if r == nil then bad('invitation') end
  return r, tonumber(t), st
end

-- Pair state: "cooldown_until|seq:sent_at,seq:sent_at" (pending ones only).
local function pair_get(r)
  local v = redis.call('HGET', Q, r)
  local list = {}
  if not v then return 0, list end
  local cool, rest = string.match(v, '^(%d+)|(.*)$')
  if cool == nil then bad('pair') end
  for sq, t in string.gmatch(rest, '(%d+):(%d+)') do
    list[#list + 1] = { sq, tonumber(t) }
  end
  return tonumber(cool), list
end

local function pair_put(r, cool, list)
  if #list == 0 and cool <= now then
    redis.call('HDEL', Q, r)
    return
  end
  local parts = {}
  for _, e in ipairs(list) do parts[#parts + 1] = e[1] .. ':' .. fmt(e[2]) end
  redis.call('HSET', Q, r, fmt(cool) .. '|' .. table.concat(parts, ','))
  mark(Q)
end

local function pair_drop(r, sq)
  local cool, list = pair_get(r)
  local keep = {}
  for _, e in ipairs(list) do
    if e[1] ~= sq then keep[#keep + 1] = e end
  end
  pair_put(r, cool, keep)
end

-- Unique names for events that have no invitation of their own.
local function event_id()
  hset('ev', fmt(num(M.ev, 'event counter') + 1))
  return M.ev
end

-- Recipients' answers, at the instant they happened ('a'ccepted, 'd'eclined,
-- e'x'pired, 'r'eported), for the reports and ignored signals.
local function feedback(at, kind, sq)
  if SPAM and (IGN.pct >= 0 or (kind == 'r' and REPORTS.max >= 0)) then
    redis.call('ZADD', FB, fmt(at), kind .. ':' .. sq)
    mark(FB)
  end
end

-- Releases what time has ended: expired invitations always; with `logs`, sends and
-- notes out of every window and idempotency records past theirs (counts read only
-- their window, so those logs need trimming only where they grow).
local function settle(logs)
  local cutoff = fmt(now - TTL)
  local dead = redis.call('ZRANGEBYSCORE', P, '-inf', cutoff)
  for _, sq in ipairs(dead) do
    local v = redis.call('HGET', I, sq)
    if v then
      local r, _, st = parse_inv(v)
      if st == 'p' then
        pair_drop(r, sq)
        add_pend(-1)
        feedback(tonumber(string.match(v, '|(%d+)|')) + TTL, 'x', sq)
      end
      redis.call('HDEL', I, sq)
    end
  end
  if #dead > 0 then redis.call('ZREMRANGEBYSCORE', P, '-inf', cutoff) end
  if not logs then return end
  if logs.s then redis.call('ZREMRANGEBYSCORE', S, '-inf', fmt(now - WEEK)) end
  if logs.n then redis.call('ZREMRANGEBYSCORE', N, '-inf', fmt(now - NOTE)) end
  if logs.k then
    local old = fmt(now - IDEM)
    local stale = redis.call('ZRANGEBYSCORE', KZ, '-inf', old)
    for j = 1, #stale, 1000 do
      redis.call('HDEL', K, unpack(stale, j, math.min(j + 999, #stale)))
    end
    if #stale > 0 then redis.call('ZREMRANGEBYSCORE', KZ, '-inf', old) end
  end
end

-- Events of a log counted now over `span`; when the count drops below `limit` (-1
-- when it is already below or there is no limit); with `oldest`, when the oldest
-- counted event leaves.
local function usage(key, span, limit, oldest)
  local lo = '(' .. fmt(now - span)
  local used = redis.call('ZCOUNT', key, lo, '+inf')
  local next_slot, frees = -1, -1
  if oldest and used > 0 then
    local first = redis.call('ZRANGEBYSCORE', key, lo, '+inf', 'WITHSCORES', 'LIMIT', 0, 1)
    next_slot = num(first[2], 'log') + span
  end
  if limit > 0 and used >= limit then
    local at = redis.call('ZRANGEBYSCORE', key, lo, '+inf', 'WITHSCORES', 'LIMIT', used - limit, 1)
    frees = num(at[2], 'log') + span
  end
  return used, frees, next_slot
end

local function profile()
  -- Only the known codes: any other value would read another tier's limits or
  -- count as active.
  local tier = ({ ['0'] = 0, ['1'] = 1 })[M.tier] or bad('tier')
  local st = ({ ['0'] = 0, ['1'] = 1, ['2'] = 2 })[M.st] or bad('status')
  -- An integer; replies carry it as written, since a double holds an instant past
  -- 2^53 ms inexactly (a far `until` is how a gateway says "until further notice").
  local untl = string.match(M['until'], '^%-?%d+$') and tonumber(M['until']) or bad('until')
  local pend = tonumber(M.pend) or bad('pend')
  if st == 1 and untl >= 0 and untl <= now then st = 0 end
  local base = 11 + tier * 4
  local lim = { daily = tonumber(ARGV[base]), weekly = tonumber(ARGV[base + 1]),
    notes = tonumber(ARGV[base + 2]), chars = tonumber(ARGV[base + 3]) }
  if M.lim then
    local d, w, n, c = string.match(M.lim, '^(%d+),(%d+),(%-?%d+),(%d+)$')
    if d == nil then bad('member limits') end
    lim = { daily = tonumber(d), weekly = tonumber(w), notes = tonumber(n), chars = tonumber(c) }
  end
  return tier, st, untl, pend, lim
end

local function next_seq()
  -- Seeded from the clock, so ids stay unique even if this state is ever lost.
  hset('seq', fmt(math.max(num(M.seq, 'seq') + 1, now * 1000)))
  return M.seq
end

-- Events of `key` in the window `per` now.
local function recent(key, per)
  return redis.call('ZCOUNT', key, '(' .. fmt(now - per), '+inf')
end

local function prune_spam()
  for _, e in ipairs({ { A, BURST.max >= 0 and BURST.per }, { G, STRANGERS.max >= 0 and STRANGERS.per },
    { T, TEMPLATE.max >= 0 and TEMPLATE.per }, { FB, FB_SPAN }, { SK, STRIKES } }) do
    if e[2] then redis.call('ZREMRANGEBYSCORE', e[1], '-inf', fmt(now - e[2])) end
  end
end

-- The spam signals of this attempt, as bits: burst 1, strangers 2, template 4,
-- keyword 8, reports 16, ignored 32.
local function signals(stranger, keyword, fp)
  local sig = 0
  if BURST.max >= 0 and recent(A, BURST.per) + 1 > BURST.max then sig = sig + 1 end
  if stranger and STRANGERS.max >= 0 and recent(G, STRANGERS.per) + 1 > STRANGERS.max then
    sig = sig + 2
  end
  if fp ~= '' and TEMPLATE.max >= 0 then
    local same, mark = 0, fp .. ':'
    for _, m in ipairs(redis.call('ZRANGEBYSCORE', T, '(' .. fmt(now - TEMPLATE.per), '+inf')) do
      if string.sub(m, 1, #mark) == mark then same = same + 1 end
    end
    if same + 1 > TEMPLATE.max then sig = sig + 4 end
  end
  if keyword then sig = sig + 8 end
  if REPORTS.max >= 0 or IGN.pct >= 0 then
    local span = math.max(REPORTS.max >= 0 and REPORTS.per or 0, IGN.pct >= 0 and IGN.per or 0)
    local reports, resolved, badly = 0, 0, 0
    local answers = redis.call('ZRANGEBYSCORE', FB, '(' .. fmt(now - span), '+inf', 'WITHSCORES')
    for j = 1, #answers, 2 do
      local kind, at = string.sub(answers[j], 1, 1), num(answers[j + 1], 'feedback')
      if REPORTS.max >= 0 and kind == 'r' and at + REPORTS.per > now then reports = reports + 1 end
      if IGN.pct >= 0 and at + IGN.per > now then
        resolved = resolved + 1
        if kind ~= 'a' then badly = badly + 1 end
      end
    end
    if REPORTS.max >= 0 and reports > REPORTS.max then sig = sig + 16 end
    if IGN.pct >= 0 and resolved >= math.max(IGN.min, 1) and badly * 100 >= IGN.pct * resolved then
      sig = sig + 32
    end
  end
  return sig
end

if mode == 'send' or mode == 'diag' then
  local r, key = ARGV[X], ARGV[X + 1]
  local has_note, chars, outside = ARGV[X + 2] == '1', tonumber(ARGV[X + 3]), ARGV[X + 4] == '1'
  local stranger, keyword, fp = ARGV[X + 5] == '1', ARGV[X + 6] == '1', ARGV[X + 7]
  local counted = mode == 'send'
  -- On a standalone server the recipient's facts are read here too, exactly, and
  -- the arguments must come from the policy stored now.
  local inline_rules = {}
  if ARGV[X + 8] == '1' then
    if (redis.call('HGET', KEYS[23], 'v') or '0') ~= ARGV[X + 11] then
      return { 'stale' }
    end
    local RH, RF, RE, RC, REM, SEM, SE, OWNER = KEYS[15], KEYS[16], KEYS[17], KEYS[18],
      KEYS[19], KEYS[20], KEYS[21], KEYS[22]
    local sid, email = ARGV[X + 9], ARGV[X + 10]
    local rf = redis.call('HMGET', RH, 'st', 'set')
    if rf[1] and rf[1] ~= '0' and rf[1] ~= '1' and rf[1] ~= '2' then bad('status') end
    local setting = tonumber(rf[2] or '0')
    if setting == nil or setting < 0 or setting > 5 then bad('setting') end
    local given, theirs = false, false
    if email ~= '' then
      local owner = redis.call('GET', OWNER)
      given, theirs = (not owner) or owner == r, owner == r
    end
    local function any_in(emails_key, contacts_key)
      for _, e in ipairs(redis.call('SMEMBERS', emails_key)) do
        if redis.call('SISMEMBER', contacts_key, e) == 1 then return true end
      end
      return false
    end
    local function shared() return redis.call('SINTERCARD', 2, C, RC, 'LIMIT', 1) > 0 end
    local admits
    if setting == 0 then admits = true
    elseif setting == 1 then admits = theirs or any_in(SEM, RE)
    elseif setting == 2 then admits = any_in(SEM, RE)
    elseif setting == 3 then admits = shared()
    elseif setting == 4 then admits = redis.call('SISMEMBER', RF, sid) == 1
    else admits = false end
    if rf[1] == '2' then inline_rules[#inline_rules + 1] = { 'rbanned', '0' } end
    if not admits then inline_rules[#inline_rules + 1] = { 'closed', fmt(setting) } end
    stranger = STRANGERS.max >= 0 and not given and not any_in(SEM, RE)
      and not any_in(REM, SE) and not shared()
    if #inline_rules > 0 then outside = true end
  end
  settle({ s = counted, n = counted and has_note, k = key ~= '' })
  local out = { 'rules', fmt(now) }
  -- Rules in shadow mode that deny: reported with the send, never blocking it.
  local shadowed = {}
  local function deny(code, at, a, b)
    local bit_of = SHADOW_BIT[code]
    local to = out
    if bit_of and bit.band(SHADOW, bit_of) ~= 0 then to = shadowed end
    to[#to + 1] = code
    to[#to + 1] = type(at) == 'string' and at or fmt(at)
    to[#to + 1] = a
    to[#to + 1] = b
  end
  if key ~= '' then
    local v = redis.call('HGET', K, key)
    if v then
      local first, sq, t = string.match(v, '^(%d+)|(%d+)|(%d+)$')
      if first == nil then bad('idempotency record') end
      if first == r then
        -- The same request again is answered by the first decision: nothing blocks it.
        -- The record is written again (unchanged) so that a WAIT after this reply
        -- covers the first decision on whichever connection the repeat came (Redis
        -- 7.2 and later wait only for a connection's own writes): a repeat of a send
        -- the replicas never confirmed is not acknowledged until they do.
        if counted then
          redis.call('HSET', K, key, v)
          return finish({ 'repeat', sq, t })
        end
        return finish({ 'rules', fmt(now) })
      else
        deny('conflict', -1, first, '0')
      end
    end
  end
  local tier, st, untl, pend, lim = profile()
  -- Spam: a cooldown in force answers alone; otherwise the signals, escalating
  -- along the ladder when earlier trips are remembered.
  local verdict
  if SPAM then
    if counted then prune_spam() end
    local cooling = num(M.cdu, 'cooldown') > now
    if cooling then
      verdict = { sig = num(M.cds, 'cooldown'), untl = num(M.cdu, 'cooldown') }
    else
      local sig = signals(stranger, keyword, fp)
      if sig ~= 0 then
        local strikes = recent(SK, STRIKES)
        local restrict
        if strikes >= 1 and #LADDER > 0 then
          restrict = now + LADDER[math.min(strikes, #LADDER)]
        end
        verdict = { sig = sig, untl = restrict or (now + COOLDOWN), restrict = restrict }
      end
    end
    if counted then
      if BURST.max >= 0 then
        redis.call('ZADD', A, fmt(now), event_id())
        -- Only the latest `max` attempts tell whether `max` lie in the window: a
        -- client hammering through a denial does not grow the set.
        redis.call('ZREMRANGEBYRANK', A, 0, -(math.max(BURST.max, 1) + 1))
        mark(A)
      end
      if verdict and not cooling then
        redis.call('ZADD', SK, fmt(now), event_id())
        mark(SK)
        hset('cdu', fmt(now + COOLDOWN))
        hset('cds', fmt(verdict.sig))
      end
    end
  end
  for _, e in ipairs(inline_rules) do deny(e[1], -1, e[2], '0') end
  if st == 2 then deny('banned', -1, '0', '0') end
  if st == 1 then deny('restricted', M['until'], '0', '0') end
  if redis.call('SISMEMBER', C, r) == 1 then deny('connected', -1, '0', '0') end
  local cool, list = pair_get(r)
  if #list >= CAP then
    table.sort(list, function(x, y) return x[2] < y[2] end)
    deny('pair', list[#list - CAP + 1][2] + TTL, fmt(#list), fmt(CAP))
  end
  if cool > now then deny('cooldown', cool, '0', '0') end
  local day_used, day_frees = usage(S, DAY, lim.daily)
  if day_used >= lim.daily then deny('daily', day_frees, fmt(day_used), fmt(lim.daily)) end
  local week_used, week_frees = usage(S, WEEK, lim.weekly)
  if week_used >= lim.weekly then deny('weekly', week_frees, fmt(week_used), fmt(lim.weekly)) end
  if has_note then
    if lim.notes >= 0 then
      local used, frees = usage(N, NOTE, lim.notes)
      if used >= lim.notes then
        if lim.notes == 0 then frees = -1 end
        deny('notes', frees, fmt(used), fmt(lim.notes))
      end
    end
    if chars > lim.chars then deny('long', -1, fmt(chars), fmt(lim.chars)) end
  end
  if verdict then
    deny('spam', verdict.untl, fmt(verdict.sig), '0')
    -- A repeated trip restricts the account, unless something harsher holds.
    local rst, runtl = num(M.st, 'status'), num(M['until'], 'until')
    local harsher = rst == 2 or (rst == 1 and (runtl < 0 or runtl >= (verdict.restrict or 0)))
    -- A shadowed signal never escalates: a restriction is always enforced.
    local spam_shadowed = bit.band(SHADOW, SHADOW_BIT.spam) ~= 0
    if counted and verdict.restrict and not harsher and not spam_shadowed then
      hset('st', '1')
      hset('until', fmt(verdict.restrict))
      hset('why', fmt(verdict.sig))
    end
  end
  if not counted or #out > 2 or outside then return finish(out) end
  local sq = next_seq()
  local t = fmt(now)
  redis.call('ZADD', S, t, sq)
  mark(S)
  if has_note then
    redis.call('ZADD', N, t, sq)
    mark(N)
  end
  redis.call('ZADD', P, t, sq)
  redis.call('HSET', I, sq, r .. '|' .. t .. '|p')
  mark(P)
  mark(I)
  list[#list + 1] = { sq, now }
  pair_put(r, cool, list)
  add_pend(1)
  if key ~= '' then
    redis.call('HSET', K, key, r .. '|' .. sq .. '|' .. t)
    redis.call('ZADD', KZ, t, key)
    mark(K)
    mark(KZ)
  end
  if SPAM then
    if stranger and STRANGERS.max >= 0 then
      redis.call('ZADD', G, t, sq)
      mark(G)
    end
    if fp ~= '' and TEMPLATE.max >= 0 then
      redis.call('ZADD', T, t, fp .. ':' .. sq)
      mark(T)
    end
  end
  local reply = { 'sent', sq, t }
  for _, w in ipairs(shadowed) do reply[#reply + 1] = w end
  return finish(reply)
end

-- Ends every invitation pending from this member to `r` as accepted.
local function end_pair(r)
  local cool, list = pair_get(r)
  for _, e in ipairs(list) do
    local v = redis.call('HGET', I, e[1])
    if v then
      local rr, t = parse_inv(v)
      redis.call('HSET', I, e[1], rr .. '|' .. fmt(t) .. '|a')
    end
  end
  if #list > 0 then add_pend(-#list) end
  pair_put(r, cool, {})
end

if mode == 'end' then
  local op, sq = ARGV[X], ARGV[X + 1]
  local v = redis.call('HGET', I, sq)
  if not v then return finish({ 'unknown' }) end
  local r, t, st = parse_inv(v)
  if t + TTL <= now then return finish({ 'expired', fmt(t + TTL) }) end
  settle()
  if st ~= 'p' then return finish({ 'ended', st, r }) end
  redis.call('HSET', I, sq, r .. '|' .. fmt(t) .. '|' .. op)
  add_pend(-1)
  pair_drop(r, sq)
  if op == 'w' and COOL > 0 then
    local cool, list = pair_get(r)
    pair_put(r, math.max(cool, now + COOL), list)
  end
  if op == 'a' then
    redis.call('SADD', C, r)
    end_pair(r)
  end
  if op ~= 'w' then feedback(now, op, sq) end
  return finish({ 'ok', r, fmt(now) })
end

if mode == 'mirror' then
  settle()
  redis.call('SADD', C, ARGV[X])
  end_pair(ARGV[X])
  return finish({ 'ok' })
end

if mode == 'pair' then
  settle()
  local _, list = pair_get(ARGV[X])
  return finish({ 'pair', fmt(#list) })
end

if mode == 'capacity' then
  settle()
  local tier, st, untl, pend, lim = profile()
  local du, df, dn = usage(S, DAY, lim.daily, true)
  local wu, wf, wn = usage(S, WEEK, lim.weekly, true)
  local nu, _, nn = usage(N, NOTE, -1, true)
  return finish({ 'capacity', fmt(now), fmt(tier), fmt(st), M['until'], fmt(du), fmt(dn), fmt(df),
    fmt(wu), fmt(wn), fmt(wf), fmt(nu), fmt(nn), fmt(pend), fmt(lim.daily), fmt(lim.weekly),
    fmt(lim.notes), fmt(lim.chars) })
end

return redis.error_reply('ERR unknown mode ' .. tostring(mode))
