#!/usr/bin/env bash
# test/run.sh: the whole test suite, on a throwaway cluster.
#
#   ./test/run.sh [suite...]      suites: unit pgtap isolation e2e (default: all)
#
# Installs the missing Debian packages (as root), builds the extension and the
# relay with warnings as errors, installs them into a private copy of
# PostgreSQL 15, starts a cluster on a free port, runs every suite, stops the
# cluster and ends with one line "N passed, N failed".  Exit status 0 only if
# nothing failed.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
. test/lib/common.sh

SUITES=${*:-unit pgtap isolation e2e}
LOGDIR=${SW_TEST_LOGDIR:-$(mktemp -d /tmp/sw-testlog.XXXXXX)}
mkdir -p "$LOGDIR"
PASSED=0
FAILED=0
LOST=0

# tally NAME LOGFILE EXIT (test/lib/tally.sh): count the TAP lines of a
# finished suite; every test a plan promised but that never ran (a pgTAP
# file that aborted) counts as failed.
. test/lib/tally.sh

# run_suite NAME CMD...: run a TAP-producing command, echo it, tally it.
run_suite() {
    local name=$1; shift
    local log="$LOGDIR/$name.log"
    echo "# --- $name"
    "$@" >"$log" 2>&1
    local rc=$?
    sed 's/^/    /' "$log" | grep -vE '^\s*$' | tail -n 400
    tally "$name" "$log" "$rc"
}

cleanup() {
    sw_cluster_stop
    if [ -n "${SW_STAGE:-}" ] && [ -z "${SW_KEEP:-}" ]; then rm -rf "$SW_STAGE"; fi
}
trap cleanup EXIT

sw_ensure_packages python3-django python3-psycopg2 python3-stripe wrk libipc-run-perl clang || exit 1
sw_build_stage || { echo "0 passed, 1 failed"; exit 1; }
sw_cluster_start test "shared_preload_libraries = ''" || { echo "0 passed, 1 failed"; exit 1; }

# Plain-C unit tests of the signature parser: no server involved.
suite_unit() {
    make -s -C test/unit run
}

# pgTAP: each file in its own transaction, rolled back, in one database.
suite_pgtap() {
    psql -qX -v ON_ERROR_STOP=1 -c "DROP DATABASE IF EXISTS sw_pgtap" -c "CREATE DATABASE sw_pgtap" >/dev/null &&
        psql -qX -v ON_ERROR_STOP=1 -d sw_pgtap -c "CREATE EXTENSION pgtap" -c "CREATE EXTENSION stripe_webhook" >/dev/null &&
        pg_prove -v -d sw_pgtap --ext .sql test/pgtap/
}

# isolationtester specs; each spec is one test.
suite_isolation() {
    local specs
    specs=$(ls test/isolation/specs/*.spec 2>/dev/null | xargs -n1 basename 2>/dev/null | sed 's/\.spec$//')
    [ -n "$specs" ] || { echo "1..0 # no isolation specs"; return 0; }
    local pgxsdir
    pgxsdir=$(dirname "$("$SW_PG_CONFIG" --pgxs)")/..
    # no --use-existing: with it pg_regress neither creates the database nor
    # runs --load-extension (it expects both done); without it, it drops and
    # recreates sw_isolation with the extension on the running server
    "$pgxsdir/test/isolation/pg_isolation_regress" \
        --bindir="$SW_BINDIR" --host="$PGHOST" --port="$PGPORT" --user=postgres \
        --inputdir=test/isolation --outputdir="$LOGDIR/isolation" \
        --dbname=sw_isolation --load-extension=stripe_webhook $specs |
        awk '/^(test|     ) / && / ok / {n++; print "ok " n " - " $0; next}
             /^(test|     ) / && /FAILED/ {n++; print "not ok " n " - " $0; next}
             {print "# " $0}'
    local rc=${PIPESTATUS[0]}
    [ -f "$LOGDIR/isolation/regression.diffs" ] && sed 's/^/# /' "$LOGDIR/isolation/regression.diffs" | head -200
    return "$rc"
}

# End-to-end tests: every executable test/e2e/*.t prints TAP.  They get the
# shared cluster (PGHOST/PGPORT) and the stage; those that need to stop a
# server start their own with test/lib/common.sh.
suite_e2e() {
    local t rc=0
    for t in test/e2e/*.t; do
        [ -x "$t" ] || continue
        echo "# $t"
        "$t" || rc=1
    done
    return $rc
}

for s in $SUITES; do
    run_suite "$s" "suite_$s"
done

[ "$LOST" -eq 0 ] || echo "# $LOST planned tests never ran (counted as failed)"
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ] && [ "$PASSED" -gt 0 ]
