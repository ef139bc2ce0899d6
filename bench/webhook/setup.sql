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

VACUUM ANALYZE;
