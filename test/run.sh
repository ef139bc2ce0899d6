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
# suite and stops the cluster.  A version this machine's Debian release ships
# (15 on bookworm) runs here; the others run in a Debian chroot that ships
# them (test/pgversions.sh: 17 in trixie, 18 in testing).  Ends with the
# versions run and one line "N passed, N failed, N skipped" summing them all.
# Exit status 0 only if nothing failed.
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
# file that aborted) counts as failed.
. test/lib/tally.sh

# skips NAME LOGFILE: "ok N ... # SKIP" lines count as skipped, not passed.
skips() {
    local skip
    skip=$(grep -ciE '^[[:space:]]*ok [0-9]+.*#[[:space:]]*skip' "$2")
    [ "$skip" -gt 0 ] || return 0
    PASSED=$((PASSED - skip))
    SKIPPED=$((SKIPPED + skip))
    echo "# suite $1: $skip of those passed were skipped"
}

# run_suite NAME CMD...: run a TAP-producing command, echo it, tally it.
run_suite() {
    local name=$1; shift
    local log="$LOGDIR/$name.log"
    echo "# --- $name (PostgreSQL $SW_PG_VERSION)"
    "$@" >"$log" 2>&1
    local rc=$?
    sed 's/^/    /' "$log" | grep -vE '^\s*$' | tail -n 400
    tally "$name" "$log" "$rc"
    skips "$name" "$log"
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
    # PostgreSQL 16+ pg_regress prints TAP itself; 15 prints "test x ... ok".
    # No --use-existing: with it pg_regress neither creates the database nor
    # runs --load-extension (it expects both done); without it, it drops and
    # recreates sw_isolation with the extension on the running server
    "$pgxsdir/test/isolation/pg_isolation_regress" \
        --bindir="$SW_BINDIR" --host="$PGHOST" --port="$PGPORT" --user=postgres \
        --inputdir=test/isolation --outputdir="$LOGDIR/isolation" \
        --dbname=sw_isolation --load-extension=stripe_webhook $specs |
        awk '/^(not )?ok [0-9]+ / {print; next}
             /^(test|     ) / && / ok / {n++; print "ok " n " - " $0; next}
             /^(test|     ) / && /FAILED/ {n++; print "not ok " n " - " $0; next}
             {print "# " $0}'
    local rc=${PIPESTATUS[0]}
    [ -f "$LOGDIR/isolation/regression.diffs" ] && sed 's/^/# /' "$LOGDIR/isolation/regression.diffs" | head -200
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
        why=$(sed -n "s|^$(basename "$t"):||p" <<<"${SW_E2E_SKIP:-}")
        if [ -n "$why" ]; then
            echo "ok 1 - $(basename "$t") # SKIP $why"
            continue
        fi
        "$t" || rc=1
    done
    return $rc
}

for s in $SUITES; do
    run_suite "$s" "suite_$s"
done

[ "$LOST" -eq 0 ] || echo "# $LOST planned tests never ran (counted as failed)"
echo "# PostgreSQL versions run: $SW_PG_VERSION ($("$SW_PG_CONFIG" --version))"
echo "$PASSED passed, $FAILED failed, $SKIPPED skipped"
[ "$FAILED" -eq 0 ] && [ "$PASSED" -gt 0 ]
