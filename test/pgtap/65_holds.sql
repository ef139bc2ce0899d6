-- Stock holds on the built-in tables: reserve_cart, the completed path
-- taking from the hold, a cart changed after its hold, a second session for
-- the same cart, expired / async_payment_failed / release_hold /
-- release_expired_holds, a completed after its hold was released, every
-- bad input (nothing written) and the privileges.
BEGIN;
SELECT plan(98);
\ir ../lib/fulfil_setup.sql

CREATE FUNCTION pg_temp.ev(t text, s jsonb) RETURNS jsonb LANGUAGE sql AS $$
    SELECT stripe_webhook.stripe_apply_session_event('checkout.session.' || t, s)
$$;
CREATE FUNCTION pg_temp.stock(p bigint) RETURNS integer LANGUAGE sql AS $$
    SELECT stock FROM stripe_webhook.products WHERE id = p
$$;
CREATE FUNCTION pg_temp.holds(sid text) RETURNS text LANGUAGE sql AS $$
    SELECT string_agg(product_id || 'x' || quantity || ':' || status || ':' || returned || ':' ||
                      COALESCE(release_reason, '-'), ',' ORDER BY product_id::bigint)
      FROM stripe_webhook.holds WHERE checkout_session_id = sid
$$;
CREATE FUNCTION pg_temp.taken(o text) RETURNS text LANGUAGE sql AS $$
    SELECT string_agg(product_id || ':' || quantity || ':' || stock_taken || ':' || shortfall, ',' ORDER BY product_id)
      FROM stripe_webhook.order_items WHERE order_id = o::uuid
$$;
-- a session of cart/user with the given subtotal
CREATE FUNCTION pg_temp.s(base jsonb, sid text, usr text, cart bigint, sub bigint) RETURNS jsonb LANGUAGE sql AS $$
    SELECT jsonb_set(jsonb_set(pg_temp.sess(base, sid, usr, cart), '{amount_subtotal}', to_jsonb(sub)),
                     '{amount_total}', to_jsonb(sub))
$$;

-- A. a hold, the same session again, then its order
SELECT stripe_webhook.reserve_cart(1337, 'cs_test_hold_a', now() + interval '1 hour') AS a \gset
SELECT is((:'a'::jsonb) - 'expires_at',
          '{"checkout_session_id": "cs_test_hold_a", "cart_id": "1337", "created": true,
            "lines": [{"product_id": "101", "quantity": 2}, {"product_id": "102", "quantity": 1}],
            "replaced": []}'::jsonb,
          'A: reserve_cart returns the held lines');
SELECT is(((:'a'::jsonb)->>'expires_at')::timestamptz, now() + interval '1 hour', 'A: ... and expires_at');
SELECT is(pg_temp.stock(101) || '/' || pg_temp.stock(102), '98/49', 'A: the stock column shows what can still be sold');
SELECT is(pg_temp.holds('cs_test_hold_a'), '101x2:held:0:-,102x1:held:0:-', 'A: one held row per product');
SELECT is((SELECT string_agg(DISTINCT cart_table || ' ' || cart_id || ' ' || user_id || ' ' || product_table, ',')
             FROM stripe_webhook.holds WHERE checkout_session_id = 'cs_test_hold_a'),
          'stripe_webhook.carts 1337 42 stripe_webhook.products', 'A: ... naming the cart, its user and the tables');
SELECT pg_temp.every_table() AS a_tables \gset
SELECT is((stripe_webhook.reserve_cart(1337, 'cs_test_hold_a', now() + interval '2 hours')) - 'expires_at',
          (:'a'::jsonb) - 'expires_at' || '{"created": false}', 'A: the same session again returns its hold');
SELECT is(pg_temp.every_table(), :'a_tables'::jsonb, 'A: ... and writes nothing');
SELECT is((stripe_webhook.reserve_cart('1337', 'cs_test_hold_a', now() + interval '2 hours'))->>'created', 'false',
          'A: ... through the text overload too');
SELECT pg_temp.ev('completed', pg_temp.sess(:'paid'::jsonb, 'cs_test_hold_a', '42', 1337))->>'order_id' AS a_order \gset
SELECT is(pg_temp.taken(:'a_order'), '101:2:2:0,102:1:1:0', 'A: the order''s lines hold their units');
SELECT is(pg_temp.stock(101) || '/' || pg_temp.stock(102), '98/49', 'A: ... taken from the hold, not twice');
SELECT is(pg_temp.holds('cs_test_hold_a'), '101x2:ordered:0:-,102x1:ordered:0:-', 'A: the hold became the order');
SELECT is((SELECT count(*)::int FROM stripe_webhook.holds WHERE checkout_session_id = 'cs_test_hold_a'
             AND order_id = :'a_order' AND order_table = 'stripe_webhook.orders' AND settled_at IS NOT NULL), 2,
          'A: ... naming the order');
SELECT is(pg_temp.order_status(:'a_order'), 'confirmed', 'A: the order is confirmed');
SELECT is((SELECT string_agg(product_id || ':' || stock_taken, ',' ORDER BY product_id) FROM stripe_webhook.order_lines
            WHERE order_id = :'a_order'), '101:2,102:1', 'A: order_lines.stock_taken is what the order holds');
SELECT is(pg_temp.ev('completed', pg_temp.sess(:'paid'::jsonb, 'cs_test_hold_a', '42', 1337))->>'message',
          'already processed', 'A: a repeated completed is already processed');
SELECT is(pg_temp.stock(101) || '/' || pg_temp.stock(102), '98/49', 'A: ... and takes nothing');

-- B. the cart changed after its hold: fewer, more, a product removed
SELECT pg_temp.new_cart('60') AS b_cart \gset
INSERT INTO stripe_webhook.cart_items VALUES (:b_cart, 103, 1);
SELECT pg_temp.stock(101) || '/' || pg_temp.stock(102) || '/' || pg_temp.stock(103) AS b_before \gset
SELECT is((stripe_webhook.reserve_cart(:b_cart, 'cs_test_hold_b', now() + interval '25 minutes'))->'lines',
          '[{"product_id": "101", "quantity": 2}, {"product_id": "102", "quantity": 1},
            {"product_id": "103", "quantity": 1}]'::jsonb, 'B: 25 minutes ahead (30 after a session created up to 5 minutes ago) is accepted');
UPDATE stripe_webhook.cart_items SET quantity = 1 WHERE cart_id = :b_cart AND product_id = 101;
UPDATE stripe_webhook.cart_items SET quantity = 2 WHERE cart_id = :b_cart AND product_id = 102;
DELETE FROM stripe_webhook.cart_items WHERE cart_id = :b_cart AND product_id = 103;
SELECT pg_temp.ev('completed', pg_temp.s(:'paid'::jsonb, 'cs_test_hold_b', '60', :b_cart, 6500))->>'order_id' AS b_order \gset
SELECT is(pg_temp.taken(:'b_order'), '101:1:1:0,102:2:2:0', 'B: the order takes what the changed cart holds');
SELECT is(pg_temp.stock(101) || '/' || pg_temp.stock(102) || '/' || pg_temp.stock(103),
          (split_part(:'b_before', '/', 1)::int - 1) || '/' || (split_part(:'b_before', '/', 2)::int - 2) || '/' ||
          split_part(:'b_before', '/', 3),
          'B: extra held units went back, the rest came from stock');
SELECT is(pg_temp.holds('cs_test_hold_b'), '101x2:ordered:1:-,102x1:ordered:0:-,103x1:released:1:not_ordered',
          'B: the hold is settled per product');
SELECT is(pg_temp.order_status(:'b_order'), 'confirmed', 'B: nothing short, confirmed');

-- C. the cart grew past the stock after its hold: shortfall rules unchanged
SELECT pg_temp.new_cart('61') AS c_cart \gset
DELETE FROM stripe_webhook.cart_items WHERE cart_id = :c_cart;
INSERT INTO stripe_webhook.cart_items VALUES (:c_cart, 103, 2);
SELECT stripe_webhook.reserve_cart(:c_cart, 'cs_test_hold_c', now() + interval '1 hour') IS NOT NULL AS c_held \gset
SELECT is(pg_temp.stock(103), 0, 'C: the last two Stickers are held');
UPDATE stripe_webhook.cart_items SET quantity = 3 WHERE cart_id = :c_cart;
SELECT pg_temp.ev('completed', pg_temp.s(:'paid'::jsonb, 'cs_test_hold_c', '61', :c_cart, 1500))->>'order_id' AS c_order \gset
SELECT is(pg_temp.taken(:'c_order'), '103:3:2:1', 'C: two units from the hold, one short');
SELECT is(pg_temp.stock(103), 0, 'C: stock stays at zero');
SELECT is((SELECT status || ': ' || review_reason FROM stripe_webhook.orders WHERE id = :'c_order'::uuid),
          'needs_review: stock short: product 103 short by 1 of 3', 'C: the order needs review for the shortfall');
UPDATE stripe_webhook.products SET stock = 2 WHERE id = 103;
UPDATE sw_initial_stock SET stock = 4 WHERE product_id = 103;

-- D. short stock: refused, naming the products; nothing held
SELECT pg_temp.new_cart('62') AS d_cart \gset
INSERT INTO stripe_webhook.cart_items VALUES (:d_cart, 103, 5);
UPDATE stripe_webhook.cart_items SET quantity = 99 WHERE cart_id = :d_cart AND product_id = 102;
SELECT pg_temp.every_table() AS d_tables \gset
SELECT throws_ok(format($$SELECT stripe_webhook.reserve_cart(%s, 'cs_test_hold_d', now() + interval '1 hour')$$, :d_cart),
                 'SW501', format('not enough stock to hold cart %s', :d_cart), 'D: short stock is SW501');
SELECT is(pg_temp.every_table(), :'d_tables'::jsonb, 'D: ... and nothing is held');
CREATE FUNCTION pg_temp.err(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE d text; h text; s text;
BEGIN
    EXECUTE q;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS s = RETURNED_SQLSTATE, d = PG_EXCEPTION_DETAIL, h = PG_EXCEPTION_HINT;
    RETURN s || ' | ' || d || ' | ' || h;
END
$$;
SELECT is(pg_temp.err(format($$SELECT stripe_webhook.reserve_cart(%s, 'cs_test_hold_d', now() + interval '1 hour')$$, :d_cart)),
          'SW501 | product 102: 99 wanted, 47 available; product 103: 5 wanted, 2 available. | '
          'Show the customer what is available and let them change the cart before checkout; nothing was held.',
          'D: the detail names each short product and what is available');

-- E. a second session for the same cart replaces the first; both complete
SELECT pg_temp.new_cart('63') AS e_cart \gset
SELECT stripe_webhook.reserve_cart(:e_cart, 'cs_test_hold_e1', now() + interval '1 hour') IS NOT NULL AS e1 \gset
SELECT pg_temp.stock(101) || '/' || pg_temp.stock(102) AS e_held_stock \gset
SELECT is((stripe_webhook.reserve_cart(:e_cart, 'cs_test_hold_e2', now() + interval '1 hour'))->'replaced',
          '["cs_test_hold_e1"]'::jsonb, 'E: a second session for the cart replaces the first hold');
SELECT is(pg_temp.stock(101) || '/' || pg_temp.stock(102), :'e_held_stock', 'E: ... the stock is held once');
SELECT is(pg_temp.holds('cs_test_hold_e1'), '101x2:released:2:replaced,102x1:released:1:replaced',
          'E: the first hold is released as replaced');
SELECT throws_ok(format($$SELECT stripe_webhook.reserve_cart(%s, 'cs_test_hold_e1', now() + interval '1 hour')$$, :e_cart),
                 'SW503', 'checkout session''s hold is already settled', 'E: the replaced session cannot hold again');
-- the customer pays in the old tab anyway: stock taken as without a hold
SELECT pg_temp.ev('completed', pg_temp.sess(:'paid'::jsonb, 'cs_test_hold_e1', '63', :e_cart))->>'order_id' AS e1_order \gset
SELECT is(pg_temp.taken(:'e1_order'), '101:2:2:0,102:1:1:0', 'E: the old session''s order takes from stock');
SELECT is(pg_temp.stock(101) || '/' || pg_temp.stock(102),
          (split_part(:'e_held_stock', '/', 1)::int - 2) || '/' || (split_part(:'e_held_stock', '/', 2)::int - 1),
          'E: ... while the new session still holds its units');
SELECT pg_temp.ev('completed', pg_temp.sess(:'paid'::jsonb, 'cs_test_hold_e2', '63', :e_cart))->>'order_id' AS e2_order \gset
SELECT is((SELECT status FROM stripe_webhook.orders WHERE id = :'e2_order'::uuid), 'needs_review',
          'E: the second payment for the cart needs review');
SELECT is(pg_temp.taken(:'e2_order'), '101:2:0:0,102:1:0:0', 'E: ... takes no stock');
SELECT is(pg_temp.holds('cs_test_hold_e2'), '101x2:released:2:not_ordered,102x1:released:1:not_ordered',
          'E: ... and its hold goes back');
SELECT is(pg_temp.stock(101) || '/' || pg_temp.stock(102),
          (split_part(:'e_held_stock', '/', 1)::int) || '/' || (split_part(:'e_held_stock', '/', 2)::int),
          'E: no unit lost or doubled');
-- a replacement may use the units the replaced hold had
SELECT pg_temp.new_cart('64') AS e_cart2 \gset
DELETE FROM stripe_webhook.cart_items WHERE cart_id = :e_cart2;
INSERT INTO stripe_webhook.cart_items VALUES (:e_cart2, 103, 2);
SELECT stripe_webhook.reserve_cart(:e_cart2, 'cs_test_hold_e3', now() + interval '1 hour') IS NOT NULL AS e3 \gset
SELECT is(pg_temp.stock(103), 0, 'E: the last two Stickers are held');
SELECT is((stripe_webhook.reserve_cart(:e_cart2, 'cs_test_hold_e4', now() + interval '1 hour'))->'lines',
          '[{"product_id": "103", "quantity": 2}]'::jsonb, 'E: a new session for that cart may hold them again');
SELECT is(pg_temp.stock(103), 0, 'E: ... still held once');

-- F. released by expired, by async_payment_failed, by release_hold
SELECT pg_temp.new_cart('65') AS f_cart \gset
SELECT pg_temp.stock(101) || '/' || pg_temp.stock(102) AS f_stock \gset
SELECT stripe_webhook.reserve_cart(:f_cart, 'cs_test_hold_f1', now() + interval '1 hour') IS NOT NULL AS f1 \gset
SELECT is(pg_temp.ev('expired', pg_temp.sess(:'expired'::jsonb, 'cs_test_hold_f1', '65', :f_cart))->>'message',
          'expiry recorded', 'F: expired is recorded');
SELECT is(pg_temp.holds('cs_test_hold_f1'), '101x2:released:2:expired,102x1:released:1:expired',
          'F: ... and releases the hold');
SELECT is(pg_temp.stock(101) || '/' || pg_temp.stock(102), :'f_stock', 'F: ... the stock is back');
SELECT pg_temp.every_table() AS f_tables \gset
SELECT is(pg_temp.ev('expired', pg_temp.sess(:'expired'::jsonb, 'cs_test_hold_f1', '65', :f_cart))->>'message',
          'expiry recorded', 'F: a repeated expired');
SELECT is(pg_temp.stock(101) || '/' || pg_temp.stock(102), :'f_stock', 'F: ... returns nothing twice');
SELECT pg_temp.ev('completed', pg_temp.sess(:'paid'::jsonb, 'cs_test_hold_f1', '65', :f_cart))->>'order_id' AS f1_order \gset
SELECT is(pg_temp.taken(:'f1_order') || ' ' || pg_temp.order_status(:'f1_order'), '101:2:0:0,102:1:0:0 needs_review',
          'F: a completed after expiry: needs review, no stock (as without a hold)');
SELECT pg_temp.new_cart('66') AS f_cart2 \gset
SELECT stripe_webhook.reserve_cart(:f_cart2, 'cs_test_hold_f2', now() + interval '1 hour') IS NOT NULL AS f2 \gset
SELECT is(pg_temp.ev('async_payment_failed', pg_temp.sess(:'unpaid'::jsonb, 'cs_test_hold_f2', '66', :f_cart2))->>'message',
          'payment failure recorded', 'F: async_payment_failed without an order is recorded');
SELECT is(pg_temp.holds('cs_test_hold_f2'), '101x2:released:2:payment_failed,102x1:released:1:payment_failed',
          'F: ... and releases the hold');
SELECT is(pg_temp.stock(101) || '/' || pg_temp.stock(102), :'f_stock', 'F: ... the stock is back');
SELECT pg_temp.new_cart('67') AS f_cart3 \gset
SELECT stripe_webhook.reserve_cart(:f_cart3, 'cs_test_hold_f3', now() + interval '1 hour') IS NOT NULL AS f3 \gset
SELECT is(stripe_webhook.release_hold('cs_test_hold_f3'), true, 'F: release_hold releases');
SELECT is(pg_temp.holds('cs_test_hold_f3'), '101x2:released:2:released,102x1:released:1:released', 'F: ... as released');
SELECT is(pg_temp.stock(101) || '/' || pg_temp.stock(102), :'f_stock', 'F: ... the stock is back');
SELECT pg_temp.every_table() AS f3_tables \gset
SELECT is(stripe_webhook.release_hold('cs_test_hold_f3'), false, 'F: releasing again: false');
SELECT is(stripe_webhook.release_hold('cs_test_hold_nothing'), false, 'F: an unknown session: false');
SELECT is(stripe_webhook.release_hold('cs_test_hold_a'), false, 'F: an ordered hold is not released');
SELECT is(pg_temp.every_table(), :'f3_tables'::jsonb, 'F: ... none of them writes anything');
-- a completed after release_hold gets its order, taking stock as today
SELECT pg_temp.ev('completed', pg_temp.sess(:'paid'::jsonb, 'cs_test_hold_f3', '67', :f_cart3))->>'order_id' AS f3_order \gset
SELECT is(pg_temp.taken(:'f3_order') || ' ' || pg_temp.order_status(:'f3_order'), '101:2:2:0,102:1:1:0 confirmed',
          'F: a completed after release_hold takes stock as without a hold');
SELECT is(pg_temp.stock(101) || '/' || pg_temp.stock(102),
          (split_part(:'f_stock', '/', 1)::int - 2) || '/' || (split_part(:'f_stock', '/', 2)::int - 1),
          'F: ... once');

-- F2. a delayed payment: the pending order takes the hold; expired cancels it and gives back exactly that
SELECT pg_temp.new_cart('74') AS k_cart \gset
SELECT pg_temp.stock(101) || '/' || pg_temp.stock(102) AS k_stock \gset
SELECT stripe_webhook.reserve_cart(:k_cart, 'cs_test_hold_k', now() + interval '1 hour') IS NOT NULL AS k \gset
SELECT pg_temp.ev('completed', pg_temp.sess(:'unpaid'::jsonb, 'cs_test_hold_k', '74', :k_cart))->>'order_id' AS k_order \gset
SELECT is(pg_temp.taken(:'k_order') || ' ' || pg_temp.order_status(:'k_order') || ' ' || pg_temp.holds('cs_test_hold_k'),
          '101:2:2:0,102:1:1:0 pending 101x2:ordered:0:-,102x1:ordered:0:-',
          'F2: completed/unpaid: the pending order takes the hold');
SELECT is(pg_temp.ev('expired', pg_temp.sess(:'expired'::jsonb, 'cs_test_hold_k', '74', :k_cart))->>'message',
          'order cancelled', 'F2: expired cancels the unpaid order');
SELECT is(pg_temp.stock(101) || '/' || pg_temp.stock(102) || ' ' || pg_temp.holds('cs_test_hold_k'),
          :'k_stock' || ' 101x2:ordered:0:-,102x1:ordered:0:-',
          'F2: ... its units go back once (the hold stays settled as ordered)');
-- async_payment_succeeded before completed: fulfils as paid, from the hold
SELECT pg_temp.new_cart('75') AS m_cart \gset
SELECT stripe_webhook.reserve_cart(:m_cart, 'cs_test_hold_m', now() + interval '1 hour') IS NOT NULL AS m \gset
SELECT pg_temp.stock(101) || '/' || pg_temp.stock(102) AS m_stock \gset
SELECT pg_temp.ev('async_payment_succeeded', pg_temp.sess(:'unpaid'::jsonb, 'cs_test_hold_m', '75', :m_cart))->>'order_id' AS m_order \gset
SELECT is(pg_temp.taken(:'m_order') || ' ' || pg_temp.order_status(:'m_order') || ' ' || pg_temp.holds('cs_test_hold_m'),
          '101:2:2:0,102:1:1:0 confirmed 101x2:ordered:0:-,102x1:ordered:0:-',
          'F2: async_payment_succeeded without an order fulfils from the hold');
SELECT is(pg_temp.stock(101) || '/' || pg_temp.stock(102), :'m_stock', 'F2: ... taking nothing more from stock');

-- G. release_expired_holds
SELECT pg_temp.new_cart('68') AS g_cart1 \gset
SELECT pg_temp.new_cart('69') AS g_cart2 \gset
SELECT pg_temp.stock(101) || '/' || pg_temp.stock(102) AS g_stock \gset
SELECT stripe_webhook.reserve_cart(:g_cart1, 'cs_test_hold_g1', now() + interval '1 hour') IS NOT NULL AS g1 \gset
SELECT is(((stripe_webhook.reserve_cart(:g_cart2, 'cs_test_hold_g2', now() + interval '24 hours'))->>'expires_at')::timestamptz,
          now() + interval '24 hours', 'G: exactly 24 hours ahead is accepted');
UPDATE stripe_webhook.holds SET expires_at = now() - interval '1 second' WHERE checkout_session_id = 'cs_test_hold_g1';
SELECT is(stripe_webhook.release_expired_holds(), 1, 'G: release_expired_holds releases the one past expires_at');
SELECT is(pg_temp.holds('cs_test_hold_g1'), '101x2:released:2:lapsed,102x1:released:1:lapsed', 'G: ... as lapsed');
SELECT is(pg_temp.holds('cs_test_hold_g2'), '101x2:held:0:-,102x1:held:0:-', 'G: the other one is still held');
SELECT is(pg_temp.stock(101) || '/' || pg_temp.stock(102),
          (split_part(:'g_stock', '/', 1)::int - 2) || '/' || (split_part(:'g_stock', '/', 2)::int - 1),
          'G: only the lapsed units are back');
SELECT is(stripe_webhook.release_expired_holds(), 0, 'G: a second call releases nothing');
SELECT pg_temp.ev('completed', pg_temp.sess(:'paid'::jsonb, 'cs_test_hold_g1', '68', :g_cart1))->>'order_id' AS g1_order \gset
SELECT is(pg_temp.taken(:'g1_order') || ' ' || pg_temp.order_status(:'g1_order'), '101:2:2:0,102:1:1:0 confirmed',
          'G: a completed after its hold lapsed takes stock as without a hold');
SELECT is(stripe_webhook.release_hold('cs_test_hold_g2'), true, 'G: the other hold is released by hand');
SELECT is_empty('SELECT * FROM pg_temp.invariant_violations()', 'every shop invariant holds (stock = initial - orders - holds)');

-- H. bad input: a clear error, nothing written
SELECT pg_temp.new_cart('70') AS h_cart \gset
SELECT pg_temp.new_cart('71') AS h_cart2 \gset
SELECT stripe_webhook.reserve_cart(:h_cart2, 'cs_test_hold_h2', now() + interval '1 hour') IS NOT NULL AS h2 \gset
INSERT INTO stripe_webhook.carts (id, user_id) VALUES (7000, '72');
SELECT pg_temp.new_cart('73') AS h_cart3 \gset
SELECT pg_temp.ev('completed', pg_temp.sess(:'paid'::jsonb, 'cs_test_hold_h3', '73', :h_cart3))->>'order_id' AS h3_order \gset
SELECT pg_temp.new_cart('79') AS h_cart4 \gset
SELECT pg_temp.ev('expired', pg_temp.sess(:'expired'::jsonb, 'cs_test_hold_h4', '79', :h_cart4))->>'message' AS h4 \gset
SELECT pg_temp.every_table() AS h_tables \gset
SELECT throws_ok($$SELECT stripe_webhook.reserve_cart(NULL::bigint, 'cs_test_h', now() + interval '1 hour')$$,
                 '22004', 'cart_id must not be null', 'H: NULL cart');
SELECT throws_ok(format($$SELECT stripe_webhook.reserve_cart(%s, NULL, now() + interval '1 hour')$$, :h_cart),
                 '22004', 'checkout_session_id must not be null', 'H: NULL session');
SELECT throws_ok(format($$SELECT stripe_webhook.reserve_cart(%s, 'cs_test_h', NULL)$$, :h_cart),
                 '22004', 'expires_at must not be null', 'H: NULL expires_at');
SELECT throws_ok(format($$SELECT stripe_webhook.reserve_cart(%s, 'pi_123', now() + interval '1 hour')$$, :h_cart),
                 '22023', 'checkout_session_id is not a Checkout Session id', 'H: not a session id');
SELECT throws_ok(format($$SELECT stripe_webhook.reserve_cart(%s, 'cs_ test', now() + interval '1 hour')$$, :h_cart),
                 '22023', 'checkout_session_id is not a Checkout Session id', 'H: a session id with a space');
SELECT throws_ok(format($$SELECT stripe_webhook.reserve_cart(%s, 'cs_test_h', now() + interval '24 minutes 59 seconds')$$, :h_cart),
                 'SW502', 'expires_at must be 30 minutes to 24 hours after the checkout session was created', 'H: expires_at too soon');
SELECT throws_ok(format($$SELECT stripe_webhook.reserve_cart(%s, 'cs_test_h', now() + interval '24 hours 1 second')$$, :h_cart),
                 'SW502', 'expires_at must be 30 minutes to 24 hours after the checkout session was created', 'H: expires_at too late');
SELECT throws_ok(format($$SELECT stripe_webhook.reserve_cart(%s, 'cs_test_h', 'infinity')$$, :h_cart),
                 'SW502', 'expires_at must be 30 minutes to 24 hours after the checkout session was created', 'H: expires_at infinity');
SELECT throws_ok(format($$SELECT stripe_webhook.reserve_cart(%s, 'cs_test_h', now() - interval '1 hour')$$, :h_cart),
                 'SW502', 'expires_at must be 30 minutes to 24 hours after the checkout session was created', 'H: expires_at in the past');
SELECT throws_ok($$SELECT stripe_webhook.reserve_cart(999999, 'cs_test_h', now() + interval '1 hour')$$,
                 'SW204', 'cart does not exist', 'H: no such cart');
SELECT throws_ok($$SELECT stripe_webhook.reserve_cart('-3', 'cs_test_h', now() + interval '1 hour')$$,
                 '22023', 'cart_id is not a valid cart id', 'H: a cart id that is not an id');
SELECT throws_ok($$SELECT stripe_webhook.reserve_cart(7000, 'cs_test_h', now() + interval '1 hour')$$,
                 'SW206', 'cart has no items', 'H: an empty cart');
SELECT throws_ok($$SELECT stripe_webhook.reserve_cart(1337, 'cs_test_h', now() + interval '1 hour')$$,
                 'SW503', 'cart is checked out', 'H: a checked-out cart');
SELECT throws_ok(format($$SELECT stripe_webhook.reserve_cart(%s, 'cs_test_hold_h2', now() + interval '1 hour')$$, :h_cart),
                 'SW503', 'checkout session already holds another cart', 'H: a session holding another cart');
SELECT throws_ok(format($$SELECT stripe_webhook.reserve_cart(%s, 'cs_test_hold_f1', now() + interval '1 hour')$$, :h_cart),
                 'SW503', 'checkout session''s hold is already settled', 'H: a session whose hold was released');
SELECT throws_ok(format($$SELECT stripe_webhook.reserve_cart(%s, 'cs_test_hold_h3', now() + interval '1 hour')$$, :h_cart),
                 'SW503', 'checkout session is already processed', 'H: a session that has an order');
SELECT is(pg_temp.err(format($$SELECT stripe_webhook.reserve_cart(%s, 'cs_test_hold_h4', now() + interval '1 hour')$$, :h_cart4)),
          'SW503 | Checkout session "cs_test_hold_h4" was recorded as expired. | '
          'Create a new Checkout Session to check out again. Nothing was held.',
          'H: a session recorded as expired, without an order');
SELECT throws_ok($$SELECT stripe_webhook.release_hold(NULL)$$, '22004', 'checkout_session_id must not be null',
                 'H: release_hold(NULL)');
SELECT throws_ok($$SELECT stripe_webhook.release_hold('')$$, '22023', 'checkout_session_id is not a Checkout Session id',
                 'H: release_hold('''')');
SELECT is(pg_temp.every_table(), :'h_tables'::jsonb, 'H: none of the refused calls wrote anything');

-- I. privileges: the web app needs EXECUTE only; release_expired_holds is the owner's
SELECT is((SELECT string_agg(p.oid::regprocedure::text || ' ' || p.prosecdef || ' ' || COALESCE(array_to_string(p.proconfig, ','), '-'), '; '
                             ORDER BY p.oid::regprocedure::text)
             FROM pg_proc p WHERE p.pronamespace = 'stripe_webhook'::regnamespace
              AND p.proname IN ('reserve_cart', 'release_hold', 'release_expired_holds')),
          'stripe_webhook.release_expired_holds() false -; stripe_webhook.release_hold(text) true search_path=""; '
          'stripe_webhook.reserve_cart(bigint,text,timestamp with time zone) true search_path=""; '
          'stripe_webhook.reserve_cart(text,text,timestamp with time zone) true search_path=""',
          'I: reserve_cart and release_hold are SECURITY DEFINER with an empty search_path');
CREATE ROLE sw_hold_webapp;
GRANT USAGE ON SCHEMA stripe_webhook TO sw_hold_webapp;
SELECT ok(NOT has_function_privilege('sw_hold_webapp', 'stripe_webhook.reserve_cart(bigint,text,timestamptz)', 'EXECUTE')
          AND NOT has_function_privilege('sw_hold_webapp', 'stripe_webhook.release_expired_holds()', 'EXECUTE'),
          'I: nothing is granted to PUBLIC');
GRANT EXECUTE ON FUNCTION stripe_webhook.reserve_cart(bigint, text, timestamptz),
                          stripe_webhook.release_hold(text) TO sw_hold_webapp;
SET LOCAL ROLE sw_hold_webapp;
SELECT is((stripe_webhook.reserve_cart(:h_cart, 'cs_test_hold_i', now() + interval '1 hour'))->>'created', 'true',
          'I: a role with EXECUTE only holds a cart');
SELECT is(stripe_webhook.release_hold('cs_test_hold_i'), true, 'I: ... and releases it');
SELECT throws_ok($$SELECT stripe_webhook.release_expired_holds()$$, '42501', NULL,
                 'I: release_expired_holds is not the web app''s');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
