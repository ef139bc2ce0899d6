-- examples/django/grants.sql: a read-only database role for Django's ORM.
--
-- The webhook view talks to PostgreSQL as the relay role (sql/relay_role.sql),
-- which may EXECUTE stripe_webhook.stripe_handle_webhook() and nothing else:
-- it cannot read a single table.  Django's ORM, which shows products, carts
-- and orders to the shop's code and admin, therefore needs a second role.
-- This script creates shop_reader, a login role that may SELECT the shop
-- tables and do nothing else: no writes (orders, stock and carts change only
-- through the extension's functions), no signing secrets, no event inbox.
--
-- Run it as the extension's owner (a superuser) in the shop's database,
-- after CREATE EXTENSION stripe_webhook; it is idempotent:
--
--     psql -d shop -v ON_ERROR_STOP=1 -f examples/django/grants.sql
--     psql -d shop -c "\password shop_reader"
--
-- If the shop's existing Django role should read the tables instead, run the
-- two GRANT statements below for that role.

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'shop_reader') THEN
        CREATE ROLE shop_reader LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT;
    END IF;
END
$$;

COMMENT ON ROLE shop_reader IS 'Django ORM: read-only access to the stripe_webhook shop tables';

GRANT USAGE ON SCHEMA stripe_webhook TO shop_reader;

GRANT SELECT ON stripe_webhook.products,
                stripe_webhook.carts,
                stripe_webhook.cart_items,
                stripe_webhook.orders,
                stripe_webhook.order_items
    TO shop_reader;

