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
--   sw_proof.payment_events, sw_proof.payment_expect
--              with -v payments=1 only (else empty): refunds and disputes
--              for every 25th cart's session (charge.refunded twice, with
--              a quarter then a half or all of the charge; refund.created
--              and refund.updated for the same money; every 75th cart a
--              dispute, created then closed as won), and what each
--              session's order must end up with
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

-- Refund and dispute events (object: the event's data.object) and what
-- they must leave: the refunded amount is the largest cumulative figure
-- sent (charge.refunded's amount_refunded; the refunds add up to it too),
-- full when it is the whole charge; a dispute ends won.
CREATE TABLE sw_proof.payment_events (
    event_id       text PRIMARY KEY,
    type           text NOT NULL,
    payment_intent text NOT NULL,
    object         jsonb NOT NULL
);
CREATE TABLE sw_proof.payment_expect (
    payment_intent  text PRIMARY KEY,
    session_id      text NOT NULL UNIQUE,
    amount_refunded bigint NOT NULL,
    full_refund     boolean NOT NULL,
    dispute_status  text
);

\if :{?payments}
-- the driver sends amount_total = amount_subtotal + 500 and the payment
-- intent 'pi_' || the session id without its 'cs_'
INSERT INTO sw_proof.payment_expect (payment_intent, session_id, amount_refunded, full_refund, dispute_status)
SELECT 'pi_' || substr(ps.session_id, 4), ps.session_id,
       CASE WHEN ps.cart_id % 50 = 3 THEN ps.amount_subtotal + 500 ELSE (ps.amount_subtotal + 500) / 2 END,
       ps.cart_id % 50 = 3,
       CASE WHEN ps.cart_id % 75 = 3 THEN 'won' END
FROM sw_proof.paid_sessions ps
WHERE ps.cart_id % 25 = 3 AND NOT ps.second_payment;

WITH x AS (
    SELECT e.*, ps.cart_id AS c, ps.amount_subtotal + 500 AS total, (ps.amount_subtotal + 500) / 4 AS r1
    FROM sw_proof.payment_expect e JOIN sw_proof.paid_sessions ps ON ps.session_id = e.session_id
), charge (c, pi, n, amount_refunded, total) AS (
    SELECT c, payment_intent, 1, r1, total FROM x
    UNION ALL SELECT c, payment_intent, 2, amount_refunded, total FROM x
), refund (c, pi, n, suffix, type, amount, status) AS (
    SELECT c, payment_intent, 1, 'c', 'refund.created', r1, 'pending' FROM x
    UNION ALL SELECT c, payment_intent, 1, 'u', 'refund.updated', r1, 'succeeded' FROM x
    UNION ALL SELECT c, payment_intent, 2, 'u', 'refund.updated', amount_refunded - r1, 'succeeded' FROM x
), dispute (c, pi, suffix, type, status, amount) AS (
    SELECT c, payment_intent, 'c', 'charge.dispute.created', 'needs_response', total FROM x WHERE dispute_status IS NOT NULL
    UNION ALL
    SELECT c, payment_intent, 'x', 'charge.dispute.closed', dispute_status, total FROM x WHERE dispute_status IS NOT NULL
)
INSERT INTO sw_proof.payment_events (event_id, type, payment_intent, object)
SELECT 'evt_storm_ch_' || c || '_' || n, 'charge.refunded', pi,
       jsonb_build_object('id', 'ch_storm_' || c, 'object', 'charge', 'amount', total, 'amount_captured', total,
                          'amount_refunded', amount_refunded, 'captured', true, 'currency', 'usd',
                          'paid', true, 'payment_intent', pi, 'refunded', amount_refunded = total,
                          'status', 'succeeded', 'livemode', false, 'metadata', '{}'::jsonb)
FROM charge
UNION ALL
SELECT 'evt_storm_re_' || c || '_' || n || suffix, type, pi,
       jsonb_build_object('id', 're_storm_' || c || '_' || n, 'object', 'refund', 'amount', amount,
                          'charge', 'ch_storm_' || c, 'currency', 'usd', 'metadata', '{}'::jsonb,
                          'payment_intent', pi, 'reason', 'requested_by_customer', 'status', status)
FROM refund
UNION ALL
SELECT 'evt_storm_du_' || c || '_' || suffix, type, pi,
       jsonb_build_object('id', 'du_storm_' || c, 'object', 'dispute', 'amount', amount,
                          'charge', 'ch_storm_' || c, 'currency', 'usd', 'is_charge_refundable', status <> 'won',
                          'livemode', false, 'metadata', '{}'::jsonb, 'payment_intent', pi,
                          'reason', 'fraudulent', 'status', status)
FROM dispute;
\endif

ANALYZE;
