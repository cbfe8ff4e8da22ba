#!/usr/bin/env bash
# Load problems: per-tensor faults fail by default and are skipped with
# --keep-going, warnings fail only with --strict, and at most 20 problem
# lines are printed.
. "$(dirname -- "$0")/lib.sh"

if ! have_testdata || [ ! -d "$TESTDATA/cases" ]; then
    skip "load problems" "QSCOPE_TESTDATA not set or has no cases/"
    finish
    exit 0
fi

# Five external-data tensors are unusable; W_ok ([4, 4] floats) is fine.
oob=$TESTDATA/cases/02-extdata-out-of-bounds/model.onnx
run info "$oob"
check "tensor faults: exit 1" status_is 1
check "tensor faults: one line each" stderr_lines_are 5
check "tensor faults: lines name the file and tensor" \
    test "$(grep -c -E "^qscope: $oob: tensor 'W_[a-z]+': " "$err_file")" -eq 5
check "tensor faults: no output" stdout_empty

run info --json --keep-going "$oob"
check "--keep-going: exit 0" status_is 0
check "--keep-going: says which tensors are skipped" \
    test "$(grep -c -E "^qscope: $oob: tensor 'W_[a-z]+' skipped: " "$err_file")" -eq 5
check "--keep-going: faulty tensors counted" json_is constants.faulty 5
check "--keep-going: only W_ok is a weight" json_is weights.tensors 1
check "--keep-going: W_ok's parameters" json_is weights.parameters 16
check "--keep-going: weights left out" json_is weights.faulty 5
check "--keep-going: external tensors" json_is constants.external 6
check "--keep-going: first external file" json_is constants.external_files.0 weights.bin
check "--keep-going: missing external file" json_is constants.external_files.1 no_such_file.bin
run info --keep-going "$oob"
check "--keep-going text: external data" \
    stdout_has "external data: 6 tensors in 2 files: weights.bin, no_such_file.bin"

# A DequantizeLinear whose scale does not fit its default axis.
dq=$TESTDATA/cases/21-dequantize-default-axis/model.onnx
run info "$dq"
check "bad weight: exit 1" status_is 1
check "bad weight: output printed" stdout_has "weights: 2 tensors"
check "bad weight: message" stderr_is "qscope: $dq: DequantizeLinear 'dq_conv_no_axis': scale has 3 entries, but axis 1 (the default) of the input has size 2"
run info --keep-going "$dq"
check "bad weight with --keep-going: exit 0" status_is 0
check "bad weight with --keep-going: says it goes on" stderr_has "going on without it"

run info --keep-going --strict "$oob"
check "--keep-going --strict: exit 1" status_is 1

# Two nodes share a name: a warning.
names=$TESTDATA/cases/18-empty-duplicate-names/model.onnx
run info "$names"
check "warning: exit 0" status_is 0
check "warning: printed" stderr_is \
    "qscope: $names: node name 'mm' is used by more than one node (nodes 0 and 2 in graph 'names')"
run info --strict "$names"
check "warning with --strict: exit 1" status_is 1

run ops "$oob" "$names"
check "ops with a failed model: exit 1" status_is 1
check "ops: one line for the failed model" \
    test "$(grep -c "^qscope: $oob: " "$err_file")" -eq 1
check "ops: the line counts the rest" stderr_has "(and 4 more problems)"
check "ops: the other model counted" stdout_is "$(printf '2  MatMul\n2  Relu\n1  Identity\n5  total')"

# 25 broken files: 20 lines, then a count of the rest.
mkdir "$tmp/broken"
for i in $(seq 10 34); do
    printf 'not protobuf' >"$tmp/broken/m$i.onnx"
done
run ops "$tmp/broken"
check "25 failures: exit 1" status_is 1
check "25 failures: 21 lines" stderr_lines_are 21
check "25 failures: first line" stderr_matches "^qscope: $tmp/broken/m10.onnx: "
check "25 failures: summary line" \
    test "$(tail -n 1 "$err_file")" = "qscope: $tmp/broken: and 5 more problems"

finish
