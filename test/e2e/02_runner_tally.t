#!/usr/bin/env bash
# test/e2e/02_runner_tally.t: the runner's tally (test/lib/tally.sh) counts
# every test a plan promised but that never ran as failed.  First on
# hand-written logs, then on real pg_prove output: a deliberately aborting
# pgTAP file (plan 5, two passes, then an error), written to a scratch
# directory (it is not part of the pgTAP suite), run next to a good file in a
# scratch database of the runner's cluster, exactly as test/run.sh runs the
# pgTAP suite.
set -uo pipefail
ROOT=${SW_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$ROOT/test/lib/tap.sh"
DB="sw_tally_$$"
WORK=$(mktemp -d /tmp/sw-tally.XXXXXX)
cleanup() {
    psql -qX -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1
    rm -rf "$WORK"
}
trap cleanup EXIT

# the tally's own globals, apart from this script's N and FAILED
tally_of() {  # tally_of LOGFILE EXIT: "passed failed lost" after one tally
    (
        PASSED=0 FAILED=0 LOST=0
        . "$ROOT/test/lib/tally.sh"
        tally t "$1" "$2" >/dev/null
        echo "$PASSED $FAILED $LOST"
    )
}
log() {  # log NAME LINE...: a log file with these lines
    local f="$WORK/$1.log"; shift
    printf '%s\n' "$@" >"$f"
    echo "$f"
}

echo "1..14"

is "$(tally_of "$(log complete '1..3' 'ok 1 - a' 'ok 2 - b' 'not ok 3 - c')" 1)" "2 1 0" \
    "plan at the start, all ran: 2 passed, 1 failed, nothing lost"
is "$(tally_of "$(log aborted 'test/pgtap/x.sql .. ' '1..5' 'ok 1 - a' 'ok 2 - b' 'Dubious, test returned 3')" 1)" "2 3 3" \
    "an aborted pgTAP file: the 3 tests it never ran count as failed"
is "$(tally_of "$(log plan_last 'ok 1 - a' 'ok 2 - b' '1..2')" 0)" "2 0 0" \
    "plan at the end (as the unit tests print it): nothing lost"
is "$(tally_of "$(log two_files 'test/pgtap/a.sql .. ' '1..4' 'ok 1' 'test/pgtap/b.sql .. ' '1..2' 'ok 1' 'ok 2')" 1)" "3 3 3" \
    "two files, the first aborted after 1 of 4: 3 lost, the second complete"
is "$(tally_of "$(log e2e '# test/e2e/a.t' '1..3' 'ok 1' '# test/e2e/b.t' 'ok 1' '1..1')" 1)" "2 2 2" \
    "e2e scripts: one died after 1 of 3 (2 lost), the next prints its plan last"
is "$(tally_of "$(log no_separator '1..3' 'ok 1' 'ok 2' 'ok 3' 'ok 1' 'ok 2' '1..2')" 0)" "5 0 0" \
    "streams without a separator: a restart of the numbering starts a new stream"
is "$(tally_of "$(log exit_only 'ok 1' '1..1')" 2)" "1 1 0" \
    "a non-zero exit without a failing or lost test still counts one failure"
is "$(tally_of "$(log nothing_run 'test/pgtap/a.sql .. ' '1..7' 'pgtap/b.sql .. ' 'ok 1' '1..1')" 1)" "1 7 7" \
    "a file that planned 7 and died at once: 7 failed; the next file's plan comes last"

# skipped tests: pgTAP's skip() ("ok 2 # skip why"), an e2e skip ("ok 3 - # SKIP why")
skiplog=$(log skips '1..4' 'ok 1 - a' 'ok 2 # skip no such column' 'ok 3 - # SKIP no server log' 'not ok 4 - d')
is "$(. "$ROOT/test/lib/tally.sh"; tap_counts "$skiplog")" "1 1 0 2" \
    "skipped tests are counted as skipped, not passed, and as run for the plan"
is "$( (PASSED=0 FAILED=0 LOST=0 SKIPPED=0; . "$ROOT/test/lib/tally.sh"; tally t "$skiplog" 1 >/dev/null; echo "$PASSED $FAILED $LOST $SKIPPED") )" "1 1 0 2" \
    "the tally adds the skipped tests to SKIPPED only"

# the real thing: pg_prove -v over an aborting file and a good one
mkdir -p "$WORK/pgtap"
cat >"$WORK/pgtap/10_aborts.sql" <<'SQL'
BEGIN;
SELECT plan(5);
SELECT pass('one');
SELECT pass('two');
SELECT 1 / 0;
SELECT pass('three');
SELECT pass('four');
SELECT pass('five');
SELECT * FROM finish();
ROLLBACK;
SQL
cat >"$WORK/pgtap/20_fine.sql" <<'SQL'
BEGIN;
SELECT plan(2);
SELECT pass('fine one');
SELECT pass('fine two');
SELECT * FROM finish();
ROLLBACK;
SQL
psql -qX -v ON_ERROR_STOP=1 -d postgres -c "CREATE DATABASE $DB" >/dev/null &&
    psql -qX -v ON_ERROR_STOP=1 -d "$DB" -c "CREATE EXTENSION pgtap" >/dev/null
(cd "$WORK" && pg_prove -v -d "$DB" --ext .sql pgtap/) >"$WORK/pg_prove.log" 2>&1
rc=$?
ok "$([ "$rc" -ne 0 ]; echo $?)" "pg_prove fails on the aborting file (exit $rc)"
like "$(cat "$WORK/pg_prove.log")" 'planned 5 tests but ran 2' "pg_prove saw the aborted plan"
is "$(tally_of "$WORK/pg_prove.log" "$rc")" "4 3 3" \
    "tally of the real run: 4 passed, 3 failed (the 3 tests the aborted file never ran)"
(
    PASSED=0 FAILED=0 LOST=0
    . "$ROOT/test/lib/tally.sh"
    tally pgtap "$WORK/pg_prove.log" "$rc"
) >"$WORK/summary.out"
like "$(head -1 "$WORK/summary.out")" '^# suite pgtap: 4 passed, 3 failed \(0 not ok, 3 planned but never run\)' \
    "the summary line shows how much was lost"

[ "$FAILED" -eq 0 ]
