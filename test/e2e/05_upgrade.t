#!/usr/bin/env bash
# Upgrade path: for every released version that ships a full install script,
# CREATE EXTENSION at that version, ALTER EXTENSION UPDATE to the default
# version, and compare every object, definition, privilege and comment with
# a fresh install (test/lib/catalog.sql).  Also checks that each upgrade
# script in the chain exists and that the chain ends at the default version.
set -uo pipefail
cd "$(dirname "$0")/../.."
sharedir=$("$SW_BINDIR/pg_config" --sharedir)/extension
default=$(sed -n "s/^default_version[[:space:]]*=[[:space:]]*'\([^']*\)'.*/\1/p" stripe_webhook.control)
olds=$(ls extension/stripe_webhook--*.sql | grep -v -- '--.*--' | sed 's/.*stripe_webhook--\(.*\)\.sql/\1/' | grep -vx "$default" | sort -V)
n=$(( $(echo "$olds" | grep -c .) * 3 + 1 ))
echo "1..$n"
i=0
psqlq() { psql -qXAt -v ON_ERROR_STOP=1 "$@"; }

psqlq -c "DROP DATABASE IF EXISTS sw_upgrade_fresh" -c "CREATE DATABASE sw_upgrade_fresh" >/dev/null
psqlq -d sw_upgrade_fresh -c "CREATE EXTENSION stripe_webhook" >/dev/null
psqlq -d sw_upgrade_fresh -f test/lib/catalog.sql >/tmp/sw_upgrade_fresh.$$
i=$((i + 1))
if [ -s /tmp/sw_upgrade_fresh.$$ ]; then echo "ok $i - fresh install of $default describes $(wc -l </tmp/sw_upgrade_fresh.$$) facts"; else echo "not ok $i - fresh install describes nothing"; fi

for v in $olds; do
    db=sw_upgrade_from_${v//./_}
    psqlq -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null
    i=$((i + 1))
    if psqlq -d "$db" -c "CREATE EXTENSION stripe_webhook VERSION '$v'" >/dev/null 2>/tmp/sw_upgrade_err.$$; then
        echo "ok $i - CREATE EXTENSION stripe_webhook VERSION '$v'"
    else
        echo "not ok $i - CREATE EXTENSION stripe_webhook VERSION '$v'"; sed 's/^/# /' /tmp/sw_upgrade_err.$$
    fi
    i=$((i + 1))
    got=$(psqlq -d "$db" -c "ALTER EXTENSION stripe_webhook UPDATE" -c "SELECT extversion FROM pg_extension WHERE extname = 'stripe_webhook'" 2>/tmp/sw_upgrade_err.$$)
    if [ "$got" = "$default" ]; then
        echo "ok $i - ALTER EXTENSION UPDATE from $v reaches $default"
    else
        echo "not ok $i - ALTER EXTENSION UPDATE from $v reaches $default (got '$got')"; sed 's/^/# /' /tmp/sw_upgrade_err.$$
    fi
    i=$((i + 1))
    psqlq -d "$db" -f test/lib/catalog.sql >/tmp/sw_upgrade_up.$$
    if diff -u /tmp/sw_upgrade_fresh.$$ /tmp/sw_upgrade_up.$$ >/tmp/sw_upgrade_diff.$$; then
        echo "ok $i - upgraded from $v: objects, definitions, privileges and comments equal a fresh install"
    else
        echo "not ok $i - upgraded from $v differs from a fresh install"; sed 's/^/# /' /tmp/sw_upgrade_diff.$$ | head -80
    fi
    psqlq -c "DROP DATABASE $db" >/dev/null
done
psqlq -c "DROP DATABASE sw_upgrade_fresh" >/dev/null
rm -f /tmp/sw_upgrade_*.$$
