-- Retention of the event inbox: stripe_webhook.prune_events(),
-- prune_events_batched() and the setting stripe_webhook.payload_retention.
-- Which events go (only processed and ignored ones processed before the
-- cut, the cut itself excluded), batches, argument errors with nothing
-- written, privileges, payload stripping, and a redelivery of a pruned
-- checkout.session.completed event (one order, stock unchanged).
-- Everything runs in one transaction, so now() is fixed: rows are placed
-- in time relative to it.
BEGIN;
\ir lib/webhook_setup.psql
SELECT plan(76);

-- An event row of any status, processed (processed/ignored) or received
-- (received/failed) the given time before now(); with or without payload.
CREATE FUNCTION pg_temp.ev(id text, status text, ago interval, with_payload boolean DEFAULT true,
                           received_ago interval DEFAULT NULL)
RETURNS void LANGUAGE sql
AS $$
    INSERT INTO stripe_webhook.events (id, type, status, received_at, processed_at, attempts, last_error, payload)
    VALUES (id, 'checkout.session.completed', status, now() - coalesce(received_ago, ago),
            CASE WHEN status IN ('processed', 'ignored') THEN now() - ago END,
            1, CASE WHEN status = 'failed' THEN 'boom' END,
            CASE WHEN with_payload THEN jsonb_build_object('id', id, 'object', 'event') END)
$$;
-- The ids of the events left, sorted.
CREATE FUNCTION pg_temp.ids() RETURNS text[] LANGUAGE sql
AS $$ SELECT coalesce(array_agg(id ORDER BY id), '{}') FROM stripe_webhook.events $$;
-- Everything about every event, to show that nothing was written.
CREATE FUNCTION pg_temp.events_digest() RETURNS text LANGUAGE sql
AS $$ SELECT md5(coalesce(string_agg(e::text, '|' ORDER BY e.id), '')) FROM stripe_webhook.events e $$;
-- How often a function ran in this transaction (track_functions = all).
CREATE FUNCTION pg_temp.calls(fn text) RETURNS bigint LANGUAGE sql
AS $$ SELECT coalesce(sum(calls), 0)::bigint FROM pg_stat_xact_user_functions WHERE schemaname = 'stripe_webhook' AND funcname = fn $$;

---------------------------------------------------------------------------
-- Objects: shape, privileges.
---------------------------------------------------------------------------
SELECT function_returns('stripe_webhook', 'prune_events', ARRAY['interval', 'integer'], 'bigint',
                        'prune_events(interval, integer) returns bigint');
SELECT is((SELECT pg_get_function_arguments('stripe_webhook.prune_events(interval,integer)'::regprocedure)),
          'older_than interval, batch_size integer DEFAULT 1000', 'prune_events: older_than, batch_size DEFAULT 1000');
SELECT is((SELECT row(p.prokind, p.prosecdef, p.proisstrict, p.provolatile, array_to_string(p.proconfig, ','))::text
           FROM pg_proc p WHERE p.oid = 'stripe_webhook.prune_events(interval,integer)'::regprocedure),
          '(f,f,f,v,"search_path=""""")', 'prune_events: a VOLATILE function, SECURITY INVOKER, not STRICT, search_path pinned');
SELECT is((SELECT row(p.prokind, p.prosecdef, p.proconfig IS NULL,
                      pg_get_function_arguments(p.oid))::text
           FROM pg_proc p WHERE p.pronamespace = 'stripe_webhook'::regnamespace AND p.proname = 'prune_events_batched'),
          '(p,f,t,"IN older_than interval, IN batch_size integer DEFAULT 1000, INOUT deleted bigint DEFAULT NULL::bigint")',
          'prune_events_batched: a procedure, SECURITY INVOKER, no SET clause (it commits), returns deleted');
SELECT is((SELECT array_agg(p.oid::regprocedure::text ORDER BY p.proname) FROM pg_proc p
           WHERE p.pronamespace = 'stripe_webhook'::regnamespace
             AND p.proname IN ('prune_events', 'prune_events_batched', 'prune_events_start', 'prune_events_step',
                               'payload_retention')
             AND (p.proacl IS NULL OR has_function_privilege('public', p.oid, 'EXECUTE')
                  OR obj_description(p.oid, 'pg_proc') IS NULL)),
          NULL, 'the retention functions: explicit ACL without PUBLIC, each with a comment');
SELECT is((SELECT count(*)::int FROM pg_proc p
           WHERE p.pronamespace = 'stripe_webhook'::regnamespace
             AND p.proname IN ('prune_events', 'prune_events_batched', 'prune_events_start', 'prune_events_step',
                               'payload_retention')),
          5, 'five retention routines');

---------------------------------------------------------------------------
-- Which events go: processed and ignored ones processed before the cut.
---------------------------------------------------------------------------
SELECT pg_temp.ev('evt_p_old', 'processed', '10 days 00:00:00.000001');
SELECT pg_temp.ev('evt_p_old_nopayload', 'processed', '30 days', false);
SELECT pg_temp.ev('evt_p_edge', 'processed', '10 days');
SELECT pg_temp.ev('evt_p_new', 'processed', '1 day');
SELECT pg_temp.ev('evt_p_replayed', 'processed', '1 day', true, '1 year');
SELECT pg_temp.ev('evt_i_old', 'ignored', '11 days');
SELECT pg_temp.ev('evt_i_new', 'ignored', '9 days');
SELECT pg_temp.ev('evt_r_old', 'received', '1 year');
SELECT pg_temp.ev('evt_f_old', 'failed', '1 year');

SELECT is(stripe_webhook.prune_events('10 days'), 3::bigint, 'prune_events(''10 days''): 3 deleted');
SELECT is(pg_temp.ids(), ARRAY['evt_f_old', 'evt_i_new', 'evt_p_edge', 'evt_p_new', 'evt_p_replayed', 'evt_r_old'],
          'gone: processed 1 us past the cut, processed without payload, ignored 11 days ago');
SELECT ok((SELECT processed_at = now() - interval '10 days' FROM stripe_webhook.events WHERE id = 'evt_p_edge'),
          'an event processed exactly older_than ago stays (strictly older goes)');
SELECT ok(EXISTS (SELECT FROM stripe_webhook.events WHERE id = 'evt_p_replayed' AND received_at < now() - interval '300 days'),
          'the cut is on processed_at: received a year ago but processed yesterday stays');
SELECT is(stripe_webhook.prune_events('10 days'), 0::bigint, 'run again: nothing more to delete');
SELECT is((SELECT count(*)::int FROM stripe_webhook.events WHERE payload IS NOT NULL), 6,
          'the events that stay keep their payloads (payload_retention unset)');

SELECT is(stripe_webhook.prune_events('0'), 4::bigint, 'prune_events(''0''): every processed and ignored event goes');
SELECT is(pg_temp.ids(), ARRAY['evt_f_old', 'evt_r_old'], 'received and failed events are never deleted, however old');
SELECT is((SELECT string_agg(status || ':' || (payload IS NOT NULL)::text, ',' ORDER BY id) FROM stripe_webhook.events),
          'failed:true,received:true', 'and keep their payloads');
SELECT pg_temp.ev('evt_p_now', 'processed', '0');
SELECT is(stripe_webhook.prune_events('0'), 0::bigint,
          '''0'' cuts at now() (the transaction''s start): an event processed in this very transaction stays');
DELETE FROM stripe_webhook.events WHERE id = 'evt_p_now';

SELECT pg_temp.ev('evt_p_ancient', 'processed', '1000 years');
SELECT is(stripe_webhook.prune_events('300000 years'), 0::bigint,
          'an interval reaching before the first representable timestamp prunes nothing, without error');
SELECT is(stripe_webhook.prune_events('999 years'), 1::bigint, 'an event processed 1000 years ago goes with ''999 years''');
SELECT pg_temp.ev('evt_p_mixed', 'processed', '10 days');
SELECT is(stripe_webhook.prune_events('1 month -30 days'), 1::bigint,
          'a mixed interval worth zero (''1 month -30 days'') is accepted: a cut within days of now()');

---------------------------------------------------------------------------
-- Batches.
---------------------------------------------------------------------------
SELECT pg_temp.ev('evt_batch_' || g, CASE WHEN g % 3 = 0 THEN 'ignored' ELSE 'processed' END, '100 days')
FROM generate_series(1, 25) g;
SELECT pg_temp.ev('evt_batch_keep_' || g, 'processed', '1 day') FROM generate_series(1, 5) g;
SET LOCAL track_functions = 'all';
CREATE TEMP TABLE calls_before AS SELECT pg_temp.calls('prune_events_step') AS n;
SELECT is(stripe_webhook.prune_events('90 days', 1), 25::bigint, 'batch_size 1: all 25 due events deleted');
SELECT cmp_ok(pg_temp.calls('prune_events_step') - (SELECT n FROM calls_before), '>=', 25::bigint,
              'in at least 25 batches of one');
SELECT is((SELECT count(*)::int FROM stripe_webhook.events WHERE id LIKE 'evt_batch_%'), 5,
          'the 5 recent events stay');
SELECT pg_temp.ev('evt_batch2_' || g, 'processed', '100 days') FROM generate_series(1, 7) g;
SELECT is(stripe_webhook.prune_events('90 days', 3), 7::bigint, 'batch_size 3 with 7 due events: 7 deleted');
SELECT is((SELECT row(picked, deleted)::text
           FROM stripe_webhook.prune_events_step(now() - interval '1 hour', NULL, 0, 1000000, 1000000, 2)),
          '(2,2)', 'one step with batch_size 2 picks and deletes 2 events');
SELECT is((SELECT count(*)::int FROM stripe_webhook.events WHERE id LIKE 'evt_batch_keep_%'), 3,
          'the step took exactly 2 of the 5');
DELETE FROM stripe_webhook.events WHERE id LIKE 'evt_batch_%';

-- A table of a few hundred blocks, due and other events interleaved, small
-- batches: the windows of blocks grow and shrink, and exactly the due
-- events go.
INSERT INTO stripe_webhook.events (id, type, status, received_at, processed_at, attempts, payload)
SELECT 'evt_many_' || g, 'checkout.session.completed', s.status, now() - interval '200 days',
       CASE WHEN s.status IN ('processed', 'ignored') THEN now() - CASE WHEN g % 3 = 0 THEN interval '1 day' ELSE interval '100 days' END END,
       1, jsonb_build_object('id', 'evt_many_' || g, 'pad', (SELECT string_agg(md5(g::text || k), '') FROM generate_series(1, 20) k))
FROM generate_series(1, 3000) g,
     LATERAL (SELECT (ARRAY['processed', 'ignored', 'processed', 'received', 'failed'])[1 + g % 5] AS status) s;
CREATE TEMP TABLE many_due AS
SELECT id FROM stripe_webhook.events
WHERE id LIKE 'evt_many_%' AND status IN ('processed', 'ignored') AND processed_at < now() - interval '90 days';
SELECT cmp_ok(pg_relation_size('stripe_webhook.events') / current_setting('block_size')::int, '>', 100::bigint,
              'the events table spans more than 100 blocks');
SELECT is(stripe_webhook.prune_events('90 days', 7), (SELECT count(*) FROM many_due),
          'batch_size 7 over the whole table: every due event counted');
SELECT is((SELECT count(*)::int FROM stripe_webhook.events e JOIN many_due USING (id)), 0, 'and deleted');
SELECT is((SELECT count(*)::int FROM stripe_webhook.events WHERE id LIKE 'evt_many_%'), 3000 - (SELECT count(*)::int FROM many_due),
          'every other event stays');
DELETE FROM stripe_webhook.events WHERE id LIKE 'evt_many_%';

-- The procedure commits after every batch, so it refuses to run inside a
-- transaction block (as here); its argument checks come first.
SELECT pg_temp.ev('evt_proc_old', 'processed', '100 days');
CREATE TEMP TABLE before_proc AS SELECT pg_temp.events_digest() AS d;
SELECT throws_ok($$CALL stripe_webhook.prune_events_batched('90 days')$$, '2D000', NULL,
                 'prune_events_batched inside a transaction block: 2D000 (invalid transaction termination)');
SELECT is(pg_temp.events_digest(), (SELECT d FROM before_proc), 'and nothing was deleted');
DELETE FROM stripe_webhook.events WHERE id = 'evt_proc_old';

---------------------------------------------------------------------------
-- Bad arguments: a clear error, nothing written.
---------------------------------------------------------------------------
SELECT pg_temp.ev('evt_args_old', 'processed', '100 days');
SELECT pg_temp.ev('evt_args_ign', 'ignored', '100 days');
CREATE TEMP TABLE before_args AS SELECT pg_temp.events_digest() AS d;
SELECT throws_ok($$SELECT stripe_webhook.prune_events(NULL)$$, '22004', 'older_than must not be null',
                 'prune_events(NULL): 22004');
SELECT throws_ok($$SELECT stripe_webhook.prune_events('1 day', NULL)$$, '22004', 'batch_size must not be null',
                 'prune_events(..., NULL): 22004');
SELECT throws_ok($$SELECT stripe_webhook.prune_events('-1 second')$$, '22023', 'older_than must not be negative',
                 'a negative interval: 22023');
SELECT throws_ok($$SELECT stripe_webhook.prune_events('1 month -40 days')$$, '22023', 'older_than must not be negative',
                 'a mixed interval below zero: 22023');
SELECT throws_ok($$SELECT stripe_webhook.prune_events('1 day', 0)$$, '22023', 'batch_size must be at least 1',
                 'batch_size 0: 22023');
SELECT throws_ok($$SELECT stripe_webhook.prune_events('1 day', -5)$$, '22023', 'batch_size must be at least 1',
                 'a negative batch_size: 22023');
SELECT throws_ok($$CALL stripe_webhook.prune_events_batched(NULL)$$, '22004', 'older_than must not be null',
                 'prune_events_batched(NULL): 22004');
SELECT throws_ok($$CALL stripe_webhook.prune_events_batched('-1 day')$$, '22023', 'older_than must not be negative',
                 'prune_events_batched with a negative interval: 22023');
SELECT throws_ok($$CALL stripe_webhook.prune_events_batched('1 day', 0)$$, '22023', 'batch_size must be at least 1',
                 'prune_events_batched with batch_size 0: 22023');
SELECT is(pg_temp.events_digest(), (SELECT d FROM before_args), 'after every refused call: nothing written');

---------------------------------------------------------------------------
-- Privileges: only the owner (or whom it grants, with the table rights).
---------------------------------------------------------------------------
CREATE ROLE sw_retention_outsider NOLOGIN;
GRANT USAGE ON SCHEMA stripe_webhook TO sw_retention_outsider;
-- Run a query as a role, return its first column as text or 'ERROR <SQLSTATE>'.
CREATE FUNCTION pg_temp.as_role(r text, q text) RETURNS text LANGUAGE plpgsql SET search_path = pg_catalog
AS $$
DECLARE
    res text;
BEGIN
    BEGIN
        PERFORM pg_catalog.set_config('role', r, true);
        EXECUTE q INTO res;
        RAISE SQLSTATE 'WHT01' USING MESSAGE = coalesce(res, '<NULL>');
    EXCEPTION WHEN OTHERS THEN
        IF SQLSTATE OPERATOR(pg_catalog.=) 'WHT01' THEN
            RETURN SQLERRM;
        END IF;
        RETURN 'ERROR ' OPERATOR(pg_catalog.||) SQLSTATE;
    END;
END
$$;
SELECT is(pg_temp.as_role('sw_retention_outsider', $$SELECT stripe_webhook.prune_events('0')$$), 'ERROR 42501',
          'a non-owner cannot call prune_events');
SELECT is(pg_temp.as_role('sw_retention_outsider', $$CALL stripe_webhook.prune_events_batched('0')$$), 'ERROR 42501',
          'a non-owner cannot call prune_events_batched');
SELECT is(pg_temp.as_role('sw_retention_outsider',
                          $$SELECT stripe_webhook.prune_events_step(now(), now(), 0, 100000, 100000, 1000)::text$$),
          'ERROR 42501', 'a non-owner cannot call the internal batch step');
GRANT EXECUTE ON FUNCTION stripe_webhook.prune_events(interval, integer) TO sw_retention_outsider;
SELECT is(pg_temp.as_role('sw_retention_outsider', $$SELECT stripe_webhook.prune_events('0')$$), 'ERROR 42501',
          'granted EXECUTE on prune_events alone, it still cannot prune (it runs with the caller''s rights)');
SELECT is(pg_temp.events_digest(), (SELECT d FROM before_args), 'the outsider wrote nothing');
REVOKE EXECUTE ON FUNCTION stripe_webhook.prune_events(interval, integer) FROM sw_retention_outsider;
DELETE FROM stripe_webhook.events WHERE id LIKE 'evt_args_%';

---------------------------------------------------------------------------
-- stripe_webhook.payload_retention: payloads of processed and ignored
-- events processed before it are stripped; the row stays until older_than.
---------------------------------------------------------------------------
SELECT is(current_setting('stripe_webhook.payload_retention'), '-1', 'payload_retention defaults to -1 (for ever)');
SELECT is(stripe_webhook.payload_retention(), NULL, 'payload_retention() is NULL then');
SELECT throws_ok($$SET LOCAL stripe_webhook.payload_retention = -2$$, '22023', NULL, 'payload_retention below -1: 22023');
SELECT throws_ok($$SET LOCAL stripe_webhook.payload_retention = '30 days'$$, '22023', NULL,
                 'payload_retention takes a number with a unit (s, min, h, d), not an interval literal');

SELECT pg_temp.ev('evt_s_p_11d', 'processed', '11 days');
SELECT pg_temp.ev('evt_s_p_5d', 'processed', '5 days');
SELECT pg_temp.ev('evt_s_i_5d', 'ignored', '5 days');
SELECT pg_temp.ev('evt_s_p_2d_edge', 'processed', '2 days');
SELECT pg_temp.ev('evt_s_p_1d', 'processed', '1 day');
SELECT pg_temp.ev('evt_s_r_old', 'received', '30 days');
SELECT pg_temp.ev('evt_s_f_old', 'failed', '30 days');
-- payload state of every event: id:has_payload
CREATE FUNCTION pg_temp.payloads() RETURNS text LANGUAGE sql
AS $$ SELECT string_agg(id || ':' || (payload IS NOT NULL)::text, ',' ORDER BY id) FROM stripe_webhook.events WHERE id LIKE 'evt_s_%' $$;

SELECT is(stripe_webhook.prune_events('10 days'), 1::bigint, 'unset: the 11-day-old event deleted ...');
SELECT is(pg_temp.payloads(),
          'evt_s_f_old:true,evt_s_i_5d:true,evt_s_p_1d:true,evt_s_p_2d_edge:true,evt_s_p_5d:true,evt_s_r_old:true',
          '... and no payload stripped');

SET LOCAL stripe_webhook.payload_retention = '2d';
SELECT is(current_setting('stripe_webhook.payload_retention'), '2d', 'payload_retention = 2d');
SELECT is(stripe_webhook.payload_retention(), interval '48 hours', 'payload_retention() is 48 hours');
SELECT is(stripe_webhook.prune_events('10 days'), 0::bigint, 'with payload_retention 2d: nothing deleted ...');
SELECT is(pg_temp.payloads(),
          'evt_s_f_old:true,evt_s_i_5d:false,evt_s_p_1d:true,evt_s_p_2d_edge:true,evt_s_p_5d:false,evt_s_r_old:true',
          '... payloads of processed and ignored events processed more than 2 days ago stripped; the edge, the recent and the unprocessed keep theirs');
SELECT is((SELECT string_agg(status || '/' || (processed_at IS NOT NULL)::text, ',' ORDER BY id)
           FROM stripe_webhook.events WHERE id IN ('evt_s_i_5d', 'evt_s_p_5d')),
          'ignored/true,processed/true', 'stripped events keep their status and processed_at');

SET LOCAL stripe_webhook.payload_retention = 0;
SELECT is(stripe_webhook.prune_events('10 days', 1), 0::bigint, 'payload_retention 0, batch_size 1: nothing deleted ...');
SELECT is(pg_temp.payloads(),
          'evt_s_f_old:true,evt_s_i_5d:false,evt_s_p_1d:false,evt_s_p_2d_edge:false,evt_s_p_5d:false,evt_s_r_old:true',
          '... every processed payload stripped; received and failed keep theirs');
DELETE FROM stripe_webhook.events WHERE id LIKE 'evt_s_%';

-- keep_payloads = unprocessed: processed events are recorded without a
-- payload in the first place; pruning them is the same.
SELECT wh_test.make_cart(45101, '45101');
SET LOCAL stripe_webhook.keep_payloads = 'unprocessed';
SELECT is(wh_test.deliver(wh_test.event('paid', 'evt_ret_keep1', 'cs_test_ret_keep1', 45101, '45101'))->>'status', '200',
          'keep_payloads = unprocessed: delivered');
SELECT is((SELECT payload IS NULL FROM stripe_webhook.events WHERE id = 'evt_ret_keep1'), true,
          'recorded without its payload');
UPDATE stripe_webhook.events SET processed_at = now() - interval '1 hour' WHERE id = 'evt_ret_keep1';
SELECT is(stripe_webhook.prune_events('10 days'), 0::bigint, 'a payload-less processed event newer than the cut stays');
SELECT is(stripe_webhook.prune_events('30 minutes'), 1::bigint, 'and goes once older than the cut');
RESET stripe_webhook.keep_payloads;
RESET stripe_webhook.payload_retention;

---------------------------------------------------------------------------
-- A redelivery of a pruned event is harmless.
---------------------------------------------------------------------------
SELECT wh_test.make_cart(45001, '45001');
CREATE TEMP TABLE redo AS
SELECT body, stripe_webhook.stripe_signature_header(body, wh_test.secret()) AS sig
FROM (SELECT wh_test.event('paid', 'evt_ret_redo1', 'cs_test_ret_redo1', 45001, '45001') AS body) b;
CREATE TEMP TABLE first_answer AS
SELECT stripe_webhook.stripe_handle_webhook(body, sig) AS r FROM redo;
SELECT is((SELECT r->>'message' FROM first_answer), 'order created', 'first delivery: order created');
CREATE TEMP TABLE after_first AS
SELECT wh_test.stock() AS stock, (SELECT count(*) FROM stripe_webhook.orders) AS orders,
       (SELECT count(*) FROM stripe_webhook.order_items) AS items,
       (SELECT count(*) FROM stripe_webhook.carts) AS carts;
-- the event was processed 100 days ago
UPDATE stripe_webhook.events SET received_at = now() - interval '100 days', processed_at = now() - interval '100 days'
WHERE id = 'evt_ret_redo1';
SELECT is(stripe_webhook.prune_events('90 days'), 1::bigint, 'pruned: the processed event is deleted');
SELECT is((SELECT count(*)::int FROM stripe_webhook.events WHERE id = 'evt_ret_redo1'), 0, 'its row is gone');

CREATE TEMP TABLE second_answer AS
SELECT stripe_webhook.stripe_handle_webhook(body, sig) AS r FROM redo;
SELECT is((SELECT r->>'status' FROM second_answer), '200', 'the same signed event redelivered: 200');
SELECT is((SELECT r->>'message' FROM second_answer), 'already processed', 'answered "already processed"');
SELECT is((SELECT r->>'order_id' FROM second_answer), (SELECT r->>'order_id' FROM first_answer),
          'with the order of the first delivery');
SELECT is((SELECT count(*) FROM stripe_webhook.orders WHERE checkout_session_id = 'cs_test_ret_redo1'), 1::bigint,
          'still one order for the session');
SELECT is((SELECT row(wh_test.stock(), (SELECT count(*) FROM stripe_webhook.orders),
                      (SELECT count(*) FROM stripe_webhook.order_items), (SELECT count(*) FROM stripe_webhook.carts))::text),
          (SELECT row(stock, orders, items, carts)::text FROM after_first),
          'stock, orders, order items and carts unchanged');
SELECT is((SELECT row(status, attempts, order_id::text, processed_at IS NOT NULL)::text
           FROM stripe_webhook.events WHERE id = 'evt_ret_redo1'),
          row('processed', 1, (SELECT r->>'order_id' FROM first_answer), true)::text,
          'one event row again: processed, with the order');

-- an ignored type, pruned and redelivered: ignored again
CREATE TEMP TABLE ign AS
SELECT wh_test.retype(wh_test.event('paid', 'evt_ret_ign1', 'cs_test_ret_ign1', 45002, '45002'),
                      'customer.created') AS body;
SELECT is(wh_test.deliver((SELECT body FROM ign))->>'message', 'event type ignored', 'an ignored event type');
UPDATE stripe_webhook.events SET processed_at = now() - interval '100 days' WHERE id = 'evt_ret_ign1';
SELECT is(stripe_webhook.prune_events('90 days'), 1::bigint, 'pruned');
SELECT is(wh_test.deliver((SELECT body FROM ign))->>'message', 'event type ignored', 'redelivered: ignored again');
SELECT is((SELECT status FROM stripe_webhook.events WHERE id = 'evt_ret_ign1'), 'ignored', 'recorded as ignored');

SELECT * FROM finish();
ROLLBACK;
