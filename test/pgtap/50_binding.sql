-- Shop binding: the catalog objects, the built-in document, the two test
-- shops (test/lib/shops: Django-shaped and minimal) valid and normalised as
-- expected, every refusal of bind_shop (SQLSTATE, message, detail, hint,
-- the first problem's code, and the binding in force unchanged), the
-- caller check, unbind_shop and the version.
BEGIN;
\ir ../lib/shops/django.sql
\ir ../lib/shops/minimal.sql
\set django_doc `cat test/lib/shops/django.json`
\set minimal_doc `cat test/lib/shops/minimal.json`
SELECT plan(302);

CREATE TEMP TABLE docs (name text PRIMARY KEY, doc jsonb NOT NULL);
INSERT INTO docs VALUES ('django', :'django_doc'), ('minimal', :'minimal_doc');

-- The error bind_shop raises for doc, as {sqlstate, message, detail, hint}
-- (NULL: it did not raise).
CREATE FUNCTION pg_temp.bind_error(doc jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    st text; msg text; det text; hin text;
BEGIN
    PERFORM stripe_webhook.bind_shop(doc);
    RETURN NULL;
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL, hin = PG_EXCEPTION_HINT;
    RETURN jsonb_build_object('sqlstate', st, 'message', msg, 'detail', det, 'hint', hin);
END $$;

-- Six tests of one refusal: SQLSTATE SW401, message, detail and hint
-- (LIKE patterns), the first problem binding_problems reports, and the
-- binding in force (the view's row) unchanged.
CREATE FUNCTION pg_temp.refused(doc jsonb, want_code text, want_message text, detail_like text, hint_like text,
                                what text) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
    before jsonb := (SELECT to_jsonb(b) FROM stripe_webhook.shop_binding b);
    err jsonb := pg_temp.bind_error(doc);
BEGIN
    RETURN NEXT is(err ->> 'sqlstate', 'SW401', what || ': SQLSTATE SW401');
    RETURN NEXT is(err ->> 'message', want_message, what || ': message');
    RETURN NEXT alike(err ->> 'detail', detail_like, what || ': detail');
    RETURN NEXT alike(err ->> 'hint', hint_like, what || ': hint');
    RETURN NEXT is((SELECT p.code FROM stripe_webhook.binding_problems(doc) p LIMIT 1), want_code,
                   what || ': first problem is ' || want_code);
    RETURN NEXT is((SELECT to_jsonb(b) FROM stripe_webhook.shop_binding b), before,
                   what || ': the binding in force is unchanged');
END $$;

CREATE FUNCTION pg_temp.d() RETURNS jsonb LANGUAGE sql AS $$ SELECT doc FROM docs WHERE name = 'django' $$;
CREATE FUNCTION pg_temp.m() RETURNS jsonb LANGUAGE sql AS $$ SELECT doc FROM docs WHERE name = 'minimal' $$;

---------------------------------------------------------------------------
-- Catalog objects.
---------------------------------------------------------------------------
SELECT has_table('stripe_webhook', 'binding', 'binding exists');
SELECT columns_are('stripe_webhook', 'binding', ARRAY['singleton', 'document', 'version', 'bound_at', 'bound_by'],
                   'binding columns');
SELECT col_is_pk('stripe_webhook', 'binding', 'singleton', 'binding.singleton is the primary key');
SELECT throws_ok($$INSERT INTO stripe_webhook.binding (singleton, document, version) VALUES (false, '{}', 1)$$,
                 '23514', NULL, 'binding holds only the singleton row');
SELECT has_sequence('stripe_webhook', 'binding_version_seq', 'binding_version_seq exists');
SELECT has_view('stripe_webhook', 'shop_binding', 'shop_binding exists');
SELECT set_has($$SELECT unnest(extconfig)::regclass::text FROM pg_extension WHERE extname = 'stripe_webhook'$$,
               $$VALUES ('stripe_webhook.binding'), ('stripe_webhook.binding_version_seq')$$,
               'binding and its sequence are registered with pg_extension_config_dump');
SELECT is((SELECT tgenabled::text FROM pg_trigger
           WHERE tgrelid = 'stripe_webhook.binding'::regclass AND tgname = 'binding_changed'),
          'A', 'binding has the cache-invalidation trigger, enabled ALWAYS');
SELECT is((SELECT (tgtype & 1 = 0) AND (tgtype & 60 = 60) AND tgfoid = 'stripe_webhook.stripe_webhook_binding_changed'::regproc
           FROM pg_trigger WHERE tgrelid = 'stripe_webhook.binding'::regclass AND tgname = 'binding_changed'),
          true, 'it fires per statement on INSERT, UPDATE, DELETE and TRUNCATE and calls stripe_webhook_binding_changed()');
SELECT throws_ok($$SELECT stripe_webhook.stripe_webhook_binding_changed()$$, '39P01', NULL,
                 'stripe_webhook_binding_changed() cannot be called outside a trigger');
SELECT is((SELECT array_agg(p.oid::regprocedure::text || ':' || p.prosecdef || ':' || p.provolatile::text
                            ORDER BY p.oid::regprocedure::text)
           FROM pg_proc p WHERE p.pronamespace = 'stripe_webhook'::regnamespace
             AND p.proname IN ('bind_shop', 'unbind_shop', 'binding_problems', 'normalise_binding', 'builtin_binding',
                               'currency_exponent')),
          ARRAY['stripe_webhook.bind_shop(jsonb):false:v', 'stripe_webhook.binding_problems(jsonb):false:s',
                'stripe_webhook.builtin_binding():false:i', 'stripe_webhook.currency_exponent(text):false:i',
                'stripe_webhook.normalise_binding(jsonb):false:s', 'stripe_webhook.unbind_shop():false:v'],
          'binding functions: signatures, SECURITY INVOKER, volatility');
SELECT is((SELECT array_agg(a ORDER BY n) FROM pg_proc p, unnest(p.proargnames[2:]) WITH ORDINALITY AS x(a, n)
           WHERE p.oid = 'stripe_webhook.binding_problems(jsonb)'::regprocedure),
          ARRAY['code', 'role', 'logical', 'message', 'detail', 'hint']::text[],
          'binding_problems columns: code, role, logical, message, detail, hint');
SELECT is((SELECT array_agg(f ORDER BY f) FROM unnest(ARRAY['bind_shop(jsonb)', 'unbind_shop()', 'binding_problems(jsonb)',
                                                              'normalise_binding(jsonb)', 'builtin_binding()']) f
           WHERE has_function_privilege('public', 'stripe_webhook.' || f, 'EXECUTE')),
          NULL, 'PUBLIC cannot execute the binding functions');
-- currency_exponent is pure (no table, no setting) and runs inside the
-- fulfilment's statements for whoever calls stripe_fulfill_session
SELECT ok(has_function_privilege('public', 'stripe_webhook.currency_exponent(text)', 'EXECUTE'),
          'PUBLIC may execute currency_exponent');
SELECT ok(NOT has_table_privilege('public', 'stripe_webhook.binding', 'SELECT')
          AND NOT has_table_privilege('public', 'stripe_webhook.shop_binding', 'SELECT')
          AND NOT has_sequence_privilege('public', 'stripe_webhook.binding_version_seq', 'SELECT'),
          'PUBLIC cannot read the binding, its view or its sequence');

-- Stripe's exponents.
SELECT is(ARRAY[stripe_webhook.currency_exponent('usd'), stripe_webhook.currency_exponent('jpy'),
                stripe_webhook.currency_exponent('JPY'), stripe_webhook.currency_exponent('kwd'),
                stripe_webhook.currency_exponent('tnd'), stripe_webhook.currency_exponent('xpf'),
                stripe_webhook.currency_exponent('isk'), stripe_webhook.currency_exponent('huf'),
                stripe_webhook.currency_exponent('eur')],
          ARRAY[2, 0, 0, 3, 3, 0, 2, 2, 2], 'currency_exponent: usd 2, jpy 0, kwd 3, tnd 3, xpf 0, isk and huf 2');
SELECT is((SELECT count(*)::integer FROM unnest(ARRAY['bif', 'clp', 'djf', 'gnf', 'jpy', 'kmf', 'krw', 'mga', 'pyg', 'rwf',
                                                        'ugx', 'vnd', 'vuv', 'xaf', 'xof', 'xpf']) c
           WHERE stripe_webhook.currency_exponent(c) = 0), 16, 'all 16 zero-decimal currencies count 0');
SELECT is(stripe_webhook.currency_exponent(NULL), NULL, 'currency_exponent(NULL) is NULL');

---------------------------------------------------------------------------
-- The built-in document.
---------------------------------------------------------------------------
SELECT is_empty($$SELECT * FROM stripe_webhook.binding_problems(stripe_webhook.builtin_binding())$$,
                'the built-in document has no problems');
SELECT is(stripe_webhook.normalise_binding(stripe_webhook.builtin_binding()), stripe_webhook.builtin_binding(),
          'the built-in document is normalised');
SELECT is((SELECT count(*)::integer FROM stripe_webhook.shop_binding), 1, 'shop_binding has one row');
SELECT is((SELECT builtin FROM stripe_webhook.shop_binding), true, 'without a binding, the view shows the built-in tables');
SELECT is((SELECT document FROM stripe_webhook.shop_binding), stripe_webhook.builtin_binding(),
          'and the built-in document');
SELECT is(stripe_webhook.builtin_binding() -> 'orders' -> 'columns' ->> 'checkout_session', 'checkout_session_id',
          'built-in: orders.checkout_session is checkout_session_id');
SELECT is(stripe_webhook.builtin_binding() -> 'order_items' -> 'types' ->> 'unit_price', 'bigint',
          'built-in: order_items.unit_price is bigint (minor units)');

---------------------------------------------------------------------------
-- The test shops: valid, normalised as expected.
---------------------------------------------------------------------------
SELECT is_empty($$SELECT * FROM stripe_webhook.binding_problems(pg_temp.d())$$, 'the Django-shaped shop has no problems');
SELECT is_empty($$SELECT * FROM stripe_webhook.binding_problems(pg_temp.m())$$, 'the minimal shop has no problems');

CREATE TEMP TABLE nd AS SELECT stripe_webhook.normalise_binding(pg_temp.d()) AS doc;
CREATE TEMP TABLE nm AS SELECT stripe_webhook.normalise_binding(pg_temp.m()) AS doc;
SELECT is((SELECT array_agg(k ORDER BY k) FROM nd, jsonb_object_keys(nd.doc) k),
          ARRAY['cart_items', 'carts', 'currency', 'order_items', 'orders', 'products', 'status_values', 'version'],
          'normalised: the five roles, status_values, currency, version');
SELECT is((SELECT doc -> 'version' FROM nd), '1'::jsonb, 'normalised: document format version 1');
SELECT is((SELECT doc -> 'products' FROM nd),
          '{"table": "djshop.shop_product", "columns": {"id": "id", "price": "price", "stock": "stock_quantity"},
            "types": {"id": "bigint", "price": "numeric(10,2)", "stock": "integer"}, "values": {}}'::jsonb,
          'normalised Django products: table, columns, types, empty values');
SELECT is((SELECT doc -> 'carts' -> 'types' FROM nd),
          '{"id": "bigint", "user": "integer", "locked": "boolean", "locked_at": "timestamp with time zone",
            "created_at": "timestamp with time zone"}'::jsonb,
          'normalised Django carts: the types of the mapped logical names only');
SELECT is((SELECT doc -> 'orders' -> 'types' ->> 'status' FROM nd), 'character varying(20)',
          'normalised Django orders: status is character varying(20)');
SELECT is((SELECT doc -> 'orders' -> 'types' ->> 'id' FROM nd), 'uuid', 'normalised Django orders: id is uuid');
SELECT is((SELECT doc -> 'orders' -> 'types' ->> 'amount_total' FROM nd), 'numeric(10,2)',
          'normalised Django orders: amount_total is numeric(10,2)');
SELECT is((SELECT doc -> 'orders' -> 'values' FROM nd), '{"notes": ""}'::jsonb, 'normalised Django orders: values kept');
SELECT is((SELECT doc -> 'orders' -> 'columns' FROM nd), (SELECT pg_temp.d() -> 'orders' -> 'columns'),
          'normalised Django orders: the columns as given');
SELECT is((SELECT doc -> 'status_values' FROM nd),
          '{"pending": "awaiting_payment", "confirmed": "processing", "needs_review": "on_hold", "cancelled": "cancelled",
            "refunded": "refunded", "unpaid": "pending", "paid": "paid", "failed": "failed"}'::jsonb,
          'normalised Django status words: given ones kept, the others default to their key');
SELECT is((SELECT doc ->> 'currency' FROM nd), 'usd', 'normalised Django currency');
SELECT is((SELECT array_agg(doc -> r ->> 'table' ORDER BY r) FROM nm, unnest(ARRAY['cart_items', 'carts', 'order_items', 'orders', 'products']) r),
          ARRAY['"Mini Shop".basket_lines', '"Mini Shop".baskets', '"Mini Shop".order_lines', '"Mini Shop"."Orders"',
                '"Mini Shop".items'],
          'normalised minimal tables: schema-qualified, quoted where needed');
SELECT is((SELECT doc -> 'order_items' -> 'types' FROM nm),
          '{"order": "bigint", "product": "text", "quantity": "integer", "unit_price": "bigint"}'::jsonb,
          'normalised minimal order_items: integer money, text product key');
SELECT is((SELECT array_agg(doc -> r -> 'values' ORDER BY r) FROM nm, unnest(ARRAY['cart_items', 'carts', 'order_items', 'orders', 'products']) r),
          ARRAY['{}', '{}', '{}', '{}', '{}']::jsonb[], 'normalised minimal: "values" is {} in every role');
SELECT is((SELECT doc -> 'status_values' ->> 'pending' FROM nm), 'pending', 'normalised minimal: default status word');
SELECT is((SELECT doc -> 'status_values' ->> 'cancelled' FROM nm), 'void', 'normalised minimal: own status word');
SELECT is(stripe_webhook.normalise_binding((SELECT doc FROM nd)), (SELECT doc FROM nd),
          'normalising a normalised document changes nothing');

-- Unqualified names resolve with the caller's search_path; null for an
-- optional logical name means not mapped.
SET LOCAL search_path = djshop, public;
SELECT is(stripe_webhook.normalise_binding(jsonb_set(pg_temp.d(), '{products,table}', '"shop_product"')) -> 'products' ->> 'table',
          'djshop.shop_product', 'an unqualified table name resolves with search_path and is stored qualified');
RESET search_path;
SELECT is_empty($$SELECT * FROM stripe_webhook.binding_problems(jsonb_set(pg_temp.d(), '{carts,columns,locked_at}', 'null'))$$,
                'null for an optional logical name is accepted');
SELECT ok(NOT (stripe_webhook.normalise_binding(jsonb_set(pg_temp.d(), '{carts,columns,locked_at}', 'null')) -> 'carts' -> 'columns' ? 'locked_at'),
          'and leaves it unmapped');
-- A zero-decimal currency fits numeric(10,2); unconstrained numeric fits kwd.
SELECT is_empty($$SELECT * FROM stripe_webhook.binding_problems(jsonb_set(pg_temp.d(), '{currency}', '"jpy"'))$$,
                'numeric(10,2) columns accept a zero-decimal currency');
ALTER TABLE djshop.shop_orderitem ADD COLUMN price_any numeric;
SELECT is_empty($$SELECT * FROM stripe_webhook.binding_problems(jsonb_set(jsonb_set(pg_temp.d(), '{currency}', '"kwd"'),
                                                                          '{order_items,columns,unit_price}', '"price_any"'))
                  WHERE logical = 'unit_price'$$,
                'unconstrained numeric accepts kwd');

---------------------------------------------------------------------------
-- bind_shop stores the normalised document.
---------------------------------------------------------------------------
CREATE TEMP TABLE v0 AS SELECT version FROM stripe_webhook.shop_binding;
SELECT is(stripe_webhook.bind_shop(pg_temp.d()), (SELECT doc FROM nd), 'bind_shop returns the normalised document');
SELECT is((SELECT mode FROM pg_locks WHERE locktype = 'relation' AND relation = 'stripe_webhook.binding'::regclass
           AND pid = pg_backend_pid() AND mode = 'ExclusiveLock'), 'ExclusiveLock',
          'bind_shop took an EXCLUSIVE lock on the binding table');
SELECT is((SELECT builtin FROM stripe_webhook.shop_binding), false, 'the view shows the stored binding');
SELECT is((SELECT document FROM stripe_webhook.shop_binding), (SELECT doc FROM nd), 'with the normalised document');
SELECT is((SELECT bound_by::text FROM stripe_webhook.shop_binding), current_user::text, 'bound_by is the caller');
SELECT ok((SELECT version FROM stripe_webhook.shop_binding) > (SELECT version FROM v0), 'the version increased');
SELECT is((SELECT document FROM stripe_webhook.binding), (SELECT doc FROM nd), 'the binding table holds it');
CREATE TEMP TABLE v1 AS SELECT version FROM stripe_webhook.shop_binding;
SELECT lives_ok($$SELECT stripe_webhook.bind_shop((SELECT document FROM stripe_webhook.shop_binding))$$,
                'the stored (normalised) document can be bound again');
SELECT ok((SELECT version FROM stripe_webhook.shop_binding) > (SELECT version FROM v1), 'rebinding takes a new version');
SELECT is((SELECT count(*)::integer FROM stripe_webhook.binding), 1, 'still one row');
SELECT is(stripe_webhook.bind_shop(pg_temp.m()), (SELECT doc FROM nm), 'binding the minimal shop replaces it');
SELECT is((SELECT document FROM stripe_webhook.shop_binding), (SELECT doc FROM nm), 'the view shows the minimal shop');
SELECT ok(stripe_webhook.bind_shop(pg_temp.d()) IS NOT NULL, 'the Django shop is bound again');

---------------------------------------------------------------------------
-- Refusals: nothing changes (the Django shop stays bound).
---------------------------------------------------------------------------
SELECT pg_temp.refused(jsonb_set(pg_temp.d(), '{products,table}', '"djshop.no_such_table"'), 'table_not_found',
    'table "djshop.no_such_table" of role "products" does not exist',
    'Role "products" names the table "djshop.no_such_table", which is not found with search_path %',
    'Correct the name, or qualify it with its schema%', 'missing table');
CREATE VIEW djshop.product_view AS SELECT * FROM djshop.shop_product;
SELECT pg_temp.refused(jsonb_set(pg_temp.d(), '{products,table}', '"djshop.product_view"'), 'not_a_table',
    'relation djshop.product_view of role "products" is not a table',
    'Role "products" names djshop.product_view, which is a view; the fulfilment needs an ordinary or partitioned table.',
    'Bind the table itself for role "products".', 'a view');
SELECT pg_temp.refused(jsonb_set(pg_temp.d(), '{orders,columns,status}', '"state"'), 'column_not_found',
    'column "state" of table djshop.shop_order does not exist',
    'Role "orders" maps "status" to the column "state", which table djshop.shop_order does not have. There is 1 more problem;%',
    'Correct "status" in "columns" of "orders"%', 'missing column');
SELECT pg_temp.refused(jsonb_set(pg_temp.d(), '{products,columns,stock}', '"name"'), 'wrong_type',
    'column djshop.shop_product.name for "products.stock" has type character varying(200)',
    'Role "products" maps "stock" to the column "name" of djshop.shop_product, of type character varying(200); the types allowed are smallint, integer or bigint.',
    'Map "stock" to a column of one of those types, or change the column''s type.', 'wrong type');
SELECT pg_temp.refused(jsonb_set(pg_temp.d(), '{orders,columns,amount_total}', '"notes"'), 'wrong_type',
    'column djshop.shop_order.notes for "orders.amount_total" has type text',
    '%the types allowed are smallint, integer or bigint (minor units), or numeric (major units). There are 2 more problems;%',
    'Map "amount_total" to a column of one of those types%', 'text for money');
ALTER TABLE djshop.shop_cartitem ADD COLUMN legacy_cart_id integer;
SELECT pg_temp.refused(jsonb_set(pg_temp.d(), '{cart_items,columns,cart}', '"legacy_cart_id"'), 'type_mismatch',
    'type of "cart_items.cart" differs from "carts.id"',
    'Role "cart_items" maps "cart" to the column "legacy_cart_id" of djshop.shop_cartitem, of type integer, but "carts.id" is the column "id" of djshop.shop_cart, of type bigint; the two must have the same type. There is 1 more problem;%',
    'Change one column so that both are bigint, or map columns of the same type.', 'cart_items.cart type differs from carts.id');
SELECT pg_temp.refused(jsonb_set(pg_temp.d(), '{currency}', '"kwd"'), 'numeric_scale',
    'column djshop.shop_product.price for "products.price" cannot hold amounts in kwd',
    '%of type numeric(10,2): scale 2, but kwd needs 3 decimal places (Stripe''s minor unit); amounts would be rounded. There are 3 more problems; stripe_webhook.binding_problems(document) lists them all.',
    'Give the column a scale of at least 3 (ALTER TABLE djshop.shop_product ALTER COLUMN price TYPE numeric(11,3))%',
    'kwd into numeric(10,2)');
SELECT pg_temp.refused(pg_temp.d() #- '{orders,values}', 'not_null_unmapped',
    'column "notes" of table djshop.shop_order is NOT NULL and gets no value',
    'The fulfilment inserts into djshop.shop_order (role "orders"); its column "notes" (text) is NOT NULL without a default, and the binding neither maps it nor gives it a constant.',
    'Add "values": {"notes": <constant>} to role "orders", map the column in "columns", or give it a DEFAULT.',
    'unmapped NOT NULL column');
SELECT pg_temp.refused(pg_temp.d() #- '{carts,columns,created_at}', 'not_null_unmapped',
    'column "created_at" of table djshop.shop_cart is NOT NULL and gets no value', '%(timestamp with time zone)%',
    'Add "values": {"created_at": <constant>} to role "carts"%', 'unmapped NOT NULL column of carts');
SELECT pg_temp.refused(jsonb_set(pg_temp.d(), '{status_values,needs_review}', '"processing"'), 'duplicate_status',
    'status word "processing" is used twice',
    '"confirmed" and "needs_review" are both "processing"; the order-status words (pending, confirmed, needs_review, cancelled, refunded) must differ from each other.',
    'Give "needs_review" its own word in "status_values".', 'duplicate order-status words');
SELECT pg_temp.refused(jsonb_set(pg_temp.d(), '{status_values,failed}', '"pending"'), 'duplicate_status',
    'status word "pending" is used twice', '"unpaid" and "failed" are both "pending"; the payment-status words%',
    'Give "failed" its own word in "status_values".', 'duplicate payment-status words');
SELECT pg_temp.refused(jsonb_set(pg_temp.d(), '{status_values,paid}', '""'), 'bad_status',
    'status word for "paid" is not a non-empty string', '"status_values" gives "paid" the value ""%',
    'Set "paid" to the word the shop uses%', 'empty status word');
SELECT pg_temp.refused(jsonb_set(pg_temp.d(), '{status_values,confirmed}', '"processing_and_shipping"'), 'bad_status',
    'status word "processing_and_shipping" does not fit column status',
    'The word for "confirmed" is "processing_and_shipping" (23 characters), but the column "status" of djshop.shop_order is character varying(20).',
    'Use a shorter word for "confirmed", or widen the column.', 'status word longer than the column');
SELECT pg_temp.refused(jsonb_set(pg_temp.d(), '{status_values,shipped}', '"shipped"'), 'bad_status',
    'unknown status key "shipped"', '"status_values" has the key "shipped"; the keys are pending, confirmed, %',
    'Remove "shipped" or correct its spelling.', 'unknown status key');
SELECT pg_temp.refused(pg_temp.d() || '{"shipments": {"table": "djshop.shop_order"}}', 'unknown_role',
    'unknown role "shipments" in the shop binding',
    'The document has the key "shipments"; the keys allowed are products, carts, cart_items, orders, order_items, status_values, currency and version.',
    'Remove "shipments" or correct its spelling.', 'unknown role');
SELECT pg_temp.refused(jsonb_set(pg_temp.d(), '{carts,columns,owner}', '"user_id"'), 'unknown_column_name',
    'unknown logical name "owner" in role "carts"',
    'Role "carts" has the logical names id, user, locked, locked_at, created_at, checkout_session; "owner" is not one of them.',
    'Remove "owner" from "columns" of "carts" or correct its spelling.', 'unknown logical name');
SELECT pg_temp.refused(pg_temp.d() #- '{carts,columns,locked}', 'missing_column_name',
    'logical name "locked" of role "carts" is not mapped', 'Role "carts" needs a column for "locked" (of type boolean). There is 1 more problem;%',
    'Add "locked": "<column>" to "columns" of "carts".', 'missing required logical name');
SELECT pg_temp.refused(pg_temp.d() - 'order_items', 'missing_role',
    'role "order_items" is missing from the shop binding',
    'A binding maps the roles products, carts, cart_items, orders and order_items to tables; "order_items" is not there.',
    'Add "order_items": {"table": "<table>", "columns": {...}} to the document.', 'missing role');
SELECT pg_temp.refused(jsonb_set(pg_temp.d(), '{carts,columns,locked}', '1'), 'bad_json',
    'column of "carts.locked" is not a column name', 'Role "carts" maps "locked" to 1; it must be a non-empty string%',
    'Write "locked": "<column>" in "columns" of "carts".', 'a column name of the wrong JSON type');
SELECT pg_temp.refused('[]', 'bad_json', 'shop binding is not a JSON object',
    'The binding document is a JSON array; it must be an object%', 'Pass an object such as%', 'not an object');
SELECT pg_temp.refused(NULL, 'bad_json', 'shop binding is not a JSON object', 'The binding document is NULL;%',
    'Pass an object such as%', 'NULL document');
SELECT pg_temp.refused(jsonb_set(pg_temp.d(), '{version}', '2'), 'bad_json', 'unsupported binding document version',
    'The document''s "version" is 2; this extension reads version 1.', 'Leave "version" out or set it to 1.',
    'unknown document version');
ALTER TABLE djshop.shop_order ALTER COLUMN id DROP DEFAULT;
SELECT pg_temp.refused(pg_temp.d(), 'no_default', 'column djshop.shop_order.id for "orders.id" has no default',
    'The fulfilment inserts into djshop.shop_order without a value for "id" and lets the database choose it, but the column "id" (uuid) has no DEFAULT, identity or serial.',
    'Give the column a default, for example: ALTER TABLE djshop.shop_order ALTER COLUMN id SET DEFAULT pg_catalog.gen_random_uuid();',
    'orders.id without a default');
ALTER TABLE djshop.shop_order ALTER COLUMN id SET DEFAULT gen_random_uuid();
ALTER TABLE "Mini Shop".baskets ALTER COLUMN basket_ref DROP DEFAULT;
SELECT pg_temp.refused(pg_temp.m(), 'no_default', 'column "Mini Shop".baskets.basket_ref for "carts.id" has no default',
    '%the column "basket_ref" (text) has no DEFAULT, identity or serial.',
    'Give the column a default, for example: ALTER TABLE "Mini Shop".baskets ALTER COLUMN basket_ref SET DEFAULT pg_catalog.gen_random_uuid()::text;',
    'carts.id without a default (the fulfilment inserts carts)');
ALTER TABLE "Mini Shop".baskets ALTER COLUMN basket_ref SET DEFAULT gen_random_uuid()::text;
SELECT pg_temp.refused(jsonb_set(pg_temp.d(), '{currency}', '"USD"'), 'bad_currency', 'invalid currency "USD"',
    '"currency" is "USD"; it must be a lower-case three-letter ISO 4217 code, as Stripe writes it.',
    'Use for example "usd" or "eur".', 'upper-case currency');
SELECT pg_temp.refused(jsonb_set(pg_temp.d(), '{currency}', '840'), 'bad_currency', 'invalid currency 840',
    '"currency" is 840;%', 'Use for example "usd" or "eur".', 'numeric currency');
SELECT pg_temp.refused(pg_temp.d() - 'currency', 'missing_currency', 'the shop binding has no currency',
    'Neither "currency" nor the logical name "currency" of role "products" is given, so the currency of the prices is unknown.',
    'Add "currency": "<code>" (for example "usd"), or map "currency" in "columns" of "products".', 'no currency');
SELECT pg_temp.refused(jsonb_set(pg_temp.d(), '{orders,values,nickname}', '"x"'), 'bad_value',
    'column "nickname" of table djshop.shop_order does not exist',
    '"values" of role "orders" gives a constant to the column "nickname", which table djshop.shop_order does not have.',
    'Correct or remove "nickname" in "values" of "orders".', '"values" naming a missing column');
SELECT pg_temp.refused(jsonb_set(pg_temp.d(), '{orders,values,status}', '"x"'), 'bad_value',
    'column "status" of table djshop.shop_order is both mapped and given a constant',
    'Role "orders" maps "status" to the column "status", so the fulfilment writes it; "values" cannot give it a constant too.',
    'Remove "status" from "values" of "orders".', '"values" naming a mapped column');
SELECT pg_temp.refused(jsonb_set(pg_temp.d(), '{orders,values,is_gift}', '"maybe"'), 'bad_value',
    'value for column "is_gift" of table djshop.shop_order is not a valid boolean',
    '"values" of role "orders" gives the column "is_gift" the constant "maybe", which is not a valid boolean: %',
    'Give "is_gift" a constant of type boolean.', '"values" constant of the wrong type');
SELECT pg_temp.refused(jsonb_set(pg_temp.d(), '{orders,values,source}', '"a_marketing_campaign_name"'), 'bad_value',
    'value for column "source" of table djshop.shop_order is not a valid character varying(20)',
    '"values" of role "orders" gives the column "source" the constant "a_marketing_campaign_name", which is not a valid character varying(20): value too long for type character varying(20).',
    'Give "source" a constant of type character varying(20).', '"values" string longer than the column');
SELECT pg_temp.refused(jsonb_set(pg_temp.d(), '{orders,values,notes}', 'null'), 'bad_value',
    'value for column "notes" of role "orders" is not a constant',
    '"values" of role "orders" gives the column "notes" the JSON null; a constant is a string, a number or a boolean.',
    'Write "notes": <string, number or boolean> in "values" of "orders", or remove it.', '"values" constant null');
SELECT pg_temp.refused(jsonb_set(pg_temp.d(), '{carts,columns,created_at}', '"locked_at"'), 'duplicate_column',
    'column "locked_at" of table djshop.shop_cart is mapped twice',
    'Role "carts" maps both "locked_at" and "created_at" to the column "locked_at"; each logical name needs its own column. There is 1 more problem;%',
    'Map "created_at" to another column of djshop.shop_cart, or leave it out if it is optional.', 'one column mapped twice');
SELECT pg_temp.refused(jsonb_set(pg_temp.d(), '{products,colums}', '{}'), 'bad_json',
    'unknown key "colums" in role "products"', 'Role "products" has the key "colums"; a role has the keys%',
    'Remove "colums" from role "products" or correct its spelling.', 'unknown key in a role');
SELECT is((SELECT array_agg(code ORDER BY ord) FROM stripe_webhook.binding_problems(
               (pg_temp.d() - 'currency' || '{"zzz": 1}') #- '{orders,values}' #- '{products,columns,stock}')
               WITH ORDINALITY AS p(code, role, logical, message, detail, hint, ord)),
          ARRAY['missing_column_name', 'not_null_unmapped', 'unknown_role', 'missing_currency'],
          'binding_problems lists every problem in role order, then the top level');

-- Privileges of the extension owner (not of the caller): make a plain role
-- the owner for the rest of this transaction.
CREATE ROLE sw_test_owner NOLOGIN;
UPDATE pg_extension SET extowner = 'sw_test_owner'::regrole WHERE extname = 'stripe_webhook';
SELECT pg_temp.refused(pg_temp.d(), 'missing_privilege', 'the extension owner has no access to schema djshop',
    'The fulfilment runs as the extension owner "sw_test_owner", which needs USAGE on schema djshop to reach djshop.shop_product (role "products"). There are 12 more problems;%',
    'Run: GRANT USAGE ON SCHEMA djshop TO sw_test_owner;', 'owner without USAGE on the schema');
GRANT USAGE ON SCHEMA djshop TO sw_test_owner;
GRANT SELECT, UPDATE ON djshop.shop_product TO sw_test_owner;
GRANT SELECT, INSERT, UPDATE ON djshop.shop_cart TO sw_test_owner;
GRANT SELECT, INSERT ON djshop.shop_cartitem TO sw_test_owner;
GRANT SELECT ON djshop.shop_order TO sw_test_owner;
GRANT SELECT, INSERT ON djshop.shop_orderitem TO sw_test_owner;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA djshop TO sw_test_owner;
SELECT pg_temp.refused(pg_temp.d(), 'missing_privilege', 'the extension owner lacks privileges on table djshop.shop_order',
    'The fulfilment runs as the extension owner "sw_test_owner", which needs SELECT, INSERT, UPDATE on djshop.shop_order (role "orders"); it lacks INSERT, UPDATE.',
    'Run: GRANT INSERT, UPDATE ON TABLE djshop.shop_order TO sw_test_owner;', 'owner without INSERT, UPDATE on orders');
GRANT INSERT, UPDATE ON djshop.shop_order TO sw_test_owner;
SELECT is_empty($$SELECT * FROM stripe_webhook.binding_problems(pg_temp.d())$$,
                'with those privileges the plain owner role may be bound');
REVOKE USAGE ON ALL SEQUENCES IN SCHEMA djshop FROM sw_test_owner;
SELECT pg_temp.refused(pg_temp.d(), 'missing_privilege', 'the extension owner cannot use sequence djshop.shop_cart_id_seq',
    'Inserts into djshop.shop_cart (role "carts") take a default from sequence djshop.shop_cart_id_seq, and the extension owner "sw_test_owner" has no USAGE on it. There are 2 more problems;%',
    'Run: GRANT USAGE ON SEQUENCE djshop.shop_cart_id_seq TO sw_test_owner;', 'owner without USAGE on a serial''s sequence');
SELECT is((SELECT array_agg(hint ORDER BY hint) FROM stripe_webhook.binding_problems(pg_temp.d())),
          ARRAY['Run: GRANT USAGE ON SEQUENCE djshop.shop_cart_id_seq TO sw_test_owner;',
                'Run: GRANT USAGE ON SEQUENCE djshop.shop_cartitem_id_seq TO sw_test_owner;',
                'Run: GRANT USAGE ON SEQUENCE djshop.shop_orderitem_id_seq TO sw_test_owner;'],
          'the sequences behind the defaults of the tables the fulfilment inserts into, and only those');
GRANT USAGE ON ALL SEQUENCES IN SCHEMA djshop TO sw_test_owner;
REVOKE UPDATE ON djshop.shop_product FROM sw_test_owner;
GRANT UPDATE (stock_quantity, price, id) ON djshop.shop_product TO sw_test_owner;
SELECT is_empty($$SELECT * FROM stripe_webhook.binding_problems(pg_temp.d())$$,
                'column privileges on every mapped column are enough');
REVOKE UPDATE (price) ON djshop.shop_product FROM sw_test_owner;
SELECT is((SELECT message FROM stripe_webhook.binding_problems(pg_temp.d())),
          'the extension owner lacks privileges on table djshop.shop_product',
          'a mapped column without the privilege is a problem');
GRANT UPDATE (price) ON djshop.shop_product TO sw_test_owner;
-- That role, owning the extension's binding objects as it would after
-- CREATE EXTENSION, binds the shop itself (it is no superuser).
ALTER TABLE stripe_webhook.binding OWNER TO sw_test_owner;
ALTER SEQUENCE stripe_webhook.binding_version_seq OWNER TO sw_test_owner;
ALTER VIEW stripe_webhook.shop_binding OWNER TO sw_test_owner;
ALTER FUNCTION stripe_webhook.bind_shop(jsonb) OWNER TO sw_test_owner;
ALTER FUNCTION stripe_webhook.binding_problems(jsonb) OWNER TO sw_test_owner;
ALTER FUNCTION stripe_webhook.normalise_binding(jsonb) OWNER TO sw_test_owner;
ALTER FUNCTION stripe_webhook.currency_exponent(text) OWNER TO sw_test_owner;
GRANT USAGE ON SCHEMA stripe_webhook TO sw_test_owner;
GRANT SELECT ON docs TO sw_test_owner;
SET LOCAL ROLE sw_test_owner;
SELECT throws_ok($$SELECT stripe_webhook.bind_shop((SELECT doc FROM docs WHERE name = 'minimal'))$$, 'SW401',
                 'permission denied for schema "Mini Shop"',
                 'as the owner role: the minimal shop is refused (no USAGE on its schema)');
SELECT is((SELECT hint FROM stripe_webhook.binding_problems((SELECT doc FROM docs WHERE name = 'minimal')) LIMIT 1),
          'Run: GRANT USAGE ON SCHEMA "Mini Shop" TO sw_test_owner;', 'the hint names the GRANT to run');
SELECT is(stripe_webhook.bind_shop((SELECT doc FROM docs WHERE name = 'django')) -> 'products' ->> 'table',
          'djshop.shop_product', 'the extension owner, a plain role, binds the Django shop');
SELECT is((SELECT bound_by::text FROM stripe_webhook.shop_binding), 'sw_test_owner', 'bound_by is that role');
RESET ROLE;
ALTER TABLE stripe_webhook.binding OWNER TO postgres;
ALTER SEQUENCE stripe_webhook.binding_version_seq OWNER TO postgres;
ALTER VIEW stripe_webhook.shop_binding OWNER TO postgres;
ALTER FUNCTION stripe_webhook.bind_shop(jsonb) OWNER TO postgres;
ALTER FUNCTION stripe_webhook.binding_problems(jsonb) OWNER TO postgres;
ALTER FUNCTION stripe_webhook.normalise_binding(jsonb) OWNER TO postgres;
ALTER FUNCTION stripe_webhook.currency_exponent(text) OWNER TO postgres;
UPDATE pg_extension SET extowner = 'postgres'::regrole WHERE extname = 'stripe_webhook';

-- The caller: only the extension owner or a superuser binds.
CREATE ROLE sw_test_stranger NOLOGIN;
GRANT USAGE ON SCHEMA stripe_webhook TO sw_test_stranger;
SET LOCAL ROLE sw_test_stranger;
SELECT throws_ok($$SELECT stripe_webhook.bind_shop((SELECT doc FROM docs WHERE name = 'minimal'))$$, '42501', NULL,
                 'a role without EXECUTE cannot call bind_shop');
RESET ROLE;
GRANT EXECUTE ON FUNCTION stripe_webhook.bind_shop(jsonb), stripe_webhook.unbind_shop() TO sw_test_stranger;
GRANT SELECT ON docs TO sw_test_stranger;
CREATE TEMP TABLE before_stranger AS SELECT to_jsonb(b) AS row FROM stripe_webhook.shop_binding b;
SET LOCAL ROLE sw_test_stranger;
SELECT throws_ok($$SELECT stripe_webhook.bind_shop((SELECT doc FROM docs WHERE name = 'minimal'))$$, '42501',
                 'permission denied to change the shop binding',
                 'a role granted EXECUTE that is not the owner cannot bind (42501)');
SELECT throws_ok($$SELECT stripe_webhook.unbind_shop()$$, '42501', 'permission denied to change the shop binding',
                 'nor unbind');
RESET ROLE;
SELECT is((SELECT to_jsonb(b) FROM stripe_webhook.shop_binding b), (SELECT row FROM before_stranger),
          'the binding in force is unchanged');

---------------------------------------------------------------------------
-- unbind_shop: back to the built-in tables, with a new version.
---------------------------------------------------------------------------
CREATE TEMP TABLE v2 AS SELECT version FROM stripe_webhook.shop_binding;
SELECT is(stripe_webhook.unbind_shop(), stripe_webhook.builtin_binding(), 'unbind_shop returns the built-in document');
SELECT is((SELECT count(*)::integer FROM stripe_webhook.binding), 0, 'the binding row is gone');
SELECT is((SELECT builtin FROM stripe_webhook.shop_binding), true, 'the view shows the built-in tables');
SELECT is((SELECT document FROM stripe_webhook.shop_binding), stripe_webhook.builtin_binding(), 'and their document');
SELECT ok((SELECT version FROM stripe_webhook.shop_binding) > (SELECT version FROM v2), 'the version increased');

SELECT * FROM finish();
ROLLBACK;
