#!/usr/bin/env bash
# test/e2e/10_signature_encoding.t: Stripe signs UTF-8 bytes, whatever the
# database encoding.  In a LATIN1 database the signature functions must
# convert payload and secret to UTF-8 before signing; the known answer was
# computed with Python's hmac over the UTF-8 bytes (and the LATIN1-byte
# signature with Python's hmac over the LATIN1 bytes).
set -uo pipefail
DB="sw_sig_latin1_$$"
KNOWN='t=1700000000,v1=5faed29edd3f166e28fa69684faa27f572907e1c10f30a184b23bc9698065e8e'
PSQL=(psql -qAtX -v ON_ERROR_STOP=1)
n=0
check() {  # check DESCRIPTION WANT GOT
    n=$((n + 1))
    if [ "$2" = "$3" ]; then echo "ok $n - $1"; else echo "not ok $n - $1"; echo "#   want: $2"; echo "#   got:  $3"; fi
}

echo "1..4"
"${PSQL[@]}" -d postgres -c "CREATE DATABASE $DB ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0" >/dev/null
trap '"${PSQL[@]}" -d postgres -c "DROP DATABASE IF EXISTS $DB" >/dev/null' EXIT
export PGCLIENTENCODING=UTF8
"${PSQL[@]}" -d "$DB" -c "CREATE EXTENSION stripe_webhook" >/dev/null

check "database encoding is LATIN1" "LATIN1" \
    "$("${PSQL[@]}" -d "$DB" -c "SELECT pg_encoding_to_char(encoding) FROM pg_database WHERE datname = current_database()")"
check "header signs the UTF-8 bytes of a non-ASCII payload and secret" "$KNOWN" \
    "$("${PSQL[@]}" -d "$DB" -c "SELECT stripe_webhook.stripe_signature_header('{\"name\":\"café\"}', 'whsec_café', pg_catalog.to_timestamp(1700000000))")"
check "a UTF-8-signed header verifies in the LATIN1 database" "t" \
    "$("${PSQL[@]}" -d "$DB" -c "SELECT stripe_webhook.stripe_verify_signature('{\"name\":\"café\"}', '$KNOWN', 'whsec_café', 0)")"
LATIN1_SIGNED='t=1700000000,v1=1aa46601376604e2fd0c0dcb90b5addaafe99ed80742b14c54200c61d521468b'
check "a signature over the LATIN1 bytes does not verify" "No signatures found matching the expected signature for payload" \
    "$("${PSQL[@]}" -d "$DB" -c "SELECT stripe_webhook.stripe_signature_failure('{\"name\":\"café\"}', '$LATIN1_SIGNED', 'whsec_café', 0)")"
