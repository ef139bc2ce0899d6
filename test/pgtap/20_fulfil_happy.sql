-- stripe_fulfill_session on well-formed sessions: the paid fixture, the
-- legacy (pre-basil) shipping shape, the customer_details fallback,
-- no_payment_required, unpaid (delayed payment) and Adaptive Pricing.
BEGIN;
SELECT plan(46);
\ir ../lib/fulfil_setup.sql

-- 1. the paid fixture (current API shape)
SELECT stripe_webhook.stripe_fulfill_session(:'paid'::jsonb) AS paid_order \gset
SELECT is(:'paid_order'::uuid,
          (SELECT id FROM stripe_webhook.orders
            WHERE checkout_session_id = 'cs_test_a1YS1URlnyQCN5fUUduORoQ7Pw41PJqDWkIVQCpJPqkfIhd6tVY8XB1OLY'),
          'paid: returns the id of the order it created');
SELECT CASE WHEN pg_temp.holds('payment_intent', 'amount_total', 'customer_email') THEN results_eq(
    format($$SELECT user_id, cart_id, payment_intent_id, status, payment_status, currency, amount_subtotal,
                    amount_total, customer_email, review_reason
               FROM stripe_webhook.orders WHERE id = %L$$, :'paid_order'),
    $$VALUES ('42', 1337::bigint, 'pi_1PgafyB7WZ01zgkWSjxsAJo3', 'confirmed', 'paid', 'usd', 5500::bigint,
              6000::bigint, 'jenny.rosen@example.com', NULL::text)$$,
    'paid: order is confirmed/paid with the session''s amounts, currency, email and payment intent')
       ELSE skip('the bound shop keeps no payment_intent, amount_total, customer_email', 1) END;
SELECT CASE WHEN pg_temp.holds('shipping_name') THEN results_eq(
    format($$SELECT shipping_name, shipping_line1, shipping_line2, shipping_city, shipping_state,
                    shipping_postal_code, shipping_country
               FROM stripe_webhook.orders WHERE id = %L$$, :'paid_order'),
    $$VALUES ('Jenny Rosen', '510 Townsend St', 'Apt 4', 'San Francisco', 'CA', '94103', 'US')$$,
    'paid: shipping comes from collected_information.shipping_details')
       ELSE skip('the bound shop keeps no shipping_name', 1) END;
SELECT results_eq(
    format($$SELECT product_id, quantity, unit_amount, shortfall, stock_taken
               FROM stripe_webhook.order_items WHERE order_id = %L ORDER BY product_id$$, :'paid_order'),
    $$VALUES (101::bigint, 2, 1500::bigint, 0, 2), (102::bigint, 1, 2500::bigint, 0, 1)$$,
    'paid: every cart line is an order item at the product''s current price');
SELECT results_eq($$SELECT id, stock FROM stripe_webhook.products ORDER BY id$$,
                  $$VALUES (101::bigint, 98), (102::bigint, 49), (103::bigint, 2), (104::bigint, 5)$$,
                  'paid: stock is reduced by the ordered quantities');
SELECT results_eq($$SELECT locked, locked_at IS NOT NULL, checkout_session_id FROM stripe_webhook.carts WHERE id = 1337$$,
                  $$VALUES (true, true, 'cs_test_a1YS1URlnyQCN5fUUduORoQ7Pw41PJqDWkIVQCpJPqkfIhd6tVY8XB1OLY')$$,
                  'paid: the cart is locked, with locked_at and the session that locked it');
SELECT is((SELECT count(*)::int FROM stripe_webhook.carts WHERE user_id = '42' AND NOT locked), 1,
          'paid: the user has exactly one active cart');
SELECT is((SELECT count(*)::int FROM stripe_webhook.cart_items ci JOIN stripe_webhook.carts c ON c.id = ci.cart_id
            WHERE c.user_id = '42' AND NOT c.locked), 0, 'paid: the new active cart is empty');
SELECT results_eq($$SELECT product_id, quantity FROM stripe_webhook.cart_items WHERE cart_id = 1337 ORDER BY 1$$,
                  $$VALUES (101::bigint, 2), (102::bigint, 1)$$,
                  'paid: the locked cart keeps its lines');
SELECT ok((SELECT created_at <= now() AND updated_at = created_at FROM stripe_webhook.orders WHERE id = :'paid_order'),
          'paid: created_at and updated_at are set');

-- 2. legacy shape (API 2025-01-27.acacia): top-level shipping_details, no collected_information
SELECT stripe_webhook.stripe_fulfill_session(
           pg_temp.sess((:'ev_legacy'::jsonb)->'data'->'object', 'cs_test_legacy_1', '43', 1338)) AS legacy_order \gset
SELECT CASE WHEN pg_temp.holds('shipping_name') THEN results_eq(
    format($$SELECT status, payment_status, shipping_name, shipping_line1, shipping_city, shipping_country
               FROM stripe_webhook.orders WHERE id = %L$$, :'legacy_order'),
    $$VALUES ('confirmed', 'paid', 'Jenny Rosen', '510 Townsend St', 'San Francisco', 'US')$$,
    'legacy: shipping comes from the top-level shipping_details')
       ELSE skip('the bound shop keeps no shipping_name', 1) END;
SELECT is((SELECT count(*)::int FROM stripe_webhook.order_items WHERE order_id = :'legacy_order'), 2,
          'legacy: both lines are ordered');

-- 3. no shipping details at all: fall back to customer_details.address (and its name)
SELECT stripe_webhook.stripe_fulfill_session(
           pg_temp.sess(
               jsonb_set(jsonb_set(:'paid'::jsonb, '{collected_information,shipping_details}', 'null'),
                         '{customer_details,address}',
                         '{"line1": "1 Billing Rd", "line2": null, "city": "Austin", "state": "TX",
                           "postal_code": "73301", "country": "US"}'),
               'cs_test_fallback_1', '44', 1339)) AS fallback_order \gset
SELECT CASE WHEN pg_temp.holds('shipping_name') THEN results_eq(
    format($$SELECT shipping_name, shipping_line1, shipping_line2, shipping_city, shipping_state,
                    shipping_postal_code, shipping_country
               FROM stripe_webhook.orders WHERE id = %L$$, :'fallback_order'),
    $$VALUES ('Jenny Rosen', '1 Billing Rd', NULL::text, 'Austin', 'TX', '73301', 'US')$$,
    'fallback: shipping comes from customer_details.address when no shipping details exist')
       ELSE skip('the bound shop keeps no shipping_name', 1) END;

-- 3b. collected_information absent and shipping_details null: still the fallback
SELECT pg_temp.new_cart('45') AS c45 \gset
SELECT stripe_webhook.stripe_fulfill_session(
           pg_temp.sess((:'paid'::jsonb) - 'collected_information' || '{"shipping_details": null}',
                        'cs_test_fallback_2', '45', :c45)) AS fallback2 \gset
SELECT CASE WHEN pg_temp.holds('shipping_line1') THEN is((SELECT shipping_line1 FROM stripe_webhook.orders WHERE id = :'fallback2'), '510 Townsend St',
          'fallback: with collected_information absent and shipping_details null, customer_details.address is used')
       ELSE skip('the bound shop keeps no shipping_line1', 1) END;

-- 3c. no address anywhere: the order has no shipping address, but exists
SELECT pg_temp.new_cart('46') AS c46 \gset
SELECT stripe_webhook.stripe_fulfill_session(
           pg_temp.sess(jsonb_set(jsonb_set(:'paid'::jsonb, '{collected_information}', 'null'),
                                  '{customer_details}', '{"email": "a@example.com", "address": null}'),
                        'cs_test_noaddr', '46', :c46)) AS noaddr \gset
SELECT CASE WHEN pg_temp.holds('customer_email', 'shipping_name') THEN results_eq(
    format($$SELECT status, customer_email, shipping_name, shipping_line1, shipping_country
               FROM stripe_webhook.orders WHERE id = %L$$, :'noaddr'),
    $$VALUES ('confirmed', 'a@example.com', NULL::text, NULL::text, NULL::text)$$,
    'no address: the order is created with empty shipping fields')
       ELSE skip('the bound shop keeps no customer_email, shipping_name', 1) END;

-- 3d. email falls back to the top-level customer_email
SELECT pg_temp.new_cart('47') AS c47 \gset
SELECT stripe_webhook.stripe_fulfill_session(
           pg_temp.sess(jsonb_set(jsonb_set(:'paid'::jsonb, '{customer_details,email}', 'null'),
                                  '{customer_email}', '"top@example.com"'),
                        'cs_test_email', '47', :c47)) AS email_order \gset
SELECT CASE WHEN pg_temp.holds('customer_email') THEN is((SELECT customer_email FROM stripe_webhook.orders WHERE id = :'email_order'), 'top@example.com',
          'email: customer_email is used when customer_details.email is null')
       ELSE skip('the bound shop keeps no customer_email', 1) END;

-- 4. no_payment_required (e.g. a 100% discount): confirmed and paid
SELECT pg_temp.new_cart('48') AS c48 \gset
SELECT stripe_webhook.stripe_fulfill_session(
           pg_temp.sess(jsonb_set(jsonb_set(jsonb_set(:'paid'::jsonb, '{payment_status}', '"no_payment_required"'),
                                            '{amount_total}', '0'), '{payment_intent}', 'null'),
                        'cs_test_free', '48', :c48)) AS free_order \gset
SELECT CASE WHEN pg_temp.holds('amount_total', 'payment_intent') THEN results_eq(
    format($$SELECT status, payment_status, amount_subtotal, amount_total, payment_intent_id
               FROM stripe_webhook.orders WHERE id = %L$$, :'free_order'),
    $$VALUES ('confirmed', 'paid', 5500::bigint, 0::bigint, NULL::text)$$,
    'no_payment_required: order is confirmed/paid, total 0, no payment intent')
       ELSE skip('the bound shop keeps no amount_total, payment_intent', 1) END;
SELECT is((SELECT sum(stock_taken)::int FROM stripe_webhook.order_items WHERE order_id = :'free_order'), 3,
          'no_payment_required: stock is taken');

-- 5. unpaid (delayed payment method): pending/unpaid, holds stock, cart locked and replaced
SELECT stock AS mug_before FROM stripe_webhook.products WHERE id = 101 \gset
SELECT pg_temp.new_cart('49') AS c49 \gset
SELECT stripe_webhook.stripe_fulfill_session(pg_temp.sess(:'unpaid'::jsonb, 'cs_test_unpaid_1', '49', :c49)) AS unpaid_order \gset
SELECT CASE WHEN pg_temp.holds('payment_intent') THEN results_eq(
    format($$SELECT status, payment_status, payment_intent_id, review_reason
               FROM stripe_webhook.orders WHERE id = %L$$, :'unpaid_order'),
    $$VALUES ('pending', 'unpaid', 'pi_1SyntheticAsyncBank00001', NULL::text)$$,
    'unpaid: order is pending/unpaid')
       ELSE skip('the bound shop keeps no payment_intent', 1) END;
SELECT is((SELECT stock FROM stripe_webhook.products WHERE id = 101), :mug_before - 2,
          'unpaid: the order holds its stock');
SELECT is((SELECT sum(stock_taken)::int FROM stripe_webhook.order_items WHERE order_id = :'unpaid_order'), 3,
          'unpaid: order items record the stock they hold');
SELECT ok((SELECT locked FROM stripe_webhook.carts WHERE id = :c49), 'unpaid: the cart is locked');
SELECT is((SELECT count(*)::int FROM stripe_webhook.carts WHERE user_id = '49' AND NOT locked), 1,
          'unpaid: the user has a new active cart');

-- 6. a cart the application locked itself (checkout started) while the user already has a new active cart
SELECT pg_temp.new_cart('50', true) AS c50_locked \gset
INSERT INTO stripe_webhook.carts (user_id) VALUES ('50') RETURNING id AS c50_active \gset
SELECT stripe_webhook.stripe_fulfill_session(pg_temp.sess(:'paid'::jsonb, 'cs_test_applocked', '50', :c50_locked)) AS applocked \gset
SELECT is((SELECT status FROM stripe_webhook.orders WHERE id = :'applocked'), 'confirmed',
          'app-locked cart: fulfilled normally');
SELECT results_eq(format($$SELECT id FROM stripe_webhook.carts WHERE user_id = '50' AND NOT locked$$),
                  format($$VALUES (%s::bigint)$$, :c50_active),
                  'app-locked cart: the existing active cart stays the only one');
SELECT is((SELECT checkout_session_id FROM stripe_webhook.carts WHERE id = :c50_locked), 'cs_test_applocked',
          'app-locked cart: records the session that fulfilled it');

-- 7. Adaptive Pricing: the session is in eur, currency_conversion carries the shop's usd amounts
SELECT pg_temp.new_cart('51') AS c51 \gset
SELECT stripe_webhook.stripe_fulfill_session(
           pg_temp.sess(jsonb_set(jsonb_set(jsonb_set(jsonb_set(:'paid'::jsonb,
                            '{currency}', '"eur"'), '{amount_subtotal}', '5060'), '{amount_total}', '5520'),
                            '{currency_conversion}',
                            '{"amount_subtotal": 5500, "amount_total": 6000, "fx_rate": "0.92", "source_currency": "usd"}'),
                        'cs_test_adaptive', '51', :c51)) AS adaptive \gset
SELECT CASE WHEN pg_temp.holds('amount_total') THEN results_eq(
    format($$SELECT status, currency, amount_subtotal, amount_total, review_reason
               FROM stripe_webhook.orders WHERE id = %L$$, :'adaptive'),
    $$VALUES ('confirmed', 'usd', 5500::bigint, 6000::bigint, NULL::text)$$,
    'adaptive pricing: compared and stored in the shop''s currency (currency_conversion)')
       ELSE skip('the bound shop keeps no amount_total', 1) END;

-- 8. upper-case currency in the session is accepted and stored lower-case
SELECT pg_temp.new_cart('52') AS c52 \gset
SELECT stripe_webhook.stripe_fulfill_session(
           pg_temp.sess(jsonb_set(:'paid'::jsonb, '{currency}', '"USD"'), 'cs_test_upper', '52', :c52)) AS upper_order \gset
SELECT results_eq(format($$SELECT status, currency FROM stripe_webhook.orders WHERE id = %L$$, :'upper_order'),
                  $$VALUES ('confirmed', 'usd')$$, 'currency: USD is stored as usd and matches');

-- 9. unit_amount is the price at fulfilment time, even if it changed since the cart was filled
SELECT pg_temp.new_cart('53') AS c53 \gset
UPDATE stripe_webhook.products SET price_amount = 1600 WHERE id = 101;
SELECT stripe_webhook.stripe_fulfill_session(
           pg_temp.sess(jsonb_set(:'paid'::jsonb, '{amount_subtotal}', '5700'), 'cs_test_newprice', '53', :c53)) AS newprice \gset
SELECT results_eq(format($$SELECT product_id, unit_amount FROM stripe_webhook.order_items
                            WHERE order_id = %L ORDER BY 1$$, :'newprice'),
                  $$VALUES (101::bigint, 1600::bigint), (102::bigint, 2500::bigint)$$,
                  'price: unit_amount is the product''s current price');
SELECT is((SELECT status FROM stripe_webhook.orders WHERE id = :'newprice'), 'confirmed',
          'price: a session subtotal matching the current prices passes');
UPDATE stripe_webhook.products SET price_amount = 1500 WHERE id = 101;

-- 10. metadata may carry other keys; user ids are opaque strings (where the
--     shop's user column is text: a bound shop may have integer user ids)
SELECT (SELECT document->'carts'->'types'->>'user' IN ('text', 'character varying')
          FROM stripe_webhook.shop_binding) AS text_users \gset
\if :text_users
SELECT pg_temp.new_cart('user@example.com') AS cmail \gset
SELECT stripe_webhook.stripe_fulfill_session(
           jsonb_set(pg_temp.sess(:'paid'::jsonb, 'cs_test_meta', 'user@example.com', :cmail),
                     '{metadata,note}', '"gift"')) AS meta_order \gset
SELECT is((SELECT user_id FROM stripe_webhook.orders WHERE id = :'meta_order'), 'user@example.com',
          'metadata: extra keys are ignored; user_id is kept as text');
\else
-- (the same with a decimal user id: the shop's user column is an integer)
SELECT pg_temp.new_cart('1010') AS cmail \gset
SELECT stripe_webhook.stripe_fulfill_session(
           jsonb_set(pg_temp.sess(:'paid'::jsonb, 'cs_test_meta', '1010', :cmail),
                     '{metadata,note}', '"gift"')) AS meta_order \gset
SELECT is((SELECT user_id FROM stripe_webhook.orders WHERE id = :'meta_order'), '1010',
          'metadata: extra keys are ignored; user_id is kept (an integer user id)');
\endif

-- 11. big carts: many lines in one order
INSERT INTO stripe_webhook.products (id, name, price_amount, stock)
SELECT 1000 + g, 'P' || g, g, 1000 FROM generate_series(1, 200) g;
INSERT INTO sw_initial_stock SELECT id, stock FROM stripe_webhook.products WHERE id > 1000;
INSERT INTO stripe_webhook.carts (user_id) VALUES ('54') RETURNING id AS c54 \gset
INSERT INTO stripe_webhook.cart_items SELECT :c54, 1000 + g, 3 FROM generate_series(200, 1, -1) g;
SELECT stripe_webhook.stripe_fulfill_session(
           pg_temp.sess(jsonb_set(:'paid'::jsonb, '{amount_subtotal}', to_jsonb(3 * 200 * 201 / 2)),
                        'cs_test_big', '54', :c54)) AS big \gset
SELECT results_eq(format($$SELECT count(*)::int, sum(quantity)::int, sum(stock_taken)::int
                            FROM stripe_webhook.order_items WHERE order_id = %L$$, :'big'),
                  $$VALUES (200, 600, 600)$$, 'big cart: 200 lines ordered and taken');
SELECT is((SELECT status FROM stripe_webhook.orders WHERE id = :'big'), 'confirmed', 'big cart: confirmed');
SELECT is((SELECT sum(stock)::int FROM stripe_webhook.products WHERE id > 1000), 200 * 1000 - 600,
          'big cart: stock reduced on every product');

-- 12. stripe_apply_session_event('checkout.session.completed', ...) is the same path
SELECT pg_temp.new_cart('55') AS c55 \gset
SELECT stripe_webhook.stripe_apply_session_event('checkout.session.completed',
           pg_temp.sess(:'paid'::jsonb, 'cs_test_apply', '55', :c55)) AS applied \gset
SELECT is((:'applied'::jsonb)->>'message', 'order created', 'apply_session_event: message "order created"');
SELECT is(((:'applied'::jsonb)->>'order_id')::uuid,
          (SELECT id FROM stripe_webhook.orders WHERE checkout_session_id = 'cs_test_apply'),
          'apply_session_event: returns the order id');
SELECT is(stripe_webhook.stripe_apply_session_event('checkout.session.completed',
              pg_temp.sess(:'paid'::jsonb, 'cs_test_apply', '55', :c55))->>'message',
          'already processed', 'apply_session_event: a repeat says "already processed"');
SELECT throws_ok(format($$SELECT stripe_webhook.stripe_apply_session_event('checkout.session.updated', %L)$$,
                        :'paid'), '22023', NULL, 'apply_session_event: other event types are refused');

-- 13. log_level: every level from debug5 to log is accepted, nothing else
--     (the lines each level emits: test/e2e/20_fulfil_log.t)
SELECT is((SELECT pg_catalog.string_agg(pg_catalog.set_config('stripe_webhook.log_level', l, true), ',' ORDER BY n)
             FROM unnest(ARRAY['debug5', 'debug4', 'debug3', 'debug2', 'debug1', 'info', 'notice', 'warning', 'log'])
                  WITH ORDINALITY AS v(l, n)),
          'debug5,debug4,debug3,debug2,debug1,info,notice,warning,log',
          'log_level: debug5 .. debug1, info, notice, warning and log are accepted as themselves');
SELECT throws_ok($$SET stripe_webhook.log_level = 'error'$$, '22023', NULL,
                 'log_level: only debug5..log are accepted');
RESET stripe_webhook.log_level;

-- 14. over everything above: the shop's invariants (test/lib/invariants.sql,
--     stock compared with the stock before this file), and what only
--     clean orders satisfy
SELECT is_empty($$SELECT * FROM pg_temp.invariant_violations()$$,
                'shop invariants hold: stock = initial - taken, items as in the cart, one active cart per user, '
                'locked carts have their order, statuses consistent');
SELECT is((SELECT count(*)::int FROM stripe_webhook.orders), 15, 'fifteen orders were created above');
SELECT is((SELECT pg_catalog.count(*)::int FROM (SELECT DISTINCT user_id FROM stripe_webhook.orders) u
            WHERE (SELECT pg_catalog.count(*) FROM stripe_webhook.carts c WHERE c.user_id = u.user_id AND NOT c.locked) <> 1),
          0, 'every user with an order got exactly one new active cart');
SELECT is((SELECT count(*)::int FROM stripe_webhook.orders WHERE status = 'needs_review'), 0,
          'none of these orders needs review');
SELECT is((SELECT count(*)::int FROM stripe_webhook.checkout_sessions WHERE outcome IS NOT NULL), 0, 'no session was recorded as failed or expired');
SELECT is((SELECT pg_catalog.count(*)::int FROM stripe_webhook.orders o
            WHERE o.amount_subtotal <> (SELECT pg_catalog.sum(oi.quantity * oi.unit_amount) FROM stripe_webhook.order_items oi
                                         WHERE oi.order_id = o.id)
               OR EXISTS (SELECT FROM stripe_webhook.order_items oi
                           WHERE oi.order_id = o.id AND (oi.stock_taken <> oi.quantity OR oi.shortfall <> 0))),
          0, 'every order''s subtotal is the sum of its lines, and every line took its whole quantity');

SELECT * FROM finish();
ROLLBACK;
