-- One transaction of the measured path: stripe_handle_webhook() on the next
-- cart's signed checkout.session.completed: verify the signature against the
-- active secrets, record the event, fulfil the session, record the outcome.
SELECT (stripe_webhook.stripe_handle_webhook(p, stripe_webhook.stripe_signature_header(p, '@SECRET@')) ->> 'status') = '200' AS ok
FROM (SELECT replace(t.body, '@N@', (SELECT nextval('bench.cart_seq'))::text) AS p FROM bench.template t) s;
