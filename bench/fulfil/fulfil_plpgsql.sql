-- bench/fulfil/fulfil_plpgsql.sql: stripe_fulfill_session written in
-- PL/pgSQL, as a shop would write it without the extension's C code.  The
-- same steps, checks and statements as src/fulfil.c (validation with the same
-- SQLSTATEs, cart lock, idempotency, duplicate payment and recorded-session
-- review orders, product locks in ascending id order, shortfall, money
-- check, set-based inserts from arrays, cart lock and new active cart); it
-- runs against the extension's tables.  Used by bench/fulfil/run.sh as the
-- comparison point, and correct enough to be used.

CREATE SCHEMA IF NOT EXISTS stripe_bench;

CREATE OR REPLACE FUNCTION stripe_bench.fulfil_session_plpgsql(session jsonb)
RETURNS uuid
LANGUAGE plpgsql VOLATILE
AS $fn$
DECLARE
    v_id          text;
    v_meta        jsonb;
    v_user        text;
    v_cart_text   text;
    v_cart        bigint;
    v_pstatus     text;
    v_paid        boolean;
    v_intent      text;
    v_currency    text;
    v_subtotal    bigint;
    v_total       bigint;
    v_conv        jsonb;
    v_customer    jsonb;
    v_email       text;
    v_ship        jsonb;
    v_addr        jsonb;
    v_cart_owner  text;
    v_cart_locked boolean;
    v_cart_sess   text;
    v_existing    uuid;
    v_recorded    text;
    v_take_stock  boolean := true;
    v_reasons     text[] := '{}';
    v_short       text[] := '{}';
    v_item        record;
    v_products    bigint[] := '{}';
    v_qty         integer[] := '{}';
    v_prices      bigint[] := '{}';
    v_shortfalls  integer[] := '{}';
    v_taken       integer[] := '{}';
    v_take        integer;
    v_sum         numeric := 0;
    v_cart_cur    text;
    v_mixed       boolean := false;
    v_status      text;
    v_order       uuid;
    v_new_cart    bigint;
    v_amount      jsonb;
BEGIN
    -- 1. validate
    IF session IS NULL OR jsonb_typeof(session) <> 'object' THEN
        RAISE EXCEPTION 'checkout session must be a JSON object' USING ERRCODE = 'SW201';
    END IF;
    IF session->'object' IS DISTINCT FROM '"checkout.session"'::jsonb THEN
        RAISE EXCEPTION 'object is not a checkout session' USING ERRCODE = 'SW201';
    END IF;
    IF jsonb_typeof(session->'id') IS DISTINCT FROM 'string' THEN
        RAISE EXCEPTION 'checkout session has no id' USING ERRCODE = 'SW207';
    END IF;
    v_id := session->>'id';
    IF v_id !~ '^cs_[A-Za-z0-9_]{1,252}$' THEN
        RAISE EXCEPTION 'checkout session id is malformed' USING ERRCODE = 'SW207';
    END IF;
    v_meta := session->'metadata';
    IF v_meta IS NULL OR v_meta = 'null'::jsonb THEN
        RAISE EXCEPTION 'checkout session has no metadata' USING ERRCODE = 'SW202',
            DETAIL = format('Checkout session "%s" carries no metadata.', v_id);
    END IF;
    IF jsonb_typeof(v_meta) <> 'object' THEN
        RAISE EXCEPTION 'metadata of checkout session is not a JSON object' USING ERRCODE = 'SW201';
    END IF;
    IF v_meta->'user_id' IS NULL OR v_meta->'user_id' = 'null'::jsonb THEN
        RAISE EXCEPTION 'checkout session has no metadata.user_id' USING ERRCODE = 'SW202';
    END IF;
    IF v_meta->'cart_id' IS NULL OR v_meta->'cart_id' = 'null'::jsonb THEN
        RAISE EXCEPTION 'checkout session has no metadata.cart_id' USING ERRCODE = 'SW202';
    END IF;
    IF jsonb_typeof(v_meta->'user_id') <> 'string' OR jsonb_typeof(v_meta->'cart_id') <> 'string' THEN
        RAISE EXCEPTION 'metadata of checkout session is not a string' USING ERRCODE = 'SW203';
    END IF;
    v_user := v_meta->>'user_id';
    IF length(v_user) NOT BETWEEN 1 AND 500 OR v_user ~ '[[:cntrl:]]' THEN
        RAISE EXCEPTION 'metadata.user_id of checkout session is malformed' USING ERRCODE = 'SW203';
    END IF;
    v_cart_text := v_meta->>'cart_id';
    IF v_cart_text !~ '^[0-9]{1,19}$' OR v_cart_text::numeric > 9223372036854775807 OR v_cart_text::numeric = 0 THEN
        RAISE EXCEPTION 'metadata.cart_id of checkout session is not a valid cart id' USING ERRCODE = 'SW203',
            DETAIL = format('Checkout session "%s" has metadata.cart_id "%s".', v_id, left(v_cart_text, 64));
    END IF;
    v_cart := v_cart_text::bigint;

    v_pstatus := session->>'payment_status';
    IF jsonb_typeof(session->'payment_status') IS DISTINCT FROM 'string'
       OR v_pstatus NOT IN ('paid', 'unpaid', 'no_payment_required') THEN
        RAISE EXCEPTION 'invalid payment_status in checkout session' USING ERRCODE = 'SW207';
    END IF;
    v_paid := v_pstatus <> 'unpaid';
    IF session->'payment_intent' IS NOT NULL AND session->'payment_intent' <> 'null'::jsonb THEN
        IF jsonb_typeof(session->'payment_intent') <> 'string'
           OR session->>'payment_intent' !~ '^[A-Za-z0-9_]{1,255}$' THEN
            RAISE EXCEPTION 'invalid payment_intent in checkout session' USING ERRCODE = 'SW207';
        END IF;
        v_intent := session->>'payment_intent';
    END IF;
    -- amounts: integers from 0 to the largest bigint, in the shop's currency
    v_conv := session->'currency_conversion';
    IF v_conv = 'null'::jsonb THEN
        v_conv := NULL;
    END IF;
    IF v_conv IS NOT NULL AND jsonb_typeof(v_conv) <> 'object' THEN
        RAISE EXCEPTION 'invalid currency_conversion in checkout session' USING ERRCODE = 'SW207';
    END IF;
    FOREACH v_amount IN ARRAY ARRAY[session->'amount_subtotal', session->'amount_total',
                                    COALESCE(v_conv->'amount_subtotal', CASE WHEN v_conv IS NULL THEN '0'::jsonb END),
                                    COALESCE(v_conv->'amount_total', CASE WHEN v_conv IS NULL THEN '0'::jsonb END)] LOOP
        IF jsonb_typeof(v_amount) IS DISTINCT FROM 'number' OR v_amount::text !~ '^[0-9]{1,19}$'
           OR v_amount::text::numeric > 9223372036854775807 THEN
            RAISE EXCEPTION 'invalid amount in checkout session' USING ERRCODE = 'SW207';
        END IF;
    END LOOP;
    IF v_conv IS NULL THEN
        v_currency := lower(session->>'currency');
        v_subtotal := (session->>'amount_subtotal')::bigint;
        v_total := (session->>'amount_total')::bigint;
    ELSE
        v_currency := lower(v_conv->>'source_currency');
        v_subtotal := (v_conv->>'amount_subtotal')::bigint;
        v_total := (v_conv->>'amount_total')::bigint;
    END IF;
    IF jsonb_typeof(session->'currency') IS DISTINCT FROM 'string' OR session->>'currency' !~ '^[A-Za-z]{3}$'
       OR v_currency IS NULL OR v_currency !~ '^[a-z]{3}$' THEN
        RAISE EXCEPTION 'invalid currency in checkout session' USING ERRCODE = 'SW207';
    END IF;
    v_customer := NULLIF(session->'customer_details', 'null'::jsonb);
    IF v_customer IS NOT NULL AND jsonb_typeof(v_customer) <> 'object' THEN
        RAISE EXCEPTION 'invalid customer_details in checkout session' USING ERRCODE = 'SW207';
    END IF;
    IF jsonb_typeof(v_customer->'email') NOT IN ('string', 'null')
       OR jsonb_typeof(session->'customer_email') NOT IN ('string', 'null') THEN
        RAISE EXCEPTION 'invalid email in checkout session' USING ERRCODE = 'SW207';
    END IF;
    v_email := COALESCE(v_customer->>'email', session->>'customer_email');
    -- shipping: collected_information.shipping_details, shipping_details, customer_details
    IF jsonb_typeof(session->'collected_information') NOT IN ('object', 'null')
       OR jsonb_typeof(session->'collected_information'->'shipping_details') NOT IN ('object', 'null')
       OR jsonb_typeof(session->'shipping_details') NOT IN ('object', 'null') THEN
        RAISE EXCEPTION 'invalid shipping details in checkout session' USING ERRCODE = 'SW207';
    END IF;
    v_ship := NULLIF(NULLIF(session->'collected_information', 'null'::jsonb)->'shipping_details', 'null'::jsonb);
    IF v_ship IS NULL OR NULLIF(v_ship->'address', 'null'::jsonb) IS NULL THEN
        v_ship := NULLIF(session->'shipping_details', 'null'::jsonb);
    END IF;
    IF v_ship IS NULL OR NULLIF(v_ship->'address', 'null'::jsonb) IS NULL THEN
        v_ship := v_customer;
    END IF;
    IF v_ship IS NOT NULL AND (jsonb_typeof(v_ship) <> 'object'
                               OR jsonb_typeof(v_ship->'address') NOT IN ('object', 'null')
                               OR jsonb_typeof(v_ship->'name') NOT IN ('string', 'null')) THEN
        RAISE EXCEPTION 'invalid shipping details in checkout session' USING ERRCODE = 'SW207';
    END IF;
    v_addr := NULLIF(v_ship->'address', 'null'::jsonb);
    IF v_addr IS NOT NULL AND EXISTS (SELECT FROM jsonb_each(v_addr) e
                                       WHERE e.key IN ('line1', 'line2', 'city', 'state', 'postal_code', 'country')
                                         AND jsonb_typeof(e.value) NOT IN ('string', 'null')) THEN
        RAISE EXCEPTION 'invalid shipping address in checkout session' USING ERRCODE = 'SW207';
    END IF;
    IF v_addr IS NULL THEN
        v_ship := NULL;
    END IF;

    -- 2. lock the cart; an existing order for the session is returned as is
    SELECT c.user_id, c.locked, c.checkout_session_id INTO v_cart_owner, v_cart_locked, v_cart_sess
      FROM stripe_webhook.carts c WHERE c.id = v_cart FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        SELECT o.id INTO v_existing FROM stripe_webhook.orders o WHERE o.checkout_session_id = v_id;
        IF FOUND THEN
            RETURN v_existing;
        END IF;
        RAISE EXCEPTION 'cart does not exist' USING ERRCODE = 'SW204',
            DETAIL = format('Checkout session "%s" names cart %s of user "%s".', v_id, v_cart, v_user);
    END IF;
    IF v_cart_owner <> v_user THEN
        RAISE EXCEPTION 'cart belongs to another user' USING ERRCODE = 'SW205';
    END IF;
    SELECT o.id INTO v_existing FROM stripe_webhook.orders o WHERE o.checkout_session_id = v_id;
    IF FOUND THEN
        RAISE DEBUG 'checkout session % already processed: order %', v_id, v_existing;
        RETURN v_existing;
    END IF;
    SELECT cs.outcome INTO v_recorded FROM stripe_webhook.checkout_sessions cs WHERE cs.id = v_id;
    IF v_recorded IS NOT NULL THEN
        v_take_stock := false;
        v_reasons := v_reasons || format('checkout session completed after it was recorded as %s; no stock was taken', v_recorded);
    ELSIF v_cart_locked AND v_cart_sess IS NOT NULL THEN
        v_take_stock := false;
        v_reasons := v_reasons || format('duplicate payment: cart %s was already checked out by checkout session %s; no stock was taken',
                                         v_cart, v_cart_sess);
    END IF;

    -- 4-5. lines at current prices; products locked in ascending id order
    FOR v_item IN
        SELECT ci.product_id, ci.quantity, p.price_amount, p.currency, p.stock
          FROM stripe_webhook.cart_items ci JOIN stripe_webhook.products p ON p.id = ci.product_id
         WHERE ci.cart_id = v_cart
         ORDER BY p.id
           FOR NO KEY UPDATE OF p
    LOOP
        v_take := CASE WHEN v_take_stock THEN least(v_item.stock, v_item.quantity) ELSE 0 END;
        IF v_take_stock AND v_take < v_item.quantity THEN
            v_short := v_short || format('product %s short by %s of %s', v_item.product_id,
                                         v_item.quantity - v_take, v_item.quantity);
        END IF;
        v_sum := v_sum + v_item.quantity::numeric * v_item.price_amount;
        IF v_cart_cur IS NULL THEN
            v_cart_cur := v_item.currency;
        ELSIF v_cart_cur <> v_item.currency THEN
            v_mixed := true;
        END IF;
        v_products := v_products || v_item.product_id;
        v_qty := v_qty || v_item.quantity;
        v_prices := v_prices || v_item.price_amount;
        v_shortfalls := v_shortfalls || CASE WHEN v_take_stock THEN v_item.quantity - v_take ELSE 0 END;
        v_taken := v_taken || v_take;
    END LOOP;
    IF cardinality(v_products) = 0 THEN
        RAISE EXCEPTION 'cart has no items' USING ERRCODE = 'SW206';
    END IF;
    IF cardinality(v_short) > 0 THEN
        v_reasons := v_reasons || ('stock short: ' || array_to_string(v_short, ', '));
    END IF;

    -- 6. the money
    IF v_mixed THEN
        v_reasons := v_reasons || 'the cart''s products are priced in more than one currency'::text;
    ELSIF v_cart_cur <> v_currency THEN
        v_reasons := v_reasons || format('currency mismatch: the session is in %s but the cart''s products are priced in %s',
                                         v_currency, v_cart_cur);
    ELSIF v_sum > 9223372036854775807 THEN
        v_reasons := v_reasons || 'the cart''s subtotal does not fit in a bigint'::text;
    ELSIF v_sum <> v_subtotal THEN
        v_reasons := v_reasons || format('amount mismatch: the session''s subtotal is %s %s but the cart''s items cost %s %s',
                                         v_subtotal, v_currency, v_sum, v_cart_cur);
    END IF;
    v_status := CASE WHEN cardinality(v_reasons) > 0 THEN 'needs_review'
                     WHEN v_paid THEN 'confirmed' ELSE 'pending' END;

    -- 3. the order (the cart lock above serialises deliveries of one session)
    INSERT INTO stripe_webhook.orders
        (user_id, cart_id, checkout_session_id, payment_intent_id, status, payment_status, currency,
         amount_subtotal, amount_total, customer_email, shipping_name, shipping_line1, shipping_line2,
         shipping_city, shipping_state, shipping_postal_code, shipping_country, review_reason)
    VALUES (v_user, v_cart, v_id, v_intent, v_status, CASE WHEN v_paid THEN 'paid' ELSE 'unpaid' END, v_currency,
            v_subtotal, v_total, v_email, v_ship->>'name', v_addr->>'line1', v_addr->>'line2',
            v_addr->>'city', v_addr->>'state', v_addr->>'postal_code', v_addr->>'country',
            NULLIF(array_to_string(v_reasons, '; '), ''))
    RETURNING id INTO v_order;
    RAISE DEBUG 'payment successful for checkout session % (cart %, user %)', v_id, v_cart, v_user;

    -- 4. items, 5. stock
    INSERT INTO stripe_webhook.order_items (order_id, product_id, quantity, unit_amount, shortfall, stock_taken)
    SELECT v_order, u.p, u.q, u.a, u.s, u.t
      FROM unnest(v_products, v_qty, v_prices, v_shortfalls, v_taken) AS u(p, q, a, s, t);
    IF v_take_stock THEN
        UPDATE stripe_webhook.products p SET stock = p.stock - u.t
          FROM unnest(v_products, v_taken) AS u(p, t)
         WHERE p.id = u.p AND u.t > 0;

        -- 7. lock the cart, one active cart for the user
        UPDATE stripe_webhook.carts
           SET locked = true, locked_at = COALESCE(locked_at, now()), checkout_session_id = v_id
         WHERE id = v_cart;
        INSERT INTO stripe_webhook.carts (user_id) VALUES (v_user)
            ON CONFLICT (user_id) WHERE NOT locked DO NOTHING
            RETURNING id INTO v_new_cart;
        RAISE DEBUG 'cart % locked for checkout session %; new active cart %', v_cart, v_id, v_new_cart;
    END IF;

    -- 8. log
    RAISE DEBUG 'order % created with % items for checkout session %', v_order, cardinality(v_products), v_id;
    IF cardinality(v_reasons) > 0 THEN
        FOR i IN 1 .. cardinality(v_reasons) LOOP
            RAISE WARNING 'order % for checkout session % needs review', v_order, v_id
                USING DETAIL = 'Reason: ' || v_reasons[i] || '.';
        END LOOP;
    END IF;
    RETURN v_order;
END
$fn$;
REVOKE ALL ON FUNCTION stripe_bench.fulfil_session_plpgsql(jsonb) FROM PUBLIC;
COMMENT ON FUNCTION stripe_bench.fulfil_session_plpgsql(jsonb) IS
    'Benchmark baseline: stripe_fulfill_session in PL/pgSQL (same steps, checks and statements).';
