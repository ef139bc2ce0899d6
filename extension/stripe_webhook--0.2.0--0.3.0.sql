-- stripe_webhook 0.2.0 -> 0.3.0.  The result must equal a fresh 0.3.0
-- install (test/e2e/05_upgrade.t compares catalogues).

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION stripe_webhook UPDATE TO '0.3.0'" to load this file. \quit

---------------------------------------------------------------------------
-- Section: order changes for the shop's own code (listeners)
---------------------------------------------------------------------------
-- Every change of an order's state that the shop's code may want to act on
-- (a new order, an order cancelled, an order set aside for review) is
-- recorded here by the fulfilment, in the same transaction as the change
-- itself.  A row therefore exists if and only if the change committed: a
-- rolled-back fulfilment leaves nothing.  The trigger below announces each
-- row at commit with NOTIFY on the channel "stripe_webhook_orders"; a
-- listener that was not connected at that moment catches up from this table
-- (the rows are the durable record, the notifications only a wake-up call).
--   order_id             the order's id in the bound orders table, as text
--   change               order_created, order_cancelled or order_needs_review
--   status               the order's status word after the change
--   checkout_session_id  the Checkout Session that caused it
--   stripe_event_id      the Stripe event that caused it (NULL for a replay
--                        without one)
-- Nothing is granted to PUBLIC: a listener's role gets SELECT explicitly.
CREATE TABLE stripe_webhook.order_changes (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id            text NOT NULL,
    change              text NOT NULL
                        CONSTRAINT order_changes_change_check
                        CHECK (change IN ('order_created', 'order_cancelled', 'order_needs_review')),
    status              text NOT NULL,
    checkout_session_id text NOT NULL,
    stripe_event_id     text,
    created_at          timestamptz NOT NULL DEFAULT pg_catalog.now()
);
CREATE INDEX order_changes_created_at_idx ON stripe_webhook.order_changes (created_at);
REVOKE ALL ON TABLE stripe_webhook.order_changes FROM PUBLIC;
REVOKE ALL ON SEQUENCE stripe_webhook.order_changes_id_seq FROM PUBLIC;
COMMENT ON TABLE stripe_webhook.order_changes IS
    'Committed order state changes (order_created, order_cancelled, order_needs_review) for listeners; each row is announced with NOTIFY stripe_webhook_orders.';
SELECT pg_catalog.pg_extension_config_dump('stripe_webhook.order_changes', '');
SELECT pg_catalog.pg_extension_config_dump('stripe_webhook.order_changes_id_seq', '');

-- The notification: a small JSON object (well under NOTIFY's 8000-byte
-- limit), delivered to listeners when the inserting transaction commits and
-- never if it rolls back.
CREATE FUNCTION stripe_webhook.order_changes_notify()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = ''
AS $notify$
BEGIN
    PERFORM pg_catalog.pg_notify('stripe_webhook_orders',
                                 pg_catalog.json_build_object('id', NEW.id,
                                                              'change', NEW.change,
                                                              'order_id', NEW.order_id,
                                                              'stripe_event_id', NEW.stripe_event_id)::text);
    RETURN NULL;
END
$notify$;
REVOKE ALL ON FUNCTION stripe_webhook.order_changes_notify() FROM PUBLIC;
COMMENT ON FUNCTION stripe_webhook.order_changes_notify() IS
    'Trigger on order_changes: NOTIFY stripe_webhook_orders with {"id", "change", "order_id", "stripe_event_id"}.';
CREATE TRIGGER order_changes_notify
    AFTER INSERT ON stripe_webhook.order_changes
    FOR EACH ROW EXECUTE FUNCTION stripe_webhook.order_changes_notify();

-- Where each named listener stands in order_changes: every change with
-- id <= last_id has been handled (or never committed), and done_ids lists
-- the ids above last_id handled already (a change can commit after one with
-- a higher id).  A listener updates its row after each change it handled,
-- so after a restart it resumes exactly there.  Kept with pg_dump.
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
