#!/bin/sh
# Regenerate the sample models into a temporary folder and compare every
# file byte for byte with the committed copy in samples/.  A difference
# means that tools/make_samples no longer reproduces the committed
# samples: run `make samples` and `make sample-refs` and commit the result
# together with the change that caused it.
#
# Runs from the build folder (as `make check` does); MAKE_SAMPLES
# overrides the generator's path.

srcdir=${QSCOPE_SRCDIR:-$(dirname "$0")/..}
tool=${MAKE_SAMPLES:-./tools/make_samples}
files="tiny_cnn.onnx
tiny_cnn/test_data_set_0/input_0.pb
tiny_transformer.onnx
tiny_transformer/test_data_set_0/input_0.pb
tiny_if.onnx
tiny_if/test_data_set_0/input_0.pb
tiny_if/test_data_set_1/input_0.pb"
count=$(printf '%s\n' "$files" | wc -l)

tmp=$(mktemp -d) || exit 99
trap 'rm -rf "$tmp"' EXIT

echo "1..$((count + 3))"
n=0

report() {
    # report STATUS NAME [DIAGNOSTIC]: one TAP line, with "# DIAGNOSTIC" below a failure.
    n=$((n + 1))
    if [ "$1" -eq 0 ]; then
        echo "ok $n - $2"
    else
        echo "not ok $n - $2"
        [ -n "${3:-}" ] && echo "# $3"
    fi
}

"$tool" >/dev/null 2>&1
status=$?
report $((status != 2)) "generator usage error without folder" "exit status $status, expected 2"

"$tool" "$tmp/out" 2>"$tmp/stderr"
status=$?
report "$status" "generator writes samples" "exit status $status: $(head -c 300 "$tmp/stderr")"

for file in $files; do
    if [ ! -f "$tmp/out/$file" ]; then
        report 1 "$file reproduced" "generator did not write $file"
    elif ! cmp -s "$tmp/out/$file" "$srcdir/samples/$file"; then
        report 1 "$file reproduced" "differs from samples/$file: $(cmp "$tmp/out/$file" "$srcdir/samples/$file" 2>&1)"
    else
        report 0 "$file reproduced"
    fi
done

extra=$(cd "$tmp/out" 2>/dev/null && find . -type f | sed 's|^\./||' | sort)
expected=$(printf '%s\n' "$files" | sort)
[ "$extra" = "$expected" ]
report $? "generator writes no other files" "wrote: $(echo $extra)"
