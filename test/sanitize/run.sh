#!/usr/bin/env bash
# test/sanitize/run.sh: the regression suites with the C code built under
# AddressSanitizer and UndefinedBehaviorSanitizer (gcc).
#
#   ./test/sanitize/run.sh [--tap] [--storm SESSIONS] [--no-storm]
#
# 1. Copies the source tree to a scratch directory (so that the instrumented
#    objects never mix with a normal build) and builds the extension, the
#    relay and the plain-C unit tests there with
#      -fsanitize=address,undefined -fno-sanitize-recover=all
#      -fno-omit-frame-pointer
#    installing into a private PostgreSQL 15 stage of its own.
# 2. Runs the unit tests (test/unit) built the same way.
# 3. Starts a throwaway cluster whose postmaster has libasan and libubsan
#    in LD_PRELOAD (PostgreSQL itself is not instrumented; the extension's
#    shared library is, and the sanitizer runtimes must come first), with
#      ASAN_OPTIONS=detect_leaks=0:abort_on_error=1
#      UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
#    (leak detection is off: PostgreSQL frees memory contexts, not every
#    allocation, and exits without freeing on purpose), plus the tiny
#    test/sanitize/asan_early_init.c that works around an ASan start-up
#    deadlock with libgpg-error (google/sanitizers#1270).
# 4. Runs every pgTAP file and every isolation spec against it, and a small
#    storm (test/storm/run.sh, 200 carts by default, 3 deliveries each from
#    32 connections) through the instrumented relay.
# 5. Fails on any sanitizer report in the server log, the relay's output or
#    the unit tests, and on any crashed server process.
# 6. Then proves it could have failed: two deliberately broken functions
#    (test/sanitize/probe.c, built the same way) must each leave an ASan or
#    UBSan report in the server log.
#
# Prints TAP with --tap (test/e2e/83_sanitizers.t runs it so).  Stops and
# removes everything it started.
set -uo pipefail
SRC_ROOT=$(cd "$(dirname "$0")/../.." && pwd)

TAP=
STORM=200
while [ $# -gt 0 ]; do
    case $1 in
        --tap) TAP=1; shift ;;
        --storm) STORM=$2; shift 2 ;;
        --no-storm) STORM=0; shift ;;
        -h|--help) sed -n '2,30p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown argument: $1 (try --help)" >&2; exit 2 ;;
    esac
done

SAN_FLAGS="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -g"
LIBASAN=$(gcc -print-file-name=libasan.so)
LIBUBSAN=$(gcc -print-file-name=libubsan.so)
LIBASAN=$(readlink -f "$LIBASAN")
LIBUBSAN=$(readlink -f "$LIBUBSAN")
# Sanitizer reports look like these (ASan, UBSan, LeakSanitizer).
REPORT_RE='ERROR: AddressSanitizer|runtime error:|UndefinedBehaviorSanitizer|ERROR: LeakSanitizer|SUMMARY: (Address|UndefinedBehavior)Sanitizer'

WORK=$(mktemp -d /tmp/sw-sanitize.XXXXXX)
chmod 755 "$WORK"
N=0
FAILED=0
. "$SRC_ROOT/test/lib/tap.sh"

say() {
    echo "# $*"
}

# The copy is the SW_ROOT of everything below.
SW_ROOT=$WORK/src
export SW_ROOT
mkdir -p "$SW_ROOT"
tar -C "$SRC_ROOT" --exclude=.git --exclude='*.o' --exclude='*.so' --exclude='*.bc' \
    --exclude=results --exclude=output_iso --exclude='tmp_check*' \
    --exclude=relay/stripe-webhook-relay --exclude=test/unit/test_sig --exclude=test/unit/test_retryable -cf - . | tar -C "$SW_ROOT" -xf -
. "$SW_ROOT/test/lib/common.sh"

cleanup() {
    sw_cluster_stop
    [ -z "${SW_KEEP:-}" ] && rm -rf "$WORK"
}
trap cleanup EXIT

sw_ensure_packages >/dev/null || exit 1
[ -f "$LIBASAN" ] && [ -f "$LIBUBSAN" ]
ok $? "gcc's sanitizer runtimes: $(basename "$LIBASAN"), $(basename "$LIBUBSAN")" || true
[ "$FAILED" -eq 0 ] || { echo "1..$N"; exit 1; }

# 1. build
SW_STAGE=$WORK/stage
export SW_STAGE
SW_COPT="-Werror -Wextra -Wno-unused-parameter -Wno-sign-compare -Wno-missing-field-initializers $SAN_FLAGS"
export SW_COPT
sw_build_stage >"$WORK/build.log" 2>&1
ok $? "extension and relay built with $SAN_FLAGS" "$(tail -20 "$WORK/build.log")"
ldd "$SW_STAGE$("$SW_PG_CONFIG" --pkglibdir)/stripe_webhook.so" | grep -c libasan >/dev/null &&
    ldd "$SW_BINDIR/stripe-webhook-relay" | grep -c libasan >/dev/null
ok $? "the extension's shared library and the relay are instrumented (linked to libasan)"

# 2. unit tests
make -s -C "$SW_ROOT/test/unit" run CFLAGS="-O1 $SAN_FLAGS" >"$WORK/unit.log" 2>&1
rc=$?
! grep -qE "$REPORT_RE" "$WORK/unit.log" && [ "$rc" = 0 ] && ! grep -q '^not ok' "$WORK/unit.log"
ok $? "plain-C unit tests under ASan+UBSan: $(grep -c '^ok' "$WORK/unit.log") pass, no report" \
    "$(grep -E "$REPORT_RE|^not ok" "$WORK/unit.log" | head -20)"

# 3. cluster with the runtimes preloaded (initdb and the first start without:
# the extension is not loaded until CREATE EXTENSION).  asan_early_init.so
# makes ASan initialize before libgpg-error's constructor can deadlock it
# (see that file).
gcc -shared -fPIC -O2 -Wall -Wextra -Werror -o "$WORK/asan_early_init.so" \
    "$SW_ROOT/test/sanitize/asan_early_init.c" -ldl
ok $? "built the preload helper test/sanitize/asan_early_init.c"
chmod 755 "$WORK/asan_early_init.so"
sw_cluster_start sanitize >/dev/null || { ok 1 "cluster starts"; echo "1..$N"; exit 1; }
sw_pg_ctl stop -m fast -w >/dev/null
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
LD_PRELOAD="$LIBASAN $LIBUBSAN $WORK/asan_early_init.so" sw_pg_ctl start -l "$SW_PGLOG" -w -t 120 >/dev/null
ok $? "cluster restarted with LD_PRELOAD=$(basename "$LIBASAN") $(basename "$LIBUBSAN") asan_early_init.so"
SW_PGPID=$(head -1 "$SW_PGDATA/postmaster.pid")
grep -q libasan "/proc/$SW_PGPID/maps"
ok $? "the postmaster runs with the sanitizer runtimes loaded"
unset ASAN_OPTIONS UBSAN_OPTIONS

# 4a. pgTAP, one line per file
psql -qX -v ON_ERROR_STOP=1 -c "CREATE DATABASE sw_pgtap" >/dev/null &&
    psql -qX -v ON_ERROR_STOP=1 -d sw_pgtap -c "CREATE EXTENSION pgtap" -c "CREATE EXTENSION stripe_webhook" >/dev/null
ok $? "CREATE EXTENSION stripe_webhook loads the instrumented library"
PGTAP_TESTS=0
(cd "$SW_ROOT" && for f in test/pgtap/*.sql; do
    out=$(pg_prove -d sw_pgtap "$f" 2>&1)
    rc=$?
    n=$(printf '%s\n' "$out" | sed -n 's/^Files=[0-9]*, Tests=\([0-9]*\),.*/\1/p')
    echo "$rc ${n:-0} $f"
    [ "$rc" = 0 ] || printf '%s\n' "$out" | grep -vE '^ok' | tail -20 | sed 's/^/#   /' >"$WORK/$(basename "$f").fail"
done) >"$WORK/pgtap.list"
while read -r rc n f; do
    PGTAP_TESTS=$((PGTAP_TESTS + n))
    ok "$rc" "pgTAP $f under ASan+UBSan: $n tests" "$(cat "$WORK/$(basename "$f").fail" 2>/dev/null)"
done <"$WORK/pgtap.list"

# 4b. isolation specs, one line per spec
SPECS=$(ls "$SW_ROOT"/test/isolation/specs/*.spec 2>/dev/null | xargs -n1 basename 2>/dev/null | sed 's/\.spec$//')
if [ -n "$SPECS" ]; then
    PGXS_DIR=$(dirname "$("$SW_PG_CONFIG" --pgxs)")/..
    (cd "$SW_ROOT" && "$PGXS_DIR/test/isolation/pg_isolation_regress" \
        --bindir="$SW_BINDIR" --host="$PGHOST" --port="$PGPORT" --user=postgres \
        --inputdir=test/isolation --outputdir="$WORK/isolation" \
        --dbname=sw_isolation --load-extension=stripe_webhook $SPECS) >"$WORK/isolation.log" 2>&1
    for s in $SPECS; do
        # PostgreSQL 15: "test SPEC ... ok"; 16+: TAP "ok N - SPEC  12 ms"
        grep -qE "^((test|     ) $s .* ok |ok [0-9]+ +- $s )" "$WORK/isolation.log"
        ok $? "isolation spec $s under ASan+UBSan" \
            "$(grep -E " $s " "$WORK/isolation.log"; head -40 "$WORK/isolation/regression.diffs" 2>/dev/null)"
    done
fi

# 4c. a small storm through the instrumented relay
if [ "$STORM" -gt 0 ]; then
    ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
        SW_STORM_WORK="$WORK/storm" \
        "$SW_ROOT/test/storm/run.sh" --sessions "$STORM" --tap --running-cluster >"$WORK/storm.log" 2>&1
    rc=$?
    ok "$rc" "storm of $STORM carts (3 deliveries each, 32 connections) through the instrumented relay:" \
        "$(grep -c '^ok' "$WORK/storm.log") checks pass" "$(grep -E '^not ok|^#   ' "$WORK/storm.log" | head -20)"
    cat "$WORK"/storm/relay-*.log >"$WORK/relay.log" 2>/dev/null
    ! grep -qE "$REPORT_RE" "$WORK/relay.log" "$WORK/storm.log" 2>/dev/null
    ok $? "no sanitizer report from the relay" "$(grep -hE -A5 "$REPORT_RE" "$WORK/relay.log" "$WORK/storm.log" 2>/dev/null | head -30)"
fi

# 5. the server log
! grep -qE "$REPORT_RE" "$SW_PGLOG"
ok $? "no sanitizer report in the server log" "$(grep -E -A10 "$REPORT_RE" "$SW_PGLOG" | head -40)"
! grep -qE "was terminated by signal|server process .* exited with exit code [^0]" "$SW_PGLOG"
ok $? "no server process crashed" "$(grep -E "terminated by signal|exited with exit code" "$SW_PGLOG" | head)"
# 6. the harness can fail: two deliberately broken functions (probe.c),
# built the same way, must each leave a report in the server log
gcc -shared -fPIC -O1 $SAN_FLAGS -I"$("$SW_PG_CONFIG" --includedir-server)" \
    -o "$SW_STAGE$("$SW_PG_CONFIG" --pkglibdir)/sw_sanitizer_probe.so" "$SW_ROOT/test/sanitize/probe.c" \
    >"$WORK/probe.log" 2>&1
ok $? "built the probe functions (test/sanitize/probe.c)" "$(cat "$WORK/probe.log")"
REPORTS=$(grep -cE "$REPORT_RE" "$SW_PGLOG")
psql -qX -d sw_pgtap >/dev/null 2>&1 <<'SQL'
CREATE FUNCTION pg_temp.asan_probe(int) RETURNS int AS '$libdir/sw_sanitizer_probe', 'sanitizer_probe_asan' LANGUAGE C STRICT;
SELECT pg_temp.asan_probe(8);
SQL
sleep 1
grep -q "ERROR: AddressSanitizer: stack-buffer-overflow" "$SW_PGLOG"
ok $? "the harness catches a stack buffer overflow (AddressSanitizer report in the server log)"
for i in $(seq 1 100); do psql -qAtX -d sw_pgtap -c "SELECT 1" >/dev/null 2>&1 && break; sleep 0.1; done
psql -qX -d sw_pgtap >/dev/null 2>&1 <<'SQL'
CREATE FUNCTION pg_temp.ubsan_probe(int) RETURNS int AS '$libdir/sw_sanitizer_probe', 'sanitizer_probe_ubsan' LANGUAGE C STRICT;
SELECT pg_temp.ubsan_probe(2147483647);
SQL
sleep 1
grep -q "runtime error: signed integer overflow" "$SW_PGLOG"
ok $? "the harness catches a signed integer overflow (UndefinedBehaviorSanitizer report in the server log)"

say "sanitizer run: $PGTAP_TESTS pgTAP tests, $(echo "$SPECS" | grep -c .) isolation specs, storm of $STORM carts; reports before the probes: $REPORTS"

echo "1..$N"
[ "$FAILED" -eq 0 ]
