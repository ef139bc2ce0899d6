-- stripe_webhook 0.2.0: signature verification, the built-in shop schema and
-- fulfilment, the webhook handler with signing secrets and the event inbox.
-- Frozen: never edit a released script; changes go into a new upgrade
-- script and into extension/stripe_webhook.sql.

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION stripe_webhook VERSION '0.2.0'" to load this file. \quit

-- Privileges: every function is REVOKEd from PUBLIC right after it is
-- created and granted explicitly where callers need it.

---------------------------------------------------------------------------
-- Section: signatures
---------------------------------------------------------------------------
-- Stripe-Signature verification in C (src/signature.c, src/stripe_sig.c).
-- Every function here is a pure function of its arguments (no table access,
-- no settings): IMMUTABLE and PARALLEL SAFE.  "at" defaults to now(), which
-- the caller's expression evaluates, so the functions themselves stay
-- IMMUTABLE.  They are not STRICT: NULL payload or header is a failed check,
-- NULL/empty/blank secrets and NULL tolerance/at are errors.
-- EXECUTE is granted to PUBLIC: the functions read nothing and reveal
-- nothing the caller did not pass in (callers still need USAGE on the
-- schema).

CREATE FUNCTION stripe_webhook.stripe_verify_signature(
    payload text,
    signature_header text,
    secret text,
    tolerance integer DEFAULT 300,
    at timestamptz DEFAULT pg_catalog.now())
RETURNS boolean
AS 'MODULE_PATHNAME', 'stripe_verify_signature'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
REVOKE ALL ON FUNCTION stripe_webhook.stripe_verify_signature(text, text, text, integer, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION stripe_webhook.stripe_verify_signature(text, text, text, integer, timestamptz) TO PUBLIC;
COMMENT ON FUNCTION stripe_webhook.stripe_verify_signature(text, text, text, integer, timestamptz) IS
'True when the Stripe-Signature header signs payload (t "." payload, HMAC-SHA256 keyed with the whole secret string, lower-case hex, any v1) and at - t <= tolerance seconds (0: no age check, negative: always false). False for any failed check and for a NULL payload or header. Errors: NULL, empty or blank secret (22023); NULL tolerance or at (22004).';

CREATE FUNCTION stripe_webhook.stripe_verify_signature(
    payload text,
    signature_header text,
    secret text[],
    tolerance integer DEFAULT 300,
    at timestamptz DEFAULT pg_catalog.now())
RETURNS boolean
AS 'MODULE_PATHNAME', 'stripe_verify_signature_any'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
REVOKE ALL ON FUNCTION stripe_webhook.stripe_verify_signature(text, text, text[], integer, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION stripe_webhook.stripe_verify_signature(text, text, text[], integer, timestamptz) TO PUBLIC;
COMMENT ON FUNCTION stripe_webhook.stripe_verify_signature(text, text, text[], integer, timestamptz) IS
'As stripe_verify_signature(text, text, text, ...), valid when any of the secrets matches (secret rolling). Errors: NULL or empty array, or an element that is NULL, empty or blank (22023); NULL tolerance or at (22004).';

CREATE FUNCTION stripe_webhook.stripe_verify_signature_strict(
    payload text,
    signature_header text,
    secret text,
    tolerance integer DEFAULT 300,
    at timestamptz DEFAULT pg_catalog.now())
RETURNS boolean
AS 'MODULE_PATHNAME', 'stripe_verify_signature_strict'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
REVOKE ALL ON FUNCTION stripe_webhook.stripe_verify_signature_strict(text, text, text, integer, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION stripe_webhook.stripe_verify_signature_strict(text, text, text, integer, timestamptz) TO PUBLIC;
COMMENT ON FUNCTION stripe_webhook.stripe_verify_signature_strict(text, text, text, integer, timestamptz) IS
'Returns true, or raises with the reason: SW101 unable to extract timestamp and signatures from header (also a NULL header), SW102 no signatures found with expected scheme v1, SW103 timestamp outside the tolerance zone, SW104 no signatures found matching the expected signature for payload, SW105 no webhook payload was provided (NULL or empty payload). Argument errors as stripe_verify_signature.';

CREATE FUNCTION stripe_webhook.stripe_verify_signature_strict(
    payload text,
    signature_header text,
    secret text[],
    tolerance integer DEFAULT 300,
    at timestamptz DEFAULT pg_catalog.now())
RETURNS boolean
AS 'MODULE_PATHNAME', 'stripe_verify_signature_strict_any'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
REVOKE ALL ON FUNCTION stripe_webhook.stripe_verify_signature_strict(text, text, text[], integer, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION stripe_webhook.stripe_verify_signature_strict(text, text, text[], integer, timestamptz) TO PUBLIC;
COMMENT ON FUNCTION stripe_webhook.stripe_verify_signature_strict(text, text, text[], integer, timestamptz) IS
'The strict variant over several secrets (valid when any matches); same SQLSTATEs as stripe_verify_signature_strict(text, text, text, ...).';

CREATE FUNCTION stripe_webhook.stripe_signature_failure(
    payload text,
    signature_header text,
    secret text,
    tolerance integer DEFAULT 300,
    at timestamptz DEFAULT pg_catalog.now())
RETURNS text
AS 'MODULE_PATHNAME', 'stripe_signature_failure'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
REVOKE ALL ON FUNCTION stripe_webhook.stripe_signature_failure(text, text, text, integer, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION stripe_webhook.stripe_signature_failure(text, text, text, integer, timestamptz) TO PUBLIC;
COMMENT ON FUNCTION stripe_webhook.stripe_signature_failure(text, text, text, integer, timestamptz) IS
'NULL when stripe_verify_signature would return true; otherwise the reason in Stripe''s words: "Unable to extract timestamp and signatures from header", "No signatures found with expected scheme v1", "Timestamp outside the tolerance zone", "No signatures found matching the expected signature for payload" or "No webhook payload was provided". Argument errors as stripe_verify_signature.';

CREATE FUNCTION stripe_webhook.stripe_signature_failure(
    payload text,
    signature_header text,
    secret text[],
    tolerance integer DEFAULT 300,
    at timestamptz DEFAULT pg_catalog.now())
RETURNS text
AS 'MODULE_PATHNAME', 'stripe_signature_failure_any'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
REVOKE ALL ON FUNCTION stripe_webhook.stripe_signature_failure(text, text, text[], integer, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION stripe_webhook.stripe_signature_failure(text, text, text[], integer, timestamptz) TO PUBLIC;
COMMENT ON FUNCTION stripe_webhook.stripe_signature_failure(text, text, text[], integer, timestamptz) IS
'stripe_signature_failure over several secrets (NULL when any matches).';

CREATE FUNCTION stripe_webhook.stripe_signature_header(
    payload text,
    secret text,
    at timestamptz DEFAULT pg_catalog.now())
RETURNS text
AS 'MODULE_PATHNAME', 'stripe_signature_header'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
REVOKE ALL ON FUNCTION stripe_webhook.stripe_signature_header(text, text, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION stripe_webhook.stripe_signature_header(text, text, timestamptz) TO PUBLIC;
COMMENT ON FUNCTION stripe_webhook.stripe_signature_header(text, text, timestamptz) IS
'The Stripe-Signature header Stripe would send for payload signed with secret at time at: "t=<unix seconds, rounded down>,v1=<lower-case hex HMAC-SHA256>", as stripe-node''s webhooks.generateTestHeaderString. NULL payload gives NULL. Errors: NULL, empty or blank secret (22023); NULL at (22004).';


---------------------------------------------------------------------------
-- Section: shop schema and fulfilment
---------------------------------------------------------------------------
-- The shop's catalogue, carts and orders.  Table and column names are a
-- public contract (relays, tools and users rely on them).  Money is in the
-- currency's minor units, as Stripe counts it (cents for usd).  The data
-- tables are registered with pg_extension_config_dump so that pg_dump keeps
-- their rows.  Nothing is granted to PUBLIC: the shop's own roles get what
-- they need explicitly.

-- Products: price and stock.  Stock never goes below zero (the fulfilment
-- takes what is there and records the shortfall instead).
CREATE TABLE stripe_webhook.products (
    id           bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    name         text NOT NULL,
    price_amount bigint NOT NULL CONSTRAINT products_price_amount_check CHECK (price_amount >= 0),
    currency     text NOT NULL DEFAULT 'usd'
                 CONSTRAINT products_currency_check CHECK (currency ~ '^[a-z]{3}$'),
    stock        integer NOT NULL CONSTRAINT products_stock_check CHECK (stock >= 0)
);
COMMENT ON TABLE stripe_webhook.products IS
    'Catalogue: price in minor units of a lower-case ISO currency, stock never negative.';

-- Carts: a user has at most one unlocked (active) cart.  Fulfilment locks the
-- paid cart (locked, locked_at, checkout_session_id) and gives the user a new
-- active cart.  A cart the application locks itself (e.g. when checkout
-- starts) has checkout_session_id NULL until a session fulfils it.
CREATE TABLE stripe_webhook.carts (
    id                  bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    user_id             text NOT NULL CONSTRAINT carts_user_id_check CHECK (user_id <> ''),
    locked              boolean NOT NULL DEFAULT false,
    locked_at           timestamptz,
    created_at          timestamptz NOT NULL DEFAULT pg_catalog.now(),
    checkout_session_id text,
    CONSTRAINT carts_locked_at_check CHECK (locked OR locked_at IS NULL),
    CONSTRAINT carts_session_locked_check CHECK (checkout_session_id IS NULL OR locked)
);
CREATE UNIQUE INDEX carts_one_active_per_user ON stripe_webhook.carts (user_id) WHERE NOT locked;
CREATE INDEX carts_user_id_idx ON stripe_webhook.carts (user_id);
COMMENT ON TABLE stripe_webhook.carts IS
    'Shopping carts; at most one unlocked cart per user (carts_one_active_per_user).';
COMMENT ON COLUMN stripe_webhook.carts.checkout_session_id IS
    'The Checkout Session whose fulfilment locked this cart (NULL if unlocked or locked by the application).';

-- Cart lines: one row per product per cart, so quantities are already
-- aggregated per product.
CREATE TABLE stripe_webhook.cart_items (
    cart_id    bigint NOT NULL REFERENCES stripe_webhook.carts (id) ON DELETE CASCADE,
    product_id bigint NOT NULL REFERENCES stripe_webhook.products (id),
    quantity   integer NOT NULL CONSTRAINT cart_items_quantity_check CHECK (quantity > 0),
    PRIMARY KEY (cart_id, product_id)
);
CREATE INDEX cart_items_product_id_idx ON stripe_webhook.cart_items (product_id);
COMMENT ON TABLE stripe_webhook.cart_items IS 'Cart lines, one per product per cart.';

-- Orders: exactly one per Checkout Session (UNIQUE checkout_session_id is
-- what makes repeated and concurrent deliveries harmless).
CREATE TABLE stripe_webhook.orders (
    id                   uuid PRIMARY KEY DEFAULT pg_catalog.gen_random_uuid(),
    user_id              text NOT NULL,
    cart_id              bigint REFERENCES stripe_webhook.carts (id),
    checkout_session_id  text NOT NULL CONSTRAINT orders_checkout_session_id_key UNIQUE,
    payment_intent_id    text,
    status               text NOT NULL
                         CONSTRAINT orders_status_check
                         CHECK (status IN ('pending', 'confirmed', 'needs_review', 'cancelled')),
    payment_status       text NOT NULL
                         CONSTRAINT orders_payment_status_check
                         CHECK (payment_status IN ('unpaid', 'paid', 'failed')),
    currency             text NOT NULL CONSTRAINT orders_currency_check CHECK (currency ~ '^[a-z]{3}$'),
    amount_subtotal      bigint NOT NULL CONSTRAINT orders_amount_subtotal_check CHECK (amount_subtotal >= 0),
    amount_total         bigint NOT NULL CONSTRAINT orders_amount_total_check CHECK (amount_total >= 0),
    customer_email       text,
    shipping_name        text,
    shipping_line1       text,
    shipping_line2       text,
    shipping_city        text,
    shipping_state       text,
    shipping_postal_code text,
    shipping_country     text,
    review_reason        text,
    created_at           timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at           timestamptz NOT NULL DEFAULT pg_catalog.now(),
    CONSTRAINT orders_review_reason_check CHECK (status <> 'needs_review' OR review_reason IS NOT NULL),
    CONSTRAINT orders_pending_unpaid_check CHECK (status <> 'pending' OR payment_status = 'unpaid'),
    CONSTRAINT orders_confirmed_paid_check CHECK (status <> 'confirmed' OR payment_status = 'paid')
);
CREATE INDEX orders_cart_id_idx ON stripe_webhook.orders (cart_id);
CREATE INDEX orders_user_id_idx ON stripe_webhook.orders (user_id);
CREATE INDEX orders_needs_review_idx ON stripe_webhook.orders (created_at) WHERE status = 'needs_review';
COMMENT ON TABLE stripe_webhook.orders IS
    'One order per Checkout Session; amounts in the shop''s currency (minor units).';
COMMENT ON COLUMN stripe_webhook.orders.review_reason IS
    'Why staff must look at the order (duplicate payment, stock short, amount mismatch, ...); set whenever status is needs_review.';

-- Order lines: the cart's lines at the time of payment.  unit_amount is the
-- product's price then; stock_taken is what this line holds from the
-- product's stock now (returned, and set to 0, when the order is cancelled);
-- shortfall is what was missing when the order was created.
CREATE TABLE stripe_webhook.order_items (
    order_id    uuid NOT NULL REFERENCES stripe_webhook.orders (id) ON DELETE CASCADE,
    product_id  bigint NOT NULL REFERENCES stripe_webhook.products (id),
    quantity    integer NOT NULL CONSTRAINT order_items_quantity_check CHECK (quantity > 0),
    unit_amount bigint NOT NULL CONSTRAINT order_items_unit_amount_check CHECK (unit_amount >= 0),
    shortfall   integer NOT NULL DEFAULT 0
                CONSTRAINT order_items_shortfall_check CHECK (shortfall >= 0 AND shortfall <= quantity),
    stock_taken integer NOT NULL DEFAULT 0
                CONSTRAINT order_items_stock_taken_check CHECK (stock_taken >= 0 AND stock_taken <= quantity),
    PRIMARY KEY (order_id, product_id)
);
CREATE INDEX order_items_product_id_idx ON stripe_webhook.order_items (product_id);
COMMENT ON TABLE stripe_webhook.order_items IS
    'Order lines: quantity, price when ordered, shortfall at creation, stock currently held.';

-- Sessions that failed or expired before (or without) an order.  A late
-- checkout.session.completed for one of them never takes stock: its order is
-- created as needs_review so that the money is not dropped.
CREATE TABLE stripe_webhook.checkout_sessions (
    id          text PRIMARY KEY,
    cart_id     bigint,
    user_id     text,
    outcome     text NOT NULL
                CONSTRAINT checkout_sessions_outcome_check CHECK (outcome IN ('expired', 'payment_failed')),
    order_id    uuid REFERENCES stripe_webhook.orders (id) ON DELETE SET NULL,
    recorded_at timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE stripe_webhook.checkout_sessions IS
    'Checkout Sessions recorded as expired or payment_failed (first outcome wins).';

SELECT pg_catalog.pg_extension_config_dump('stripe_webhook.products', '');
SELECT pg_catalog.pg_extension_config_dump('stripe_webhook.carts', '');
SELECT pg_catalog.pg_extension_config_dump('stripe_webhook.cart_items', '');
SELECT pg_catalog.pg_extension_config_dump('stripe_webhook.orders', '');
SELECT pg_catalog.pg_extension_config_dump('stripe_webhook.order_items', '');
SELECT pg_catalog.pg_extension_config_dump('stripe_webhook.checkout_sessions', '');
SELECT pg_catalog.pg_extension_config_dump('stripe_webhook.products_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('stripe_webhook.carts_id_seq', '');

-- stripe_fulfill_session(session jsonb) RETURNS uuid: the whole
-- checkout.session.completed transaction (src/fulfil.c).
CREATE FUNCTION stripe_webhook.stripe_fulfill_session(session jsonb)
RETURNS uuid
LANGUAGE c VOLATILE
AS 'MODULE_PATHNAME', 'stripe_fulfill_session';
REVOKE ALL ON FUNCTION stripe_webhook.stripe_fulfill_session(jsonb) FROM PUBLIC;
COMMENT ON FUNCTION stripe_webhook.stripe_fulfill_session(jsonb) IS
    'Fulfil a paid (or pending) Checkout Session: lock the cart, create the order and its items, take stock, give the user a new cart.  Idempotent per session; returns the order id.';

-- stripe_apply_session_event(event_type, session): the Checkout Session
-- state machine (completed, async_payment_succeeded, async_payment_failed,
-- expired) for callers that have verified the event themselves; the webhook
-- handler runs the same code.
CREATE FUNCTION stripe_webhook.stripe_apply_session_event(event_type text, session jsonb)
RETURNS jsonb
LANGUAGE c VOLATILE
AS 'MODULE_PATHNAME', 'stripe_apply_session_event';
REVOKE ALL ON FUNCTION stripe_webhook.stripe_apply_session_event(text, jsonb) FROM PUBLIC;
COMMENT ON FUNCTION stripe_webhook.stripe_apply_session_event(text, jsonb) IS
    'Apply one checkout.session.* event (completed, async_payment_succeeded, async_payment_failed, expired) to orders, carts and stock; returns {"order_id", "message"}.';

---------------------------------------------------------------------------
-- Section: webhook handler, signing secrets, event inbox
---------------------------------------------------------------------------

-- Signing secrets.  One row per Stripe webhook endpoint secret ("whsec_...").
-- Several rows may be active at once: when a secret is rolled in Stripe's
-- Dashboard the old one stays valid for a while, and deliveries carry one
-- v1 signature per active secret.  A row whose expires_at has passed never
-- verifies anything.  Only the extension's owner can read or change this
-- table; stripe_handle_webhook() reads it as the owner (SECURITY DEFINER).
CREATE TABLE stripe_webhook.signing_secrets (
    id          bigserial PRIMARY KEY,
    -- empty or blank (only spaces, tabs, line breaks) never verifies
    secret      text NOT NULL
                CONSTRAINT signing_secrets_secret_not_blank CHECK (pg_catalog.btrim(secret, E' \t\n\x0B\f\r') <> ''),
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

-- Every backend caches the secrets (src/secrets.c); any change to the table
-- tells them all, at commit, to read it again.  ENABLE ALWAYS: it fires for
-- logical replication's apply too.
CREATE FUNCTION stripe_webhook.stripe_webhook_secrets_changed()
RETURNS trigger
AS 'MODULE_PATHNAME', 'stripe_webhook_secrets_changed'
LANGUAGE C;
REVOKE ALL ON FUNCTION stripe_webhook.stripe_webhook_secrets_changed() FROM PUBLIC;
COMMENT ON FUNCTION stripe_webhook.stripe_webhook_secrets_changed() IS
    'Trigger on signing_secrets: invalidates every backend''s cache of the signing secrets.';
CREATE TRIGGER signing_secrets_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON stripe_webhook.signing_secrets
    FOR EACH STATEMENT EXECUTE FUNCTION stripe_webhook.stripe_webhook_secrets_changed();
ALTER TABLE stripe_webhook.signing_secrets ENABLE ALWAYS TRIGGER signing_secrets_changed;

-- The event inbox.  Every delivery whose signature verified and whose body
-- is a Stripe event is recorded here, keyed by Stripe's event id, in the
-- same transaction as its processing.
--   status  received   recorded, not processed yet (a transient failure
--                      such as a lock timeout left it; Stripe retries)
--           processed  the checkout.session.* handler ran and committed
--           ignored    an event type the extension does not handle
--           failed     the handler raised a permanent error (last_error);
--                      a redelivery or stripe_replay_event() tries again
-- payload is the whole event; with stripe_webhook.keep_payloads =
-- unprocessed, processed and ignored events keep only their envelope.
-- The handler validates every field before it writes (the id is evt_ and
-- [A-Za-z0-9_], at most 255 characters; the type is not empty; attempts
-- only grow), so the table checks just the state: PostgreSQL 15 re-reads
-- every CHECK expression on every INSERT, and each costs a delivery a few
-- microseconds.
CREATE TABLE stripe_webhook.events (
    id              text PRIMARY KEY,
    type            text NOT NULL,
    api_version     text,
    livemode        boolean,
    created         timestamptz,
    session_id      text,
    order_id        uuid,
    received_at     timestamptz NOT NULL DEFAULT pg_catalog.now(),
    processed_at    timestamptz,
    status          text NOT NULL DEFAULT 'received',
    attempts        integer NOT NULL DEFAULT 0,
    last_attempt_at timestamptz,
    last_error      text,
    last_sqlstate   text,
    -- NULL only for a processed or ignored event under
    -- stripe_webhook.keep_payloads = unprocessed
    payload         jsonb,
    -- status is one of received, processed, ignored, failed; processed and
    -- ignored events (only they) have processed_at; the others keep their
    -- payload (a retry needs it)
    CONSTRAINT events_status_check
        CHECK (CASE WHEN processed_at IS NULL THEN status IN ('received', 'failed') AND payload IS NOT NULL
                    ELSE status IN ('processed', 'ignored') END)
);
-- A payload (4 kB and more) is kept compressed in the row itself rather
-- than in the TOAST table: one heap insert on the delivery's hot path
-- instead of three.  Compressed with lz4 where the server supports it.
ALTER TABLE stripe_webhook.events ALTER COLUMN payload SET STORAGE MAIN;
DO $lz4$
BEGIN
    IF EXISTS (SELECT FROM pg_catalog.pg_settings
               WHERE name = 'default_toast_compression' AND 'lz4' = ANY (enumvals)) THEN
        ALTER TABLE stripe_webhook.events ALTER COLUMN payload SET COMPRESSION lz4;
    END IF;
END
$lz4$;
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
                                      'no_match', 'no_payload', 'no_secret')),
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
