-- Refunds and disputes on the built-in tables: charge.refunded, refund.*,
-- charge.dispute.*, in order, out of order and repeated; figures kept for a
-- payment intent with no order yet and applied when the order appears;
-- restock_order(); every bad object refused with nothing written.
BEGIN;
SELECT plan(97);
\ir ../lib/fulfil_setup.sql

\set ch_partial `cat test/fixtures/event.charge.refunded.partial.json`
\set ch_full `cat test/fixtures/event.charge.refunded.full.json`
\set rf_created `cat test/fixtures/event.refund.created.json`
\set rf_updated `cat test/fixtures/event.refund.updated.json`
\set rf_failed `cat test/fixtures/event.refund.failed.json`
\set du_created `cat test/fixtures/event.charge.dispute.created.json`
\set du_updated `cat test/fixtures/event.charge.dispute.updated.json`
\set du_closed `cat test/fixtures/event.charge.dispute.closed.json`

CREATE FUNCTION pg_temp.ev(t text, o jsonb) RETURNS jsonb LANGUAGE sql AS $$
    SELECT stripe_webhook.stripe_apply_event(t, o)
$$;
-- the data.object of a fixture event, with its payment intent replaced
CREATE FUNCTION pg_temp.obj(e text, pi text DEFAULT NULL) RETURNS jsonb LANGUAGE sql AS $$
    SELECT CASE WHEN pi IS NULL THEN e::jsonb -> 'data' -> 'object'
                ELSE jsonb_set(e::jsonb -> 'data' -> 'object', '{payment_intent}', to_jsonb(pi)) END
$$;
CREATE FUNCTION pg_temp.order_row(p_order text) RETURNS text LANGUAGE sql AS $$
    SELECT status || '/' || payment_status || '/' || amount_refunded || '/' || COALESCE(review_reason, '-')
      FROM stripe_webhook.orders WHERE id = p_order::uuid
$$;
CREATE FUNCTION pg_temp.payment(pi text) RETURNS text LANGUAGE sql AS $$
    SELECT COALESCE(order_id, '-') || '/' || amount_refunded || '/' || refund_state || '/' ||
           COALESCE(dispute_status, '-')
      FROM stripe_webhook.order_payments WHERE payment_intent = pi
$$;
CREATE FUNCTION pg_temp.changes(p_order text) RETURNS text LANGUAGE sql AS $$
    SELECT string_agg(change || ':' || status, ',' ORDER BY id) FROM stripe_webhook.order_changes
     WHERE order_id = p_order
$$;
INSERT INTO stripe_webhook.signing_secrets (secret) VALUES ('whsec_refund_test');
CREATE FUNCTION pg_temp.deliver(body text) RETURNS jsonb LANGUAGE sql AS $$
    SELECT stripe_webhook.stripe_handle_webhook(body, stripe_webhook.stripe_signature_header(body, 'whsec_refund_test'))
$$;

-- A. a paid order refunded in part, then in full
SELECT pg_temp.ev('checkout.session.completed', :'paid'::jsonb)->>'order_id' AS a \gset
SELECT results_eq(format($$SELECT payment_intent, amount_total FROM stripe_webhook.checkout_sessions
                            WHERE order_id = %L$$, :'a'),
                  $$VALUES ('pi_1PgafyB7WZ01zgkWSjxsAJo3', 6000::bigint)$$,
                  'A: the completed path keeps the session''s payment intent and total');
SELECT string_agg(id || ':' || stock, ',' ORDER BY id) AS a_stock FROM stripe_webhook.products \gset
SELECT pg_temp.deliver(:'ch_partial') AS a1 \gset
SELECT is((:'a1'::jsonb)->>'status' || ' ' || ((:'a1'::jsonb)->>'message'), '200 refund recorded',
          'A: charge.refunded for part of the charge through the webhook: 200, refund recorded');
SELECT is((SELECT status || '/' || order_id FROM stripe_webhook.events WHERE id = 'evt_3PgafyB7WZ01zgkW0ChRef01'),
          'processed/' || :'a', 'A: ... the event is processed with its order');
SELECT is(pg_temp.order_row(:'a'), 'confirmed/paid/2500/-', 'A: ... the order keeps its status and records 2500');
SELECT is(pg_temp.payment('pi_1PgafyB7WZ01zgkWSjxsAJo3'), :'a' || '/2500/partial/-',
          'A: ... order_payments names the order, 2500, partial');
SELECT pg_temp.every_table() AS a_tables \gset
SELECT is(pg_temp.ev('charge.refunded', pg_temp.obj(:'ch_partial'))->>'message', 'already processed',
          'A: the same charge again is already processed');
SELECT is(pg_temp.every_table(), :'a_tables'::jsonb, 'A: ... and writes nothing');
SELECT is(pg_temp.ev('refund.created', pg_temp.obj(:'rf_created'))->>'message', 'refund recorded',
          'A: refund.created (pending 2500) of the same refund is recorded');
SELECT is(pg_temp.ev('refund.updated', pg_temp.obj(:'rf_updated'))->>'message', 'refund recorded',
          'A: refund.updated (succeeded) too');
SELECT is(pg_temp.order_row(:'a'), 'confirmed/paid/2500/-', 'A: ... and the amount is still 2500');
SELECT is((SELECT status FROM stripe_webhook.refunds WHERE id = 're_3PgafyB7WZ01zgkW0Rfnd001'), 'succeeded',
          'A: the refund is kept as succeeded');
SELECT pg_temp.ev('refund.created', pg_temp.obj(:'rf_created')) AS a_late \gset
SELECT is((SELECT status FROM stripe_webhook.refunds WHERE id = 're_3PgafyB7WZ01zgkW0Rfnd001'), 'succeeded',
          'A: a late refund.created (pending) does not take the refund back');
SELECT is(pg_temp.ev('refund.failed', pg_temp.obj(:'rf_failed'))->>'message', 'refund recorded',
          'A: refund.failed of another refund of 3500 is recorded');
SELECT is(pg_temp.order_row(:'a'), 'confirmed/paid/2500/-', 'A: ... the order still has 2500 refunded');
SELECT is(pg_temp.ev('refund.updated', jsonb_set(jsonb_set(pg_temp.obj(:'rf_updated'), '{id}', '"re_3PgafyB7WZ01zgkW0Rfnd003"'),
                                                 '{amount}', '3500'))->>'message', 'order refunded',
          'A: a third refund (3500, succeeded) makes 6000 of 6000: the order is refunded');
SELECT is(pg_temp.ev('charge.refunded', pg_temp.obj(:'ch_full'))->>'message', 'refund recorded',
          'A: charge.refunded with the whole charge afterwards is recorded, nothing else changes');
SELECT is(pg_temp.order_row(:'a'), 'refunded/paid/6000/-', 'A: ... status refunded, 6000 refunded');
SELECT is(pg_temp.changes(:'a'), 'order_created:confirmed,order_refunded:refunded',
          'A: ... with an order_refunded change');
SELECT is(pg_temp.payment('pi_1PgafyB7WZ01zgkWSjxsAJo3'), :'a' || '/6000/full/-', 'A: ... order_payments says full');
SELECT is((SELECT string_agg(id || ':' || stock, ',' ORDER BY id) FROM stripe_webhook.products), :'a_stock',
          'A: ... and no stock is returned by the refund');
SELECT pg_temp.every_table() AS a_tables2 \gset
SELECT is(pg_temp.ev('charge.refunded', pg_temp.obj(:'ch_partial'))->>'message', 'already processed',
          'A: the earlier, partial figure arriving late is already processed');
SELECT is(pg_temp.every_table(), :'a_tables2'::jsonb, 'A: ... and writes nothing');
SELECT is(pg_temp.ev('charge.dispute.created', pg_temp.obj(:'du_created', 'pi_1PgafyB7WZ01zgkWSjxsAJo3'))->>'message',
          'dispute recorded', 'A: a dispute of an order refunded in full is recorded');
SELECT is(pg_temp.order_row(:'a'), 'refunded/paid/6000/-', 'A: ... and the order stays refunded');

-- B. refunds before the order: kept, 2xx, applied when the order is created
SELECT pg_temp.new_cart('81') AS b_cart \gset
SELECT jsonb_set(pg_temp.sess(:'paid'::jsonb, 'cs_test_b_early', '81', :b_cart),
                 '{payment_intent}', '"pi_3EarlyRefund00000000001"') AS b_sess \gset
SELECT jsonb_set(jsonb_set(:'rf_updated'::jsonb, '{data,object,payment_intent}', '"pi_3EarlyRefund00000000001"'),
                 '{data,object,amount}', '6000')::text AS b_refund \gset
SELECT jsonb_set(jsonb_set(:'b_refund'::jsonb, '{id}', '"evt_3EarlyRefundEvent00001"'),
                 '{data,object,id}', '"re_3EarlyRefund0000000001"')::text AS b_refund \gset
SELECT pg_temp.deliver(:'b_refund') AS b1 \gset
SELECT is((:'b1'::jsonb)->>'status' || ' ' || ((:'b1'::jsonb)->>'message'),
          '200 recorded; no order has this payment intent yet', 'B: a refund before its order: 200, kept');
SELECT is((SELECT status || '/' || COALESCE(order_id, '-') FROM stripe_webhook.events WHERE id = 'evt_3EarlyRefundEvent00001'),
          'processed/-', 'B: ... the event is processed, with no order');
SELECT is(pg_temp.payment('pi_3EarlyRefund00000000001'), '-/6000/none/-', 'B: ... the figures wait in order_payments');
SELECT pg_temp.ev('checkout.session.completed', :'b_sess'::jsonb)->>'order_id' AS b \gset
SELECT is(pg_temp.order_row(:'b'), 'refunded/paid/6000/-', 'B: the completed order is refunded at once');
SELECT is(pg_temp.changes(:'b'), 'order_created:confirmed,order_refunded:refunded',
          'B: ... created, then refunded');
SELECT is(pg_temp.payment('pi_3EarlyRefund00000000001'), :'b' || '/6000/full/-', 'B: ... the figures name the order');
SELECT is((SELECT sum(stock_taken)::int FROM stripe_webhook.order_items WHERE order_id = :'b'::uuid), 3,
          'B: ... and its stock is taken as for any order');

-- B2. Adaptive Pricing: the customer pays in eur, the shop's amounts are in
-- usd; refunds count in the charge's currency, against what was charged
SELECT pg_temp.new_cart('85') AS b2_cart \gset
SELECT jsonb_set(jsonb_set(jsonb_set(jsonb_set(pg_temp.sess(:'paid'::jsonb, 'cs_test_b2_conv', '85', :b2_cart),
                 '{payment_intent}', '"pi_3Converted000000000001"'), '{currency}', '"eur"'), '{amount_total}', '5600'),
                 '{currency_conversion}', '{"amount_subtotal": 5500, "amount_total": 6000, "source_currency": "usd", "fx_rate": "1.0714"}')
    AS b2_sess \gset
SELECT pg_temp.ev('checkout.session.completed', :'b2_sess'::jsonb)->>'order_id' AS b2 \gset
SELECT is((SELECT amount_total || ' ' || currency FROM stripe_webhook.orders WHERE id = :'b2'::uuid)
          || ' / ' || (SELECT amount_total FROM stripe_webhook.checkout_sessions WHERE order_id = :'b2'),
          '6000 usd / 5600', 'B2: the order is in usd; the extension keeps the 5600 eur charged');
SELECT is(pg_temp.ev('refund.updated', jsonb_set(jsonb_set(jsonb_set(pg_temp.obj(:'rf_updated', 'pi_3Converted000000000001'),
                     '{amount}', '5600'), '{currency}', '"eur"'), '{id}', '"re_3Converted00000000001"'))->>'message',
          'order refunded', 'B2: a refund of the 5600 eur charged refunds the order in full');

-- C. a full refund that fails afterwards: flagged, money figures follow Stripe
SELECT pg_temp.new_cart('82') AS c_cart \gset
SELECT pg_temp.ev('checkout.session.completed',
                  jsonb_set(pg_temp.sess(:'paid'::jsonb, 'cs_test_c_fail', '82', :c_cart),
                            '{payment_intent}', '"pi_3RefundFails000000000001"'))->>'order_id' AS c \gset
SELECT jsonb_set(jsonb_set(pg_temp.obj(:'rf_updated', 'pi_3RefundFails000000000001'), '{amount}', '6000'),
                 '{id}', '"re_3RefundFails0000000001"') AS c_refund \gset
SELECT is(pg_temp.ev('refund.updated', :'c_refund'::jsonb)->>'message', 'order refunded',
          'C: refund.updated (succeeded, 6000) refunds the order');
SELECT is(pg_temp.ev('refund.failed', jsonb_set(:'c_refund'::jsonb, '{status}', '"failed"'))->>'message',
          'order flagged for review', 'C: the same refund failing afterwards flags the order');
SELECT is(pg_temp.order_row(:'c'),
          'needs_review/paid/0/the refunded amount fell to 0 usd after the order was refunded in full',
          'C: ... needs_review, nothing refunded, with the reason');
SELECT is(pg_temp.ev('refund.updated', :'c_refund'::jsonb)->>'message', 'already processed',
          'C: the earlier succeeded status arriving late is already processed (failed is final)');
SELECT is(pg_temp.payment('pi_3RefundFails000000000001'), :'c' || '/0/none/-', 'C: ... the figures stay at 0');
-- the charge's cumulative figure counted the refund before it failed
SELECT pg_temp.new_cart('86') AS c2_cart \gset
SELECT pg_temp.ev('checkout.session.completed',
                  jsonb_set(pg_temp.sess(:'paid'::jsonb, 'cs_test_c2_fail', '86', :c2_cart),
                            '{payment_intent}', '"pi_3RefundFails000000000002"'))->>'order_id' AS c2 \gset
SELECT is(pg_temp.ev('charge.refunded', pg_temp.obj(:'ch_full', 'pi_3RefundFails000000000002'))->>'message',
          'order refunded', 'C: charge.refunded (6000 of 6000) refunds another order');
SELECT is(pg_temp.ev('refund.failed', jsonb_set(jsonb_set(jsonb_set(:'c_refund'::jsonb, '{status}', '"failed"'),
                                                          '{payment_intent}', '"pi_3RefundFails000000000002"'),
                                                '{id}', '"re_3RefundFails0000000002"'))->>'message',
          'order flagged for review', 'C: its one refund failing takes it out of the charge''s figure: flagged');
SELECT is(pg_temp.payment('pi_3RefundFails000000000002'), :'c2' || '/0/none/-', 'C: ... 0 refunded');

-- D. a dispute: needs_review, its progress in the reason, its close recorded
SELECT pg_temp.new_cart('83') AS d_cart \gset
SELECT pg_temp.ev('checkout.session.completed',
                  jsonb_set(pg_temp.sess(:'paid'::jsonb, 'cs_test_d_dispute', '83', :d_cart),
                            '{payment_intent}', '"pi_1SyntheticAsyncBank00001"'))->>'order_id' AS d \gset
SELECT is(pg_temp.ev('charge.dispute.created', pg_temp.obj(:'du_created'))->>'message', 'order flagged for review',
          'D: charge.dispute.created flags the order');
SELECT is(pg_temp.order_row(:'d'), 'needs_review/paid/0/dispute du_1SyntheticDispute000001 (fraudulent): needs_response',
          'D: ... needs_review with the dispute, its reason and status');
SELECT is(pg_temp.changes(:'d'), 'order_created:confirmed,order_needs_review:needs_review',
          'D: ... with an order_needs_review change');
SELECT pg_temp.every_table() AS d_tables \gset
SELECT is(pg_temp.ev('charge.dispute.created', pg_temp.obj(:'du_created'))->>'message', 'already processed',
          'D: the same dispute event again is already processed');
SELECT is(pg_temp.every_table(), :'d_tables'::jsonb, 'D: ... and writes nothing');
SELECT is(pg_temp.ev('charge.dispute.updated', pg_temp.obj(:'du_updated'))->>'message', 'order flagged for review',
          'D: charge.dispute.updated (under_review) adds its status');
SELECT is(pg_temp.ev('charge.dispute.closed', pg_temp.obj(:'du_closed'))->>'message', 'order flagged for review',
          'D: charge.dispute.closed (lost) records the close');
SELECT is((SELECT review_reason FROM stripe_webhook.orders WHERE id = :'d'::uuid),
          'dispute du_1SyntheticDispute000001 (fraudulent): needs_response; '
          'dispute du_1SyntheticDispute000001 (fraudulent): under_review; '
          'dispute du_1SyntheticDispute000001 (fraudulent) closed: lost',
          'D: ... the review reason tells the dispute''s course');
SELECT is(pg_temp.payment('pi_1SyntheticAsyncBank00001'), :'d' || '/0/none/lost', 'D: order_payments keeps lost');
SELECT pg_temp.every_table() AS d_tables2 \gset
SELECT is(pg_temp.ev('charge.dispute.updated', pg_temp.obj(:'du_updated'))->>'message', 'already processed',
          'D: an update arriving after the close is already processed');
SELECT is(pg_temp.every_table(), :'d_tables2'::jsonb, 'D: ... and writes nothing');
-- closed first, then created: the close wins
SELECT pg_temp.new_cart('84') AS e_cart \gset
SELECT pg_temp.ev('checkout.session.completed',
                  jsonb_set(pg_temp.sess(:'paid'::jsonb, 'cs_test_e_dispute', '84', :e_cart),
                            '{payment_intent}', '"pi_3DisputeWon0000000000001"'))->>'order_id' AS e \gset
SELECT is(pg_temp.ev('charge.dispute.closed',
                     jsonb_set(pg_temp.obj(:'du_closed', 'pi_3DisputeWon0000000000001'), '{status}', '"won"'))->>'message',
          'order flagged for review', 'D: a dispute seen first closed (won) flags the order');
SELECT is(pg_temp.ev('charge.dispute.created', pg_temp.obj(:'du_created', 'pi_3DisputeWon0000000000001'))->>'message',
          'already processed', 'D: ... its created event afterwards is already processed');
SELECT is(pg_temp.order_row(:'e'), 'needs_review/paid/0/dispute du_1SyntheticDispute000001 (fraudulent) closed: won',
          'D: ... the order names the won close only');
SELECT is(pg_temp.payment('pi_3DisputeWon0000000000001'), :'e' || '/0/none/won', 'D: ... order_payments keeps won');

-- E. objects without a payment intent are ignored
SELECT pg_temp.every_table() AS e_tables \gset
SELECT jsonb_set(jsonb_set(:'ch_partial'::jsonb, '{data,object,payment_intent}', 'null'),
                 '{id}', '"evt_3NoPaymentIntent0000001"')::text AS e_body \gset
SELECT pg_temp.deliver(:'e_body') AS e1 \gset
SELECT is((:'e1'::jsonb)->>'status' || ' ' || ((:'e1'::jsonb)->>'message'),
          '200 ignored: the charge has no payment intent', 'E: a charge without a payment intent: 200, ignored');
SELECT is((SELECT status FROM stripe_webhook.events WHERE id = 'evt_3NoPaymentIntent0000001'), 'ignored',
          'E: ... recorded as ignored');
SELECT is((SELECT count(*)::int FROM stripe_webhook.order_payments WHERE payment_intent IS NULL), 0,
          'E: ... and no figures are kept');

-- F. bad objects: SW208, nothing written
SELECT pg_temp.every_table() AS f_tables \gset
CREATE FUNCTION pg_temp.call(t text, o jsonb) RETURNS text LANGUAGE sql AS $$
    SELECT format('SELECT pg_temp.ev(%L, %L::jsonb)', t, o)
$$;
SELECT pg_temp.obj(:'ch_partial') AS ch_obj, pg_temp.obj(:'rf_updated') AS rf_obj,
       pg_temp.obj(:'du_created') AS du_obj \gset
SELECT throws_ok(pg_temp.call('refund.created', :'ch_obj'), 'SW208',
                 'refund object of the event is invalid', 'F: refund.created with a charge object: SW208');
SELECT throws_ok(pg_temp.call('charge.refunded', jsonb_set(:'ch_obj', '{amount_refunded}', '-1')),
                 'SW208', NULL, 'F: a negative amount_refunded');
SELECT throws_ok(pg_temp.call('charge.refunded', jsonb_set(:'ch_obj', '{amount_refunded}', '7000')),
                 'SW208', NULL, 'F: amount_refunded above the charge''s amount');
SELECT throws_ok(pg_temp.call('refund.updated', jsonb_set(:'rf_obj', '{amount}', '"2500"')),
                 'SW208', NULL, 'F: an amount given as a string');
SELECT throws_ok(pg_temp.call('refund.updated', jsonb_set(:'rf_obj', '{amount}', '25.5')),
                 'SW208', NULL, 'F: a fractional amount');
SELECT throws_ok(pg_temp.call('refund.updated', :'rf_obj'::jsonb - 'status'),
                 'SW208', NULL, 'F: a refund without a status');
SELECT throws_ok(pg_temp.call('refund.updated', jsonb_set(:'rf_obj', '{currency}', '"US Dollar"')),
                 'SW208', NULL, 'F: a malformed currency');
SELECT throws_ok(pg_temp.call('charge.dispute.created', :'du_obj'::jsonb - 'reason'),
                 'SW208', NULL, 'F: a dispute without a reason');
SELECT throws_ok(pg_temp.call('charge.dispute.created', jsonb_set(:'du_obj', '{payment_intent}', '42')),
                 'SW208', NULL, 'F: a payment intent that is not a string');
SELECT throws_ok(pg_temp.call('charge.dispute.created', :'du_obj'::jsonb - 'id'),
                 'SW208', NULL, 'F: an object without an id');
SELECT throws_ok(pg_temp.call('charge.refunded', '[1, 2]'),
                 'SW208', NULL, 'F: an array instead of an object');
SELECT throws_ok(pg_temp.call('refund.updated', jsonb_set(:'rf_obj', '{currency}', '"usdx"')),
                 'SW208', 'refund object of the event is invalid', 'F: a currency of four letters');
SELECT throws_ok(pg_temp.call('refund.updated', jsonb_set(:'rf_obj', '{id}', '""')),
                 'SW208', NULL, 'F: an empty id');
SELECT throws_ok(pg_temp.call('refund.updated', jsonb_set(:'rf_obj', '{id}', to_jsonb('re_' || repeat('x', 253)))),
                 'SW208', NULL, 'F: an id of 256 characters');
SELECT throws_ok(pg_temp.call('refund.updated', jsonb_set(:'rf_obj', '{amount}', '1000000000000000000')),
                 'SW208', NULL, 'F: an amount of 19 digits');
SELECT throws_ok(pg_temp.call('charge.refund.updated', :'rf_obj'),
                 '22023', NULL, 'F: an event type not handled: 22023');
SELECT throws_ok($$SELECT pg_temp.ev('charge.refunded', NULL)$$, '22004', NULL, 'F: a NULL object: 22004');
SELECT jsonb_set(jsonb_set(:'ch_partial'::jsonb, '{data,object,amount}', '"lots"'), '{id}', '"evt_3BadChargeAmount000001"')::text AS f_body \gset
SELECT pg_temp.deliver(:'f_body') AS f1 \gset
SELECT is((:'f1'::jsonb)->>'status' || ' ' || ((:'f1'::jsonb)->>'sqlstate'), '422 SW208',
          'F: through the webhook a bad charge is a 422 with SW208');
SELECT is(pg_temp.every_table() - 'stripe_webhook.events', :'f_tables'::jsonb - 'stripe_webhook.events',
          'F: ... and no bad object wrote anything outside the events table');

-- G. restock_order: staff return what an order holds, once
SELECT pg_temp.every_table() AS g_tables \gset
SELECT throws_ok($$SELECT stripe_webhook.restock_order('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11')$$, 'SW601',
                 'order does not exist', 'G: an unknown order: SW601');
SELECT throws_ok($$SELECT stripe_webhook.restock_order('order-1')$$, 'SW601', NULL,
                 'G: an id that is no uuid: SW601');
CREATE ROLE sw_refund_clerk NOLOGIN;
GRANT USAGE ON SCHEMA stripe_webhook TO sw_refund_clerk;
GRANT EXECUTE ON FUNCTION stripe_webhook.restock_order(text) TO sw_refund_clerk;
SET LOCAL ROLE sw_refund_clerk;
SELECT throws_ok(format('SELECT stripe_webhook.restock_order(%L)', :'a'), '42501',
                 'permission denied to restock an order', 'G: a role that is not the owner: 42501');
RESET ROLE;
SELECT is(pg_temp.every_table(), :'g_tables'::jsonb, 'G: ... none of them wrote anything');
SELECT string_agg(id || ':' || (stock + CASE id WHEN 101 THEN 2 WHEN 102 THEN 1 ELSE 0 END), ',' ORDER BY id)
    AS g_expected FROM stripe_webhook.products \gset
SELECT is(stripe_webhook.restock_order(:'a'), 3::bigint, 'G: restocking the refunded order returns its 3 units');
SELECT is((SELECT string_agg(id || ':' || stock, ',' ORDER BY id) FROM stripe_webhook.products), :'g_expected',
          'G: ... 2 Mugs and 1 Shirt are back in stock');
SELECT is((SELECT sum(stock_taken)::int FROM stripe_webhook.order_items WHERE order_id = :'a'::uuid)
          + (SELECT sum(stock_taken)::int FROM stripe_webhook.order_lines WHERE order_id = :'a'), 0,
          'G: ... its lines hold nothing');
SELECT is(pg_temp.order_row(:'a'), 'refunded/paid/6000/-', 'G: ... and it keeps its status');
SELECT pg_temp.every_table() AS g_tables2 \gset
SELECT throws_ok(format('SELECT stripe_webhook.restock_order(%L)', :'a'), 'SW602', 'order holds no stock',
                 'G: restocking it again: SW602');
SELECT is(pg_temp.every_table(), :'g_tables2'::jsonb, 'G: ... nothing written');
SELECT is(stripe_webhook.stripe_apply_session_event('charge.refunded', pg_temp.obj(:'ch_full'))->>'order_id', :'a',
          'H: stripe_apply_session_event takes the new types too (one table)');
SELECT is_empty('SELECT * FROM pg_temp.invariant_violations()', 'the shop''s invariants hold');

-- I. the new objects: nothing for PUBLIC, kept by pg_dump
SELECT ok(NOT has_function_privilege('public', 'stripe_webhook.restock_order(text)', 'EXECUTE')
          AND NOT has_function_privilege('public', 'stripe_webhook.stripe_apply_event(text,jsonb)', 'EXECUTE'),
          'I: PUBLIC may execute neither restock_order nor stripe_apply_event');
SELECT ok(NOT has_table_privilege('public', 'stripe_webhook.order_payments', 'SELECT')
          AND NOT has_table_privilege('public', 'stripe_webhook.refunds', 'SELECT'),
          'I: PUBLIC may not read order_payments or refunds');
SELECT is((SELECT array_agg(c.relname::text ORDER BY c.relname) FROM pg_extension e
             JOIN pg_class c ON c.oid = ANY (e.extconfig)
            WHERE e.extname = 'stripe_webhook' AND c.relname IN ('order_payments', 'refunds')),
          ARRAY['order_payments', 'refunds'], 'I: order_payments and refunds are dumped with their rows');
SELECT throws_ok($$INSERT INTO stripe_webhook.order_changes (order_table, order_id, change, status, checkout_session_id)
                   VALUES ('t', '1', 'order_restocked', 'x', 'cs')$$, '23514', NULL,
                 'I: order_changes takes order_refunded but no other new word');
SELECT lives_ok($$INSERT INTO stripe_webhook.order_changes (order_table, order_id, change, status, checkout_session_id)
                  VALUES ('t', '1', 'order_refunded', 'refunded', 'cs')$$, 'I: ... order_refunded is allowed');

-- J. restock_order of an order the shop deleted after it was created (the
-- extension still names it): SW601, nothing written
SELECT pg_temp.new_cart('sw601') AS c601 \gset
SELECT stripe_webhook.stripe_fulfill_session(pg_temp.sess(:'paid'::jsonb, 'cs_test_sw601', 'sw601', :c601)) AS o601 \gset
DELETE FROM stripe_webhook.orders WHERE id = :'o601';
SELECT pg_temp.every_table() AS j_tables \gset
SELECT throws_ok(format('SELECT stripe_webhook.restock_order(%L)', :'o601'), 'SW601', 'order does not exist',
                 'J: an order deleted from the shop''s table: SW601');
SELECT is(pg_temp.every_table(), :'j_tables'::jsonb, 'J: ... nothing written');

SELECT * FROM finish();
ROLLBACK;
