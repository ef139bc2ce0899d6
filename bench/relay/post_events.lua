-- bench/relay/post_events.lua: wrk script posting pre-signed Stripe events.
--
--   wrk -t T -c C -d D -s post_events.lua URL -- EVENTS_FILE T
--
-- EVENTS_FILE has one delivery per line: the Stripe-Signature header, a tab,
-- the body.  Thread k (1-based) of T takes lines k, k+T, k+2T, ... and sends
-- each once, in order, over all its connections.  The requests are built
-- once, in init(), and there is no response() callback (wrk then skips
-- parsing headers into Lua), so the client spends as little CPU as it can:
-- on a 2-core machine it shares the cores with the relay and the database.
-- wrk itself counts the answers that are not 2xx or 3xx.  The file holds
-- more events than a run can send; should a thread still run out, it sends
-- its last event again (a cheap "already processed") and done() reports
-- "ran_out", so bench/relay/run.sh can refuse the figures.

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
    events, sent, ran_out = {}, 0, 0
    local i = 0
    for line in io.lines(path) do
        if i % nthreads == tid - 1 then
            local tab = line:find("\t", 1, true)
            events[#events + 1] = wrk.format("POST", "/api/payments/stripe_webhook/",
                { ["Stripe-Signature"] = line:sub(1, tab - 1),
                  ["Content-Type"] = "application/json; charset=utf-8" },
                line:sub(tab + 1))
        end
        i = i + 1
    end
end

-- request: the next unsent event of this thread.
function request()
    sent = sent + 1
    if sent > #events then
        ran_out = 1
        sent = #events
    end
    return events[sent]
end

-- done: runs in the main state; report the counters of every thread.
function done(summary, latency, requests)
    local out = 0
    for _, t in ipairs(threads) do
        out = out + t:get("ran_out")
    end
    io.write(string.format("ran_out %d\n", out))
end
