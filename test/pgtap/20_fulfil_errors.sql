-- Every bad input to stripe_fulfill_session: the SQLSTATE it raises (SW201
-- to SW207) and that nothing was written (orders, items, carts, cart items,
-- stock, recorded sessions all unchanged).
BEGIN;
SELECT plan(198);
\ir ../lib/fulfil_setup.sql

-- rejects(session, sqlstate, what): two tests, the error and "nothing written"
CREATE FUNCTION pg_temp.rejects(s jsonb, code text, what text) RETURNS SETOF text
LANGUAGE plpgsql AS $$
DECLARE
    before text := pg_temp.shop_state();
BEGIN
    RETURN NEXT throws_ok(format('SELECT stripe_webhook.stripe_fulfill_session(%L::jsonb)', s),
                          code, NULL, what || ': ' || code);
    RETURN NEXT is(pg_temp.shop_state(), before, what || ': nothing written');
END $$;

-- err(session): the error's message, detail and hint, for checking the text
CREATE FUNCTION pg_temp.err(s jsonb) RETURNS text[]
LANGUAGE plpgsql AS $$
DECLARE
    m text; d text; h text;
BEGIN
    PERFORM stripe_webhook.stripe_fulfill_session(s);
    RETURN NULL;
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS m = MESSAGE_TEXT, d = PG_EXCEPTION_DETAIL, h = PG_EXCEPTION_HINT;
    RETURN ARRAY[m, d, h];
END $$;

SELECT :'paid'::jsonb AS p \gset
-- a cart with no items, and the paid fixture's cart kept intact for the others
INSERT INTO stripe_webhook.carts (id, user_id) VALUES (2001, '900008');

-- the value is not a Checkout Session at all
SELECT pg_temp.shop_state() AS s0 \gset
SELECT throws_ok('SELECT stripe_webhook.stripe_fulfill_session(NULL)', 'SW201', 'checkout session must not be null',
                 'NULL: SW201');
SELECT is(pg_temp.shop_state(), :'s0', 'NULL: nothing written');
SELECT * FROM pg_temp.rejects('[]', 'SW201', 'a JSON array');
SELECT * FROM pg_temp.rejects('"cs_test_x"', 'SW201', 'a JSON string');
SELECT * FROM pg_temp.rejects('null', 'SW201', 'a JSON null');
SELECT * FROM pg_temp.rejects('42', 'SW201', 'a JSON number');
SELECT * FROM pg_temp.rejects('{}', 'SW201', 'an empty object');
SELECT * FROM pg_temp.rejects(:'ev_legacy'::jsonb, 'SW201', 'the whole event instead of data.object');
SELECT * FROM pg_temp.rejects(:'p'::jsonb - 'object', 'SW201', 'object missing');
SELECT * FROM pg_temp.rejects(jsonb_set(:'p', '{object}', '123'), 'SW201', 'object a number');
SELECT * FROM pg_temp.rejects(jsonb_set(:'p', '{object}', '"checkout.session.x"'), 'SW201', 'object another type');
SELECT * FROM pg_temp.rejects(jsonb_set(:'p', '{object}', '"payment_intent"'), 'SW201', 'object payment_intent');

-- the session id
SELECT * FROM pg_temp.rejects(:'p'::jsonb - 'id', 'SW207', 'id missing');
SELECT * FROM pg_temp.rejects(jsonb_set(:'p', '{id}', 'null'), 'SW207', 'id null');
SELECT * FROM pg_temp.rejects(jsonb_set(:'p', '{id}', '12345'), 'SW207', 'id a number');
SELECT * FROM pg_temp.rejects(jsonb_set(:'p', '{id}', '""'), 'SW207', 'id empty');
SELECT * FROM pg_temp.rejects(jsonb_set(:'p', '{id}', '"pi_123"'), 'SW207', 'id not cs_');
SELECT * FROM pg_temp.rejects(jsonb_set(:'p', '{id}', '"cs_test bad"'), 'SW207', 'id with a space');
SELECT * FROM pg_temp.rejects(jsonb_set(:'p', '{id}', '"cs_test_x'';--"'), 'SW207', 'id with quotes');
SELECT * FROM pg_temp.rejects(jsonb_set(:'p', '{id}', to_jsonb('cs_' || repeat('a', 300))), 'SW207', 'id too long');

-- metadata shape
SELECT * FROM pg_temp.rejects(:'p'::jsonb - 'metadata', 'SW202', 'metadata missing');
SELECT * FROM pg_temp.rejects(jsonb_set(:'p', '{metadata}', 'null'), 'SW202', 'metadata null');
SELECT * FROM pg_temp.rejects(jsonb_set(:'p', '{metadata}', '{}'), 'SW202', 'metadata empty');
SELECT * FROM pg_temp.rejects(jsonb_set(:'p', '{metadata}', '["42", "1337"]'), 'SW201', 'metadata an array');
SELECT * FROM pg_temp.rejects(jsonb_set(:'p', '{metadata}', '"user_id=42"'), 'SW201', 'metadata a string');
SELECT * FROM pg_temp.rejects(:'p'::jsonb #- '{metadata,user_id}', 'SW202', 'metadata.user_id missing');
SELECT * FROM pg_temp.rejects(:'p'::jsonb #- '{metadata,cart_id}', 'SW202', 'metadata.cart_id missing');
SELECT * FROM pg_temp.rejects(jsonb_set(:'p', '{metadata,user_id}', 'null'), 'SW202', 'metadata.user_id null');
SELECT * FROM pg_temp.rejects(jsonb_set(:'p', '{metadata,cart_id}', 'null'), 'SW202', 'metadata.cart_id null');

-- metadata values
SELECT * FROM pg_temp.rejects(jsonb_set(:'p', '{metadata,user_id}', '42'), 'SW203', 'user_id a number');
SELECT * FROM pg_temp.rejects(jsonb_set(:'p', '{metadata,user_id}', '{"id": 42}'), 'SW203', 'user_id an object');
SELECT * FROM pg_temp.rejects(jsonb_set(:'p', '{metadata,user_id}', '""'), 'SW203', 'user_id empty');
SELECT * FROM pg_temp.rejects(jsonb_set(:'p', '{metadata,user_id}', to_jsonb(repeat('u', 501))), 'SW203', 'user_id too long');
SELECT * FROM pg_temp.rejects(jsonb_set(:'p', '{metadata,user_id}', '"4\n2"'), 'SW203', 'user_id with a newline');
SELECT * FROM pg_temp.rejects(jsonb_set(:'p', '{metadata,cart_id}', '1337'), 'SW203', 'cart_id a number');
SELECT * FROM pg_temp.rejects(jsonb_set(:'p', '{metadata,cart_id}', '["1337"]'), 'SW203', 'cart_id an array');
-- (where the shop's cart ids are text, any string names a cart: one that does not exist, SW204)
SELECT CASE WHEN :'integer_cart_ids'::boolean THEN 'SW203' ELSE 'SW204' END AS bad_cart_code \gset
SELECT * FROM pg_temp.rejects(jsonb_set(:'p', '{metadata,cart_id}', '"abc"'), :'bad_cart_code', 'cart_id non-numeric');
SELECT * FROM pg_temp.rejects(jsonb_set(:'p', '{metadata,cart_id}', '"12abc"'), :'bad_cart_code', 'cart_id digits then letters');
SELECT * FROM pg_temp.rejects(jsonb_set(:'p', '{metadata,cart_id}', '""'), 'SW203', 'cart_id empty');
SELECT * FROM pg_temp.rejects(jsonb_set(:'p', '{metadata,cart_id}', '"-5"'), :'bad_cart_code', 'cart_id negative');
SELECT * FROM pg_temp.rejects(jsonb_set(:'p', '{metadata,cart_id}', '"0"'), :'bad_cart_code', 'cart_id zero');
SELECT * FROM pg_temp.rejects(jsonb_set(:'p', '{metadata,cart_id}', '" 1337"'), :'bad_cart_code', 'cart_id with a space');
SELECT * FROM pg_temp.rejects(jsonb_set(:'p', '{metadata,cart_id}', '"+1337"'), :'bad_cart_code', 'cart_id with a plus sign');
SELECT * FROM pg_temp.rejects(jsonb_set(:'p', '{metadata,cart_id}', '"13.37"'), :'bad_cart_code', 'cart_id a fraction');
SELECT * FROM pg_temp.rejects(jsonb_set(:'p', '{metadata,cart_id}', '"1e3"'), :'bad_cart_code', 'cart_id in exponent form');
SELECT * FROM pg_temp.rejects(jsonb_set(:'p', '{metadata,cart_id}', '"9223372036854775808"'), :'bad_cart_code', 'cart_id just over bigint');
SELECT * FROM pg_temp.rejects(jsonb_set(:'p', '{metadata,cart_id}', '"99999999999999999999999999"'), :'bad_cart_code', 'cart_id far over bigint');

-- the cart
SELECT * FROM pg_temp.rejects(jsonb_set(:'p', '{metadata,cart_id}', '"987654321"'), 'SW204', 'unknown cart');
SELECT * FROM pg_temp.rejects(jsonb_set(:'p', '{metadata,cart_id}', '"9223372036854775807"'), 'SW204', 'largest bigint cart, unknown');
SELECT * FROM pg_temp.rejects(jsonb_set(:'p', '{metadata,user_id}', '"43"'), 'SW205', 'another user''s cart');
SELECT * FROM pg_temp.rejects(pg_temp.sess(:'p', 'cs_test_empty', '900008', 2001), 'SW206', 'empty cart');

-- amounts
SELECT * FROM pg_temp.rejects(jsonb_set(:'p', '{amount_subtotal}', '"5500"'), 'SW207', 'amount_subtotal a string');
SELECT * FROM pg_temp.rejects(jsonb_set(:'p', '{amount_subtotal}', '-1'), 'SW207', 'amount_subtotal negative');
SELECT * FROM pg_temp.rejects(jsonb_set(:'p', '{amount_subtotal}', '5500.5'), 'SW207', 'amount_subtotal a fraction');
SELECT * FROM pg_temp.rejects(jsonb_set(:'p', '{amount_subtotal}', '5500.0'), 'SW207', 'amount_subtotal with decimals');
SELECT * FROM pg_temp.rejects(jsonb_set(:'p', '{amount_subtotal}', '1e20'), 'SW207', 'amount_subtotal overflowing (1e20)');
SELECT * FROM pg_temp.rejects(jsonb_set(:'p', '{amount_subtotal}', '9223372036854775808'), 'SW207', 'amount_subtotal just over bigint');
SELECT * FROM pg_temp.rejects(:'p'::jsonb - 'amount_subtotal', 'SW207', 'amount_subtotal missing');
SELECT * FROM pg_temp.rejects(jsonb_set(:'p', '{amount_subtotal}', 'null'), 'SW207', 'amount_subtotal null');
SELECT * FROM pg_temp.rejects(jsonb_set(:'p', '{amount_total}', '"6000"'), 'SW207', 'amount_total a string');
SELECT * FROM pg_temp.rejects(jsonb_set(:'p', '{amount_total}', 'true'), 'SW207', 'amount_total a boolean');
SELECT * FROM pg_temp.rejects(jsonb_set(:'p', '{amount_total}', '{"value": 6000}'), 'SW207', 'amount_total an object');
SELECT * FROM pg_temp.rejects(jsonb_set(:'p', '{amount_total}', '123456789012345678901234567890'), 'SW207', 'amount_total overflowing');
SELECT * FROM pg_temp.rejects(jsonb_set(:'p', '{amount_total}', '-0.5'), 'SW207', 'amount_total negative fraction');

-- currency and payment fields
SELECT * FROM pg_temp.rejects(:'p'::jsonb - 'currency', 'SW207', 'currency missing');
SELECT * FROM pg_temp.rejects(jsonb_set(:'p', '{currency}', '840'), 'SW207', 'currency a number');
SELECT * FROM pg_temp.rejects(jsonb_set(:'p', '{currency}', '"us"'), 'SW207', 'currency too short');
SELECT * FROM pg_temp.rejects(jsonb_set(:'p', '{currency}', '"usdd"'), 'SW207', 'currency too long');
SELECT * FROM pg_temp.rejects(jsonb_set(:'p', '{currency}', '"u$d"'), 'SW207', 'currency not letters');
SELECT * FROM pg_temp.rejects(:'p'::jsonb - 'payment_status', 'SW207', 'payment_status missing');
SELECT * FROM pg_temp.rejects(jsonb_set(:'p', '{payment_status}', '"refunded"'), 'SW207', 'payment_status unknown');
SELECT * FROM pg_temp.rejects(jsonb_set(:'p', '{payment_status}', 'true'), 'SW207', 'payment_status a boolean');
SELECT * FROM pg_temp.rejects(jsonb_set(:'p', '{payment_intent}', '123'), 'SW207', 'payment_intent a number');
SELECT * FROM pg_temp.rejects(jsonb_set(:'p', '{payment_intent}', '"pi bad"'), 'SW207', 'payment_intent malformed');
SELECT * FROM pg_temp.rejects(jsonb_set(:'p', '{payment_intent}', '{"id": "pi_1"}'), 'SW207', 'payment_intent expanded to an object');

-- customer and shipping shapes
SELECT * FROM pg_temp.rejects(jsonb_set(:'p', '{customer_details}', '"jenny"'), 'SW207', 'customer_details a string');
SELECT * FROM pg_temp.rejects(jsonb_set(:'p', '{customer_details,email}', '42'), 'SW207', 'customer_details.email a number');
SELECT * FROM pg_temp.rejects(jsonb_set(:'p', '{customer_email}', '[]'), 'SW207', 'customer_email an array');
SELECT * FROM pg_temp.rejects(jsonb_set(:'p', '{collected_information}', '[]'), 'SW207', 'collected_information an array');
SELECT * FROM pg_temp.rejects(jsonb_set(:'p', '{collected_information,shipping_details}', '"x"'), 'SW207', 'shipping_details a string');
SELECT * FROM pg_temp.rejects(jsonb_set(:'p', '{collected_information,shipping_details,address}', '"510 Townsend"'), 'SW207', 'shipping address a string');
SELECT * FROM pg_temp.rejects(jsonb_set(:'p', '{collected_information,shipping_details,address,line1}', '510'), 'SW207', 'shipping line1 a number');
SELECT * FROM pg_temp.rejects(jsonb_set(:'p', '{collected_information,shipping_details,address,country}', '["US"]'), 'SW207', 'shipping country an array');
SELECT * FROM pg_temp.rejects(jsonb_set(:'p', '{collected_information,shipping_details,name}', '{"first": "J"}'), 'SW207', 'shipping name an object');
SELECT * FROM pg_temp.rejects(jsonb_set((:'p'::jsonb) - 'collected_information', '{shipping_details}', '[1]'), 'SW207', 'legacy shipping_details an array');
SELECT * FROM pg_temp.rejects(jsonb_set(jsonb_set(:'p', '{collected_information}', 'null'), '{customer_details,address,city}', 'false'),
                              'SW207', 'fallback address city a boolean');

-- Adaptive Pricing shapes
SELECT * FROM pg_temp.rejects(jsonb_set(:'p', '{currency_conversion}', '"0.92"'), 'SW207', 'currency_conversion a string');
SELECT * FROM pg_temp.rejects(jsonb_set(:'p', '{currency_conversion}', '{"amount_subtotal": "5500", "amount_total": 6000, "source_currency": "usd"}'),
                              'SW207', 'currency_conversion.amount_subtotal a string');
SELECT * FROM pg_temp.rejects(jsonb_set(:'p', '{currency_conversion}', '{"amount_subtotal": 5500, "amount_total": 1e30, "source_currency": "usd"}'),
                              'SW207', 'currency_conversion.amount_total overflowing');
SELECT * FROM pg_temp.rejects(jsonb_set(:'p', '{currency_conversion}', '{"amount_subtotal": -5500, "amount_total": 6000, "source_currency": "usd"}'),
                              'SW207', 'currency_conversion.amount_subtotal negative');
SELECT * FROM pg_temp.rejects(jsonb_set(:'p', '{currency_conversion}', '{"amount_subtotal": 5500, "amount_total": 6000}'),
                              'SW207', 'currency_conversion.source_currency missing');

-- the messages say what is wrong, name the session and ids, and say what to check
SELECT is((pg_temp.err(jsonb_set(:'p', '{metadata,cart_id}', '"987654321"')))[1], 'cart does not exist',
          'SW204 message');
SELECT is((pg_temp.err(jsonb_set(:'p', '{metadata,cart_id}', '"987654321"')))[2],
          'Checkout session "cs_test_a1YS1URlnyQCN5fUUduORoQ7Pw41PJqDWkIVQCpJPqkfIhd6tVY8XB1OLY" names cart 987654321 of user "42", which is not in ' || :'carts_table_name' || '.',
          'SW204 detail names the session, the cart and the user');
SELECT matches((pg_temp.err(jsonb_set(:'p', '{metadata,cart_id}', '"987654321"')))[3], 'metadata.*nothing was changed',
               'SW204 hint says what to check');
SELECT is((pg_temp.err(jsonb_set(:'p', '{metadata,user_id}', '"43"')))[2],
          'Checkout session "cs_test_a1YS1URlnyQCN5fUUduORoQ7Pw41PJqDWkIVQCpJPqkfIhd6tVY8XB1OLY" names cart 1337 and user "43", but the cart belongs to user "42".',
          'SW205 detail names both users');
SELECT is((pg_temp.err(jsonb_set(:'p', '{metadata,cart_id}', '"12abc"')))[2],
          CASE WHEN :'integer_cart_ids'::boolean
               THEN 'Checkout session "cs_test_a1YS1URlnyQCN5fUUduORoQ7Pw41PJqDWkIVQCpJPqkfIhd6tVY8XB1OLY" (user "42") has metadata.cart_id "12abc"; a decimal number from 1 to 9223372036854775807 is expected.'
               ELSE 'Checkout session "cs_test_a1YS1URlnyQCN5fUUduORoQ7Pw41PJqDWkIVQCpJPqkfIhd6tVY8XB1OLY" names cart 12abc of user "42", which is not in ' || :'carts_table_name' || '.' END,
          'SW203 detail shows the bad value');
SELECT is((pg_temp.err(:'ev_legacy'::jsonb))[3], 'Pass event.data.object of a checkout.session.* event, not the event itself.',
          'SW201 hint spots a whole event passed by mistake');
SELECT is((pg_temp.err(jsonb_set(:'p', '{amount_subtotal}', '"5500"')))[2],
          'In checkout session "cs_test_a1YS1URlnyQCN5fUUduORoQ7Pw41PJqDWkIVQCpJPqkfIhd6tVY8XB1OLY" (cart 1337, user "42"), amount_subtotal must be an integer number of minor units, not string.',
          'SW207 detail names the field and the problem');
SELECT is((pg_temp.err(jsonb_set(:'p', '{collected_information,shipping_details,address,line1}', '510')))[2],
          'In checkout session "cs_test_a1YS1URlnyQCN5fUUduORoQ7Pw41PJqDWkIVQCpJPqkfIhd6tVY8XB1OLY" (cart 1337, user "42"), collected_information.shipping_details.address.line1 must be a string or null, not number.',
          'SW207 detail gives the path of a nested field');
-- (a shop whose user ids are integers refuses the user id itself, SW203)
SELECT is((pg_temp.err(pg_temp.sess(:'p', 'cs_test_x', repeat('x', 400), 1337)))[2],
          CASE WHEN (SELECT document->'carts'->'types'->>'user' IN ('integer', 'bigint', 'smallint')
                       FROM stripe_webhook.shop_binding)
               THEN 'Checkout session "cs_test_x" (user "' || repeat('x', 64) || '...") has metadata.user_id "'
                    || repeat('x', 64) || '..."; a decimal number from 1 to 2147483647 is expected.'
               ELSE 'Checkout session "cs_test_x" names cart 1337 and user "' || repeat('x', 64)
                    || '...", but the cart belongs to user "42".' END,
          'long values are shortened in messages');
SELECT is((pg_temp.err(jsonb_set(:'p', '{metadata,user_id}', '"a\u0001b"')))[2],
          'In checkout session "cs_test_a1YS1URlnyQCN5fUUduORoQ7Pw41PJqDWkIVQCpJPqkfIhd6tVY8XB1OLY", metadata.user_id is "a?b".',
          'control characters are masked in messages');
SELECT ok((SELECT bool_and(e IS NOT NULL AND e[2] !~ 'Townsend|jenny') FROM
             (SELECT pg_temp.err(jsonb_set(:'p', '{amount_total}', v)) AS e
                FROM unnest(ARRAY['"x"', '-1', '1.5']::jsonb[]) v) t),
          'error details never carry customer data from the payload');

-- carts inserted with explicit ids, the id sequence left behind them: the
-- user's new cart would take an id in use.  A clear 23505, nothing written,
-- and the statement its hint gives fixes it.
-- (each attempt takes an id from the sequence, so it is set back before each)
CREATE FUNCTION pg_temp.cart_seq_behind() RETURNS bigint LANGUAGE sql AS
$$ SELECT pg_catalog.setval(pg_catalog.pg_get_serial_sequence(document->'carts'->>'table', document->'carts'->'columns'->>'id'), 1336)
     FROM stripe_webhook.shop_binding $$;
SELECT pg_temp.cart_seq_behind() AS seq \gset
SELECT * FROM pg_temp.rejects(:'p', '23505', 'new cart id already taken (sequence behind explicit ids)');
SELECT pg_temp.cart_seq_behind() AS seq \gset
SELECT pg_temp.err(:'p') AS e \gset
SELECT is((:'e'::text[])[1], 'could not create the user''s new active cart: its id is already taken',
          '23505 on carts_pkey says what could not be done');
SELECT is((:'e'::text[])[2],
          'Key (' || :'carts_id' || ')=(1337) already exists. The id sequence of ' || :'carts_table_name' || ' lags behind ids that were inserted explicitly.',
          '23505 detail names the id and the cause');
SELECT matches((:'e'::text[])[3], '^Advance it: SELECT pg_catalog.setval\(',
               '23505 hint gives the statement that fixes it');
SELECT pg_catalog.setval(pg_catalog.pg_get_serial_sequence(:'carts_table', :'carts_id'), max(id))
  FROM stripe_webhook.carts \gset

-- still nothing written, and the good session still works afterwards
SELECT is(pg_temp.shop_state(), :'s0', 'after all the bad inputs nothing was written');
SELECT isnt(stripe_webhook.stripe_fulfill_session(:'p'), NULL, 'the good session is fulfilled afterwards');

SELECT * FROM finish();
ROLLBACK;
