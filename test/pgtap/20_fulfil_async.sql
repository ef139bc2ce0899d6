-- The Checkout Session state machine beyond completed: async payment
-- succeeded / failed and expired, in order, out of order and repeated
-- (through stripe_apply_session_event, the entry the webhook handler shares).
BEGIN;
SELECT plan(74);
\ir ../lib/fulfil_setup.sql

CREATE FUNCTION pg_temp.ev(t text, s jsonb) RETURNS jsonb LANGUAGE sql AS $$
    SELECT stripe_webhook.stripe_apply_session_event('checkout.session.' || t, s)
$$;
SELECT (:'ev_succeeded'::jsonb)->'data'->'object' AS succ_obj \gset
SELECT (:'ev_failed'::jsonb)->'data'->'object' AS fail_obj \gset

-- A. delayed payment that succeeds: pending -> confirmed/paid
SELECT pg_temp.ev('completed', :'unpaid'::jsonb)->>'order_id' AS a_order \gset
SELECT results_eq(format($$SELECT status, payment_status FROM stripe_webhook.orders WHERE id = %L$$, :'a_order'),
                  $$VALUES ('pending', 'unpaid')$$, 'A: completed/unpaid makes a pending order');
SELECT pg_temp.ev('async_payment_succeeded', :'succ_obj'::jsonb) AS a_succ \gset
SELECT is((:'a_succ'::jsonb)->>'message', 'payment confirmed', 'A: async_payment_succeeded confirms the payment');
SELECT is((:'a_succ'::jsonb)->>'order_id', :'a_order', 'A: ... of the same order');
SELECT results_eq(format($$SELECT status, payment_status, updated_at > created_at OR updated_at = now()
                            FROM stripe_webhook.orders WHERE id = %L$$, :'a_order'),
                  $$VALUES ('confirmed', 'paid', true)$$, 'A: the order is confirmed and paid');
SELECT is((SELECT sum(stock_taken)::int FROM stripe_webhook.order_items WHERE order_id = :'a_order'), 3,
          'A: the stock it held is kept');
SELECT pg_temp.shop_state() AS a_state \gset
SELECT is(pg_temp.ev('async_payment_succeeded', :'succ_obj'::jsonb)->>'message', 'already processed',
          'A: a repeated success is already processed');
SELECT is(pg_temp.shop_state(), :'a_state', 'A: ... and changes nothing');
SELECT is(pg_temp.ev('completed', :'unpaid'::jsonb)->>'message', 'already processed',
          'A: a late completed/unpaid is already processed');
SELECT is(pg_temp.shop_state(), :'a_state', 'A: ... and never downgrades the paid order');
-- a failure reported for a paid order: flagged, the money is kept
SELECT is(pg_temp.ev('async_payment_failed', :'fail_obj'::jsonb)->>'message', 'order flagged for review',
          'A: a failure for a paid order flags it');
SELECT results_eq(format($$SELECT status, payment_status, review_reason FROM stripe_webhook.orders WHERE id = %L$$, :'a_order'),
                  $$VALUES ('needs_review', 'paid', 'async payment failure reported for an order that is paid')$$,
                  'A: ... needs_review, still paid, with the reason');
SELECT is((SELECT sum(stock_taken)::int FROM stripe_webhook.order_items WHERE order_id = :'a_order'), 3,
          'A: ... and its stock is kept');
SELECT pg_temp.shop_state() AS a_state2 \gset
SELECT is(pg_temp.ev('async_payment_failed', :'fail_obj'::jsonb)->>'message', 'already processed',
          'A: the same failure again is already processed');
SELECT is(pg_temp.shop_state(), :'a_state2', 'A: ... and the reason is not repeated');

-- B. delayed payment that fails: cancelled/failed, stock back, items back in the active cart
SELECT pg_temp.new_cart('70') AS b_cart \gset
SELECT pg_temp.sess(:'unpaid'::jsonb, 'cs_test_b_fail', '70', :b_cart) AS b_sess \gset
SELECT string_agg(id || ':' || stock, ',' ORDER BY id) AS stock_before FROM stripe_webhook.products \gset
SELECT pg_temp.ev('completed', :'b_sess'::jsonb)->>'order_id' AS b_order \gset
SELECT id AS b_active FROM stripe_webhook.carts WHERE user_id = '70' AND NOT locked \gset
-- the user keeps shopping: the new active cart gets a Mug and a Sticker
INSERT INTO stripe_webhook.cart_items VALUES (:b_active, 101, 1), (:b_active, 103, 1);
SELECT pg_temp.ev('async_payment_failed', jsonb_set(:'b_sess'::jsonb, '{payment_status}', '"unpaid"')) AS b_fail \gset
SELECT is((:'b_fail'::jsonb)->>'message', 'order cancelled', 'B: async_payment_failed cancels the order');
SELECT results_eq(format($$SELECT status, payment_status FROM stripe_webhook.orders WHERE id = %L$$, :'b_order'),
                  $$VALUES ('cancelled', 'failed')$$, 'B: the order is cancelled/failed');
SELECT is((SELECT string_agg(id || ':' || stock, ',' ORDER BY id) FROM stripe_webhook.products), :'stock_before',
          'B: its stock is returned');
SELECT is((SELECT sum(stock_taken)::int FROM stripe_webhook.order_items WHERE order_id = :'b_order'), 0,
          'B: its items hold no stock any more');
SELECT results_eq(format($$SELECT product_id, quantity FROM stripe_webhook.cart_items WHERE cart_id = %s ORDER BY 1$$, :b_active),
                  $$VALUES (101::bigint, 3), (102::bigint, 1), (103::bigint, 1)$$,
                  'B: the items are merged into the user''s active cart');
SELECT is((SELECT count(*)::int FROM stripe_webhook.carts WHERE user_id = '70' AND NOT locked), 1,
          'B: the user still has exactly one active cart');
SELECT results_eq($$SELECT outcome, order_id IS NOT NULL FROM stripe_webhook.checkout_sessions WHERE id = 'cs_test_b_fail'$$,
                  $$VALUES ('payment_failed', true)$$, 'B: the failure is recorded with its order');
SELECT pg_temp.shop_state() AS b_state \gset
SELECT is(pg_temp.ev('async_payment_failed', :'b_sess'::jsonb)->>'message', 'already processed',
          'B: a repeated failure is already processed');
SELECT is(pg_temp.shop_state(), :'b_state', 'B: ... and does not put the items back twice');
SELECT is(pg_temp.ev('completed', :'b_sess'::jsonb)->>'order_id', :'b_order',
          'B: a late completed returns the cancelled order');
SELECT is(pg_temp.shop_state(), :'b_state', 'B: ... changing nothing');
SELECT is(pg_temp.ev('expired', :'b_sess'::jsonb)->>'message', 'already processed',
          'B: a late expiry of the cancelled order is already processed');
-- success reported after the failure: money kept, flagged, no stock taken again
SELECT is(pg_temp.ev('async_payment_succeeded', jsonb_set(:'b_sess'::jsonb, '{payment_status}', '"paid"'))->>'message',
          'order flagged for review', 'B: a success after the failure flags the order');
SELECT results_eq(format($$SELECT status, payment_status, review_reason FROM stripe_webhook.orders WHERE id = %L$$, :'b_order'),
                  $$VALUES ('needs_review', 'paid', 'payment succeeded after the order was cancelled; its stock was returned')$$,
                  'B: ... needs_review/paid with the reason');
SELECT is((SELECT string_agg(id || ':' || stock, ',' ORDER BY id) FROM stripe_webhook.products), :'stock_before',
          'B: ... and takes no stock');

-- C. out of order: async_payment_succeeded before completed
SELECT pg_temp.new_cart('71') AS c_cart \gset
SELECT pg_temp.sess(:'succ_obj'::jsonb, 'cs_test_c_early', '71', :c_cart) AS c_sess \gset
SELECT pg_temp.ev('async_payment_succeeded', :'c_sess'::jsonb) AS c_res \gset
SELECT is((:'c_res'::jsonb)->>'message', 'order created', 'C: success before completed fulfils the session');
SELECT results_eq(format($$SELECT status, payment_status FROM stripe_webhook.orders WHERE id = %L$$, (:'c_res'::jsonb)->>'order_id'),
                  $$VALUES ('confirmed', 'paid')$$, 'C: ... as a confirmed, paid order');
SELECT ok((SELECT locked FROM stripe_webhook.carts WHERE id = :c_cart), 'C: ... locking the cart');
SELECT is((SELECT sum(stock_taken)::int FROM stripe_webhook.order_items WHERE order_id = ((:'c_res'::jsonb)->>'order_id')::uuid), 3,
          'C: ... taking the stock');
SELECT pg_temp.shop_state() AS c_state \gset
SELECT is(pg_temp.ev('completed', jsonb_set(:'c_sess'::jsonb, '{payment_status}', '"unpaid"'))->>'order_id',
          (:'c_res'::jsonb)->>'order_id', 'C: the late completed/unpaid returns the same order');
SELECT is(pg_temp.shop_state(), :'c_state', 'C: ... and does not downgrade it');
SELECT is(pg_temp.ev('async_payment_succeeded', :'c_sess'::jsonb)->>'message', 'already processed',
          'C: the success again is already processed');

-- D. out of order: async_payment_failed before completed
SELECT pg_temp.new_cart('72') AS d_cart \gset
SELECT pg_temp.sess(:'fail_obj'::jsonb, 'cs_test_d_early', '72', :d_cart) AS d_sess \gset
SELECT pg_temp.shop_state() AS d_before \gset
SELECT pg_temp.ev('async_payment_failed', :'d_sess'::jsonb) AS d_res \gset
SELECT results_eq(format($$SELECT %L::jsonb->>'message', %L::jsonb->'order_id'$$, :'d_res', :'d_res'),
                  $$VALUES ('payment failure recorded', 'null'::jsonb)$$, 'D: failure before completed is recorded, no order');
SELECT is(regexp_replace(pg_temp.shop_state(), 'sessions=\d+', ''), regexp_replace(:'d_before', 'sessions=\d+', ''),
          'D: ... nothing but the record is written');
SELECT is((SELECT outcome FROM stripe_webhook.checkout_sessions WHERE id = 'cs_test_d_early'), 'payment_failed',
          'D: ... recorded as payment_failed');
SELECT pg_temp.ev('completed', pg_temp.sess(:'paid'::jsonb, 'cs_test_d_early', '72', :d_cart)) AS d_late \gset
SELECT results_eq(format($$SELECT status, payment_status, review_reason FROM stripe_webhook.orders WHERE id = %L$$, (:'d_late'::jsonb)->>'order_id'),
                  $$VALUES ('needs_review', 'paid', 'checkout session completed after it was recorded as payment_failed; no stock was taken')$$,
                  'D: a late completed (paid) for the failed session: needs_review, money kept');
SELECT is((SELECT sum(stock_taken)::int FROM stripe_webhook.order_items WHERE order_id = ((:'d_late'::jsonb)->>'order_id')::uuid), 0,
          'D: ... taking no stock');
SELECT ok((SELECT NOT locked FROM stripe_webhook.carts WHERE id = :d_cart), 'D: ... and leaving the cart alone');
SELECT is((SELECT count(*)::int FROM stripe_webhook.order_items WHERE order_id = ((:'d_late'::jsonb)->>'order_id')::uuid), 2,
          'D: ... listing the cart''s items');

-- E. expired without an order: recorded; a later completed takes no stock
SELECT pg_temp.shop_state() AS e_before \gset
SELECT pg_temp.ev('expired', :'expired'::jsonb) AS e_res \gset
SELECT is((:'e_res'::jsonb)->>'message', 'expiry recorded', 'E: expired is recorded');
SELECT is(regexp_replace(pg_temp.shop_state(), 'sessions=\d+', ''), regexp_replace(:'e_before', 'sessions=\d+', ''),
          'E: ... nothing else changes');
SELECT results_eq($$SELECT cart_id, user_id, outcome FROM stripe_webhook.checkout_sessions
                     WHERE id = 'cs_test_c1SyntheticExpired000000000000000000000000000000000000000'$$,
                  $$VALUES ('1339', '44', 'expired')$$, 'E: ... with its cart and user');
SELECT is(pg_temp.ev('expired', :'expired'::jsonb)->>'message', 'expiry recorded', 'E: a repeat is harmless');
SELECT is((SELECT count(*)::int FROM stripe_webhook.checkout_sessions WHERE outcome = 'expired'), 1, 'E: ... recorded once');
SELECT pg_temp.ev('completed', jsonb_set(jsonb_set(:'expired'::jsonb, '{payment_status}', '"paid"'), '{status}', '"complete"')) AS e_late \gset
SELECT results_eq(format($$SELECT status, payment_status FROM stripe_webhook.orders WHERE id = %L$$, (:'e_late'::jsonb)->>'order_id'),
                  $$VALUES ('needs_review', 'paid')$$, 'E: completed for an expired session: needs_review, money kept');
SELECT is((SELECT sum(stock_taken)::int FROM stripe_webhook.order_items WHERE order_id = ((:'e_late'::jsonb)->>'order_id')::uuid), 0,
          'E: ... taking no stock');
SELECT ok((SELECT NOT locked FROM stripe_webhook.carts WHERE id = 1339), 'E: ... leaving the cart alone');

-- F. expired for a pending (unpaid) order: cancelled, stock and items back
SELECT pg_temp.new_cart('73') AS f_cart \gset
SELECT pg_temp.sess(:'unpaid'::jsonb, 'cs_test_f_pending', '73', :f_cart) AS f_sess \gset
SELECT string_agg(id || ':' || stock, ',' ORDER BY id) AS f_stock FROM stripe_webhook.products \gset
SELECT pg_temp.ev('completed', :'f_sess'::jsonb)->>'order_id' AS f_order \gset
SELECT is(pg_temp.ev('expired', :'f_sess'::jsonb)->>'message', 'order cancelled', 'F: expiry cancels a pending order');
SELECT results_eq(format($$SELECT status, payment_status FROM stripe_webhook.orders WHERE id = %L$$, :'f_order'),
                  $$VALUES ('cancelled', 'unpaid')$$, 'F: ... cancelled, payment still unpaid');
SELECT is((SELECT string_agg(id || ':' || stock, ',' ORDER BY id) FROM stripe_webhook.products), :'f_stock',
          'F: ... its stock is returned');
SELECT results_eq($$SELECT ci.product_id, ci.quantity FROM stripe_webhook.cart_items ci
                      JOIN stripe_webhook.carts c ON c.id = ci.cart_id WHERE c.user_id = '73' AND NOT c.locked ORDER BY 1$$,
                  $$VALUES (101::bigint, 2), (102::bigint, 1)$$, 'F: ... and the items are back in the active cart');
SELECT is(pg_temp.ev('async_payment_failed', :'f_sess'::jsonb)->>'message', 'already processed',
          'F: a failure after the expiry is already processed (items not restored twice)');

-- G. expired reported for a paid order: flagged, nothing released
SELECT pg_temp.new_cart('74') AS g_cart \gset
SELECT pg_temp.sess(:'paid'::jsonb, 'cs_test_g_paid', '74', :g_cart) AS g_sess \gset
SELECT pg_temp.ev('completed', :'g_sess'::jsonb)->>'order_id' AS g_order \gset
SELECT is(pg_temp.ev('expired', :'g_sess'::jsonb)->>'message', 'order flagged for review', 'G: expiry of a paid order flags it');
SELECT results_eq(format($$SELECT status, payment_status, review_reason FROM stripe_webhook.orders WHERE id = %L$$, :'g_order'),
                  $$VALUES ('needs_review', 'paid', 'checkout session reported expired but its order is paid')$$,
                  'G: ... paid, needs_review, stock kept');

-- H. failure of a duplicate-payment review order: cancelled, nothing returned or restored
SELECT pg_temp.new_cart('75') AS h_cart \gset
SELECT pg_temp.ev('completed', pg_temp.sess(:'paid'::jsonb, 'cs_test_h_first', '75', :h_cart)) \gset
SELECT pg_temp.ev('completed', pg_temp.sess(:'unpaid'::jsonb, 'cs_test_h_second', '75', :h_cart))->>'order_id' AS h_order \gset
SELECT pg_temp.shop_state() AS h_before \gset
SELECT is(pg_temp.ev('async_payment_failed', pg_temp.sess(:'fail_obj'::jsonb, 'cs_test_h_second', '75', :h_cart))->>'message',
          'order cancelled', 'H: failure of the second (review) payment cancels its order');
SELECT results_eq(format($$SELECT status, payment_status FROM stripe_webhook.orders WHERE id = %L$$, :'h_order'),
                  $$VALUES ('cancelled', 'failed')$$, 'H: ... cancelled/failed');
SELECT is(regexp_replace(pg_temp.shop_state(), '.*(carts=.*) \| sessions.*', '\1'),
          regexp_replace(:'h_before', '.*(carts=.*) \| sessions.*', '\1'),
          'H: ... no stock returned and no items put back (that order never held them)');

-- I. bad input to the other handlers: errors, nothing written
SELECT pg_temp.shop_state() AS i_before \gset
SELECT throws_ok(format($$SELECT pg_temp.ev('async_payment_failed', %L)$$,
                        jsonb_set(:'fail_obj'::jsonb, '{metadata}', '{"user_id": "42"}')),
                 'SW202', NULL, 'I: failed with metadata.user_id but no cart_id: SW202');
SELECT throws_ok(format($$SELECT pg_temp.ev('expired', %L)$$,
                        jsonb_set(pg_temp.sess(:'expired'::jsonb, 'cs_test_i3', '42', 1337), '{metadata}', '{"cart_id": "1337"}')),
                 'SW202', NULL, 'I: expired with metadata.cart_id but no user_id: SW202');
SELECT throws_ok(format($$SELECT pg_temp.ev('async_payment_succeeded', %L)$$, (:'succ_obj'::jsonb) - 'metadata'),
                 'SW202', NULL, 'I: success (money taken) without metadata: still SW202');
SELECT throws_ok(format($$SELECT pg_temp.ev('expired', %L)$$, jsonb_set(:'expired'::jsonb - 'metadata', '{object}', '"event"')),
                 'SW201', NULL, 'I: expired without metadata but not a session: SW201');
SELECT throws_ok(format($$SELECT pg_temp.ev('expired', %L)$$, pg_temp.sess(:'expired'::jsonb, 'cs_test_i', '99', 1337)),
                 'SW205', NULL, 'I: expired naming another user''s cart: SW205');
SELECT throws_ok(format($$SELECT pg_temp.ev('async_payment_succeeded', %L)$$, pg_temp.sess(:'succ_obj'::jsonb, 'cs_test_i2', '43', 987654321)),
                 'SW204', NULL, 'I: success for an unknown cart without an order: SW204');
SELECT throws_ok(format($$SELECT pg_temp.ev('async_payment_succeeded', %L)$$, jsonb_set(:'succ_obj'::jsonb, '{object}', '"event"')),
                 'SW201', NULL, 'I: success with a non-session object: SW201');
SELECT is(pg_temp.shop_state(), :'i_before', 'I: nothing was written by the failed calls');

-- J. a failure or an expiry of a session that names no cart (a Payment Link,
-- another integration on the same Stripe account): nothing is held for it,
-- so it is ignored rather than failing on every retry; nothing written
SELECT pg_temp.shop_state() AS j_before \gset
SELECT is(pg_temp.ev('async_payment_failed', pg_temp.sess(:'fail_obj'::jsonb, 'cs_test_j0', '42', 1337) - 'metadata')->>'message',
          'ignored: the checkout session names no cart (no metadata.user_id or metadata.cart_id)',
          'J: failed without metadata: ignored');
SELECT is(pg_temp.ev('expired', pg_temp.sess(:'expired'::jsonb, 'cs_test_j1', '42', 1337) - 'metadata')->>'message',
          'ignored: the checkout session names no cart (no metadata.user_id or metadata.cart_id)',
          'J: expired without metadata: ignored');
SELECT is(pg_temp.ev('expired', jsonb_set(pg_temp.sess(:'expired'::jsonb, 'cs_test_j2', '42', 1337), '{metadata}', '{"campaign": "x"}'))->>'order_id',
          NULL, 'J: expired with other metadata only: ignored, no order');
SELECT throws_ok(format($$SELECT pg_temp.ev('async_payment_failed', %L)$$, (:'fail_obj'::jsonb) - 'metadata'),
                 'SW202', NULL, 'J: but a session that has an order and lost its metadata is still an error: SW202');
SELECT is(pg_temp.shop_state(), :'j_before', 'J: nothing was written (no order, no stock, no recorded session)');

SELECT * FROM finish();
ROLLBACK;
