-- stripe_webhook: Stripe Checkout webhook verification and fulfilment
-- inside PostgreSQL.  This is the hand-edited source of the current
-- version's install script (the Makefile copies it to
-- stripe_webhook--<version>.sql).  Every object lives in the fixed schema
-- stripe_webhook; every name inside a function body is schema-qualified.

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION stripe_webhook" to load this file. \quit

-- Privileges: every function is REVOKEd from PUBLIC right after it is
-- created and granted explicitly where callers need it.

---------------------------------------------------------------------------
-- Section: signatures (issue 2)
---------------------------------------------------------------------------

---------------------------------------------------------------------------
-- Section: shop schema and fulfilment (issue 3)
---------------------------------------------------------------------------

---------------------------------------------------------------------------
-- Section: webhook handler, signing secrets, event inbox (issue 4)
---------------------------------------------------------------------------

-- Signing secrets.  One row per Stripe webhook endpoint secret ("whsec_...").
-- Several rows may be active at once: when a secret is rolled in Stripe's
-- Dashboard the old one stays valid for a while, and deliveries carry one
-- v1 signature per active secret.  A row whose expires_at has passed never
-- verifies anything.  Only the extension's owner can read or change this
-- table; stripe_handle_webhook() reads it as the owner (SECURITY DEFINER).
CREATE TABLE stripe_webhook.signing_secrets (
    id          bigserial PRIMARY KEY,
    secret      text NOT NULL CONSTRAINT signing_secrets_secret_not_empty CHECK (secret <> ''),
    description text,
    created_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    expires_at  timestamptz NULL
);
REVOKE ALL ON TABLE stripe_webhook.signing_secrets FROM PUBLIC;
REVOKE ALL ON SEQUENCE stripe_webhook.signing_secrets_id_seq FROM PUBLIC;
COMMENT ON TABLE stripe_webhook.signing_secrets IS
    'Stripe webhook signing secrets (whsec_...); a row verifies while expires_at is NULL or in the future. Owner only.';
SELECT pg_catalog.pg_extension_config_dump('stripe_webhook.signing_secrets', '');
SELECT pg_catalog.pg_extension_config_dump('stripe_webhook.signing_secrets_id_seq', '');

-- The event inbox.  Every delivery whose signature verified and whose body
-- is a Stripe event is recorded here, keyed by Stripe's event id, in the
-- same transaction as its processing.
--   status  received   recorded, not processed yet (a transient failure
--                      such as a lock timeout left it; Stripe retries)
--           processed  the checkout.session.* handler ran and committed
--           ignored    an event type the extension does not handle
--           failed     the handler raised a permanent error (last_error);
--                      a redelivery or stripe_replay_event() tries again
CREATE TABLE stripe_webhook.events (
    id              text PRIMARY KEY
                    CONSTRAINT events_id_format CHECK (id ~ '^evt_[A-Za-z0-9_]+$' AND pg_catalog.length(id) <= 255),
    type            text NOT NULL CONSTRAINT events_type_not_empty CHECK (type <> ''),
    api_version     text,
    livemode        boolean,
    created         timestamptz,
    session_id      text,
    order_id        uuid,
    received_at     timestamptz NOT NULL DEFAULT pg_catalog.now(),
    processed_at    timestamptz,
    status          text NOT NULL DEFAULT 'received'
                    CONSTRAINT events_status_check CHECK (status IN ('received', 'processed', 'ignored', 'failed')),
    attempts        integer NOT NULL DEFAULT 0 CONSTRAINT events_attempts_check CHECK (attempts >= 0),
    last_attempt_at timestamptz,
    last_error      text,
    last_sqlstate   text,
    payload         jsonb NOT NULL,
    CONSTRAINT events_processed_at_check CHECK ((status IN ('processed', 'ignored')) = (processed_at IS NOT NULL))
);
CREATE INDEX events_unprocessed_idx ON stripe_webhook.events (received_at)
    WHERE status IN ('received', 'failed');
CREATE INDEX events_session_id_idx ON stripe_webhook.events (session_id)
    WHERE session_id IS NOT NULL;
REVOKE ALL ON TABLE stripe_webhook.events FROM PUBLIC;
COMMENT ON TABLE stripe_webhook.events IS
    'Stripe events received by stripe_handle_webhook(), one row per event id, with their processing status.';
SELECT pg_catalog.pg_extension_config_dump('stripe_webhook.events', '');

-- Deliveries rejected before anything else was written (bad or missing
-- signature, no signing secret configured): one counter per reason.  This
-- is the only thing a rejected delivery writes.
CREATE TABLE stripe_webhook.rejected_deliveries (
    reason          text PRIMARY KEY
                    CONSTRAINT rejected_deliveries_reason_check
                    CHECK (reason IN ('missing_header', 'bad_header', 'no_signature', 'too_old',
                                      'no_match', 'no_secret')),
    count           bigint NOT NULL DEFAULT 0,
    first_at        timestamptz NOT NULL DEFAULT pg_catalog.now(),
    last_at         timestamptz NOT NULL DEFAULT pg_catalog.now()
);
REVOKE ALL ON TABLE stripe_webhook.rejected_deliveries FROM PUBLIC;
COMMENT ON TABLE stripe_webhook.rejected_deliveries IS
    'Counters of webhook deliveries rejected by stripe_handle_webhook() before an event was recorded.';
SELECT pg_catalog.pg_extension_config_dump('stripe_webhook.rejected_deliveries', '');

-- What an on-call engineer looks at first: per event type and status, how
-- many events, when they arrived, the oldest one still unprocessed (received
-- or failed) and the most recent error among those.
CREATE VIEW stripe_webhook.events_overview AS
SELECT g.type,
       g.status,
       g.events,
       g.attempts,
       g.first_received_at,
       g.last_received_at,
       o.id AS oldest_unprocessed_id,
       o.received_at AS oldest_unprocessed_at,
       l.id AS last_error_event_id,
       l.last_sqlstate,
       l.last_error,
       l.last_attempt_at AS last_error_at
FROM (SELECT e.type, e.status, pg_catalog.count(*) AS events, pg_catalog.sum(e.attempts) AS attempts,
             pg_catalog.min(e.received_at) AS first_received_at,
             pg_catalog.max(e.received_at) AS last_received_at
      FROM stripe_webhook.events e
      GROUP BY e.type, e.status) g
LEFT JOIN LATERAL (SELECT e.id, e.received_at
                   FROM stripe_webhook.events e
                   WHERE e.status IN ('received', 'failed')
                     AND e.type = g.type AND e.status = g.status
                   ORDER BY e.received_at, e.id
                   LIMIT 1) o ON true
LEFT JOIN LATERAL (SELECT e.id, e.last_sqlstate, e.last_error, e.last_attempt_at
                   FROM stripe_webhook.events e
                   WHERE e.status IN ('received', 'failed') AND e.last_error IS NOT NULL
                     AND e.type = g.type AND e.status = g.status
                   ORDER BY e.last_attempt_at DESC, e.id
                   LIMIT 1) l ON true;
REVOKE ALL ON TABLE stripe_webhook.events_overview FROM PUBLIC;
COMMENT ON VIEW stripe_webhook.events_overview IS
    'On-call summary of stripe_webhook.events: counts by type and status, oldest unprocessed event, last error.';

-- The one call every relay makes: hand over the raw body and the
-- Stripe-Signature header, answer Stripe with the returned "status".
CREATE FUNCTION stripe_webhook.stripe_handle_webhook(payload text, signature_header text)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'stripe_handle_webhook'
LANGUAGE C VOLATILE CALLED ON NULL INPUT SECURITY DEFINER
SET search_path = '';
REVOKE ALL ON FUNCTION stripe_webhook.stripe_handle_webhook(text, text) FROM PUBLIC;
COMMENT ON FUNCTION stripe_webhook.stripe_handle_webhook(text, text) IS
    'Verify a Stripe webhook delivery against the active signing secrets, record the event once and process it; returns {"status": <HTTP status>, "message": ...}.';

-- Reprocess a recorded event that failed (or was left unprocessed) from its
-- stored payload, without a signature.  Owner only.
CREATE FUNCTION stripe_webhook.stripe_replay_event(event_id text)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'stripe_replay_event'
LANGUAGE C VOLATILE CALLED ON NULL INPUT SECURITY DEFINER
SET search_path = '';
REVOKE ALL ON FUNCTION stripe_webhook.stripe_replay_event(text) FROM PUBLIC;
COMMENT ON FUNCTION stripe_webhook.stripe_replay_event(text) IS
    'Reprocess a failed or unprocessed event from stripe_webhook.events; returns the same JSON as stripe_handle_webhook().';
