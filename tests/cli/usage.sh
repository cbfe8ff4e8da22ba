#!/usr/bin/env bash
# Command-line usage: help, version, and the exit statuses and one-line
# messages of usage errors and missing files.
. "$(dirname -- "$0")/lib.sh"

run
check "no arguments exits 2" status_is 2
check "no arguments prints one line" stderr_is "qscope: missing MODEL or COMMAND (see 'qscope --help')"

run --help
check "--help exits 0" status_is 0
check "--help lists info" stdout_matches '^  info +show format versions'
check "--help lists ops" stdout_matches '^  ops +count op types'
check "--help lists graph" stdout_matches '^  graph +list nodes'

run --version
check "--version exits 0" status_is 0
check "--version prints name and version" stdout_matches '^qscope [0-9]+\.[0-9]+\.[0-9]+$'

for command in info ops graph; do
    run "$command" --help
    check "$command --help exits 0" status_is 0
    check "$command --help shows usage" stdout_matches "^usage: qscope $command "
    check "$command --help lists --threads" stdout_has "--threads=N"
done
run ops --help
check "ops --help lists --sort" stdout_has "--sort=count|name"
for command in info ops graph; do
    run "$command" --help
    check "$command --help fits 80 columns" test "$(awk 'length > 79' "$out_file" | wc -l)" -eq 0
done
run info --help
check "long help wraps under its column" stdout_matches '^ {30}\(default: fail\)$'

run frobnicate model.onnx
check "unknown command exits 2" status_is 2
check "unknown command message" \
    stderr_is "qscope: unknown command 'frobnicate' (see 'qscope --help')"

run info --bogus model.onnx
check "unknown option exits 2" status_is 2
check "unknown option message" \
    stderr_is "qscope: info: unknown option '--bogus' (see 'qscope info --help')"

run info -x model.onnx
check "unknown short option exits 2" status_is 2
check "unknown short option is one line" stderr_lines_are 1

run info --format=xml model.onnx
check "bad --format value exits 2" status_is 2
check "bad --format value message" stderr_is \
    "qscope: info: invalid value 'xml' for --format (expected text, json or csv) (see 'qscope info --help')"

for value in 0 -1 abc 2x 1025; do
    run graph --threads "$value" model.onnx
    check "--threads $value exits 2" status_is 2
    check "--threads $value is one line" stderr_lines_are 1
done

run info -o "" model.onnx
check "empty -o value exits 2" status_is 2
check "empty -o value message" stderr_is \
    "qscope: info: invalid empty value for --output (expected a path) (see 'qscope info --help')"

run info --threads
check "option without its value exits 2" status_is 2
check "option without its value message" stderr_has "option '--threads' needs a value (N)"

run info --json=yes model.onnx
check "flag given a value exits 2" status_is 2
check "flag given a value message" stderr_has "option '--json' takes no value"

run ops --sort=size model.onnx
check "bad --sort value exits 2" status_is 2
check "bad --sort value message" stderr_has "invalid value 'size' for --sort (expected count or name)"

run info
check "missing MODEL exits 2" status_is 2
check "missing MODEL message" stderr_is "qscope: info: missing MODEL (see 'qscope info --help')"

run info a.onnx b.onnx
check "extra argument exits 2" status_is 2
check "extra argument message" stderr_has "unexpected argument 'b.onnx'"

run info --out-dir "$tmp" model.onnx
check "option of another command exits 2" status_is 2

missing=$tmp/no/such/model.onnx
for command in info graph ops; do
    run "$command" "$missing"
    check "$command on a missing file exits 1" status_is 1
    check "$command on a missing file is one line" stderr_lines_are 1
    check "$command on a missing file names it" stderr_matches "^qscope: $missing: .+"
    check "$command on a missing file prints nothing" stdout_empty
done

# A FIFO is refused at once: opening it for reading used to wait for a writer.
mkfifo "$tmp/fifo.onnx"
for command in info graph ops; do
    status=0
    timeout 60 "$QSCOPE" "$command" "$tmp/fifo.onnx" >"$out_file" 2>"$err_file" || status=$?
    check "$command on a FIFO exits 1" status_is 1
    check "$command on a FIFO says why" \
        stderr_is "qscope: $tmp/fifo.onnx: cannot read the model: not a regular file"
done

run "$missing"
check "qscope MODEL on a missing file exits 1" status_is 1
check "qscope MODEL on a missing file names it" stderr_matches "^qscope: $missing: .+"

run --bogus
check "unknown option without a command exits 2" status_is 2
check "unknown option without a command message" \
    stderr_is "qscope: unknown option '--bogus' (see 'qscope --help')"

# Options after "--" are arguments: "--json" here is a file name.
run info -- --json
check "-- ends the options" status_is 1
check "-- ends the options: file named --json" stderr_matches "^qscope: --json: "

finish
