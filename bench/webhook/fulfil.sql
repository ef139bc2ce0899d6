-- One transaction of the baseline: stripe_fulfill_session() alone on the
-- next cart's Checkout Session.  It builds and signs the same event as
-- webhook.sql (and throws the signature away) so that both scripts do the
-- same work outside the code being compared.
SELECT stripe_webhook.stripe_fulfill_session((p::jsonb) -> 'data' -> 'object') IS NOT NULL AS ok,
       stripe_webhook.stripe_signature_header(p, '@SECRET@') IS NOT NULL AS signed
FROM (SELECT replace(t.body, '@N@', (SELECT nextval('bench.cart_seq'))::text) AS p FROM bench.template t) s;
