-- stripe_handle_webhook: the four checkout.session.* events in every order
-- they can arrive, duplicates, other event types, what the events table
-- records and the on-call view.
BEGIN;
\ir lib/webhook_setup.psql
SELECT plan(75);

-- A helper: the order of a session.
CREATE FUNCTION pg_temp.ord(session text) RETURNS stripe_webhook.orders LANGUAGE sql
AS $$ SELECT o FROM stripe_webhook.orders o WHERE o.checkout_session_id = session $$;
-- "status/payment_status" of the order of a session.
CREATE FUNCTION pg_temp.st(session text) RETURNS text LANGUAGE sql
AS $$ SELECT o.status || '/' || o.payment_status FROM stripe_webhook.orders o WHERE o.checkout_session_id = session $$;

---------------------------------------------------------------------------
-- checkout.session.completed, paid: an order, confirmed.
---------------------------------------------------------------------------
SELECT wh_test.make_cart(32001, '32001');
CREATE TEMP TABLE paid AS
SELECT wh_test.event('paid', 'evt_dispatch_paid1', 'cs_test_dispatch_paid1', 32001, '32001') AS body;
CREATE TEMP TABLE r1 AS SELECT wh_test.deliver((SELECT body FROM paid)) AS r;

SELECT is((SELECT r->>'status' FROM r1), '200', 'completed (paid): 200');
SELECT is((SELECT r->>'event_id' FROM r1), 'evt_dispatch_paid1', 'the answer names the event');
SELECT is((SELECT r->>'event_type' FROM r1), 'checkout.session.completed', 'the answer names the event type');
SELECT is((SELECT (r->>'order_id')::uuid FROM r1), (pg_temp.ord('cs_test_dispatch_paid1')).id,
          'the answer carries the order id');
SELECT is((SELECT array_agg(k ORDER BY k) FROM r1, jsonb_object_keys(r) k),
          ARRAY['event_id', 'event_type', 'message', 'order_id', 'status'], 'answer keys: status, message, event_id, event_type, order_id');
SELECT is((pg_temp.ord('cs_test_dispatch_paid1')).status, 'confirmed', 'the order is confirmed');
SELECT is((pg_temp.ord('cs_test_dispatch_paid1')).payment_status, 'paid', 'the order is paid');
SELECT is((pg_temp.ord('cs_test_dispatch_paid1')).user_id, '32001', 'the order belongs to the cart''s user');
SELECT is(wh_test.stock(), ARRAY[98, 99], 'stock taken: 2 mugs, 1 shirt');
SELECT ok((SELECT locked FROM stripe_webhook.carts WHERE id = 32001), 'the paid cart is locked');
SELECT is((SELECT count(*) FROM stripe_webhook.carts WHERE user_id = '32001' AND NOT locked), 1::bigint,
          'the user has a new active cart');

-- What the inbox recorded.
SELECT is((SELECT row(type, api_version, livemode, created, session_id, status, attempts, last_error)::text
           FROM stripe_webhook.events WHERE id = 'evt_dispatch_paid1'),
          row('checkout.session.completed', '2026-07-29.dahlia', false, to_timestamp(1785000312),
              'cs_test_dispatch_paid1', 'processed', 1, NULL::text)::text,
          'events row: type, api_version, livemode, created, session_id, status processed, 1 attempt, no error');
SELECT is((SELECT order_id FROM stripe_webhook.events WHERE id = 'evt_dispatch_paid1'),
          (pg_temp.ord('cs_test_dispatch_paid1')).id::text, 'events row: the order it produced');
SELECT is((SELECT payload FROM stripe_webhook.events WHERE id = 'evt_dispatch_paid1'),
          (SELECT body::jsonb FROM paid), 'events row: the whole payload');
SELECT ok((SELECT received_at = now() AND processed_at = now() FROM stripe_webhook.events WHERE id = 'evt_dispatch_paid1'),
          'events row: received_at and processed_at set');

---------------------------------------------------------------------------
-- Duplicates: the same event again (Stripe re-signs every retry).
---------------------------------------------------------------------------
CREATE TEMP TABLE snap AS
SELECT wh_test.written() AS w, (SELECT row(e.*)::text FROM stripe_webhook.events e WHERE id = 'evt_dispatch_paid1') AS ev;
SELECT is(wh_test.deliver((SELECT body FROM paid)),
          jsonb_build_object('status', 200, 'message', 'already processed', 'event_id', 'evt_dispatch_paid1',
                             'event_type', 'checkout.session.completed',
                             'order_id', (pg_temp.ord('cs_test_dispatch_paid1')).id),
          'the same event again: 200 already processed, with its order');
SELECT is(stripe_webhook.stripe_handle_webhook((SELECT body FROM paid),
              stripe_webhook.stripe_signature_header((SELECT body FROM paid), wh_test.secret(), at => now() - interval '1 minute'))
          ->> 'message', 'already processed', 'a later retry with another signature: already processed');
SELECT is(wh_test.written(), (SELECT w FROM snap), 'duplicates changed no order, cart, stock or event count');
SELECT is((SELECT row(e.*)::text FROM stripe_webhook.events e WHERE id = 'evt_dispatch_paid1'), (SELECT ev FROM snap),
          'duplicates left the events row exactly as it was (attempts too)');

-- Another event id for the same session (Stripe may send two): one order.
SELECT is(wh_test.deliver(wh_test.event('paid', 'evt_dispatch_paid1b', 'cs_test_dispatch_paid1', 32001, '32001')) ->> 'status',
          '200', 'a second event for the same session: 200');
SELECT is((SELECT count(*) FROM stripe_webhook.orders WHERE checkout_session_id = 'cs_test_dispatch_paid1'), 1::bigint,
          'still one order for the session');
SELECT is(wh_test.stock(), ARRAY[98, 99], 'no more stock taken');
SELECT is((SELECT order_id FROM stripe_webhook.events WHERE id = 'evt_dispatch_paid1b'),
          (pg_temp.ord('cs_test_dispatch_paid1')).id::text, 'the second event is recorded with the same order');

---------------------------------------------------------------------------
-- Delayed payment: completed (unpaid) then async_payment_succeeded.
---------------------------------------------------------------------------
SELECT wh_test.make_cart(32002, '32002');
SELECT is(wh_test.deliver(wh_test.event('unpaid', 'evt_dispatch_unpaid2', 'cs_test_dispatch_async2', 32002, '32002')) ->> 'status',
          '200', 'completed (unpaid): 200');
SELECT is(pg_temp.st('cs_test_dispatch_async2'), 'pending/unpaid', 'the order is pending/unpaid');
SELECT is(wh_test.stock(), ARRAY[96, 98], 'the pending order holds its stock');
SELECT is(wh_test.deliver(wh_test.event('async_ok', 'evt_dispatch_ok2', 'cs_test_dispatch_async2', 32002, '32002')) ->> 'status',
          '200', 'async_payment_succeeded: 200');
SELECT is(pg_temp.st('cs_test_dispatch_async2'), 'confirmed/paid', 'the order is now confirmed/paid');
SELECT is(wh_test.stock(), ARRAY[96, 98], 'no second stock reduction');
SELECT is((SELECT count(*) FROM stripe_webhook.orders WHERE checkout_session_id = 'cs_test_dispatch_async2'), 1::bigint,
          'one order for the session');
SELECT is((SELECT order_id FROM stripe_webhook.events WHERE id = 'evt_dispatch_ok2'),
          (pg_temp.ord('cs_test_dispatch_async2')).id::text, 'the async event is recorded with the order');

---------------------------------------------------------------------------
-- Out of order: async_payment_succeeded before completed.
---------------------------------------------------------------------------
SELECT wh_test.make_cart(32003, '32003');
SELECT is(wh_test.deliver(wh_test.event('async_ok', 'evt_dispatch_ok3', 'cs_test_dispatch_async3', 32003, '32003')) ->> 'status',
          '200', 'async_payment_succeeded first: 200');
SELECT is(pg_temp.st('cs_test_dispatch_async3'), 'confirmed/paid', 'fulfilled from the async event''s session: confirmed/paid');
SELECT is(wh_test.stock(), ARRAY[94, 97], 'stock taken once');
SELECT is(wh_test.deliver(wh_test.event('unpaid', 'evt_dispatch_unpaid3', 'cs_test_dispatch_async3', 32003, '32003')) ->> 'status',
          '200', 'the late completed (unpaid): 200');
SELECT is(pg_temp.st('cs_test_dispatch_async3'), 'confirmed/paid', 'the late unpaid completed does not downgrade the paid order');
SELECT is((SELECT count(*) FROM stripe_webhook.orders WHERE checkout_session_id = 'cs_test_dispatch_async3'), 1::bigint,
          'still one order');
SELECT is(wh_test.stock(), ARRAY[94, 97], 'and no more stock taken');

---------------------------------------------------------------------------
-- Delayed payment fails: completed (unpaid) then async_payment_failed.
---------------------------------------------------------------------------
SELECT wh_test.make_cart(32004, '32004');
SELECT wh_test.deliver(wh_test.event('unpaid', 'evt_dispatch_unpaid4', 'cs_test_dispatch_fail4', 32004, '32004'));
SELECT is(wh_test.stock(), ARRAY[92, 96], 'pending order holds stock');
SELECT is(wh_test.deliver(wh_test.event('async_failed', 'evt_dispatch_fail4', 'cs_test_dispatch_fail4', 32004, '32004')) ->> 'status',
          '200', 'async_payment_failed: 200');
SELECT is(pg_temp.st('cs_test_dispatch_fail4'), 'cancelled/failed', 'the order is cancelled/failed');
SELECT is(wh_test.stock(), ARRAY[94, 97], 'its stock went back');
SELECT is((SELECT array_agg(row(ci.product_id, ci.quantity)::text ORDER BY ci.product_id)
           FROM stripe_webhook.cart_items ci JOIN stripe_webhook.carts c ON c.id = ci.cart_id
           WHERE c.user_id = '32004' AND NOT c.locked),
          ARRAY['(9001,2)', '(9002,1)'], 'the user has the cart''s items back in an active cart');
SELECT is((SELECT count(*) FROM stripe_webhook.carts WHERE user_id = '32004' AND NOT locked), 1::bigint,
          'exactly one active cart');

---------------------------------------------------------------------------
-- Out of order: async_payment_failed before completed.
---------------------------------------------------------------------------
SELECT wh_test.make_cart(32005, '32005');
SELECT is(wh_test.deliver(wh_test.event('async_failed', 'evt_dispatch_fail5', 'cs_test_dispatch_fail5', 32005, '32005')) ->> 'status',
          '200', 'async_payment_failed before completed: 200');
SELECT is((SELECT count(*) FROM stripe_webhook.orders WHERE checkout_session_id = 'cs_test_dispatch_fail5'), 0::bigint,
          'no order yet');
SELECT is(wh_test.deliver(wh_test.event('unpaid', 'evt_dispatch_unpaid5', 'cs_test_dispatch_fail5', 32005, '32005')) ->> 'status',
          '200', 'the late completed: 200');
SELECT is((SELECT count(*) FROM stripe_webhook.orders
           WHERE checkout_session_id = 'cs_test_dispatch_fail5' AND status IN ('pending', 'confirmed')), 0::bigint,
          'a session that failed is not fulfilled by a late completed');
SELECT is(wh_test.stock(), ARRAY[94, 97], 'and takes no stock');

---------------------------------------------------------------------------
-- Expired sessions.
---------------------------------------------------------------------------
SELECT wh_test.make_cart(32006, '32006');
SELECT is(wh_test.deliver(wh_test.event('expired', 'evt_dispatch_exp6', 'cs_test_dispatch_exp6', 32006, '32006')) ->> 'status',
          '200', 'expired: 200');
SELECT is((SELECT status FROM stripe_webhook.events WHERE id = 'evt_dispatch_exp6'), 'processed', 'expired: recorded as processed');
SELECT is((SELECT count(*) FROM stripe_webhook.orders WHERE checkout_session_id = 'cs_test_dispatch_exp6'), 0::bigint,
          'expired: no order');
SELECT is(wh_test.stock(), ARRAY[94, 97], 'expired: no stock change');
SELECT is(wh_test.deliver(wh_test.event('paid', 'evt_dispatch_paid6', 'cs_test_dispatch_exp6', 32006, '32006')) ->> 'status',
          '200', 'a paid completed for the expired session: 200 (the money is not dropped)');
SELECT is((pg_temp.ord('cs_test_dispatch_exp6')).status, 'needs_review', 'its order needs review');
SELECT is(wh_test.stock(), ARRAY[94, 97], 'and takes no stock');

-- Expired after a pending (unpaid) order: releases the held stock.
SELECT wh_test.make_cart(32007, '32007');
SELECT wh_test.deliver(wh_test.event('unpaid', 'evt_dispatch_unpaid7', 'cs_test_dispatch_exp7', 32007, '32007'));
SELECT is(wh_test.stock(), ARRAY[92, 96], 'pending order holds stock');
SELECT is(wh_test.deliver(wh_test.event('expired', 'evt_dispatch_exp7', 'cs_test_dispatch_exp7', 32007, '32007')) ->> 'status',
          '200', 'expired after a pending order: 200');
SELECT is(wh_test.stock(), ARRAY[94, 97], 'the held stock is released');

-- An expiry of a session that names no cart (a Payment Link, another
-- integration): 200 and recorded as ignored, not a failure Stripe retries.
SELECT is(wh_test.deliver(regexp_replace(
              wh_test.event('expired', 'evt_dispatch_exp9', 'cs_test_dispatch_exp9', 32009, '32009'),
              '"metadata": \{[^}]*\}', '"metadata": {}', 'g')) ->> 'status',
          '200', 'expired naming no cart: 200');
SELECT is((SELECT status || '/' || attempts FROM stripe_webhook.events WHERE id = 'evt_dispatch_exp9'), 'ignored/1',
          'expired naming no cart: recorded as ignored');
SELECT is(wh_test.stock(), ARRAY[94, 97], 'expired naming no cart: no stock change');

---------------------------------------------------------------------------
-- The legacy (pre-2025-03-31) shape: top-level shipping_details.
---------------------------------------------------------------------------
SELECT wh_test.make_cart(32008, '32008');
SELECT is(wh_test.deliver(wh_test.event('legacy', 'evt_dispatch_legacy8', 'cs_test_dispatch_legacy8', 32008, '32008')) ->> 'status',
          '200', 'legacy acacia-shaped completed: 200');
SELECT is((pg_temp.ord('cs_test_dispatch_legacy8')).status, 'confirmed', 'legacy: confirmed order');
SELECT is((SELECT api_version FROM stripe_webhook.events WHERE id = 'evt_dispatch_legacy8'), '2025-01-27.acacia',
          'legacy: api_version recorded');

---------------------------------------------------------------------------
-- Other event types: 200, recorded as ignored, nothing else.
---------------------------------------------------------------------------
CREATE TEMP TABLE snap2 AS SELECT wh_test.written() AS w;
SELECT is(wh_test.deliver(wh_test.retype(wh_test.event('paid', 'evt_dispatch_other1', 'cs_test_other1', 32009, '32009'),
                                         'payment_intent.succeeded')),
          '{"status": 200, "message": "event type ignored", "event_id": "evt_dispatch_other1", "event_type": "payment_intent.succeeded"}'::jsonb,
          'payment_intent.succeeded: 200 event type ignored');
SELECT is(wh_test.deliver('{"id": "evt_dispatch_other2", "object": "event", "type": "customer.created", "data": {"object": {"id": "cus_1", "object": "customer"}}}') ->> 'message',
          'event type ignored', 'a minimal customer.created event: ignored');
SELECT is(wh_test.deliver(wh_test.retype(wh_test.event('paid', 'evt_dispatch_other3', 'cs_test_other3', 32009, '32009'),
                                         'checkout.session.updated')) ->> 'message',
          'event type ignored', 'an unknown checkout.session.* type: ignored');
SELECT is((SELECT array_agg(status || '/' || attempts || '/' || (processed_at IS NOT NULL) ORDER BY id) FROM stripe_webhook.events
           WHERE id LIKE 'evt_dispatch_other%'),
          ARRAY['ignored/1/true', 'ignored/1/true', 'ignored/1/true'], 'ignored events are recorded as ignored');
SELECT is((SELECT api_version IS NULL AND livemode IS NULL AND created IS NULL AND session_id IS NULL
           FROM stripe_webhook.events WHERE id = 'evt_dispatch_other2'), true,
          'optional envelope fields absent: recorded as NULL');
SELECT is(wh_test.deliver('{"id": "evt_dispatch_other2", "object": "event", "type": "customer.created", "data": {"object": {"id": "cus_1", "object": "customer"}}}') ->> 'message',
          'already processed', 'an ignored event again: already processed');
SELECT is(wh_test.written() - 'events', (SELECT w - 'events' FROM snap2), 'ignored events touched no order, cart or stock');

---------------------------------------------------------------------------
-- The on-call view.
---------------------------------------------------------------------------
SELECT is((SELECT array_agg(type || ':' || status || ':' || events ORDER BY type, status) FROM stripe_webhook.events_overview),
          (SELECT array_agg(type || ':' || status || ':' || n ORDER BY type, status)
           FROM (SELECT type, status, count(*) n FROM stripe_webhook.events GROUP BY 1, 2) x),
          'events_overview counts events by type and status');
SELECT is((SELECT sum(events) FROM stripe_webhook.events_overview), (SELECT count(*) FROM stripe_webhook.events)::numeric,
          'events_overview covers every event');
SELECT is((SELECT count(*) FROM stripe_webhook.events_overview WHERE oldest_unprocessed_id IS NOT NULL OR last_error IS NOT NULL),
          0::bigint, 'nothing unprocessed or failed so far');

SELECT * FROM finish();
ROLLBACK;
