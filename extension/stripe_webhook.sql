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
                         CHECK (status IN ('pending', 'confirmed', 'needs_review', 'cancelled', 'refunded')),
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
    amount_refunded      bigint NOT NULL DEFAULT 0
                         CONSTRAINT orders_amount_refunded_check CHECK (amount_refunded >= 0),
    CONSTRAINT orders_review_reason_check CHECK (status <> 'needs_review' OR review_reason IS NOT NULL),
    CONSTRAINT orders_pending_unpaid_check CHECK (status <> 'pending' OR payment_status = 'unpaid'),
    CONSTRAINT orders_confirmed_paid_check CHECK (status <> 'confirmed' OR payment_status = 'paid')
);
CREATE INDEX orders_cart_id_idx ON stripe_webhook.orders (cart_id);
CREATE INDEX orders_user_id_idx ON stripe_webhook.orders (user_id);
CREATE INDEX orders_needs_review_idx ON stripe_webhook.orders (created_at) WHERE status = 'needs_review';
COMMENT ON TABLE stripe_webhook.orders IS
    'One order per Checkout Session; amounts in the shop''s currency (minor units).';
COMMENT ON COLUMN stripe_webhook.orders.amount_refunded IS
    'Refunded so far (minor units), as Stripe last reported it (charge.refunded, refund.*); see stripe_webhook.order_payments.';
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

-- What the extension keeps of each Checkout Session, whatever tables the
-- shop binds (its ids as text, in their canonical form, with the name of
-- the bound table they belong to: the ids of two shops bound one after the
-- other may be equal): the session's order, whether that order consumed
-- (locked) its cart, the payment state, the review reason, and an expiry or
-- payment failure recorded before or without an order.  The primary key and
-- the unique (order_table, order_id) make one session one order, whatever
-- constraints the shop's tables have; a late checkout.session.completed for
-- a session recorded as expired or failed never takes stock (its order is
-- created as needs_review).
CREATE TABLE stripe_webhook.checkout_sessions (
    id             text PRIMARY KEY,
    cart_table     text NOT NULL,
    cart_id        text NOT NULL,
    user_id        text NOT NULL,
    order_table    text,
    order_id       text,
    consumed_cart  boolean NOT NULL DEFAULT false,
    payment_status text NOT NULL DEFAULT 'unpaid'
                   CONSTRAINT checkout_sessions_payment_status_check
                   CHECK (payment_status IN ('unpaid', 'paid', 'failed')),
    outcome        text
                   CONSTRAINT checkout_sessions_outcome_check CHECK (outcome IN ('expired', 'payment_failed')),
    review_reason  text,
    recorded_at    timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at     timestamptz NOT NULL DEFAULT pg_catalog.now(),
    payment_intent text,
    amount_total   bigint,
    CONSTRAINT checkout_sessions_order_key UNIQUE (order_table, order_id),
    CONSTRAINT checkout_sessions_order_check CHECK ((order_id IS NULL) = (order_table IS NULL)),
    CONSTRAINT checkout_sessions_known_check CHECK (order_id IS NOT NULL OR outcome IS NOT NULL),
    CONSTRAINT checkout_sessions_consumed_check CHECK (order_id IS NOT NULL OR NOT consumed_cart)
);
-- a cart is consumed by one session's order at most
CREATE UNIQUE INDEX checkout_sessions_consumed_cart_key
    ON stripe_webhook.checkout_sessions (cart_table, cart_id) WHERE consumed_cart;
-- refunds and disputes find their order by the session's payment intent
CREATE INDEX checkout_sessions_payment_intent_idx
    ON stripe_webhook.checkout_sessions (payment_intent) WHERE payment_intent IS NOT NULL;
COMMENT ON COLUMN stripe_webhook.checkout_sessions.payment_intent IS
    'The session''s payment intent: refunds and disputes find the order by it.';
COMMENT ON COLUMN stripe_webhook.checkout_sessions.amount_total IS
    'The session''s amount_total as charged (minor units of the charge''s currency, before any currency conversion): a refund of it is a full refund.';
COMMENT ON TABLE stripe_webhook.checkout_sessions IS
    'One row per Checkout Session the fulfilment has seen: its order (the shop''s id as text), whether the order consumed its cart (cart_table names the bound carts table), payment state, review reason, a recorded expiry or payment failure (first outcome wins).';

-- Per order line, what the fulfilment decided: quantity, price in minor
-- units, shortfall, and the stock the line holds now (given back, and set
-- to 0, when the order is cancelled).
CREATE TABLE stripe_webhook.order_lines (
    order_table text NOT NULL,
    order_id    text NOT NULL,
    product_id  text NOT NULL,
    quantity    bigint NOT NULL CONSTRAINT order_lines_quantity_check CHECK (quantity > 0),
    unit_amount bigint NOT NULL,
    shortfall   bigint NOT NULL DEFAULT 0
                CONSTRAINT order_lines_shortfall_check CHECK (shortfall >= 0 AND shortfall <= quantity),
    stock_taken bigint NOT NULL DEFAULT 0
                CONSTRAINT order_lines_stock_taken_check CHECK (stock_taken >= 0 AND stock_taken <= quantity),
    restocked   bigint NOT NULL DEFAULT 0
                CONSTRAINT order_lines_restocked_check CHECK (restocked >= 0 AND restocked <= quantity),
    PRIMARY KEY (order_table, order_id, product_id)
);
COMMENT ON TABLE stripe_webhook.order_lines IS
    'Per order line (the shop''s ids as text): quantity, unit price in minor units, shortfall at creation, stock held now, units staff returned with restock_order().';

-- Order state changes a shop may act on (send the confirmation email, ...),
-- written in the transaction that makes them: a durable record that a
-- listener catches up from, and, once a listener has registered in
-- order_change_cursors, a NOTIFY on channel stripe_webhook_orders (payload
-- {"id", "change", "order_id", "stripe_event_id"}) sent at commit.
CREATE TABLE stripe_webhook.order_changes (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_table         text NOT NULL,
    order_id            text NOT NULL,
    change              text NOT NULL
                        CONSTRAINT order_changes_change_check
                        CHECK (change IN ('order_created', 'order_cancelled', 'order_needs_review',
                                          'order_refunded')),
    status              text NOT NULL,
    checkout_session_id text NOT NULL,
    stripe_event_id     text,
    created_at          timestamptz NOT NULL DEFAULT pg_catalog.now()
);
CREATE INDEX order_changes_created_at_idx ON stripe_webhook.order_changes (created_at);
COMMENT ON TABLE stripe_webhook.order_changes IS
    'Order state changes (order_created, order_cancelled, order_needs_review, order_refunded), one row each, written with the change; NOTIFY stripe_webhook_orders at commit.';

CREATE FUNCTION stripe_webhook.order_changes_notify()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = ''
AS $function$
BEGIN
    -- Only when a listener has registered (a row in order_change_cursors):
    -- a transaction that notifies takes a database-wide lock at commit, so
    -- with notifications every order's commit would wait for every other's.
    -- A listener catches up from this table whenever it starts.
    IF EXISTS (SELECT FROM stripe_webhook.order_change_cursors) THEN
        PERFORM pg_catalog.pg_notify('stripe_webhook_orders',
            pg_catalog.json_build_object('id', NEW.id, 'change', NEW.change, 'order_id', NEW.order_id,
                                         'stripe_event_id', NEW.stripe_event_id)::text);
    END IF;
    RETURN NULL;
END
$function$;
REVOKE ALL ON FUNCTION stripe_webhook.order_changes_notify() FROM PUBLIC;
COMMENT ON FUNCTION stripe_webhook.order_changes_notify() IS
    'Trigger on order_changes: NOTIFY stripe_webhook_orders with the change as JSON, when a listener has registered in order_change_cursors.';
CREATE TRIGGER order_changes_notify
    AFTER INSERT ON stripe_webhook.order_changes
    FOR EACH ROW EXECUTE FUNCTION stripe_webhook.order_changes_notify();

-- Refunds and disputes (src/payments.c), per payment intent, whether or not
-- an order has it yet: an event for a payment intent no order has is kept
-- here and applied when the completed path creates the order.  Figures are
-- combined so that any order and any repetition of the events gives the
-- same row: charge_refunded is the largest charge.amount_refunded seen
-- (Stripe's cumulative figure only grows), each refund keeps its most
-- advanced status (stripe_webhook.refunds), and
--   amount_refunded = GREATEST(charge_refunded - the refunds that failed or
--                              were canceled, the refunds that are pending or
--                              succeeded).
-- The dispute keeps its most advanced status likewise (open < closed).
CREATE TABLE stripe_webhook.order_payments (
    payment_intent  text PRIMARY KEY,
    order_table     text,
    order_id        text,
    currency        text,
    amount_charged  bigint,
    charge_refunded bigint NOT NULL DEFAULT 0,
    amount_refunded bigint NOT NULL DEFAULT 0
                    CONSTRAINT order_payments_amount_refunded_check CHECK (amount_refunded >= 0),
    refund_state    text NOT NULL DEFAULT 'none'
                    CONSTRAINT order_payments_refund_state_check CHECK (refund_state IN ('none', 'partial', 'full')),
    dispute_id      text,
    dispute_status  text,
    dispute_reason  text,
    dispute_amount  bigint,
    updated_at      timestamptz NOT NULL DEFAULT pg_catalog.now(),
    CONSTRAINT order_payments_order_key UNIQUE (order_table, order_id),
    CONSTRAINT order_payments_order_check CHECK ((order_id IS NULL) = (order_table IS NULL))
);
COMMENT ON TABLE stripe_webhook.order_payments IS
    'Refunds and disputes per payment intent (minor units): the order once known, the refunded amount derived from Stripe''s cumulative figures, refund_state none/partial/full, the dispute and its status.';

-- One row per refund seen in refund.* events: its amount and most advanced
-- status (pending and requires_action < succeeded < failed and canceled).
CREATE TABLE stripe_webhook.refunds (
    id             text PRIMARY KEY,
    payment_intent text NOT NULL,
    amount         bigint NOT NULL CONSTRAINT refunds_amount_check CHECK (amount >= 0),
    status         text NOT NULL,
    updated_at     timestamptz NOT NULL DEFAULT pg_catalog.now()
);
CREATE INDEX refunds_payment_intent_idx ON stripe_webhook.refunds (payment_intent);
COMMENT ON TABLE stripe_webhook.refunds IS
    'Refunds from refund.* events: amount (minor units) and most advanced status; pending and succeeded ones count towards order_payments.amount_refunded.';

SELECT pg_catalog.pg_extension_config_dump('stripe_webhook.products', '');
SELECT pg_catalog.pg_extension_config_dump('stripe_webhook.carts', '');
SELECT pg_catalog.pg_extension_config_dump('stripe_webhook.cart_items', '');
SELECT pg_catalog.pg_extension_config_dump('stripe_webhook.orders', '');
SELECT pg_catalog.pg_extension_config_dump('stripe_webhook.order_items', '');
SELECT pg_catalog.pg_extension_config_dump('stripe_webhook.checkout_sessions', '');
SELECT pg_catalog.pg_extension_config_dump('stripe_webhook.order_lines', '');
SELECT pg_catalog.pg_extension_config_dump('stripe_webhook.order_changes', '');
SELECT pg_catalog.pg_extension_config_dump('stripe_webhook.order_payments', '');
SELECT pg_catalog.pg_extension_config_dump('stripe_webhook.refunds', '');
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
    'Fulfil a paid (or pending) Checkout Session: lock the cart, create the order and its items, take stock, give the user a new cart.  Idempotent per session; returns the order id (the shop''s order ids must be uuids: else use stripe_fulfill_session_text).';

-- The same for any type of order id: the order id as text.
CREATE FUNCTION stripe_webhook.stripe_fulfill_session_text(session jsonb)
RETURNS text
LANGUAGE c VOLATILE
AS 'MODULE_PATHNAME', 'stripe_fulfill_session_text';
REVOKE ALL ON FUNCTION stripe_webhook.stripe_fulfill_session_text(jsonb) FROM PUBLIC;
COMMENT ON FUNCTION stripe_webhook.stripe_fulfill_session_text(jsonb) IS
    'As stripe_fulfill_session, returning the order id as text (what the shop''s id column prints), for shops whose order ids are not uuids.';

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
    'Apply one event (checkout.session.*, and also charge.refunded, refund.*, charge.dispute.*: see stripe_apply_event) to orders, carts and stock; returns {"order_id", "message"}.';

-- stripe_apply_event(event_type, object): every event type the webhook
-- handles (checkout.session.*, charge.refunded, refund.*, charge.dispute.*),
-- with its event.data.object, for callers that have verified the event
-- themselves.  stripe_apply_session_event is the same function.
CREATE FUNCTION stripe_webhook.stripe_apply_event(event_type text, object jsonb)
RETURNS jsonb
LANGUAGE c VOLATILE
AS 'MODULE_PATHNAME', 'stripe_apply_session_event';
REVOKE ALL ON FUNCTION stripe_webhook.stripe_apply_event(text, jsonb) FROM PUBLIC;
COMMENT ON FUNCTION stripe_webhook.stripe_apply_event(text, jsonb) IS
    'Apply one event (checkout.session.*, charge.refunded, refund.created/updated/failed, charge.dispute.created/updated/closed) given its data.object; returns {"order_id", "message"}.';

-- restock_order(order_id): staff give back the stock an order still holds
-- (a refund never does).  Once: every line's stock_taken goes to 0.
CREATE FUNCTION stripe_webhook.restock_order(order_id text)
RETURNS bigint
LANGUAGE c VOLATILE STRICT
AS 'MODULE_PATHNAME', 'stripe_restock_order';
REVOKE ALL ON FUNCTION stripe_webhook.restock_order(text) FROM PUBLIC;
COMMENT ON FUNCTION stripe_webhook.restock_order(text) IS
    'Return to stock every unit the order (the bound orders table''s id, as text) still holds; returns the units returned. SW601 unknown order, SW602 nothing left to return (nothing written). Extension owner or superuser only (42501).';

---------------------------------------------------------------------------
-- Section: shop binding
---------------------------------------------------------------------------
-- The fulfilment writes into the built-in tables above unless the shop binds
-- its own tables with stripe_webhook.bind_shop(document): which table plays
-- each role (products, carts, cart_items, orders, order_items), which of its
-- columns holds each logical name, the shop's own status words and its
-- currency.  A document is checked against the catalog as a whole
-- (stripe_webhook.binding_problems) and stored in its normalised form, or
-- refused whole with SQLSTATE SW401 and nothing changed.  The stored row
-- survives pg_dump; no row means the built-in tables.

-- Stripe's exponent of a currency: how many decimal places its minor unit
-- has (amounts in the API are integers of minor units).  Zero-decimal and
-- three-decimal currencies as Stripe's "Supported currencies" page lists
-- them; every other currency counts 2 (isk, huf and twd too: Stripe's API
-- takes them with two decimals).
CREATE FUNCTION stripe_webhook.currency_exponent(currency text)
RETURNS integer
AS 'MODULE_PATHNAME', 'stripe_webhook_currency_exponent'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
REVOKE ALL ON FUNCTION stripe_webhook.currency_exponent(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION stripe_webhook.currency_exponent(text) TO PUBLIC;
COMMENT ON FUNCTION stripe_webhook.currency_exponent(text) IS
    'Decimal places of the currency''s minor unit as Stripe counts them: 0 for zero-decimal currencies (jpy, krw, ...), 3 for bhd, jod, kwd, omr, tnd, else 2. Amounts in major units are minor units / 10^exponent.';

-- The active binding: one row at most (singleton is always true).
CREATE SEQUENCE stripe_webhook.binding_version_seq;
CREATE TABLE stripe_webhook.binding (
    singleton boolean PRIMARY KEY DEFAULT true CONSTRAINT binding_singleton CHECK (singleton),
    document  jsonb NOT NULL,
    version   bigint NOT NULL,
    bound_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    bound_by  name NOT NULL DEFAULT CURRENT_USER
);
REVOKE ALL ON TABLE stripe_webhook.binding FROM PUBLIC;
REVOKE ALL ON SEQUENCE stripe_webhook.binding_version_seq FROM PUBLIC;
COMMENT ON TABLE stripe_webhook.binding IS
    'The shop binding in force (normalised document), written by bind_shop() and removed by unbind_shop(); no row: the built-in tables.';
COMMENT ON COLUMN stripe_webhook.binding.version IS
    'Taken from binding_version_seq by every bind_shop() and unbind_shop().';
SELECT pg_catalog.pg_extension_config_dump('stripe_webhook.binding', '');
SELECT pg_catalog.pg_extension_config_dump('stripe_webhook.binding_version_seq', '');

-- Every backend caches what it derives from the binding; any change to the
-- table tells them all, at commit, to read it again.  ENABLE ALWAYS: it
-- fires for logical replication's apply too.
CREATE FUNCTION stripe_webhook.stripe_webhook_binding_changed()
RETURNS trigger
AS 'MODULE_PATHNAME', 'stripe_webhook_binding_changed'
LANGUAGE C;
REVOKE ALL ON FUNCTION stripe_webhook.stripe_webhook_binding_changed() FROM PUBLIC;
COMMENT ON FUNCTION stripe_webhook.stripe_webhook_binding_changed() IS
    'Trigger on binding: invalidates every backend''s cache of the shop binding.';
CREATE TRIGGER binding_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON stripe_webhook.binding
    FOR EACH STATEMENT EXECUTE FUNCTION stripe_webhook.stripe_webhook_binding_changed();
ALTER TABLE stripe_webhook.binding ENABLE ALWAYS TRIGGER binding_changed;

-- The normalised document of the built-in tables.
CREATE FUNCTION stripe_webhook.builtin_binding()
RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN '{
  "version": 1,
  "currency": null,
  "status_values": {"pending": "pending", "confirmed": "confirmed", "needs_review": "needs_review",
                    "cancelled": "cancelled", "refunded": "refunded",
                    "unpaid": "unpaid", "paid": "paid", "failed": "failed"},
  "products": {
    "table": "stripe_webhook.products",
    "columns": {"id": "id", "price": "price_amount", "stock": "stock", "currency": "currency"},
    "types": {"id": "bigint", "price": "bigint", "stock": "integer", "currency": "text"},
    "values": {}},
  "carts": {
    "table": "stripe_webhook.carts",
    "columns": {"id": "id", "user": "user_id", "locked": "locked", "locked_at": "locked_at",
                "created_at": "created_at", "checkout_session": "checkout_session_id"},
    "types": {"id": "bigint", "user": "text", "locked": "boolean", "locked_at": "timestamp with time zone",
              "created_at": "timestamp with time zone", "checkout_session": "text"},
    "values": {}},
  "cart_items": {
    "table": "stripe_webhook.cart_items",
    "columns": {"cart": "cart_id", "product": "product_id", "quantity": "quantity"},
    "types": {"cart": "bigint", "product": "bigint", "quantity": "integer"},
    "values": {}},
  "orders": {
    "table": "stripe_webhook.orders",
    "columns": {"id": "id", "user": "user_id", "status": "status", "cart": "cart_id",
                "checkout_session": "checkout_session_id", "payment_intent": "payment_intent_id",
                "payment_status": "payment_status", "currency": "currency", "customer_email": "customer_email",
                "shipping_name": "shipping_name", "shipping_line1": "shipping_line1",
                "shipping_line2": "shipping_line2", "shipping_city": "shipping_city",
                "shipping_state": "shipping_state", "shipping_postal_code": "shipping_postal_code",
                "shipping_country": "shipping_country", "review_reason": "review_reason",
                "amount_subtotal": "amount_subtotal", "amount_total": "amount_total",
                "created_at": "created_at", "updated_at": "updated_at", "amount_refunded": "amount_refunded"},
    "types": {"id": "uuid", "user": "text", "status": "text", "cart": "bigint",
              "checkout_session": "text", "payment_intent": "text", "payment_status": "text",
              "currency": "text", "customer_email": "text", "shipping_name": "text", "shipping_line1": "text",
              "shipping_line2": "text", "shipping_city": "text", "shipping_state": "text",
              "shipping_postal_code": "text", "shipping_country": "text", "review_reason": "text",
              "amount_subtotal": "bigint", "amount_total": "bigint",
              "created_at": "timestamp with time zone", "updated_at": "timestamp with time zone",
              "amount_refunded": "bigint"},
    "values": {}},
  "order_items": {
    "table": "stripe_webhook.order_items",
    "columns": {"order": "order_id", "product": "product_id", "quantity": "quantity", "unit_price": "unit_amount",
                "shortfall": "shortfall", "stock_taken": "stock_taken"},
    "types": {"order": "uuid", "product": "bigint", "quantity": "integer", "unit_price": "bigint",
              "shortfall": "integer", "stock_taken": "integer"},
    "values": {}}
}'::jsonb;
REVOKE ALL ON FUNCTION stripe_webhook.builtin_binding() FROM PUBLIC;
COMMENT ON FUNCTION stripe_webhook.builtin_binding() IS
    'The normalised binding document of the built-in tables (what the fulfilment uses when no shop is bound).';

-- Every problem of a binding document, checked against the catalog: the
-- document's shape, the tables and columns and their types, NOT NULL
-- columns the fulfilment would leave empty, the status words, the currency
-- and the privileges the extension's owner (who runs the fulfilment) needs.
-- One row per problem, in a stable order (roles products, carts,
-- cart_items, orders, order_items, then the top-level keys); no row: the
-- document is valid.  Table names are resolved like ::regclass, with the
-- caller's search_path.  The only dynamic SQL is the cast of a "values"
-- constant to its column's type, written with format's %L and the type as
-- format_type prints it.
CREATE FUNCTION stripe_webhook.binding_problems(binding jsonb)
RETURNS TABLE (code text, role text, logical text, message text, detail text, hint text)
LANGUAGE plpgsql STABLE
AS $function$
DECLARE
    -- The roles and their logical names (kind: the types allowed; same_as:
    -- must have the type of that column; id_default: must have a default).
    roles constant jsonb := '[
      {"role": "products", "insert": false, "privileges": ["SELECT", "UPDATE"], "names": [
        {"name": "id", "required": true, "kind": "key"},
        {"name": "price", "required": true, "kind": "money"},
        {"name": "stock", "required": true, "kind": "int"},
        {"name": "currency", "required": false, "kind": "text"}]},
      {"role": "carts", "insert": true, "privileges": ["SELECT", "INSERT", "UPDATE"], "names": [
        {"name": "id", "required": true, "kind": "key", "id_default": true},
        {"name": "user", "required": true, "kind": "key"},
        {"name": "locked", "required": true, "kind": "bool"},
        {"name": "locked_at", "required": false, "kind": "time"},
        {"name": "created_at", "required": false, "kind": "time"},
        {"name": "checkout_session", "required": false, "kind": "varchar"}]},
      {"role": "cart_items", "insert": true, "privileges": ["SELECT", "INSERT"], "names": [
        {"name": "cart", "required": true, "kind": "key", "same_as": "carts.id"},
        {"name": "product", "required": true, "kind": "key", "same_as": "products.id"},
        {"name": "quantity", "required": true, "kind": "int"}]},
      {"role": "orders", "insert": true, "privileges": ["SELECT", "INSERT", "UPDATE"], "names": [
        {"name": "id", "required": true, "kind": "key", "id_default": true},
        {"name": "user", "required": true, "kind": "key", "same_as": "carts.user"},
        {"name": "status", "required": true, "kind": "varchar"},
        {"name": "cart", "required": false, "kind": "key", "same_as": "carts.id"},
        {"name": "checkout_session", "required": false, "kind": "text"},
        {"name": "payment_intent", "required": false, "kind": "text"},
        {"name": "payment_status", "required": false, "kind": "text"},
        {"name": "currency", "required": false, "kind": "text"},
        {"name": "customer_email", "required": false, "kind": "text"},
        {"name": "shipping_name", "required": false, "kind": "text"},
        {"name": "shipping_line1", "required": false, "kind": "text"},
        {"name": "shipping_line2", "required": false, "kind": "text"},
        {"name": "shipping_city", "required": false, "kind": "text"},
        {"name": "shipping_state", "required": false, "kind": "text"},
        {"name": "shipping_postal_code", "required": false, "kind": "text"},
        {"name": "shipping_country", "required": false, "kind": "text"},
        {"name": "review_reason", "required": false, "kind": "text"},
        {"name": "amount_subtotal", "required": false, "kind": "money"},
        {"name": "amount_total", "required": false, "kind": "money"},
        {"name": "created_at", "required": false, "kind": "time"},
        {"name": "updated_at", "required": false, "kind": "time"},
        {"name": "amount_refunded", "required": false, "kind": "money"}]},
      {"role": "order_items", "insert": true, "privileges": ["SELECT", "INSERT"], "names": [
        {"name": "order", "required": true, "kind": "key", "same_as": "orders.id"},
        {"name": "product", "required": true, "kind": "key", "same_as": "products.id"},
        {"name": "quantity", "required": true, "kind": "int"},
        {"name": "unit_price", "required": true, "kind": "money"},
        {"name": "shortfall", "required": false, "kind": "int"},
        {"name": "stock_taken", "required": false, "kind": "int"}]}
    ]';
    kinds constant jsonb := '{
      "key":     {"types": ["int2", "int4", "int8", "uuid", "text", "varchar", "bpchar"],
                  "say": "smallint, integer, bigint, uuid, text, character varying or character"},
      "int":     {"types": ["int2", "int4", "int8"], "say": "smallint, integer or bigint"},
      "money":   {"types": ["int2", "int4", "int8", "numeric"],
                  "say": "smallint, integer or bigint (minor units), or numeric (major units)"},
      "text":    {"types": ["text", "varchar", "bpchar"], "say": "text, character varying or character"},
      "varchar": {"types": ["text", "varchar"], "say": "text or character varying"},
      "bool":    {"types": ["bool"], "say": "boolean"},
      "time":    {"types": ["timestamptz", "timestamp"],
                  "say": "timestamp with time zone or timestamp without time zone"}
    }';
    order_words constant text[] := ARRAY['pending', 'confirmed', 'needs_review', 'cancelled', 'refunded'];
    payment_words constant text[] := ARRAY['unpaid', 'paid', 'failed'];
    top_keys constant text[] := ARRAY['products', 'carts', 'cart_items', 'orders', 'order_items',
                                      'status_values', 'currency', 'version'];
    owner_oid oid;
    owner_say text;             -- the owner's name, for messages
    owner_sql text;             -- the owner's name, quoted for a GRANT
    currency_ok text;           -- the top-level currency when it is valid
    scale_min integer;          -- smallest numeric scale the currency allows
    scale_for text;             -- what scale_min is for, for messages
    r jsonb;                    -- one entry of roles
    rname text;
    spec jsonb;                 -- binding -> rname
    cols jsonb;                 -- spec -> 'columns' (NULL when unusable)
    vals jsonb;                 -- spec -> 'values' (NULL when unusable)
    relid oid;
    relq text;                  -- the table, schema-qualified and quoted
    rel record;
    lookup_error text;
    lookup_state text;
    lookup_schema text;
    n jsonb;                    -- one logical name of the role
    lname text;
    colname text;
    att record;
    ref jsonb;
    ftype text;
    scale integer;
    resolved jsonb := '{}';     -- "role.logical" -> {"table", "column", "type", "typid", "typmod"}
    mapped text[];              -- columns mapped in this role
    mapped_by text[];           -- their logical names (same order)
    valcols text[];             -- columns "values" gives a constant (existing ones)
    id_col text;                -- the role's column that needs a default
    k text;
    v jsonb;
    missing text[];
    priv text;
    sv jsonb;
    words text[];
    word text;
    i integer;
    j integer;
    maxlen integer;
BEGIN
    IF binding IS NULL OR pg_catalog.jsonb_typeof(binding) <> 'object' THEN
        RETURN QUERY VALUES ('bad_json', NULL::text, NULL::text,
            'shop binding is not a JSON object',
            pg_catalog.format('The binding document is %s; it must be an object with the keys products, carts, cart_items, orders, order_items and optionally status_values and currency.',
                              coalesce('a JSON ' || pg_catalog.jsonb_typeof(binding), 'NULL')),
            'Pass an object such as {"products": {"table": ..., "columns": {...}}, ...}.');
        RETURN;
    END IF;

    SELECT e.extowner, pg_catalog.pg_get_userbyid(e.extowner)
      INTO owner_oid, owner_say
      FROM pg_catalog.pg_extension e WHERE e.extname = 'stripe_webhook';
    owner_sql := pg_catalog.quote_ident(owner_say);

    -- The currency numeric money columns must be able to hold.
    IF pg_catalog.jsonb_typeof(binding -> 'currency') = 'string'
       AND (binding ->> 'currency') ~ '^[a-z]{3}$' THEN
        currency_ok := binding ->> 'currency';
        scale_min := stripe_webhook.currency_exponent(currency_ok);
        scale_for := currency_ok;
    ELSE
        scale_min := 2;
        scale_for := 'the products'' currencies (2 decimal places for most)';
    END IF;

    FOR r IN SELECT x.value FROM pg_catalog.jsonb_array_elements(roles) x LOOP
        rname := r ->> 'role';
        spec := binding -> rname;
        cols := NULL;
        vals := NULL;
        relid := NULL;
        mapped := '{}';
        mapped_by := '{}';
        valcols := '{}';
        id_col := NULL;

        IF spec IS NULL OR pg_catalog.jsonb_typeof(spec) = 'null' THEN
            RETURN QUERY VALUES ('missing_role', rname, NULL::text,
                pg_catalog.format('role "%s" is missing from the shop binding', rname),
                pg_catalog.format('A binding maps the roles products, carts, cart_items, orders and order_items to tables; "%s" is not there.', rname),
                pg_catalog.format('Add "%s": {"table": "<table>", "columns": {...}} to the document.', rname));
            CONTINUE;
        END IF;
        IF pg_catalog.jsonb_typeof(spec) <> 'object' THEN
            RETURN QUERY VALUES ('bad_json', rname, NULL::text,
                pg_catalog.format('role "%s" is not a JSON object', rname),
                pg_catalog.format('Role "%s" is a JSON %s; it must be an object with the keys "table", "columns" and optionally "values".',
                                  rname, pg_catalog.jsonb_typeof(spec)),
                pg_catalog.format('Write "%s": {"table": "<table>", "columns": {...}}.', rname));
            CONTINUE;
        END IF;
        FOR k IN SELECT x FROM pg_catalog.jsonb_object_keys(spec) x
                 WHERE x <> ALL (ARRAY['table', 'columns', 'values', 'types']) ORDER BY 1 LOOP
            RETURN QUERY VALUES ('bad_json', rname, NULL::text,
                pg_catalog.format('unknown key "%s" in role "%s"', k, rname),
                pg_catalog.format('Role "%s" has the key "%s"; a role has the keys "table", "columns", "values" and "types" (ignored: the types are read from the catalog).', rname, k),
                pg_catalog.format('Remove "%s" from role "%s" or correct its spelling.', k, rname));
        END LOOP;

        -- The table.
        IF pg_catalog.jsonb_typeof(spec -> 'table') IS DISTINCT FROM 'string' OR (spec ->> 'table') = '' THEN
            RETURN QUERY VALUES ('bad_json', rname, NULL::text,
                pg_catalog.format('role "%s" has no table name', rname),
                pg_catalog.format('The "table" of role "%s" is %s; it must be a non-empty string naming a table, schema-qualified or not.',
                                  rname, coalesce((spec -> 'table')::text, 'missing')),
                pg_catalog.format('Set "table" of "%s" to the table''s name, for example "shop.%s".', rname, rname));
        ELSE
            lookup_error := NULL;
            lookup_state := NULL;
            BEGIN
                relid := pg_catalog.to_regclass(spec ->> 'table');
            EXCEPTION WHEN OTHERS THEN
                relid := NULL;
                lookup_error := SQLERRM;
                lookup_state := SQLSTATE;
            END;
            IF lookup_state = '42501' THEN
                -- the caller may not look into the table's schema
                lookup_schema := (pg_catalog.parse_ident(spec ->> 'table'))[1];
                RETURN QUERY VALUES ('missing_privilege', rname, NULL::text,
                    pg_catalog.format('permission denied for schema %s', pg_catalog.quote_ident(lookup_schema)),
                    pg_catalog.format('Role "%s" names the table "%s", which role "%s" may not look up: %s.',
                                      rname, spec ->> 'table', CURRENT_USER, lookup_error),
                    pg_catalog.format('Run: GRANT USAGE ON SCHEMA %s TO %s;',
                                      pg_catalog.quote_ident(lookup_schema), pg_catalog.quote_ident(CURRENT_USER)));
            ELSIF relid IS NULL THEN
                RETURN QUERY VALUES ('table_not_found', rname, NULL::text,
                    pg_catalog.format('table "%s" of role "%s" does not exist', spec ->> 'table', rname),
                    pg_catalog.format('Role "%s" names the table "%s", which is not found with search_path "%s"%s.',
                                      rname, spec ->> 'table', pg_catalog.current_setting('search_path'),
                                      coalesce(' (' || lookup_error || ')', '')),
                    'Correct the name, or qualify it with its schema ("schema.table"; quote mixed-case names as in SQL: "\"My Shop\".\"Products\"").');
            ELSE
                SELECT c.relkind, c.relnamespace, n.nspname, c.relname,
                       pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(c.relname) AS qname
                  INTO rel
                  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                 WHERE c.oid = relid;
                relq := rel.qname;
                IF rel.relkind NOT IN ('r', 'p') THEN
                    RETURN QUERY VALUES ('not_a_table', rname, NULL::text,
                        pg_catalog.format('relation %s of role "%s" is not a table', relq, rname),
                        pg_catalog.format('Role "%s" names %s, which is %s; the fulfilment needs an ordinary or partitioned table.',
                                          rname, relq,
                                          CASE rel.relkind WHEN 'v' THEN 'a view' WHEN 'm' THEN 'a materialized view'
                                               WHEN 'f' THEN 'a foreign table' WHEN 'S' THEN 'a sequence'
                                               WHEN 'i' THEN 'an index' WHEN 'I' THEN 'an index'
                                               ELSE 'of kind ' || rel.relkind::text END),
                        pg_catalog.format('Bind the table itself for role "%s".', rname));
                    relid := NULL;
                ELSIF NOT pg_catalog.has_schema_privilege(owner_oid, rel.relnamespace, 'USAGE') THEN
                    RETURN QUERY VALUES ('missing_privilege', rname, NULL::text,
                        pg_catalog.format('the extension owner has no access to schema %s', pg_catalog.quote_ident(rel.nspname)),
                        pg_catalog.format('The fulfilment runs as the extension owner "%s", which needs USAGE on schema %s to reach %s (role "%s").',
                                          owner_say, pg_catalog.quote_ident(rel.nspname), relq, rname),
                        pg_catalog.format('Run: GRANT USAGE ON SCHEMA %s TO %s;', pg_catalog.quote_ident(rel.nspname), owner_sql));
                END IF;
            END IF;
        END IF;

        -- The columns.
        IF pg_catalog.jsonb_typeof(spec -> 'columns') IS DISTINCT FROM 'object' THEN
            RETURN QUERY VALUES ('bad_json', rname, NULL::text,
                pg_catalog.format('role "%s" has no "columns" object', rname),
                pg_catalog.format('The "columns" of role "%s" is %s; it must be an object mapping logical names to column names.',
                                  rname, coalesce('a JSON ' || pg_catalog.jsonb_typeof(spec -> 'columns'), 'missing')),
                pg_catalog.format('Add "columns": {"<logical name>": "<column>", ...} to role "%s".', rname));
        ELSE
            cols := spec -> 'columns';
            FOR k IN SELECT x FROM pg_catalog.jsonb_object_keys(cols) x
                     WHERE x <> ALL (ARRAY(SELECT y ->> 'name' FROM pg_catalog.jsonb_array_elements(r -> 'names') y))
                     ORDER BY 1 LOOP
                RETURN QUERY VALUES ('unknown_column_name', rname, k,
                    pg_catalog.format('unknown logical name "%s" in role "%s"', k, rname),
                    pg_catalog.format('Role "%s" has the logical names %s; "%s" is not one of them.', rname,
                                      (SELECT pg_catalog.string_agg(y ->> 'name', ', ')
                                         FROM pg_catalog.jsonb_array_elements(r -> 'names') y), k),
                    pg_catalog.format('Remove "%s" from "columns" of "%s" or correct its spelling.', k, rname));
            END LOOP;

            FOR n IN SELECT x.value FROM pg_catalog.jsonb_array_elements(r -> 'names') x LOOP
                lname := n ->> 'name';
                v := cols -> lname;
                IF v IS NULL OR pg_catalog.jsonb_typeof(v) = 'null' THEN
                    IF (n ->> 'required')::boolean THEN
                        RETURN QUERY VALUES ('missing_column_name', rname, lname,
                            pg_catalog.format('logical name "%s" of role "%s" is not mapped', lname, rname),
                            pg_catalog.format('Role "%s" needs a column for "%s" (of type %s).', rname, lname,
                                              kinds -> (n ->> 'kind') ->> 'say'),
                            pg_catalog.format('Add "%s": "<column>" to "columns" of "%s".', lname, rname));
                    END IF;
                    CONTINUE;
                END IF;
                IF pg_catalog.jsonb_typeof(v) <> 'string' OR (v #>> '{}') = '' THEN
                    RETURN QUERY VALUES ('bad_json', rname, lname,
                        pg_catalog.format('column of "%s.%s" is not a column name', rname, lname),
                        pg_catalog.format('Role "%s" maps "%s" to %s; it must be a non-empty string, the column''s name as the catalog spells it (no quotes).',
                                          rname, lname, v::text),
                        pg_catalog.format('Write "%s": "<column>" in "columns" of "%s".', lname, rname));
                    CONTINUE;
                END IF;
                colname := v #>> '{}';
                CONTINUE WHEN relid IS NULL;

                SELECT a.attname, a.atttypid, a.atttypmod, a.attnotnull, a.atthasdef, a.attidentity, a.attgenerated,
                       pg_catalog.format_type(a.atttypid, a.atttypmod) AS ftype
                  INTO att
                  FROM pg_catalog.pg_attribute a
                 WHERE a.attrelid = relid AND a.attname = colname AND a.attnum > 0 AND NOT a.attisdropped;
                IF NOT FOUND THEN
                    RETURN QUERY VALUES ('column_not_found', rname, lname,
                        pg_catalog.format('column "%s" of table %s does not exist', colname, relq),
                        pg_catalog.format('Role "%s" maps "%s" to the column "%s", which table %s does not have.',
                                          rname, lname, colname, relq),
                        pg_catalog.format('Correct "%s" in "columns" of "%s" (column names as the catalog spells them, without quotes).', lname, rname));
                    CONTINUE;
                END IF;
                ftype := att.ftype;

                i := pg_catalog.array_position(mapped, colname);
                IF i IS NOT NULL THEN
                    RETURN QUERY VALUES ('duplicate_column', rname, lname,
                        pg_catalog.format('column "%s" of table %s is mapped twice', colname, relq),
                        pg_catalog.format('Role "%s" maps both "%s" and "%s" to the column "%s"; each logical name needs its own column.',
                                          rname, mapped_by[i], lname, colname),
                        pg_catalog.format('Map "%s" to another column of %s, or leave it out if it is optional.', lname, relq));
                    CONTINUE;
                END IF;
                mapped := mapped || colname;
                mapped_by := mapped_by || lname;
                IF (n ->> 'id_default')::boolean THEN
                    id_col := colname;
                END IF;

                IF NOT att.atttypid = ANY (ARRAY(SELECT pg_catalog.jsonb_array_elements_text(kinds -> (n ->> 'kind') -> 'types'))::regtype[]) THEN
                    RETURN QUERY VALUES ('wrong_type', rname, lname,
                        pg_catalog.format('column %s.%s for "%s.%s" has type %s', relq, pg_catalog.quote_ident(colname), rname, lname, ftype),
                        pg_catalog.format('Role "%s" maps "%s" to the column "%s" of %s, of type %s; the types allowed are %s.',
                                          rname, lname, colname, relq, ftype, kinds -> (n ->> 'kind') ->> 'say'),
                        pg_catalog.format('Map "%s" to a column of one of those types, or change the column''s type.', lname));
                    CONTINUE;
                END IF;

                ref := resolved -> (n ->> 'same_as');
                IF ref IS NOT NULL AND ref ->> 'type' <> ftype THEN
                    RETURN QUERY VALUES ('type_mismatch', rname, lname,
                        pg_catalog.format('type of "%s.%s" differs from "%s"', rname, lname, n ->> 'same_as'),
                        pg_catalog.format('Role "%s" maps "%s" to the column "%s" of %s, of type %s, but "%s" is the column "%s" of %s, of type %s; the two must have the same type.',
                                          rname, lname, colname, relq, ftype, n ->> 'same_as',
                                          ref ->> 'column', ref ->> 'table', ref ->> 'type'),
                        pg_catalog.format('Change one column so that both are %s, or map columns of the same type.', ref ->> 'type'));
                    CONTINUE;
                END IF;

                IF n ->> 'kind' = 'money' AND att.atttypid = 'numeric'::regtype AND att.atttypmod >= 4 THEN
                    scale := (((att.atttypmod - 4) & 2047) # 1024) - 1024;
                    IF scale < scale_min THEN
                        RETURN QUERY VALUES ('numeric_scale', rname, lname,
                            pg_catalog.format('column %s.%s for "%s.%s" cannot hold amounts in %s',
                                              relq, pg_catalog.quote_ident(colname), rname, lname, scale_for),
                            pg_catalog.format('Role "%s" maps "%s" to the column "%s" of %s, of type %s: scale %s, but %s needs %s decimal places (Stripe''s minor unit); amounts would be rounded.',
                                              rname, lname, colname, relq, ftype, scale, scale_for, scale_min),
                            pg_catalog.format('Give the column a scale of at least %s (ALTER TABLE %s ALTER COLUMN %s TYPE numeric(%s,%s)), or use an integer column holding minor units, or unconstrained numeric.',
                                              scale_min, relq, pg_catalog.quote_ident(colname),
                                              ((att.atttypmod - 4) >> 16) - scale + scale_min, scale_min));
                    END IF;
                END IF;

                IF (n ->> 'id_default')::boolean
                   AND NOT (att.atthasdef OR att.attidentity <> '' OR att.attgenerated <> '') THEN
                    RETURN QUERY VALUES ('no_default', rname, lname,
                        pg_catalog.format('column %s.%s for "%s.%s" has no default', relq, pg_catalog.quote_ident(colname), rname, lname),
                        pg_catalog.format('The fulfilment inserts into %s without a value for "%s" and lets the database choose it, but the column "%s" (%s) has no DEFAULT, identity or serial.',
                                          relq, lname, colname, ftype),
                        pg_catalog.format('Give the column a default, for example: ALTER TABLE %s ALTER COLUMN %s %s;',
                                          relq, pg_catalog.quote_ident(colname),
                                          CASE WHEN att.atttypid = 'uuid'::regtype THEN 'SET DEFAULT pg_catalog.gen_random_uuid()'
                                               WHEN att.atttypid IN ('int2'::regtype, 'int4'::regtype, 'int8'::regtype)
                                                   THEN 'ADD GENERATED BY DEFAULT AS IDENTITY'
                                               ELSE 'SET DEFAULT pg_catalog.gen_random_uuid()::text' END));
                END IF;

                resolved := resolved || pg_catalog.jsonb_build_object(rname || '.' || lname,
                    pg_catalog.jsonb_build_object('table', relq, 'column', colname, 'type', ftype,
                                                  'typid', att.atttypid::integer, 'typmod', att.atttypmod));
            END LOOP;
        END IF;

        -- Constants for columns the binding does not map.
        IF pg_catalog.jsonb_typeof(spec -> 'values') IS NOT NULL
           AND pg_catalog.jsonb_typeof(spec -> 'values') <> 'object' THEN
            RETURN QUERY VALUES ('bad_json', rname, NULL::text,
                pg_catalog.format('"values" of role "%s" is not a JSON object', rname),
                pg_catalog.format('The "values" of role "%s" is a JSON %s; it must map column names to constants.',
                                  rname, pg_catalog.jsonb_typeof(spec -> 'values')),
                pg_catalog.format('Write "values": {"<column>": <constant>} in role "%s".', rname));
        ELSE
            vals := coalesce(spec -> 'values', '{}');
            FOR k, v IN SELECT x.key, x.value FROM pg_catalog.jsonb_each(vals) x ORDER BY x.key LOOP
                IF pg_catalog.jsonb_typeof(v) NOT IN ('string', 'number', 'boolean') THEN
                    RETURN QUERY VALUES ('bad_value', rname, NULL::text,
                        pg_catalog.format('value for column "%s" of role "%s" is not a constant', k, rname),
                        pg_catalog.format('"values" of role "%s" gives the column "%s" the JSON %s; a constant is a string, a number or a boolean.',
                                          rname, k, pg_catalog.jsonb_typeof(v)),
                        pg_catalog.format('Write "%s": <string, number or boolean> in "values" of "%s", or remove it.', k, rname));
                    CONTINUE;
                END IF;
                CONTINUE WHEN relid IS NULL OR cols IS NULL;
                SELECT a.attname, a.attidentity, a.attgenerated, a.atttypid, a.atttypmod,
                       pg_catalog.format_type(a.atttypid, a.atttypmod) AS ftype
                  INTO att
                  FROM pg_catalog.pg_attribute a
                 WHERE a.attrelid = relid AND a.attname = k AND a.attnum > 0 AND NOT a.attisdropped;
                IF NOT FOUND THEN
                    RETURN QUERY VALUES ('bad_value', rname, NULL::text,
                        pg_catalog.format('column "%s" of table %s does not exist', k, relq),
                        pg_catalog.format('"values" of role "%s" gives a constant to the column "%s", which table %s does not have.', rname, k, relq),
                        pg_catalog.format('Correct or remove "%s" in "values" of "%s".', k, rname));
                    CONTINUE;
                END IF;
                IF k = ANY (mapped) THEN
                    RETURN QUERY VALUES ('bad_value', rname, mapped_by[pg_catalog.array_position(mapped, k)],
                        pg_catalog.format('column "%s" of table %s is both mapped and given a constant', k, relq),
                        pg_catalog.format('Role "%s" maps "%s" to the column "%s", so the fulfilment writes it; "values" cannot give it a constant too.',
                                          rname, mapped_by[pg_catalog.array_position(mapped, k)], k),
                        pg_catalog.format('Remove "%s" from "values" of "%s".', k, rname));
                    CONTINUE;
                END IF;
                IF att.attidentity = 'a' OR att.attgenerated <> '' THEN
                    RETURN QUERY VALUES ('bad_value', rname, NULL::text,
                        pg_catalog.format('column "%s" of table %s cannot be given a value', k, relq),
                        pg_catalog.format('The column "%s" of %s is %s; the database computes it.', k, relq,
                                          CASE WHEN att.attgenerated <> '' THEN 'a generated column' ELSE 'GENERATED ALWAYS AS IDENTITY' END),
                        pg_catalog.format('Remove "%s" from "values" of "%s".', k, rname));
                    CONTINUE;
                END IF;
                valcols := valcols || k;
                BEGIN
                    EXECUTE pg_catalog.format('SELECT CAST(%L AS %s)', v #>> '{}', att.ftype);
                    -- an explicit cast cuts a string to the column's length; an INSERT would fail
                    IF att.atttypid IN ('varchar'::regtype, 'bpchar'::regtype) AND att.atttypmod >= 4
                       AND pg_catalog.length(v #>> '{}') > att.atttypmod - 4 THEN
                        RAISE EXCEPTION 'value too long for type %', att.ftype;
                    END IF;
                EXCEPTION WHEN OTHERS THEN
                    RETURN QUERY VALUES ('bad_value', rname, NULL::text,
                        pg_catalog.format('value for column "%s" of table %s is not a valid %s', k, relq, att.ftype),
                        pg_catalog.format('"values" of role "%s" gives the column "%s" the constant %s, which is not a valid %s: %s.',
                                          rname, k, v::text, att.ftype, SQLERRM),
                        pg_catalog.format('Give "%s" a constant of type %s.', k, att.ftype));
                END;
            END LOOP;
        END IF;

        CONTINUE WHEN relid IS NULL OR cols IS NULL;

        -- NOT NULL columns an insert by the fulfilment would leave empty.
        IF (r ->> 'insert')::boolean THEN
            FOR att IN SELECT a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod) AS ftype
                         FROM pg_catalog.pg_attribute a
                        WHERE a.attrelid = relid AND a.attnum > 0 AND NOT a.attisdropped
                          AND a.attnotnull AND NOT a.atthasdef AND a.attidentity = '' AND a.attgenerated = ''
                          AND a.attname <> ALL (mapped)
                          AND NOT (coalesce(vals, '{}') ? a.attname)
                        ORDER BY a.attnum LOOP
                RETURN QUERY VALUES ('not_null_unmapped', rname, NULL::text,
                    pg_catalog.format('column "%s" of table %s is NOT NULL and gets no value', att.attname, relq),
                    pg_catalog.format('The fulfilment inserts into %s (role "%s"); its column "%s" (%s) is NOT NULL without a default, and the binding neither maps it nor gives it a constant.',
                                      relq, rname, att.attname, att.ftype),
                    pg_catalog.format('Add "values": {"%s": <constant>} to role "%s", map the column in "columns", or give it a DEFAULT.', att.attname, rname));
            END LOOP;
        END IF;

        -- Privileges of the extension owner, who runs the fulfilment: on the
        -- table (or on every column it touches), and on the sequences behind
        -- the defaults an insert uses.
        missing := '{}';
        FOR priv IN SELECT pg_catalog.jsonb_array_elements_text(r -> 'privileges') LOOP
            IF NOT pg_catalog.has_table_privilege(owner_oid, relid, priv)
               AND (pg_catalog.cardinality(mapped) = 0
                    OR EXISTS (SELECT FROM pg_catalog.unnest(mapped || CASE WHEN priv = 'INSERT' THEN valcols ELSE '{}' END) c
                               WHERE NOT pg_catalog.has_column_privilege(owner_oid, relid, c, priv))) THEN
                missing := missing || priv;
            END IF;
        END LOOP;
        IF pg_catalog.cardinality(missing) > 0 THEN
            RETURN QUERY VALUES ('missing_privilege', rname, NULL::text,
                pg_catalog.format('the extension owner lacks privileges on table %s', relq),
                pg_catalog.format('The fulfilment runs as the extension owner "%s", which needs %s on %s (role "%s"); it lacks %s.',
                                  owner_say, (SELECT pg_catalog.string_agg(x, ', ') FROM pg_catalog.jsonb_array_elements_text(r -> 'privileges') x),
                                  relq, rname, pg_catalog.array_to_string(missing, ', ')),
                pg_catalog.format('Run: GRANT %s ON TABLE %s TO %s;', pg_catalog.array_to_string(missing, ', '), relq, owner_sql));
        END IF;
        IF (r ->> 'insert')::boolean THEN
            FOR rel IN SELECT DISTINCT s.oid,
                              pg_catalog.quote_ident(sn.nspname) || '.' || pg_catalog.quote_ident(s.relname) AS qname
                         FROM pg_catalog.pg_attrdef ad
                         JOIN pg_catalog.pg_attribute a ON a.attrelid = ad.adrelid AND a.attnum = ad.adnum
                         JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_attrdef'::regclass AND d.objid = ad.oid
                                                    AND d.refclassid = 'pg_catalog.pg_class'::regclass
                         JOIN pg_catalog.pg_class s ON s.oid = d.refobjid AND s.relkind = 'S'
                         JOIN pg_catalog.pg_namespace sn ON sn.oid = s.relnamespace
                        WHERE ad.adrelid = relid
                          AND (a.attname <> ALL (mapped) OR a.attname = id_col)
                        ORDER BY 2 LOOP
                -- (tested here: in the query it could meet rows that are no sequences)
                CONTINUE WHEN pg_catalog.has_sequence_privilege(owner_oid, rel.oid, 'USAGE, UPDATE');
                RETURN QUERY VALUES ('missing_privilege', rname, NULL::text,
                    pg_catalog.format('the extension owner cannot use sequence %s', rel.qname),
                    pg_catalog.format('Inserts into %s (role "%s") take a default from sequence %s, and the extension owner "%s" has no USAGE on it.',
                                      relq, rname, rel.qname, owner_say),
                    pg_catalog.format('Run: GRANT USAGE ON SEQUENCE %s TO %s;', rel.qname, owner_sql));
            END LOOP;
        END IF;
    END LOOP;

    -- Top level: unknown keys, version, status words, currency.
    FOR k IN SELECT x FROM pg_catalog.jsonb_object_keys(binding) x WHERE x <> ALL (top_keys) ORDER BY 1 LOOP
        RETURN QUERY VALUES ('unknown_role', k, NULL::text,
            pg_catalog.format('unknown role "%s" in the shop binding', k),
            pg_catalog.format('The document has the key "%s"; the keys allowed are products, carts, cart_items, orders, order_items, status_values, currency and version.', k),
            pg_catalog.format('Remove "%s" or correct its spelling.', k));
    END LOOP;

    IF binding ? 'version' AND binding -> 'version' <> '1'::jsonb THEN
        RETURN QUERY VALUES ('bad_json', NULL::text, 'version',
            'unsupported binding document version',
            pg_catalog.format('The document''s "version" is %s; this extension reads version 1.', (binding -> 'version')::text),
            'Leave "version" out or set it to 1.');
    END IF;

    sv := binding -> 'status_values';
    IF sv IS NOT NULL AND pg_catalog.jsonb_typeof(sv) NOT IN ('object', 'null') THEN
        RETURN QUERY VALUES ('bad_json', 'status_values', NULL::text,
            '"status_values" is not a JSON object',
            pg_catalog.format('"status_values" is a JSON %s; it must map status keys to the shop''s words.', pg_catalog.jsonb_typeof(sv)),
            'Write "status_values": {"confirmed": "<word>", ...}.');
        sv := '{}';
    END IF;
    IF sv IS NULL OR pg_catalog.jsonb_typeof(sv) = 'null' THEN
        sv := '{}';
    END IF;
    FOR k IN SELECT x FROM pg_catalog.jsonb_object_keys(sv) x
             WHERE x <> ALL (order_words || payment_words) ORDER BY 1 LOOP
        RETURN QUERY VALUES ('bad_status', 'status_values', k,
            pg_catalog.format('unknown status key "%s"', k),
            pg_catalog.format('"status_values" has the key "%s"; the keys are %s.', k,
                              pg_catalog.array_to_string(order_words || payment_words, ', ')),
            pg_catalog.format('Remove "%s" or correct its spelling.', k));
    END LOOP;
    FOR i IN 1 .. 2 LOOP
        words := CASE i WHEN 1 THEN order_words ELSE payment_words END;
        ref := resolved -> CASE i WHEN 1 THEN 'orders.status' ELSE 'orders.payment_status' END;
        maxlen := CASE WHEN ref IS NOT NULL AND (ref ->> 'typid')::oid IN ('varchar'::regtype, 'bpchar'::regtype)
                            AND (ref ->> 'typmod')::integer >= 4
                       THEN (ref ->> 'typmod')::integer - 4 END;
        FOR j IN 1 .. pg_catalog.array_length(words, 1) LOOP
            k := words[j];
            IF sv ? k AND (pg_catalog.jsonb_typeof(sv -> k) <> 'string' OR (sv ->> k) = '') THEN
                RETURN QUERY VALUES ('bad_status', 'status_values', k,
                    pg_catalog.format('status word for "%s" is not a non-empty string', k),
                    pg_catalog.format('"status_values" gives "%s" the value %s; each status word is a non-empty string.', k, (sv -> k)::text),
                    pg_catalog.format('Set "%s" to the word the shop uses, or leave it out (the default is "%s").', k, k));
                words[j] := NULL;
                CONTINUE;
            END IF;
            word := coalesce(sv ->> k, k);
            words[j] := word;
            IF maxlen IS NOT NULL AND pg_catalog.length(word) > maxlen THEN
                RETURN QUERY VALUES ('bad_status', 'status_values', k,
                    pg_catalog.format('status word "%s" does not fit column %s', word, ref ->> 'column'),
                    pg_catalog.format('The word for "%s" is "%s" (%s characters), but the column "%s" of %s is %s.',
                                      k, word, pg_catalog.length(word), ref ->> 'column', ref ->> 'table', ref ->> 'type'),
                    pg_catalog.format('Use a shorter word for "%s", or widen the column.', k));
            END IF;
            IF word = ANY (words[1:j - 1]) THEN
                RETURN QUERY VALUES ('duplicate_status', 'status_values', k,
                    pg_catalog.format('status word "%s" is used twice', word),
                    pg_catalog.format('"%s" and "%s" are both "%s"; the %s words (%s) must differ from each other.',
                                      (CASE i WHEN 1 THEN order_words ELSE payment_words END)[pg_catalog.array_position(words, word)],
                                      k, word, CASE i WHEN 1 THEN 'order-status' ELSE 'payment-status' END,
                                      pg_catalog.array_to_string(CASE i WHEN 1 THEN order_words ELSE payment_words END, ', ')),
                    pg_catalog.format('Give "%s" its own word in "status_values".', k));
            END IF;
        END LOOP;
    END LOOP;

    v := binding -> 'currency';
    IF v IS NOT NULL AND pg_catalog.jsonb_typeof(v) <> 'null' THEN
        IF currency_ok IS NULL THEN
            RETURN QUERY VALUES ('bad_currency', NULL::text, 'currency',
                pg_catalog.format('invalid currency %s', v::text),
                pg_catalog.format('"currency" is %s; it must be a lower-case three-letter ISO 4217 code, as Stripe writes it.', v::text),
                'Use for example "usd" or "eur".');
        END IF;
    ELSIF pg_catalog.jsonb_typeof(binding #> '{products,columns,currency}') IS DISTINCT FROM 'string' THEN
        RETURN QUERY VALUES ('missing_currency', NULL::text, 'currency',
            'the shop binding has no currency',
            'Neither "currency" nor the logical name "currency" of role "products" is given, so the currency of the prices is unknown.',
            'Add "currency": "<code>" (for example "usd"), or map "currency" in "columns" of "products".');
    END IF;
END
$function$;
REVOKE ALL ON FUNCTION stripe_webhook.binding_problems(jsonb) FROM PUBLIC;
COMMENT ON FUNCTION stripe_webhook.binding_problems(jsonb) IS
    'Every problem of a shop binding document against the catalog (code, role, logical name, message, detail, hint), in a stable order; no rows: the document is valid. Privileges are checked for the extension owner.';

-- The normalised form of a valid document: tables schema-qualified and
-- quoted, only the mapped logical names, their column types, "values" per
-- role, all eight status words, the currency (or null) and the document
-- format's version.
CREATE FUNCTION stripe_webhook.normalise_binding(binding jsonb)
RETURNS jsonb
LANGUAGE sql STABLE
RETURN (
    SELECT pg_catalog.jsonb_object_agg(t.role_name, pg_catalog.jsonb_build_object(
               'table', t.qname,
               'columns', t.cols,
               'types', coalesce((SELECT pg_catalog.jsonb_object_agg(c.key, pg_catalog.format_type(a.atttypid, a.atttypmod))
                                    FROM pg_catalog.jsonb_each_text(t.cols) c
                                    JOIN pg_catalog.pg_attribute a
                                      ON a.attrelid = t.relid AND a.attname = c.value AND a.attnum > 0 AND NOT a.attisdropped),
                                 '{}'),
               'values', coalesce(binding -> t.role_name -> 'values', '{}')))
           || pg_catalog.jsonb_build_object(
               'status_values', (SELECT pg_catalog.jsonb_object_agg(w, coalesce(binding -> 'status_values' ->> w, w))
                                   FROM pg_catalog.unnest(ARRAY['pending', 'confirmed', 'needs_review', 'cancelled', 'refunded',
                                                                'unpaid', 'paid', 'failed']) w),
               'currency', binding ->> 'currency',
               'version', 1)
      FROM (SELECT x.role_name, c.oid AS relid,
                   pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(c.relname) AS qname,
                   pg_catalog.jsonb_strip_nulls(binding -> x.role_name -> 'columns') AS cols
              FROM pg_catalog.unnest(ARRAY['products', 'carts', 'cart_items', 'orders', 'order_items']) x(role_name)
              JOIN pg_catalog.pg_class c ON c.oid = pg_catalog.to_regclass(binding -> x.role_name ->> 'table')
              JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace) t
);
REVOKE ALL ON FUNCTION stripe_webhook.normalise_binding(jsonb) FROM PUBLIC;
COMMENT ON FUNCTION stripe_webhook.normalise_binding(jsonb) IS
    'The normalised form of a shop binding document that binding_problems() finds valid (as bind_shop() stores it).';

-- The binding in force: the stored one, or the built-in tables' document.
-- version is the stored row's; for the built-in tables, the last version
-- taken (0 if none), so that unbinding also shows a new version.
CREATE VIEW stripe_webhook.shop_binding AS
SELECT false AS builtin, b.document, b.version, b.bound_at, b.bound_by
  FROM stripe_webhook.binding b
UNION ALL
SELECT true, stripe_webhook.builtin_binding(),
       CASE WHEN s.is_called THEN s.last_value ELSE 0 END, NULL::timestamptz, NULL::name
  FROM stripe_webhook.binding_version_seq s
 WHERE NOT EXISTS (SELECT FROM stripe_webhook.binding);
REVOKE ALL ON TABLE stripe_webhook.shop_binding FROM PUBLIC;
COMMENT ON VIEW stripe_webhook.shop_binding IS
    'The shop binding in force: one row, the stored document or (builtin = true) the built-in tables''.';

-- Bind the shop's tables: check the document, store its normalised form
-- (a new version) and return it; or raise SW401 with the first problem and
-- change nothing.  The EXCLUSIVE lock waits for deliveries in flight (they
-- hold ROW SHARE on the table while they use the binding).
CREATE FUNCTION stripe_webhook.bind_shop(binding jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $function$
DECLARE
    owner_oid oid;
    first record;
    more bigint;
    doc jsonb;
BEGIN
    -- Only the extension's owner or a superuser changes the binding.
    SELECT e.extowner INTO owner_oid FROM pg_catalog.pg_extension e WHERE e.extname = 'stripe_webhook';
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles u
                    WHERE u.rolname = CURRENT_USER AND (u.oid = owner_oid OR u.rolsuper)) THEN
        RAISE EXCEPTION USING
            ERRCODE = 'insufficient_privilege',
            MESSAGE = 'permission denied to change the shop binding',
            DETAIL = pg_catalog.format('Role "%s" is neither the owner of the extension stripe_webhook ("%s") nor a superuser.',
                                       CURRENT_USER, pg_catalog.pg_get_userbyid(owner_oid)),
            HINT = 'Run bind_shop() and unbind_shop() as the extension owner.';
    END IF;
    LOCK TABLE stripe_webhook.binding IN EXCLUSIVE MODE;

    SELECT p.code, p.message, p.detail, p.hint, pg_catalog.count(*) OVER () - 1 AS others
      INTO first
      FROM stripe_webhook.binding_problems(binding) p
     LIMIT 1;
    IF FOUND THEN
        more := first.others;
        RAISE EXCEPTION USING
            ERRCODE = 'SW401',
            MESSAGE = first.message,
            DETAIL = first.detail || CASE WHEN more = 0 THEN ''
                                          WHEN more = 1 THEN ' There is 1 more problem; stripe_webhook.binding_problems(document) lists them all.'
                                          ELSE pg_catalog.format(' There are %s more problems; stripe_webhook.binding_problems(document) lists them all.', more) END,
            HINT = first.hint;
    END IF;

    doc := stripe_webhook.normalise_binding(binding);
    INSERT INTO stripe_webhook.binding AS b (singleton, document, version, bound_at, bound_by)
    VALUES (true, doc, pg_catalog.nextval('stripe_webhook.binding_version_seq'), pg_catalog.now(), CURRENT_USER)
    ON CONFLICT (singleton) DO UPDATE
       SET document = excluded.document, version = excluded.version,
           bound_at = excluded.bound_at, bound_by = excluded.bound_by;
    RETURN doc;
END
$function$;
REVOKE ALL ON FUNCTION stripe_webhook.bind_shop(jsonb) FROM PUBLIC;
COMMENT ON FUNCTION stripe_webhook.bind_shop(jsonb) IS
    'Bind the shop''s own tables for the fulfilment: returns the stored normalised document, or raises SW401 (shop binding is invalid) with the first problem and changes nothing. Extension owner or superuser only (42501).';

-- Back to the built-in tables.
CREATE FUNCTION stripe_webhook.unbind_shop()
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $function$
DECLARE
    owner_oid oid;
BEGIN
    -- Only the extension's owner or a superuser changes the binding.
    SELECT e.extowner INTO owner_oid FROM pg_catalog.pg_extension e WHERE e.extname = 'stripe_webhook';
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles u
                    WHERE u.rolname = CURRENT_USER AND (u.oid = owner_oid OR u.rolsuper)) THEN
        RAISE EXCEPTION USING
            ERRCODE = 'insufficient_privilege',
            MESSAGE = 'permission denied to change the shop binding',
            DETAIL = pg_catalog.format('Role "%s" is neither the owner of the extension stripe_webhook ("%s") nor a superuser.',
                                       CURRENT_USER, pg_catalog.pg_get_userbyid(owner_oid)),
            HINT = 'Run bind_shop() and unbind_shop() as the extension owner.';
    END IF;
    LOCK TABLE stripe_webhook.binding IN EXCLUSIVE MODE;
    DELETE FROM stripe_webhook.binding;
    PERFORM pg_catalog.nextval('stripe_webhook.binding_version_seq');
    RETURN stripe_webhook.builtin_binding();
END
$function$;
REVOKE ALL ON FUNCTION stripe_webhook.unbind_shop() FROM PUBLIC;
COMMENT ON FUNCTION stripe_webhook.unbind_shop() IS
    'Remove the shop binding: the fulfilment uses the built-in tables again. Returns their document. Extension owner or superuser only (42501).';

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
    order_id        text,
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

---------------------------------------------------------------------------
-- Section: event retention (0.3.0)
---------------------------------------------------------------------------
-- stripe_webhook.events grows by one row per event.  prune_events() (one
-- transaction) and CALL prune_events_batched() (a COMMIT after every
-- batch) delete the processed and ignored events processed (processed_at)
-- before now() - older_than, and strip (payload = NULL) the payload of the
-- processed and ignored events that stay but were processed before now() -
-- stripe_webhook.payload_retention (a setting, src/stripe_webhook.c; -1, the
-- default, keeps payloads).  Received and failed events are never touched:
-- a redelivery or stripe_replay_event() still needs them.  A redelivery of
-- a pruned event is processed again, and the Checkout handlers are
-- idempotent per session (the order is found by its session id).
--
-- How the table is walked: in windows of heap blocks (TID range scans, so
-- each block is read about once per run and the deliveries' hot path pays
-- for no extra index); within a window, in batches of at most batch_size
-- rows picked with FOR UPDATE SKIP LOCKED.  A row someone else has locked
-- is left for the next run; a window is done when a batch picks fewer
-- rows than batch_size.  Deliveries never lock processed or ignored rows
-- (a redelivery only reads them), so they never wait for the pruning.
-- Owner only, SECURITY INVOKER: whoever runs them needs DELETE and UPDATE
-- on stripe_webhook.events.  doc/retention.md is the user's guide.

-- The setting stripe_webhook.payload_retention as an interval.  In C so that
-- calling it loads the module, which registers and checks the setting.
CREATE FUNCTION stripe_webhook.payload_retention()
RETURNS interval
AS 'MODULE_PATHNAME', 'stripe_payload_retention'
LANGUAGE C STABLE PARALLEL SAFE;
REVOKE ALL ON FUNCTION stripe_webhook.payload_retention() FROM PUBLIC;
COMMENT ON FUNCTION stripe_webhook.payload_retention() IS
    'stripe_webhook.payload_retention as an interval (NULL: -1, payloads kept until the event is pruned).';

-- Internal: check the arguments of prune_events() and prune_events_batched()
-- and fix the run's cut-off times and the table's size in blocks when it
-- starts.  older_than: NULL 22004, negative 22023; a cut-off that would be
-- out of range (a huge interval) prunes nothing; one after now() (intervals
-- mixing months and days, e.g. '1 month -30 days') is now().
CREATE FUNCTION stripe_webhook.prune_events_start(
    older_than interval,
    batch_size integer,
    OUT delete_before timestamptz,
    OUT strip_before timestamptz,
    OUT end_block bigint)
LANGUAGE plpgsql VOLATILE
SET search_path = ''
AS $$
BEGIN
    IF older_than IS NULL THEN
        RAISE EXCEPTION 'older_than must not be null'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'Pass an interval such as ''90 days''; ''0'' prunes every processed and ignored event.';
    END IF;
    IF older_than < '0'::interval THEN
        RAISE EXCEPTION 'older_than must not be negative'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = pg_catalog.format('older_than is %s.', older_than),
                  HINT = 'Pass an interval such as ''90 days''; ''0'' prunes every processed and ignored event.';
    END IF;
    IF batch_size IS NULL THEN
        RAISE EXCEPTION 'batch_size must not be null'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'Omit it for the default of 1000 rows per batch.';
    END IF;
    IF batch_size < 1 THEN
        RAISE EXCEPTION 'batch_size must be at least 1'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = pg_catalog.format('batch_size is %s.', batch_size),
                  HINT = 'Omit it for the default of 1000 rows per batch.';
    END IF;

    BEGIN
        delete_before := LEAST(pg_catalog.now() - older_than, pg_catalog.now());
    EXCEPTION WHEN datetime_field_overflow THEN
        delete_before := '-infinity';
    END;
    strip_before := pg_catalog.now() - stripe_webhook.payload_retention();
    end_block := pg_catalog.pg_relation_size('stripe_webhook.events'::pg_catalog.regclass)
                 / pg_catalog.current_setting('block_size')::bigint;
END
$$;
REVOKE ALL ON FUNCTION stripe_webhook.prune_events_start(interval, integer) FROM PUBLIC;
COMMENT ON FUNCTION stripe_webhook.prune_events_start(interval, integer) IS
    'Internal to prune_events() and prune_events_batched(): checks their arguments, returns the cut-off times and the size of stripe_webhook.events in blocks.';

-- Internal: one batch, and where the next one starts.  Picks at most
-- batch_size processed or ignored events that are due in the window of heap
-- blocks [first_block, LEAST(first_block + window_blocks, end_block)), with
-- FOR UPDATE SKIP LOCKED; deletes those processed before delete_before and
-- sets the payload of the others (processed before strip_before) to NULL.
-- picked < batch_size means nothing more is due in the window: the next
-- batch starts after it, with a window twice as large if this one was less
-- than half full; a full batch scans the same blocks again with half the
-- window.  So a window rarely has to be scanned twice.
CREATE FUNCTION stripe_webhook.prune_events_step(
    delete_before timestamptz,
    strip_before timestamptz,
    first_block bigint,
    window_blocks bigint,
    end_block bigint,
    batch_size integer,
    OUT picked integer,
    OUT deleted integer,
    OUT next_block bigint,
    OUT next_window bigint)
LANGUAGE plpgsql VOLATILE
SET search_path = ''
AS $$
DECLARE
    last_block bigint := LEAST(first_block + window_blocks, end_block);
BEGIN
    WITH due AS (
        SELECT e.id, e.processed_at < delete_before AS expired
        FROM stripe_webhook.events e
        WHERE e.ctid >= pg_catalog.format('(%s,0)', first_block)::pg_catalog.tid
          AND e.ctid < pg_catalog.format('(%s,0)', last_block)::pg_catalog.tid
          AND e.status IN ('processed', 'ignored')
          AND (e.processed_at < delete_before
               OR (e.processed_at < strip_before AND e.payload IS NOT NULL))
        LIMIT batch_size
        FOR UPDATE SKIP LOCKED
    ), gone AS (
        DELETE FROM stripe_webhook.events e
        USING due
        WHERE e.id = due.id AND due.expired
        RETURNING e.id
    ), stripped AS (
        UPDATE stripe_webhook.events e
        SET payload = NULL
        FROM due
        WHERE e.id = due.id AND NOT due.expired
        RETURNING e.id
    )
    SELECT (SELECT pg_catalog.count(*) FROM due)::integer,
           (SELECT pg_catalog.count(*) FROM gone)::integer
    INTO picked, deleted;

    IF picked < batch_size THEN
        next_block := last_block;
        next_window := CASE WHEN picked < batch_size / 2 THEN LEAST(window_blocks * 2, 16384)
                            ELSE window_blocks END;
    ELSE
        next_block := first_block;
        next_window := GREATEST(window_blocks / 2, 1);
    END IF;
END
$$;
REVOKE ALL ON FUNCTION stripe_webhook.prune_events_step(timestamptz, timestamptz, bigint, bigint, bigint, integer) FROM PUBLIC;
COMMENT ON FUNCTION stripe_webhook.prune_events_step(timestamptz, timestamptz, bigint, bigint, bigint, integer) IS
    'Internal to prune_events() and prune_events_batched(): one batch of deletions and payload strippings in a window of heap blocks, and where the next batch starts.';

-- prune_events(older_than, batch_size): the whole run in the caller's
-- transaction; returns the number of events deleted.
CREATE FUNCTION stripe_webhook.prune_events(older_than interval, batch_size integer DEFAULT 1000)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = ''
AS $$
DECLARE
    run record;
    step record;
    first_block bigint := 0;
    window_blocks bigint := 8;
    deleted bigint := 0;
BEGIN
    SELECT * INTO run FROM stripe_webhook.prune_events_start(older_than, batch_size);
    WHILE first_block < run.end_block LOOP
        SELECT * INTO step
        FROM stripe_webhook.prune_events_step(run.delete_before, run.strip_before,
                                              first_block, window_blocks, run.end_block, batch_size);
        deleted := deleted + step.deleted;
        first_block := step.next_block;
        window_blocks := step.next_window;
    END LOOP;
    RETURN deleted;
END
$$;
REVOKE ALL ON FUNCTION stripe_webhook.prune_events(interval, integer) FROM PUBLIC;
COMMENT ON FUNCTION stripe_webhook.prune_events(interval, integer) IS
    'Delete processed and ignored events processed before now() - older_than, in batches of batch_size rows (FOR UPDATE SKIP LOCKED), and strip the payloads stripe_webhook.payload_retention says are due; one transaction; returns the number deleted. Received and failed events are never touched. Errors: NULL older_than or batch_size (22004), negative older_than or batch_size < 1 (22023).';

-- prune_events_batched(older_than, batch_size): the same run with a COMMIT
-- after every batch, for large backlogs and for pg_cron.  A procedure that
-- commits can have neither SET search_path nor SECURITY DEFINER; every name
-- in it is schema-qualified and it runs with the caller's rights.  It
-- cannot run inside a transaction block (BEGIN ... CALL): 2D000.
CREATE PROCEDURE stripe_webhook.prune_events_batched(
    older_than interval,
    batch_size integer DEFAULT 1000,
    INOUT deleted bigint DEFAULT NULL)
LANGUAGE plpgsql
AS $$
DECLARE
    run record;
    step record;
    first_block bigint := 0;
    window_blocks bigint := 8;
BEGIN
    deleted := 0;
    SELECT * INTO run FROM stripe_webhook.prune_events_start(older_than, batch_size);
    WHILE first_block < run.end_block LOOP
        SELECT * INTO step
        FROM stripe_webhook.prune_events_step(run.delete_before, run.strip_before,
                                              first_block, window_blocks, run.end_block, batch_size);
        deleted := deleted + step.deleted;
        first_block := step.next_block;
        window_blocks := step.next_window;
        COMMIT;
    END LOOP;
END
$$;
REVOKE ALL ON PROCEDURE stripe_webhook.prune_events_batched(interval, integer, bigint) FROM PUBLIC;
COMMENT ON PROCEDURE stripe_webhook.prune_events_batched(interval, integer, bigint) IS
    'As prune_events(), with a COMMIT after every batch (CALL it outside a transaction block; 2D000 inside one); returns the number deleted in "deleted". For pg_cron and large backlogs.';

---------------------------------------------------------------------------
-- Section: order changes for the shop's own code (listeners)
---------------------------------------------------------------------------
-- stripe_webhook.order_changes (in the shop section above) is the durable
-- record of order state changes; its NOTIFY only wakes listeners up.  A
-- listener (e.g. the Django app's `manage.py stripe_webhook_listen`) keeps
-- its position here, so that after downtime it resumes exactly where it
-- stopped.  Both survive pg_dump/restore; so does the identity sequence of
-- order_changes, or a restored database would hand out ids again that
-- listeners have already passed.
SELECT pg_catalog.pg_extension_config_dump('stripe_webhook.order_changes_id_seq', '');

-- Where each named listener stands in order_changes: every change with
-- id <= last_id has been handled (or never committed), and done_ids lists
-- the ids above last_id handled already (a change can commit after one with
-- a higher id).  A listener updates its row after each change it handled.
-- Nothing is granted to PUBLIC: a listener's role gets SELECT, INSERT and
-- UPDATE explicitly.
CREATE TABLE stripe_webhook.order_change_cursors (
    listener   text PRIMARY KEY
               CONSTRAINT order_change_cursors_listener_check CHECK (listener <> ''),
    last_id    bigint NOT NULL DEFAULT 0,
    done_ids   bigint[] NOT NULL DEFAULT '{}',
    updated_at timestamptz NOT NULL DEFAULT pg_catalog.now()
);
REVOKE ALL ON TABLE stripe_webhook.order_change_cursors FROM PUBLIC;
COMMENT ON TABLE stripe_webhook.order_change_cursors IS
    'Position of each named listener in order_changes: ids <= last_id and the ids in done_ids are handled.';
SELECT pg_catalog.pg_extension_config_dump('stripe_webhook.order_change_cursors', '');

---------------------------------------------------------------------------
-- Section: stock holds (0.3.0)
---------------------------------------------------------------------------
-- Stock set aside for a Checkout Session while it is open (Stripe's
-- "Manage limited inventory" guide), on the built-in tables or the bound
-- ones.  reserve_cart() takes the cart's quantities from the products'
-- stock column, so that a storefront reading the stock shows what can still
-- be sold, and records them here, one row per session and product.  A row
-- is 'held' until it is settled once: 'ordered' when the session's order
-- took it (returned: held units the order did not need, given back), or
-- 'released' with every unit given back (release_reason: expired,
-- payment_failed, released by release_hold(), replaced by a newer session
-- for the same cart, lapsed past expires_at, not_ordered: the order did not
-- take the product).  Ids are the shop's, as text, with the bound tables'
-- names.  doc/stock-holds.md is the user's guide.
CREATE TABLE stripe_webhook.holds (
    checkout_session_id text NOT NULL,
    product_table       text NOT NULL,
    product_id          text NOT NULL,
    cart_table          text NOT NULL,
    cart_id             text NOT NULL,
    user_id             text NOT NULL,
    quantity            bigint NOT NULL CONSTRAINT holds_quantity_check CHECK (quantity > 0),
    expires_at          timestamptz NOT NULL,
    created_at          timestamptz NOT NULL DEFAULT pg_catalog.now(),
    status              text NOT NULL DEFAULT 'held'
                        CONSTRAINT holds_status_check CHECK (status IN ('held', 'ordered', 'released')),
    returned            bigint NOT NULL DEFAULT 0
                        CONSTRAINT holds_returned_check CHECK (returned >= 0 AND returned <= quantity),
    release_reason      text
                        CONSTRAINT holds_release_reason_check
                        CHECK (release_reason IN ('expired', 'payment_failed', 'released', 'replaced',
                                                  'lapsed', 'not_ordered')),
    order_table         text,
    order_id            text,
    settled_at          timestamptz,
    PRIMARY KEY (checkout_session_id, product_id),
    CONSTRAINT holds_settled_check CHECK ((status = 'held') = (settled_at IS NULL)),
    CONSTRAINT holds_held_check CHECK (status <> 'held' OR (returned = 0 AND release_reason IS NULL
                                                            AND order_id IS NULL)),
    CONSTRAINT holds_released_check CHECK (status <> 'released' OR (returned = quantity
                                                                    AND release_reason IS NOT NULL
                                                                    AND order_id IS NULL)),
    CONSTRAINT holds_ordered_check CHECK (status <> 'ordered' OR (order_id IS NOT NULL
                                                                  AND order_table IS NOT NULL
                                                                  AND returned < quantity
                                                                  AND release_reason IS NULL))
);
CREATE INDEX holds_cart_held_idx ON stripe_webhook.holds (cart_table, cart_id) WHERE status = 'held';
CREATE INDEX holds_expires_at_held_idx ON stripe_webhook.holds (expires_at) WHERE status = 'held';
REVOKE ALL ON TABLE stripe_webhook.holds FROM PUBLIC;
COMMENT ON TABLE stripe_webhook.holds IS
    'Stock held per Checkout Session and product (reserve_cart): held, then ordered (the order took it; returned = units given back) or released (every unit given back, release_reason says why).';
SELECT pg_catalog.pg_extension_config_dump('stripe_webhook.holds', '');

-- reserve_cart(cart_id, checkout_session_id, expires_at): what the shop's
-- web app calls when it creates the Checkout Session.  SECURITY DEFINER:
-- the app's role needs EXECUTE only, not UPDATE on the products.
CREATE FUNCTION stripe_webhook.reserve_cart(cart_id bigint, checkout_session_id text, expires_at timestamptz)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'stripe_webhook_reserve_cart'
LANGUAGE C VOLATILE CALLED ON NULL INPUT SECURITY DEFINER
SET search_path = '';
REVOKE ALL ON FUNCTION stripe_webhook.reserve_cart(bigint, text, timestamptz) FROM PUBLIC;
COMMENT ON FUNCTION stripe_webhook.reserve_cart(bigint, text, timestamptz) IS
    'Hold the cart''s quantities for a Checkout Session until expires_at (the session''s, 30 minutes to 24 hours after its creation: accepted from now() + 25 minutes to now() + 24 hours): the products'' stock is reduced, the hold recorded in stripe_webhook.holds; a hold of the same cart by another session is released. The same session again returns its hold. Returns {"checkout_session_id", "cart_id", "expires_at", "created", "lines": [{"product_id", "quantity"}], "replaced": [...]}. Errors: SW501 not enough stock (nothing held), SW502 expires_at out of range, SW503 cart checked out or session already used, SW204 no such cart, SW206 empty cart, 22004 NULL, 22023 malformed id, 42804 the shop''s cart ids are not integers.';

-- The same for carts whose ids are not integers (uuid, text); one C
-- implementation serves both.
CREATE FUNCTION stripe_webhook.reserve_cart(cart_id text, checkout_session_id text, expires_at timestamptz)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'stripe_webhook_reserve_cart_text'
LANGUAGE C VOLATILE CALLED ON NULL INPUT SECURITY DEFINER
SET search_path = '';
REVOKE ALL ON FUNCTION stripe_webhook.reserve_cart(text, text, timestamptz) FROM PUBLIC;
COMMENT ON FUNCTION stripe_webhook.reserve_cart(text, text, timestamptz) IS
    'As reserve_cart(bigint, ...) for any type of cart id, given as text (what the id column prints).';

-- release_hold(checkout_session_id): give back what the session holds, e.g.
-- when the shop expires the Checkout Session itself.  SECURITY DEFINER.
CREATE FUNCTION stripe_webhook.release_hold(checkout_session_id text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'stripe_webhook_release_hold'
LANGUAGE C VOLATILE CALLED ON NULL INPUT SECURITY DEFINER
SET search_path = '';
REVOKE ALL ON FUNCTION stripe_webhook.release_hold(text) FROM PUBLIC;
COMMENT ON FUNCTION stripe_webhook.release_hold(text) IS
    'Give the stock a Checkout Session holds back to the products; true when something was held, false when nothing is (unknown session, or already ordered or released). Errors: 22004 NULL, 22023 not a Checkout Session id.';

-- release_expired_holds(): give back the holds past their expires_at, at
-- most 500 sessions a call; returns how many sessions.  For pg_cron every
-- minute; holds of a user whose delivery or hold is in progress are left
-- for the next run.  Owner only (caller's rights).
CREATE FUNCTION stripe_webhook.release_expired_holds()
RETURNS integer
AS 'MODULE_PATHNAME', 'stripe_webhook_release_expired_holds'
LANGUAGE C VOLATILE;
REVOKE ALL ON FUNCTION stripe_webhook.release_expired_holds() FROM PUBLIC;
COMMENT ON FUNCTION stripe_webhook.release_expired_holds() IS
    'Give back the stock held by Checkout Sessions past their expires_at (at most 500 sessions a call; users busy in another transaction are left for the next call); returns the number of sessions released.';
