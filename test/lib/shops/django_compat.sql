-- test/lib/shops/django_compat.sql: run the suites written against the
-- built-in tables against the Django-shaped shop (django.sql), bound.
--
--   psql -d DB -v binding="$(cat test/lib/shops/django.json)" \
--        -f test/lib/shops/django.sql -f test/lib/shops/django_compat.sql
--
-- In a database where CREATE EXTENSION stripe_webhook was done and the shop
-- was just loaded, it binds the shop (with the currency of the test
-- sessions, usd), removes the built-in tables stripe_webhook.products,
-- carts, cart_items, orders and order_items from the extension and the
-- database, and puts in their place views of the same names and columns
-- that present the shop's tables in the built-in shape: money in minor
-- units, the canonical status words (pending/confirmed/needs_review/
-- cancelled/refunded, unpaid/paid/failed), the user id as text.  What the
-- shop does not hold comes from what the extension keeps itself
-- (stripe_webhook.checkout_sessions: the session that consumed a cart;
-- stripe_webhook.order_lines: the stock a line holds), through scalar
-- subqueries so that SELECT ... FOR UPDATE on a view locks the shop's rows.
-- INSTEAD OF
-- triggers turn the tests' writes into writes to the shop's tables.  The
-- fulfilment itself never reads these views: it reads and writes the
-- shop's tables through the binding; the views are only how the tests and
-- the invariant checkers look at them.
--
-- Test users must have decimal ids (the shop's user column is an integer);
-- a user a cart or an order names is created in auth_user when missing, as
-- the Django application would have it already.
\set ON_ERROR_STOP on

SELECT stripe_webhook.bind_shop(pg_catalog.jsonb_set(:'binding'::jsonb, '{currency}', '"usd"')) IS NOT NULL AS bound;

CREATE SCHEMA sw_compat;
COMMENT ON SCHEMA sw_compat IS 'Test compatibility layer: the built-in table shapes over a bound shop (test/lib/shops/*_compat.sql).';

-- The shop's user rows, made on first use (Django has them already).
CREATE FUNCTION sw_compat.ensure_user() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO djshop.auth_user (id, username, email, is_active, date_joined)
    VALUES (NEW.user_id, 'user' || NEW.user_id, 'user' || NEW.user_id || '@example.test', true, pg_catalog.now())
    ON CONFLICT DO NOTHING;
    RETURN NEW;
END
$$;
CREATE TRIGGER sw_compat_ensure_user BEFORE INSERT OR UPDATE OF user_id ON djshop.shop_cart
    FOR EACH ROW EXECUTE FUNCTION sw_compat.ensure_user();
CREATE TRIGGER sw_compat_ensure_user BEFORE INSERT OR UPDATE OF user_id ON djshop.shop_order
    FOR EACH ROW EXECUTE FUNCTION sw_compat.ensure_user();

-- The built-in tables go.
ALTER EXTENSION stripe_webhook DROP TABLE stripe_webhook.order_items;
ALTER EXTENSION stripe_webhook DROP TABLE stripe_webhook.orders;
ALTER EXTENSION stripe_webhook DROP TABLE stripe_webhook.cart_items;
ALTER EXTENSION stripe_webhook DROP TABLE stripe_webhook.carts;
ALTER EXTENSION stripe_webhook DROP TABLE stripe_webhook.products;
ALTER EXTENSION stripe_webhook DROP SEQUENCE stripe_webhook.carts_id_seq;
ALTER EXTENSION stripe_webhook DROP SEQUENCE stripe_webhook.products_id_seq;
DROP TABLE stripe_webhook.order_items, stripe_webhook.orders, stripe_webhook.cart_items,
           stripe_webhook.carts, stripe_webhook.products;

-- Canonical order and payment words from the shop's (django.json).
CREATE FUNCTION sw_compat.status_in(word text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE word WHEN 'awaiting_payment' THEN 'pending' WHEN 'processing' THEN 'confirmed'
                     WHEN 'on_hold' THEN 'needs_review' ELSE word END
$$;
CREATE FUNCTION sw_compat.status_out(word text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE word WHEN 'pending' THEN 'awaiting_payment' WHEN 'confirmed' THEN 'processing'
                     WHEN 'needs_review' THEN 'on_hold' ELSE word END
$$;
CREATE FUNCTION sw_compat.payment_in(word text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE word WHEN 'pending' THEN 'unpaid' ELSE word END
$$;
CREATE FUNCTION sw_compat.payment_out(word text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE word WHEN 'unpaid' THEN 'pending' ELSE word END
$$;

---------------------------------------------------------------------------
-- products: numeric(10,2) dollars -> cents; the shop has one currency.
CREATE VIEW stripe_webhook.products AS
SELECT p.id, p.name::text AS name, (p.price * 100)::bigint AS price_amount, 'usd'::text AS currency,
       p.stock_quantity AS stock
  FROM djshop.shop_product p;

CREATE FUNCTION sw_compat.products_write() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        NEW.id := COALESCE(NEW.id, pg_catalog.nextval('djshop.shop_product_id_seq'));
        INSERT INTO djshop.shop_product (id, name, price, stock_quantity, created_at)
        VALUES (NEW.id, NEW.name, NEW.price_amount / 100.0, NEW.stock, pg_catalog.now());
        NEW.currency := 'usd';
        RETURN NEW;
    ELSIF TG_OP = 'UPDATE' THEN
        UPDATE djshop.shop_product
           SET id = NEW.id, name = NEW.name, price = NEW.price_amount / 100.0, stock_quantity = NEW.stock
         WHERE id = OLD.id;
        RETURN NEW;
    END IF;
    DELETE FROM djshop.shop_product WHERE id = OLD.id;
    RETURN OLD;
END
$$;
CREATE TRIGGER products_write INSTEAD OF INSERT OR UPDATE OR DELETE ON stripe_webhook.products
    FOR EACH ROW EXECUTE FUNCTION sw_compat.products_write();

---------------------------------------------------------------------------
-- carts: checkout_session_id is the session that consumed the cart (the
-- extension's record; the shop has no such column).
CREATE VIEW stripe_webhook.carts AS
SELECT c.id, c.user_id::text AS user_id, c.is_locked AS locked, c.locked_at, c.created_at,
       (SELECT s.id FROM stripe_webhook.checkout_sessions s
         WHERE s.consumed_cart AND s.cart_table = 'djshop.shop_cart' AND s.cart_id = c.id::text) AS checkout_session_id
  FROM djshop.shop_cart c;

CREATE FUNCTION sw_compat.carts_write() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        NEW.id := COALESCE(NEW.id, pg_catalog.nextval('djshop.shop_cart_id_seq'));
        NEW.locked := COALESCE(NEW.locked, false);
        NEW.created_at := COALESCE(NEW.created_at, pg_catalog.now());
        INSERT INTO djshop.shop_cart (id, user_id, is_locked, locked_at, created_at)
        VALUES (NEW.id, NEW.user_id::integer, NEW.locked, NEW.locked_at, NEW.created_at);
        RETURN NEW;
    ELSIF TG_OP = 'UPDATE' THEN
        UPDATE djshop.shop_cart
           SET id = NEW.id, user_id = NEW.user_id::integer, is_locked = NEW.locked, locked_at = NEW.locked_at,
               created_at = NEW.created_at
         WHERE id = OLD.id;
        RETURN NEW;
    END IF;
    -- the built-in cart_items go with their cart (ON DELETE CASCADE)
    DELETE FROM djshop.shop_cartitem WHERE cart_id = OLD.id;
    DELETE FROM djshop.shop_cart WHERE id = OLD.id;
    RETURN OLD;
END
$$;
CREATE TRIGGER carts_write INSTEAD OF INSERT OR UPDATE OR DELETE ON stripe_webhook.carts
    FOR EACH ROW EXECUTE FUNCTION sw_compat.carts_write();

---------------------------------------------------------------------------
-- cart_items: one row per product per cart (the shop may have several
-- lines for one product; the fulfilment sums them, and so does the view).
CREATE VIEW stripe_webhook.cart_items AS
SELECT ci.cart_id, ci.product_id, pg_catalog.sum(ci.quantity)::integer AS quantity
  FROM djshop.shop_cartitem ci
 GROUP BY ci.cart_id, ci.product_id;

CREATE FUNCTION sw_compat.cart_items_write() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO djshop.shop_cartitem (cart_id, product_id, quantity)
        VALUES (NEW.cart_id, NEW.product_id, NEW.quantity);
        RETURN NEW;
    END IF;
    DELETE FROM djshop.shop_cartitem WHERE cart_id = OLD.cart_id AND product_id = OLD.product_id;
    IF TG_OP = 'UPDATE' THEN
        INSERT INTO djshop.shop_cartitem (cart_id, product_id, quantity)
        VALUES (NEW.cart_id, NEW.product_id, NEW.quantity);
        RETURN NEW;
    END IF;
    RETURN OLD;
END
$$;
CREATE TRIGGER cart_items_write INSTEAD OF INSERT OR UPDATE OR DELETE ON stripe_webhook.cart_items
    FOR EACH ROW EXECUTE FUNCTION sw_compat.cart_items_write();

---------------------------------------------------------------------------
-- orders: every built-in column has a column in this shop.
CREATE VIEW stripe_webhook.orders AS
SELECT o.id, o.user_id::text AS user_id, o.cart_id, o.stripe_session_id::text AS checkout_session_id,
       o.stripe_payment_intent::text AS payment_intent_id, sw_compat.status_in(o.status) AS status,
       sw_compat.payment_in(o.payment_state) AS payment_status, o.currency::text AS currency,
       (o.subtotal * 100)::bigint AS amount_subtotal, (o.total * 100)::bigint AS amount_total,
       o.email::text AS customer_email, o.ship_to_name::text AS shipping_name,
       o.ship_address_1::text AS shipping_line1, o.ship_address_2::text AS shipping_line2,
       o.ship_city::text AS shipping_city, o.ship_region::text AS shipping_state,
       o.ship_zip::text AS shipping_postal_code, o.ship_country::text AS shipping_country,
       o.staff_note AS review_reason, o.created_at, o.modified_at AS updated_at,
       -- the shop does not map orders.amount_refunded: what the extension keeps
       coalesce((SELECT p.amount_refunded FROM stripe_webhook.order_payments p
                  WHERE p.order_table = 'djshop.shop_order' AND p.order_id = o.id::text), 0)::bigint
           AS amount_refunded
  FROM djshop.shop_order o;

CREATE FUNCTION sw_compat.orders_write() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        NEW.id := COALESCE(NEW.id, pg_catalog.gen_random_uuid());
        NEW.created_at := COALESCE(NEW.created_at, pg_catalog.now());
        NEW.updated_at := COALESCE(NEW.updated_at, pg_catalog.now());
        INSERT INTO djshop.shop_order
               (id, user_id, cart_id, stripe_session_id, stripe_payment_intent, status, payment_state, currency,
                subtotal, total, email, ship_to_name, ship_address_1, ship_address_2, ship_city, ship_region,
                ship_zip, ship_country, staff_note, notes, created_at, modified_at)
        VALUES (NEW.id, NEW.user_id::integer, NEW.cart_id, NEW.checkout_session_id, NEW.payment_intent_id,
                sw_compat.status_out(NEW.status), sw_compat.payment_out(NEW.payment_status), NEW.currency,
                NEW.amount_subtotal / 100.0, NEW.amount_total / 100.0, NEW.customer_email, NEW.shipping_name,
                NEW.shipping_line1, NEW.shipping_line2, NEW.shipping_city, NEW.shipping_state,
                NEW.shipping_postal_code, NEW.shipping_country, NEW.review_reason, '', NEW.created_at,
                NEW.updated_at);
        RETURN NEW;
    ELSIF TG_OP = 'UPDATE' THEN
        UPDATE djshop.shop_order
           SET id = NEW.id, user_id = NEW.user_id::integer, cart_id = NEW.cart_id,
               stripe_session_id = NEW.checkout_session_id, stripe_payment_intent = NEW.payment_intent_id,
               status = sw_compat.status_out(NEW.status), payment_state = sw_compat.payment_out(NEW.payment_status),
               currency = NEW.currency, subtotal = NEW.amount_subtotal / 100.0, total = NEW.amount_total / 100.0,
               email = NEW.customer_email, ship_to_name = NEW.shipping_name, ship_address_1 = NEW.shipping_line1,
               ship_address_2 = NEW.shipping_line2, ship_city = NEW.shipping_city,
               ship_region = NEW.shipping_state, ship_zip = NEW.shipping_postal_code,
               ship_country = NEW.shipping_country, staff_note = NEW.review_reason,
               created_at = NEW.created_at, modified_at = NEW.updated_at
         WHERE id = OLD.id;
        IF NEW.amount_refunded IS DISTINCT FROM OLD.amount_refunded THEN
            UPDATE stripe_webhook.order_payments SET amount_refunded = NEW.amount_refunded
             WHERE order_table = 'djshop.shop_order' AND order_id = OLD.id::text;
        END IF;
        RETURN NEW;
    END IF;
    -- the built-in order_items go with their order (ON DELETE CASCADE)
    DELETE FROM djshop.shop_orderitem WHERE order_id = OLD.id;
    DELETE FROM djshop.shop_order WHERE id = OLD.id;
    RETURN OLD;
END
$$;
CREATE TRIGGER orders_write INSTEAD OF INSERT OR UPDATE OR DELETE ON stripe_webhook.orders
    FOR EACH ROW EXECUTE FUNCTION sw_compat.orders_write();

---------------------------------------------------------------------------
-- order_items: the shop keeps the shortfall (quantity_short); the stock a
-- line holds now is the extension's (order_lines.stock_taken).
CREATE VIEW stripe_webhook.order_items AS
SELECT oi.order_id, oi.product_id, oi.quantity, (oi.price * 100)::bigint AS unit_amount,
       oi.quantity_short AS shortfall,
       COALESCE((SELECT l.stock_taken FROM stripe_webhook.order_lines l
                  WHERE l.order_table = 'djshop.shop_order' AND l.order_id = oi.order_id::text AND l.product_id = oi.product_id::text), 0)::integer AS stock_taken
  FROM djshop.shop_orderitem oi;

CREATE FUNCTION sw_compat.order_items_write() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        NEW.shortfall := COALESCE(NEW.shortfall, 0);
        NEW.stock_taken := COALESCE(NEW.stock_taken, 0);
        INSERT INTO djshop.shop_orderitem (order_id, product_id, quantity, price, quantity_short)
        VALUES (NEW.order_id, NEW.product_id, NEW.quantity, NEW.unit_amount / 100.0, NEW.shortfall);
        INSERT INTO stripe_webhook.order_lines (order_table, order_id, product_id, quantity, unit_amount, shortfall,
                                                stock_taken)
        VALUES ('djshop.shop_order', NEW.order_id::text, NEW.product_id::text, NEW.quantity, NEW.unit_amount, NEW.shortfall, NEW.stock_taken);
        RETURN NEW;
    ELSIF TG_OP = 'UPDATE' THEN
        UPDATE djshop.shop_orderitem
           SET order_id = NEW.order_id, product_id = NEW.product_id, quantity = NEW.quantity,
               price = NEW.unit_amount / 100.0, quantity_short = NEW.shortfall
         WHERE order_id = OLD.order_id AND product_id = OLD.product_id;
        UPDATE stripe_webhook.order_lines
           SET order_id = NEW.order_id::text, product_id = NEW.product_id::text, quantity = NEW.quantity,
               unit_amount = NEW.unit_amount, shortfall = NEW.shortfall, stock_taken = NEW.stock_taken
         WHERE order_table = 'djshop.shop_order' AND order_id = OLD.order_id::text AND product_id = OLD.product_id::text;
        RETURN NEW;
    END IF;
    DELETE FROM djshop.shop_orderitem WHERE order_id = OLD.order_id AND product_id = OLD.product_id;
    RETURN OLD;
END
$$;
CREATE TRIGGER order_items_write INSTEAD OF INSERT OR UPDATE OR DELETE ON stripe_webhook.order_items
    FOR EACH ROW EXECUTE FUNCTION sw_compat.order_items_write();
