-- A bound shop whose order ids are neither uuids nor text: the minimal test
-- shop (test/lib/shops/minimal.sql) as it is, with its bigserial order
-- number, bound in eur.  (The bound runs of the other files see this shop
-- through test/lib/shops/minimal_compat.sql, which makes the order number a
-- text key; this file keeps the bigint.)  stripe_fulfill_session_text and
-- the webhook give the order number as text; stripe_fulfill_session refuses
-- with 42804 and writes nothing; the extension's records (events,
-- checkout_sessions, order_lines, order_changes) carry the same text.
BEGIN;
\ir ../lib/shops/minimal.sql
\set minimal_doc `cat test/lib/shops/minimal.json`
\set fx_paid `cat test/fixtures/event.checkout.session.completed.paid.json`
SELECT plan(17);
SET LOCAL client_min_messages = error;

SELECT lives_ok(format('SELECT stripe_webhook.bind_shop(%L::jsonb)', :'minimal_doc'), 'the minimal shop binds');
SELECT is((SELECT document->'orders'->'types'->>'id' FROM stripe_webhook.shop_binding), 'bigint',
          'its order id is a bigint');

INSERT INTO "Mini Shop".items (sku, cents, on_hand) VALUES ('mug', 1500, 10), ('shirt', 2500, 5);
INSERT INTO "Mini Shop".baskets (basket_ref, customer) VALUES ('b-1', 'ann'), ('b-2', 'bob');
INSERT INTO "Mini Shop".basket_lines (basket_ref, sku, qty) VALUES
    ('b-1', 'mug', 1), ('b-1', 'mug', 1), ('b-1', 'shirt', 1), ('b-2', 'mug', 2), ('b-2', 'shirt', 1);

-- The paid fixture session for a basket and customer, in eur.
CREATE TEMP TABLE fx AS SELECT :'fx_paid'::jsonb AS ev;
CREATE FUNCTION pg_temp.sess(id text, basket text, customer text) RETURNS jsonb LANGUAGE sql AS $$
    SELECT jsonb_set(jsonb_set(jsonb_set(fx.ev -> 'data' -> 'object', '{id}', to_jsonb(id)),
                               '{metadata}', jsonb_build_object('user_id', customer, 'cart_id', basket)),
                     '{currency}', '"eur"')
      FROM fx
$$;
CREATE FUNCTION pg_temp.state() RETURNS text LANGUAGE sql AS $$
    SELECT concat_ws(' | ',
        (SELECT count(*) FROM "Mini Shop"."Orders"), (SELECT count(*) FROM "Mini Shop".order_lines),
        (SELECT string_agg(sku || ':' || on_hand, ',' ORDER BY sku) FROM "Mini Shop".items),
        (SELECT string_agg(basket_ref || ':' || closed, ',' ORDER BY basket_ref) FROM "Mini Shop".baskets),
        (SELECT count(*) FROM stripe_webhook.checkout_sessions), (SELECT count(*) FROM stripe_webhook.order_lines))
$$;

-- stripe_fulfill_session (uuid) refuses, and nothing stays written
SELECT pg_temp.state() AS s0 \gset
SELECT throws_ok($$SELECT stripe_webhook.stripe_fulfill_session(pg_temp.sess('cs_test_big_1', 'b-1', 'ann'))$$,
                 '42804', 'the shop''s order ids are not uuids', 'stripe_fulfill_session: 42804 for bigint order ids');
SELECT is(pg_temp.state(), :'s0', '... and nothing written');

-- stripe_fulfill_session_text: the order number
SELECT stripe_webhook.stripe_fulfill_session_text(pg_temp.sess('cs_test_big_1', 'b-1', 'ann')) AS o1 \gset
SELECT ok(:'o1' ~ '^[1-9][0-9]*$', 'stripe_fulfill_session_text returns the order number: ' || :'o1');
SELECT results_eq(format($$SELECT customer, state FROM "Mini Shop"."Orders" WHERE order_no = %s$$, :'o1'),
                  $$VALUES ('ann', 'accepted')$$, 'the order is the shop''s, in its word for confirmed');
SELECT results_eq(format($$SELECT sku, qty, cents FROM "Mini Shop".order_lines WHERE order_no = %s ORDER BY sku$$, :'o1'),
                  $$VALUES ('mug', 2, 1500::bigint), ('shirt', 1, 2500::bigint)$$,
                  'its lines: the basket''s lines summed per item, at their prices');
SELECT is(stripe_webhook.stripe_fulfill_session_text(pg_temp.sess('cs_test_big_1', 'b-1', 'ann')), :'o1',
          'a second call returns the same order number');
SELECT results_eq(format($$SELECT order_id, consumed_cart, payment_status FROM stripe_webhook.checkout_sessions
                            WHERE id = 'cs_test_big_1'$$),
                  format($$VALUES (%L, true, 'paid')$$, :'o1'), 'checkout_sessions: the order number as text');
SELECT results_eq(format($$SELECT product_id, quantity::int, stock_taken::int FROM stripe_webhook.order_lines
                            WHERE order_id = %L ORDER BY 1$$, :'o1'),
                  $$VALUES ('mug', 2, 2), ('shirt', 1, 1)$$, 'order_lines: keyed by the order number as text');
SELECT is((SELECT string_agg(sku || ':' || on_hand, ',' ORDER BY sku) FROM "Mini Shop".items), 'mug:8,shirt:4',
          'stock taken from the shop''s items');
SELECT is((SELECT count(*)::int FROM "Mini Shop".baskets WHERE customer = 'ann' AND NOT closed), 1,
          'the basket is closed and the customer has a new open one');

-- the webhook: the answer, the event and the change notice carry the number
INSERT INTO stripe_webhook.signing_secrets (secret, description) VALUES ('whsec_bigint_0123456789abcdef', 'pgTAP');
SELECT jsonb_set(jsonb_set(:'fx_paid'::jsonb, '{id}', '"evt_big_2"'), '{data,object}',
                 pg_temp.sess('cs_test_big_2', 'b-2', 'bob'))::text AS body \gset
SELECT stripe_webhook.stripe_handle_webhook(:'body', stripe_webhook.stripe_signature_header(:'body', 'whsec_bigint_0123456789abcdef'))
       AS answer \gset
SELECT is((:'answer'::jsonb)->>'status', '200', 'webhook: 200');
SELECT (SELECT order_no::text FROM "Mini Shop"."Orders" WHERE customer = 'bob') AS o2 \gset
SELECT is((:'answer'::jsonb)->>'order_id', :'o2', 'webhook answer: the order number');
SELECT is((SELECT order_id FROM stripe_webhook.events WHERE id = 'evt_big_2'), :'o2', 'events.order_id: the order number');
SELECT is((SELECT order_id FROM stripe_webhook.order_changes WHERE checkout_session_id = 'cs_test_big_2'), :'o2',
          'order_changes.order_id: the order number');
SELECT isnt(:'o1'::text, :'o2'::text, 'two sessions, two order numbers');

SELECT * FROM finish();
ROLLBACK;
