-- A second fulfilment of a Checkout Session that already has an order
-- returns that order's id and writes nothing: no row of any table of the
-- database changes (pg_temp.every_table(): counts, contents and ctids, so
-- that even an UPDATE to the same values shows), whichever way the repeat
-- reaches the existing order:
--   A. the plain repeat (the cart is locked by this session)
--   B. a copy naming another, unlocked cart with items (the cart-lines read
--      finds the order)
--   C. a copy naming a cart that no longer exists (the order lookup)
--   D. through stripe_apply_session_event, the webhook handler's entry
--   E. the repeat of an order that needs review (a duplicate payment)
BEGIN;
SELECT plan(20);
\ir ../lib/fulfil_setup.sql

-- the helper sees the shop's tables (the built-in ones or the bound shop's),
-- and sees a write that changes no value
SELECT ok(pg_temp.every_table() ?& ((SELECT array_agg((b.document->r.role->>'table')::regclass::text)
                                       FROM stripe_webhook.shop_binding b,
                                            unnest(ARRAY['orders', 'order_items', 'carts', 'cart_items',
                                                         'products']) AS r(role))
                                    || ARRAY['stripe_webhook.checkout_sessions', 'stripe_webhook.order_lines',
                                             'stripe_webhook.events']),
          'every_table() covers the shop''s tables and the events');
SELECT pg_temp.every_table() AS blank \gset
SAVEPOINT same_values;
UPDATE stripe_webhook.products SET stock = stock WHERE id = 101;
SELECT isnt(pg_temp.every_table(), :'blank'::jsonb, 'every_table() changes with an UPDATE that keeps the values');
ROLLBACK TO SAVEPOINT same_values;
SELECT is(pg_temp.every_table(), :'blank'::jsonb, '... and is back after the UPDATE is rolled back');

-- A. the plain repeat
SELECT stripe_webhook.stripe_fulfill_session(:'paid'::jsonb) AS first \gset
SELECT pg_temp.every_table() AS after_first \gset
SELECT isnt(:'after_first'::jsonb, :'blank'::jsonb, 'A: the first fulfilment wrote');
SELECT is(stripe_webhook.stripe_fulfill_session(:'paid'::jsonb), :'first'::uuid, 'A: a repeat returns the same order id');
SELECT is(pg_temp.every_table(), :'after_first'::jsonb, 'A: ... and writes nothing');
SELECT is(stripe_webhook.stripe_fulfill_session(jsonb_set(:'paid'::jsonb, '{payment_status}', '"unpaid"')),
          :'first'::uuid, 'A: a copy saying unpaid returns the same order id');
SELECT is(pg_temp.every_table(), :'after_first'::jsonb, 'A: ... and writes nothing');

-- B. a copy of the session naming cart 1338 (user 43; unlocked, with items)
SELECT pg_temp.sess(:'paid'::jsonb, (:'paid'::jsonb)->>'id', '43', 1338) AS other_cart \gset
SELECT is(stripe_webhook.stripe_fulfill_session(:'other_cart'::jsonb), :'first'::uuid,
          'B: a copy naming another cart returns the same order id');
SELECT is(pg_temp.every_table(), :'after_first'::jsonb, 'B: ... and writes nothing (cart 1338 stays unlocked and full)');

-- C. a copy naming a cart that does not exist
SELECT is(stripe_webhook.stripe_fulfill_session(pg_temp.sess(:'paid'::jsonb, (:'paid'::jsonb)->>'id', '42', 999999)),
          :'first'::uuid, 'C: a copy naming a missing cart returns the same order id');
SELECT is(pg_temp.every_table(), :'after_first'::jsonb, 'C: ... and writes nothing');

-- D. through stripe_apply_session_event
SELECT is(stripe_webhook.stripe_apply_session_event('checkout.session.completed', :'paid'::jsonb),
          jsonb_build_object('message', 'already processed', 'order_id', :'first'::text),
          'D: checkout.session.completed again: already processed, the same order id');
SELECT is(pg_temp.every_table(), :'after_first'::jsonb, 'D: ... and writes nothing');

-- E. a second session for the cart already checked out: needs review; its repeat
SELECT stripe_webhook.stripe_fulfill_session(pg_temp.sess(:'paid'::jsonb, 'cs_test_repeat_dup', '42', 1337)) AS dup \gset
SELECT isnt(:'dup'::uuid, :'first'::uuid, 'E: a second session for the same cart gets its own order');
SELECT is(pg_temp.order_status(:'dup'), 'needs_review', 'E: ... which needs review');
SELECT pg_temp.every_table() AS after_dup \gset
SELECT is(stripe_webhook.stripe_fulfill_session(pg_temp.sess(:'paid'::jsonb, 'cs_test_repeat_dup', '42', 1337)),
          :'dup'::uuid, 'E: its repeat returns the same order id');
SELECT is(pg_temp.every_table(), :'after_dup'::jsonb, 'E: ... and writes nothing');
SELECT is(stripe_webhook.stripe_fulfill_session(:'paid'::jsonb), :'first'::uuid,
          'E: the first session''s repeat still returns its own order');
SELECT is(pg_temp.every_table(), :'after_dup'::jsonb, 'E: ... and writes nothing');

SELECT * FROM finish();
ROLLBACK;
