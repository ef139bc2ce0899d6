-- test/lib/shops/minimal_compat.sql: run the suites written against the
-- built-in tables against the minimal shop (minimal.sql), bound.
--
--   psql -d DB -v binding="$(cat test/lib/shops/minimal.json)" \
--        -f test/lib/shops/minimal.sql -f test/lib/shops/minimal_compat.sql
--
-- As django_compat.sql (read it first): binds the shop in usd, replaces the
-- built-in tables by views of the same shape over the shop's tables.  This
-- shop has only the required columns, so most of an order's built-in
-- columns come from what the extension keeps itself:
-- stripe_webhook.checkout_sessions (the session, its cart, the payment
-- state, the review reason, the times) and stripe_webhook.order_lines (the
-- shortfall and the stock a line holds).  It has no product names, no
-- session amounts (amount_subtotal and amount_total show the order's lines
-- at their prices; NULL where that sum does not fit in a bigint), no
-- payment intent, e-mail or address (NULL).
--
-- Two changes to the shop, made before binding, so that the tests' ids work:
--   * the tests compare order ids with uuids (stripe_fulfill_session returns
--     uuid): the order number becomes a text key holding a uuid's text (the
--     suite still fulfils into a non-uuid order id column: text), and in
--     this database stripe_fulfill_session is stripe_fulfill_session_text
--     cast to uuid (the C function refuses, by design, shops whose order id
--     column is not uuid);
--   * the tests give and read cart ids as numbers: a new basket's text key
--     is taken from a sequence (decimal) instead of gen_random_uuid().
-- Product ids (sku) and cart ids stay text in the shop; the views show them
-- as bigint.
\set ON_ERROR_STOP on

ALTER TABLE "Mini Shop".order_lines DROP CONSTRAINT order_lines_order_no_fkey;
ALTER TABLE "Mini Shop"."Orders" ALTER order_no DROP DEFAULT;
DROP SEQUENCE "Mini Shop"."Orders_order_no_seq";
ALTER TABLE "Mini Shop"."Orders" ALTER order_no TYPE text,
    ALTER order_no SET DEFAULT pg_catalog.gen_random_uuid()::text;
ALTER TABLE "Mini Shop".order_lines ALTER order_no TYPE text,
    ADD CONSTRAINT order_lines_order_no_fkey FOREIGN KEY (order_no) REFERENCES "Mini Shop"."Orders" (order_no);
CREATE SEQUENCE "Mini Shop".baskets_basket_ref_seq OWNED BY "Mini Shop".baskets.basket_ref;
ALTER TABLE "Mini Shop".baskets
    ALTER basket_ref SET DEFAULT pg_catalog.nextval('"Mini Shop".baskets_basket_ref_seq')::text;

SELECT stripe_webhook.bind_shop(pg_catalog.jsonb_set(:'binding'::jsonb, '{currency}', '"usd"')) IS NOT NULL AS bound;

-- stripe_fulfill_session returning the (uuid-shaped) text order id as uuid
ALTER EXTENSION stripe_webhook DROP FUNCTION stripe_webhook.stripe_fulfill_session(jsonb);
DROP FUNCTION stripe_webhook.stripe_fulfill_session(jsonb);
CREATE FUNCTION stripe_webhook.stripe_fulfill_session(session jsonb) RETURNS uuid
LANGUAGE sql VOLATILE
AS $$ SELECT stripe_webhook.stripe_fulfill_session_text(session)::uuid $$;
REVOKE ALL ON FUNCTION stripe_webhook.stripe_fulfill_session(jsonb) FROM PUBLIC;

CREATE SCHEMA sw_compat;
COMMENT ON SCHEMA sw_compat IS 'Test compatibility layer: the built-in table shapes over a bound shop (test/lib/shops/*_compat.sql).';

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

-- Canonical order words from the shop's (minimal.json; payment words are
-- the extension's own, kept in checkout_sessions).
CREATE FUNCTION sw_compat.status_in(word text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE word WHEN 'accepted' THEN 'confirmed' WHEN 'check' THEN 'needs_review' WHEN 'void' THEN 'cancelled'
                     ELSE word END
$$;
CREATE FUNCTION sw_compat.status_out(word text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE word WHEN 'confirmed' THEN 'accepted' WHEN 'needs_review' THEN 'check' WHEN 'cancelled' THEN 'void'
                     ELSE word END
$$;

---------------------------------------------------------------------------
-- products: text sku shown as bigint; no names; integer cents, one currency.
CREATE VIEW stripe_webhook.products AS
SELECT i.sku::bigint AS id, NULL::text AS name, i.cents::bigint AS price_amount, 'usd'::text AS currency,
       i.on_hand AS stock
  FROM "Mini Shop".items i;

CREATE FUNCTION sw_compat.products_write() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO "Mini Shop".items (sku, cents, on_hand) VALUES (NEW.id::text, NEW.price_amount, NEW.stock);
        NEW.currency := 'usd';
        RETURN NEW;
    ELSIF TG_OP = 'UPDATE' THEN
        UPDATE "Mini Shop".items SET sku = NEW.id::text, cents = NEW.price_amount, on_hand = NEW.stock
         WHERE sku = OLD.id::text;
        RETURN NEW;
    END IF;
    DELETE FROM "Mini Shop".items WHERE sku = OLD.id::text;
    RETURN OLD;
END
$$;
CREATE TRIGGER products_write INSTEAD OF INSERT OR UPDATE OR DELETE ON stripe_webhook.products
    FOR EACH ROW EXECUTE FUNCTION sw_compat.products_write();

---------------------------------------------------------------------------
-- carts: the session that consumed a basket, and when (locked_at), are the
-- extension's record; the shop keeps no times.
CREATE VIEW stripe_webhook.carts AS
SELECT b.basket_ref::bigint AS id, b.customer AS user_id, b.closed AS locked,
       CASE WHEN b.closed THEN (SELECT s.recorded_at FROM stripe_webhook.checkout_sessions s
                                 WHERE s.consumed_cart AND s.cart_table = '"Mini Shop".baskets'
                                   AND s.cart_id = b.basket_ref) END AS locked_at,
       NULL::timestamptz AS created_at,
       (SELECT s.id FROM stripe_webhook.checkout_sessions s
         WHERE s.consumed_cart AND s.cart_table = '"Mini Shop".baskets' AND s.cart_id = b.basket_ref) AS checkout_session_id
  FROM "Mini Shop".baskets b;

CREATE FUNCTION sw_compat.carts_write() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        NEW.id := COALESCE(NEW.id, pg_catalog.nextval('"Mini Shop".baskets_basket_ref_seq'));
        NEW.locked := COALESCE(NEW.locked, false);
        INSERT INTO "Mini Shop".baskets (basket_ref, customer, closed) VALUES (NEW.id::text, NEW.user_id, NEW.locked);
        RETURN NEW;
    ELSIF TG_OP = 'UPDATE' THEN
        UPDATE "Mini Shop".baskets SET basket_ref = NEW.id::text, customer = NEW.user_id, closed = NEW.locked
         WHERE basket_ref = OLD.id::text;
        RETURN NEW;
    END IF;
    -- the built-in cart_items go with their cart (ON DELETE CASCADE)
    DELETE FROM "Mini Shop".basket_lines WHERE basket_ref = OLD.id::text;
    DELETE FROM "Mini Shop".baskets WHERE basket_ref = OLD.id::text;
    RETURN OLD;
END
$$;
CREATE TRIGGER carts_write INSTEAD OF INSERT OR UPDATE OR DELETE ON stripe_webhook.carts
    FOR EACH ROW EXECUTE FUNCTION sw_compat.carts_write();

---------------------------------------------------------------------------
-- cart_items: one row per product per basket (lines summed, as the
-- fulfilment sums them).
CREATE VIEW stripe_webhook.cart_items AS
SELECT l.basket_ref::bigint AS cart_id, l.sku::bigint AS product_id, pg_catalog.sum(l.qty)::integer AS quantity
  FROM "Mini Shop".basket_lines l
 GROUP BY l.basket_ref, l.sku;

CREATE FUNCTION sw_compat.cart_items_write() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO "Mini Shop".basket_lines (basket_ref, sku, qty)
        VALUES (NEW.cart_id::text, NEW.product_id::text, NEW.quantity);
        RETURN NEW;
    END IF;
    DELETE FROM "Mini Shop".basket_lines WHERE basket_ref = OLD.cart_id::text AND sku = OLD.product_id::text;
    IF TG_OP = 'UPDATE' THEN
        INSERT INTO "Mini Shop".basket_lines (basket_ref, sku, qty)
        VALUES (NEW.cart_id::text, NEW.product_id::text, NEW.quantity);
        RETURN NEW;
    END IF;
    RETURN OLD;
END
$$;
CREATE TRIGGER cart_items_write INSTEAD OF INSERT OR UPDATE OR DELETE ON stripe_webhook.cart_items
    FOR EACH ROW EXECUTE FUNCTION sw_compat.cart_items_write();

---------------------------------------------------------------------------
-- orders: number, customer and state are the shop's; the rest is the
-- session's record.  cart_id is NULL once the basket is gone.
CREATE VIEW stripe_webhook.orders AS
SELECT o.order_no::uuid AS id, o.customer AS user_id,
       (SELECT b.basket_ref::bigint FROM stripe_webhook.checkout_sessions s
          JOIN "Mini Shop".baskets b ON b.basket_ref = s.cart_id WHERE s.order_table = '"Mini Shop"."Orders"' AND s.order_id = o.order_no) AS cart_id,
       (SELECT s.id FROM stripe_webhook.checkout_sessions s WHERE s.order_table = '"Mini Shop"."Orders"' AND s.order_id = o.order_no) AS checkout_session_id,
       NULL::text AS payment_intent_id, sw_compat.status_in(o.state) AS status,
       (SELECT s.payment_status FROM stripe_webhook.checkout_sessions s WHERE s.order_table = '"Mini Shop"."Orders"' AND s.order_id = o.order_no) AS payment_status,
       'usd'::text AS currency,
       (SELECT CASE WHEN t.sum <= 9223372036854775807 THEN t.sum::bigint END
          FROM (SELECT COALESCE(pg_catalog.sum(l.qty::numeric * l.cents), 0) AS sum FROM "Mini Shop".order_lines l
                 WHERE l.order_no = o.order_no) t) AS amount_subtotal,
       (SELECT CASE WHEN t.sum <= 9223372036854775807 THEN t.sum::bigint END
          FROM (SELECT COALESCE(pg_catalog.sum(l.qty::numeric * l.cents), 0) AS sum FROM "Mini Shop".order_lines l
                 WHERE l.order_no = o.order_no) t) AS amount_total,
       NULL::text AS customer_email, NULL::text AS shipping_name, NULL::text AS shipping_line1,
       NULL::text AS shipping_line2, NULL::text AS shipping_city, NULL::text AS shipping_state,
       NULL::text AS shipping_postal_code, NULL::text AS shipping_country,
       (SELECT s.review_reason FROM stripe_webhook.checkout_sessions s WHERE s.order_table = '"Mini Shop"."Orders"' AND s.order_id = o.order_no) AS review_reason,
       (SELECT s.recorded_at FROM stripe_webhook.checkout_sessions s WHERE s.order_table = '"Mini Shop"."Orders"' AND s.order_id = o.order_no) AS created_at,
       (SELECT s.updated_at FROM stripe_webhook.checkout_sessions s WHERE s.order_table = '"Mini Shop"."Orders"' AND s.order_id = o.order_no) AS updated_at
  FROM "Mini Shop"."Orders" o;

CREATE FUNCTION sw_compat.orders_write() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        NEW.id := COALESCE(NEW.id, pg_catalog.gen_random_uuid());
        INSERT INTO "Mini Shop"."Orders" (order_no, customer, state)
        VALUES (NEW.id::text, NEW.user_id, sw_compat.status_out(NEW.status));
        INSERT INTO stripe_webhook.checkout_sessions (id, cart_table, cart_id, user_id, order_table, order_id,
                                                      payment_status, review_reason)
        VALUES (NEW.checkout_session_id, '"Mini Shop".baskets', COALESCE(NEW.cart_id::text, ''), NEW.user_id,
                '"Mini Shop"."Orders"', NEW.id::text, NEW.payment_status, NEW.review_reason);
        RETURN NEW;
    ELSIF TG_OP = 'UPDATE' THEN
        UPDATE "Mini Shop"."Orders"
           SET order_no = NEW.id::text, customer = NEW.user_id, state = sw_compat.status_out(NEW.status)
         WHERE order_no = OLD.id::text;
        UPDATE stripe_webhook.checkout_sessions
           SET order_id = NEW.id::text, payment_status = NEW.payment_status, review_reason = NEW.review_reason
         WHERE order_table = '"Mini Shop"."Orders"' AND order_id = OLD.id::text;
        RETURN NEW;
    END IF;
    -- the built-in order_items go with their order (ON DELETE CASCADE)
    DELETE FROM "Mini Shop".order_lines WHERE order_no = OLD.id::text;
    DELETE FROM "Mini Shop"."Orders" WHERE order_no = OLD.id::text;
    RETURN OLD;
END
$$;
CREATE TRIGGER orders_write INSTEAD OF INSERT OR UPDATE OR DELETE ON stripe_webhook.orders
    FOR EACH ROW EXECUTE FUNCTION sw_compat.orders_write();

---------------------------------------------------------------------------
-- order_items: quantity and price are the shop's; shortfall and stock held
-- are the extension's (order_lines).
CREATE VIEW stripe_webhook.order_items AS
SELECT ol.order_no::uuid AS order_id, ol.sku::bigint AS product_id, ol.qty AS quantity, ol.cents AS unit_amount,
       COALESCE((SELECT l.shortfall FROM stripe_webhook.order_lines l
                  WHERE l.order_table = '"Mini Shop"."Orders"' AND l.order_id = ol.order_no AND l.product_id = ol.sku), 0)::integer AS shortfall,
       COALESCE((SELECT l.stock_taken FROM stripe_webhook.order_lines l
                  WHERE l.order_table = '"Mini Shop"."Orders"' AND l.order_id = ol.order_no AND l.product_id = ol.sku), 0)::integer AS stock_taken
  FROM "Mini Shop".order_lines ol;

CREATE FUNCTION sw_compat.order_items_write() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        NEW.shortfall := COALESCE(NEW.shortfall, 0);
        NEW.stock_taken := COALESCE(NEW.stock_taken, 0);
        INSERT INTO "Mini Shop".order_lines (order_no, sku, qty, cents)
        VALUES (NEW.order_id::text, NEW.product_id::text, NEW.quantity, NEW.unit_amount);
        INSERT INTO stripe_webhook.order_lines (order_table, order_id, product_id, quantity, unit_amount, shortfall,
                                                stock_taken)
        VALUES ('"Mini Shop"."Orders"', NEW.order_id::text, NEW.product_id::text, NEW.quantity, NEW.unit_amount, NEW.shortfall, NEW.stock_taken);
        RETURN NEW;
    ELSIF TG_OP = 'UPDATE' THEN
        UPDATE "Mini Shop".order_lines
           SET order_no = NEW.order_id::text, sku = NEW.product_id::text, qty = NEW.quantity, cents = NEW.unit_amount
         WHERE order_no = OLD.order_id::text AND sku = OLD.product_id::text;
        UPDATE stripe_webhook.order_lines
           SET order_id = NEW.order_id::text, product_id = NEW.product_id::text, quantity = NEW.quantity,
               unit_amount = NEW.unit_amount, shortfall = NEW.shortfall, stock_taken = NEW.stock_taken
         WHERE order_table = '"Mini Shop"."Orders"' AND order_id = OLD.order_id::text AND product_id = OLD.product_id::text;
        RETURN NEW;
    END IF;
    DELETE FROM "Mini Shop".order_lines WHERE order_no = OLD.order_id::text AND sku = OLD.product_id::text;
    RETURN OLD;
END
$$;
CREATE TRIGGER order_items_write INSTEAD OF INSERT OR UPDATE OR DELETE ON stripe_webhook.order_items
    FOR EACH ROW EXECUTE FUNCTION sw_compat.order_items_write();
