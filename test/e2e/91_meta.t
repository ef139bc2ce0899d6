#!/usr/bin/env bash
# test/e2e/91_meta.t: the PGXN distribution.
#
#   1. META.json follows the PGXN meta spec 1.0.0 (https://pgxn.org/spec/):
#      every required key (name, abstract, maintainer, license, provides,
#      meta-spec, version), semantic versions, a license PGXN knows, the
#      extension's version equal to default_version in stripe_webhook.control,
#      its file and docfile present, PostgreSQL 15.0.0 as runtime prereq.
#      The checker is also fed broken copies and must reject each one.
#   2. make dist gives stripe_webhook-<version>.zip: exactly the files of the
#      committed tree under stripe_webhook-<version>/, META.json among them.
#
# Needs no server.  Prints TAP; the plan comes last.
set -uo pipefail
SW_ROOT=${SW_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$SW_ROOT/test/lib/common.sh"
. "$SW_ROOT/test/lib/tap.sh"
PY=/usr/bin/python3
WORK=$(mktemp -d /tmp/sw-meta.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

# check_meta META ROOT: prints one line per problem of META (a META.json)
# against the tree ROOT; nothing when it is valid.
check_meta() {
    "$PY" - "$1" "$2" <<'PY'
import json, os, re, sys
path, root = sys.argv[1:]
problems = []
def bad(msg):
    problems.append(msg)
try:
    meta = json.load(open(path))
except ValueError as e:
    print("not JSON: %s" % e)
    sys.exit(0)
semver = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z-]+)?$")
for key in ("name", "abstract", "maintainer", "license", "provides", "meta-spec", "version"):
    if key not in meta or meta[key] in ("", [], {}):
        bad("required key missing: %s" % key)
control = open(os.path.join(root, "stripe_webhook.control")).read()
m = re.search(r"^default_version\s*=\s*'([^']*)'", control, re.M)
default_version = m.group(1) if m else None
if meta.get("name") != "stripe_webhook":
    bad("name is %r, not stripe_webhook" % meta.get("name"))
if not semver.match(str(meta.get("version", ""))):
    bad("version %r is not a semantic version" % meta.get("version"))
if meta.get("version") != default_version:
    bad("version %r is not default_version %r" % (meta.get("version"), default_version))
if meta.get("meta-spec", {}).get("version") != "1.0.0":
    bad("meta-spec version is not 1.0.0")
licenses = {"agpl_3", "apache_1_1", "apache_2_0", "artistic_1", "artistic_2", "bsd", "freebsd",
            "gfdl_1_2", "gfdl_1_3", "gpl_1", "gpl_2", "gpl_3", "lgpl_2_1", "lgpl_3_0", "mit",
            "mozilla_1_0", "mozilla_1_1", "openssl", "perl_5", "postgresql", "qpl_1_0", "ssleay",
            "sun", "zlib", "open_source", "restricted", "unrestricted", "unknown"}
lic = meta.get("license")
if isinstance(lic, str) and lic not in licenses:
    bad("license %r is not one PGXN knows" % lic)
ext = meta.get("provides", {}).get("stripe_webhook")
if not isinstance(ext, dict):
    bad("provides has no stripe_webhook")
else:
    if ext.get("version") != default_version:
        bad("provides.stripe_webhook.version %r is not default_version %r" % (ext.get("version"), default_version))
    for k in ("file", "docfile"):
        if k in ext and not os.path.isfile(os.path.join(root, ext[k])):
            bad("provides.stripe_webhook.%s %r does not exist" % (k, ext[k]))
    if "file" not in ext:
        bad("provides.stripe_webhook.file missing")
pg = meta.get("prereqs", {}).get("runtime", {}).get("requires", {}).get("PostgreSQL")
if pg != "15.0.0":
    bad("prereqs.runtime.requires.PostgreSQL is %r, not 15.0.0" % pg)
for line in problems:
    print(line)
PY
}

# --- 1. META.json ----------------------------------------------------------------

OUT=$(check_meta "$SW_ROOT/META.json" "$SW_ROOT")
is "$OUT" "" "META.json: required keys, versions, license, provides and prereqs are right"
CTRLVER=$(sed -n "s/^default_version[[:space:]]*=[[:space:]]*'\([^']*\)'.*/\1/p" "$SW_ROOT/stripe_webhook.control")
is "$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["version"])' "$SW_ROOT/META.json")" "$CTRLVER" \
    "META.json version is default_version ($CTRLVER)"

# broken copies: the checker must name each problem
mutate() {
    "$PY" - "$SW_ROOT/META.json" "$WORK/META.json" "$1" <<'PY'
import json, sys
src, dst, what = sys.argv[1:]
m = json.load(open(src))
if what == "no-abstract":
    del m["abstract"]
elif what == "old-version":
    m["version"] = m["provides"]["stripe_webhook"]["version"] = "0.0.1"
elif what == "missing-file":
    m["provides"]["stripe_webhook"]["file"] = "sql/no_such_file.sql"
elif what == "bad-license":
    m["license"] = "PostgreSQL License"
elif what == "no-prereq":
    del m["prereqs"]
json.dump(m, open(dst, "w"))
PY
    check_meta "$WORK/META.json" "$SW_ROOT"
}
like "$(mutate no-abstract)" "required key missing: abstract" "checker: a META.json without abstract is rejected"
like "$(mutate old-version)" "is not default_version" "checker: a version other than default_version is rejected"
like "$(mutate missing-file)" "file 'sql/no_such_file.sql' does not exist" "checker: a provides file that does not exist is rejected"
like "$(mutate bad-license)" "not one PGXN knows" "checker: an unknown license string is rejected"
like "$(mutate no-prereq)" "PostgreSQL is None" "checker: no PostgreSQL prereq is rejected"
printf '{"name": ' >"$WORK/broken.json"
like "$(check_meta "$WORK/broken.json" "$SW_ROOT")" "^not JSON" "checker: invalid JSON is rejected"

# --- 2. make dist ------------------------------------------------------------------

if ! git -C "$SW_ROOT" rev-parse --verify -q HEAD >/dev/null; then
    N=$((N + 1))
    echo "ok $N # SKIP not a git checkout: make dist archives HEAD"
else
    # make dist writes the zip into the tree (it is git-ignored); a zip that
    # was there before is set aside and put back
    ZIP=$SW_ROOT/stripe_webhook-$CTRLVER.zip
    [ -e "$ZIP" ] && mv "$ZIP" "$WORK/previous.zip"
    make -s -C "$SW_ROOT" PG_CONFIG="$SW_PG_CONFIG" dist >"$WORK/dist.log" 2>&1
    ok $? "make dist" "$(cat "$WORK/dist.log")"
    [ -f "$ZIP" ]
    ok $? "make dist writes stripe_webhook-$CTRLVER.zip"
    mv "$ZIP" "$WORK/dist.zip" 2>/dev/null
    [ -e "$WORK/previous.zip" ] && mv "$WORK/previous.zip" "$ZIP"
    "$PY" - "$WORK/dist.zip" "stripe_webhook-$CTRLVER/" >"$WORK/zip.list" <<'PY'
import sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
prefix = sys.argv[2]
for n in z.namelist():
    if n.endswith("/"):
        continue
    print(n[len(prefix):] if n.startswith(prefix) else "OUTSIDE " + n)
PY
    ok $? "the zip opens"
    ! grep -q '^OUTSIDE ' "$WORK/zip.list"
    ok $? "every file is under stripe_webhook-$CTRLVER/" "$(grep '^OUTSIDE ' "$WORK/zip.list" | head)"
    is "$(sort "$WORK/zip.list" | md5sum)" "$(git -C "$SW_ROOT" ls-tree -r --name-only HEAD | sort | md5sum)" \
        "the zip holds exactly the files committed at HEAD"
    grep -qx 'META.json' "$WORK/zip.list" && grep -qx 'stripe_webhook.control' "$WORK/zip.list" &&
        grep -qx 'Makefile' "$WORK/zip.list" && grep -qx 'extension/stripe_webhook.sql' "$WORK/zip.list"
    ok $? "the zip has META.json, the control file, the Makefile and the SQL source"
    "$PY" -c 'import sys, zipfile; sys.stdout.write(zipfile.ZipFile(sys.argv[1]).read(sys.argv[2]).decode())' \
        "$WORK/dist.zip" "stripe_webhook-$CTRLVER/META.json" >"$WORK/dist-META.json"
    mkdir -p "$WORK/x" && (cd "$WORK/x" && "$PY" -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall()' "$WORK/dist.zip")
    is "$(check_meta "$WORK/dist-META.json" "$WORK/x/stripe_webhook-$CTRLVER")" "" \
        "the zip's META.json is valid against the zip's own files"
fi

echo "1..$N"
[ "$FAILED" -eq 0 ]
