#!/usr/bin/env bash
# test/pgversions.sh: run the test suite on a PostgreSQL major version that
# this machine's Debian release does not ship, inside a Debian chroot that
# ships it.
#
#   ./test/pgversions.sh VERSION [suite...]     e.g. ./test/pgversions.sh 18 pgtap
#
# VERSION 17 runs in Debian trixie, 18 in Debian testing (forky).  The chroot
# lives in $SW_CHROOT_CACHE/<release> (default /var/cache/stripe-webhook-test)
# and is reused when present; a missing one is made with debootstrap
# (--variant=minbase, about half a minute) and its packages are installed by
# the suite's own sw_ensure_packages (about two minutes the first time).
# For the run, /proc, /dev and /dev/shm are mounted in the chroot and a copy
# of this tree (tracked and untracked files, no build products) is put in its
# /src/stripe_webhook, so builds for another major version never touch this
# tree; then ./test/run.sh --pg VERSION runs there with PG_CONFIG pointing at
# that version.  Everything is unmounted on exit, whatever happens.
#
# Prints the suite's TAP and its "N passed, N failed" line; exit status is the
# suite's.  Needs root (debootstrap, mount, chroot).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
SW_ROOT=$PWD
. test/lib/common.sh

SW_CHROOT_CACHE=${SW_CHROOT_CACHE:-/var/cache/stripe-webhook-test}

# pg_release VERSION: the Debian suite that ships postgresql-VERSION.
pg_release() {
    case $1 in
        17) echo trixie ;;
        18) echo testing ;;
        *) return 1 ;;
    esac
}

# e2e files that do not run in a chroot, and why (printed as TAP skips).
E2E_SKIP="60_fuzz.t:src/stripe_sig.c does not use PostgreSQL: fuzzed on the native version only
90_debian_package.t:the Debian package is built and installed on the native system only
91_meta.t:META.json and make dist do not depend on the PostgreSQL version: checked on the native run"

# what the e2e files that do run need beyond test/lib/common.sh's list
E2E_PKGS="libipc-run-perl python3-django python3-psycopg2 python3-stripe python3-venv python3-pip python3-setuptools"

VERSION=${1:-}
[ -n "$VERSION" ] || { echo "usage: $0 VERSION [suite...]" >&2; exit 2; }
shift
RELEASE=$(pg_release "$VERSION") || {
    echo "PostgreSQL $VERSION: no Debian release configured for it (17: trixie, 18: testing)" >&2
    echo "0 passed, 1 failed"
    exit 1
}
[ "$(id -u)" -eq 0 ] || { echo "$0 needs root (debootstrap, mount, chroot)" >&2; echo "0 passed, 1 failed"; exit 1; }

ROOT="$SW_CHROOT_CACHE/$RELEASE"
MOUNTS=()

# umount_all: undo every mount made here, innermost first.
umount_all() {
    local i
    for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do
        umount "${MOUNTS[$i]}" 2>/dev/null || umount -l "${MOUNTS[$i]}" 2>/dev/null ||
            echo "# could not unmount ${MOUNTS[$i]}" >&2
    done
    MOUNTS=()
}
trap umount_all EXIT
trap 'exit 130' INT TERM

# mount_in TYPE SRC DIR: mount SRC (a bind mount when TYPE is "bind") on
# DIR inside the chroot, and remember it for umount_all.
mount_in() {
    local type=$1 src=$2 dir=$ROOT$3
    mkdir -p "$dir"
    if mountpoint -q "$dir"; then
        echo "# $dir is already mounted (another run?)" >&2
        return 1
    fi
    if [ "$type" = bind ]; then
        mount --bind "$src" "$dir" || return 1
    else
        mount -t "$type" "$src" "$dir" || return 1
    fi
    MOUNTS+=("$dir")
}

# in_chroot CMD...: run a command in the chroot with a clean environment.
in_chroot() {
    chroot "$ROOT" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM=dumb \
        PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        DEBIAN_FRONTEND=noninteractive "$@"
}

# make_chroot: debootstrap $RELEASE into $ROOT (through a temporary directory,
# so that an interrupted run never leaves a half-made chroot behind) and
# configure apt and postgresql-common for a build box.
make_chroot() {
    local tmp="$ROOT.tmp"
    if [ -d "$tmp" ]; then
        # left by an interrupted run: nothing may be mounted below it
        if grep -q " $tmp/" /proc/mounts; then
            echo "# $tmp has mounts below it; not removing it" >&2
            return 1
        fi
        rm -rf "$tmp"
    fi
    sw_ensure_host_packages debootstrap || return 1
    mkdir -p "$SW_CHROOT_CACHE"
    echo "# debootstrap $RELEASE into $ROOT" >&2
    debootstrap --variant=minbase --include=ca-certificates "$RELEASE" "$tmp" >"$SW_CHROOT_CACHE/$RELEASE.debootstrap.log" 2>&1 || {
        tail -20 "$SW_CHROOT_CACHE/$RELEASE.debootstrap.log" >&2
        return 1
    }
    # the testing suite's Release file may be past its Valid-Until
    cat >"$tmp/etc/apt/apt.conf.d/99stripe-webhook-test" <<'EOF'
Acquire::Check-Valid-Until "false";
Acquire::Languages "none";
APT::Install-Recommends "false";
EOF
    # no services start inside the chroot, and installing postgresql-NN
    # creates no cluster (the tests make their own)
    printf '#!/bin/sh\nexit 101\n' >"$tmp/usr/sbin/policy-rc.d"
    chmod 755 "$tmp/usr/sbin/policy-rc.d"
    mkdir -p "$tmp/etc/postgresql-common"
    echo "create_main_cluster = false" >"$tmp/etc/postgresql-common/createcluster.conf"
    mv "$tmp" "$ROOT"
}

# sw_ensure_host_packages PKG...: apt-get install on this machine what is missing.
sw_ensure_host_packages() {
    local p missing=""
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
    done
    [ -z "$missing" ] && return 0
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >&2
}

# copy_tree: this tree's tracked and untracked (not ignored) files into the
# chroot's /src/stripe_webhook, replacing the copy of an earlier run.
copy_tree() {
    local dest="$ROOT/src/stripe_webhook"
    rm -rf "$dest"
    mkdir -p "$dest"
    if git -C "$SW_ROOT" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
        git -C "$SW_ROOT" ls-files -z -c -o --exclude-standard |
            while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
            tar -C "$SW_ROOT" --null -T - -cf - | tar -C "$dest" -xf -
    else
        tar -C "$SW_ROOT" --exclude='*.o' --exclude='*.so' --exclude='*.bc' -cf - . | tar -C "$dest" -xf -
    fi
}

# one run at a time per chroot: a second one waits for the first
mkdir -p "$SW_CHROOT_CACHE"
exec 9>"$SW_CHROOT_CACHE/$RELEASE.lock"
flock 9
# holding the lock, any mount still below the chroot was left by a run that
# was killed before it could clean up
awk -v r="$ROOT/" 'index($2, r) == 1 {print $2}' /proc/mounts | sort -r | while read -r m; do
    umount "$m" 2>/dev/null || umount -l "$m"
done

T0=$(date +%s)
if [ ! -x "$ROOT/usr/bin/apt-get" ]; then
    make_chroot || { echo "0 passed, 1 failed"; exit 1; }
    echo "# PostgreSQL $VERSION: chroot $ROOT made in $(($(date +%s) - T0)) s" >&2
fi

mount_in proc proc /proc &&
    mount_in bind /dev /dev &&
    mount_in bind /dev/shm /dev/shm || { echo "0 passed, 1 failed"; exit 1; }
cp -L /etc/resolv.conf "$ROOT/etc/resolv.conf" 2>/dev/null || true
copy_tree || { echo "0 passed, 1 failed"; exit 1; }

# The Django tests (test/lib/djshop.py) read an existing shop and the Stripe
# fixtures from outside the tree: copy them in as well, when they are here.
SHARED_ENV=()
rm -rf "$ROOT/src/shared"
SHARED_DIR=$(cd "$(dirname "$0")/../.." && pwd)/shared
[ -d "$SHARED_DIR" ] || SHARED_DIR=/work/shared
for spec in "SW_EXISTING_SHOP=${SW_EXISTING_SHOP:-$SHARED_DIR/existing-shop}" \
    "SW_FIXTURES=${SW_FIXTURES:-$SHARED_DIR/fixtures}"; do
    src=${spec#*=}
    [ -d "$src" ] || continue
    mkdir -p "$ROOT/src/shared"
    cp -a "$src" "$ROOT/src/shared/$(basename "$src")" &&
        SHARED_ENV+=("${spec%%=*}=/src/shared/$(basename "$src")")
done

# The packages: the same list the suite installs natively (test/lib/common.sh
# and test/run.sh), for this version.  The first time this takes a couple of
# minutes; afterwards it finds nothing missing.
T1=$(date +%s)
in_chroot bash -c "cd /src/stripe_webhook && SW_PG_HERE=1 SW_E2E_PKGS='$E2E_PKGS' ./test/run.sh --pg $VERSION --packages-only" >"$SW_CHROOT_CACHE/$RELEASE.packages.log" 2>&1 || {
    tail -30 "$SW_CHROOT_CACHE/$RELEASE.packages.log" >&2
    echo "# PostgreSQL $VERSION: installing packages in $ROOT failed (log: $SW_CHROOT_CACHE/$RELEASE.packages.log)" >&2
    echo "0 passed, 1 failed"
    exit 1
}
echo "# PostgreSQL $VERSION: chroot packages ready in $(($(date +%s) - T1)) s" >&2

T2=$(date +%s)
rm -rf "$ROOT/tmp/sw-testlog-pg$VERSION"
in_chroot bash -c 'cd /src/stripe_webhook && exec "$@"' run \
    env "${SHARED_ENV[@]}" SW_PG_HERE=1 SW_E2E_PKGS="$E2E_PKGS" PG_CONFIG="/usr/lib/postgresql/$VERSION/bin/pg_config" \
    SW_E2E_SKIP="$E2E_SKIP" SW_E2E_ONLY="${SW_E2E_ONLY:-}" SW_TEST_LOGDIR="/tmp/sw-testlog-pg$VERSION" \
    ./test/run.sh --pg "$VERSION" "$@"
rc=$?
echo "# PostgreSQL $VERSION: suites ran in $(($(date +%s) - T2)) s (logs: $ROOT/tmp/sw-testlog-pg$VERSION)" >&2
exit $rc
