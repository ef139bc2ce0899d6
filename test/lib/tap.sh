# test/lib/tap.sh: TAP output for the shell test scripts (test/e2e/*.t and
# friends).  Source it from bash; it keeps the counters N (tests run) and
# FAILED (tests failed), which the script uses for its plan and exit status.
#
#   ok COND DESCRIPTION [DIAGNOSTIC]   COND "0" passes (use $? of a check)
#   is GOT EXPECTED DESCRIPTION        string equality
#   like GOT EXTENDED-REGEX DESCRIPTION

N=${N:-0}
FAILED=${FAILED:-0}

ok() {
    N=$((N + 1))
    if [ "$1" = 0 ]; then
        echo "ok $N - $2"
    else
        FAILED=$((FAILED + 1))
        echo "not ok $N - $2"
        [ -n "${3:-}" ] && printf '%s\n' "$3" | sed 's/^/#   /'
    fi
    return 0
}

is() {
    [ "$1" = "$2" ]
    ok $? "$3" "got:      '$1'"$'\n'"expected: '$2'"
}

# The diagnostic shows at most 300 characters of GOT (bodies can be large).
like() {
    printf '%s' "$1" | grep -qE -- "$2"
    ok $? "$3" "got:      '${1:0:300}'"$'\n'"expected: /$2/"
}
