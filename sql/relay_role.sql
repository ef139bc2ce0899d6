-- sql/relay_role.sql: the least-privilege login role for a relay.
--
-- A relay (the C relay in relay/, or a Django view) does exactly one thing:
-- it passes the raw request body and the Stripe-Signature header to
-- stripe_webhook.stripe_handle_webhook() and answers Stripe with the
-- returned status.  The role it logs in as needs nothing else: it cannot
-- read the signing secrets, the event inbox or any shop table, and cannot
-- call any other function of the extension.  The handler is SECURITY
-- DEFINER with a pinned search_path and does the rest as the extension's
-- owner.
--
-- Run it once per database, after CREATE EXTENSION stripe_webhook, as a
-- superuser (or a role that may create roles and owns the extension):
--
--     psql -d shop -v ON_ERROR_STOP=1 -f sql/relay_role.sql
--     psql -d shop -c "ALTER ROLE stripe_webhook_relay PASSWORD '...'"
--
-- Running it again is harmless.  The role is cluster-wide; the grants are
-- per database, so run the script in every database that has the
-- extension.

\set ON_ERROR_STOP on

DO $role$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'stripe_webhook_relay') THEN
        CREATE ROLE stripe_webhook_relay LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION;
    END IF;
END
$role$;

-- Look up names in the extension's schema, and call the one entry point.
GRANT USAGE ON SCHEMA stripe_webhook TO stripe_webhook_relay;
GRANT EXECUTE ON FUNCTION stripe_webhook.stripe_handle_webhook(text, text) TO stripe_webhook_relay;

-- A relay that waits on a locked cart for longer than Stripe waits for an
-- answer helps nobody: a lock timeout is answered with 503, Stripe retries.
ALTER ROLE stripe_webhook_relay SET lock_timeout = '5s';
ALTER ROLE stripe_webhook_relay SET statement_timeout = '20s';

-- A client library that inlines parameters into the SQL text (psycopg2 does)
-- sends the whole body and the signature as literals.  Should such a
-- statement fail (a timeout, a restart), the server would log its text at
-- the default log_min_error_statement = error.  Never for this role.
ALTER ROLE stripe_webhook_relay SET log_min_error_statement = 'panic';
