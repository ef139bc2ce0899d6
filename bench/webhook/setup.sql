-- bench/webhook/setup.sql: data for bench/webhook/run.sh (psql variables:
-- carts, secret, template).
--
-- 90 products in 30 groups of three (1000, 2000 and 2500 cents, stock that
-- never runs out); :carts pre-made carts, cart n of user "bu<n>" holding
-- one of each product of group n % 30 (subtotal 5500 usd, as in the event
-- template, so no order is flagged for review).  bench.template holds the
-- paid checkout.session.completed fixture with @N@ where the event id,
-- session id, user and cart go; bench.cart_seq hands out the cart of the
-- next transaction, so every transaction fulfils a fresh cart.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS stripe_webhook;
CREATE SCHEMA bench;

INSERT INTO stripe_webhook.signing_secrets (secret, description) VALUES (:'secret', 'benchmark');

INSERT INTO stripe_webhook.products (id, name, price_amount, currency, stock)
SELECT 3 * g + k, 'bench product ' || (3 * g + k), (ARRAY[1000, 2000, 2500])[k], 'usd', 1000000000
FROM generate_series(0, 29) g, generate_series(1, 3) k;

INSERT INTO stripe_webhook.carts (id, user_id)
SELECT n, 'bu' || n FROM generate_series(1, :carts) n;
-- new carts made by the fulfilment take ids after the pre-made ones
SELECT pg_catalog.setval(pg_catalog.pg_get_serial_sequence('stripe_webhook.carts', 'id'), :carts);
INSERT INTO stripe_webhook.cart_items (cart_id, product_id, quantity)
SELECT n, 3 * (n % 30) + k, 1 FROM generate_series(1, :carts) n, generate_series(1, 3) k;

CREATE TABLE bench.template (body text NOT NULL);
INSERT INTO bench.template VALUES (:'template');
CREATE SEQUENCE bench.cart_seq;

-- History, so that the planner sees the tables of a shop that has been
-- running (as bench/fulfil does): 30000 past orders of other users, their
-- carts locked, and their 30000 processed events with payloads.  Analysed
-- empty, the tables would be planned as seq scans, and a plan kept for a
-- backend's life would stay one as they grow (autovacuum is off here).
INSERT INTO stripe_webhook.carts (id, user_id, locked, locked_at, checkout_session_id)
SELECT -k, 'h' || k, true, now(), 'cs_hist_' || k FROM generate_series(1, 30000) k;
INSERT INTO stripe_webhook.cart_items (cart_id, product_id, quantity)
SELECT -k, 3 * (k % 30) + j, 1 FROM generate_series(1, 30000) k, generate_series(1, 3) j;
INSERT INTO stripe_webhook.orders (user_id, cart_id, checkout_session_id, payment_intent_id, status, payment_status,
                                   currency, amount_subtotal, amount_total)
SELECT 'h' || k, -k, 'cs_hist_' || k, 'pi_hist_' || k, 'confirmed', 'paid', 'usd', 5500, 6000
FROM generate_series(1, 30000) k;
INSERT INTO stripe_webhook.order_items (order_id, product_id, quantity, unit_amount, stock_taken)
SELECT o.id, ci.product_id, 1, 1000, 1
FROM stripe_webhook.orders o JOIN stripe_webhook.cart_items ci ON ci.cart_id = o.cart_id;
INSERT INTO stripe_webhook.events (id, type, api_version, livemode, created, session_id, order_id,
                                   status, attempts, processed_at, last_attempt_at, payload)
SELECT 'evt_hist_' || k, 'checkout.session.completed', '2026-07-29.dahlia', false, now(), 'cs_hist_' || k, o.id,
       'processed', 1, now(), now(), replace(t.body, '@N@', 'hist_' || k)::jsonb
FROM generate_series(1, 30000) k
JOIN stripe_webhook.orders o ON o.checkout_session_id = 'cs_hist_' || k, bench.template t;

VACUUM ANALYZE;
