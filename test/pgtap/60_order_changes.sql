-- Order changes for listeners: stripe_webhook.order_changes (written by the
-- fulfilment) and stripe_webhook.order_change_cursors (a listener's
-- position): shapes, constraints, privileges, registration for pg_dump,
-- and the NOTIFY trigger (its payload, built by json_build_object).
BEGIN;
SELECT plan(20);

SELECT has_table('stripe_webhook', 'order_changes', 'order_changes exists');
SELECT columns_are('stripe_webhook', 'order_changes',
                   ARRAY['id', 'order_table', 'order_id', 'change', 'status', 'checkout_session_id', 'stripe_event_id', 'created_at'],
                   'order_changes columns');
SELECT has_table('stripe_webhook', 'order_change_cursors', 'order_change_cursors exists');
SELECT columns_are('stripe_webhook', 'order_change_cursors', ARRAY['listener', 'last_id', 'done_ids', 'updated_at'],
                   'order_change_cursors columns');
SELECT col_is_pk('stripe_webhook', 'order_change_cursors', 'listener', 'one cursor per listener name');
SELECT col_type_is('stripe_webhook', 'order_change_cursors', 'done_ids', 'bigint[]', 'done_ids is bigint[]');
SELECT has_trigger('stripe_webhook', 'order_changes', 'order_changes_notify', 'the NOTIFY trigger exists');

-- Registered for pg_dump: both tables and the identity sequence (a restored
-- database must not hand out ids that listeners have already passed).
SELECT ok(EXISTS (SELECT FROM pg_extension e WHERE e.extname = 'stripe_webhook'
                  AND 'stripe_webhook.order_changes'::regclass = ANY (e.extconfig)), 'order_changes is dumped');
SELECT ok(EXISTS (SELECT FROM pg_extension e WHERE e.extname = 'stripe_webhook'
                  AND 'stripe_webhook.order_changes_id_seq'::regclass = ANY (e.extconfig)),
          'the id sequence of order_changes is dumped');
SELECT ok(EXISTS (SELECT FROM pg_extension e WHERE e.extname = 'stripe_webhook'
                  AND 'stripe_webhook.order_change_cursors'::regclass = ANY (e.extconfig)),
          'order_change_cursors is dumped');

-- Nothing for PUBLIC.
CREATE ROLE sw_pgtap_nobody;
SELECT ok(NOT has_table_privilege('sw_pgtap_nobody', 'stripe_webhook.order_changes', 'SELECT,INSERT,UPDATE,DELETE'),
          'PUBLIC has no privilege on order_changes');
SELECT ok(NOT has_table_privilege('sw_pgtap_nobody', 'stripe_webhook.order_change_cursors',
                                  'SELECT,INSERT,UPDATE,DELETE'),
          'PUBLIC has no privilege on order_change_cursors');
SELECT ok(NOT has_function_privilege('sw_pgtap_nobody', 'stripe_webhook.order_changes_notify()', 'EXECUTE'),
          'PUBLIC may not execute the trigger function');

-- Constraints.
SELECT throws_ok($$INSERT INTO stripe_webhook.order_changes (order_table, order_id, change, status, checkout_session_id)
                   VALUES ('public.shop_order', 'o1', 'order_shipped', 'shipped', 'cs_1')$$, '23514', NULL,
                 'an unknown change word is refused (23514)');
SELECT throws_ok($$INSERT INTO stripe_webhook.order_changes (id, order_table, order_id, change, status, checkout_session_id)
                   VALUES (7, 'public.shop_order', 'o1', 'order_created', 'confirmed', 'cs_1')$$, '428C9', NULL,
                 'ids are generated, never given (428C9)');
SELECT throws_ok($$INSERT INTO stripe_webhook.order_change_cursors (listener) VALUES ('')$$, '23514', NULL,
                 'an empty listener name is refused (23514)');

-- The trigger fires per row and the rows are as written.
SELECT lives_ok($$INSERT INTO stripe_webhook.order_changes (order_table, order_id, change, status, checkout_session_id, stripe_event_id)
                  VALUES ('public.shop_order', 'o1', 'order_created', 'confirmed', 'cs_1', 'evt_1'),
                         ('public.shop_order', 'o2', 'order_needs_review', 'on_hold', 'cs_2', NULL)$$,
                'two changes inserted (the trigger runs for each)');
SELECT results_eq($$SELECT order_id, change, stripe_event_id FROM stripe_webhook.order_changes ORDER BY id$$,
                  $$VALUES ('o1'::text, 'order_created'::text, 'evt_1'::text), ('o2', 'order_needs_review', NULL)$$,
                  'the changes are recorded in id order');
SELECT is((SELECT last_id FROM stripe_webhook.order_change_cursors WHERE listener = 'none'), NULL,
          'no cursor exists before a listener writes one');
INSERT INTO stripe_webhook.order_change_cursors (listener) VALUES ('l1');
SELECT results_eq($$SELECT last_id, done_ids FROM stripe_webhook.order_change_cursors WHERE listener = 'l1'$$,
                  $$VALUES (0::bigint, '{}'::bigint[])$$, 'a new cursor starts at the beginning');

SELECT * FROM finish();
ROLLBACK;
