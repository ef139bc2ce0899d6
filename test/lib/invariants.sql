-- test/lib/invariants.sql: the shop's invariants, as a query returning one
-- row per violation (no rows: all hold).  Reusable after any workload:
--
--   CREATE TABLE sw_initial_stock AS SELECT id AS product_id, stock FROM stripe_webhook.products;
--   ... run the workload ...
--   \i test/lib/invariants.sql
--
-- It needs sw_initial_stock(product_id, stock) (found through search_path)
-- holding every product's stock before the workload, and it assumes the
-- workload changes stock only through the extension.
--
-- Columns: invariant (short name), detail (which rows, with ids).

WITH taken AS (
    SELECT oi.product_id, pg_catalog.sum(oi.stock_taken) AS taken
      FROM stripe_webhook.order_items oi
     GROUP BY oi.product_id
), consumed AS (
    -- orders that took their cart: the cart is locked by the order's session
    SELECT o.*
      FROM stripe_webhook.orders o
      JOIN stripe_webhook.carts c ON c.id = o.cart_id AND c.checkout_session_id = o.checkout_session_id
)
-- 1. exactly one order per Checkout Session
SELECT 'one order per session' AS invariant,
       pg_catalog.format('session %s has %s orders', checkout_session_id, pg_catalog.count(*)) AS detail
  FROM stripe_webhook.orders
 GROUP BY checkout_session_id
HAVING pg_catalog.count(*) > 1

UNION ALL
-- 2. an order's items are its cart's items (same products, same quantities)
SELECT 'order items equal cart items',
       pg_catalog.format('order %s (cart %s): product %s ordered %s, in cart %s',
                         o.id, o.cart_id, d.product_id, d.ordered, d.in_cart)
  FROM stripe_webhook.orders o
  JOIN LATERAL (
        SELECT COALESCE(a.product_id, b.product_id) AS product_id, a.quantity AS ordered, b.quantity AS in_cart
          FROM (SELECT product_id, quantity FROM stripe_webhook.order_items WHERE order_id = o.id) a
          FULL JOIN (SELECT product_id, quantity FROM stripe_webhook.cart_items WHERE cart_id = o.cart_id) b
               ON a.product_id = b.product_id
       ) d ON true
 WHERE o.cart_id IS NOT NULL AND d.ordered IS DISTINCT FROM d.in_cart

UNION ALL
-- 3. stock = initial stock - what orders hold now - what open stock holds
--    set aside (stripe_webhook.holds), and never negative
SELECT 'stock = initial - taken',
       pg_catalog.format('product %s: initial %s, held by orders %s, by stock holds %s, stock %s',
                         p.id, i.stock, COALESCE(t.taken, 0), COALESCE(h.held, 0), p.stock)
  FROM stripe_webhook.products p
  JOIN sw_initial_stock i ON i.product_id = p.id
  LEFT JOIN taken t ON t.product_id = p.id
  LEFT JOIN (SELECT h.product_id::bigint AS product_id, pg_catalog.sum(h.quantity) AS held
               FROM stripe_webhook.holds h
              WHERE h.status = 'held' AND h.product_table = 'stripe_webhook.products'
              GROUP BY h.product_id) h ON h.product_id = p.id
 WHERE p.stock <> i.stock - COALESCE(t.taken, 0) - COALESCE(h.held, 0) OR p.stock < 0

UNION ALL
-- 4. every shortfall is flagged (a flagged order may since have been cancelled)
SELECT 'shortfall flagged',
       pg_catalog.format('order %s status %s has a shortfall of %s on product %s',
                         o.id, o.status, oi.shortfall, oi.product_id)
  FROM stripe_webhook.order_items oi
  JOIN stripe_webhook.orders o ON o.id = oi.order_id
 WHERE oi.shortfall > 0 AND o.status NOT IN ('needs_review', 'cancelled', 'refunded')

UNION ALL
-- 5. a needs_review order says why
SELECT 'review reason present', pg_catalog.format('order %s needs review without a reason', id)
  FROM stripe_webhook.orders
 WHERE status = 'needs_review' AND review_reason IS NULL

UNION ALL
-- 6. at most one unlocked cart per user, and exactly one for every user with an order
SELECT 'one active cart per user',
       pg_catalog.format('user %s has %s unlocked carts', u.user_id,
                         (SELECT pg_catalog.count(*) FROM stripe_webhook.carts c
                           WHERE c.user_id = u.user_id AND NOT c.locked))
  FROM (SELECT user_id FROM stripe_webhook.carts UNION SELECT user_id FROM stripe_webhook.orders) u
 WHERE (SELECT pg_catalog.count(*) FROM stripe_webhook.carts c WHERE c.user_id = u.user_id AND NOT c.locked) > 1
    OR (EXISTS (SELECT FROM stripe_webhook.orders o WHERE o.user_id = u.user_id)
        AND (SELECT pg_catalog.count(*) FROM stripe_webhook.carts c WHERE c.user_id = u.user_id AND NOT c.locked) <> 1)

UNION ALL
-- 7. an order that holds stock has locked its cart; one that locked its cart
--    and is not cancelled holds exactly what was not short
SELECT 'stock held only by cart-locking orders',
       pg_catalog.format('order %s holds %s units but did not lock cart %s', o.id, pg_catalog.sum(oi.stock_taken), o.cart_id)
  FROM stripe_webhook.orders o
  JOIN stripe_webhook.order_items oi ON oi.order_id = o.id
 WHERE NOT EXISTS (SELECT FROM consumed c WHERE c.id = o.id)
 GROUP BY o.id, o.cart_id
HAVING pg_catalog.sum(oi.stock_taken) > 0

UNION ALL
-- (units staff gave back with restock_order() count as taken)
SELECT 'taken + shortfall = quantity',
       pg_catalog.format('order %s product %s: quantity %s, taken %s, short %s',
                         c.id, oi.product_id, oi.quantity, oi.stock_taken, oi.shortfall)
  FROM consumed c
  JOIN stripe_webhook.order_items oi ON oi.order_id = c.id
  LEFT JOIN stripe_webhook.order_lines ol
         ON ol.order_table = 'stripe_webhook.orders' AND ol.order_id = c.id::text
        AND ol.product_id = oi.product_id::text
 WHERE c.status <> 'cancelled'
   AND oi.stock_taken + oi.shortfall + COALESCE(ol.restocked, 0) <> oi.quantity

UNION ALL
-- 8. a cart locked by a session belongs to that session's order
SELECT 'locked cart has its order',
       pg_catalog.format('cart %s is locked by session %s, which has no order for it', c.id, c.checkout_session_id)
  FROM stripe_webhook.carts c
 WHERE c.checkout_session_id IS NOT NULL
   AND NOT EXISTS (SELECT FROM stripe_webhook.orders o
                    WHERE o.checkout_session_id = c.checkout_session_id AND o.cart_id = c.id)

UNION ALL
-- 9. status and payment status agree
SELECT 'status consistent', pg_catalog.format('order %s is %s/%s', id, status, payment_status)
  FROM stripe_webhook.orders
 WHERE (status = 'confirmed' AND payment_status <> 'paid')
    OR (status = 'pending' AND payment_status <> 'unpaid')
    OR (payment_status = 'failed' AND status NOT IN ('cancelled'))
    OR (status = 'cancelled' AND EXISTS (SELECT FROM stripe_webhook.order_items oi
                                          WHERE oi.order_id = orders.id AND oi.stock_taken > 0));
