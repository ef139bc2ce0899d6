-- bench/relay/post_events.lua: wrk script posting pre-signed Stripe events.
--
--   wrk -t T -c C -d D -s post_events.lua URL -- EVENTS_FILE T
--
-- EVENTS_FILE has one delivery per line: the Stripe-Signature header, a tab,
-- the body.  Thread k (1-based) of T takes lines k, k+T, k+2T, ... and sends
-- each once.  A thread stops once its share is sent, so the run lasts as
-- long as the events do (a few repeats of a thread's last event may still go
-- out from its other connections in that moment: cheap "already processed"
-- answers).  done() reports how many threads ran out and the non-200s.

local threads = {}
local next_id = 0

-- setup: runs in the main state once per thread; give each an id.
function setup(thread)
    next_id = next_id + 1
    thread:set("tid", next_id)
    table.insert(threads, thread)
end

-- init: runs in each thread's state; load this thread's share of the events.
function init(args)
    local path, nthreads = args[1], tonumber(args[2])
    events, pos, non200, ran_out = {}, 0, 0, 0
    local i = 0
    for line in io.lines(path) do
        if i % nthreads == tid - 1 then
            local tab = line:find("\t", 1, true)
            events[#events + 1] = { line:sub(1, tab - 1), line:sub(tab + 1) }
        end
        i = i + 1
    end
end

-- request: the next unsent event of this thread.
function request()
    pos = pos + 1
    local ev = events[pos] or events[#events]
    return wrk.format("POST", "/api/payments/stripe_webhook/",
        { ["Stripe-Signature"] = ev[1], ["Content-Type"] = "application/json; charset=utf-8" },
        ev[2])
end

-- response: count non-200 answers; stop the thread when its events are used up.
function response(status, headers, body)
    if status ~= 200 then
        non200 = non200 + 1
    end
    if pos >= #events then
        ran_out = 1
        wrk.thread:stop()
    end
end

-- done: runs in the main state; report the counters of every thread.
function done(summary, latency, requests)
    local bad, out = 0, 0
    for _, t in ipairs(threads) do
        bad = bad + t:get("non200")
        out = out + t:get("ran_out")
    end
    io.write(string.format("non200 %d\nran_out %d\n", bad, out))
end
