#!/usr/bin/env bash
# test/e2e/32_webhook_encoding.t: stripe_handle_webhook in a LATIN1 database.
#
# Stripe signs the UTF-8 bytes of the body with the UTF-8 bytes of the
# secret.  A client connected with client_encoding UTF8 (as PostgREST always
# is) hands over the body, which the server converts to LATIN1; the handler
# must verify against the UTF-8 bytes again, for the body and for the cached
# secret.  Signatures are computed here with Python's hmac.  Prints TAP.
set -uo pipefail
: "${PGHOST:?run me from test/run.sh}"
DB="sw_webhook_latin1_$$"
PSQL=(psql -qAtX -v ON_ERROR_STOP=1)
n=0
check() {  # check DESCRIPTION WANT GOT
    n=$((n + 1))
    if [ "$2" = "$3" ]; then echo "ok $n - $1"; else echo "not ok $n - $1"; echo "#   want: $2"; echo "#   got:  $3"; fi
}
# sign BODY SECRET ENCODING: t=<now>,v1=<HMAC-SHA256 over the body's bytes in ENCODING>
sign() {
    /usr/bin/python3 -c 'import hashlib, hmac, sys, time
t = str(int(time.time()))
mac = hmac.new(sys.argv[2].encode(sys.argv[3]), (t + ".").encode() + sys.argv[1].encode(sys.argv[3]), hashlib.sha256)
print("t=%s,v1=%s" % (t, mac.hexdigest()))' "$1" "$2" "$3"
}

echo "1..6"
"${PSQL[@]}" -d postgres -c "CREATE DATABASE $DB ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0" >/dev/null
trap '"${PSQL[@]}" -d postgres -c "DROP DATABASE IF EXISTS $DB" >/dev/null' EXIT
export PGCLIENTENCODING=UTF8
SECRET='whsec_café_secret'
"${PSQL[@]}" -d "$DB" -c "CREATE EXTENSION stripe_webhook" \
    -c "INSERT INTO stripe_webhook.signing_secrets (secret) VALUES ('$SECRET')" >/dev/null

check "database encoding is LATIN1" "LATIN1" \
    "$("${PSQL[@]}" -d "$DB" -c "SELECT pg_encoding_to_char(encoding) FROM pg_database WHERE datname = current_database()")"

BODY='{"id": "evt_latin1_1", "object": "event", "type": "customer.updated", "data": {"object": {"id": "cus_1", "name": "Café Müller"}}}'
deliver() {  # deliver BODY HEADER: status and message
    "${PSQL[@]}" -d "$DB" -c "SELECT (r ->> 'status') || ' ' || (r ->> 'message')
        FROM (SELECT stripe_webhook.stripe_handle_webhook(\$b\$$1\$b\$, '$2') AS r) x"
}
check "a body signed over its UTF-8 bytes, with a non-ASCII secret, verifies" "200 event type ignored" \
    "$(deliver "$BODY" "$(sign "$BODY" "$SECRET" utf-8)")"
check "the event was recorded with its non-ASCII text intact" "Café Müller" \
    "$("${PSQL[@]}" -d "$DB" -c "SELECT payload -> 'data' -> 'object' ->> 'name' FROM stripe_webhook.events WHERE id = 'evt_latin1_1'")"
BODY2=${BODY/evt_latin1_1/evt_latin1_2}
check "a signature over the LATIN1 bytes does not verify" \
    "400 No signatures found matching the expected signature for payload" \
    "$(deliver "$BODY2" "$(sign "$BODY2" "$SECRET" latin-1)")"
# sign_key BODY SECRET KEY_ENCODING: body as UTF-8, key in KEY_ENCODING
sign_key() {
    /usr/bin/python3 -c 'import hashlib, hmac, sys, time
t = str(int(time.time()))
mac = hmac.new(sys.argv[2].encode(sys.argv[3]), (t + ".").encode() + sys.argv[1].encode("utf-8"), hashlib.sha256)
print("t=%s,v1=%s" % (t, mac.hexdigest()))' "$1" "$2" "$3"
}
check "nor does one keyed with the secret's LATIN1 bytes" \
    "400 No signatures found matching the expected signature for payload" \
    "$(deliver "$BODY2" "$(sign_key "$BODY2" "$SECRET" latin-1)")"
check "only the verified event was recorded" "1" \
    "$("${PSQL[@]}" -d "$DB" -c "SELECT count(*) FROM stripe_webhook.events")"
