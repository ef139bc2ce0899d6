-- sql/demo_data.sql: a tiny sample shop, for the demo (demo/run.sh) and for
-- trying the extension by hand.
--
-- Run it after CREATE EXTENSION stripe_webhook, as the extension's owner:
--
--     psql -d shop -v ON_ERROR_STOP=1 -f sql/demo_data.sql
--
-- What it creates:
--   * three products, prices in cents (Stripe counts money in the currency's
--     minor units), each with its stock;
--   * one active (unlocked) cart, id 1, for the application's user "1001",
--     holding two espresso cups and one bag of beans: a subtotal of
--     2 x 1200 + 1 x 3100 = 5500 cents.
--
-- demo/checkout.session.completed.json is the event Stripe would send once
-- that user has paid for that cart: its Checkout Session carries
-- metadata {"user_id": "1001", "cart_id": "1"} (set by the shop when it
-- created the session), amount_subtotal 5500 and amount_total 6000 (500 for
-- shipping).  stripe_handle_webhook() checks those against this cart.
--
-- The ids are fixed so that the event file stays valid.  Running the script
-- again changes nothing.

-- The catalogue.
INSERT INTO stripe_webhook.products (id, name, price_amount, currency, stock)
VALUES (1, 'Espresso cup', 1200, 'usd', 10),
       (2, 'Coffee beans, 1 kg', 3100, 'usd', 5),
       (3, 'Milk jug', 1900, 'usd', 3)
ON CONFLICT (id) DO NOTHING;

-- The user's active cart and its lines (one row per product, with a quantity).
INSERT INTO stripe_webhook.carts (id, user_id)
VALUES (1, '1001')
ON CONFLICT (id) DO NOTHING;

INSERT INTO stripe_webhook.cart_items (cart_id, product_id, quantity)
VALUES (1, 1, 2),
       (1, 2, 1)
ON CONFLICT (cart_id, product_id) DO NOTHING;

-- The ids above were given explicitly, which does not advance the identity
-- sequences: move them past the rows, so that the rows created later (the
-- new cart the user gets after paying) take fresh ids.
SELECT pg_catalog.setval(pg_catalog.pg_get_serial_sequence('stripe_webhook.products', 'id'),
                         (SELECT pg_catalog.max(id) FROM stripe_webhook.products));
SELECT pg_catalog.setval(pg_catalog.pg_get_serial_sequence('stripe_webhook.carts', 'id'),
                         (SELECT pg_catalog.max(id) FROM stripe_webhook.carts));
