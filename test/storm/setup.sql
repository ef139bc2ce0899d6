-- test/storm/setup.sql: the shop a storm test plays against, and what the
-- invariant checker (test/lib/storm_invariants.sql) must find afterwards.
--
--   psql -d DB -v sessions=1000 -f test/storm/setup.sql
--
-- Run in a fresh database where CREATE EXTENSION stripe_webhook was done.
-- It creates:
--
--   products   20 "plenty" products (1,000,000 in stock each) and 5 "scarce"
--              products (ids 101-105) with about a third of the units their
--              carts want: the last-units race
--   carts      one active cart per user (user id N, cart id N) with one to
--              three plenty products; every fourth cart also wants one or
--              two units of a scarce product
--   sw_proof.paid_sessions
--              one paid Checkout Session (and its event) per cart; every
--              fiftieth cart is paid twice (a second session and event for
--              the same cart): the customer paid twice, and the money must
--              not be dropped (an order needing review, no stock taken)
--   sw_proof.initial_stock
--              every product's stock before the storm
--
-- The session amounts are the carts' real subtotals, so an order that is
-- not short of stock or a duplicate payment is confirmed.

\set ON_ERROR_STOP on

CREATE SCHEMA sw_proof;
COMMENT ON SCHEMA sw_proof IS 'Expectations of a storm or fault test, read by test/lib/storm_invariants.sql.';

-- Every Checkout Session the test pays, with the event that announces it.
CREATE TABLE sw_proof.paid_sessions (
    session_id      text PRIMARY KEY,
    event_id        text NOT NULL UNIQUE,
    cart_id         bigint NOT NULL,
    user_id         text NOT NULL,
    amount_subtotal bigint NOT NULL,
    currency        text NOT NULL,
    second_payment  boolean NOT NULL DEFAULT false
);

-- Stock of every product before the first delivery.
CREATE TABLE sw_proof.initial_stock (
    product_id bigint PRIMARY KEY,
    stock      integer NOT NULL
);

INSERT INTO stripe_webhook.products (id, name, price_amount, currency, stock)
SELECT p, 'Plenty ' || p, 100 * p + 99, 'usd', 1000000
FROM generate_series(1, 20) p;

-- About (sessions / 4) carts want 1.5 units each of 5 scarce products:
-- roughly 3 times what is in stock.
INSERT INTO stripe_webhook.products (id, name, price_amount, currency, stock)
SELECT p, 'Scarce ' || p, 5000 + p, 'usd', greatest(1, :sessions / 40)
FROM generate_series(101, 105) p;

INSERT INTO stripe_webhook.carts (id, user_id)
SELECT c, c::text FROM generate_series(1, :sessions) c;
-- (the id sequence of the carts table in force: built-in or the bound shop's)
SELECT setval(pg_get_serial_sequence(document->'carts'->>'table', document->'carts'->'columns'->>'id'), :sessions)
  FROM stripe_webhook.shop_binding;

INSERT INTO stripe_webhook.cart_items (cart_id, product_id, quantity)
SELECT cart_id, product_id, sum(quantity)
FROM (SELECT c AS cart_id, c % 20 + 1 AS product_id, 1 + c % 3 AS quantity
      FROM generate_series(1, :sessions) c
      UNION ALL
      SELECT c, (c * 7) % 20 + 1, 1
      FROM generate_series(1, :sessions) c WHERE c % 3 = 0
      UNION ALL
      SELECT c, (c * 13) % 20 + 1, 2
      FROM generate_series(1, :sessions) c WHERE c % 5 = 1
      UNION ALL
      SELECT c, 101 + (c / 4) % 5, 1 + c % 2
      FROM generate_series(1, :sessions) c WHERE c % 4 = 0) lines
GROUP BY cart_id, product_id;

INSERT INTO sw_proof.paid_sessions (session_id, event_id, cart_id, user_id, amount_subtotal, currency, second_payment)
SELECT 'cs_test_storm_' || c.id || s.suffix, 'evt_storm_' || c.id || s.suffix, c.id, c.user_id,
       (SELECT sum(ci.quantity * p.price_amount)
        FROM stripe_webhook.cart_items ci JOIN stripe_webhook.products p ON p.id = ci.product_id
        WHERE ci.cart_id = c.id),
       'usd', s.suffix = 'b'
FROM stripe_webhook.carts c
CROSS JOIN (VALUES ('a'), ('b')) AS s(suffix)
WHERE s.suffix = 'a' OR c.id % 50 = 7;

INSERT INTO sw_proof.initial_stock SELECT id, stock FROM stripe_webhook.products;

ANALYZE;
