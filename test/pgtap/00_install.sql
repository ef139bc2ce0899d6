-- The extension installs into its fixed schema and cannot be relocated.
BEGIN;
SELECT plan(5);

SELECT has_schema('stripe_webhook', 'schema stripe_webhook exists');
SELECT is((SELECT extversion FROM pg_extension WHERE extname = 'stripe_webhook'),
          (SELECT default_version FROM pg_available_extensions WHERE name = 'stripe_webhook'),
          'installed version is the default version');
SELECT is((SELECT extrelocatable FROM pg_extension WHERE extname = 'stripe_webhook'), false,
          'extension is not relocatable');
SELECT is((SELECT n.nspname::text FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
           WHERE e.extname = 'stripe_webhook'), 'stripe_webhook', 'extension schema is stripe_webhook');
LOAD 'stripe_webhook';
SELECT throws_ok($$SET stripe_webhook.no_such_setting = 1$$, '42602', NULL,
                 'the stripe_webhook.* setting prefix is reserved');

SELECT * FROM finish();
ROLLBACK;
