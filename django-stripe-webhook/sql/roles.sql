-- django-stripe-webhook/sql/roles.sql: database roles for a Django shop that
-- uses the stripe_webhook extension through stripe_webhook_django.
--
-- Three login roles, each with only what it needs:
--
--   owner role (default shop_owner)   runs `manage.py migrate`; owns the shop's
--                                     tables (Django's and the shop's models).
--                                     Not used by the running site.
--   web role   (default shop_web)     the running site and
--                                     `manage.py stripe_webhook_listen`: edits
--                                     products, carts and cart items, reads
--                                     orders and order items, updates only the
--                                     order columns that are not payment state,
--                                     uses Django's own tables (auth, sessions,
--                                     admin log...), reads order changes and
--                                     moves its listener cursor, and may run
--                                     the binding check.  It cannot create or
--                                     delete orders, change an order's payment
--                                     state, read signing secrets or events,
--                                     or call the webhook handler.
--   stripe_webhook_relay              the webhook view's connection
--                                     (STRIPE_WEBHOOK["WEBHOOK_DATABASE"]):
--                                     may call stripe_handle_webhook() and
--                                     nothing else (as sql/relay_role.sql of
--                                     the extension's repository).
--
-- The fulfilment itself writes as the extension's owner (a superuser:
-- stripe_handle_webhook is SECURITY DEFINER), so none of these roles needs
-- write access to the payment state.
--
-- Run it as a superuser, in the shop's database, AFTER `manage.py migrate`
-- and the binding (`manage.py stripe_webhook_bind`): it reads the bound
-- tables and columns from stripe_webhook.shop_binding.  Running it again is
-- harmless; run it again after a migration that adds or changes a bound
-- table.  Role names can be changed with psql variables:
--
--     psql -d shop -v ON_ERROR_STOP=1 -v web_role=shop_web -v owner_role=shop_owner \
--          -v schema=public -f django-stripe-webhook/sql/roles.sql
--     psql -d shop -c "ALTER ROLE shop_web PASSWORD '...'"   (and the others)
--
-- Roles are cluster-wide, grants per database.

\set ON_ERROR_STOP on
\if :{?web_role}
\else
\set web_role shop_web
\endif
\if :{?owner_role}
\else
\set owner_role shop_owner
\endif
\if :{?schema}
\else
\set schema public
\endif

SELECT set_config('stripe_webhook_roles.web', :'web_role', false) AS _sw_web,
       set_config('stripe_webhook_roles.owner', :'owner_role', false) AS _sw_owner,
       set_config('stripe_webhook_roles.schema', :'schema', false) AS _sw_schema \gset

DO $roles$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY[current_setting('stripe_webhook_roles.owner'),
                             current_setting('stripe_webhook_roles.web'),
                             'stripe_webhook_relay'] LOOP
        IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = r) THEN
            EXECUTE format('CREATE ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION', r);
        END IF;
    END LOOP;
END
$roles$;

-- The webhook's role: the one entry point, nothing else.
GRANT USAGE ON SCHEMA stripe_webhook TO stripe_webhook_relay;
GRANT EXECUTE ON FUNCTION stripe_webhook.stripe_handle_webhook(text, text) TO stripe_webhook_relay;
-- A lock timeout is answered 503 and Stripe retries; never log the
-- statement text (it would hold the body and the signature).
ALTER ROLE stripe_webhook_relay SET lock_timeout = '5s';
ALTER ROLE stripe_webhook_relay SET statement_timeout = '20s';
ALTER ROLE stripe_webhook_relay SET log_min_error_statement = 'panic';

-- The owner role creates the shop's tables in the schema.
GRANT USAGE, CREATE ON SCHEMA :"schema" TO :"owner_role";

-- The web role: Django's and the shop's tables, as a site uses them.  The
-- bound order tables are narrowed below.
GRANT USAGE ON SCHEMA :"schema" TO :"web_role";
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA :"schema" TO :"web_role";
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA :"schema" TO :"web_role";
-- ... and the same for tables later migrations create (re-run this script
-- after a migration that creates or changes a bound order table).
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner_role" IN SCHEMA :"schema"
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO :"web_role";
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner_role" IN SCHEMA :"schema"
    GRANT USAGE, SELECT ON SEQUENCES TO :"web_role";

-- Orders and order items, as bound: the web role reads them; of the order
-- it may update only columns that are not payment state (e.g. the status
-- word for its own shipping workflow, the shipping address, its own extra
-- columns).  Payment state: the id, the user and cart, the Checkout
-- Session, the PaymentIntent, the payment status, currency, amounts,
-- customer e-mail, review reason and timestamps the extension writes.
DO $orders$
DECLARE
    web   text := current_setting('stripe_webhook_roles.web');
    doc   jsonb;
    tbl   regclass;
    cols  text;
BEGIN
    SELECT b.document INTO doc FROM stripe_webhook.shop_binding b WHERE NOT b.builtin;
    IF doc IS NULL THEN
        RAISE EXCEPTION 'the shop is not bound yet'
            USING HINT = 'Run manage.py migrate and manage.py stripe_webhook_bind first (as a superuser).';
    END IF;

    tbl := (doc #>> '{order_items,table}')::regclass;
    EXECUTE format('REVOKE ALL ON TABLE %s FROM %I', tbl, web);
    EXECUTE format('GRANT SELECT ON TABLE %s TO %I', tbl, web);

    tbl := (doc #>> '{orders,table}')::regclass;
    EXECUTE format('REVOKE ALL ON TABLE %s FROM %I', tbl, web);
    EXECUTE format('GRANT SELECT ON TABLE %s TO %I', tbl, web);
    SELECT pg_catalog.string_agg(pg_catalog.quote_ident(a.attname), ', ' ORDER BY a.attnum) INTO cols
    FROM pg_catalog.pg_attribute a
    WHERE a.attrelid = tbl AND a.attnum > 0 AND NOT a.attisdropped
      AND a.attname NOT IN (SELECT c.value
                            FROM pg_catalog.jsonb_each_text(doc #> '{orders,columns}') c
                            WHERE c.key IN ('id', 'user', 'cart', 'checkout_session', 'payment_intent',
                                            'payment_status', 'currency', 'customer_email', 'review_reason',
                                            'amount_subtotal', 'amount_total', 'created_at', 'updated_at'));
    IF cols IS NOT NULL THEN
        EXECUTE format('GRANT UPDATE (%s) ON TABLE %s TO %I', cols, tbl, web);
    END IF;
END
$orders$;

-- Order changes for `manage.py stripe_webhook_listen` (web role).  Not
-- granted: signing_secrets, events, events_overview, rejected_deliveries,
-- the handler, replay, bind_shop.
GRANT USAGE ON SCHEMA stripe_webhook TO :"web_role";
GRANT SELECT ON TABLE stripe_webhook.order_changes TO :"web_role";
GRANT SELECT, INSERT, UPDATE ON TABLE stripe_webhook.order_change_cursors TO :"web_role";

-- The binding check of `manage.py check` (and of migrate, which runs the
-- checks), for both roles: read the stored binding and validate the
-- models' document.  binding_problems() runs with the caller's rights, so
-- the helpers it calls are granted too (those that exist).
GRANT USAGE ON SCHEMA stripe_webhook TO :"owner_role";
GRANT SELECT ON TABLE stripe_webhook.shop_binding TO :"web_role", :"owner_role";
DO $check$
DECLARE
    f text;
BEGIN
    FOREACH f IN ARRAY ARRAY['stripe_webhook.binding_problems(jsonb)', 'stripe_webhook.normalise_binding(jsonb)',
                             'stripe_webhook.builtin_binding()', 'stripe_webhook.currency_exponent(text)'] LOOP
        IF pg_catalog.to_regprocedure(f) IS NOT NULL THEN
            EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO %I, %I', pg_catalog.to_regprocedure(f),
                           current_setting('stripe_webhook_roles.web'), current_setting('stripe_webhook_roles.owner'));
        END IF;
    END LOOP;
END
$check$;
