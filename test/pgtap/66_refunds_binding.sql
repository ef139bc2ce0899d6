-- Refunds, disputes and restocking through the Django-shaped binding: the
-- shop's status words, orders.amount_refunded mirrored in major units
-- (numeric(10,2)) when bound and left alone when not, a refund before its
-- order, restock_order with bigint order ids of the shop, and the binding
-- check of the new logical name.
BEGIN;
SELECT plan(28);
SET LOCAL client_min_messages = error;

\ir ../lib/shops/django.sql
\set django_doc `cat test/lib/shops/django.json`
\set ch_partial `cat test/fixtures/event.charge.refunded.partial.json`
\set ch_full `cat test/fixtures/event.charge.refunded.full.json`
\set rf_updated `cat test/fixtures/event.refund.updated.json`
\set du_created `cat test/fixtures/event.charge.dispute.created.json`
\set du_closed `cat test/fixtures/event.charge.dispute.closed.json`

-- the refunded amount, NOT NULL without a database default (Django's
-- DecimalField(default=0) keeps its default in Python)
ALTER TABLE djshop.shop_order ADD COLUMN refunded numeric(10,2) NOT NULL;
SELECT jsonb_set(:'django_doc'::jsonb, '{orders,columns,amount_refunded}', '"refunded"') AS doc \gset

-- the binding check knows the new logical name
SELECT is((SELECT string_agg(code || ':' || logical, ',') FROM stripe_webhook.binding_problems(
              jsonb_set(:'doc'::jsonb, '{orders,columns,amount_refunded}', '"source"'))),
          'wrong_type:amount_refunded', 'orders.amount_refunded bound to a varchar column: wrong_type');
SELECT is((SELECT count(*)::int FROM stripe_webhook.binding_problems(:'doc'::jsonb)), 0,
          'orders.amount_refunded bound to numeric(10,2): no problem');
SELECT is(stripe_webhook.bind_shop(:'doc'::jsonb) #>> '{orders,types,amount_refunded}', 'numeric(10,2)',
          'the binding stores its type');

INSERT INTO djshop.auth_user (id, username, email, is_active, date_joined)
VALUES (7, 'ada', '', true, now()), (8, 'bob', '', true, now()), (9, 'cy', '', true, now());
INSERT INTO djshop.shop_product (id, name, price, stock_quantity, created_at)
VALUES (70, 'kettle', 20.00, 10, now());
INSERT INTO djshop.shop_cart (id, user_id, is_locked, created_at)
VALUES (70, 7, false, now()), (80, 8, false, now()), (90, 9, false, now());
INSERT INTO djshop.shop_cartitem (cart_id, product_id, quantity) VALUES (70, 70, 3), (80, 70, 2), (90, 70, 1);

CREATE FUNCTION pg_temp.sess(sid text, usr text, cart text, pi text, total bigint) RETURNS jsonb
LANGUAGE sql AS $$
    SELECT jsonb_build_object('object', 'checkout.session', 'id', sid,
                              'metadata', jsonb_build_object('user_id', usr, 'cart_id', cart),
                              'payment_status', 'paid', 'currency', 'usd', 'payment_intent', pi,
                              'amount_subtotal', total, 'amount_total', total)
$$;
CREATE FUNCTION pg_temp.ev(t text, e text, pi text) RETURNS jsonb LANGUAGE sql AS $$
    SELECT stripe_webhook.stripe_apply_event(t, jsonb_set(e::jsonb -> 'data' -> 'object', '{payment_intent}', to_jsonb(pi)))
$$;
CREATE FUNCTION pg_temp.dj(p_order text) RETURNS text LANGUAGE sql AS $$
    SELECT status || '/' || payment_state || '/' || refunded || '/' || COALESCE(staff_note, '-')
      FROM djshop.shop_order WHERE id = p_order::uuid
$$;
CREATE FUNCTION pg_temp.stock() RETURNS int LANGUAGE sql AS $$
    SELECT stock_quantity FROM djshop.shop_product WHERE id = 70
$$;

-- A. refunded in part, then in full (the charge is 6000 cents)
SELECT stripe_webhook.stripe_fulfill_session_text(pg_temp.sess('cs_dj_a', '7', '70', 'pi_3DjangoA0000000000000001', 6000)) AS a \gset
SELECT is(pg_temp.dj(:'a'), 'processing/paid/0.00/-', 'A: the order is created with 0.00 refunded');
SELECT is(pg_temp.stock(), 7, 'A: ... taking 3 kettles');
SELECT is(pg_temp.ev('charge.refunded', :'ch_partial', 'pi_3DjangoA0000000000000001')->>'message', 'refund recorded',
          'A: a partial charge.refunded is recorded');
SELECT is(pg_temp.dj(:'a'), 'processing/paid/25.00/-', 'A: ... 2500 cents mirrored as 25.00, status kept');
SELECT is(pg_temp.ev('charge.refunded', :'ch_full', 'pi_3DjangoA0000000000000001')->>'message', 'order refunded',
          'A: the full charge.refunded refunds the order');
SELECT is(pg_temp.dj(:'a'), 'refunded/paid/60.00/-', 'A: ... the shop''s word "refunded" and 60.00');
SELECT is((SELECT string_agg(change || ':' || status, ',' ORDER BY id) FROM stripe_webhook.order_changes
            WHERE order_table = 'djshop.shop_order' AND order_id = :'a'),
          'order_created:processing,order_refunded:refunded', 'A: ... with an order_refunded change in the shop''s words');
SELECT is(pg_temp.stock(), 7, 'A: ... and no kettle comes back by itself');
SELECT is(stripe_webhook.restock_order(upper(:'a')), 3::bigint, 'A: restock_order (any spelling of the uuid) returns 3');
SELECT is(pg_temp.stock(), 10, 'A: ... the kettles are back');
SELECT is((SELECT sum(stock_taken)::int || '/' || sum(restocked)::int FROM stripe_webhook.order_lines
            WHERE order_table = 'djshop.shop_order' AND order_id = :'a'), '0/3',
          'A: ... the line holds nothing, 3 restocked');
SELECT throws_ok(format('SELECT stripe_webhook.restock_order(%L)', :'a'), 'SW602', NULL,
                 'A: a second restock: SW602');
SELECT is(pg_temp.stock(), 10, 'A: ... nothing more returned');
SELECT throws_ok($$SELECT stripe_webhook.restock_order('00000000-0000-0000-0000-000000000000')$$, 'SW601', NULL,
                 'A: an order not in the bound table: SW601');

-- B. a refund before the order, through refund.updated
SELECT jsonb_set(jsonb_set(:'rf_updated'::jsonb, '{data,object,amount}', '4000'),
                 '{data,object,id}', '"re_3DjangoEarly00000000001"')::text AS b_refund \gset
SELECT is(pg_temp.ev('refund.updated', :'b_refund', 'pi_3DjangoB0000000000000001')->>'message',
          'recorded; no order has this payment intent yet', 'B: a refund before its order is kept');
SELECT stripe_webhook.stripe_fulfill_session_text(pg_temp.sess('cs_dj_b', '8', '80', 'pi_3DjangoB0000000000000001', 4000)) AS b \gset
SELECT is(pg_temp.dj(:'b'), 'refunded/paid/40.00/-', 'B: the order is refunded as it is created, 40.00 mirrored');
SELECT is((SELECT order_table || '/' || order_id FROM stripe_webhook.order_payments
            WHERE payment_intent = 'pi_3DjangoB0000000000000001'), 'djshop.shop_order/' || :'b',
          'B: ... the kept figures name the shop''s order');

-- C. a dispute: on_hold (the shop's needs_review) with the dispute in staff_note
SELECT stripe_webhook.stripe_fulfill_session_text(pg_temp.sess('cs_dj_c', '9', '90', 'pi_3DjangoC0000000000000001', 2000)) AS c \gset
SELECT is(pg_temp.ev('charge.dispute.created', :'du_created', 'pi_3DjangoC0000000000000001')->>'message',
          'order flagged for review', 'C: a dispute flags the order');
SELECT is(pg_temp.dj(:'c'), 'on_hold/paid/0.00/dispute du_1SyntheticDispute000001 (fraudulent): needs_response',
          'C: ... on_hold with the dispute in staff_note');
SELECT is(pg_temp.ev('charge.dispute.closed', :'du_closed', 'pi_3DjangoC0000000000000001')->>'message',
          'order flagged for review', 'C: its close (lost) is recorded');
SELECT is((SELECT staff_note FROM djshop.shop_order WHERE id = :'c'::uuid),
          'dispute du_1SyntheticDispute000001 (fraudulent): needs_response; dispute du_1SyntheticDispute000001 (fraudulent) closed: lost',
          'C: ... in staff_note');

-- D. without orders.amount_refunded bound the shop's column is left alone
SELECT lives_ok(format('SELECT stripe_webhook.bind_shop(%L::jsonb)',
                       jsonb_set(:'django_doc'::jsonb, '{orders,values,refunded}', '0')),
                'D: bound again without orders.amount_refunded (a constant 0 for the column)');
SELECT jsonb_set(jsonb_set(:'rf_updated'::jsonb, '{data,object,amount}', '500'),
                 '{data,object,id}', '"re_3DjangoC00000000000001"')::text AS d_refund \gset
SELECT is(pg_temp.ev('refund.updated', :'d_refund', 'pi_3DjangoC0000000000000001')->>'message', 'refund recorded',
          'D: a refund of 500 for order C is recorded');
SELECT is(pg_temp.dj(:'c') LIKE 'on_hold/paid/0.00/%', true, 'D: ... the shop''s column keeps 0.00, the status on_hold');
SELECT is((SELECT amount_refunded || '/' || refund_state FROM stripe_webhook.order_payments
            WHERE payment_intent = 'pi_3DjangoC0000000000000001'), '500/partial',
          'D: ... the extension keeps 500 of the 2000 charged: partial');

SELECT * FROM finish();
ROLLBACK;
