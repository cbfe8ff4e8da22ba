#!/usr/bin/env bash
# Test the man page.  groff must format it without warnings, and it must
# document every command and option that qscope --help lists.  Its KEYS
# section must match the browser's key table, and each command in its
# EXAMPLES section must run on the sample models and exit 0.
#
# Run by make check, which sets QSCOPE_SRCDIR and QSCOPE_BIN; prints TAP.
set -u

SRCDIR=${QSCOPE_SRCDIR:-$(cd -- "$(dirname -- "$0")/.." && pwd)}
BIN=${QSCOPE_BIN:-./qscope}
PAGE=$SRCDIR/man/qscope.1
n=0

ok() {
    n=$((n + 1))
    echo "ok $n - $*"
}

not_ok() {
    n=$((n + 1))
    echo "not ok $n - $*"
}

skip() {
    local name=$1
    shift
    n=$((n + 1))
    echo "ok $n - $name # SKIP $*"
}

check_groff() {
    local warnings

    if ! command -v groff >/dev/null 2>&1; then
        skip "man page formats without warnings" "groff not installed (Debian package groff-base)"
        return
    fi
    warnings=$(LC_ALL=C.UTF-8 groff -man -Tutf8 -ww -z "$PAGE" 2>&1)
    if [ -z "$warnings" ]; then
        ok "man page formats without warnings"
    else
        printf '# %s\n' "$warnings"
        not_ok "man page formats without warnings"
    fi
}

# Print the command names listed under "commands:" in qscope --help.
help_commands() {
    "$BIN" --help 2>/dev/null |
        awk '/^commands:/ { on = 1; next } on && /^  [a-z]/ { print $1 } on && /^$/ { exit }'
}

# Each command that qscope --help lists needs its entry, ".B NAME" or
# ".BI "NAME ...", in the COMMANDS section.
check_commands() {
    local commands name missing=""

    commands=$(help_commands)
    if [ -z "$commands" ]; then
        skip "man page documents every command" "qscope --help lists no commands"
        return
    fi
    for name in $commands; do
        sed -n '/^\.SH COMMANDS/,/^\.SH /p' "$PAGE" |
            grep -q -E "^\.BI? \"?$name( |\"|$)" || missing="$missing $name"
    done
    if [ -z "$missing" ]; then
        ok "man page documents every command"
    else
        echo "# commands missing from the COMMANDS section of man/qscope.1:$missing"
        not_ok "man page documents every command"
    fi
}

# Each --option that qscope --help or qscope COMMAND --help prints must
# appear in the page, where roff writes its hyphens as \-.
check_options() {
    local help name option escaped missing=""

    if ! help=$("$BIN" --help 2>&1); then
        skip "man page lists every --help option" "qscope --help failed"
        return
    fi
    for name in $(help_commands); do
        help="$help
$("$BIN" "$name" --help 2>&1)"
    done
    for option in $(printf '%s\n' "$help" | grep -o -- '--[a-z][a-z0-9-]*' | sort -u); do
        escaped=$(printf '%s' "$option" | sed 's/-/\\\\-/g')
        grep -q -- "$escaped" "$PAGE" || missing="$missing $option"
    done
    if [ -z "$missing" ]; then
        ok "man page lists every --help option"
    else
        echo "# options missing from man/qscope.1:$missing"
        not_ok "man page lists every --help option"
    fi
}

# The KEYS section must be what man/update-keys.sh makes of qscope --list-keys.
check_keys() {
    local fresh

    if ! "$BIN" --list-keys >/dev/null 2>&1; then
        skip "man page KEYS match the key table" "qscope --list-keys is not implemented"
        return
    fi
    fresh=$(mktemp)
    if "$SRCDIR/man/update-keys.sh" "$BIN" "$PAGE" "$fresh" && cmp -s "$PAGE" "$fresh"; then
        ok "man page KEYS match the key table"
    else
        echo "# man/qscope.1 is out of date: run make update-docs"
        diff "$PAGE" "$fresh" | head -n 20 | sed 's/^/# /'
        not_ok "man page KEYS match the key table"
    fi
    rm -f -- "$fresh"
}

# Print the qscope command lines of the EXAMPLES section, unescaped.
example_lines() {
    sed -n '/^\.SH EXAMPLES/,/^\.SH /p' "$PAGE" |
        sed -n '/^\.EX/,/^\.EE/p' |
        grep '^qscope ' |
        sed 's/\\-/-/g'
}

# Run one example line in a scratch folder where samples/ leads to the
# source tree's samples, so that files the example writes land there.
# Examples that name a path the tree does not have are skipped.
run_example() {
    local line=$1
    local words err status word scratch

    read -r -a words <<<"$line"
    if [ "${#words[@]}" -lt 3 ]; then
        skip "example: $line" "opens the full-screen browser"
        return
    fi
    scratch=$(mktemp -d)
    ln -s "$SRCDIR/samples" "$scratch/samples"
    for word in "${words[@]:1}"; do
        case $word in
        -*) ;;
        */*|*.onnx)
            if [ ! -e "$scratch/$word" ]; then
                skip "example: $line" "$word is not in the source tree"
                rm -rf -- "$scratch"
                return
            fi ;;
        esac
    done

    err=$(cd "$scratch" && "$BIN" "${words[@]:1}" 2>&1 >/dev/null)
    status=$?
    rm -rf -- "$scratch"
    if [ "$status" -eq 0 ]; then
        ok "example: $line"
    elif [ "$status" -eq 2 ] && printf '%s' "$err" | grep -qi 'unknown command'; then
        skip "example: $line" "command not implemented yet"
    else
        printf '# %s\n' "exit status $status" "$err"
        not_ok "example: $line"
    fi
}

main() {
    local lines line

    mapfile -t lines < <(example_lines)
    echo "1..$((4 + ${#lines[@]}))"
    check_groff
    check_commands
    check_options
    check_keys
    for line in "${lines[@]}"; do
        run_example "$line"
    done
}

main
