-- stripe_handle_webhook: everything that must be rejected before an event is
-- recorded (NULL arguments, missing or bad signatures, no or only expired
-- secrets, bodies that are not Stripe events), with the exact status and
-- message, and proof that nothing was written except the rejection counter.
-- Also secret rolling (two active secrets) and the tolerance setting.
BEGIN;
\ir lib/webhook_setup.psql
SELECT plan(60);

CREATE TEMP TABLE before AS SELECT wh_test.written() AS w;

-- A valid, signed event that is never recorded below because each delivery
-- is broken in one way.
CREATE TEMP TABLE ev AS
SELECT wh_test.event('paid', 'evt_reject0001', 'cs_test_reject0001', 31001, '31001') AS body;

-- NULL and empty arguments: 400, never 200.
SELECT is(stripe_webhook.stripe_handle_webhook(NULL, NULL),
          '{"status": 400, "message": "missing payload"}'::jsonb, 'NULL payload and NULL header: 400');
SELECT is(stripe_webhook.stripe_handle_webhook(NULL, stripe_webhook.stripe_signature_header('{}', wh_test.secret())),
          '{"status": 400, "message": "missing payload"}'::jsonb, 'NULL payload: 400');
SELECT is(stripe_webhook.stripe_handle_webhook((SELECT body FROM ev), NULL),
          '{"status": 400, "message": "missing Stripe-Signature header"}'::jsonb, 'NULL header: 400');
SELECT is(stripe_webhook.stripe_handle_webhook((SELECT body FROM ev), ''),
          '{"status": 400, "message": "missing Stripe-Signature header"}'::jsonb, 'empty header: 400');
SELECT is(stripe_webhook.stripe_handle_webhook('', ''),
          '{"status": 400, "message": "missing Stripe-Signature header"}'::jsonb, 'empty body and header: 400');

-- Signatures Stripe's libraries reject, with their reasons.
SELECT is((wh_test.deliver((SELECT body FROM ev), 'whsec_someone_elses_secret'))->>'status', '400',
          'signed with another secret: 400');
SELECT matches((wh_test.deliver((SELECT body FROM ev), 'whsec_someone_elses_secret'))->>'message',
               'No signatures found matching the expected signature',
               'signed with another secret: Stripe''s "no signatures matching" reason');
SELECT is(stripe_webhook.stripe_handle_webhook(
              replace((SELECT body FROM ev), '"amount_total": 6000', '"amount_total": 6001'),
              stripe_webhook.stripe_signature_header((SELECT body FROM ev), wh_test.secret())) ->> 'status',
          '400', 'tampered body: 400');
SELECT is(stripe_webhook.stripe_handle_webhook(
              (SELECT body FROM ev) || ' ',
              stripe_webhook.stripe_signature_header((SELECT body FROM ev), wh_test.secret())) ->> 'status',
          '400', 'one byte of whitespace added to the body: 400');
SELECT matches(stripe_webhook.stripe_handle_webhook((SELECT body FROM ev), 'garbage') ->> 'message',
               'Unable to extract timestamp and signatures from header',
               'malformed header: Stripe''s "unable to extract" reason');
SELECT is(stripe_webhook.stripe_handle_webhook((SELECT body FROM ev), 'garbage') ->> 'status',
          '400', 'malformed header: 400');
SELECT is(stripe_webhook.stripe_handle_webhook(
              (SELECT body FROM ev),
              't=' || extract(epoch FROM now())::bigint || ',v0=' || repeat('ab', 32)) ->> 'status',
          '400', 'only a v0 signature: 400');
SELECT is(stripe_webhook.stripe_handle_webhook(
              (SELECT body FROM ev),
              stripe_webhook.stripe_signature_header((SELECT body FROM ev), wh_test.secret(),
                                                     at => now() - interval '10 minutes')) ->> 'status',
          '400', 'signature older than the tolerance (300 s): 400');
SELECT matches(stripe_webhook.stripe_handle_webhook(
              (SELECT body FROM ev),
              stripe_webhook.stripe_signature_header((SELECT body FROM ev), wh_test.secret(),
                                                     at => now() - interval '10 minutes')) ->> 'message',
          'Timestamp outside the tolerance zone', 'old signature: Stripe''s tolerance reason');
SELECT is(stripe_webhook.stripe_handle_webhook(repeat('x', 100),
              't=1,v1=' || repeat('0', 64) || repeat(',v1=' || repeat('0', 64), 200)) ->> 'status',
          '400', 'a header over 8 KiB: 400');
-- A body starting with a byte order mark: stripe-node, given the raw body as
-- a Buffer, strips the mark before signing and python3-stripe does not, so
-- no signature of it is accepted, with or without the mark.
SELECT is(wh_test.deliver(E'\ufeff' || (SELECT body FROM ev)),
          '{"status": 400, "message": "No signatures found matching the expected signature for payload"}'::jsonb,
          'a body starting with U+FEFF, signed with the mark: 400, no signature matches');
SELECT is(stripe_webhook.stripe_handle_webhook(
              E'\ufeff' || (SELECT body FROM ev),
              stripe_webhook.stripe_signature_header((SELECT body FROM ev), wh_test.secret())),
          '{"status": 400, "message": "No signatures found matching the expected signature for payload"}'::jsonb,
          'a body starting with U+FEFF, signed without the mark: 400, no signature matches');

-- Bodies that verify but are not Stripe events: 400, nothing recorded.
CREATE FUNCTION pg_temp.bad_body(body text) RETURNS jsonb LANGUAGE sql
AS $$ SELECT wh_test.deliver(body) $$;
SELECT is(pg_temp.bad_body('this is not json'),
          '{"status": 400, "message": "payload is not valid JSON"}'::jsonb, 'text body: 400, not valid JSON');
SELECT is(pg_temp.bad_body(''),
          '{"status": 400, "message": "No webhook payload was provided"}'::jsonb, 'empty body: 400, no payload (as stripe-node says)');
SELECT is(pg_temp.bad_body('{"id": "evt_1", "object": "event", '),
          '{"status": 400, "message": "payload is not valid JSON"}'::jsonb, 'truncated JSON: 400');
SELECT is(pg_temp.bad_body('{"id": "evt_nul", "object": "event", "type": "x\u0000", "data": {"object": {}}}') ->> 'message',
          'payload is not valid JSON', 'JSON that jsonb cannot hold (\u0000): 400, not valid JSON');
SELECT is(pg_temp.bad_body('[' || (SELECT body FROM ev) || ']'),
          '{"status": 400, "message": "payload is not a JSON object"}'::jsonb, 'an array holding an event: 400');
SELECT is(pg_temp.bad_body('"evt_1"'),
          '{"status": 400, "message": "payload is not a JSON object"}'::jsonb, 'a JSON string: 400');
SELECT is(pg_temp.bad_body('42') ->> 'status', '400', 'a JSON number: 400');
SELECT is(pg_temp.bad_body('null') ->> 'status', '400', 'JSON null: 400');
SELECT is(pg_temp.bad_body('{}') ->> 'message',
          'payload is not a Stripe event: "object" is not "event"', 'empty object: 400, not an event');
SELECT is(pg_temp.bad_body(replace((SELECT body FROM ev), '"object": "event"', '"object": "charge"')) ->> 'message',
          'payload is not a Stripe event: "object" is not "event"', 'object "charge": 400');
SELECT is(pg_temp.bad_body(replace((SELECT body FROM ev), '"id": "evt_reject0001"', '"id": "ch_reject0001"')) ->> 'message',
          'payload is not a Stripe event: "id" is not an event id (evt_...)', 'id without evt_: 400');
SELECT is(pg_temp.bad_body(replace((SELECT body FROM ev), '"id": "evt_reject0001"', '"id": "evt_"')) ->> 'status',
          '400', 'id "evt_" alone: 400');
SELECT is(pg_temp.bad_body(replace((SELECT body FROM ev), '"id": "evt_reject0001"', '"id": "evt_x''; drop table x; --"')) ->> 'status',
          '400', 'id with characters Stripe never uses: 400');
SELECT is(pg_temp.bad_body(replace((SELECT body FROM ev), '"id": "evt_reject0001"', '"id": 12')) ->> 'status',
          '400', 'numeric id: 400');
SELECT is(pg_temp.bad_body(replace((SELECT body FROM ev), '"type": "checkout.session.completed"', '"typ": "x"')) ->> 'message',
          'payload is not a Stripe event: "type" is missing or malformed', 'no type: 400');
SELECT is(pg_temp.bad_body(replace((SELECT body FROM ev), '"type": "checkout.session.completed"', '"type": ""')) ->> 'status',
          '400', 'empty type: 400');
SELECT is(pg_temp.bad_body(replace((SELECT body FROM ev), '"data": {', '"data": {"x": 1}, "datx": {')) ->> 'message',
          'payload is not a Stripe event: "data.object" is not an object', 'data without object: 400');
SELECT is(pg_temp.bad_body('{"id": "evt_1", "object": "event", "type": "x.y", "data": {"object": [1]}}') ->> 'message',
          'payload is not a Stripe event: "data.object" is not an object', 'data.object an array: 400');
SELECT is(pg_temp.bad_body('{"id": "evt_1", "object": "event", "type": "x.y", "data": []}') ->> 'status',
          '400', 'data an array: 400');
SELECT is(pg_temp.bad_body(replace((SELECT body FROM ev), '"created": 1785000312', '"created": "yesterday"')) ->> 'message',
          'payload is not a Stripe event: "created" is not a Unix timestamp', 'created a string: 400');
SELECT is(pg_temp.bad_body(replace((SELECT body FROM ev), '"created": 1785000312', '"created": 1.5')) ->> 'status',
          '400', 'created a fraction: 400');
SELECT is(pg_temp.bad_body(replace((SELECT body FROM ev), '"created": 1785000312', '"created": -1')) ->> 'status',
          '400', 'created negative: 400');
SELECT is(pg_temp.bad_body(replace((SELECT body FROM ev), '"livemode": false', '"livemode": "no"')) ->> 'message',
          'payload is not a Stripe event: "livemode" is not a boolean', 'livemode a string: 400');
SELECT is(pg_temp.bad_body(replace((SELECT body FROM ev), '"api_version": "2026-07-29.dahlia"', '"api_version": 7')) ->> 'message',
          'payload is not a Stripe event: "api_version" is not a string', 'api_version a number: 400');

-- None of the above wrote anything but counters.
SELECT is(wh_test.written(), (SELECT w FROM before), 'no event, order, cart or stock change after any rejection');
SELECT is((SELECT jsonb_object_agg(reason, count) FROM stripe_webhook.rejected_deliveries),
          '{"missing_header": 3, "no_match": 6, "bad_header": 3, "no_signature": 1, "too_old": 2, "no_payload": 1}'::jsonb,
          'rejected deliveries are counted by reason; bad bodies and NULL payloads are not');

-- No active secret: 500 so that Stripe retries once one is configured.
UPDATE stripe_webhook.signing_secrets SET expires_at = now() - interval '1 second';
SELECT is(wh_test.deliver((SELECT body FROM ev)),
          '{"status": 500, "message": "webhook secret not configured"}'::jsonb,
          'only an expired secret: 500 webhook secret not configured');
DELETE FROM stripe_webhook.signing_secrets;
SELECT is(wh_test.deliver((SELECT body FROM ev)),
          '{"status": 500, "message": "webhook secret not configured"}'::jsonb,
          'no secret at all: 500 webhook secret not configured');
SELECT is(stripe_webhook.stripe_handle_webhook((SELECT body FROM ev), NULL) ->> 'status', '400',
          'no secret and no header: still 400 for the missing header');
SELECT is((SELECT count FROM stripe_webhook.rejected_deliveries WHERE reason = 'no_secret'), 2::bigint,
          'deliveries without a configured secret are counted');
SELECT is(wh_test.written(), (SELECT w FROM before), 'nothing written without a secret');

-- Secret rolling: the old secret (expiring tomorrow) and the new one are
-- both active; an expired third one never verifies.
INSERT INTO stripe_webhook.signing_secrets (secret, created_at, expires_at) VALUES
    ('whsec_old_rolled_secret_000000000000000000', now() - interval '90 days', now() + interval '1 day'),
    ('whsec_new_secret_11111111111111111111111111', now(), NULL),
    ('whsec_expired_secret_2222222222222222222222', now() - interval '1 year', now() - interval '1 hour');
CREATE TEMP TABLE roll AS
SELECT wh_test.retype(wh_test.event('paid', 'evt_roll' || n, 'cs_test_roll' || n, 31100 + n, '311' || n),
                      'customer.updated') AS body, n
FROM generate_series(1, 5) n;

SELECT is(wh_test.deliver((SELECT body FROM roll WHERE n = 1), 'whsec_old_rolled_secret_000000000000000000') ->> 'status',
          '200', 'signed with the old (still active) secret: 200');
SELECT is(wh_test.deliver((SELECT body FROM roll WHERE n = 2), 'whsec_new_secret_11111111111111111111111111') ->> 'status',
          '200', 'signed with the new secret: 200');
SELECT is(stripe_webhook.stripe_handle_webhook(
              (SELECT body FROM roll WHERE n = 3),
              stripe_webhook.stripe_signature_header((SELECT body FROM roll WHERE n = 3),
                                                     'whsec_old_rolled_secret_000000000000000000', at => now())
              || ',' ||
              split_part(stripe_webhook.stripe_signature_header((SELECT body FROM roll WHERE n = 3),
                                                                'whsec_new_secret_11111111111111111111111111', at => now()),
                         ',', 2)) ->> 'status',
          '200', 'one v1 per active secret, as Stripe sends while rolling: 200');
SELECT is(wh_test.deliver((SELECT body FROM roll WHERE n = 4), 'whsec_expired_secret_2222222222222222222222') ->> 'status',
          '400', 'signed with an expired secret: 400 although other secrets are active');
SELECT is((SELECT count(*) FROM stripe_webhook.events WHERE id = 'evt_roll4'), 0::bigint,
          'the delivery signed with the expired secret was not recorded');
UPDATE stripe_webhook.signing_secrets SET expires_at = now() - interval '1 second'
WHERE secret = 'whsec_old_rolled_secret_000000000000000000';
SELECT is(wh_test.deliver((SELECT body FROM roll WHERE n = 4), 'whsec_old_rolled_secret_000000000000000000') ->> 'status',
          '400', 'once the old secret expired, it no longer verifies');
SELECT is(wh_test.deliver((SELECT body FROM roll WHERE n = 4), 'whsec_new_secret_11111111111111111111111111') ->> 'status',
          '200', 'the new secret still does');
SELECT is((SELECT array_agg(id ORDER BY id) FROM stripe_webhook.events),
          ARRAY['evt_roll1', 'evt_roll2', 'evt_roll3', 'evt_roll4'], 'exactly the verified deliveries were recorded');

-- stripe_webhook.tolerance: a 10-minute-old signature passes with 3600.
SET LOCAL stripe_webhook.tolerance = 3600;
SELECT is(stripe_webhook.stripe_handle_webhook(
              (SELECT body FROM roll WHERE n = 5),
              stripe_webhook.stripe_signature_header((SELECT body FROM roll WHERE n = 5),
                                                     'whsec_new_secret_11111111111111111111111111',
                                                     at => now() - interval '10 minutes')) ->> 'status',
          '200', 'stripe_webhook.tolerance = 3600 accepts a 10-minute-old signature');
SET LOCAL stripe_webhook.tolerance = 0;
SELECT is(stripe_webhook.stripe_handle_webhook(
              wh_test.retype(wh_test.event('paid', 'evt_roll6', 'cs_test_roll6', 31106, '31106'), 'customer.updated'),
              stripe_webhook.stripe_signature_header(
                  wh_test.retype(wh_test.event('paid', 'evt_roll6', 'cs_test_roll6', 31106, '31106'), 'customer.updated'),
                  'whsec_new_secret_11111111111111111111111111',
                  at => now() - interval '30 days')) ->> 'status',
          '200', 'stripe_webhook.tolerance = 0 disables the age check');
RESET stripe_webhook.tolerance;
SELECT is(stripe_webhook.stripe_handle_webhook(
              wh_test.retype(wh_test.event('paid', 'evt_roll7', 'cs_test_roll7', 31107, '31107'), 'customer.updated'),
              stripe_webhook.stripe_signature_header(
                  wh_test.retype(wh_test.event('paid', 'evt_roll7', 'cs_test_roll7', 31107, '31107'), 'customer.updated'),
                  'whsec_new_secret_11111111111111111111111111',
                  at => now() - interval '301 seconds')) ->> 'status',
          '400', 'back to the default 300 s: a 301-second-old signature is rejected');
SELECT throws_ok($$SET stripe_webhook.tolerance = -1$$, '22023', NULL, 'a negative tolerance setting is refused');

SELECT * FROM finish();
ROLLBACK;
