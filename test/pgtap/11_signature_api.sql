-- Signature functions: catalogue properties, NULL handling, argument errors,
-- the strict variant's reasons, the text[] overload, tolerance edges, the
-- 8 KiB and 64-v1 limits, known-answer HMACs, the per-backend key cache, a
-- payload starting with a byte order mark.
BEGIN;
SELECT plan(139);

-- A fixed clock: t = 1700000000 is 2023-11-14 22:13:20 UTC.
CREATE TEMP TABLE k ON COMMIT DROP AS
SELECT 'whsec_api_test_secret_0123456789'::text AS s,
       'whsec_api_other_secret_987654321'::text AS s2,
       '{"id":"evt_api","object":"event"}'::text AS p,
       pg_catalog.to_timestamp(1700000000) AS at;

-- The text of an error raised by stmt (message | detail | hint), NULL if none.
CREATE FUNCTION pg_temp.error_text(stmt text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    m text;
    d text;
    h text;
BEGIN
    EXECUTE stmt;
    RETURN NULL;
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS m = MESSAGE_TEXT, d = PG_EXCEPTION_DETAIL, h = PG_EXCEPTION_HINT;
    RETURN concat_ws(' | ', m, d, h);
END
$$;

----------------------------------------------------------------------------
-- catalogue: signatures, parameter names, defaults, volatility, privileges
----------------------------------------------------------------------------
SELECT has_function('stripe_webhook', 'stripe_verify_signature',
                    ARRAY['text', 'text', 'text', 'integer', 'timestamp with time zone']);
SELECT has_function('stripe_webhook', 'stripe_verify_signature',
                    ARRAY['text', 'text', 'text[]', 'integer', 'timestamp with time zone']);
SELECT has_function('stripe_webhook', 'stripe_verify_signature_strict',
                    ARRAY['text', 'text', 'text', 'integer', 'timestamp with time zone']);
SELECT has_function('stripe_webhook', 'stripe_verify_signature_strict',
                    ARRAY['text', 'text', 'text[]', 'integer', 'timestamp with time zone']);
SELECT has_function('stripe_webhook', 'stripe_signature_failure',
                    ARRAY['text', 'text', 'text', 'integer', 'timestamp with time zone']);
SELECT has_function('stripe_webhook', 'stripe_signature_failure',
                    ARRAY['text', 'text', 'text[]', 'integer', 'timestamp with time zone']);
SELECT has_function('stripe_webhook', 'stripe_signature_header',
                    ARRAY['text', 'text', 'timestamp with time zone']);

CREATE TEMP TABLE sigfn ON COMMIT DROP AS
SELECT p.oid, p.proname::text AS name, pg_catalog.pg_get_function_identity_arguments(p.oid) AS ident,
       pg_catalog.pg_get_function_arguments(p.oid) AS args, p.provolatile, p.proparallel,
       p.proisstrict, p.prosecdef, p.proretset, p.prorettype::regtype::text AS rettype,
       p.proacl, p.proowner
  FROM pg_catalog.pg_proc p
 WHERE p.pronamespace = 'stripe_webhook'::regnamespace
   AND p.proname IN ('stripe_verify_signature', 'stripe_verify_signature_strict',
                     'stripe_signature_failure', 'stripe_signature_header');

SELECT is((SELECT count(*)::int FROM sigfn), 7, 'seven signature functions');
SELECT is((SELECT count(*)::int FROM sigfn
            WHERE name <> 'stripe_signature_header'
              AND args = 'payload text, signature_header text, secret ' ||
                         CASE WHEN ident LIKE '%text[]%' THEN 'text[]' ELSE 'text' END ||
                         ', tolerance integer DEFAULT 300, at timestamp with time zone DEFAULT now()'),
          6, 'verifying functions: parameter names and defaults are the contract');
SELECT is((SELECT args FROM sigfn WHERE name = 'stripe_signature_header'),
          'payload text, secret text, at timestamp with time zone DEFAULT now()',
          'stripe_signature_header: parameter names and default');
SELECT is((SELECT array_agg(DISTINCT rettype ORDER BY rettype) FROM sigfn),
          ARRAY['boolean', 'text'], 'return types are boolean and text');
SELECT is((SELECT array_agg(name || '(' || ident || ')' ORDER BY name, ident) FROM sigfn
            WHERE rettype <> CASE WHEN name IN ('stripe_signature_failure', 'stripe_signature_header')
                                  THEN 'text' ELSE 'boolean' END),
          NULL, 'each function returns the documented type');
SELECT is((SELECT array_agg(name || '(' || ident || ')') FROM sigfn WHERE provolatile <> 'i'),
          NULL, 'all are IMMUTABLE (now() is the caller''s default expression)');
SELECT is((SELECT array_agg(name || '(' || ident || ')') FROM sigfn WHERE proparallel <> 's'),
          NULL, 'all are PARALLEL SAFE');
SELECT is((SELECT array_agg(name || '(' || ident || ')') FROM sigfn WHERE proisstrict),
          NULL, 'none is STRICT (NULL handling is documented per argument)');
SELECT is((SELECT array_agg(name || '(' || ident || ')') FROM sigfn WHERE prosecdef OR proretset),
          NULL, 'none is SECURITY DEFINER or set-returning');
SELECT is((SELECT array_agg(DISTINCT a.privilege_type || ':' ||
                            CASE WHEN a.grantee = 0 THEN 'PUBLIC'
                                 WHEN a.grantee = f.proowner THEN 'owner' ELSE a.grantee::regrole::text END
                            ORDER BY a.privilege_type || ':' ||
                            CASE WHEN a.grantee = 0 THEN 'PUBLIC'
                                 WHEN a.grantee = f.proowner THEN 'owner' ELSE a.grantee::regrole::text END)
             FROM sigfn f, LATERAL pg_catalog.aclexplode(f.proacl) a),
          ARRAY['EXECUTE:PUBLIC', 'EXECUTE:owner'],
          'privileges: EXECUTE for the owner and PUBLIC, nothing else');
SELECT is((SELECT count(*)::int FROM sigfn WHERE proacl IS NULL), 0,
          'every function has an explicit ACL (REVOKE/GRANT ran)');
SELECT is((SELECT count(*)::int FROM sigfn
            WHERE pg_catalog.obj_description(oid, 'pg_proc') IS NULL), 0,
          'every function has a COMMENT');

----------------------------------------------------------------------------
-- round trip, defaults, named parameters
----------------------------------------------------------------------------
SELECT ok(stripe_webhook.stripe_verify_signature(p, stripe_webhook.stripe_signature_header(p, s), s),
          'a header made now verifies with the defaults') FROM k;
SELECT ok(stripe_webhook.stripe_verify_signature(payload => p, secret => s, at => at,
              signature_header => stripe_webhook.stripe_signature_header(p, s, at), tolerance => 10),
          'named parameters') FROM k;
SELECT ok(NOT stripe_webhook.stripe_verify_signature(p || ' ', stripe_webhook.stripe_signature_header(p, s, at), s, 300, at),
          'a tampered payload does not verify') FROM k;
SELECT ok(NOT stripe_webhook.stripe_verify_signature(p, stripe_webhook.stripe_signature_header(p, s, at), s2, 300, at),
          'another secret does not verify') FROM k;
SELECT matches(stripe_webhook.stripe_signature_header(p, s), '^t=[0-9]+,v1=[0-9a-f]{64}$',
               'header format t=<unix>,v1=<64 lower-case hex>') FROM k;
SELECT is(split_part(stripe_webhook.stripe_signature_header(p, s), ',', 1),
          't=' || floor(extract(epoch FROM now()))::bigint, 'at defaults to now()') FROM k;
SELECT is(split_part(stripe_webhook.stripe_signature_header(p, s, '1970-01-01 00:00:10.9+00'), ',', 1),
          't=10', 'the header''s t is at rounded down') FROM k;
SELECT is(split_part(stripe_webhook.stripe_signature_header(p, s, '1969-12-31 23:59:55+00'), ',', 1),
          't=-5', 'a time before 1970 gives a negative t') FROM k;
SELECT is(stripe_webhook.stripe_signature_header(NULL, s, at), NULL, 'header of a NULL payload is NULL') FROM k;

----------------------------------------------------------------------------
-- known answers (HMAC-SHA256 of t "." payload, computed independently)
----------------------------------------------------------------------------
SELECT is(stripe_webhook.stripe_signature_header('x', 'whsec_test', pg_catalog.to_timestamp(123)),
          't=123,v1=90dc99ba58df6bb288ea0e57a0c8dcfbd41f2c192ee7204576a6f585fb90930b', 'known answer: whsec_test');
SELECT is(stripe_webhook.stripe_signature_header('what do ya want for nothing?', 'Jefe', pg_catalog.to_timestamp(0)),
          't=0,v1=37f471929915ccd2cbbe79feb84ffcff4f2bb25e15fc41c2506687331ae179cc', 'known answer: RFC 4231 case 2 key and text');
SELECT is(stripe_webhook.stripe_signature_header('Test Using Larger Than Block-Size Key - Hash Key First',
                                                 repeat('k', 131), pg_catalog.to_timestamp(1)),
          't=1,v1=1dd56f35c420ff373feee8f23fe652be25a65834c422defdabab5f4d549de133',
          'known answer: key longer than the block size (RFC 4231 case 6 shape)');
SELECT is(stripe_webhook.stripe_signature_header('{"name":"東京"}', 'whsec_café', pg_catalog.to_timestamp(1700000000)),
          't=1700000000,v1=6c8729d8f4aa797c718fecb0fe5afd57c73a9cc3451be385cffa57fc27fbdcbd',
          'known answer: non-ASCII payload and secret (UTF-8 bytes)');
SELECT is(stripe_webhook.stripe_signature_header('x', 'whsec_test', pg_catalog.to_timestamp(-5)),
          't=-5,v1=3a9206593b1016e210c7b826ca71c495d86b2614aca093f544ebcada9c4d0349', 'known answer: negative t');
SELECT is(stripe_webhook.stripe_signature_header('', 'whsec_test', pg_catalog.to_timestamp(1700000000)),
          't=1700000000,v1=5967f3c560522fa40cf2876ebc3c3a08551dd6959aaade3b413460591895bdcc', 'known answer: empty payload');

-- cross-check against pgcrypto's hmac() (another implementation)
CREATE EXTENSION IF NOT EXISTS pgcrypto SCHEMA public;
SELECT is((SELECT count(*)::int FROM k, generate_series(1, 40) AS i
            WHERE stripe_webhook.stripe_signature_header(repeat(md5(i::text), i * 7), s || i,
                                                         pg_catalog.to_timestamp(1700000000 + i))
                  <> 't=' || (1700000000 + i) || ',v1=' ||
                     encode(public.hmac(convert_to((1700000000 + i) || '.' || repeat(md5(i::text), i * 7), 'UTF8'),
                                        convert_to(s || i, 'UTF8'), 'sha256'), 'hex')),
          0, '40 headers agree with pgcrypto hmac()');

----------------------------------------------------------------------------
-- NULL handling
----------------------------------------------------------------------------
SELECT is(stripe_webhook.stripe_verify_signature(NULL, 't=1,v1=a', s, 300, at), false, 'NULL payload: false') FROM k;
SELECT is(stripe_webhook.stripe_verify_signature(p, NULL, s, 300, at), false, 'NULL header: false') FROM k;
SELECT is(stripe_webhook.stripe_verify_signature(NULL, NULL, ARRAY[s], 300, at), false, 'NULL payload and header, text[]: false') FROM k;
SELECT is(stripe_webhook.stripe_signature_failure(NULL, 't=1,v1=a', s, 300, at), 'No webhook payload was provided',
          'NULL payload: reason') FROM k;
SELECT is(stripe_webhook.stripe_signature_failure(p, NULL, s, 300, at), 'Unable to extract timestamp and signatures from header',
          'NULL header: reason') FROM k;
SELECT throws_ok(format('SELECT stripe_webhook.stripe_verify_signature_strict(NULL, %L, %L)', 't=1,v1=a', s),
                 'SW105', 'no webhook payload was provided', 'strict: NULL payload raises SW105') FROM k;
SELECT throws_ok(format('SELECT stripe_webhook.stripe_verify_signature_strict(%L, NULL, %L)', p, s),
                 'SW101', 'unable to extract timestamp and signatures from header', 'strict: NULL header raises SW101') FROM k;
SELECT throws_ok($$SELECT stripe_webhook.stripe_verify_signature('p', 't=1,v1=a', NULL::text)$$,
                 '22023', 'signing secret must not be null', 'NULL secret: 22023');
SELECT throws_ok($$SELECT stripe_webhook.stripe_verify_signature('p', 't=1,v1=a', NULL::text[])$$,
                 '22023', 'signing secret must not be null', 'NULL secret array: 22023');
SELECT throws_ok($$SELECT stripe_webhook.stripe_verify_signature(NULL, NULL, NULL::text)$$,
                 '22023', 'signing secret must not be null', 'NULL secret is an error even with a NULL payload');
SELECT throws_ok($$SELECT stripe_webhook.stripe_verify_signature('p', 't=1,v1=a', 'whsec_x', NULL)$$,
                 '22004', 'tolerance must not be null', 'NULL tolerance: 22004');
SELECT throws_ok($$SELECT stripe_webhook.stripe_verify_signature('p', 't=1,v1=a', 'whsec_x', 300, NULL)$$,
                 '22004', 'at must not be null', 'NULL at: 22004');
SELECT throws_ok($$SELECT stripe_webhook.stripe_signature_failure('p', 't=1,v1=a', 'whsec_x', NULL)$$,
                 '22004', 'tolerance must not be null', 'failure(): NULL tolerance: 22004');
SELECT throws_ok($$SELECT stripe_webhook.stripe_verify_signature_strict('p', 't=1,v1=a', ARRAY['whsec_x'], 300, NULL)$$,
                 '22004', 'at must not be null', 'strict text[]: NULL at: 22004');
SELECT throws_ok($$SELECT stripe_webhook.stripe_signature_header('p', NULL)$$,
                 '22023', 'signing secret must not be null', 'header: NULL secret: 22023');
SELECT throws_ok($$SELECT stripe_webhook.stripe_signature_header('p', 'whsec_x', NULL)$$,
                 '22004', 'at must not be null', 'header: NULL at: 22004');
SELECT throws_ok($$SELECT stripe_webhook.stripe_signature_header(NULL, ' ')$$,
                 '22023', 'signing secret must not be empty or blank', 'header: blank secret is an error even with a NULL payload');

----------------------------------------------------------------------------
-- argument errors: blank secrets, arrays, infinite at
----------------------------------------------------------------------------
SELECT throws_ok($$SELECT stripe_webhook.stripe_verify_signature('p', 't=1,v1=a', '')$$,
                 '22023', 'signing secret must not be empty or blank', 'empty secret: 22023');
SELECT throws_ok(format('SELECT stripe_webhook.stripe_verify_signature(%L, %L, %L)', 'p', 't=1,v1=a', E' \t\r\n\f\x0b'),
                 '22023', 'signing secret must not be empty or blank', 'ASCII-whitespace secret: 22023');
SELECT throws_ok($$SELECT stripe_webhook.stripe_verify_signature('p', 't=1,v1=a', '{}'::text[])$$,
                 '22023', 'signing secret array must not be empty', 'empty array: 22023');
SELECT throws_ok($$SELECT stripe_webhook.stripe_verify_signature('p', 't=1,v1=a', ARRAY['whsec_x', NULL])$$,
                 '22023', 'signing secret must not be null', 'array with a NULL element: 22023');
SELECT throws_ok($$SELECT stripe_webhook.stripe_verify_signature('p', 't=1,v1=a', ARRAY['whsec_x', ' '])$$,
                 '22023', 'signing secret must not be empty or blank', 'array with a blank element: 22023');
SELECT throws_ok($$SELECT stripe_webhook.stripe_signature_failure('p', 't=1,v1=a', ARRAY['', 'whsec_x'])$$,
                 '22023', 'signing secret must not be empty or blank', 'failure(): array with an empty element: 22023');
SELECT throws_ok($$SELECT stripe_webhook.stripe_verify_signature_strict('p', 't=1,v1=a', ARRAY[]::text[])$$,
                 '22023', 'signing secret array must not be empty', 'strict: empty array: 22023');
SELECT throws_ok($$SELECT stripe_webhook.stripe_verify_signature('p', 't=1,v1=a', 'whsec_x', 300, 'infinity')$$,
                 '22008', 'at must be a finite timestamp', 'infinite at: 22008');
SELECT throws_ok($$SELECT stripe_webhook.stripe_signature_header('p', 'whsec_x', '-infinity')$$,
                 '22008', 'at must be a finite timestamp', 'header: -infinity at: 22008');
SELECT ok(stripe_webhook.stripe_verify_signature(p, stripe_webhook.stripe_signature_header(p, E'\u00a0', at), E'\u00a0', 300, at),
          'a U+00A0 secret is not blank (as stripe-node)') FROM k;
SELECT is(pg_temp.error_text(format('SELECT stripe_webhook.stripe_verify_signature(%L, %L, ARRAY[%L, %L])',
                                    p, 't=1,v1=a', s, '  ')),
          'signing secret must not be empty or blank | Element 2 of the secret array is empty or blank. | Pass the endpoint''s signing secret (whsec_...) from the Stripe Dashboard.',
          'the error names the element, not the secret') FROM k;

----------------------------------------------------------------------------
-- the strict variant and stripe_signature_failure: Stripe's reasons
----------------------------------------------------------------------------
SELECT ok(stripe_webhook.stripe_verify_signature_strict(p, stripe_webhook.stripe_signature_header(p, s, at), s, 300, at),
          'strict: valid returns true') FROM k;
SELECT throws_ok(format('SELECT stripe_webhook.stripe_verify_signature_strict(%L, %L, %L, 300, %L)', p, 'bad_header', s, at),
                 'SW101', 'unable to extract timestamp and signatures from header', 'strict: SW101 malformed header') FROM k;
SELECT throws_ok(format('SELECT stripe_webhook.stripe_verify_signature_strict(%L, %L, %L, 300, %L)',
                        p, replace(stripe_webhook.stripe_signature_header(p, s, at), 'v1=', 'v0='), s, at),
                 'SW102', 'no signatures found with expected scheme v1', 'strict: SW102 v0 only') FROM k;
SELECT throws_ok(format('SELECT stripe_webhook.stripe_verify_signature_strict(%L, %L, %L, 300, %L)',
                        p, stripe_webhook.stripe_signature_header(p, s, at - interval '301 seconds'), s, at),
                 'SW103', 'timestamp outside the tolerance zone', 'strict: SW103 expired') FROM k;
SELECT throws_ok(format('SELECT stripe_webhook.stripe_verify_signature_strict(%L, %L, %L, 300, %L)',
                        p || 'x', stripe_webhook.stripe_signature_header(p, s, at), s, at),
                 'SW104', 'no signatures found matching the expected signature for payload', 'strict: SW104 mismatch') FROM k;
SELECT throws_ok(format('SELECT stripe_webhook.stripe_verify_signature_strict(%L, %L, %L, 300, %L)',
                        '', stripe_webhook.stripe_signature_header('', s, at), s, at),
                 'SW105', 'no webhook payload was provided', 'strict: SW105 empty payload') FROM k;
SELECT throws_ok(format('SELECT stripe_webhook.stripe_verify_signature_strict(%L, %L, %L, -1, %L)',
                        p, stripe_webhook.stripe_signature_header(p, s, at), s, at),
                 'SW103', 'timestamp outside the tolerance zone', 'strict: SW103 negative tolerance') FROM k;
SELECT throws_ok(format('SELECT stripe_webhook.stripe_verify_signature_strict(%L, %L, ARRAY[%L, %L], 300, %L)',
                        p || 'x', stripe_webhook.stripe_signature_header(p, s, at), s2, s, at),
                 'SW104', 'no signatures found matching the expected signature for payload', 'strict text[]: SW104') FROM k;
SELECT is(pg_temp.error_text(format('SELECT stripe_webhook.stripe_verify_signature_strict(%L, %L, %L, 300, %L)',
                                    p, stripe_webhook.stripe_signature_header(p, s, at - interval '400 seconds'), s, at)),
          'timestamp outside the tolerance zone | The signature is 400 seconds old at the time checked (rounded up to whole seconds); the tolerance is 300 seconds. | Check the database server''s clock; to verify an old delivery, pass a larger tolerance or at => the time it was received.',
          'strict: SW103 says how old the signature is') FROM k;
SELECT is(pg_temp.error_text(format('SELECT stripe_webhook.stripe_verify_signature_strict(%L, %L, %L, 300, %L)',
                                    p, 't=1700000000,t=1700000001,v1=abc', s, at)),
          'unable to extract timestamp and signatures from header | The header has several t elements with different values. | Pass the Stripe-Signature request header unchanged: t=<unix time>,v1=<signature>.',
          'strict: SW101 explains what is wrong with the header') FROM k;
SELECT is(pg_temp.error_text(format('SELECT stripe_webhook.stripe_verify_signature_strict(%L, %L, %L, 300, %L)',
                                    p || 'x', stripe_webhook.stripe_signature_header(p, s, at), s || E'\n', at)),
          'no signatures found matching the expected signature for payload | The header carries 1 v1 signature(s); none matches the payload under the 1 secret(s) given. | The signing secret contains whitespace; this often means an extra newline or space is in the value.',
          'strict: SW104 points at whitespace in the secret (as stripe-node)') FROM k;
SELECT ok(position(s IN pg_temp.error_text(format('SELECT stripe_webhook.stripe_verify_signature_strict(%L, %L, %L, 300, %L)',
                                                  p || 'x', h, s, at))) = 0
          AND position(substr(h, 17, 64) IN pg_temp.error_text(format('SELECT stripe_webhook.stripe_verify_signature_strict(%L, %L, %L, 300, %L)',
                                                  p || 'x', h, s, at))) = 0
          AND position(p IN pg_temp.error_text(format('SELECT stripe_webhook.stripe_verify_signature_strict(%L, %L, %L, 300, %L)',
                                                  p || 'x', h, s, at))) = 0,
          'errors never show the secret, the signature or the payload')
  FROM k, LATERAL (SELECT stripe_webhook.stripe_signature_header(p, s, at) AS h) AS hh;
SELECT is(stripe_webhook.stripe_signature_failure(p, stripe_webhook.stripe_signature_header(p, s, at), s, 300, at),
          NULL, 'failure(): NULL when valid') FROM k;
SELECT is(stripe_webhook.stripe_signature_failure(p, 'bad_header', s, 300, at),
          'Unable to extract timestamp and signatures from header', 'failure(): header') FROM k;
SELECT is(stripe_webhook.stripe_signature_failure(p, 't=1700000000,v0=abc', s, 300, at),
          'No signatures found with expected scheme v1', 'failure(): scheme') FROM k;
SELECT is(stripe_webhook.stripe_signature_failure(p, stripe_webhook.stripe_signature_header(p, s, at - interval '1 hour'), s, 300, at),
          'Timestamp outside the tolerance zone', 'failure(): tolerance') FROM k;
SELECT is(stripe_webhook.stripe_signature_failure(p, stripe_webhook.stripe_signature_header(p, s, at), s2, 300, at),
          'No signatures found matching the expected signature for payload', 'failure(): mismatch') FROM k;
SELECT is(stripe_webhook.stripe_signature_failure('', stripe_webhook.stripe_signature_header('', s, at), s, 300, at),
          'No webhook payload was provided', 'failure(): empty payload') FROM k;
SELECT is(stripe_webhook.stripe_signature_failure(p || 'x', stripe_webhook.stripe_signature_header(p, s, at - interval '1 hour'), s, 300, at),
          'No signatures found matching the expected signature for payload',
          'failure(): a forged and expired signature reports the mismatch first (Stripe''s order)') FROM k;

----------------------------------------------------------------------------
-- text[] overload: secret rolling
----------------------------------------------------------------------------
CREATE TEMP TABLE rolled ON COMMIT DROP AS
SELECT stripe_webhook.stripe_signature_header(p, s, at) || ',v1=' ||
       split_part(stripe_webhook.stripe_signature_header(p, s2, at), 'v1=', 2) AS h
  FROM k;
SELECT ok(stripe_webhook.stripe_verify_signature(p, h, ARRAY[s2], 300, at), 'rolled header: new secret alone') FROM k, rolled;
SELECT ok(stripe_webhook.stripe_verify_signature(p, h, s, 300, at), 'rolled header: old secret alone') FROM k, rolled;
SELECT ok(stripe_webhook.stripe_verify_signature(p, stripe_webhook.stripe_signature_header(p, s2, at), ARRAY[s, s2], 300, at),
          'text[]: the second secret matches') FROM k;
SELECT ok(NOT stripe_webhook.stripe_verify_signature(p, stripe_webhook.stripe_signature_header(p, s2, at), ARRAY[s, s || 'x'], 300, at),
          'text[]: no secret matches') FROM k;
SELECT ok(stripe_webhook.stripe_verify_signature_strict(p, stripe_webhook.stripe_signature_header(p, s, at), ARRAY[s2, s], 300, at),
          'strict text[]: true when one matches') FROM k;
SELECT is(stripe_webhook.stripe_signature_failure(p, stripe_webhook.stripe_signature_header(p, s, at - interval '1 hour'), ARRAY[s2, s], 300, at),
          'Timestamp outside the tolerance zone', 'failure() text[]: matched but expired') FROM k;
SELECT ok(stripe_webhook.stripe_verify_signature(p, stripe_webhook.stripe_signature_header(p, s, at),
                                                 ARRAY[ARRAY[s2, 'whsec_a'], ARRAY['whsec_b', s]], 300, at),
          'text[]: a two-dimensional array is read element by element') FROM k;
SELECT ok(stripe_webhook.stripe_verify_signature(p, stripe_webhook.stripe_signature_header(p, s, at),
                                                 array_append(ARRAY(SELECT 'whsec_roll_' || i FROM generate_series(1, 20) i), s), 300, at),
          'text[]: the last of 21 secrets matches (more than the key cache holds)') FROM k;

----------------------------------------------------------------------------
-- tolerance
----------------------------------------------------------------------------
SELECT ok(stripe_webhook.stripe_verify_signature(p, stripe_webhook.stripe_signature_header(p, s, at - interval '300 s'), s, 300, at),
          'age equal to the tolerance: valid') FROM k;
SELECT ok(NOT stripe_webhook.stripe_verify_signature(p, stripe_webhook.stripe_signature_header(p, s, at - interval '301 s'), s, 300, at),
          'age one second over: invalid') FROM k;
SELECT ok(NOT stripe_webhook.stripe_verify_signature(p, stripe_webhook.stripe_signature_header(p, s, at - interval '300 s'), s, 300,
                                                     at + interval '0.5 s'),
          'age 300.5 s: invalid (python compares the exact clock; at is rounded up)') FROM k;
SELECT ok(stripe_webhook.stripe_verify_signature(p, stripe_webhook.stripe_signature_header(p, s, at - interval '300 s'), s, 300,
                                                 at - interval '0.5 s'),
          'age 299.5 s: valid') FROM k;
SELECT ok(stripe_webhook.stripe_verify_signature(p, stripe_webhook.stripe_signature_header(p, s, at - interval '10 years'), s, 0, at),
          'tolerance 0: no age check') FROM k;
SELECT ok(NOT stripe_webhook.stripe_verify_signature(p, stripe_webhook.stripe_signature_header(p, s, at), s, -1, at),
          'negative tolerance: invalid') FROM k;
SELECT ok(NOT stripe_webhook.stripe_verify_signature(p, stripe_webhook.stripe_signature_header(p, s, at + interval '1 hour'), s, -1, at),
          'negative tolerance: invalid even for a future timestamp') FROM k;
SELECT ok(stripe_webhook.stripe_verify_signature(p, stripe_webhook.stripe_signature_header(p, s, at + interval '30 years'), s, 300, at),
          'future timestamps are accepted (as both libraries do)') FROM k;
SELECT ok(stripe_webhook.stripe_verify_signature(p, stripe_webhook.stripe_signature_header(p, s, '1970-01-01 00:00:01+00'), s, 2147483647, at),
          'the largest tolerance') FROM k;
SELECT ok(NOT stripe_webhook.stripe_verify_signature(p, stripe_webhook.stripe_signature_header(p, s, at - interval '301 s'), s, at => at),
          'the default tolerance is 300') FROM k;
SELECT ok(stripe_webhook.stripe_verify_signature(p, stripe_webhook.stripe_signature_header(p, s, at - interval '299 s'), s, at => at),
          'the default tolerance is 300 (inside)') FROM k;

----------------------------------------------------------------------------
-- limits: 8 KiB header, 64 v1 values
----------------------------------------------------------------------------
CREATE TEMP TABLE lim ON COMMIT DROP AS
SELECT stripe_webhook.stripe_signature_header(p, s, at) AS h FROM k;
SELECT ok(stripe_webhook.stripe_verify_signature(p, h || ',x=' || repeat('p', 8192 - length(h) - 3), s, 300, at),
          'a header of exactly 8192 bytes is read') FROM k, lim;
SELECT ok(NOT stripe_webhook.stripe_verify_signature(p, h || ',x=' || repeat('p', 8192 - length(h) - 2), s, 300, at),
          'a header of 8193 bytes is rejected') FROM k, lim;
SELECT is(stripe_webhook.stripe_signature_failure(p, h || ',x=' || repeat('p', 9000), s, 300, at),
          'Unable to extract timestamp and signatures from header', 'an oversized header is a header error') FROM k, lim;
SELECT ok(length(x) < 8192 AND octet_length(x) > 8192 AND NOT stripe_webhook.stripe_verify_signature(p, x, s, 300, at),
          'the limit counts bytes, not characters')
  FROM k, lim, LATERAL (SELECT h || ',x=' || repeat('é', 5000) AS x) AS xx;
SELECT is(pg_temp.error_text(format('SELECT stripe_webhook.stripe_verify_signature_strict(%L, %L, %L, 300, %L)',
                                    p, h || ',x=' || repeat('p', 9000), s, at)),
          'unable to extract timestamp and signatures from header | The header is longer than 8192 bytes. | Pass the Stripe-Signature request header unchanged: t=<unix time>,v1=<signature>.',
          'strict: the oversized header is named') FROM k, lim;
SELECT ok(stripe_webhook.stripe_verify_signature(p,
              split_part(h, ',', 1) || (SELECT string_agg(',v1=' || lpad(i::text, 64, '0'), '' ORDER BY i) FROM generate_series(1, 63) i)
              || ',' || split_part(h, ',', 2), s, 300, at),
          'the valid signature as the 64th v1 is considered') FROM k, lim;
SELECT ok(NOT stripe_webhook.stripe_verify_signature(p,
              split_part(h, ',', 1) || (SELECT string_agg(',v1=' || lpad(i::text, 64, '0'), '' ORDER BY i) FROM generate_series(1, 64) i)
              || ',' || split_part(h, ',', 2), s, 300, at),
          'the valid signature as the 65th v1 is not considered') FROM k, lim;
SELECT ok(stripe_webhook.stripe_verify_signature(p,
              h || (SELECT string_agg(',v1=' || lpad(i::text, 64, '0'), '' ORDER BY i) FROM generate_series(1, 99) i), s, 300, at),
          'a valid first v1 followed by 99 others verifies') FROM k, lim;

----------------------------------------------------------------------------
-- header edge cases (the differential vectors hold many more)
----------------------------------------------------------------------------
SELECT ok(stripe_webhook.stripe_verify_signature(p, replace(h, 't=', 't=000'), s, 300, at),
          't with leading zeros is signed as the decimal integer') FROM k, lim;
SELECT ok(stripe_webhook.stripe_verify_signature(p, replace(h, 't=', 't=+'), s, 300, at), 't with + sign') FROM k, lim;
SELECT ok(stripe_webhook.stripe_verify_signature(p, replace(h, 't=', E't=\u00a0'), s, 300, at),
          't after U+00A0 (both libraries skip it)') FROM k, lim;
SELECT ok(NOT stripe_webhook.stripe_verify_signature(p, replace(h, ',', E'\ufeff,'), s, 300, at),
          't before U+FEFF (python refuses it)') FROM k, lim;
SELECT ok(NOT stripe_webhook.stripe_verify_signature(p, replace(h, 't=1700000000', 't=1_700_000_000'), s, 300, at),
          't with _ separators') FROM k, lim;
SELECT ok(NOT stripe_webhook.stripe_verify_signature(p, h || ',t=1700000001', s, 300, at), 'two different t') FROM k, lim;
SELECT ok(stripe_webhook.stripe_verify_signature(p, h || ',t=01700000000', s, 300, at), 'two t with the same value') FROM k, lim;
SELECT ok(NOT stripe_webhook.stripe_verify_signature(p, h || ',v1=', s, 300, at), 'an empty v1 rejects the header') FROM k, lim;
SELECT ok(NOT stripe_webhook.stripe_verify_signature(p, h || ',v1', s, 300, at), 'a bare v1 rejects the header') FROM k, lim;
SELECT ok(NOT stripe_webhook.stripe_verify_signature(p, h || ',v1=é', s, 300, at), 'a non-ASCII v1 rejects the header') FROM k, lim;
SELECT ok(NOT stripe_webhook.stripe_verify_signature(p, upper(h), s, 300, at), 'upper-case hex does not match') FROM k, lim;
SELECT ok(stripe_webhook.stripe_verify_signature(p, h || '=junk', s, 300, at), 'the v1 value ends at a second =') FROM k, lim;
SELECT ok(NOT stripe_webhook.stripe_verify_signature(p, replace(h, ',', ', '), s, 300, at), 'a space after the comma hides v1') FROM k, lim;
SELECT ok(NOT stripe_webhook.stripe_verify_signature(p, replace(h, 't=1700000000', 't=-1'), s, 0, at), 't=-1 (node''s marker)') FROM k, lim;
SELECT ok(stripe_webhook.stripe_verify_signature(p, stripe_webhook.stripe_signature_header(p, s, '1969-12-31 23:59:55+00'), s, 0, at),
          'a negative t other than -1 verifies without an age check') FROM k;

----------------------------------------------------------------------------
-- payloads and the key cache
----------------------------------------------------------------------------
CREATE TEMP TABLE bigp ON COMMIT DROP AS
SELECT string_agg('{"n":' || i || ',"s":"lorem ipsum dolor"}', ',') AS big FROM generate_series(1, 30000) AS i;
SELECT is((SELECT pg_column_size(big) < octet_length(big) FROM bigp), true, 'the 1 MB payload is stored compressed (TOAST)');
SELECT ok(stripe_webhook.stripe_verify_signature(big, stripe_webhook.stripe_signature_header(big, s, at), s, 300, at),
          'a 1 MB compressed payload verifies') FROM k, bigp;
SELECT ok(NOT stripe_webhook.stripe_verify_signature(E'caf\u00e9', stripe_webhook.stripe_signature_header(E'cafe\u0301', s, at), s, 300, at),
          'no Unicode normalisation: NFC and NFD payloads differ') FROM k;
SELECT is((SELECT count(*)::int FROM k, generate_series(1, 50) AS i
            WHERE NOT stripe_webhook.stripe_verify_signature(p || i, stripe_webhook.stripe_signature_header(p || i, s || i, at),
                                                             s || i, 300, at)),
          0, '50 different secrets in one statement (cache evictions) all verify');
SELECT is((SELECT count(*)::int FROM k, generate_series(1, 50) AS i
            WHERE stripe_webhook.stripe_verify_signature(p || i, stripe_webhook.stripe_signature_header(p || i, s || i, at),
                                                         s || (i + 1), 300, at)),
          0, '... and none verifies under its neighbour''s secret');
SELECT ok(stripe_webhook.stripe_verify_signature(p, stripe_webhook.stripe_signature_header(p, s, at), s, 300, at),
          'the first secret still verifies after the evictions') FROM k;
SELECT is((SELECT count(DISTINCT stripe_webhook.stripe_signature_header(p, s, at))::int FROM k, generate_series(1, 100)),
          1, 'a cached key gives the same signature every call');

----------------------------------------------------------------------------
-- a payload starting with a byte order mark (U+FEFF) never matches, even
-- signed over all its bytes: stripe-node given the raw body as a Buffer
-- strips the mark before signing, python3-stripe does not
----------------------------------------------------------------------------
CREATE TEMP TABLE bom ON COMMIT DROP AS
SELECT E'\ufeff' || p AS p, stripe_webhook.stripe_signature_header(E'\ufeff' || p, s, at) AS h,
       stripe_webhook.stripe_signature_header(p, s, at) AS h_plain, s, s2, at
  FROM k;
SELECT ok(NOT stripe_webhook.stripe_verify_signature(p, h, s, 300, at),
          'BOM first, signed with the BOM: rejected') FROM bom;
SELECT is(stripe_webhook.stripe_signature_failure(p, h, s, 300, at),
          'No signatures found matching the expected signature for payload',
          'BOM first, signed with the BOM: the reason is a mismatch') FROM bom;
SELECT ok(NOT stripe_webhook.stripe_verify_signature(p, h_plain, s, 300, at),
          'BOM first, signed without it (what stripe-node would check of a Buffer): rejected') FROM bom;
SELECT ok(NOT stripe_webhook.stripe_verify_signature(p, h, ARRAY[s2, s], 300, at),
          'BOM first, text[] of secrets: rejected') FROM bom;
SELECT ok(NOT stripe_webhook.stripe_verify_signature(p, h, s, 0, at),
          'BOM first, tolerance 0: rejected') FROM bom;
SELECT throws_ok(format('SELECT stripe_webhook.stripe_verify_signature_strict(%L, %L, %L, 300, %L)', p, h, s, at),
                 'SW104', 'no signatures found matching the expected signature for payload',
                 'BOM first, strict: SW104') FROM bom;
SELECT ok(stripe_webhook.stripe_verify_signature(' ' || p, stripe_webhook.stripe_signature_header(' ' || p, s, at), s, 300, at),
          'U+FEFF after a space is an ordinary character: verifies') FROM bom;
SELECT ok(stripe_webhook.stripe_verify_signature(E'\ufefe' || substr(p, 2), stripe_webhook.stripe_signature_header(E'\ufefe' || substr(p, 2), s, at), s, 300, at),
          'U+FEFE first (same first two bytes): verifies') FROM bom;

SELECT * FROM finish();
ROLLBACK;
