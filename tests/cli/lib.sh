# Shared helpers for the command-line tests: TAP output, running qscope,
# and finding the test data.  Sourced by tests/cli/*.sh, which make check
# runs with QSCOPE_BIN, QSCOPE_SRCDIR and QSCOPE_TESTDATA set.
#
#   run ARGS...          run qscope; sets $status, stdout in $out_file, stderr in $err_file
#   check NAME COMMAND   "ok" when COMMAND succeeds, else "not ok" with the captured stderr
#   skip NAME REASON     a visible "# SKIP"
#   pb_varint, pb_field  protobuf bytes for hand-made models (see below)
#   finish               print the plan; call last
set -u

QSCOPE=${QSCOPE_BIN:-./qscope}
SRCDIR=${QSCOPE_SRCDIR:-$(cd -- "$(dirname -- "$0")/../.." && pwd)}
BUILDDIR=$(dirname -- "$QSCOPE")
JSON_CHECK=$BUILDDIR/tests/cli/json_check
TESTDATA=${QSCOPE_TESTDATA:-}

# Results must not depend on the caller's locale or colours.
export LC_ALL=C.UTF-8
unset NO_COLOR QSCOPE_TRACE

tmp=$(mktemp -d "${TMPDIR:-/tmp}/qscope-cli.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
out_file=$tmp/stdout
err_file=$tmp/stderr
status=0
test_count=0

ok() {
    test_count=$((test_count + 1))
    echo "ok $test_count - $1"
}

not_ok() {
    test_count=$((test_count + 1))
    echo "not ok $test_count - $1"
}

skip() {
    test_count=$((test_count + 1))
    echo "ok $test_count - $1 # SKIP $2"
}

run() {
    status=0
    "$QSCOPE" "$@" >"$out_file" 2>"$err_file" || status=$?
}

check() {
    local name=$1
    shift
    if "$@"; then
        ok "$name"
    else
        not_ok "$name"
        echo "# command: $*"
        echo "# exit status of the last qscope run: $status"
        sed 's/^/# stderr: /' "$err_file" | head -n 20
    fi
}

# Helpers for check.
status_is() { [ "$status" -eq "$1" ]; }
stdout_is() { [ "$(cat "$out_file")" = "$1" ]; }
stderr_is() { [ "$(cat "$err_file")" = "$1" ]; }
stderr_lines_are() { [ "$(wc -l <"$err_file")" -eq "$1" ]; }
stdout_has() { grep -q -F -- "$1" "$out_file"; }
stderr_has() { grep -q -F -- "$1" "$err_file"; }
stdout_matches() { grep -q -E -- "$1" "$out_file"; }
stderr_matches() { grep -q -E -- "$1" "$err_file"; }
stdout_empty() { [ ! -s "$out_file" ]; }
json_is() { [ "$("$JSON_CHECK" get "$out_file" "$1")" = "$2" ]; }

# True when the shared test data is present; otherwise the caller skips.
have_testdata() {
    [ -n "$TESTDATA" ] && [ -d "$TESTDATA/models" ]
}

# The sample model NAME.onnx from the source or build tree, or "".
sample() {
    if [ -f "$SRCDIR/samples/$1.onnx" ]; then
        echo "$SRCDIR/samples/$1.onnx"
    elif [ -f "$BUILDDIR/samples/$1.onnx" ]; then
        echo "$BUILDDIR/samples/$1.onnx"
    fi
}

# Protobuf bytes for hand-made models, written to standard output:
#   pb_varint N          N as a varint
#   pb_field TAG FILE    a length-delimited field with key byte TAG (e.g. 0x3a
#                        for ModelProto.graph) holding the bytes of FILE
pb_varint() {
    local n=$1
    while [ "$n" -ge 128 ]; do
        printf "\\x$(printf %02x $((n % 128 + 128)))"
        n=$((n / 128))
    done
    printf "\\x$(printf %02x "$n")"
}

pb_field() {
    printf "\\x${1#0x}"
    pb_varint "$(wc -c <"$2")"
    cat -- "$2"
}

finish() {
    echo "1..$test_count"
}
