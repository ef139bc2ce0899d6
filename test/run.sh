#!/usr/bin/env bash
# test/run.sh: the whole test suite, on a throwaway cluster, on every
# supported PostgreSQL major version this machine can run.
#
#   ./test/run.sh [--pg VERSION]... [suite...]
#       suites: unit pgtap isolation e2e (default: all)
#       --pg VERSION: only this version (repeatable); SW_PG_VERSIONS="15 18"
#       does the same.  Default: 15 17 18.
#
# For each version: installs the missing Debian packages (as root), builds
# the extension and the relay with warnings as errors, installs them into a
# private copy of that PostgreSQL, starts a cluster on a free port, runs every
# suite (pgTAP and isolation under the built-in tables and each test shop of
# test/lib/shops/) and stops the cluster.  A version this machine's Debian
# release ships (15 on bookworm) runs here; the others run in a Debian chroot
# that ships them (test/pgversions.sh: 17 in trixie, 18 in testing).  Ends
# with the versions run and one line "N passed, N failed" summing them all
# (followed by ", N skipped" when tests were skipped: "# SKIP" lines are not
# counted as passed).  Exit status 0 only if nothing failed.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

VERSIONS=""
PACKAGES_ONLY=""
ARGS=()
while [ $# -gt 0 ]; do
    case $1 in
        --pg) VERSIONS="$VERSIONS ${2:?--pg needs a version}"; shift 2 ;;
        --pg=*) VERSIONS="$VERSIONS ${1#--pg=}"; shift ;;
        --packages-only) PACKAGES_ONLY=1; shift ;;
        *) ARGS+=("$1"); shift ;;
    esac
done
VERSIONS=${VERSIONS:-${SW_PG_VERSIONS:-15 17 18}}
VERSIONS=$(echo $VERSIONS)
SUITES=${ARGS[*]:-unit pgtap isolation e2e}

# pg_native VERSION: true if this machine can run VERSION itself (installed,
# or installable from its own Debian release).
pg_native() {
    [ -x "/usr/lib/postgresql/$1/bin/pg_config" ] && return 0
    [ -n "$(apt-cache policy "postgresql-server-dev-$1" 2>/dev/null | sed -n 's/^ *Candidate: *//p' | grep -v none)" ]
}

# More than one version, or one that runs in a chroot: run each version on
# its own (this script again, or test/pgversions.sh), pass its TAP through
# and sum its closing line into one.
# (SW_PG_HERE=1, set by test/pgversions.sh inside its chroot, means: run the
# one version given here.)
if [ "$VERSIONS" != "${VERSIONS%% *}" ] || { [ -z "${SW_PG_HERE:-}" ] && ! pg_native "$VERSIONS"; }; then
    [ -z "$PACKAGES_ONLY" ] || { echo "--packages-only takes one version" >&2; exit 2; }
    TOPLOG=${SW_TEST_LOGDIR:-$(mktemp -d /tmp/sw-testlog.XXXXXX)}
    mkdir -p "$TOPLOG"
    TP=0 TF=0 TS=0 RAN=""
    for v in $VERSIONS; do
        t0=$(date +%s)
        if pg_native "$v"; then
            how="native"
            cmd=(env SW_TEST_LOGDIR="$TOPLOG/pg$v" ./test/run.sh --pg "$v" $SUITES)
        else
            how="chroot"
            cmd=(./test/pgversions.sh "$v" $SUITES)
        fi
        echo "# ===== PostgreSQL $v ($how)"
        "${cmd[@]}" 2>&1 | tee "$TOPLOG/pg$v.out" |
            sed -E "s/^([0-9]+ passed, [0-9]+ failed.*)$/# PostgreSQL $v: \1/"
        summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$TOPLOG/pg$v.out" | tail -1)
        # the version's own closing line becomes a comment; a run that ended
        # without one (crashed, killed) counts as one failure
        read -r p f s <<<"$(sed -E 's/^([0-9]+) passed, ([0-9]+) failed(, ([0-9]+) skipped)?.*/\1 \2 \4/' <<<"${summary:-0 passed, 1 failed}")"
        [ -n "$summary" ] || f=1
        TP=$((TP + p)) TF=$((TF + f)) TS=$((TS + ${s:-0}))
        RAN="$RAN${RAN:+, }$v ($how: $p passed, $f failed, ${s:-0} skipped, $(($(date +%s) - t0)) s)"
    done
    echo "# PostgreSQL versions run: $RAN"
    echo "$TP passed, $TF failed, $TS skipped"
    [ "$TF" -eq 0 ] && [ "$TP" -gt 0 ]
    exit
fi

export SW_PG_VERSION=$VERSIONS
. test/lib/common.sh

E2E_PKGS=${SW_E2E_PKGS-python3-django python3-psycopg2 python3-stripe python3-venv python3-pip python3-setuptools wrk libipc-run-perl clang}
if [ -n "$PACKAGES_ONLY" ]; then
    sw_ensure_packages $E2E_PKGS
    exit
fi

LOGDIR=${SW_TEST_LOGDIR:-$(mktemp -d /tmp/sw-testlog.XXXXXX)}
mkdir -p "$LOGDIR"
PASSED=0
FAILED=0
LOST=0
SKIPPED=0

# tally NAME LOGFILE EXIT (test/lib/tally.sh): count the TAP lines of a
# finished suite; every test a plan promised but that never ran (a pgTAP
# file that aborted) counts as failed; "ok ... # SKIP" lines count as
# skipped, not passed.
. test/lib/tally.sh

# run_suite NAME CMD...: run a TAP-producing command, echo it, tally it.
run_suite() {
    local name=$1; shift
    local log="$LOGDIR/$name.log"
    echo "# --- $name (PostgreSQL $SW_PG_VERSION)"
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

sw_ensure_packages $E2E_PKGS || exit 1
sw_build_stage || { echo "0 passed, 1 failed"; exit 1; }
sw_cluster_start test "shared_preload_libraries = ''" || { echo "0 passed, 1 failed"; exit 1; }

# Plain-C unit tests of the signature parser: no server involved.
suite_unit() {
    make -s -C test/unit run
}

# Files that check the built-in tables themselves, or that never fulfil or
# deliver, run under the built-in tables only; every other pgTAP file and
# isolation spec runs under every binding of $SW_BINDINGS (the built-in
# tables and each test shop of test/lib/shops/, seen through its
# compatibility views: see test/README.md, "Bound shops").
BUILTIN_ONLY_PGTAP="
    00_install.sql            extension catalogue entry, settings prefix
    10_signature_vectors.sql  signature verification only: nothing fulfilled
    11_signature_api.sql      signature verification only: nothing fulfilled
    20_fulfil_schema.sql      columns, constraints and defaults of the built-in tables
    50_binding.sql            binds and unbinds shops itself
    52_bound_bigint_orders.sql binds the minimal shop (bigint order ids) itself
    55_binding_fulfil.sql     binds its own shops inside its transaction
    65_holds.sql              stock holds on the built-in tables (66_holds_binding.sql: on bound shops)
    65_refunds.sql            refunds and disputes on the built-in tables (66_refunds_binding.sql: bound)
    66_holds_binding.sql      binds the Django-shaped and minimal shops itself
    66_refunds_binding.sql    binds the Django-shaped shop itself
"
# The holds and refund specs set up the built-in tables directly; their
# behaviour on bound shops is covered by the 66_*_binding.sql files.
BUILTIN_ONLY_SPECS="
    holds-cart-changed        built-in tables (bound: 66_holds_binding.sql)
    holds-last-units          built-in tables (bound: 66_holds_binding.sql)
    holds-release-completed   built-in tables (bound: 66_holds_binding.sql)
    holds-same-cart           built-in tables (bound: 66_holds_binding.sql)
    refund-before-order       built-in tables (bound: 66_refunds_binding.sql)
"

# builtin_only LIST NAME: 0 if NAME is on the built-in-only LIST
builtin_only() {
    printf '%s\n' "$1" | awk '{print $1}' | grep -qxF "$2"
}

# pgTAP: each file in its own transaction, rolled back, in one database per
# binding.
suite_pgtap() {
    local binding f files db rc=0
    for binding in $SW_BINDINGS; do
        db=sw_pgtap_$binding
        files=
        for f in test/pgtap/*.sql; do
            if [ "$binding" != builtin ] && builtin_only "$BUILTIN_ONLY_PGTAP" "$(basename "$f")"; then
                echo "# binding $binding: $(basename "$f") skipped (built-in tables only)"
                continue
            fi
            files="$files $f"
        done
        echo "# binding $binding: running$files"
        psql -qX -v ON_ERROR_STOP=1 -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null &&
            psql -qX -v ON_ERROR_STOP=1 -d "$db" -c "CREATE EXTENSION pgtap" >/dev/null &&
            sw_db_prepare "$db" "$binding" || { echo "not ok - binding $binding: database prepared"; rc=1; continue; }
        # every test line names the binding it ran under
        local t0=$SECONDS
        pg_prove -v -d "$db" $files 2>&1 | sed -E "s/^((not )?ok [0-9]+) - /\1 - [$binding] /"
        [ "${PIPESTATUS[0]}" -eq 0 ] || rc=1
        echo "# binding $binding: pgtap took $((SECONDS - t0)) s"
    done
    return $rc
}

# isolationtester specs, under each binding; each spec is one test.  The
# expected output is the same under every binding.  With --use-existing
# pg_regress neither creates the database nor loads extensions: the
# database is prepared first (sw_db_prepare).
suite_isolation() {
    local specs binding db spec run rc=0
    specs=$(ls test/isolation/specs/*.spec 2>/dev/null | xargs -n1 basename 2>/dev/null | sed 's/\.spec$//')
    [ -n "$specs" ] || { echo "1..0 # no isolation specs"; return 0; }
    local pgxsdir
    pgxsdir=$(dirname "$("$SW_PG_CONFIG" --pgxs)")/..
    for binding in $SW_BINDINGS; do
        db=sw_isolation_$binding
        run=
        for spec in $specs; do
            if [ "$binding" != builtin ] && builtin_only "$BUILTIN_ONLY_SPECS" "$spec"; then
                echo "# binding $binding: $spec skipped (built-in tables only)"
                continue
            fi
            run="$run $spec"
        done
        echo "# binding $binding: running$run"
        psql -qX -v ON_ERROR_STOP=1 -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null &&
            sw_db_prepare "$db" "$binding" || { echo "not ok - binding $binding: database prepared"; rc=1; continue; }
        local t0=$SECONDS
        # PostgreSQL 16+ pg_regress prints TAP itself; 15 prints "test x ... ok"
        "$pgxsdir/test/isolation/pg_isolation_regress" \
            --bindir="$SW_BINDIR" --host="$PGHOST" --port="$PGPORT" --user=postgres \
            --inputdir=test/isolation --outputdir="$LOGDIR/isolation-$binding" \
            --use-existing --dbname="$db" $run |
            awk -v b="$binding" '/^(not )?ok [0-9]+ / {n++; st = ($1 == "not") ? "not ok" : "ok"; l = $0;
                                  sub(/^(not )?ok [0-9]+ +(- )?/, "", l); print st " " n " - [" b "] " l; next}
                 /^(test|     ) / && / ok / {n++; print "ok " n " - [" b "] " $0; next}
                 /^(test|     ) / && /FAILED/ {n++; print "not ok " n " - [" b "] " $0; next}
                 {print "# " $0}'
        [ "${PIPESTATUS[0]}" -eq 0 ] || rc=1
        echo "# binding $binding: isolation took $((SECONDS - t0)) s"
        [ -f "$LOGDIR/isolation-$binding/regression.diffs" ] &&
            sed 's/^/# /' "$LOGDIR/isolation-$binding/regression.diffs" | head -200
    done
    return "$rc"
}

# End-to-end tests: every executable test/e2e/*.t prints TAP.  They get the
# shared cluster (PGHOST/PGPORT) and the stage; those that need to stop a
# server start their own with test/lib/common.sh.  SW_E2E_SKIP lists files
# not to run here, one "NAME.t:reason" a line (test/pgversions.sh sets it);
# each is reported as a skipped test.  SW_E2E_ONLY="NAME.t ..." runs only
# those files.
suite_e2e() {
    local t rc=0 why
    for t in test/e2e/*.t; do
        [ -x "$t" ] || continue
        if [ -n "${SW_E2E_ONLY:-}" ] && ! grep -qw -- "$(basename "$t")" <<<"$SW_E2E_ONLY"; then
            continue
        fi
        echo "# $t"
        local t0=$SECONDS
        why=$(sed -n "s|^$(basename "$t"):||p" <<<"${SW_E2E_SKIP:-}")
        if [ -n "$why" ]; then
            echo "ok 1 - $(basename "$t") # SKIP $why"
            continue
        fi
        "$t" || rc=1
        echo "# $t took $((SECONDS - t0)) s"
    done
    return $rc
}

for s in $SUITES; do
    run_suite "$s" "suite_$s"
done

echo "# bindings: $SW_BINDINGS (pgtap and isolation under each; e2e storm and faults under builtin and django)"
[ "$LOST" -eq 0 ] || echo "# $LOST planned tests never ran (counted as failed)"
echo "# PostgreSQL versions run: $SW_PG_VERSION ($("$SW_PG_CONFIG" --version))"
if [ "$SKIPPED" -eq 0 ]; then
    echo "$PASSED passed, $FAILED failed"
else
    echo "$PASSED passed, $FAILED failed, $SKIPPED skipped"
fi
[ "$FAILED" -eq 0 ] && [ "$PASSED" -gt 0 ]
