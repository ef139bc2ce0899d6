#!/usr/bin/env bash
# test/fuzz/run.sh: fuzz the plain-C Stripe-Signature parser and verifier
# (src/stripe_sig.c) with libFuzzer + AddressSanitizer + UBSan.
#
#   ./test/fuzz/run.sh [SECONDS]     default 600; all targets run at once, so
#                                    the whole run takes SECONDS (wall clock)
#
# Each target starts from its committed seed corpus (test/fuzz/corpus/<target>,
# read only) and writes what it discovers to a scratch directory under /tmp.
# One line per target: "<target>: ok ..." or "<target>: FAILED ...", then the
# crash inputs (if any) and how to replay them.  Exit status: 0 no crash,
# 1 a target crashed or broke an invariant, 2 cannot build (clang missing).
#
# Environment:
#   SW_FUZZ_TARGETS   targets to run (default: all three)
#   SW_FUZZ_WORK      scratch directory (default: a new /tmp/sw-fuzz.XXXXXX,
#                     kept after the run for inspection)
#   SW_FUZZ_MERGE=1   afterwards, merge the new interesting inputs into the
#                     committed corpus (libFuzzer -merge=1 keeps only inputs
#                     that add coverage); review and commit them
set -uo pipefail
cd "$(dirname "$0")" || exit 2

SECS=${1:-600}
TARGETS=${SW_FUZZ_TARGETS:-fuzz_header fuzz_verify fuzz_sign_verify}

if ! command -v "${CLANG:-clang}" >/dev/null 2>&1; then
    echo "clang not found: apt-get install clang (Debian 12: clang 14 ships libFuzzer)" >&2
    exit 2
fi
make -s $TARGETS >&2 || { echo "build failed" >&2; exit 2; }

WORK=${SW_FUZZ_WORK:-$(mktemp -d /tmp/sw-fuzz.XXXXXX)}
mkdir -p "$WORK"

# max_len: headers a little over the 8 KiB limit, verify inputs big enough
# for the realistic event bodies in the seeds.
max_len() {
    case $1 in
        fuzz_header) echo 8400 ;;
        fuzz_verify) echo 16384 ;;
        *) echo 8192 ;;
    esac
}

declare -A PIDS
for t in $TARGETS; do
    mkdir -p "$WORK/$t/corpus" "$WORK/$t/artifacts"
    ./"$t" -max_total_time="$SECS" -max_len="$(max_len "$t")" -dict=stripe_sig.dict \
        -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$WORK/$t/artifacts/" \
        "$WORK/$t/corpus" "corpus/$t" >"$WORK/$t/log" 2>&1 &
    PIDS[$t]=$!
done

failed=0
for t in $TARGETS; do
    wait "${PIDS[$t]}"
    rc=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$WORK/$t/log" | tail -1)
    cov=$(grep -oE 'cov: [0-9]+' "$WORK/$t/log" | tail -1 | cut -d' ' -f2)
    found=$(ls "$WORK/$t/corpus" | wc -l)
    crashes=$(ls "$WORK/$t/artifacts" | wc -l)
    if [ "$rc" -eq 0 ] && [ "$crashes" -eq 0 ] && [ -n "$runs" ]; then
        echo "$t: ok, ${runs} runs in ${SECS} s, ${cov:-?} edges covered, ${found} new corpus inputs, 0 crashes"
    else
        failed=1
        echo "$t: FAILED (exit $rc), ${runs:-?} runs, ${crashes} crash inputs, log $WORK/$t/log"
        grep -E 'ERROR|runtime error|invariant failed|SUMMARY|Test unit written' "$WORK/$t/log" | head -20 | sed 's/^/    /'
        for a in "$WORK/$t/artifacts"/*; do
            [ -e "$a" ] && echo "    replay: (cd test/fuzz && ./$t $a)"
        done
    fi
done

if [ "${SW_FUZZ_MERGE:-}" = 1 ]; then
    for t in $TARGETS; do
        ./"$t" -merge=1 -max_len="$(max_len "$t")" "corpus/$t" "$WORK/$t/corpus" >"$WORK/$t/merge.log" 2>&1 &&
            echo "$t: merged into corpus/$t ($(ls "corpus/$t" | wc -l) inputs)"
    done
fi
echo "scratch: $WORK"
exit $failed
