-- sql/relay_role.sql: the least-privilege login role for a relay.
--
-- A relay (the C relay in relay/, or a Django view) does exactly one thing:
-- it passes the raw request body and the Stripe-Signature header to
-- stripe_webhook.stripe_handle_webhook() and answers Stripe with the
-- returned status.  The role it logs in as needs nothing else: it cannot
-- read the signing secrets, the event inbox or any shop table, cannot
-- call any other function of the extension, and cannot create temporary
-- tables (see the end of this script: that takes TEMPORARY on the database
-- away from PUBLIC).  The handler is SECURITY
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

-- No temporary tables.  The relay runs one prepared statement and needs no
-- scratch space; a role that may CREATE TEMP TABLE can fill the server's
-- disk (temp_tablespaces) or its catalogs with objects no one else sees.
-- TEMPORARY is a database privilege that PostgreSQL grants to PUBLIC by
-- default, and a privilege PUBLIC holds cannot be revoked from one role
-- alone: REVOKE ... FROM stripe_webhook_relay would change nothing.  So:
--
--   1. every role that exists now (other than this one, superusers, which
--      bypass privileges anyway, and the built-in pg_* roles) is granted
--      TEMPORARY on this database explicitly, so that none of them loses
--      what it had through PUBLIC;
--   2. TEMPORARY is revoked from PUBLIC on this database.
--
-- Only this database changes (other databases keep PUBLIC's TEMPORARY).
-- The price: a role created after this script has no TEMPORARY here unless
-- granted it (GRANT TEMPORARY ON DATABASE shop TO that_role).  Applications
-- rarely need temporary tables; those that do (some ORMs' bulk paths, report
-- queries) need that GRANT.  The alternative, leaving PUBLIC's TEMPORARY in
-- place, would leave the relay's role able to create temporary tables.
--
-- The steps run only while PUBLIC still has TEMPORARY: running the script
-- again grants nothing to roles created since.  Should this role hold
-- TEMPORARY some other way (a direct grant is revoked below; membership in
-- a role that has it is not undone), the script stops with an error.
DO $temp$
DECLARE
    r record;
BEGIN
    IF pg_catalog.has_database_privilege('public', pg_catalog.current_database(), 'TEMPORARY') THEN
        FOR r IN
            SELECT rolname FROM pg_catalog.pg_roles
            WHERE rolname <> 'stripe_webhook_relay' AND rolname !~ '^pg_' AND NOT rolsuper
        LOOP
            EXECUTE pg_catalog.format('GRANT TEMPORARY ON DATABASE %I TO %I',
                                      pg_catalog.current_database(), r.rolname);
        END LOOP;
        EXECUTE pg_catalog.format('REVOKE TEMPORARY ON DATABASE %I FROM PUBLIC',
                                  pg_catalog.current_database());
    END IF;
    EXECUTE pg_catalog.format('REVOKE TEMPORARY ON DATABASE %I FROM stripe_webhook_relay',
                              pg_catalog.current_database());
    IF pg_catalog.has_database_privilege('stripe_webhook_relay', pg_catalog.current_database(), 'TEMPORARY') THEN
        RAISE EXCEPTION 'role stripe_webhook_relay can still create temporary tables in database %',
            pg_catalog.current_database()
            USING HINT = 'It holds TEMPORARY through membership in another role: revoke that membership.';
    END IF;
END
$temp$;
