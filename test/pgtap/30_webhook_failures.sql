-- stripe_handle_webhook and stripe_replay_event: permanent failures (recorded
-- as failed, 422/500, retried by the next delivery or a replay), transient
-- failures (503, attempts and error kept, never an exception: above all no
-- 40001/40P01 reaching the caller) and errors while recording.
BEGIN;
\ir lib/webhook_setup.psql
SELECT plan(86);

-- Failure injection: a trigger on orders (the processing step) and one on
-- events (the recording step) raise the SQLSTATE found in a setting, or
-- sleep when it says 'sleep'.
CREATE FUNCTION wh_test.inject() RETURNS trigger LANGUAGE plpgsql
AS $$
DECLARE
    code text := pg_catalog.current_setting('wh_test.raise_' || TG_ARGV[0], true);
BEGIN
    IF code = 'sleep' THEN
        PERFORM pg_catalog.pg_sleep(5);
    ELSIF code IS NOT NULL AND code <> '' THEN
        RAISE EXCEPTION 'injected failure %', code USING ERRCODE = code;
    END IF;
    RETURN NEW;
END
$$;
-- (on the orders table in force: the built-in one or the bound shop's)
DO $$
BEGIN
    EXECUTE pg_catalog.format('CREATE TRIGGER wh_inject BEFORE INSERT OR UPDATE ON %s
                                   FOR EACH ROW EXECUTE FUNCTION wh_test.inject(''orders'')',
                              (SELECT document->'orders'->>'table' FROM stripe_webhook.shop_binding));
END
$$;
CREATE TRIGGER wh_inject BEFORE INSERT OR UPDATE ON stripe_webhook.events
    FOR EACH ROW EXECUTE FUNCTION wh_test.inject('events');

-- The events row of an id as "status/attempts/last_sqlstate".
CREATE FUNCTION pg_temp.ev(evt text) RETURNS text LANGUAGE sql
AS $$ SELECT e.status || '/' || e.attempts || '/' || coalesce(e.last_sqlstate, '-') FROM stripe_webhook.events e WHERE e.id = evt $$;
CREATE FUNCTION pg_temp.orders(session text) RETURNS bigint LANGUAGE sql
AS $$ SELECT count(*) FROM stripe_webhook.orders o WHERE o.checkout_session_id = session $$;

---------------------------------------------------------------------------
-- Permanent failure: unknown cart.  Failed, then fixed, then redelivered.
---------------------------------------------------------------------------
CREATE TEMP TABLE f1 AS
SELECT wh_test.event('paid', 'evt_fail1', 'cs_test_fail1', 33001, '33001') AS body;
CREATE TEMP TABLE r1 AS SELECT wh_test.deliver((SELECT body FROM f1)) AS r;
SELECT is((SELECT r->>'status' FROM r1), '422', 'unknown cart: 422');
SELECT is((SELECT r->>'sqlstate' FROM r1), 'SW204', 'unknown cart: the answer carries SQLSTATE SW204');
SELECT matches((SELECT r->>'message' FROM r1), '^event could not be processed: ', 'unknown cart: message says so');
SELECT is((SELECT r->>'event_id' FROM r1), 'evt_fail1', 'unknown cart: the answer names the event');
SELECT ok((SELECT NOT r ? 'order_id' FROM r1), 'unknown cart: no order_id');
SELECT is(pg_temp.ev('evt_fail1'), 'failed/1/SW204', 'the event is recorded as failed, 1 attempt, SW204');
SELECT ok((SELECT last_error IS NOT NULL AND processed_at IS NULL AND order_id IS NULL
           FROM stripe_webhook.events WHERE id = 'evt_fail1'), 'failed event: error text kept, not processed, no order');
SELECT is(pg_temp.orders('cs_test_fail1'), 0::bigint, 'no order written');
SELECT is(wh_test.stock(), ARRAY[100, 100], 'no stock taken');

-- The on-call view shows it.
SELECT is((SELECT row(events, oldest_unprocessed_id, last_error_event_id, last_sqlstate)::text
           FROM stripe_webhook.events_overview WHERE type = 'checkout.session.completed' AND status = 'failed'),
          row(1::bigint, 'evt_fail1', 'evt_fail1', 'SW204')::text,
          'events_overview: one failed completed event, the oldest unprocessed, with its error');
SELECT ok((SELECT last_error = (SELECT last_error FROM stripe_webhook.events WHERE id = 'evt_fail1')
           FROM stripe_webhook.events_overview WHERE status = 'failed'), 'events_overview: the last error text');

-- Stripe retries: still failing, one more attempt.
SELECT is(wh_test.deliver((SELECT body FROM f1)) ->> 'status', '422', 'redelivered before the fix: 422 again');
SELECT is(pg_temp.ev('evt_fail1'), 'failed/2/SW204', 'attempts counted');

-- The cause is fixed; the next retry succeeds.
SELECT wh_test.make_cart(33001, '33001');
SELECT is(wh_test.deliver((SELECT body FROM f1)) ->> 'status', '200', 'redelivered after the fix: 200');
SELECT is((SELECT status || '/' || attempts FROM stripe_webhook.events WHERE id = 'evt_fail1'), 'processed/3',
          'the event is processed, third attempt');
SELECT is(pg_temp.orders('cs_test_fail1'), 1::bigint, 'the order exists');
SELECT is(wh_test.stock(), ARRAY[98, 99], 'stock taken once');
SELECT is(wh_test.deliver((SELECT body FROM f1)) ->> 'message', 'already processed', 'and now it is a duplicate');
SELECT is((SELECT count(*) FROM stripe_webhook.events_overview WHERE oldest_unprocessed_id IS NOT NULL), 0::bigint,
          'events_overview: nothing unprocessed any more');

---------------------------------------------------------------------------
-- Permanent failure fixed by stripe_replay_event: another user's cart.
---------------------------------------------------------------------------
SELECT wh_test.make_cart(33002, '900009');
CREATE TEMP TABLE r2 AS
SELECT wh_test.deliver(wh_test.event('paid', 'evt_fail2', 'cs_test_fail2', 33002, '33002')) AS r;
SELECT is((SELECT r->>'status' || '/' || (r->>'sqlstate') FROM r2), '422/SW205', 'another user''s cart: 422, SW205');
SELECT is(pg_temp.ev('evt_fail2'), 'failed/1/SW205', 'recorded as failed');
SELECT is(stripe_webhook.stripe_replay_event('evt_fail2') ->> 'status', '422', 'replay before the fix: 422');
SELECT is(pg_temp.ev('evt_fail2'), 'failed/2/SW205', 'replay counts an attempt');
UPDATE stripe_webhook.carts SET user_id = '33002' WHERE id = 33002;
CREATE TEMP TABLE r3 AS SELECT stripe_webhook.stripe_replay_event('evt_fail2') AS r;
SELECT is((SELECT r - 'order_id' FROM r3),
          '{"status": 200, "event_id": "evt_fail2", "event_type": "checkout.session.completed"}'::jsonb
              || jsonb_build_object('message', (SELECT r->>'message' FROM r3)),
          'replay after the fix: 200 with the event');
SELECT is((SELECT (r->>'order_id')::uuid FROM r3),
          (SELECT id FROM stripe_webhook.orders WHERE checkout_session_id = 'cs_test_fail2'), 'replay answers with the order');
SELECT is((SELECT status || '/' || attempts FROM stripe_webhook.events WHERE id = 'evt_fail2'), 'processed/3',
          'replayed event processed on its third attempt');
SELECT is(stripe_webhook.stripe_replay_event('evt_fail2') ->> 'message', 'already processed',
          'replaying a processed event does nothing');
SELECT is(pg_temp.ev('evt_fail2'), 'processed/3/SW205', 'not even an attempt');
SELECT is(pg_temp.orders('cs_test_fail2'), 1::bigint, 'one order');
SELECT throws_ok($$SELECT stripe_webhook.stripe_replay_event('evt_no_such_event')$$, 'SW303', NULL,
                 'replaying an unknown event: SW303');
SELECT throws_ok($$SELECT stripe_webhook.stripe_replay_event(NULL)$$, '22004', NULL,
                 'replaying NULL: 22004');

---------------------------------------------------------------------------
-- A malformed session (metadata.user_id missing): 422, nothing but the event.
---------------------------------------------------------------------------
SELECT wh_test.make_cart(33003, '33003');
CREATE TEMP TABLE snap AS SELECT wh_test.written() - 'events' AS w;
SELECT is(wh_test.deliver(replace(wh_test.event('paid', 'evt_fail3', 'cs_test_fail3', 33003, '33003'),
                                  '"user_id":', '"customer_ref":')) ->> 'sqlstate',
          'SW202', 'completed without metadata.user_id: SW202');
SELECT is(pg_temp.ev('evt_fail3'), 'failed/1/SW202', 'recorded as failed');
SELECT is(wh_test.written() - 'events', (SELECT w FROM snap), 'no order, cart or stock change');

---------------------------------------------------------------------------
-- The user's new cart would take an id in use (carts inserted with explicit
-- ids, the sequence left behind them): 422 with the clear 23505, recorded as
-- failed, nothing else written; after the hint's setval() the redelivery
-- succeeds.
---------------------------------------------------------------------------
SELECT wh_test.make_cart(33005, '33005');
-- the sequence as the other tests here expect it, put back at the end
-- (the id sequence of the carts table in force: the built-in one or the bound shop's)
SELECT pg_catalog.pg_get_serial_sequence(document->'carts'->>'table', document->'carts'->'columns'->>'id') AS cart_seq
  FROM stripe_webhook.shop_binding \gset
SELECT last_value AS seq_before, is_called AS seq_called FROM :cart_seq \gset
SELECT pg_catalog.setval(:'cart_seq', 33004) AS seq \gset
DROP TABLE snap;
CREATE TEMP TABLE snap AS SELECT wh_test.written() - 'events' AS w;
SELECT wh_test.deliver(wh_test.event('paid', 'evt_fail5', 'cs_test_fail5', 33005, '33005')) AS r5 \gset
SELECT is((:'r5'::jsonb) ->> 'status', '422', 'new cart id already taken: 422');
SELECT is(pg_temp.ev('evt_fail5'), 'failed/1/23505', 'recorded as failed with 23505');
SELECT alike((SELECT last_error FROM stripe_webhook.events WHERE id = 'evt_fail5'), '%its id is already taken%',
             'the recorded error says what is wrong');
SELECT is(wh_test.written() - 'events', (SELECT w FROM snap), 'no order, cart or stock change');
SELECT pg_catalog.setval(:'cart_seq', max(id)) FROM stripe_webhook.carts \gset
SELECT is(wh_test.deliver(wh_test.event('paid', 'evt_fail5', 'cs_test_fail5', 33005, '33005')) ->> 'status',
          '200', 'after the setval() of the hint, the redelivery succeeds');
SELECT is(pg_temp.orders('cs_test_fail5'), 1::bigint, '... with one order');
SELECT pg_catalog.setval(:'cart_seq', :seq_before, :'seq_called') AS seq \gset

---------------------------------------------------------------------------
-- Transient failures during processing: 503, never an exception.
---------------------------------------------------------------------------
CREATE TEMP TABLE transient (n int, code text);
INSERT INTO transient VALUES (1, '40001'), (2, '40P01'), (3, '55P03'), (4, '57014'), (5, '53200');
SELECT wh_test.make_cart(33010 + n, '3301' || n) FROM transient;

SET LOCAL wh_test.raise_orders = '40001';
SELECT lives_ok($$SELECT wh_test.deliver(wh_test.event('paid', 'evt_transient1', 'cs_test_transient1', 33011, '33011'))$$,
                'serialization failure (40001) during processing does not escape');
SELECT is(pg_temp.ev('evt_transient1'), 'received/1/40001', '40001: event kept as received, 1 attempt, 40001');
SELECT is(wh_test.deliver(wh_test.event('paid', 'evt_transient1', 'cs_test_transient1', 33011, '33011')) - 'message',
          '{"status": 503, "sqlstate": "40001", "event_id": "evt_transient1", "event_type": "checkout.session.completed"}'::jsonb,
          '40001: 503 with the SQLSTATE');
SET LOCAL wh_test.raise_orders = '40P01';
SELECT is(wh_test.deliver(wh_test.event('paid', 'evt_transient2', 'cs_test_transient2', 33012, '33012')) ->> 'status',
          '503', 'deadlock (40P01) during processing: 503');
SELECT is(pg_temp.ev('evt_transient2'), 'received/1/40P01', '40P01 recorded on the event');
SET LOCAL wh_test.raise_orders = '55P03';
SELECT is(wh_test.deliver(wh_test.event('paid', 'evt_transient3', 'cs_test_transient3', 33013, '33013')) ->> 'status',
          '503', 'lock not available (55P03) during processing: 503');
SET LOCAL wh_test.raise_orders = '57014';
SELECT is(wh_test.deliver(wh_test.event('paid', 'evt_transient4', 'cs_test_transient4', 33014, '33014')) ->> 'status',
          '503', 'query canceled (57014) during processing: 503');
SET LOCAL wh_test.raise_orders = '53200';
SELECT is(wh_test.deliver(wh_test.event('paid', 'evt_transient5', 'cs_test_transient5', 33015, '33015')) ->> 'status',
          '503', 'out of memory (53200) during processing: 503');
SELECT is((SELECT array_agg(pg_temp.ev('evt_transient' || n) ORDER BY n) FROM transient),
          ARRAY['received/2/40001', 'received/1/40P01', 'received/1/55P03', 'received/1/57014', 'received/1/53200'],
          'each transient failure kept its event, attempts and SQLSTATE');
SELECT is((SELECT count(*) FROM stripe_webhook.orders WHERE checkout_session_id LIKE 'cs_test_transient%'), 0::bigint,
          'no order from a transient failure');
SELECT is((SELECT oldest_unprocessed_id FROM stripe_webhook.events_overview
           WHERE type = 'checkout.session.completed' AND status = 'received'), 'evt_transient1',
          'events_overview: the oldest unprocessed event');

-- A real statement timeout inside the processing.
SET LOCAL wh_test.raise_orders = 'sleep';
SET LOCAL statement_timeout = '300ms';
SELECT wh_test.make_cart(33016, '33016');
SELECT is(wh_test.deliver(wh_test.event('paid', 'evt_transient6', 'cs_test_transient6', 33016, '33016')) ->> 'sqlstate',
          '57014', 'statement_timeout firing during processing: 503 with 57014');
SET LOCAL statement_timeout = 0;
SET LOCAL wh_test.raise_orders = '';

-- Once the cause is gone, Stripe's retries succeed.
SELECT is((SELECT array_agg(wh_test.deliver(wh_test.event('paid', 'evt_transient' || n, 'cs_test_transient' || n,
                                                          33010 + n, '3301' || n)) ->> 'status' ORDER BY n)
           FROM generate_series(1, 6) n),
          ARRAY['200', '200', '200', '200', '200', '200'], 'all transiently failed events succeed when redelivered');
SELECT is((SELECT array_agg(status || '/' || attempts ORDER BY id) FROM stripe_webhook.events WHERE id LIKE 'evt_transient%'),
          ARRAY['processed/3', 'processed/2', 'processed/2', 'processed/2', 'processed/2', 'processed/2'],
          'processed, attempts counted');
SELECT is((SELECT count(*) FROM stripe_webhook.orders WHERE checkout_session_id LIKE 'cs_test_transient%'), 6::bigint,
          'one order each');

-- A failed event that then hits a transient error stays failed.
CREATE TEMP TABLE f4 AS SELECT wh_test.event('paid', 'evt_fail4', 'cs_test_fail4', 33004, '33004') AS body;
SELECT is(wh_test.deliver((SELECT body FROM f4)) ->> 'status', '422', 'unknown cart: 422');
SELECT wh_test.make_cart(33004, '33004');
SET LOCAL wh_test.raise_orders = '40001';
SELECT is(wh_test.deliver((SELECT body FROM f4)) ->> 'status', '503', 'fixed, but a transient error: 503');
SELECT is(pg_temp.ev('evt_fail4'), 'failed/2/40001', 'still failed (retried), the transient error recorded');
SET LOCAL wh_test.raise_orders = '';
SELECT is(stripe_webhook.stripe_replay_event('evt_fail4') ->> 'status', '200', 'replay succeeds');

---------------------------------------------------------------------------
-- Other errors during processing: recorded as failed.
---------------------------------------------------------------------------
SELECT wh_test.make_cart(33020, '33020');
SELECT wh_test.make_cart(33021, '33021');
SET LOCAL wh_test.raise_orders = 'P0001';
SELECT is(wh_test.deliver(wh_test.event('paid', 'evt_other1', 'cs_test_other1', 33020, '33020')) - 'message',
          '{"status": 500, "sqlstate": "P0001", "event_id": "evt_other1", "event_type": "checkout.session.completed"}'::jsonb,
          'an unexpected error (P0001) during processing: 500, recorded');
SELECT is(pg_temp.ev('evt_other1'), 'failed/1/P0001', 'recorded as failed');
SET LOCAL wh_test.raise_orders = '22003';
SELECT is(wh_test.deliver(wh_test.event('paid', 'evt_other2', 'cs_test_other2', 33021, '33021')) ->> 'status',
          '422', 'a data exception (22003) during processing: 422');
SELECT is(pg_temp.ev('evt_other2'), 'failed/1/22003', 'recorded as failed');
SET LOCAL wh_test.raise_orders = '';
SELECT is((SELECT count(*) FROM stripe_webhook.orders WHERE checkout_session_id LIKE 'cs_test_other%'), 0::bigint,
          'their processing was rolled back');

---------------------------------------------------------------------------
-- Errors while recording the event: transient ones are a 503 with nothing
-- written; anything else is raised (it is never 40001 or 40P01).
---------------------------------------------------------------------------
SELECT wh_test.make_cart(33030, '33030');
CREATE TEMP TABLE snap3 AS SELECT wh_test.written() AS w;
CREATE TEMP TABLE rec AS SELECT wh_test.event('paid', 'evt_record1', 'cs_test_record1', 33030, '33030') AS body;

SET LOCAL wh_test.raise_events = '40001';
SELECT is(wh_test.deliver((SELECT body FROM rec)) ->> 'status', '503', '40001 while inserting the event: 503');
SET LOCAL wh_test.raise_events = '40P01';
SELECT is(wh_test.deliver((SELECT body FROM rec)) ->> 'sqlstate', '40P01', '40P01 while inserting the event: 503 with 40P01');
SET LOCAL wh_test.raise_events = '55P03';
SELECT is(wh_test.deliver((SELECT body FROM rec)) ->> 'status', '503', '55P03 while inserting the event: 503');
SELECT is(wh_test.written(), (SELECT w FROM snap3), 'nothing written by a delivery that could not be recorded');
SET LOCAL wh_test.raise_events = 'P0001';
SELECT throws_ok($$SELECT wh_test.deliver((SELECT body FROM rec))$$, 'P0001', NULL,
                 'a non-transient error while recording is raised to the caller');
SET LOCAL wh_test.raise_events = '';

-- A transient error when recording the outcome (the INSERT of the processed
-- event, after the handler succeeded) rolls the processing back: 503, no
-- order, and the event is kept as received with the error.
CREATE FUNCTION wh_test.inject_done() RETURNS trigger LANGUAGE plpgsql
AS $$ BEGIN IF NEW.status = 'processed' THEN RAISE EXCEPTION 'injected' USING ERRCODE = '40001'; END IF; RETURN NEW; END $$;
CREATE TRIGGER wh_inject_done BEFORE INSERT OR UPDATE ON stripe_webhook.events
    FOR EACH ROW EXECUTE FUNCTION wh_test.inject_done();
SELECT is(wh_test.deliver((SELECT body FROM rec)) ->> 'status', '503', '40001 while recording the outcome: 503');
SELECT is(wh_test.written() - 'events', (SELECT w - 'events' FROM snap3), 'the processing was rolled back with it');
SELECT is(pg_temp.ev('evt_record1'), 'received/1/40001', 'the event is kept as received, with the error');
DROP TRIGGER wh_inject_done ON stripe_webhook.events;

SELECT is(wh_test.deliver((SELECT body FROM rec)) ->> 'status', '200', 'and the next delivery succeeds');
SELECT is(pg_temp.ev('evt_record1'), 'processed/2/40001', 'processed on the second attempt');
SELECT is(pg_temp.orders('cs_test_record1'), 1::bigint, 'one order');

---------------------------------------------------------------------------
-- stripe_webhook.keep_payloads = unprocessed: a processed event keeps its
-- envelope only; an event that failed keeps its payload until it is
-- processed (a redelivery or a replay needs it).
---------------------------------------------------------------------------
SET LOCAL stripe_webhook.keep_payloads = 'unprocessed';
SELECT wh_test.make_cart(33040, '33040');
SELECT is(wh_test.deliver(wh_test.event('paid', 'evt_keep1', 'cs_test_keep1', 33040, '33040')) ->> 'status', '200',
          'keep_payloads = unprocessed: processed as usual');
SELECT is((SELECT row(status, payload IS NULL, type, session_id, order_id IS NOT NULL)::text
           FROM stripe_webhook.events WHERE id = 'evt_keep1'),
          '(processed,t,checkout.session.completed,cs_test_keep1,t)', 'the processed event keeps its envelope, not its payload');
SELECT is(wh_test.deliver(wh_test.event('paid', 'evt_keep2', 'cs_test_keep2', 33041, '33041')) ->> 'status', '422',
          'an event for a cart that does not exist yet fails');
SELECT ok((SELECT payload IS NOT NULL FROM stripe_webhook.events WHERE id = 'evt_keep2'), 'the failed event keeps its payload');
SELECT wh_test.make_cart(33041, '33041');
SELECT is(stripe_webhook.stripe_replay_event('evt_keep2') ->> 'status', '200', 'so that it can be replayed from it');
SELECT is((SELECT row(status, payload IS NULL)::text FROM stripe_webhook.events WHERE id = 'evt_keep2'),
          '(processed,t)', 'once processed, its payload is dropped');
SELECT is(wh_test.deliver(wh_test.event('paid', 'evt_keep1', 'cs_test_keep1', 33040, '33040')) ->> 'message',
          'already processed', 'duplicates are still recognised');
SELECT (SELECT jsonb_agg(to_jsonb(e) ORDER BY e.id) FROM stripe_webhook.events e)::text
       || (SELECT jsonb_agg(to_jsonb(o) ORDER BY o.id) FROM stripe_webhook.orders o)::text
       || (SELECT count(*) FROM stripe_webhook.order_changes)::text AS before_replay \gset
SELECT is(stripe_webhook.stripe_replay_event('evt_keep1')::jsonb - 'order_id',
          '{"status": 200, "message": "already processed", "event_id": "evt_keep1", "event_type": "checkout.session.completed"}'::jsonb,
          'a processed event without its payload replays as already processed');
SELECT is((SELECT jsonb_agg(to_jsonb(e) ORDER BY e.id) FROM stripe_webhook.events e)::text
          || (SELECT jsonb_agg(to_jsonb(o) ORDER BY o.id) FROM stripe_webhook.orders o)::text
          || (SELECT count(*) FROM stripe_webhook.order_changes)::text,
          :'before_replay', '... and the replay writes nothing (events, orders, order changes)');
SELECT throws_ok($$INSERT INTO stripe_webhook.events (id, type, status, payload) VALUES ('evt_nopayload', 't', 'failed', NULL)$$,
                 '23514', NULL, 'only processed or ignored events may lack a payload');
SET LOCAL stripe_webhook.keep_payloads = 'all';

-- Every SQLSTATE seen in this file came back in an answer, none as an error.
SELECT is((SELECT count(*) FROM stripe_webhook.events WHERE last_sqlstate IN ('40001', '40P01')), 4::bigint,
          'serialization failures and deadlocks were answered (and recorded), not raised');

SELECT * FROM finish();
ROLLBACK;
