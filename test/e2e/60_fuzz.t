#!/usr/bin/env bash
# test/e2e/60_fuzz.t: short fixed-budget fuzzing of src/stripe_sig.c (the
# plain-C Stripe-Signature parser and verifier) with libFuzzer, ASan and
# UBSan; prints TAP.
#
#   1. the three targets build with clang -fsanitize=fuzzer,address,undefined
#   2. every committed seed input (test/fuzz/corpus) replays without a report
#   3. the reproducers of defects found so far pass (test/fuzz/null_header.c)
#   4. each target fuzzes for SW_FUZZ_SECONDS (default 24, all targets at
#      once) with zero crashes, leaks, UB reports or broken invariants
#
# The longer run for the README is ./test/fuzz/run.sh 600.  Needs no server.
set -uo pipefail
ROOT=${SW_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
FUZZ="$ROOT/test/fuzz"
SECS=${SW_FUZZ_SECONDS:-24}
TARGETS="fuzz_header fuzz_verify fuzz_sign_verify"

if ! command -v clang >/dev/null 2>&1; then
    echo "1..1"
    echo "ok 1 # SKIP clang not installed (apt-get install clang): libFuzzer targets not run"
    exit 0
fi

n=0
failed=0
ok() {   # ok COND-STATUS NAME: TAP line from an exit status
    n=$((n + 1))
    if [ "$1" -eq 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; failed=1; fi
}

echo "1..6"
out=$(make -s -C "$FUZZ" $TARGETS 2>&1)
rc=$?
ok $rc "fuzz targets build with clang -fsanitize=fuzzer,address,undefined"
[ $rc -eq 0 ] || { echo "$out" | sed 's/^/# /' | head -30; }

out=$(make -s -C "$FUZZ" replay 2>&1)
rc=$?
ok $rc "committed seed corpus replays with no sanitizer report ($(find "$FUZZ/corpus" -type f | wc -l) inputs)"
[ $rc -eq 0 ] || { echo "$out" | grep -vE '^INFO|^#[0-9]' | sed 's/^/# /' | tail -30; }

out=$(make -s -C "$FUZZ" repro 2>&1)
rc=$?
ok $rc "regression tests of past findings pass (null_header: a NULL header without UB)"
[ $rc -eq 0 ] || { echo "$out" | sed 's/^/# /' | tail -20; }

work=$(mktemp -d /tmp/sw-fuzz-e2e.XXXXXX)
out=$(SW_FUZZ_WORK="$work" "$FUZZ/run.sh" "$SECS" 2>&1)
for t in $TARGETS; do
    line=$(echo "$out" | grep "^$t: " | head -1)
    case $line in
        "$t: ok,"*) ok 0 "${line}" ;;
        *)
            ok 1 "$t: ${SECS} s of fuzzing without a crash"
            echo "$out" | sed -n "/^$t: /,/^fuzz_\|^scratch/p" | sed 's/^/# /' | head -30
            ;;
    esac
done
# keep the scratch directory only when something crashed (it has the inputs)
if [ $failed -eq 0 ]; then rm -rf "$work"; else echo "# fuzz scratch kept: $work"; fi
exit $failed
