-- Hostile input catalogue, straight against stripe_handle_webhook(): every
-- body below is correctly signed with stripe_signature_header() (unless the
-- signature itself is the attack), so each one gets past the signature
-- check and reaches the parsers.  Each case asserts, in ONE comparison,
-- the answer (HTTP status, and the message or SQLSTATE) AND what was
-- written:
--   shop      "unchanged": orders, order items, carts, cart items, stock
--             and recorded session outcomes exactly as before
--   recorded  events whose row appeared or changed, with status/SQLSTATE
--             (a permanent error is recorded as failed, by design, so that
--             Stripe's dashboard shows it; nothing else is)
--   counted   the rejected_deliveries reason that was counted, if any
-- The few cases that must be accepted (hostile-looking data that is just
-- data) come last and check what was stored.
-- NUL bytes and invalid UTF-8 cannot reach the function at all (text cannot
-- carry them); the relay refuses them with 400 (test/e2e/82_hostile_http.t).
BEGIN;
SET client_min_messages = error;
SELECT plan(88);

\set fx `cat test/fixtures/event.checkout.session.completed.paid.json`

CREATE SCHEMA hostile;
CREATE TABLE hostile.fx (body text NOT NULL);
INSERT INTO hostile.fx VALUES (:'fx');

CREATE FUNCTION hostile.secret() RETURNS text LANGUAGE sql IMMUTABLE
AS $$ SELECT 'whsec_hostile_0123456789abcdefghijklmnopqr'::text $$;
INSERT INTO stripe_webhook.signing_secrets (secret, description) VALUES (hostile.secret(), 'pgTAP hostile');

INSERT INTO stripe_webhook.products (id, name, price_amount, currency, stock) VALUES
    (9101, 'Hostile mug', 1500, 'usd', 10),
    (9102, 'Hostile shirt', 2500, 'usd', 10);

-- Carts of 2 x 9101 + 1 x 9102 (5500 usd, the fixture's subtotal).
CREATE FUNCTION hostile.cart(cart bigint, usr text) RETURNS void LANGUAGE sql
AS $$
    INSERT INTO stripe_webhook.carts (id, user_id) VALUES (cart, usr);
    INSERT INTO stripe_webhook.cart_items (cart_id, product_id, quantity) VALUES (cart, 9101, 2), (cart, 9102, 1);
$$;
DO $$
BEGIN
    PERFORM hostile.cart(9201, '900001'), hostile.cart(9202, '900002'), hostile.cart(9203, '900003'),
            hostile.cart(9205, '900004'), hostile.cart(9206, '900005');
END
$$;

-- The fixture event with its ids and metadata replaced (as jsonb).
CREATE FUNCTION hostile.ev(evt text, cs text, meta jsonb) RETURNS jsonb LANGUAGE sql STABLE
AS $$
    SELECT jsonb_set(jsonb_set(jsonb_set(f.body::jsonb, '{id}', to_jsonb(evt)),
                               '{data,object,id}', to_jsonb(cs)),
                     '{data,object,metadata}', meta)
    FROM hostile.fx f
$$;

-- A well-formed event for a user's cart, as jsonb.
CREATE FUNCTION hostile.ok(evt text, usr text, cart text) RETURNS jsonb LANGUAGE sql STABLE
AS $$ SELECT hostile.ev(evt, 'cs_test_' || substr(evt, 5), jsonb_build_object('user_id', usr, 'cart_id', cart)) $$;

-- Everything a delivery could change in the shop.
CREATE FUNCTION hostile.shop() RETURNS jsonb LANGUAGE sql STABLE
AS $$
    SELECT jsonb_build_object(
        'orders', (SELECT coalesce(jsonb_agg(o.checkout_session_id || '/' || o.status ORDER BY o.checkout_session_id), '[]')
                   FROM stripe_webhook.orders o),
        'order_items', (SELECT count(*) FROM stripe_webhook.order_items),
        'carts', (SELECT jsonb_agg(c.id || '/' || c.user_id || '/' || c.locked ORDER BY c.id) FROM stripe_webhook.carts c),
        'cart_items', (SELECT jsonb_agg(ci.cart_id || '/' || ci.product_id || '/' || ci.quantity ORDER BY ci.cart_id, ci.product_id)
                       FROM stripe_webhook.cart_items ci),
        'stock', (SELECT jsonb_agg(p.id || '/' || p.stock ORDER BY p.id) FROM stripe_webhook.products p),
        'sessions', (SELECT count(*) FROM stripe_webhook.checkout_sessions))
$$;

CREATE FUNCTION hostile.inbox() RETURNS jsonb LANGUAGE sql STABLE
AS $$
    SELECT coalesce(jsonb_object_agg(e.id, e.status || '/' || e.attempts || '/' || coalesce(e.last_sqlstate, '-')), '{}')
    FROM stripe_webhook.events e
$$;

CREATE FUNCTION hostile.counters() RETURNS jsonb LANGUAGE sql STABLE
AS $$ SELECT coalesce(jsonb_object_agg(r.reason, r.count), '{}') FROM stripe_webhook.rejected_deliveries r $$;

-- Deliver body with header (default: a correct signature made now) and
-- report the answer together with everything it wrote.
CREATE FUNCTION hostile.try(body text, header text DEFAULT NULL) RETURNS jsonb LANGUAGE plpgsql
AS $$
DECLARE
    shop0 jsonb := hostile.shop();
    inbox0 jsonb := hostile.inbox();
    count0 jsonb := hostile.counters();
    r jsonb;
    res jsonb;
BEGIN
    r := stripe_webhook.stripe_handle_webhook(
             body, coalesce(header, stripe_webhook.stripe_signature_header(body, hostile.secret())));
    res := jsonb_build_object('status', (r ->> 'status')::int,
                              'shop', CASE WHEN hostile.shop() = shop0 THEN 'unchanged' ELSE 'CHANGED' END);
    IF (r ->> 'status')::int = 422 THEN
        res := res || jsonb_build_object('sqlstate', r -> 'sqlstate');
    ELSE
        res := res || jsonb_build_object('message', r -> 'message');
    END IF;
    res := res || jsonb_build_object('recorded',
        (SELECT coalesce(jsonb_object_agg(k, split_part(v, '/', 1) || '/' || split_part(v, '/', 3)), '{}')
         FROM jsonb_each_text(hostile.inbox()) AS a(k, v)
         WHERE inbox0 -> k IS DISTINCT FROM to_jsonb(v)));
    IF hostile.counters() <> count0 THEN
        res := res || jsonb_build_object('counted',
            (SELECT string_agg(k, ',') FROM jsonb_each(hostile.counters()) AS a(k, v)
             WHERE count0 -> k IS DISTINCT FROM v));
    END IF;
    RETURN res;
END
$$;

CREATE TEMP TABLE start AS SELECT hostile.shop() AS shop;

-------------------------------------------------------------------------------
-- SQL in metadata values and ids: data, never code; and never another
-- user's cart.
-------------------------------------------------------------------------------
SELECT CASE WHEN document->'carts'->'types'->>'id' IN ('integer', 'bigint', 'smallint') THEN 'SW203' ELSE 'SW204' END
       AS bad_cart_code
  FROM stripe_webhook.shop_binding \gset
-- A user id with SQL in it is some other user's where user ids are text
-- (SW205: the cart is not theirs), and no user id at all where the shop's
-- are integers (SW203: metadata.user_id invalid).
SELECT CASE WHEN document->'carts'->'types'->>'user' IN ('integer', 'bigint', 'smallint') THEN 'SW203' ELSE 'SW205' END
       AS bad_user_code
  FROM stripe_webhook.shop_binding \gset
SELECT is(hostile.try(hostile.ok('evt_h_sql1', '900001''; DROP TABLE stripe_webhook.orders; --', '9201')::text),
          replace('{"status": 422, "sqlstate": "SW205", "shop": "unchanged", "recorded": {"evt_h_sql1": "failed/SW205"}}',
                  'SW205', :'bad_user_code')::jsonb,
          'SQL in metadata.user_id (victim''s cart): 422 SW205, shop unchanged, event recorded as failed');
SELECT is(hostile.try(hostile.ok('evt_h_sql2', '900002', '9202; DELETE FROM stripe_webhook.products')::text),
          replace('{"status": 422, "sqlstate": "SW203", "shop": "unchanged", "recorded": {"evt_h_sql2": "failed/SW203"}}',
                  'SW203', :'bad_cart_code')::jsonb,
          'SQL after metadata.cart_id: 422 SW203');
SELECT is(hostile.try(hostile.ok('evt_h_sql3', '900002', '9201 OR 1=1')::text),
          replace('{"status": 422, "sqlstate": "SW203", "shop": "unchanged", "recorded": {"evt_h_sql3": "failed/SW203"}}',
                  'SW203', :'bad_cart_code')::jsonb,
          'metadata.cart_id "9201 OR 1=1": 422 SW203');
SELECT is(hostile.try(hostile.ok('evt_h_sql4', '900002'' OR ''1''=''1', '9201')::text),
          replace('{"status": 422, "sqlstate": "SW205", "shop": "unchanged", "recorded": {"evt_h_sql4": "failed/SW205"}}',
                  'SW205', :'bad_user_code')::jsonb,
          'metadata.user_id "900002'' OR ''1''=''1" for the victim''s cart: 422 SW205');
SELECT is(hostile.try(hostile.ok('evt_h_sql5', '900002', '9201')::text),
          '{"status": 422, "sqlstate": "SW205", "shop": "unchanged", "recorded": {"evt_h_sql5": "failed/SW205"}}',
          'a correct-looking session naming another user''s cart: 422 SW205');
SELECT is(hostile.try(jsonb_set(hostile.ok('evt_h_sql6', '900002', '9202'), '{data,object,id}',
                                '"cs_test_x''; DROP TABLE stripe_webhook.carts; --"')::text),
          '{"status": 422, "sqlstate": "SW207", "shop": "unchanged", "recorded": {"evt_h_sql6": "failed/SW207"}}',
          'SQL in the session id: 422 SW207');
SELECT is(hostile.try(jsonb_set(hostile.ok('evt_h_sql7', '900002', '9202'), '{type}',
                                '"checkout.session.completed''; DROP TABLE stripe_webhook.events; --"')::text),
          '{"status": 400, "message": "payload is not a Stripe event: \"type\" is missing or malformed", "shop": "unchanged", "recorded": {}}',
          'SQL in the event type: 400, nothing recorded');
SELECT is(hostile.try(jsonb_set(hostile.ok('evt_h_sql8', '900002', '9202'), '{id}',
                                '"evt_1''); DELETE FROM stripe_webhook.events; --"')::text),
          '{"status": 400, "message": "payload is not a Stripe event: \"id\" is not an event id (evt_...)", "shop": "unchanged", "recorded": {}}',
          'SQL in the event id: 400, nothing recorded');
SELECT is(hostile.try(hostile.ok('evt_h_sql9', '900002', '9202')::text,
                      't=1''; DROP TABLE stripe_webhook.events; --,v1=' || repeat('0', 64)),
          '{"status": 400, "message": "Unable to extract timestamp and signatures from header", "shop": "unchanged", "recorded": {}, "counted": "bad_header"}',
          'SQL in the Stripe-Signature header: 400, only counted');
SELECT ok(to_regclass('stripe_webhook.orders') IS NOT NULL AND to_regclass('stripe_webhook.products') IS NOT NULL
          AND to_regclass('stripe_webhook.carts') IS NOT NULL AND to_regclass('stripe_webhook.events') IS NOT NULL,
          'every table is still there');

-------------------------------------------------------------------------------
-- Non-numeric, malformed and overflowing ids
-------------------------------------------------------------------------------
CREATE TEMP TABLE bad_cart_ids (n serial, cart jsonb, sqlstate text, what text);
INSERT INTO bad_cart_ids (cart, sqlstate, what) VALUES
    ('"abc"', 'SW203', 'letters'),
    ('"9202abc"', 'SW203', 'digits then letters'),
    ('" 9202"', 'SW203', 'a leading space'),
    ('"9202 "', 'SW203', 'a trailing space'),
    ('"+9202"', 'SW203', 'a plus sign'),
    ('"-9202"', 'SW203', 'negative'),
    ('"0"', 'SW203', 'zero'),
    ('"9.202e3"', 'SW203', 'an exponent'),
    ('"0x23FA"', 'SW203', 'hexadecimal'),
    ('"９２０２"', 'SW203', 'full-width digits'),
    ('"9223372036854775808"', 'SW203', 'bigint max + 1'),
    ('"99999999999999999999999999999999"', 'SW203', '32 digits'),
    ('""', 'SW203', 'empty'),
    ('9202', 'SW203', 'a JSON number, not a string'),
    ('{"id": "9202"}', 'SW203', 'an object'),
    ('["9202"]', 'SW203', 'an array'),
    ('null', 'SW202', 'null (missing)'),
    ('"9223372036854775807"', 'SW204', 'bigint max (well-formed, no such cart)');
-- where the shop's cart ids are text, any non-empty string names a cart (one
-- that does not exist here): SW204 instead of SW203 for the malformed ones
UPDATE bad_cart_ids SET sqlstate = 'SW204'
 WHERE sqlstate = 'SW203' AND cart <> '""' AND pg_catalog.jsonb_typeof(cart) = 'string'
   AND (SELECT document->'carts'->'types'->>'id' NOT IN ('smallint', 'integer', 'bigint')
          FROM stripe_webhook.shop_binding);
SELECT is(hostile.try(hostile.ev('evt_h_id' || n, 'cs_test_h_id' || n,
                                 jsonb_build_object('user_id', '900002', 'cart_id', cart))::text),
          jsonb_build_object('status', 422, 'sqlstate', sqlstate, 'shop', 'unchanged',
                             'recorded', jsonb_build_object('evt_h_id' || n, 'failed/' || sqlstate)),
          'metadata.cart_id ' || what || ': 422 ' || sqlstate || ', shop unchanged')
FROM bad_cart_ids ORDER BY n;

SELECT is(hostile.try(hostile.ok('evt_h_uid1', repeat('u', 501), '9202')::text),
          '{"status": 422, "sqlstate": "SW203", "shop": "unchanged", "recorded": {"evt_h_uid1": "failed/SW203"}}',
          'metadata.user_id of 501 characters: 422 SW203');
SELECT is(hostile.try(hostile.ok('evt_h_uid2', E'attacker\u0001\n', '9202')::text),
          '{"status": 422, "sqlstate": "SW203", "shop": "unchanged", "recorded": {"evt_h_uid2": "failed/SW203"}}',
          'metadata.user_id with control characters: 422 SW203');
SELECT is(hostile.try(hostile.ev('evt_h_uid3', 'cs_test_h_uid3', '{"user_id": 42, "cart_id": "9202"}')::text),
          '{"status": 422, "sqlstate": "SW203", "shop": "unchanged", "recorded": {"evt_h_uid3": "failed/SW203"}}',
          'metadata.user_id a JSON number: 422 SW203');
SELECT is(hostile.try(jsonb_set(hostile.ok('evt_h_sid', '900002', '9202'), '{data,object,id}',
                                to_jsonb('cs_' || repeat('x', 300)))::text),
          '{"status": 422, "sqlstate": "SW207", "shop": "unchanged", "recorded": {"evt_h_sid": "failed/SW207"}}',
          'a session id of 303 characters: 422 SW207');
SELECT is(hostile.try(jsonb_set(hostile.ok('evt_h_eid', '900002', '9202'), '{id}', to_jsonb('evt_' || repeat('x', 300)))::text),
          '{"status": 400, "message": "payload is not a Stripe event: \"id\" is not an event id (evt_...)", "shop": "unchanged", "recorded": {}}',
          'an event id of 304 characters: 400, nothing recorded');
SELECT is(hostile.try(jsonb_set(hostile.ok('evt_h_pi', '900002', '9202'), '{data,object,payment_intent}',
                                '"pi_1; DROP TABLE x"')::text),
          '{"status": 422, "sqlstate": "SW207", "shop": "unchanged", "recorded": {"evt_h_pi": "failed/SW207"}}',
          'a payment intent id with SQL in it: 422 SW207');

-------------------------------------------------------------------------------
-- Negative, fractional and enormous amounts (the payload carries no
-- quantities: those come from the cart, whose quantities are checked > 0)
-------------------------------------------------------------------------------
CREATE TEMP TABLE bad_amounts (n serial, path text[], amount jsonb, what text);
INSERT INTO bad_amounts (path, amount, what) VALUES
    ('{data,object,amount_subtotal}', '-5500', 'negative subtotal'),
    ('{data,object,amount_total}', '-1', 'negative total'),
    ('{data,object,amount_subtotal}', '5500.5', 'fractional subtotal'),
    ('{data,object,amount_subtotal}', '1e400', 'subtotal 1e400'),
    ('{data,object,amount_total}', '9223372036854775808', 'total bigint max + 1'),
    ('{data,object,amount_total}', '-9223372036854775809', 'total below bigint min'),
    ('{data,object,amount_subtotal}', '"5500"', 'subtotal as a string'),
    ('{data,object,amount_subtotal}', 'null', 'subtotal null'),
    ('{data,object,amount_total}', '[6000]', 'total an array');
SELECT is(hostile.try(jsonb_set(hostile.ok('evt_h_amt' || n, '900002', '9202'), path, amount)::text),
          jsonb_build_object('status', 422, 'sqlstate', 'SW207', 'shop', 'unchanged',
                             'recorded', jsonb_build_object('evt_h_amt' || n, 'failed/SW207')),
          what || ': 422 SW207, shop unchanged')
FROM bad_amounts ORDER BY n;
-- (a bound shop's cart lines are reached through a view, where ON CONFLICT
-- has no unique index to use: the plain insert there)
SELECT throws_ok($$INSERT INTO stripe_webhook.cart_items (cart_id, product_id, quantity) VALUES (9203, 9101, 0)$$
                 || CASE WHEN (SELECT builtin FROM stripe_webhook.shop_binding)
                         THEN $$ ON CONFLICT (cart_id, product_id) DO UPDATE SET quantity = -3$$ ELSE '' END,
                 '23514', NULL, 'a cart line can never hold a zero or negative quantity');

-------------------------------------------------------------------------------
-- Deeply nested JSON, JSON that is not an object, duplicate keys
-------------------------------------------------------------------------------
SELECT is(hostile.try(repeat('[', 100000) || repeat(']', 100000)),
          '{"status": 400, "message": "payload is not valid JSON", "shop": "unchanged", "recorded": {}}',
          '100000 nested arrays: 400 (the parser''s stack limit), nothing recorded');
SELECT is(hostile.try('{"id": "evt_h_deep1", "object": "event", "type": "checkout.session.completed", "data": {"object": '
                      || repeat('{"a": ', 100000) || '1' || repeat('}', 100000) || '}}'),
          '{"status": 400, "message": "payload is not valid JSON", "shop": "unchanged", "recorded": {}}',
          '100000 nested objects in data.object: 400, nothing recorded');
SELECT is(hostile.try(hostile.ev('evt_h_deep2', 'cs_test_h_deep2',
                                 ('{"user_id": "900002", "cart_id": ' || repeat('{"a": ', 2000) || '"9202"'
                                  || repeat('}', 2000) || '}')::jsonb)::text),
          '{"status": 422, "sqlstate": "SW203", "shop": "unchanged", "recorded": {"evt_h_deep2": "failed/SW203"}}',
          'metadata.cart_id nested 2000 deep: 422 SW203');
SELECT is(hostile.try(hostile.ev('evt_h_meta', 'cs_test_h_meta', '[{"user_id": "900002", "cart_id": "9202"}]')::text),
          '{"status": 422, "sqlstate": "SW201", "shop": "unchanged", "recorded": {"evt_h_meta": "failed/SW201"}}',
          'metadata an array: 422 SW201');
SELECT is(hostile.try(jsonb_set(hostile.ok('evt_h_obj', '900002', '9202'), '{data,object}', '"checkout.session"')::text),
          '{"status": 400, "message": "payload is not a Stripe event: \"data.object\" is not an object", "shop": "unchanged", "recorded": {}}',
          'data.object a string: 400, nothing recorded');
SELECT is(hostile.try(jsonb_build_array(hostile.ok('evt_h_arr', '900002', '9202'))::text),
          '{"status": 400, "message": "payload is not a JSON object", "shop": "unchanged", "recorded": {}}',
          'a valid event wrapped in an array: 400');
SELECT is(hostile.try('true'),
          '{"status": 400, "message": "payload is not a JSON object", "shop": "unchanged", "recorded": {}}',
          'JSON true: 400');
SELECT is(hostile.try('"{\"id\": \"evt_h_str\"}"'),
          '{"status": 400, "message": "payload is not a JSON object", "shop": "unchanged", "recorded": {}}',
          'an event encoded as a JSON string: 400');
SELECT is(hostile.try('{"id": "evt_h_dup1", "object": "event", "type": "checkout.session.completed", '
                      || '"data": {"object": {}}, "object": "charge"}'),
          '{"status": 400, "message": "payload is not a Stripe event: \"object\" is not \"event\"", "shop": "unchanged", "recorded": {}}',
          'duplicate "object" key, the last one not "event": 400 (the last key wins, as in the stored payload)');
SELECT is(hostile.try(replace(hostile.ok('evt_h_dup2', '900004', '9205')::text,
                              '"cart_id": "9205"', '"cart_id": "9205", "cart_id": "9201"')),
          '{"status": 422, "sqlstate": "SW205", "shop": "unchanged", "recorded": {"evt_h_dup2": "failed/SW205"}}',
          'duplicate metadata.cart_id whose last value is another user''s cart: 422 SW205, nothing taken');

-------------------------------------------------------------------------------
-- Invalid text: the SQL text type cannot carry NUL bytes or invalid UTF-8
-- (the relay answers 400 for them); JSON escapes of them are refused.
-------------------------------------------------------------------------------
SELECT throws_ok($$SELECT convert_from('\x7b22696422ff7d'::bytea, 'UTF8')$$, '22021', NULL,
                 'invalid UTF-8 cannot become a text argument');
SELECT throws_ok($$SELECT chr(0)$$, '54000', NULL, 'a NUL byte cannot become a text argument');
SELECT is(hostile.try('{"id": "evt_h_nul", "object": "event", "type": "checkout.session.completed", '
                      || '"data": {"object": {"object": "checkout.session\u0000"}}}'),
          '{"status": 400, "message": "payload is not valid JSON", "shop": "unchanged", "recorded": {}}',
          'an escaped NUL (\u0000) in the body: 400, nothing recorded');
SELECT is(hostile.try('{"id": "evt_h_sur", "object": "event", "type": "x.y\ud800", "data": {"object": {}}}'),
          '{"status": 400, "message": "payload is not valid JSON", "shop": "unchanged", "recorded": {}}',
          'a lone UTF-16 surrogate escape: 400, nothing recorded');

-------------------------------------------------------------------------------
-- 10 MB bodies (the relay refuses them with 413 before they get here)
-------------------------------------------------------------------------------
SELECT is(hostile.try(repeat('x', 10 * 1024 * 1024)),
          '{"status": 400, "message": "payload is not valid JSON", "shop": "unchanged", "recorded": {}}',
          '10 MB of non-JSON, correctly signed: 400');
SELECT is(hostile.try('{"pad": "' || repeat('x', 10 * 1024 * 1024) || '"}'),
          '{"status": 400, "message": "payload is not a Stripe event: \"object\" is not \"event\"", "shop": "unchanged", "recorded": {}}',
          '10 MB JSON object that is not an event: 400');
SELECT is(hostile.try(jsonb_set(hostile.ok('evt_h_10mb', '900002', '9202'), '{data,object,metadata,pad}',
                                to_jsonb(repeat('x', 10 * 1024 * 1024)))::text,
                      stripe_webhook.stripe_signature_header(hostile.ok('evt_h_10mb', '900002', '9202')::text, hostile.secret())),
          '{"status": 400, "message": "No signatures found matching the expected signature for payload", "shop": "unchanged", "recorded": {}, "counted": "no_match"}',
          'a real event padded to 10 MB after signing: 400');

-------------------------------------------------------------------------------
-- Headers with thousands of signatures or timestamps
-------------------------------------------------------------------------------
CREATE TEMP TABLE hb AS
SELECT hostile.ok('evt_h_hdr', '900002', '9202')::text AS body, extract(epoch FROM now())::bigint AS t;
CREATE TEMP TABLE hsig AS
SELECT split_part(stripe_webhook.stripe_signature_header(body, hostile.secret(), to_timestamp(t)), ',', 2) AS v1, t, body FROM hb;
SELECT is(hostile.try((SELECT body FROM hsig),
                      (SELECT 't=' || t || repeat(',v1=' || repeat('0', 64), 5000) || ',' || v1 FROM hsig)),
          '{"status": 400, "message": "Unable to extract timestamp and signatures from header", "shop": "unchanged", "recorded": {}, "counted": "bad_header"}',
          '5000 signatures before the right one (340 kB header): 400, nothing recorded');
SELECT is(hostile.try((SELECT body FROM hsig),
                      (SELECT 't=' || t || repeat(',v1=' || repeat('0', 64), 64) || ',' || v1 FROM hsig)),
          '{"status": 400, "message": "No signatures found matching the expected signature for payload", "shop": "unchanged", "recorded": {}, "counted": "no_match"}',
          '64 wrong signatures before the right one (under 8 KiB): 400, only the first 64 are tried');
SELECT is(hostile.try((SELECT body FROM hsig), (SELECT repeat('t=' || t || ',', 2000) || v1 FROM hsig)),
          '{"status": 400, "message": "Unable to extract timestamp and signatures from header", "shop": "unchanged", "recorded": {}, "counted": "bad_header"}',
          '2000 timestamps: 400');
SELECT is(hostile.try((SELECT body FROM hsig), (SELECT 't=' || t || repeat(',', 10000) || v1 FROM hsig)),
          '{"status": 400, "message": "Unable to extract timestamp and signatures from header", "shop": "unchanged", "recorded": {}, "counted": "bad_header"}',
          '10000 empty elements: 400');
SELECT is(hostile.try((SELECT body FROM hsig), (SELECT 't=' || t || ',v1=' || repeat('a', 100000) FROM hsig)),
          '{"status": 400, "message": "Unable to extract timestamp and signatures from header", "shop": "unchanged", "recorded": {}, "counted": "bad_header"}',
          'one 100000-character signature: 400');

-------------------------------------------------------------------------------
-- Timestamps far in the past or future
-------------------------------------------------------------------------------
SELECT is(hostile.try((SELECT body FROM hb),
                      stripe_webhook.stripe_signature_header((SELECT body FROM hb), hostile.secret(), to_timestamp(0))),
          '{"status": 400, "message": "Timestamp outside the tolerance zone", "shop": "unchanged", "recorded": {}, "counted": "too_old"}',
          'correctly signed at t=0 (1970): 400 outside the tolerance');
SELECT is(hostile.try((SELECT body FROM hb),
                      stripe_webhook.stripe_signature_header((SELECT body FROM hb), hostile.secret(), now() - interval '301 seconds')),
          '{"status": 400, "message": "Timestamp outside the tolerance zone", "shop": "unchanged", "recorded": {}, "counted": "too_old"}',
          'a captured delivery replayed 301 s later: 400');
SELECT is(hostile.try((SELECT body FROM hsig), (SELECT 't=-9999999999,' || v1 FROM hsig)),
          '{"status": 400, "message": "No signatures found matching the expected signature for payload", "shop": "unchanged", "recorded": {}, "counted": "no_match"}',
          'a real signature under a negative timestamp: 400');
SELECT is(hostile.try((SELECT body FROM hsig), (SELECT 't=' || (t + 100::bigint * 365 * 86400) || ',' || v1 FROM hsig)),
          '{"status": 400, "message": "No signatures found matching the expected signature for payload", "shop": "unchanged", "recorded": {}, "counted": "no_match"}',
          'a real signature moved to a timestamp 100 years ahead: 400');
SELECT is(hostile.try((SELECT body FROM hsig), (SELECT 't=' || repeat('9', 40) || ',' || v1 FROM hsig)),
          '{"status": 400, "message": "Unable to extract timestamp and signatures from header", "shop": "unchanged", "recorded": {}, "counted": "bad_header"}',
          'a 40-digit timestamp: 400');
SELECT is(hostile.try((SELECT body FROM hsig), (SELECT 't=1e10,' || v1 FROM hsig)),
          '{"status": 400, "message": "Unable to extract timestamp and signatures from header", "shop": "unchanged", "recorded": {}, "counted": "bad_header"}',
          'a timestamp in exponent notation: 400');

-------------------------------------------------------------------------------
-- A valid signature over a different body
-------------------------------------------------------------------------------
SELECT is(hostile.try(hostile.ok('evt_h_swap', '900001', '9201')::text,
                      stripe_webhook.stripe_signature_header(hostile.ok('evt_h_swap', '900002', '9202')::text, hostile.secret())),
          '{"status": 400, "message": "No signatures found matching the expected signature for payload", "shop": "unchanged", "recorded": {}, "counted": "no_match"}',
          'the signature of one event sent with another body: 400');
SELECT is(hostile.try((SELECT body FROM hb) || E'\n',
                      stripe_webhook.stripe_signature_header((SELECT body FROM hb), hostile.secret())),
          '{"status": 400, "message": "No signatures found matching the expected signature for payload", "shop": "unchanged", "recorded": {}, "counted": "no_match"}',
          'a correctly signed body with one newline appended: 400');
SELECT is(hostile.try((SELECT body FROM hb),
                      stripe_webhook.stripe_signature_header((SELECT body FROM hb), 'whsec_someone_elses_endpoint')),
          '{"status": 400, "message": "No signatures found matching the expected signature for payload", "shop": "unchanged", "recorded": {}, "counted": "no_match"}',
          'signed with another endpoint''s secret: 400');
SELECT is(hostile.try((SELECT body FROM hsig), (SELECT 't=' || t || ',v1=' || upper(substr(v1, 4)) FROM hsig)),
          '{"status": 400, "message": "No signatures found matching the expected signature for payload", "shop": "unchanged", "recorded": {}, "counted": "no_match"}',
          'the right signature in upper-case hex: 400 (Stripe''s libraries compare lower-case)');

SELECT is(hostile.shop(), (SELECT shop FROM start), 'after every rejection above the shop is exactly as it started');
SELECT is((SELECT count(*) FROM stripe_webhook.events WHERE status <> 'failed'), 0::bigint,
          'and the inbox holds nothing but the failed events');

-------------------------------------------------------------------------------
-- Hostile-looking data that is just data: accepted, stored as it came
-------------------------------------------------------------------------------
SELECT is(hostile.try(jsonb_set(jsonb_set(hostile.ok('evt_h_data1', '900002', '9202'),
                                          '{data,object,customer_details,email}',
                                          '"x''); DROP TABLE stripe_webhook.products; --@example.com"'),
                                '{data,object,collected_information,shipping_details,name}',
                                '"Robert''); DROP TABLE stripe_webhook.orders;--"')::text) - 'shop',
          '{"status": 200, "message": "order created", "recorded": {"evt_h_data1": "processed/-"}}',
          'SQL in the customer''s email and shipping name of a valid session: 200, order created');
-- (where the shop has e-mail and shipping name columns)
SELECT CASE WHEN (SELECT document->'orders'->'columns' ?& ARRAY['customer_email', 'shipping_name']
                    FROM stripe_webhook.shop_binding)
       THEN is((SELECT customer_email || ' | ' || shipping_name FROM stripe_webhook.orders WHERE checkout_session_id = 'cs_test_h_data1'),
               'x''); DROP TABLE stripe_webhook.products; --@example.com | Robert''); DROP TABLE stripe_webhook.orders;--',
               'both stored verbatim, as data')
       ELSE skip('the bound shop has no e-mail or shipping name column', 1) END;
SELECT is(hostile.try(replace(hostile.ok('evt_h_data2', '900004', '9201')::text,
                              '"cart_id": "9201"', '"cart_id": "9201", "cart_id": "9205"')) - 'shop',
          '{"status": 200, "message": "order created", "recorded": {"evt_h_data2": "processed/-"}}',
          'duplicate metadata.cart_id, the last one the user''s own cart: 200');
SELECT is((SELECT o.cart_id || ' ' || (e.payload #>> '{data,object,metadata,cart_id}')
           FROM stripe_webhook.orders o JOIN stripe_webhook.events e ON e.order_id = o.id::text
           WHERE e.id = 'evt_h_data2'),
          '9205 9205', 'the cart fulfilled is the one the stored payload shows (no parser disagreement)');
SELECT is(hostile.try(jsonb_set(hostile.ok('evt_h_data3', '900003', '9203'), '{data,object,line_items}',
                                '{"object": "list", "data": [{"price": {"product": "9101"}, "quantity": -3},
                                  {"price": {"product": "9102"}, "quantity": 1000000000}]}')::text) - 'shop',
          '{"status": 200, "message": "order created", "recorded": {"evt_h_data3": "processed/-"}}',
          'line_items with negative and enormous quantities in the payload: ignored, 200');
SELECT is((SELECT string_agg(oi.product_id || 'x' || oi.quantity, ',' ORDER BY oi.product_id)
           FROM stripe_webhook.order_items oi JOIN stripe_webhook.orders o ON o.id = oi.order_id
           WHERE o.checkout_session_id = 'cs_test_h_data3'),
          '9101x2,9102x1', 'the order''s items are the cart''s, not the payload''s');

-- A correctly signed timestamp far in the future is accepted, as by
-- Stripe's own libraries (they only reject signatures that are too old);
-- replaying it can never fulfil twice: the event is already processed.
SELECT is(hostile.try(hostile.ok('evt_h_future', '900005', '9206')::text,
                      stripe_webhook.stripe_signature_header(hostile.ok('evt_h_future', '900005', '9206')::text,
                                                             hostile.secret(), '2200-01-01')) - 'shop',
          '{"status": 200, "message": "order created", "recorded": {"evt_h_future": "processed/-"}}',
          'correctly signed with a timestamp in 2200: accepted like Stripe''s libraries do');
SELECT is(hostile.try(hostile.ok('evt_h_future', '900005', '9206')::text,
                      stripe_webhook.stripe_signature_header(hostile.ok('evt_h_future', '900005', '9206')::text,
                                                             hostile.secret(), '2200-01-01')),
          '{"status": 200, "message": "already processed", "shop": "unchanged", "recorded": {}}',
          'its replay: 200 already processed, nothing written');

-- A cart with an enormous quantity: the paid order exists, takes what there
-- is, records the rest as shortfall, and nothing overflows.
INSERT INTO stripe_webhook.carts (id, user_id) VALUES (9204, '900006');
INSERT INTO stripe_webhook.cart_items (cart_id, product_id, quantity) VALUES (9204, 9101, 2147483647);
SELECT is(hostile.try(hostile.ok('evt_h_whale', '900006', '9204')::text) - 'shop',
          '{"status": 200, "message": "order created, needs review", "recorded": {"evt_h_whale": "processed/-"}}',
          'a cart line of 2147483647 units: 200, the order needs review');
SELECT is((SELECT oi.stock_taken || ' ' || oi.shortfall || ' ' || p.stock || ' ' || o.status
           FROM stripe_webhook.orders o JOIN stripe_webhook.order_items oi ON oi.order_id = o.id
           JOIN stripe_webhook.products p ON p.id = oi.product_id
           WHERE o.checkout_session_id = 'cs_test_h_whale'),
          '2 2147483645 0 needs_review',
          'it took the 2 units left, recorded 2147483645 short, stock 0 (never negative)');

SELECT * FROM finish();
ROLLBACK;
