-- Idempotency per session, and every case where the money is kept but the
-- order needs review: duplicate payment for one cart, stock short, amount or
-- currency mismatch (also with Adaptive Pricing).
BEGIN;
SELECT plan(49);
\ir ../lib/fulfil_setup.sql

-- 1. idempotency: the same session again returns the same order and changes nothing
SELECT stripe_webhook.stripe_fulfill_session(:'paid'::jsonb) AS first \gset
SELECT pg_temp.shop_state() AS after_first \gset
SELECT is(stripe_webhook.stripe_fulfill_session(:'paid'::jsonb), :'first'::uuid,
          'idempotent: a repeat returns the same order id');
SELECT is(pg_temp.shop_state(), :'after_first', 'idempotent: a repeat changes nothing (orders, items, carts, stock)');
SELECT is(stripe_webhook.stripe_fulfill_session(jsonb_set(:'paid'::jsonb, '{payment_status}', '"unpaid"')),
          :'first'::uuid, 'idempotent: a late copy saying unpaid returns the same order');
SELECT is(pg_temp.shop_state(), :'after_first', 'idempotent: ... and never downgrades the paid order');
SELECT is(stripe_webhook.stripe_fulfill_session(jsonb_set(:'paid'::jsonb, '{amount_subtotal}', '1')),
          :'first'::uuid, 'idempotent: a repeat with other amounts returns the same order');
SELECT is(pg_temp.shop_state(), :'after_first', 'idempotent: ... and changes nothing');
-- the same session after the cart was emptied or deleted still returns its order
DELETE FROM stripe_webhook.cart_items WHERE cart_id = 1337;
SELECT is(stripe_webhook.stripe_fulfill_session(:'paid'::jsonb), :'first'::uuid,
          'idempotent: still the same order after the locked cart was emptied');
SELECT pg_temp.shop_state() AS after_empty \gset
UPDATE stripe_webhook.orders SET cart_id = NULL WHERE id = :'first';
DELETE FROM stripe_webhook.carts WHERE id = 1337;
SELECT pg_temp.shop_state() AS after_delete \gset
SELECT is(stripe_webhook.stripe_fulfill_session(:'paid'::jsonb), :'first'::uuid,
          'idempotent: still the same order after the cart was deleted');
SELECT is(pg_temp.shop_state(), :'after_delete', 'idempotent: ... changing nothing');

-- 2. duplicate payment: a second, different session for a cart already checked out
SELECT stripe_webhook.stripe_fulfill_session(pg_temp.sess(:'paid'::jsonb, 'cs_test_dup_a', '43', 1338)) AS dup_a \gset
SELECT pg_temp.shop_state() AS before_dup \gset
SELECT stripe_webhook.stripe_fulfill_session(
           jsonb_set(pg_temp.sess(:'paid'::jsonb, 'cs_test_dup_b', '43', 1338), '{payment_intent}', '"pi_second"')) AS dup_b \gset
SELECT isnt(:'dup_b'::uuid, :'dup_a'::uuid, 'duplicate payment: the second session gets its own order');
SELECT CASE WHEN pg_temp.holds('payment_intent', 'amount_total') THEN results_eq(
    format($$SELECT status, payment_status, payment_intent_id, amount_total FROM stripe_webhook.orders WHERE id = %L$$, :'dup_b'),
    $$VALUES ('needs_review', 'paid', 'pi_second', 6000::bigint)$$,
    'duplicate payment: the money is recorded in a needs_review order')
       ELSE skip('the bound shop keeps no payment_intent, amount_total', 1) END;
SELECT matches((SELECT review_reason FROM stripe_webhook.orders WHERE id = :'dup_b'),
               '^duplicate payment: cart 1338 was already checked out by checkout session cs_test_dup_a',
               'duplicate payment: the reason names the cart and the first session');
SELECT results_eq(
    format($$SELECT product_id, quantity, unit_amount, shortfall, stock_taken FROM stripe_webhook.order_items
              WHERE order_id = %L ORDER BY 1$$, :'dup_b'),
    $$VALUES (101::bigint, 2, 1500::bigint, 0, 0), (102::bigint, 1, 2500::bigint, 0, 0)$$,
    'duplicate payment: the cart''s items are listed, taking no stock');
SELECT is(regexp_replace(pg_temp.shop_state(), 'orders=\d+ \| order_items=\d+ \| (.*) \| order_rows=.*', '\1'),
          regexp_replace(:'before_dup', 'orders=\d+ \| order_items=\d+ \| (.*) \| order_rows=.*', '\1'),
          'duplicate payment: carts, cart items and stock are untouched');
SELECT is(stripe_webhook.stripe_fulfill_session(
              jsonb_set(pg_temp.sess(:'paid'::jsonb, 'cs_test_dup_b', '43', 1338), '{payment_intent}', '"pi_second"')),
          :'dup_b'::uuid, 'duplicate payment: redelivery returns the same review order');
SELECT is((SELECT count(*)::int FROM stripe_webhook.orders WHERE cart_id = 1338), 2,
          'duplicate payment: no third order');
-- an unpaid second session is recorded as well (never dropped)
SELECT stripe_webhook.stripe_fulfill_session(pg_temp.sess(:'unpaid'::jsonb, 'cs_test_dup_c', '43', 1338)) AS dup_c \gset
SELECT results_eq(format($$SELECT status, payment_status FROM stripe_webhook.orders WHERE id = %L$$, :'dup_c'),
                  $$VALUES ('needs_review', 'unpaid')$$, 'duplicate attempt with a delayed payment: needs_review/unpaid');

-- 3. stock short: take what is there, record the shortfall, flag the order
UPDATE stripe_webhook.products SET stock = 1 WHERE id = 101;
UPDATE stripe_webhook.products SET stock = 0 WHERE id = 102;
SELECT stripe_webhook.stripe_fulfill_session(pg_temp.sess(:'paid'::jsonb, 'cs_test_short', '44', 1339)) AS short \gset
SELECT results_eq(
    format($$SELECT product_id, quantity, shortfall, stock_taken FROM stripe_webhook.order_items
              WHERE order_id = %L ORDER BY 1$$, :'short'),
    $$VALUES (101::bigint, 2, 1, 1), (102::bigint, 1, 1, 0)$$,
    'shortfall: the order takes what is there and records what is missing per item');
SELECT results_eq($$SELECT id, stock FROM stripe_webhook.products WHERE id IN (101, 102) ORDER BY 1$$,
                  $$VALUES (101::bigint, 0), (102::bigint, 0)$$, 'shortfall: stock reaches zero, never below');
SELECT results_eq(format($$SELECT status, payment_status, review_reason FROM stripe_webhook.orders WHERE id = %L$$, :'short'),
                  $$VALUES ('needs_review', 'paid', 'stock short: product 101 short by 1 of 2, product 102 short by 1 of 1')$$,
                  'shortfall: the paid order exists, needs review, with the reason');
SELECT is((SELECT string_agg(c.change || ':' || (c.status = COALESCE(b.document->'status_values'->>'needs_review',
                                                                     'needs_review'))::text, ',' ORDER BY c.id)
             FROM stripe_webhook.order_changes c, stripe_webhook.shop_binding b
            WHERE c.checkout_session_id = 'cs_test_short'),
          'order_created:true,order_needs_review:true',
          'shortfall: the order''s changes are created then needs_review, both with the final status');
SELECT is((SELECT review_reason FROM stripe_webhook.checkout_sessions WHERE id = 'cs_test_short'),
          'stock short: product 101 short by 1 of 2, product 102 short by 1 of 1',
          'shortfall: the session''s record keeps the final reason');
SELECT results_eq(format($$SELECT product_id, shortfall, stock_taken FROM stripe_webhook.order_lines
                            WHERE order_id = %L ORDER BY 1$$, :'short'),
                  $$VALUES ('101'::text, 1::bigint, 1::bigint), ('102', 1, 0)$$,
                  'shortfall: the extension''s lines record what each line took and lacks');
SELECT ok((SELECT locked FROM stripe_webhook.carts WHERE id = 1339), 'shortfall: the cart is still locked');
SELECT is((SELECT count(*)::int FROM stripe_webhook.carts WHERE user_id = '44' AND NOT locked), 1,
          'shortfall: the user still gets a new active cart');
-- an unpaid (delayed) order with no stock at all
SELECT pg_temp.new_cart('60') AS c60 \gset
SELECT stripe_webhook.stripe_fulfill_session(pg_temp.sess(:'unpaid'::jsonb, 'cs_test_short_unpaid', '60', :c60)) AS short_unpaid \gset
SELECT results_eq(format($$SELECT status, payment_status FROM stripe_webhook.orders WHERE id = %L$$, :'short_unpaid'),
                  $$VALUES ('needs_review', 'unpaid')$$, 'shortfall on an unpaid order: needs_review/unpaid');
SELECT is((SELECT sum(shortfall)::int FROM stripe_webhook.order_items WHERE order_id = :'short_unpaid'), 3,
          'shortfall on an unpaid order: everything is short');
UPDATE stripe_webhook.products SET stock = 100 WHERE id = 101;
UPDATE stripe_webhook.products SET stock = 50 WHERE id = 102;

-- 4. amount mismatch
SELECT pg_temp.new_cart('61') AS c61 \gset
SELECT stripe_webhook.stripe_fulfill_session(
           pg_temp.sess(jsonb_set(:'paid'::jsonb, '{amount_subtotal}', '5400'), 'cs_test_amount', '61', :c61)) AS amount \gset
SELECT CASE WHEN pg_temp.holds('amount_subtotal') THEN results_eq(format($$SELECT status, payment_status, amount_subtotal, review_reason FROM stripe_webhook.orders WHERE id = %L$$, :'amount'),
                  $$VALUES ('needs_review', 'paid', 5400::bigint,
                            'amount mismatch: the session''s subtotal is 5400 usd but the cart''s items cost 5500 usd')$$,
                  'amount mismatch: needs review, the session''s amount is stored, the reason says both')
       ELSE results_eq(format($$SELECT status, payment_status, review_reason FROM stripe_webhook.orders WHERE id = %L$$, :'amount'),
                       $$VALUES ('needs_review', 'paid',
                                 'amount mismatch: the session''s subtotal is 5400 usd but the cart''s items cost 5500 usd')$$,
                       'amount mismatch: needs review, the reason says both (the shop keeps no amounts)') END;
SELECT is((SELECT sum(stock_taken)::int FROM stripe_webhook.order_items WHERE order_id = :'amount'), 3,
          'amount mismatch: stock is still taken (the order is paid)');
SELECT ok((SELECT locked FROM stripe_webhook.carts WHERE id = :c61), 'amount mismatch: the cart is locked');

-- 5. currency mismatch
SELECT pg_temp.new_cart('62') AS c62 \gset
SELECT stripe_webhook.stripe_fulfill_session(
           pg_temp.sess(jsonb_set(:'paid'::jsonb, '{currency}', '"eur"'), 'cs_test_currency', '62', :c62)) AS cur \gset
SELECT CASE WHEN pg_temp.holds('currency') THEN results_eq(format($$SELECT status, currency, review_reason FROM stripe_webhook.orders WHERE id = %L$$, :'cur'),
                  $$VALUES ('needs_review', 'eur', 'currency mismatch: the session is in eur but the cart''s products are priced in usd')$$,
                  'currency mismatch: needs review with the reason')
       ELSE results_eq(format($$SELECT status, review_reason FROM stripe_webhook.orders WHERE id = %L$$, :'cur'),
                       $$VALUES ('needs_review', 'currency mismatch: the session is in eur but the cart''s products are priced in usd')$$,
                       'currency mismatch: needs review with the reason (the shop keeps no order currency)') END;

-- 6. products in two currencies (where the shop prices products in their
--    own currency: a bound shop may have one currency for all)
SELECT (SELECT document->'products'->'columns' ? 'currency' FROM stripe_webhook.shop_binding) AS product_currencies \gset
\if :product_currencies
INSERT INTO stripe_webhook.carts (user_id) VALUES ('63') RETURNING id AS c63 \gset
INSERT INTO stripe_webhook.cart_items VALUES (:c63, 101, 1), (:c63, 104, 1);
SELECT stripe_webhook.stripe_fulfill_session(
           pg_temp.sess(jsonb_set(:'paid'::jsonb, '{amount_subtotal}', '3500'), 'cs_test_mixed', '63', :c63)) AS mixed \gset
SELECT results_eq(format($$SELECT status, review_reason FROM stripe_webhook.orders WHERE id = %L$$, :'mixed'),
                  $$VALUES ('needs_review', 'the cart''s products are priced in more than one currency')$$,
                  'mixed currencies: needs review');
\set mixed_orders 1
\else
SELECT skip('the bound shop has one currency for every product', 1);
\set mixed_orders 0
\endif

-- 7. Adaptive Pricing with a converted subtotal that does not match
SELECT pg_temp.new_cart('64') AS c64 \gset
SELECT stripe_webhook.stripe_fulfill_session(
           pg_temp.sess(jsonb_set(jsonb_set(:'paid'::jsonb, '{currency}', '"eur"'), '{currency_conversion}',
                                  '{"amount_subtotal": 5000, "amount_total": 5500, "fx_rate": "0.92", "source_currency": "usd"}'),
                        'cs_test_adaptive_bad', '64', :c64)) AS adaptive_bad \gset
SELECT CASE WHEN pg_temp.holds('amount_subtotal', 'currency') THEN results_eq(format($$SELECT status, currency, amount_subtotal, amount_total, review_reason
                            FROM stripe_webhook.orders WHERE id = %L$$, :'adaptive_bad'),
                  $$VALUES ('needs_review', 'usd', 5000::bigint, 5500::bigint,
                            'amount mismatch: the session''s subtotal is 5000 usd but the cart''s items cost 5500 usd')$$,
                  'adaptive pricing mismatch: compared in the shop''s currency, flagged')
       ELSE results_eq(format($$SELECT status, review_reason FROM stripe_webhook.orders WHERE id = %L$$, :'adaptive_bad'),
                       $$VALUES ('needs_review',
                                 'amount mismatch: the session''s subtotal is 5000 usd but the cart''s items cost 5500 usd')$$,
                       'adaptive pricing mismatch: compared in the shop''s currency, flagged (the shop keeps no amounts)') END;
-- ... and a converted currency that is not the shop's
SELECT pg_temp.new_cart('65') AS c65 \gset
SELECT stripe_webhook.stripe_fulfill_session(
           pg_temp.sess(jsonb_set(:'paid'::jsonb, '{currency_conversion}',
                                  '{"amount_subtotal": 5500, "amount_total": 6000, "fx_rate": "1", "source_currency": "gbp"}'),
                        'cs_test_adaptive_cur', '65', :c65)) AS adaptive_cur \gset
SELECT is((SELECT review_reason FROM stripe_webhook.orders WHERE id = :'adaptive_cur'),
          'currency mismatch: the session is in gbp but the cart''s products are priced in usd',
          'adaptive pricing: a source_currency that is not the products'' is flagged');

-- 8. a subtotal that overflows bigint is flagged, not an error (where the
--    shop's price column holds a bigint price)
SELECT (SELECT document->'products'->'types'->>'price' IN ('bigint', 'numeric')
          FROM stripe_webhook.shop_binding) AS bigint_prices \gset
\if :bigint_prices
INSERT INTO stripe_webhook.products (id, name, price_amount, stock) VALUES (150, 'Yacht', 9223372036854775807, 10);
INSERT INTO stripe_webhook.carts (user_id) VALUES ('66') RETURNING id AS c66 \gset
INSERT INTO stripe_webhook.cart_items VALUES (:c66, 150, 2);
SELECT stripe_webhook.stripe_fulfill_session(pg_temp.sess(:'paid'::jsonb, 'cs_test_overflow', '66', :c66)) AS ovf \gset
SELECT results_eq(format($$SELECT status, review_reason FROM stripe_webhook.orders WHERE id = %L$$, :'ovf'),
                  $$VALUES ('needs_review', 'the cart''s subtotal does not fit in a bigint')$$,
                  'overflowing cart subtotal: flagged for review');
\else
-- (a narrower price column: the largest price it holds, on three lines of
-- the largest quantity, overflows the subtotal just the same)
SELECT CASE WHEN document->'products'->'types'->>'price' = 'integer' THEN 2147483647 ELSE 9999999999 END AS maxprice
  FROM stripe_webhook.shop_binding \gset
INSERT INTO stripe_webhook.products (id, name, price_amount, stock)
SELECT 150 + g, 'Yacht ' || g, :maxprice, 2147483647 FROM generate_series(0, 2) g;
INSERT INTO stripe_webhook.carts (user_id) VALUES ('66') RETURNING id AS c66 \gset
INSERT INTO stripe_webhook.cart_items SELECT :c66, 150 + g, 2147483647 FROM generate_series(0, 2) g;
SELECT stripe_webhook.stripe_fulfill_session(pg_temp.sess(:'paid'::jsonb, 'cs_test_overflow', '66', :c66)) AS ovf \gset
SELECT results_eq(format($$SELECT status, review_reason FROM stripe_webhook.orders WHERE id = %L$$, :'ovf'),
                  $$VALUES ('needs_review', 'the cart''s subtotal does not fit in a bigint')$$,
                  'overflowing cart subtotal: flagged for review (largest price the shop''s column holds)');
\endif

-- 9. several flags at once are all recorded
UPDATE stripe_webhook.products SET stock = 0 WHERE id = 102;
SELECT pg_temp.new_cart('67') AS c67 \gset
SELECT stripe_webhook.stripe_fulfill_session(
           pg_temp.sess(jsonb_set(:'paid'::jsonb, '{amount_subtotal}', '1'), 'cs_test_multi', '67', :c67)) AS multi \gset
SELECT is((SELECT review_reason FROM stripe_webhook.orders WHERE id = :'multi'),
          'stock short: product 102 short by 1 of 1; amount mismatch: the session''s subtotal is 1 usd but the cart''s items cost 5500 usd',
          'several flags: every reason is recorded');
UPDATE stripe_webhook.products SET stock = 50 WHERE id = 102;

-- 10. invariants over everything above (test/lib/invariants.sql; not its stock
--     invariant, as this file sets stock by hand, nor for the first order,
--     whose cart it deleted), and what the reasons say
SELECT is_empty(format($$SELECT * FROM pg_temp.invariant_violations()
                          WHERE invariant <> 'stock = initial - taken' AND strpos(detail, %L) = 0$$, :'first'),
                'shop invariants hold: items as in the cart, taken + shortfall = quantity, shortfalls flagged, '
                'one active cart per user with an order, locked carts have their order, statuses consistent');
SELECT is((SELECT count(*)::int FROM stripe_webhook.order_items oi JOIN stripe_webhook.orders o ON o.id = oi.order_id
            WHERE oi.shortfall > 0
              AND pg_catalog.strpos(o.review_reason,
                                    pg_catalog.format('product %s short by %s of %s', oi.product_id, oi.shortfall, oi.quantity)) = 0),
          0, 'every shortfall is named in its order''s review reason (product, missing, ordered)');
SELECT is((SELECT pg_catalog.string_agg(DISTINCT o.checkout_session_id, ',' ORDER BY o.checkout_session_id)
             FROM stripe_webhook.order_items oi JOIN stripe_webhook.orders o ON o.id = oi.order_id
            WHERE oi.stock_taken = 0 AND oi.shortfall = 0),
          'cs_test_dup_b,cs_test_dup_c', 'only the duplicate payments hold no stock without a shortfall');
SELECT is((SELECT pg_catalog.count(*)::int FROM stripe_webhook.orders o
            WHERE o.status = 'needs_review' AND o.review_reason LIKE 'duplicate payment:%'
              AND NOT EXISTS (SELECT FROM stripe_webhook.carts c WHERE c.id = o.cart_id AND c.locked
                                 AND c.checkout_session_id = 'cs_test_dup_a')),
          0, 'a duplicate payment leaves the cart locked by the session that checked it out');
SELECT is((SELECT pg_catalog.string_agg(u.user_id || ':' || (SELECT pg_catalog.count(*) FROM stripe_webhook.carts c
                                                             WHERE c.user_id = u.user_id AND NOT c.locked), ',' ORDER BY u.user_id)
             FROM (SELECT DISTINCT user_id FROM stripe_webhook.orders) u),
          CASE :mixed_orders WHEN 1 THEN '42:1,43:1,44:1,60:1,61:1,62:1,63:1,64:1,65:1,66:1,67:1'
                             ELSE '42:1,43:1,44:1,60:1,61:1,62:1,64:1,65:1,66:1,67:1' END,
          'each user with an order got exactly one new active cart (user 63 orders only where products have two currencies)');

-- 11. WARNINGs are raised for flags (captured by raising client_min_messages is not possible in pgTAP;
--     test/e2e/20_fulfil_log.t reads them).  Here: the review orders are easy to list.
SELECT is((SELECT count(*)::int FROM stripe_webhook.orders WHERE status = 'needs_review'), 10 + :mixed_orders,
          'eleven orders above need review (ten where one currency prices every product)');
SELECT ok((SELECT bool_and(review_reason !~ 'jenny|Townsend|pi_1Pg') FROM stripe_webhook.orders WHERE review_reason IS NOT NULL),
          'review reasons carry ids and amounts, not customer data');

-- 12. the stored amounts are the session's (not recomputed)
SELECT CASE WHEN pg_temp.holds('amount_total') THEN is((SELECT amount_total FROM stripe_webhook.orders WHERE id = :'amount'), 6000::bigint,
          'amount_total is the session''s')
       ELSE skip('the bound shop keeps no amount_total', 1) END;
SELECT is((SELECT count(*)::int FROM stripe_webhook.orders WHERE cart_id IS NULL), 1,
          'only the order whose cart was deleted lost its cart reference');
SELECT is((SELECT count(*)::int FROM stripe_webhook.checkout_sessions WHERE outcome IS NOT NULL), 0, 'nothing recorded as failed or expired');
SELECT is((SELECT count(*)::int FROM stripe_webhook.orders), 12 + :mixed_orders,
          'thirteen orders in all (twelve where one currency prices every product)');
SELECT is((SELECT count(*)::int FROM stripe_webhook.orders WHERE status = 'confirmed'), 2, 'two confirmed');
SELECT is((SELECT count(*)::int FROM stripe_webhook.orders WHERE payment_status = 'unpaid'), 2, 'two unpaid');
SELECT * FROM finish();
ROLLBACK;
