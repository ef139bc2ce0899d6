-- stripe_handle_webhook: the signature's age at the tolerance boundary.
-- The handler's "now" is the transaction's start (now()), rounded UP to
-- whole seconds as python3-stripe counts it: with now() = N + f (0 < f < 1),
-- a signature made at N - 299 is 300 s old and accepted, one made at N - 300
-- is 301 s old and rejected.  (Rounding down would accept both: age 300.)
--
-- The fractional part f must not be 0, or both roundings agree: the file
-- starts its transaction a quarter of a second past a whole second.
SELECT pg_sleep(1.25 - pg_catalog.date_part('epoch', pg_catalog.clock_timestamp())::numeric % 1)
    \g /dev/null
BEGIN;
\ir lib/webhook_setup.psql
SELECT plan(12);

SELECT pg_catalog.floor(pg_catalog.date_part('epoch', now()))::bigint AS n \gset

-- an event of a type the handler ignores: accepted means 200 and one row
CREATE FUNCTION pg_temp.ev(evt text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT pg_catalog.format('{"id": "%s", "object": "event", "type": "customer.created", '
                             '"api_version": "2026-07-29.dahlia", "created": 1785000312, "livemode": false, '
                             '"data": {"object": {"id": "cus_age", "object": "customer"}}}', evt)
$$;
-- deliver an event signed at Unix second t
CREATE FUNCTION pg_temp.deliver_at(evt text, t bigint) RETURNS jsonb LANGUAGE sql VOLATILE AS $$
    SELECT stripe_webhook.stripe_handle_webhook(
               pg_temp.ev(evt),
               stripe_webhook.stripe_signature_header(pg_temp.ev(evt), wh_test.secret(),
                                                      pg_catalog.to_timestamp(t)))
$$;

SELECT ok(pg_catalog.date_part('microseconds', now())::bigint % 1000000 <> 0,
          'precondition: now() has a fractional second, so rounding up and down differ');

SET LOCAL stripe_webhook.tolerance = 300;
SELECT is(pg_temp.deliver_at('evt_age_299', :n - 299),
          '{"status": 200, "message": "event type ignored", "event_id": "evt_age_299", "event_type": "customer.created"}'::jsonb,
          'tolerance 300: signed at floor(now) - 299 (age 299.x, counted as 300) is accepted');
SELECT is(pg_temp.deliver_at('evt_age_300', :n - 300),
          '{"status": 400, "message": "Timestamp outside the tolerance zone"}'::jsonb,
          'tolerance 300: signed at floor(now) - 300 (age 300.x, counted as 301) is rejected');
SELECT is((SELECT pg_catalog.string_agg(id, ',' ORDER BY id) FROM stripe_webhook.events), 'evt_age_299',
          'tolerance 300: only the accepted event was recorded');
SELECT is((SELECT count FROM stripe_webhook.rejected_deliveries WHERE reason = 'too_old'), 1::bigint,
          'tolerance 300: the rejection was counted as too_old');

-- the same boundary with another tolerance
SET LOCAL stripe_webhook.tolerance = 5;
SELECT is(pg_temp.deliver_at('evt_age_4', :n - 4) ->> 'status', '200',
          'tolerance 5: signed at floor(now) - 4 (age 4.x) is accepted');
SELECT is(pg_temp.deliver_at('evt_age_5', :n - 5) ->> 'status', '400',
          'tolerance 5: signed at floor(now) - 5 (age 5.x) is rejected');
SELECT is(pg_temp.deliver_at('evt_age_future', :n + 60) ->> 'status', '200',
          'tolerance 5: a signature from the future is accepted (as in Stripe''s libraries)');
SELECT is((SELECT pg_catalog.string_agg(id, ',' ORDER BY id) FROM stripe_webhook.events),
          'evt_age_299,evt_age_4,evt_age_future', 'tolerance 5: the accepted events were recorded, nothing else');

-- stripe_verify_signature with at => now() rounds the same way
SELECT ok(stripe_webhook.stripe_verify_signature(pg_temp.ev('x'),
              stripe_webhook.stripe_signature_header(pg_temp.ev('x'), wh_test.secret(), pg_catalog.to_timestamp(:n - 299)),
              wh_test.secret(), 300, now()),
          'stripe_verify_signature at now(): floor(now) - 299 is accepted');
SELECT ok(NOT stripe_webhook.stripe_verify_signature(pg_temp.ev('x'),
              stripe_webhook.stripe_signature_header(pg_temp.ev('x'), wh_test.secret(), pg_catalog.to_timestamp(:n - 300)),
              wh_test.secret(), 300, now()),
          'stripe_verify_signature at now(): floor(now) - 300 is rejected');
SELECT is(stripe_webhook.stripe_signature_failure(pg_temp.ev('x'),
              stripe_webhook.stripe_signature_header(pg_temp.ev('x'), wh_test.secret(), pg_catalog.to_timestamp(:n - 300)),
              wh_test.secret(), 300, now()),
          'Timestamp outside the tolerance zone', 'stripe_signature_failure at now(): the reason');

SELECT * FROM finish();
ROLLBACK;
