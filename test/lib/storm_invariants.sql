-- test/lib/storm_invariants.sql: what must hold after a storm of webhook
-- deliveries, duplicates, races, crashes and retries, checked against what
-- the test paid for.  It extends the generic shop checker
-- test/lib/invariants.sql (which knows nothing about the sessions paid or
-- the events sent, and is run alongside it) with "exactly one", "none
-- lost", the events inbox and the rejection counters.  One row per
-- invariant:
--
--   invariant | checked | violations | example
--
-- "checked" is how many rows (sessions, orders, items, products, users,
-- events) the invariant was checked on; "example" names the first violator.
-- Zero violations on every row is a pass:
--
--   psql -AtX -F '|' -d DB -f test/lib/storm_invariants.sql | awk -F'|' '{v += $3} END {exit v > 0}'
--
-- It reads the expectations a test wrote before its first delivery (see
-- test/storm/setup.sql):
--   sw_proof.paid_sessions(session_id, event_id, cart_id, user_id,
--                          amount_subtotal, currency, second_payment)
--       every Checkout Session the test paid, with the event that carries it
--       (a cart may be paid by two sessions: whichever is fulfilled second
--       must become an order needing review that takes no stock)
--   sw_proof.initial_stock(product_id, stock)
--       stock before the first delivery
--   sw_proof.payment_events(event_id, type, payment_intent, object),
--   sw_proof.payment_expect(payment_intent, session_id, amount_refunded,
--                           full_refund, dispute_status)
--       refund and dispute events sent (any order, before or after their
--       session's), and what each session's order must end with: the
--       largest cumulative refunded amount sent, refunded when that is the
--       whole charge, a dispute closed as won (empty: none sent)
-- and assumes that, apart from the deliveries of those events, nobody
-- changed products, carts or orders meanwhile (no cancellations, no price
-- changes).
--
-- "Consumed its cart" below means the order took the cart's units: every
-- line either took its units from stock or recorded the units missing as a
-- shortfall.  An order for money that must not be dropped but cannot be
-- fulfilled (a second payment for a cart already checked out) takes nothing
-- and its review reason says "no stock was taken".
--
-- Each invariant is a set of violators (a CTE); the final SELECT counts
-- them.  Everything joins on keys, so it stays fast for tens of thousands
-- of sessions.

WITH
ps AS MATERIALIZED (
    SELECT * FROM sw_proof.paid_sessions
),
o AS MATERIALIZED (
    SELECT o.*,
           NOT (o.status = 'needs_review' AND coalesce(o.review_reason, '') LIKE '%no stock was taken%') AS consumed
    FROM stripe_webhook.orders o
),
oi AS MATERIALIZED (
    SELECT oi.*, o.consumed, o.status, o.review_reason
    FROM stripe_webhook.order_items oi JOIN o ON o.id = oi.order_id
),
-- per paid session: its orders
ps_orders AS MATERIALIZED (
    SELECT ps.session_id, count(o.id) AS n, min(o.id::text)::uuid AS order_id
    FROM ps LEFT JOIN o ON o.checkout_session_id = ps.session_id
    GROUP BY ps.session_id
),
taken AS MATERIALIZED (
    SELECT product_id, sum(stock_taken) AS taken, sum(shortfall) AS short
    FROM oi GROUP BY product_id
),
item_totals AS MATERIALIZED (
    SELECT order_id, sum(quantity * unit_amount) AS subtotal,
           bool_or(shortfall > 0) AS short
    FROM oi GROUP BY order_id
),
paid_twice AS MATERIALIZED (
    SELECT cart_id FROM ps GROUP BY cart_id HAVING count(*) > 1
),
-- per order: what refunds and disputes must have left (nothing if none sent)
pay AS MATERIALIZED (
    SELECT o.id AS order_id, o.status, o.review_reason, o.amount_refunded AS order_refunded,
           coalesce(x.amount_refunded, 0) AS expect_refunded, coalesce(x.full_refund, false) AS full_refund,
           x.dispute_status AS expect_dispute, x.payment_intent,
           p.amount_refunded AS kept_refunded, p.order_id AS kept_order, p.dispute_status AS kept_dispute,
           (SELECT count(*) FROM stripe_webhook.order_changes c
             WHERE c.order_table = (SELECT b.document #>> '{orders,table}' FROM stripe_webhook.shop_binding b)
               AND c.order_id = o.id::text
               AND c.change = 'order_refunded') AS refunded_changes
    FROM o
    LEFT JOIN sw_proof.payment_expect x ON x.session_id = o.checkout_session_id
    LEFT JOIN stripe_webhook.order_payments p ON p.payment_intent = x.payment_intent
),

v1 AS (SELECT session_id AS k FROM ps_orders WHERE n <> 1),
v2 AS (SELECT o.checkout_session_id AS k FROM o LEFT JOIN ps ON ps.session_id = o.checkout_session_id
       WHERE ps.session_id IS NULL),
v3 AS (SELECT o.checkout_session_id AS k FROM o JOIN ps ON ps.session_id = o.checkout_session_id
       WHERE o.user_id <> ps.user_id OR o.cart_id IS DISTINCT FROM ps.cart_id
          OR o.currency <> ps.currency OR o.payment_status <> 'paid'
          OR o.status NOT IN ('confirmed', 'needs_review', 'refunded')),
v4 AS (SELECT DISTINCT coalesce(x.order_id, y.order_id)::text AS k
       FROM (SELECT oi.order_id, oi.product_id, oi.quantity FROM oi) x
       FULL JOIN (SELECT o.id AS order_id, ci.product_id, ci.quantity
                  FROM o JOIN stripe_webhook.cart_items ci ON ci.cart_id = o.cart_id) y
              ON y.order_id = x.order_id AND y.product_id = x.product_id AND y.quantity = x.quantity
       WHERE x.order_id IS NULL OR y.order_id IS NULL),
v5 AS (SELECT oi.order_id::text AS k FROM oi JOIN stripe_webhook.products p ON p.id = oi.product_id
       WHERE oi.unit_amount <> p.price_amount),
v6 AS (SELECT oi.order_id::text AS k FROM oi
       WHERE CASE WHEN oi.consumed THEN oi.stock_taken + oi.shortfall <> oi.quantity
                  ELSE oi.stock_taken <> 0 OR oi.shortfall <> 0 END),
v7 AS (SELECT i.product_id::text AS k FROM sw_proof.initial_stock i
       JOIN stripe_webhook.products p ON p.id = i.product_id
       LEFT JOIN taken t ON t.product_id = i.product_id
       WHERE p.stock <> i.stock - coalesce(t.taken, 0)),
v8 AS (SELECT id::text AS k FROM stripe_webhook.products WHERE stock < 0),
v9 AS (SELECT t.product_id::text AS k FROM taken t JOIN stripe_webhook.products p ON p.id = t.product_id
       WHERE t.short > 0 AND p.stock <> 0),
v10 AS (SELECT oi.order_id::text AS k FROM oi
        WHERE oi.shortfall > 0
          AND (oi.status NOT IN ('needs_review', 'refunded') OR oi.review_reason NOT LIKE '%stock short%')),
v11 AS (SELECT o.id::text AS k FROM o LEFT JOIN item_totals t ON t.order_id = o.id
        WHERE o.status = 'confirmed'
          AND (o.review_reason IS NOT NULL OR t.order_id IS NULL
               OR o.amount_subtotal <> t.subtotal OR t.short)),
v12 AS (SELECT o.id::text AS k FROM o LEFT JOIN item_totals t ON t.order_id = o.id
        WHERE o.status = 'needs_review'
          AND NOT coalesce(t.short, false)
          AND NOT (NOT o.consumed AND o.cart_id IN (SELECT cart_id FROM paid_twice))
          AND NOT EXISTS (SELECT FROM sw_proof.payment_expect x
                           WHERE x.session_id = o.checkout_session_id AND x.dispute_status IS NOT NULL)),
v13 AS (SELECT cart_id::text AS k FROM o WHERE consumed GROUP BY cart_id HAVING count(*) > 1),
v14 AS (SELECT o.cart_id::text AS k FROM o LEFT JOIN stripe_webhook.carts c ON c.id = o.cart_id
        WHERE o.consumed
          AND NOT coalesce(c.locked AND c.locked_at IS NOT NULL AND c.checkout_session_id = o.checkout_session_id,
                           false)),
v15 AS (SELECT DISTINCT ps.cart_id::text AS k FROM ps
        WHERE NOT EXISTS (SELECT FROM o WHERE o.cart_id = ps.cart_id AND o.consumed)),
v16 AS (SELECT user_id AS k FROM stripe_webhook.carts GROUP BY user_id
        HAVING count(*) FILTER (WHERE NOT locked) <> 1),
v17 AS (SELECT ps.event_id AS k FROM ps
        JOIN ps_orders po ON po.session_id = ps.session_id
        LEFT JOIN stripe_webhook.events e ON e.id = ps.event_id
        WHERE e.id IS NULL OR e.status <> 'processed' OR e.processed_at IS NULL OR e.attempts < 1
           OR e.session_id IS DISTINCT FROM ps.session_id OR e.order_id IS DISTINCT FROM po.order_id::text),
v18 AS (SELECT e.id AS k FROM stripe_webhook.events e LEFT JOIN ps ON ps.event_id = e.id
        LEFT JOIN sw_proof.payment_events pe ON pe.event_id = e.id
        WHERE e.status <> 'processed' OR (ps.event_id IS NULL AND pe.event_id IS NULL)),
v19 AS (SELECT reason AS k FROM stripe_webhook.rejected_deliveries WHERE count > 0),
v20 AS (SELECT order_id::text AS k FROM pay
        WHERE order_refunded <> expect_refunded
           OR (payment_intent IS NOT NULL
               AND (kept_refunded IS DISTINCT FROM expect_refunded OR kept_order IS DISTINCT FROM order_id::text))),
v21 AS (SELECT order_id::text AS k FROM pay
        WHERE (status = 'refunded') <> full_refund OR refunded_changes <> (CASE WHEN full_refund THEN 1 ELSE 0 END)),
v22 AS (SELECT order_id::text AS k FROM pay
        WHERE kept_dispute IS DISTINCT FROM expect_dispute
           OR (expect_dispute IS NOT NULL AND status <> 'refunded'
               AND (status <> 'needs_review' OR review_reason NOT LIKE '%closed: ' || expect_dispute || '%'))),
v23 AS (SELECT pe.event_id AS k FROM sw_proof.payment_events pe
        LEFT JOIN stripe_webhook.events e ON e.id = pe.event_id
        WHERE e.id IS NULL OR e.status <> 'processed' OR e.attempts < 1),

checks (ord, invariant, checked, violations, example) AS (
    SELECT 1, 'exactly one order per paid session',
           (SELECT count(*) FROM ps), (SELECT count(*) FROM v1), (SELECT min(k) FROM v1)
    UNION ALL
    SELECT 2, 'no order without a paid session',
           (SELECT count(*) FROM o), (SELECT count(*) FROM v2), (SELECT min(k) FROM v2)
    UNION ALL
    SELECT 3, 'order belongs to its session''s user and cart, paid',
           (SELECT count(*) FROM o), (SELECT count(*) FROM v3), (SELECT min(k) FROM v3)
    UNION ALL
    SELECT 4, 'order items equal their cart''s items',
           (SELECT count(*) FROM o), (SELECT count(*) FROM v4), (SELECT min(k) FROM v4)
    UNION ALL
    SELECT 5, 'order item priced at the product''s price',
           (SELECT count(*) FROM oi), (SELECT count(*) FROM v5), (SELECT min(k) FROM v5)
    UNION ALL
    SELECT 6, 'each item: taken + shortfall = quantity (or nothing for a second payment)',
           (SELECT count(*) FROM oi), (SELECT count(*) FROM v6), (SELECT min(k) FROM v6)
    UNION ALL
    SELECT 7, 'stock = initial - taken',
           (SELECT count(*) FROM sw_proof.initial_stock), (SELECT count(*) FROM v7), (SELECT min(k) FROM v7)
    UNION ALL
    SELECT 8, 'stock never negative',
           (SELECT count(*) FROM stripe_webhook.products), (SELECT count(*) FROM v8), (SELECT min(k) FROM v8)
    UNION ALL
    SELECT 9, 'shortfall only on a sold-out product',
           (SELECT count(*) FROM taken WHERE short > 0), (SELECT count(*) FROM v9), (SELECT min(k) FROM v9)
    UNION ALL
    SELECT 10, 'every shortfall flagged (needs_review, "stock short")',
           (SELECT count(*) FROM oi WHERE shortfall > 0), (SELECT count(*) FROM v10), (SELECT min(k) FROM v10)
    UNION ALL
    SELECT 11, 'confirmed order: nothing short, subtotal = its items, no review reason',
           (SELECT count(*) FROM o WHERE status = 'confirmed'), (SELECT count(*) FROM v11), (SELECT min(k) FROM v11)
    UNION ALL
    SELECT 12, 'order needs review only when short or paid twice',
           (SELECT count(*) FROM o WHERE status = 'needs_review'), (SELECT count(*) FROM v12), (SELECT min(k) FROM v12)
    UNION ALL
    SELECT 13, 'each cart consumed by at most one order',
           (SELECT count(DISTINCT cart_id) FROM o), (SELECT count(*) FROM v13), (SELECT min(k) FROM v13)
    UNION ALL
    SELECT 14, 'paid cart locked by the session whose order consumed it',
           (SELECT count(*) FROM o WHERE consumed), (SELECT count(*) FROM v14), (SELECT min(k) FROM v14)
    UNION ALL
    SELECT 15, 'every paid cart consumed',
           (SELECT count(DISTINCT cart_id) FROM ps), (SELECT count(*) FROM v15), (SELECT min(k) FROM v15)
    UNION ALL
    SELECT 16, 'exactly one unlocked cart per user',
           (SELECT count(DISTINCT user_id) FROM stripe_webhook.carts), (SELECT count(*) FROM v16), (SELECT min(k) FROM v16)
    UNION ALL
    SELECT 17, 'every event recorded once with its outcome (processed, its order)',
           (SELECT count(*) FROM ps), (SELECT count(*) FROM v17), (SELECT min(k) FROM v17)
    UNION ALL
    SELECT 18, 'no other event recorded, none left unprocessed',
           (SELECT count(*) FROM stripe_webhook.events), (SELECT count(*) FROM v18), (SELECT min(k) FROM v18)
    UNION ALL
    SELECT 19, 'no correctly signed delivery rejected',
           (SELECT count(*) FROM ps),
           (SELECT coalesce(sum(r.count), 0) FROM stripe_webhook.rejected_deliveries r),
           (SELECT min(k) FROM v19)
    UNION ALL
    SELECT 20, 'each order''s refunded amount equals the latest cumulative figure Stripe sent',
           (SELECT count(*) FROM pay), (SELECT count(*) FROM v20), (SELECT min(k) FROM v20)
    UNION ALL
    SELECT 21, 'refunded exactly when refunded in full, with one order_refunded change',
           (SELECT count(*) FROM pay), (SELECT count(*) FROM v21), (SELECT min(k) FROM v21)
    UNION ALL
    SELECT 22, 'a disputed order keeps the close (won) and is flagged unless refunded',
           (SELECT count(*) FROM pay WHERE expect_dispute IS NOT NULL), (SELECT count(*) FROM v22), (SELECT min(k) FROM v22)
    UNION ALL
    SELECT 23, 'every refund and dispute event processed',
           (SELECT count(*) FROM sw_proof.payment_events), (SELECT count(*) FROM v23), (SELECT min(k) FROM v23)
)
SELECT invariant, checked, violations, coalesce(example, '')
FROM checks
ORDER BY ord;
