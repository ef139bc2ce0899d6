-- Stock holds through a binding: the Django-shaped shop (bigint carts,
-- numeric money, a shortfall column and no stock_taken column) and the
-- minimal shop (text cart and product ids, quoted schema and table names:
-- the text overload of reserve_cart).  Every path and every refusal, with
-- nothing written on a refusal.
BEGIN;
SELECT plan(45);
SET LOCAL client_min_messages = error;

\ir ../lib/shops/django.sql
\set django_doc `cat test/lib/shops/django.json`
SELECT lives_ok(format($$SELECT stripe_webhook.bind_shop(%L::jsonb)$$, :'django_doc'), 'the Django-shaped shop binds');
INSERT INTO djshop.auth_user (id, username, email, is_active, date_joined) VALUES
    (7, 'ada', '', true, now()), (8, 'bob', '', true, now()), (9, 'cy', '', true, now());
INSERT INTO djshop.shop_product (id, name, price, stock_quantity, created_at) VALUES
    (30, 'cup', 12.50, 10, now()), (20, 'pot', 40.00, 3, now());
INSERT INTO djshop.shop_cart (id, user_id, is_locked, created_at) VALUES
    (70, 7, false, now()), (80, 8, false, now()), (90, 9, false, now());
INSERT INTO djshop.shop_cartitem (cart_id, product_id, quantity) VALUES
    (70, 30, 1), (70, 30, 1), (70, 20, 1), (80, 20, 2), (90, 30, 1);

CREATE FUNCTION pg_temp.sess(sid text, usr text, cart text, sub bigint, paid text DEFAULT 'paid')
RETURNS jsonb LANGUAGE sql AS $$
    SELECT jsonb_build_object('object', 'checkout.session', 'id', sid,
                              'metadata', jsonb_build_object('user_id', usr, 'cart_id', cart),
                              'payment_status', paid, 'currency', 'usd',
                              'amount_subtotal', sub, 'amount_total', sub)
$$;
CREATE FUNCTION pg_temp.ev(t text, s jsonb) RETURNS jsonb LANGUAGE sql AS $$
    SELECT stripe_webhook.stripe_apply_session_event('checkout.session.' || t, s)
$$;
CREATE FUNCTION pg_temp.stock() RETURNS text LANGUAGE sql AS $$
    SELECT string_agg(id || ':' || stock_quantity, ',' ORDER BY id) FROM djshop.shop_product
$$;
CREATE FUNCTION pg_temp.holds(sid text) RETURNS text LANGUAGE sql AS $$
    SELECT string_agg(product_id || 'x' || quantity || ':' || status || ':' || returned || ':' ||
                      COALESCE(release_reason, '-'), ',' ORDER BY product_id)
      FROM stripe_webhook.holds WHERE checkout_session_id = sid
$$;
-- every row of the shop's tables and the extension's, to show nothing was written
CREATE FUNCTION pg_temp.everything() RETURNS text LANGUAGE sql AS $$
    SELECT md5(concat_ws('|',
        (SELECT string_agg(x::text, ',' ORDER BY x.id) FROM djshop.shop_product x),
        (SELECT string_agg(x::text, ',' ORDER BY x.id) FROM djshop.shop_cart x),
        (SELECT string_agg(x::text, ',' ORDER BY x.id) FROM djshop.shop_cartitem x),
        (SELECT string_agg(x::text, ',' ORDER BY x.id) FROM djshop.shop_order x),
        (SELECT string_agg(x::text, ',' ORDER BY x.id) FROM djshop.shop_orderitem x),
        (SELECT string_agg(x::text, ',' ORDER BY x::text) FROM stripe_webhook.holds x),
        (SELECT string_agg(x::text, ',' ORDER BY x::text) FROM stripe_webhook.checkout_sessions x),
        (SELECT string_agg(x::text, ',' ORDER BY x::text) FROM stripe_webhook.order_lines x)))
$$;

-- a hold; lines summed per product, in product id order
SELECT stripe_webhook.reserve_cart(70, 'cs_test_dj_a', now() + interval '2 hours') AS a \gset
SELECT is((:'a'::jsonb) - 'expires_at',
          '{"checkout_session_id": "cs_test_dj_a", "cart_id": "70", "created": true,
            "lines": [{"product_id": "20", "quantity": 1}, {"product_id": "30", "quantity": 2}], "replaced": []}'::jsonb,
          'django: reserve_cart(bigint) holds the cart, lines summed per product in id order');
SELECT is(pg_temp.stock(), '20:2,30:8', 'django: stock_quantity shows what can still be sold');
SELECT is((SELECT string_agg(DISTINCT cart_table || ' ' || user_id || ' ' || product_table, ',')
             FROM stripe_webhook.holds WHERE checkout_session_id = 'cs_test_dj_a'),
          'djshop.shop_cart 7 djshop.shop_product', 'django: the hold names the bound tables and the user');
SELECT pg_temp.everything() AS a_all \gset
SELECT is((stripe_webhook.reserve_cart('70', 'cs_test_dj_a', now() + interval '2 hours'))->>'created', 'false',
          'django: the same session again (text overload) returns the hold');
SELECT is(pg_temp.everything(), :'a_all', 'django: ... and writes nothing');
-- the cart grows past the stock after the hold
INSERT INTO djshop.shop_cartitem (cart_id, product_id, quantity) VALUES (70, 20, 3);
SELECT pg_temp.ev('completed', pg_temp.sess('cs_test_dj_a', '7', '70', 4 * 4000 + 2 * 1250, 'unpaid'))->>'order_id' AS a_order \gset
SELECT results_eq(format($$SELECT product_id, quantity, quantity_short FROM djshop.shop_orderitem
                            WHERE order_id = %L ORDER BY product_id$$, :'a_order'),
                  $$VALUES (20::bigint, 4, 1), (30::bigint, 2, 0)$$,
                  'django: the order takes the hold first, then the stock; the shortfall is recorded');
SELECT is(pg_temp.stock(), '20:0,30:8', 'django: no unit taken twice, stock never below zero');
SELECT is((SELECT status::text FROM djshop.shop_order WHERE id = :'a_order'::uuid), 'on_hold',
          'django: the short order needs review (on_hold)');
SELECT is(pg_temp.holds('cs_test_dj_a'), '20x1:ordered:0:-,30x2:ordered:0:-', 'django: the hold became the order');
SELECT is((SELECT string_agg(product_id || ':' || stock_taken, ',' ORDER BY product_id) FROM stripe_webhook.order_lines
            WHERE order_id = :'a_order'), '20:3,30:2', 'django: order_lines.stock_taken is what the order holds');
-- cancelling it returns exactly that
SELECT is(pg_temp.ev('async_payment_failed', pg_temp.sess('cs_test_dj_a', '7', '70', 0, 'unpaid'))->>'message',
          'order cancelled', 'django: the delayed payment fails: the order is cancelled');
SELECT is(pg_temp.stock(), '20:3,30:10', 'django: ... and exactly what it held goes back');
SELECT is(pg_temp.holds('cs_test_dj_a'), '20x1:ordered:0:-,30x2:ordered:0:-', 'django: ... the hold stays settled');

-- short stock: nothing held
UPDATE djshop.shop_cartitem SET quantity = 4 WHERE cart_id = 80;
SELECT pg_temp.everything() AS b_all \gset
SELECT throws_ok($$SELECT stripe_webhook.reserve_cart(80, 'cs_test_dj_b', now() + interval '1 hour')$$,
                 'SW501', 'not enough stock to hold cart 80', 'django: short stock is SW501');
SELECT is(pg_temp.everything(), :'b_all', 'django: ... nothing held');
UPDATE djshop.shop_cartitem SET quantity = 2 WHERE cart_id = 80;

-- a second session replaces the first; expired releases; release_expired_holds
SELECT stripe_webhook.reserve_cart(80, 'cs_test_dj_b1', now() + interval '1 hour') IS NOT NULL AS b1 \gset
SELECT is(pg_temp.stock(), '20:1,30:10', 'django: cart 80 holds two pots');
SELECT is((stripe_webhook.reserve_cart(80, 'cs_test_dj_b2', now() + interval '1 hour'))->'replaced',
          '["cs_test_dj_b1"]'::jsonb, 'django: a second session replaces the first');
SELECT is(pg_temp.stock(), '20:1,30:10', 'django: ... the pots are held once');
SELECT is(pg_temp.ev('expired', pg_temp.sess('cs_test_dj_b2', '8', '80', 8000))->>'message', 'expiry recorded',
          'django: expired');
SELECT is(pg_temp.holds('cs_test_dj_b2'), '20x2:released:2:expired', 'django: ... releases the hold');
SELECT is(pg_temp.stock(), '20:3,30:10', 'django: ... the pots are back');
SELECT stripe_webhook.reserve_cart(90, 'cs_test_dj_c', now() + interval '1 hour') IS NOT NULL AS c \gset
UPDATE stripe_webhook.holds SET expires_at = now() - interval '1 minute' WHERE checkout_session_id = 'cs_test_dj_c';
SELECT is(stripe_webhook.release_expired_holds(), 1, 'django: release_expired_holds releases the lapsed hold');
SELECT is(pg_temp.stock() || ' ' || pg_temp.holds('cs_test_dj_c'), '20:3,30:10 30x1:released:1:lapsed',
          'django: ... its unit is back');
SELECT stripe_webhook.reserve_cart(90, 'cs_test_dj_d', now() + interval '1 hour') IS NOT NULL AS d \gset
SELECT is(stripe_webhook.release_hold('cs_test_dj_d'), true, 'django: release_hold');
SELECT is(pg_temp.stock(), '20:3,30:10', 'django: ... the unit is back');

-- refusals through the binding
INSERT INTO djshop.shop_cart (id, user_id, is_locked, created_at) VALUES (91, 9, true, now());
INSERT INTO djshop.shop_cartitem (cart_id, product_id, quantity) VALUES (91, 30, 1);
SELECT id AS ada_cart FROM djshop.shop_cart WHERE user_id = 7 AND NOT is_locked \gset
UPDATE djshop.shop_cartitem SET quantity = 1 WHERE cart_id = :ada_cart AND product_id = 20;
SELECT is((stripe_webhook.reserve_cart(:ada_cart, 'cs_test_dj_e', now() + interval '1 hour'))->'lines',
          '[{"product_id": "20", "quantity": 1}, {"product_id": "30", "quantity": 2}]'::jsonb,
          'django: the cancelled order''s items, back in the user''s active cart, can be held again');
SELECT pg_temp.everything() AS r_all \gset
SELECT throws_ok($$SELECT stripe_webhook.reserve_cart(9999, 'cs_test_dj_r', now() + interval '1 hour')$$,
                 'SW204', 'cart does not exist', 'django: no such cart');
SELECT throws_ok($$SELECT stripe_webhook.reserve_cart('x70', 'cs_test_dj_r', now() + interval '1 hour')$$,
                 '22023', 'cart_id is not a valid cart id', 'django: a cart id that is not a bigint');
SELECT throws_ok($$SELECT stripe_webhook.reserve_cart(91, 'cs_test_dj_r', now() + interval '1 hour')$$,
                 'SW503', 'cart is checked out', 'django: a locked cart');
SELECT throws_ok($$SELECT stripe_webhook.reserve_cart(70, 'cs_test_dj_r', now() + interval '1 hour')$$,
                 'SW503', 'cart is checked out', 'django: the cart its order locked');
SELECT throws_ok($$SELECT stripe_webhook.reserve_cart(90, 'cs_test_dj_a', now() + interval '1 hour')$$,
                 'SW503', 'checkout session''s hold is already settled', 'django: a session whose hold became an order');
SELECT throws_ok($$SELECT stripe_webhook.reserve_cart(90, 'cs_test_dj_r', now() + interval '10 minutes')$$,
                 'SW502', 'expires_at must be 30 minutes to 24 hours after the checkout session was created', 'django: expires_at too soon');
SELECT throws_ok($$SELECT stripe_webhook.reserve_cart(90, 'cs_test_dj_e', now() + interval '1 hour')$$,
                 'SW503', 'checkout session already holds another cart', 'django: a session used for another cart');
SELECT is(pg_temp.everything(), :'r_all', 'django: the refused calls wrote nothing');

-- the minimal shop: text cart and product ids, quoted names
SELECT lives_ok($$SELECT stripe_webhook.unbind_shop()$$, 'unbound');
\ir ../lib/shops/minimal.sql
\set minimal_doc `cat test/lib/shops/minimal.json`
SELECT lives_ok(format($$SELECT stripe_webhook.bind_shop(%L::jsonb)$$, :'minimal_doc'), 'the minimal shop binds');
INSERT INTO "Mini Shop".items VALUES ('B-2', 300, 4), ('a-1', 100, 5);
INSERT INTO "Mini Shop".baskets (basket_ref, customer) VALUES ('bk one', 'zoe'), ('bk two', 'yan');
INSERT INTO "Mini Shop".basket_lines VALUES ('bk one', 'a-1', 2), ('bk one', 'B-2', 1), ('bk one', 'a-1', 1),
                                            ('bk two', 'a-1', 3);
CREATE FUNCTION pg_temp.mstock() RETURNS text LANGUAGE sql AS $$
    SELECT string_agg(sku || ':' || on_hand, ',' ORDER BY sku) FROM "Mini Shop".items
$$;
SELECT throws_ok($$SELECT stripe_webhook.reserve_cart(1, 'cs_test_mini_a', now() + interval '1 hour')$$,
                 '42804', 'the shop''s cart ids are not integers', 'minimal: the bigint overload is refused for text carts');
SELECT is((stripe_webhook.reserve_cart('bk one', 'cs_test_mini_a', now() + interval '1 hour'))->'lines',
          '[{"product_id": "B-2", "quantity": 1}, {"product_id": "a-1", "quantity": 3}]'::jsonb,
          'minimal: reserve_cart(text) holds a basket with a text id');
SELECT is(pg_temp.mstock(), 'B-2:3,a-1:2', 'minimal: on_hand shows what can still be sold');
SELECT throws_ok($$SELECT stripe_webhook.reserve_cart('bk two', 'cs_test_mini_b', now() + interval '1 hour')$$,
                 'SW501', 'not enough stock to hold cart bk two', 'minimal: short stock is SW501');
SELECT is(pg_temp.mstock(), 'B-2:3,a-1:2', 'minimal: ... nothing held');
SELECT pg_temp.ev('completed', jsonb_build_object('object', 'checkout.session', 'id', 'cs_test_mini_a',
                  'metadata', jsonb_build_object('user_id', 'zoe', 'cart_id', 'bk one'),
                  'payment_status', 'paid', 'currency', 'eur', 'amount_subtotal', 600, 'amount_total', 600))
       ->>'order_id' AS m_order \gset
SELECT results_eq(format($$SELECT sku, qty FROM "Mini Shop".order_lines WHERE order_no = %s ORDER BY sku$$, :'m_order'),
                  $$VALUES ('B-2'::text, 1), ('a-1', 3)$$, 'minimal: the order is created');
SELECT is(pg_temp.mstock() || ' ' || pg_temp.holds('cs_test_mini_a'),
          'B-2:3,a-1:2 B-2x1:ordered:0:-,a-1x3:ordered:0:-', 'minimal: ... from the hold, once');
SELECT is((SELECT string_agg(product_id || ':' || stock_taken, ',' ORDER BY product_id) FROM stripe_webhook.order_lines
            WHERE order_table = '"Mini Shop"."Orders"' AND order_id = :'m_order'), 'B-2:1,a-1:3',
          'minimal: order_lines.stock_taken is what the order holds');

SELECT * FROM finish();
ROLLBACK;
