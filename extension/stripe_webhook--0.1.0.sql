-- stripe_webhook 0.1.0: the first release (signature verification only).
-- Frozen: never edit a released script; changes go into a new upgrade
-- script and into extension/stripe_webhook.sql.

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION stripe_webhook VERSION '0.1.0'" to load this file. \quit

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
