-- bench/verify/plpgsql_verify.sql: the check a user would write without the
-- extension, in PL/pgSQL with pgcrypto's hmac(): split the header, sign
-- t "." payload, compare with every v1, check the age.  Same parameters and
-- result as stripe_webhook.stripe_verify_signature for well-formed headers
-- (it does not implement the extension's stricter header rules, and its
-- comparison is not constant-time).
--
-- Two copies of the same body: bench.plpgsql_verify as a user typically
-- declares it (LANGUAGE plpgsql, default VOLATILE), and
-- bench.plpgsql_verify_immutable, declared IMMUTABLE (cheaper to call).
CREATE SCHEMA IF NOT EXISTS bench;
CREATE EXTENSION IF NOT EXISTS pgcrypto SCHEMA public;

DO $do$
DECLARE
    body CONSTANT text := $body$
DECLARE
    elem text;
    ts bigint;
    sigs text[] := '{}';
    expected text;
    sig text;
BEGIN
    IF payload IS NULL OR signature_header IS NULL THEN
        RETURN false;
    END IF;
    FOREACH elem IN ARRAY pg_catalog.string_to_array(signature_header, ',') LOOP
        IF pg_catalog.split_part(elem, '=', 1) = 't' THEN
            ts := pg_catalog.split_part(elem, '=', 2)::bigint;
        ELSIF pg_catalog.split_part(elem, '=', 1) = 'v1' THEN
            sigs := sigs || pg_catalog.split_part(elem, '=', 2);
        END IF;
    END LOOP;
    IF ts IS NULL OR pg_catalog.cardinality(sigs) = 0 THEN
        RETURN false;
    END IF;
    expected := pg_catalog.encode(public.hmac(ts || '.' || payload, secret, 'sha256'), 'hex');
    FOREACH sig IN ARRAY sigs LOOP
        IF sig = expected THEN
            RETURN tolerance = 0 OR EXTRACT(epoch FROM at) - ts <= tolerance;
        END IF;
    END LOOP;
    RETURN false;
END
$body$;
BEGIN
    EXECUTE format($f$
        CREATE OR REPLACE FUNCTION bench.plpgsql_verify(
            payload text, signature_header text, secret text,
            tolerance integer DEFAULT 300, at timestamptz DEFAULT now())
        RETURNS boolean LANGUAGE plpgsql AS %L$f$, body);
    EXECUTE format($f$
        CREATE OR REPLACE FUNCTION bench.plpgsql_verify_immutable(
            payload text, signature_header text, secret text,
            tolerance integer DEFAULT 300, at timestamptz DEFAULT now())
        RETURNS boolean LANGUAGE plpgsql IMMUTABLE AS %L$f$, body);
END
$do$;
