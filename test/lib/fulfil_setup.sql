-- test/lib/fulfil_setup.sql: shared setup for test/pgtap/20_fulfil_*.sql.
-- Include it with \ir ../lib/fulfil_setup.sql right after BEGIN; everything
-- it creates is rolled back with the test's transaction.
--
-- It gives:
--   psql variables :'paid', :'unpaid', :'expired' (bare sessions) and
--   :'ev_legacy', :'ev_succeeded', :'ev_failed' (events; use ->'data'->'object')
--   products 101..104 and carts 1337 (user 42), 1338 (user 43), 1339 (user 44),
--   each with Mug x2 + Shirt x1 = 5500 usd, matching the fixtures
--   pg_temp.new_cart(user_id)              another cart like those, returns its id
--   pg_temp.sess(base, id, user_id, cart)  base session with id and metadata replaced
--   pg_temp.shop_state()                   one text summarising every shop table,
--                                          to assert that nothing was written
--   psql variables :'carts_table', :'carts_id': the carts table in force
--   and its id column (stripe_webhook.carts and id, or a bound shop's);
--   :'carts_table_name' as messages name it (schema.name, unquoted);
--   :integer_cart_ids: whether cart ids are integers (else text or uuid)
--   pg_temp.holds(logical, ...)            whether the orders table in force has
--                                          a column for each of these logical
--                                          names (a bound shop may have none)
--   pg_temp.order_status(order_id)         the order's status
--   pg_temp.invariant_violations()         test/lib/invariants.sql: one row per
--                                          violated shop invariant (none: all hold);
--                                          its stock invariant compares with
--                                          sw_initial_stock, the stock right after
--                                          this set-up (a file that adds products
--                                          or sets stock by hand keeps it in step
--                                          or leaves that invariant out)
--   pg_temp.every_table()                  every ordinary table of the database
--                                          (outside the catalogs and temp schemas):
--                                          row count and a digest of each row's
--                                          ctid and content, so that any write, even
--                                          one that leaves the values as they were,
--                                          changes it

\set paid `cat test/fixtures/checkout_session.completed.paid.json`
\set unpaid `cat test/fixtures/checkout_session.completed.unpaid_async.json`
\set expired `cat test/fixtures/checkout_session.expired.json`
\set ev_legacy `cat test/fixtures/event.checkout.session.completed.legacy_acacia.json`
\set ev_succeeded `cat test/fixtures/event.checkout.session.async_payment_succeeded.json`
\set ev_failed `cat test/fixtures/event.checkout.session.async_payment_failed.json`
\set sw_invariants `cat test/lib/invariants.sql`

SELECT document->'carts'->>'table' AS carts_table, document->'carts'->'columns'->>'id' AS carts_id,
       n.nspname || '.' || c.relname AS carts_table_name,
       document->'carts'->'types'->>'id' IN ('smallint', 'integer', 'bigint') AS integer_cart_ids
  FROM stripe_webhook.shop_binding
  JOIN pg_catalog.pg_class c ON c.oid = (document->'carts'->>'table')::regclass
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \gset

-- Flags raise WARNINGs; the tests assert the rows instead.
SET LOCAL client_min_messages = error;

INSERT INTO stripe_webhook.products (id, name, price_amount, currency, stock) VALUES
    (101, 'Mug', 1500, 'usd', 100),
    (102, 'Shirt', 2500, 'usd', 50),
    (103, 'Sticker', 500, 'usd', 2),
    (104, 'Poster', 2000, 'eur', 5);

CREATE TEMP TABLE sw_initial_stock AS SELECT id AS product_id, stock FROM stripe_webhook.products;

INSERT INTO stripe_webhook.carts (id, user_id) VALUES (1337, '42'), (1338, '43'), (1339, '44');
INSERT INTO stripe_webhook.cart_items (cart_id, product_id, quantity) VALUES
    (1337, 101, 2), (1337, 102, 1),
    (1338, 101, 2), (1338, 102, 1),
    (1339, 101, 2), (1339, 102, 1);

CREATE FUNCTION pg_temp.new_cart(p_user text, p_locked boolean DEFAULT false) RETURNS bigint
LANGUAGE sql AS $$
    WITH c AS (
        INSERT INTO stripe_webhook.carts (user_id, locked, locked_at)
        VALUES (p_user, p_locked, CASE WHEN p_locked THEN pg_catalog.now() END)
        RETURNING id
    ), i AS (
        INSERT INTO stripe_webhook.cart_items (cart_id, product_id, quantity)
        SELECT c.id, v.p, v.q FROM c, (VALUES (101, 2), (102, 1)) AS v(p, q)
    )
    SELECT id FROM c
$$;

CREATE FUNCTION pg_temp.holds(VARIADIC logical text[]) RETURNS boolean
LANGUAGE sql AS $$
    SELECT builtin OR document->'orders'->'columns' ?& logical FROM stripe_webhook.shop_binding
$$;

CREATE FUNCTION pg_temp.sess(base jsonb, p_id text, p_user text, p_cart bigint) RETURNS jsonb
LANGUAGE sql AS $$
    SELECT pg_catalog.jsonb_set(
               pg_catalog.jsonb_set(base, '{id}', pg_catalog.to_jsonb(p_id)),
               '{metadata}',
               pg_catalog.jsonb_build_object('user_id', p_user, 'cart_id', p_cart::text))
$$;

CREATE FUNCTION pg_temp.shop_state() RETURNS text
LANGUAGE sql AS $$
    SELECT pg_catalog.concat_ws(' | ',
        'orders=' || (SELECT pg_catalog.count(*) FROM stripe_webhook.orders),
        'order_items=' || (SELECT pg_catalog.count(*) FROM stripe_webhook.order_items),
        'carts=' || (SELECT pg_catalog.string_agg(id || ':' || user_id || ':' || locked || ':' ||
                                                   COALESCE(checkout_session_id, '-'), ',' ORDER BY id)
                     FROM stripe_webhook.carts),
        'cart_items=' || (SELECT pg_catalog.string_agg(cart_id || ':' || product_id || 'x' || quantity, ','
                                                        ORDER BY cart_id, product_id)
                          FROM stripe_webhook.cart_items),
        'stock=' || (SELECT pg_catalog.string_agg(id || ':' || stock, ',' ORDER BY id) FROM stripe_webhook.products),
        'sessions=' || (SELECT pg_catalog.count(*) FROM stripe_webhook.checkout_sessions WHERE outcome IS NOT NULL),
        'order_rows=' || (SELECT pg_catalog.md5(COALESCE(pg_catalog.string_agg(o::text, ',' ORDER BY o.id), ''))
                          FROM stripe_webhook.orders o))
$$;

CREATE FUNCTION pg_temp.order_status(p_order uuid) RETURNS text
LANGUAGE sql AS $$
    SELECT o.status FROM stripe_webhook.orders o WHERE o.id = p_order
$$;

CREATE FUNCTION pg_temp.every_table() RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    t regclass;
    d text;
    result jsonb := '{}';
BEGIN
    FOR t IN
        SELECT c.oid::regclass
          FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
         WHERE c.relkind = 'r'
           AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
           AND n.nspname !~ '^pg_(toast_)?temp_'
         ORDER BY 1::text
    LOOP
        EXECUTE pg_catalog.format(
            'SELECT pg_catalog.count(*) || '' rows '' || pg_catalog.md5(COALESCE(pg_catalog.string_agg('
            '    x.ctid::text || '':'' || x::text, '','' ORDER BY x.ctid), '''')) FROM %s x', t)
            INTO d;
        result := result || pg_catalog.jsonb_build_object(t::text, d);
    END LOOP;
    RETURN result;
END
$$;

CREATE TEMP TABLE sw_invariants_query AS SELECT pg_catalog.rtrim(:'sw_invariants', E'; \n') AS q;
CREATE FUNCTION pg_temp.invariant_violations() RETURNS TABLE (invariant text, detail text)
LANGUAGE plpgsql AS $$
BEGIN
    RETURN QUERY EXECUTE (SELECT q.q FROM sw_invariants_query q);
END
$$;
