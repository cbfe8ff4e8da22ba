#!/usr/bin/env bash
# Write the KEYS section of the man page from the browser's key table.
#
# Usage: man/update-keys.sh QSCOPE PAGE [OUT]
#
# Runs "QSCOPE --list-keys", which prints the section body in roff, and
# puts it under ".SH KEYS" in PAGE: in place of the old body when the
# section exists, else as a new section before EXIT STATUS.  The result
# goes to OUT (default: PAGE itself, replaced through a temporary file).
# make update-docs runs it; check-man.sh runs it to OUT to see whether
# the page is up to date.
set -euo pipefail

if [ "$#" -lt 2 ] || [ "$#" -gt 3 ]; then
    echo "usage: man/update-keys.sh QSCOPE PAGE [OUT]" >&2
    exit 2
fi
qscope=$1
page=$2
out=${3:-$2}

body=$(mktemp)
result=$(mktemp "$(dirname -- "$out")/.update-keys.XXXXXX")
trap 'rm -f -- "$body" "$result"' EXIT

if ! "$qscope" --list-keys >"$body"; then
    echo "update-keys: $qscope --list-keys failed" >&2
    exit 1
fi

has_keys=$(grep -c '^\.SH KEYS' "$page" || true)
awk -v body="$body" -v has_keys="$has_keys" '
    function put_body(  line) {
        print ".SH KEYS"
        while ((getline line < body) > 0)
            print line
        close(body)
        done = 1
    }
    /^\.SH KEYS/ { put_body(); skipping = 1; next }
    skipping && /^\.SH / { skipping = 0 }
    skipping { next }
    /^\.SH EXIT STATUS/ && !done && !has_keys { put_body() }
    { print }
' "$page" >"$result"

if ! grep -q '^\.SH KEYS' "$result"; then
    echo "update-keys: $page has no EXIT STATUS section to put KEYS before" >&2
    exit 1
fi
chmod 644 "$result"
mv -- "$result" "$out"
