-- sql/postgrest.sql: expose stripe_webhook to Stripe through PostgREST.
--
-- Run it once per database, after CREATE EXTENSION stripe_webhook, as a
-- superuser (or a role that may create roles and owns the extension):
--
--     psql -d shop -v ON_ERROR_STOP=1 -f sql/postgrest.sql
--
-- Running it again is harmless: it only creates what is missing and resets
-- the function and the grants to what is below.
--
-- What it sets up (PostgREST v10 to v14; see sql/postgrest.conf):
--
--   schema api                      the only schema PostgREST exposes
--   api.stripe_webhook(json)        POST /rpc/stripe_webhook: hands the raw
--                                   body and the Stripe-Signature header to
--                                   stripe_webhook.stripe_handle_webhook()
--                                   and answers with its HTTP status
--   role authenticator              NOINHERIT LOGIN: what PostgREST logs in
--                                   as; it has no rights of its own
--   role web_anon                   NOLOGIN: the anonymous role PostgREST
--                                   switches to for every request (Stripe
--                                   sends no JWT); it may execute
--                                   api.stripe_webhook(json) and nothing else
--   role stripe_webhook_api         NOLOGIN: owns api.stripe_webhook(json);
--                                   may execute the handler and nothing else
--
-- Why the function looks the way it does:
--   * one UNNAMED parameter of type json: PostgREST then passes the request
--     body unchanged (json keeps the exact text; jsonb would reorder keys and
--     drop whitespace, and the signature would no longer match);
--   * VOLATILE: PostgREST runs the request READ WRITE (the event is
--     recorded); a STABLE function would get a read-only transaction;
--   * it returns normally with response.status set, because PostgREST takes
--     the status from that setting only when the function does not raise;
--   * PostgREST lower-cases header names: the key is 'stripe-signature'.
--
-- The password of authenticator is not set here; set it yourself, e.g.
--     ALTER ROLE authenticator PASSWORD '...';
-- and use it in db-uri.  Prefer a UTF8 database: the handler verifies the
-- UTF-8 bytes Stripe signed in any encoding, but a body with characters the
-- database encoding cannot represent is refused before it reaches it.

\set ON_ERROR_STOP on

-- Roles are cluster-wide; create them only if they do not exist yet.
DO $roles$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'authenticator') THEN
        CREATE ROLE authenticator NOINHERIT LOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'web_anon') THEN
        CREATE ROLE web_anon NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'stripe_webhook_api') THEN
        CREATE ROLE stripe_webhook_api NOLOGIN;
    END IF;
END
$roles$;

-- PostgREST switches from authenticator to web_anon with SET LOCAL ROLE.
GRANT web_anon TO authenticator;

-- The owner of the endpoint may call the handler, and nothing else.
GRANT USAGE ON SCHEMA stripe_webhook TO stripe_webhook_api;
GRANT EXECUTE ON FUNCTION stripe_webhook.stripe_handle_webhook(text, text) TO stripe_webhook_api;

-- The exposed schema.  Functions created in it by this role are not
-- executable by PUBLIC unless granted (PostgreSQL's default is the opposite).
CREATE SCHEMA IF NOT EXISTS api;
ALTER DEFAULT PRIVILEGES IN SCHEMA api REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;

-- POST /rpc/stripe_webhook.  SECURITY DEFINER so that web_anon needs no
-- right on the extension's schema; search_path is pinned so that nothing
-- from the request's search_path ("api", "public") is ever looked up.
CREATE OR REPLACE FUNCTION api.stripe_webhook(json)
RETURNS jsonb
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER
SET search_path = ''
AS $fn$
DECLARE
    -- request.headers is '' (not NULL) on a connection that served a
    -- request before, and unset outside PostgREST: treat both as "none".
    headers json := NULLIF(pg_catalog.current_setting('request.headers', true), '')::json;
    result  jsonb;
BEGIN
    -- $1::text is the request body exactly as received.
    result := stripe_webhook.stripe_handle_webhook($1::text, headers ->> 'stripe-signature');
    -- The HTTP status PostgREST answers with (transaction-local).
    PERFORM pg_catalog.set_config('response.status', result ->> 'status', true);
    RETURN result;
END
$fn$;

ALTER FUNCTION api.stripe_webhook(json) OWNER TO stripe_webhook_api;
REVOKE ALL ON FUNCTION api.stripe_webhook(json) FROM PUBLIC;
GRANT USAGE ON SCHEMA api TO web_anon;
GRANT EXECUTE ON FUNCTION api.stripe_webhook(json) TO web_anon;
COMMENT ON FUNCTION api.stripe_webhook(json) IS
    'PostgREST endpoint POST /rpc/stripe_webhook for Stripe webhooks: verifies, records and processes the event; HTTP status from stripe_webhook.stripe_handle_webhook().';

-- Optional: keep a delivery within Stripe's timeout even if a cart row is
-- locked for long.  PostgREST (v12+) applies role settings per request; a
-- lock timeout is answered with 503 and Stripe retries.
--     ALTER ROLE web_anon SET lock_timeout = '5s';
--     ALTER ROLE web_anon SET statement_timeout = '20s';

-- Tell a running PostgREST to reload its schema cache (else 404 PGRST202).
NOTIFY pgrst, 'reload schema';
