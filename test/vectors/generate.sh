#!/usr/bin/env bash
# test/vectors/generate.sh: rebuild the differential signature vectors.
#
# Runs both of Stripe's official libraries as oracles over the cases built by
# gen.py and writes
#   test/vectors/signature_vectors.json    every case with each oracle's verdict,
#                                          the rule's verdict and the expected one
#   test/pgtap/10_signature_vectors.sql    the pgTAP file checking them all
#
# Oracles: python3-stripe from Debian (/usr/bin/python3) and the npm package
# "stripe" (v23), installed into a scratch directory under /tmp (never into
# the repository).  Needs python3-stripe, node and npm; network access to the
# npm registry the first time.
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$(cd ../.. && pwd)
NODE_DIR=${SW_STRIPE_NODE_DIR:-/tmp/sw-stripe-node}
NODE_STRIPE_VERSION=${SW_STRIPE_NODE_VERSION:-23}

if [ ! -f "$NODE_DIR/node_modules/stripe/package.json" ]; then
    mkdir -p "$NODE_DIR"
    (cd "$NODE_DIR" && npm init -y >/dev/null && npm install --no-audit --no-fund --silent "stripe@$NODE_STRIPE_VERSION" >&2)
fi
/usr/bin/python3 -c 'import stripe' || { echo "python3-stripe is missing (apt-get install python3-stripe)" >&2; exit 1; }

WORK=$(mktemp -d /tmp/sw-vectors.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
/usr/bin/python3 gen.py cases >"$WORK/cases.json"
/usr/bin/python3 gen.py oracle <"$WORK/cases.json" >"$WORK/python.json"
NODE_PATH="$NODE_DIR/node_modules" node gen.js <"$WORK/cases.json" >"$WORK/node.json"
/usr/bin/python3 gen.py combine "$WORK/cases.json" "$WORK/python.json" "$WORK/node.json" \
    signature_vectors.json "$ROOT/test/pgtap/10_signature_vectors.sql"
