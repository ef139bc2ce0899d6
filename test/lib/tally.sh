# test/lib/tally.sh: count the TAP results of a finished suite.  Sourced by
# test/run.sh (and by test/e2e/02_runner_tally.t, which checks it).
#
#   tally NAME LOGFILE EXIT    adds to the globals PASSED, FAILED, LOST and
#                              SKIPPED and prints "# suite NAME: ..." (plus
#                              the failing lines when something failed)
#   tap_counts LOGFILE         prints "ok not_ok lost skipped" for a log
#
# An "ok" line with a "# SKIP" directive (pgTAP's skip(), an e2e script's
# skip) is counted as skipped, not as passed; it still counts as run for the
# plan.
#
# A log may hold several TAP streams (pg_prove -v prints one per pgTAP file,
# the e2e suite one per script).  A stream ends at a line naming a test file
# (a path ending in .sql or .t, alone or followed by " ..", possibly after
# "# ": pg_prove's "test/pgtap/x.sql .." header, the e2e runner's
# "# test/e2e/x.t"), at a second plan line, or when the test numbers start
# again at or below the last one.  A stream whose plan "1..N" promised more
# tests than it printed (a pgTAP file that aborted on an error, a script
# that died) counts every missing test as failed: they are "lost".  A suite
# that exits non-zero without any failing or lost test still counts one
# failure.

PASSED=${PASSED:-0}
FAILED=${FAILED:-0}
LOST=${LOST:-0}
SKIPPED=${SKIPPED:-0}

tap_counts() {
    awk '
        function close_stream() {
            if (planned > ran) lost += planned - ran
            planned = -1; ran = 0; last = 0
        }
        BEGIN { planned = -1; ran = 0; last = 0 }
        /^[[:space:]]*(# )?[^[:space:]#][^[:space:]]*\.(sql|t)( \.+)?[[:space:]]*$/ { close_stream(); next }
        /^[[:space:]]*1\.\.[0-9]+/ {
            if (planned >= 0) close_stream()
            planned = $0; sub(/^[[:space:]]*1\.\./, "", planned); planned = planned + 0
            next
        }
        /^[[:space:]]*(not )?ok [0-9]+/ {
            line = $0; sub(/^[[:space:]]*(not )?ok /, "", line); n = line + 0
            if (ran > 0 && n <= last) close_stream()
            last = n; ran++
            if ($0 ~ /^[[:space:]]*not ok/) notok++
            else if ($0 ~ /#[[:space:]]*[Ss][Kk][Ii][Pp]([[:space:]]|$)/) skipped++
            else ok++
        }
        END { close_stream(); printf "%d %d %d %d\n", ok, notok, lost, skipped }
    ' "$1"
}

tally() {
    local name=$1 log=$2 rc=$3 ok notok lost skipped failed skipnote=
    read -r ok notok lost skipped < <(tap_counts "$log")
    failed=$((notok + lost))
    if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
    PASSED=$((PASSED + ok))
    FAILED=$((FAILED + failed))
    LOST=$((LOST + lost))
    SKIPPED=$((SKIPPED + skipped))
    [ "$skipped" -eq 0 ] || skipnote=", $skipped skipped"
    echo "# suite $name: $ok passed, $failed failed$skipnote ($notok not ok, $lost planned but never run) (log: $log)"
    if [ "$failed" -ne 0 ]; then
        grep -E '^[[:space:]]*not ok|^#|planned|Bad plan|Dubious' "$log" | head -60
    fi
}
