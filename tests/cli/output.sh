#!/usr/bin/env bash
# Output files: -o writes atomically, an existing file is replaced only
# with --force (else exit 3), nothing is left behind, and write errors on
# standard output give exit 3.
. "$(dirname -- "$0")/lib.sh"

model=$(sample tiny_cnn)
if [ -z "$model" ] && have_testdata; then
    model=$TESTDATA/models/real/silero_vad.onnx
fi
if [ -z "$model" ]; then
    skip "output files" "no model: samples/tiny_cnn.onnx missing and QSCOPE_TESTDATA not set"
    finish
    exit 0
fi

dir=$tmp/out
mkdir "$dir"
target=$dir/info.json

run info --json -o "$target" "$model"
check "-o exits 0" status_is 0
check "-o prints nothing on stdout" stdout_empty
check "-o writes the JSON" test "$("$JSON_CHECK" get "$target" path)" = "$model"

printf 'marker\n' >"$target"
run info --json -o "$target" "$model"
check "existing file without --force exits 3" status_is 3
check "existing file message" \
    stderr_is "qscope: $target: already exists (use --force to replace it)"
check "existing file is unchanged" test "$(cat "$target")" = "marker"
check "no temporary file is left" test "$(ls -A "$dir")" = "info.json"

run info --json --force -o "$target" "$model"
check "--force exits 0" status_is 0
check "--force replaces the file" test "$("$JSON_CHECK" get "$target" path)" = "$model"
check "no temporary file after --force" test "$(ls -A "$dir")" = "info.json"

run ops --csv --output="$dir/ops.csv" "$model"
check "ops --output= exits 0" status_is 0
check "ops --output= writes the CSV header" test "$(head -n 1 "$dir/ops.csv")" = "op,count,models"

run graph -o"$dir/graph.txt" "$model"
check "graph -oFILE exits 0" status_is 0
check "graph -oFILE writes the nodes" test -s "$dir/graph.txt"

run info -o "$dir/missing.json" "$tmp/no-such-model.onnx"
check "failed load with -o exits 1" status_is 1
check "failed load with -o creates no file" test ! -e "$dir/missing.json"
check "failed load leaves no temporary file" \
    test "$(ls -A "$dir")" = "$(printf 'graph.txt\ninfo.json\nops.csv')"

run info -o "$tmp/no/such/folder/x.json" "$model"
check "-o into a missing folder exits 3" status_is 3
check "-o into a missing folder names the file" stderr_matches "^qscope: $tmp/no/such/folder/x.json: "

run info -o "$dir" "$model"
check "-o naming a folder exits 3" status_is 3

if [ -w /dev/full ]; then
    status=0
    "$QSCOPE" info "$model" >/dev/full 2>"$err_file" || status=$?
    check "full standard output exits 3" status_is 3
    check "full standard output message" stderr_matches '^qscope: standard output: write failed: '
else
    skip "full standard output exits 3" "/dev/full is not available"
fi

# A FIFO target is written in place, without --force: renaming over it
# (as --force did) replaced the FIFO with a file and left its reader waiting.
mkfifo "$dir/pipe"
timeout 60 cat "$dir/pipe" >"$tmp/from-pipe" &
reader=$!
status=0
timeout 60 "$QSCOPE" ops --csv --force -o "$dir/pipe" "$model" 2>"$err_file" || status=$?
wait "$reader" || true
check "-o FIFO exits 0" status_is 0
check "-o FIFO: the reader gets the output" test "$(head -n 1 "$tmp/from-pipe")" = "op,count,models"
check "-o FIFO: it is still a FIFO" test -p "$dir/pipe"
rm -f "$dir/pipe"

if [ -w /dev/full ]; then
    run info -o /dev/full "$model"
    check "-o /dev/full exits 3" status_is 3
    check "-o /dev/full: write failed" stderr_is "qscope: /dev/full: write failed: No space left on device"
    check "-o /dev/full: still a device" test -c /dev/full
else
    skip "-o /dev/full exits 3" "/dev/full is not available"
fi

# A link to a file: the file is replaced with --force, and the link stays.
printf 'marker\n' >"$dir/real.csv"
ln -s real.csv "$dir/link.csv"
run ops --csv -o "$dir/link.csv" "$model"
check "-o link to a file without --force exits 3" status_is 3
run ops --csv --force -o "$dir/link.csv" "$model"
check "-o link to a file with --force exits 0" status_is 0
check "-o link: still a link" test -L "$dir/link.csv"
check "-o link: the file it names is replaced" test "$(head -n 1 "$dir/real.csv")" = "op,count,models"

finish
