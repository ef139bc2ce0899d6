// gen.js: stripe-node oracle for the signature vectors.
//
// Reads the case list (JSON array, from gen.py cases) on stdin and writes one
// verdict per case on stdout (JSON array, same order).  Run by generate.sh
// with NODE_PATH pointing at a scratch install of the npm package "stripe"
// (v23); nothing is installed into the repository.
//
//   verify cases: stripe.webhooks.signature.verifyHeader(payload, header,
//                 secret, tolerance, undefined, now * 1000), run twice: the
//                 payload passed as a string, and as a Buffer of its UTF-8
//                 bytes (what a server hands over when it keeps the raw
//                 body, e.g. Express's raw() parser); verdicts {ok, msg} and
//                 buffer: {ok, msg}
//   header cases: stripe.webhooks.generateTestHeaderString({payload, secret,
//                 timestamp}); result {header}
'use strict';

const fs = require('fs');
const Stripe = require('stripe');
const version = JSON.parse(fs.readFileSync(require.resolve('stripe').replace(/cjs\/.*$/, 'package.json'))).version;
const stripe = new Stripe('sk_test_oracle');

// verify: stripe-node's verdict on one case, with the payload given as is
function verify(c, payload) {
    try {
        stripe.webhooks.signature.verifyHeader(payload, c.header, c.secret,
            c.tolerance, undefined, c.now * 1000);
        return {ok: true, msg: null};
    } catch (e) {
        // Keep the first line only: the mismatch message carries a long
        // help text after it.
        const first = String(e.message).split('\n')[0].trim();
        const stripeError = e.type === 'StripeSignatureVerificationError';
        return {ok: false, msg: (stripeError ? '' : e.constructor.name + ': ') + first};
    }
}

const cases = JSON.parse(fs.readFileSync(0, 'utf8'));
const out = cases.map((c) => {
    if (c.kind === 'header') {
        return {header: stripe.webhooks.generateTestHeaderString({
            payload: c.payload, secret: c.secret, timestamp: c.t})};
    }
    const verdict = verify(c, c.payload);
    verdict.buffer = verify(c, Buffer.from(c.payload, 'utf8'));
    return verdict;
});
process.stdout.write(JSON.stringify({oracle: 'stripe-node', version: version, results: out}));
