# test/lib/common.sh: shared shell helpers for tests, the demo and benchmarks.
#
# Source it from bash.  It gives:
#   sw_ensure_packages        install missing Debian packages (apt-get)
#   sw_build_stage            build the extension (+ relay) and install it into a
#                             private copy of PostgreSQL $SW_PG_VERSION ($SW_STAGE),
#                             never touching the system installation
#   sw_cluster_start NAME     initdb + start a throwaway cluster on a free port,
#                             socket under /tmp; exports PGHOST PGPORT PGUSER
#                             PGDATABASE SW_PGDATA SW_PGLOG SW_PGPID
#   sw_cluster_stop           stop the cluster started above, by its PID
#   sw_pg_ctl ARGS...         pg_ctl on that cluster as the right OS user
#   sw_shop_state DB          one line of what a delivery could write in DB
#
# Everything runs as the invoking user, except initdb/postgres which refuse
# root: as root they run as the "postgres" OS user.

SW_ROOT=${SW_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
# The PostgreSQL major version to build and test against: SW_PG_VERSION, else
# the one PG_CONFIG belongs to, else 15 (Debian bookworm's).  test/run.sh --pg
# sets it; test/pgversions.sh runs other versions in a chroot.
if [ -z "${SW_PG_VERSION:-}" ] && [ -n "${PG_CONFIG:-}" ]; then
    SW_PG_VERSION=$(sed -n 's|^/usr/lib/postgresql/\([0-9][0-9]*\)/bin/pg_config$|\1|p' <<<"$PG_CONFIG")
fi
SW_PG_VERSION=${SW_PG_VERSION:-15}
export SW_PG_VERSION
SW_PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/$SW_PG_VERSION/bin/pg_config}
SW_PKGS_BUILD="build-essential postgresql-$SW_PG_VERSION postgresql-server-dev-$SW_PG_VERSION postgresql-$SW_PG_VERSION-pgtap libtap-parser-sourcehandler-pgtap-perl libssl-dev libmicrohttpd-dev libpq-dev curl python3"

# sw_ensure_packages [extra packages...]: apt-get install whatever is missing.
sw_ensure_packages() {
    local want="$SW_PKGS_BUILD $*" missing="" p
    for p in $want; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
    done
    [ -z "$missing" ] && return 0
    if [ "$(id -u)" -ne 0 ]; then
        echo "missing Debian packages:$missing (run as root, or: sudo apt-get install$missing)" >&2
        return 1
    fi
    echo "# installing:$missing" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq --no-install-recommends $missing >&2
}

# Run a command as the OS user that owns clusters.
sw_as_pg() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

# sw_build_stage: build with warnings as errors and install into $SW_STAGE.
sw_build_stage() {
    local bindir
    bindir=$("$SW_PG_CONFIG" --bindir)
    SW_STAGE=${SW_STAGE:-$(mktemp -d /tmp/sw-stage.XXXXXX)}
    export SW_STAGE
    if [ ! -x "$SW_STAGE$bindir/postgres" ]; then
        mkdir -p "$SW_STAGE/usr/lib/postgresql" "$SW_STAGE/usr/share/postgresql"
        cp -a "$(dirname "$bindir")" "$SW_STAGE/usr/lib/postgresql/"
        cp -a "$("$SW_PG_CONFIG" --sharedir)" "$SW_STAGE/usr/share/postgresql/"
        # a packaged stripe_webhook installed on the system (Debian package)
        # must not mix with the one built here
        rm -rf "$SW_STAGE$("$SW_PG_CONFIG" --sharedir)"/extension/stripe_webhook[.-]* \
            "$SW_STAGE$("$SW_PG_CONFIG" --pkglibdir)"/stripe_webhook.so \
            "$SW_STAGE$("$SW_PG_CONFIG" --pkglibdir)"/bitcode/stripe_webhook*
    fi
    chmod 755 "$SW_STAGE"
    # objects built for another major version must not be linked into this one
    if [ "$(cat "$SW_ROOT/.sw-built-for" 2>/dev/null)" != "$SW_PG_CONFIG" ]; then
        make -C "$SW_ROOT" -s PG_CONFIG="$SW_PG_CONFIG" clean >&2
        echo "$SW_PG_CONFIG" >"$SW_ROOT/.sw-built-for"
    fi
    make -C "$SW_ROOT" -s PG_CONFIG="$SW_PG_CONFIG" \
        COPT="${SW_COPT:--Werror -Wextra -Wno-unused-parameter -Wno-sign-compare -Wno-missing-field-initializers}" >&2 ||
        return 1
    make -C "$SW_ROOT" -s PG_CONFIG="$SW_PG_CONFIG" install DESTDIR="$SW_STAGE" >&2 || return 1
    export SW_BINDIR="$SW_STAGE$bindir"
    export PATH="$SW_BINDIR:$PATH"
}

# sw_free_port: a TCP port nobody listens on.
sw_free_port() {
    local p
    while :; do
        p=$((20000 + RANDOM % 20000))
        (echo >"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
    done
}

# sw_pg_ctl ARGS...: pg_ctl on the current cluster.
sw_pg_ctl() {
    sw_as_pg "$SW_BINDIR/pg_ctl" -D "$SW_PGDATA" "$@"
}

# sw_cluster_start NAME [extra postgresql.conf lines...]
sw_cluster_start() {
    local name=${1:-sw}; shift || true
    [ -n "${SW_BINDIR:-}" ] || { echo "sw_build_stage first" >&2; return 1; }
    SW_CLUSTER_DIR=$(mktemp -d "/tmp/sw-$name.XXXXXX")
    chmod 755 "$SW_CLUSTER_DIR"
    [ "$(id -u)" -eq 0 ] && chown postgres: "$SW_CLUSTER_DIR"
    SW_PGDATA="$SW_CLUSTER_DIR/data"
    SW_PGLOG="$SW_CLUSTER_DIR/server.log"
    PGPORT=$(sw_free_port)
    sw_as_pg "$SW_BINDIR/initdb" -D "$SW_PGDATA" -U postgres -E UTF8 --locale=C.UTF-8 -A trust >/dev/null
    {
        echo "port = $PGPORT"
        echo "listen_addresses = '127.0.0.1'"
        echo "unix_socket_directories = '$SW_CLUSTER_DIR'"
        echo "max_connections = 200"
        echo "shared_buffers = 256MB"
        echo "fsync = off"
        echo "log_line_prefix = '%m [%p] %q%u@%d '"
        local l
        for l in "$@"; do echo "$l"; done
    } >>"$SW_PGDATA/postgresql.conf"
    sw_as_pg "$SW_BINDIR/pg_ctl" -D "$SW_PGDATA" -l "$SW_PGLOG" -w -t 60 start >/dev/null
    SW_PGPID=$(head -1 "$SW_PGDATA/postmaster.pid")
    export PGHOST="$SW_CLUSTER_DIR" PGPORT PGUSER=postgres PGDATABASE=postgres
    export SW_CLUSTER_DIR SW_PGDATA SW_PGLOG SW_PGPID
}

# sw_cluster_stop: fast shutdown of the cluster, by its PID; then remove it.
sw_cluster_stop() {
    [ -n "${SW_PGDATA:-}" ] || return 0
    if [ -f "$SW_PGDATA/postmaster.pid" ]; then
        SW_PGPID=$(head -1 "$SW_PGDATA/postmaster.pid")
        kill -INT "$SW_PGPID" 2>/dev/null || true
        local i
        for i in $(seq 1 100); do
            kill -0 "$SW_PGPID" 2>/dev/null || break
            sleep 0.1
        done
        kill -9 "$SW_PGPID" 2>/dev/null || true
    fi
    if [ -z "${SW_KEEP:-}" ]; then rm -rf "$SW_CLUSTER_DIR"; fi
    unset SW_PGDATA
}

# sw_shop_state DB: what a delivery could write in database DB, one line:
# events, orders, order items, carts/locked carts, every product's stock,
# and last the rejected-delivery counter ("${s% *}" drops the counter).
sw_shop_state() {
    psql -qAtX -v ON_ERROR_STOP=1 -d "$1" -c "
        SELECT (SELECT count(*) FROM stripe_webhook.events) || ' ' ||
               (SELECT count(*) FROM stripe_webhook.orders) || ' ' ||
               (SELECT count(*) FROM stripe_webhook.order_items) || ' ' ||
               (SELECT count(*) || '/' || count(*) FILTER (WHERE locked) FROM stripe_webhook.carts) || ' ' ||
               (SELECT coalesce(string_agg(stock::text, ',' ORDER BY id), '-') FROM stripe_webhook.products) || ' ' ||
               (SELECT coalesce(sum(count), 0) FROM stripe_webhook.rejected_deliveries)"
}

# The bindings the fulfilment suites run under: "builtin" (the extension's
# own tables) and the test shops of test/lib/shops/ (each with its
# <shop>.sql, <shop>.json and <shop>_compat.sql).  SW_TEST_BINDINGS narrows
# the list (e.g. SW_TEST_BINDINGS=django).
SW_BINDINGS=${SW_TEST_BINDINGS:-builtin django minimal}

# sw_db_prepare DB BINDING: in the (existing, empty) database DB, create the
# extension and, for a test shop, load the shop, bind it (in usd, the test
# sessions' currency) and put the compatibility views in place of the
# built-in tables (test/lib/shops/<shop>_compat.sql): the tests written
# against the built-in tables then run against the shop's own tables.
sw_db_prepare() {
    local db=$1 binding=$2
    psql -qX -v ON_ERROR_STOP=1 -d "$db" -c "CREATE EXTENSION IF NOT EXISTS stripe_webhook" >/dev/null || return 1
    [ "$binding" = builtin ] && return 0
    local shops="$SW_ROOT/test/lib/shops"
    [ -f "$shops/$binding.sql" ] && [ -f "$shops/$binding.json" ] && [ -f "$shops/${binding}_compat.sql" ] ||
        { echo "no test shop $binding in $shops" >&2; return 1; }
    psql -qX -v ON_ERROR_STOP=1 -d "$db" -v binding="$(cat "$shops/$binding.json")" \
        -f "$shops/$binding.sql" -f "$shops/${binding}_compat.sql" >/dev/null
}
