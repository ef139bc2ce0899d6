-- Least privilege and the PostgREST endpoint: the webhook objects' shape and
-- privileges, the relay role (sql/relay_role.sql) and web_anon
-- (sql/postgrest.sql) can call their one entry point and nothing else, and a
-- caller's search_path cannot slip its own functions or operators into the
-- SECURITY DEFINER code.
BEGIN;
\ir lib/webhook_setup.psql
SELECT plan(69);

---------------------------------------------------------------------------
-- Objects, shapes, registration for pg_dump.
---------------------------------------------------------------------------
SELECT has_table('stripe_webhook', 'signing_secrets', 'signing_secrets exists');
SELECT has_table('stripe_webhook', 'events', 'events exists');
SELECT has_table('stripe_webhook', 'rejected_deliveries', 'rejected_deliveries exists');
SELECT has_view('stripe_webhook', 'events_overview', 'events_overview exists');
SELECT columns_are('stripe_webhook', 'signing_secrets',
                   ARRAY['id', 'secret', 'description', 'created_at', 'expires_at'], 'signing_secrets columns');
SELECT col_not_null('stripe_webhook', 'signing_secrets', 'secret', 'secret is NOT NULL');
SELECT col_is_null('stripe_webhook', 'signing_secrets', 'expires_at', 'expires_at may be NULL (never expires)');
SELECT columns_are('stripe_webhook', 'events',
                   ARRAY['id', 'type', 'api_version', 'livemode', 'created', 'session_id', 'order_id', 'received_at',
                         'processed_at', 'status', 'attempts', 'last_attempt_at', 'last_error', 'last_sqlstate', 'payload'],
                   'events columns');
SELECT col_is_pk('stripe_webhook', 'events', 'id', 'events.id is the primary key');
SELECT col_type_is('stripe_webhook', 'events', 'payload', 'jsonb', 'events.payload is jsonb');
SELECT throws_ok($$INSERT INTO stripe_webhook.events (id, type, status, payload) VALUES ('evt_x', 't', 'done', '{}')$$,
                 '23514', NULL, 'events.status is checked');
SELECT throws_ok($$INSERT INTO stripe_webhook.events (id, type, status, processed_at, payload) VALUES ('evt_x', 't', 'done', now(), '{}')$$,
                 '23514', NULL, 'events.status is checked for processed events too');
SELECT throws_ok($$INSERT INTO stripe_webhook.events (id, type, status, payload) VALUES ('evt_x', 't', 'processed', '{}')$$,
                 '23514', NULL, 'a processed event has processed_at');
SELECT is((SELECT tgenabled::text FROM pg_trigger
           WHERE tgrelid = 'stripe_webhook.signing_secrets'::regclass AND tgname = 'signing_secrets_changed'),
          'A', 'signing_secrets has the cache-invalidation trigger, enabled ALWAYS (replication apply too)');
SELECT is((SELECT (tgtype & 1 = 0) AND (tgtype & 60 = 60) FROM pg_trigger
           WHERE tgrelid = 'stripe_webhook.signing_secrets'::regclass AND tgname = 'signing_secrets_changed'),
          true, 'it fires per statement on INSERT, UPDATE, DELETE and TRUNCATE');
SELECT throws_ok($$INSERT INTO stripe_webhook.signing_secrets (secret) VALUES ('')$$,
                 '23514', NULL, 'an empty secret cannot be stored');
SELECT throws_ok($$INSERT INTO stripe_webhook.signing_secrets (secret) VALUES (E' \t\r\n')$$,
                 '23514', NULL, 'a blank secret cannot be stored');
SELECT is((SELECT array_agg(c::regclass::text ORDER BY c::regclass::text)
           FROM pg_extension e, unnest(e.extconfig) c
           WHERE e.extname = 'stripe_webhook'
             AND c::regclass::text IN ('stripe_webhook.signing_secrets', 'stripe_webhook.signing_secrets_id_seq',
                                       'stripe_webhook.events', 'stripe_webhook.rejected_deliveries')),
          ARRAY['stripe_webhook.events', 'stripe_webhook.rejected_deliveries', 'stripe_webhook.signing_secrets',
                'stripe_webhook.signing_secrets_id_seq'],
          'user data (secrets, events, counters) is registered with pg_extension_config_dump');

-- The two functions: SECURITY DEFINER, search_path pinned, VOLATILE, not
-- STRICT, nothing granted to PUBLIC.
SELECT is((SELECT array_agg(p.proname || ':' || p.prosecdef || ':' || p.provolatile::text || ':' || p.proisstrict || ':'
                            || array_to_string(p.proconfig, ',') ORDER BY p.proname)
           FROM pg_proc p WHERE p.pronamespace = 'stripe_webhook'::regnamespace
             AND p.proname IN ('stripe_handle_webhook', 'stripe_replay_event')),
          ARRAY['stripe_handle_webhook:true:v:false:search_path=""', 'stripe_replay_event:true:v:false:search_path=""'],
          'handler and replay: SECURITY DEFINER, VOLATILE, not STRICT, search_path pinned to empty');
SELECT function_returns('stripe_webhook', 'stripe_handle_webhook', ARRAY['text', 'text'], 'jsonb',
                        'stripe_handle_webhook(text, text) returns jsonb');
SELECT is((SELECT proargnames FROM pg_proc WHERE oid = 'stripe_webhook.stripe_handle_webhook(text,text)'::regprocedure),
          ARRAY['payload', 'signature_header'], 'parameter names payload, signature_header');
SELECT ok(NOT has_function_privilege('public', 'stripe_webhook.stripe_handle_webhook(text,text)', 'EXECUTE'),
          'PUBLIC cannot execute stripe_handle_webhook');
SELECT ok(NOT has_function_privilege('public', 'stripe_webhook.stripe_replay_event(text)', 'EXECUTE'),
          'PUBLIC cannot execute stripe_replay_event');
SELECT is((SELECT count(*) FROM pg_class c, aclexplode(c.relacl) a
           WHERE c.relnamespace = 'stripe_webhook'::regnamespace AND a.grantee = 0
             AND c.relname IN ('signing_secrets', 'signing_secrets_id_seq', 'events', 'rejected_deliveries', 'events_overview')),
          0::bigint, 'PUBLIC has no privilege on the webhook tables, sequence or view');

---------------------------------------------------------------------------
-- The scripts users run: relay role and PostgREST endpoint (twice: they are
-- idempotent).
---------------------------------------------------------------------------
\ir ../../sql/relay_role.sql
\ir ../../sql/postgrest.sql
\ir ../../sql/relay_role.sql
\ir ../../sql/postgrest.sql

SELECT is((SELECT row(rolcanlogin, rolinherit, rolsuper)::text FROM pg_roles WHERE rolname = 'authenticator'),
          '(t,f,f)', 'authenticator: LOGIN NOINHERIT, not superuser');
SELECT is((SELECT row(rolcanlogin, rolsuper)::text FROM pg_roles WHERE rolname = 'web_anon'),
          '(f,f)', 'web_anon: NOLOGIN');
SELECT ok(pg_has_role('authenticator', 'web_anon', 'MEMBER'), 'authenticator can switch to web_anon');
SELECT ok(NOT pg_has_role('authenticator', 'web_anon', 'USAGE'), 'but has none of its rights without switching');
SELECT is((SELECT row(rolcanlogin, rolsuper, rolcreaterole, rolcreatedb)::text FROM pg_roles WHERE rolname = 'stripe_webhook_relay'),
          '(t,f,f,f)', 'stripe_webhook_relay: LOGIN, nothing else');

-- The shape PostgREST needs: api.stripe_webhook with a single unnamed json
-- parameter, VOLATILE.
SELECT is((SELECT row(p.pronargs, p.proargnames IS NULL, p.proargtypes[0]::regtype::text, p.provolatile, p.prosecdef,
                      array_to_string(p.proconfig, ','), p.prorettype::regtype::text)::text
           FROM pg_proc p WHERE p.pronamespace = 'api'::regnamespace AND p.proname = 'stripe_webhook'),
          '(1,t,json,v,t,"search_path=""""",jsonb)',
          'api.stripe_webhook: one unnamed json parameter, VOLATILE, SECURITY DEFINER, search_path pinned');
SELECT is((SELECT count(*) FROM pg_proc WHERE pronamespace = 'api'::regnamespace AND proname = 'stripe_webhook'),
          1::bigint, 'exactly one api.stripe_webhook (no overload PostgREST could find ambiguous)');

-- The only functions of the extension PUBLIC may execute are the pure
-- signature helpers and currency_exponent (they read no table and know no
-- secret); none is SECURITY DEFINER.  A role without USAGE on the schema (web_anon)
-- cannot reach them at all.
SELECT is((SELECT count(*) FROM pg_proc p
           WHERE p.pronamespace IN ('stripe_webhook'::regnamespace, 'api'::regnamespace)
             AND has_function_privilege('public', p.oid, 'EXECUTE') AND p.prosecdef),
          0::bigint, 'no SECURITY DEFINER function is executable by PUBLIC');
SELECT ok((SELECT bool_and(p.proname IN ('stripe_verify_signature', 'stripe_verify_signature_strict',
                                         'stripe_signature_failure', 'stripe_signature_header',
                                         'currency_exponent'))
           FROM pg_proc p
           WHERE p.pronamespace IN ('stripe_webhook'::regnamespace, 'api'::regnamespace)
             AND has_function_privilege('public', p.oid, 'EXECUTE')),
          'PUBLIC may execute only the pure signature and currency functions');

-- What each role may do beyond what PUBLIC may.
CREATE TEMP VIEW role_privs AS
SELECT r.rolname,
       (SELECT array_agg(p.oid::regprocedure::text ORDER BY p.oid::regprocedure::text) FROM pg_proc p
        WHERE p.pronamespace IN ('stripe_webhook'::regnamespace, 'api'::regnamespace)
          AND has_function_privilege(r.oid, p.oid, 'EXECUTE')
          AND NOT has_function_privilege('public', p.oid, 'EXECUTE')) AS functions,
       (SELECT count(*) FROM pg_class c
        WHERE c.relnamespace IN ('stripe_webhook'::regnamespace, 'api'::regnamespace)
          AND c.relkind IN ('r', 'v', 'S', 'p')
          AND (has_table_privilege(r.oid, c.oid, 'SELECT') OR has_table_privilege(r.oid, c.oid, 'INSERT')
               OR has_table_privilege(r.oid, c.oid, 'UPDATE') OR has_table_privilege(r.oid, c.oid, 'DELETE')
               OR has_table_privilege(r.oid, c.oid, 'TRUNCATE') OR has_table_privilege(r.oid, c.oid, 'REFERENCES')
               OR has_table_privilege(r.oid, c.oid, 'TRIGGER'))) AS relations,
       has_schema_privilege(r.oid, 'stripe_webhook', 'USAGE') AS usage_ext,
       has_schema_privilege(r.oid, 'api', 'USAGE') AS usage_api,
       has_schema_privilege(r.oid, 'public', 'CREATE') OR has_schema_privilege(r.oid, 'api', 'CREATE')
           OR has_schema_privilege(r.oid, 'stripe_webhook', 'CREATE') AS can_create
FROM pg_roles r;

SELECT is((SELECT functions FROM role_privs WHERE rolname = 'stripe_webhook_relay'),
          ARRAY['stripe_webhook.stripe_handle_webhook(text,text)'],
          'the relay role can execute stripe_handle_webhook and no other function (beyond the pure ones)');
SELECT is((SELECT relations FROM role_privs WHERE rolname = 'stripe_webhook_relay'), 0::bigint,
          'the relay role has no privilege on any table, view or sequence');
SELECT is((SELECT row(usage_ext, can_create)::text FROM role_privs WHERE rolname = 'stripe_webhook_relay'),
          '(t,f)', 'the relay role may look up the extension''s schema and create nothing');
SELECT is((SELECT functions FROM role_privs WHERE rolname = 'web_anon'), ARRAY['api.stripe_webhook(json)'],
          'web_anon can execute api.stripe_webhook(json) and nothing else');
SELECT is((SELECT row(relations, usage_ext, usage_api, can_create)::text FROM role_privs WHERE rolname = 'web_anon'),
          '(0,f,t,f)', 'web_anon: no table, no extension schema, USAGE on api only, cannot create');
SELECT is((SELECT row(functions IS NULL, relations, usage_ext, can_create)::text FROM role_privs WHERE rolname = 'authenticator'),
          '(t,0,f,f)', 'authenticator on its own: nothing');
SELECT is((SELECT functions FROM role_privs WHERE rolname = 'stripe_webhook_api'),
          ARRAY['api.stripe_webhook(json)', 'stripe_webhook.stripe_handle_webhook(text,text)'],
          'stripe_webhook_api (owner of the endpoint) can call the handler and nothing else');
SELECT is((SELECT relations FROM role_privs WHERE rolname = 'stripe_webhook_api'), 0::bigint,
          'stripe_webhook_api has no table privilege');

---------------------------------------------------------------------------
-- Proving the denials by trying, as each role.
---------------------------------------------------------------------------
-- Run a query as a role (and search_path), return its first column as
-- text, or 'ERROR <SQLSTATE>'.  Everything it did is rolled back.
CREATE FUNCTION wh_test.as_role(r text, q text, path text DEFAULT 'public')
RETURNS text LANGUAGE plpgsql SET search_path = pg_catalog
AS $$
DECLARE
    res text;
BEGIN
    BEGIN
        PERFORM pg_catalog.set_config('role', r, true);
        PERFORM pg_catalog.set_config('search_path', path, true);
        EXECUTE q INTO res;
        RAISE SQLSTATE 'WHT01' USING MESSAGE = coalesce(res, '<NULL>');
    EXCEPTION WHEN OTHERS THEN
        IF SQLSTATE OPERATOR(pg_catalog.=) 'WHT01' THEN
            RETURN SQLERRM;
        END IF;
        RETURN 'ERROR ' OPERATOR(pg_catalog.||) SQLSTATE;
    END;
END
$$;

SELECT wh_test.make_cart(34001, '34001');
CREATE TEMP TABLE ev AS
SELECT wh_test.event('paid', 'evt_priv1', 'cs_test_priv1', 34001, '34001') AS body,
       stripe_webhook.stripe_signature_header(wh_test.event('paid', 'evt_priv1', 'cs_test_priv1', 34001, '34001'),
                                              wh_test.secret()) AS sig;
GRANT SELECT ON ev TO PUBLIC;

SELECT is(wh_test.as_role('stripe_webhook_relay',
              $$SELECT stripe_webhook.stripe_handle_webhook(body, sig) ->> 'status' FROM ev$$),
          '200', 'the relay role can deliver an event');
SELECT is(wh_test.as_role('stripe_webhook_relay', $$SELECT secret FROM stripe_webhook.signing_secrets$$),
          'ERROR 42501', 'the relay role cannot read signing_secrets');
SELECT is(wh_test.as_role('stripe_webhook_relay', $$INSERT INTO stripe_webhook.signing_secrets (secret) VALUES ('whsec_mine') RETURNING 'x'$$),
          'ERROR 42501', 'the relay role cannot add a signing secret');
SELECT is(wh_test.as_role('stripe_webhook_relay', $$SELECT count(*) FROM stripe_webhook.events$$),
          'ERROR 42501', 'the relay role cannot read events');
SELECT is(wh_test.as_role('stripe_webhook_relay', $$SELECT count(*) FROM stripe_webhook.events_overview$$),
          'ERROR 42501', 'the relay role cannot read the on-call view');
SELECT is(wh_test.as_role('stripe_webhook_relay', $$SELECT count(*) FROM stripe_webhook.orders$$),
          'ERROR 42501', 'the relay role cannot read orders');
SELECT is(wh_test.as_role('stripe_webhook_relay', $$SELECT count(*) FROM stripe_webhook.products$$),
          'ERROR 42501', 'the relay role cannot read products');
SELECT is(wh_test.as_role('stripe_webhook_relay', $$SELECT count(*) FROM stripe_webhook.carts$$),
          'ERROR 42501', 'the relay role cannot read carts');
SELECT is(wh_test.as_role('stripe_webhook_relay', $$UPDATE stripe_webhook.products SET stock = 0 RETURNING 'x'$$),
          'ERROR 42501', 'the relay role cannot change stock');
SELECT is(wh_test.as_role('stripe_webhook_relay', $$SELECT stripe_webhook.stripe_replay_event('evt_priv1')::text$$),
          'ERROR 42501', 'the relay role cannot replay events');
SELECT is(wh_test.as_role('stripe_webhook_relay', $$SELECT stripe_webhook.stripe_fulfill_session('{}')::text$$),
          'ERROR 42501', 'the relay role cannot call stripe_fulfill_session');
SELECT is(wh_test.as_role('stripe_webhook_relay', $$SELECT api.stripe_webhook('{}')::text$$),
          'ERROR 42501', 'the relay role cannot call the PostgREST endpoint');

-- web_anon, as PostgREST runs it: headers in request.headers.
SELECT set_config('request.headers',
                  json_build_object('content-type', 'application/json', 'stripe-signature', (SELECT sig FROM ev))::text, true);
SELECT is(wh_test.as_role('web_anon',
              $$SELECT (api.stripe_webhook(body::json)
                        OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object('response.status', pg_catalog.current_setting('response.status')))::text
                FROM ev$$)::jsonb - 'order_id' - 'message',
          '{"status": 200, "response.status": "200", "event_id": "evt_priv1", "event_type": "checkout.session.completed"}'::jsonb,
          'web_anon through api.stripe_webhook: 200, and response.status is set to 200');
SELECT is(wh_test.as_role('web_anon', $$SELECT stripe_webhook.stripe_handle_webhook(body, sig)::text FROM ev$$),
          'ERROR 42501', 'web_anon cannot call the handler directly');
SELECT is(wh_test.as_role('web_anon', $$SELECT stripe_webhook.stripe_signature_header('x', 'whsec_x')$$),
          'ERROR 42501', 'web_anon cannot reach even the pure signature functions');
SELECT is(wh_test.as_role('web_anon', $$SELECT count(*) FROM stripe_webhook.events$$),
          'ERROR 42501', 'web_anon cannot read events');
SELECT is(wh_test.as_role('web_anon', $$SELECT secret FROM stripe_webhook.signing_secrets$$),
          'ERROR 42501', 'web_anon cannot read signing_secrets');
SELECT is(wh_test.as_role('web_anon', $$SELECT count(*) FROM stripe_webhook.orders$$),
          'ERROR 42501', 'web_anon cannot read orders');

-- The endpoint without the header, or with PostgREST's '' after a request.
SELECT set_config('request.headers', '{"content-type": "application/json"}', true);
SELECT is(wh_test.as_role('web_anon',
              $$SELECT (api.stripe_webhook(body::json) ->> 'status') OPERATOR(pg_catalog.||) '/'
                       OPERATOR(pg_catalog.||) pg_catalog.current_setting('response.status') FROM ev$$),
          '400/400', 'no stripe-signature header: 400, response.status 400');
SELECT set_config('request.headers', '', true);
SELECT is(wh_test.as_role('web_anon',
              $$SELECT (api.stripe_webhook(body::json) ->> 'status') FROM ev$$),
          '400', 'request.headers empty string: 400, no cast error');
SELECT set_config('request.headers',
                  json_build_object('Stripe-Signature', (SELECT sig FROM ev))::text, true);
SELECT is(wh_test.as_role('web_anon', $$SELECT (api.stripe_webhook(body::json) ->> 'status') FROM ev$$),
          '400', 'the header is read lower-case only, as PostgREST delivers it');

---------------------------------------------------------------------------
-- search_path: a caller's own objects are never used by the handler.
---------------------------------------------------------------------------
-- An attacker's schema, first on the caller's search_path, with functions
-- and operators that would let an expired secret verify (a "now" in 1990, a
-- ">" that is always true), make id lookups match any row ("=" always
-- true) or forge the header.  Each counts its calls in a sequence, which no
-- rollback undoes.
CREATE SCHEMA evil;
CREATE SEQUENCE evil.calls;
GRANT USAGE ON SCHEMA evil TO PUBLIC;
GRANT USAGE, SELECT ON evil.calls TO PUBLIC;
CREATE FUNCTION evil.now() RETURNS timestamptz LANGUAGE sql
AS $$ SELECT pg_catalog.nextval('evil.calls'); SELECT '1990-01-01'::timestamptz $$;
CREATE FUNCTION evil.gt(timestamptz, timestamptz) RETURNS boolean LANGUAGE sql
AS $$ SELECT pg_catalog.nextval('evil.calls'); SELECT true $$;
CREATE OPERATOR evil.> (LEFTARG = timestamptz, RIGHTARG = timestamptz, FUNCTION = evil.gt);
CREATE FUNCTION evil.eq(text, text) RETURNS boolean LANGUAGE sql
AS $$ SELECT pg_catalog.nextval('evil.calls'); SELECT true $$;
CREATE OPERATOR evil.= (LEFTARG = text, RIGHTARG = text, FUNCTION = evil.eq);
CREATE FUNCTION evil.current_setting(text, boolean) RETURNS text LANGUAGE sql
AS $$ SELECT pg_catalog.nextval('evil.calls'); SELECT '{"stripe-signature": "forged"}'::text $$;
CREATE FUNCTION evil.arrow(json, text) RETURNS text LANGUAGE sql
AS $$ SELECT pg_catalog.nextval('evil.calls'); SELECT 'forged'::text $$;
CREATE OPERATOR evil.->> (LEFTARG = json, RIGHTARG = text, FUNCTION = evil.arrow);
CREATE FUNCTION evil.set_config(text, text, boolean) RETURNS text LANGUAGE sql
AS $$ SELECT pg_catalog.nextval('evil.calls'); SELECT $2 $$;

-- Only an expired secret.
UPDATE stripe_webhook.signing_secrets SET expires_at = now() - interval '1 hour';
SELECT is(wh_test.as_role('stripe_webhook_relay',
              $$SELECT stripe_webhook.stripe_handle_webhook(body, sig)::text FROM ev$$,
              'evil, pg_catalog, public')::jsonb,
          '{"status": 500, "message": "webhook secret not configured"}'::jsonb,
          'an expired secret stays expired whatever the caller''s search_path holds');
UPDATE stripe_webhook.signing_secrets SET expires_at = NULL;
SELECT is(wh_test.deliver((SELECT body FROM ev)) ->> 'status', '200', 'delivered once (as the owner)');
SELECT set_config('request.headers',
                  json_build_object('stripe-signature', (SELECT sig FROM ev))::text, true);
SELECT is(wh_test.as_role('web_anon',
              $$SELECT api.stripe_webhook(body::json)::text FROM ev$$, 'evil, pg_catalog, api, public')::jsonb ->> 'message',
          'already processed', 'the PostgREST endpoint ignores the caller''s search_path too');
SELECT is(wh_test.as_role('stripe_webhook_relay',
              $$SELECT (stripe_webhook.stripe_handle_webhook(body, sig) ->> 'message')::text FROM ev$$,
              'evil, pg_catalog, public'),
          'already processed', 'an id lookup is not fooled by a caller''s "=" operator');
SELECT is((SELECT is_called FROM evil.calls), false, 'none of the attacker''s functions or operators was ever called');
-- Control: the same objects do capture unqualified code running on that
-- search_path.
SELECT is(wh_test.as_role('stripe_webhook_relay', $$SELECT (now() > now())::text$$, 'evil, pg_catalog, public'),
          'true', 'control: on that search_path, unpinned code would use the attacker''s now() and ">"');
SELECT is((SELECT is_called FROM evil.calls), true, 'control: and the call counter sees it');

SELECT * FROM finish();
ROLLBACK;
