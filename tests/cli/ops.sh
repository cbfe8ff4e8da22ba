#!/usr/bin/env bash
# qscope ops: op counts against the reference counts of the shared test
# models, the text and CSV forms, sorting, folders, and failed files.
. "$(dirname -- "$0")/lib.sh"

if ! have_testdata; then
    skip "ops on the shared models" "QSCOPE_TESTDATA not set or has no models/"
    finish
    exit 0
fi

reference=$TESTDATA/models/op-counts.json
real=$TESTDATA/models/real

# Compare `qscope ops --json ARGS` with the reference models under PREFIX.
check_counts() {
    local name=$1 mode=$2 prefix=$3
    shift 3
    run ops --json "$@"
    if [ "$status" -ne 0 ]; then
        not_ok "$name (exit status $status)"
        sed 's/^/# stderr: /' "$err_file" | head -n 20
        return
    fi
    if "$JSON_CHECK" opcounts "$out_file" "$reference" "$mode" "$prefix"; then
        ok "$name"
    else
        not_ok "$name"
    fi
}

for model in "$real"/*.onnx; do
    base=$(basename "$model")
    check_counts "$base top-level counts" top_level "models/real/$base" "$model"
    check_counts "$base counts with subgraphs" with_subgraphs "models/real/$base" \
        --subgraphs "$model"
done

check_counts "all real models, top level" top_level "models/real/" "$real"/*.onnx
check_counts "all real models with subgraphs" with_subgraphs "models/real/" \
    --subgraphs "$real"/*.onnx
check_counts "real folder walked" with_subgraphs "models/real/" --subgraphs "$real"
check_counts "zoo-light folder" top_level "models/zoo-light/" "$TESTDATA/models/zoo-light"
if [ -d "$TESTDATA/onnx-node-tests" ]; then
    check_counts "every node test with subgraphs" with_subgraphs "onnx-node-tests/" \
        --subgraphs "$TESTDATA/onnx-node-tests"
else
    skip "every node test with subgraphs" "no onnx-node-tests folder in QSCOPE_TESTDATA"
fi

# silero_vad: top level Constant 1, Equal 1, Identity 2, If 1.
run ops "$real/silero_vad.onnx"
check "text form, one model" stdout_is "$(printf '2  Identity\n1  Constant\n1  Equal\n1  If\n5  total')"

run ops --sort=name "$real/silero_vad.onnx"
check "--sort=name" stdout_is "$(printf '1  Constant\n1  Equal\n2  Identity\n1  If\n5  total')"

run ops --csv --sort name "$real/silero_vad.onnx"
check "CSV form" stdout_is "$(printf 'op,count,models\nConstant,1,1\nEqual,1,1\nIdentity,2,1\nIf,1,1')"

run ops "$real/silero_vad.onnx" "$real/ch_ppocr_mobile_v2.0_cls_infer.onnx"
check "text form, two models: header" stdout_matches '^count  models  op$'
check "text form, two models: Constant in both" stdout_matches '^ +[0-9]+ +2  Constant$'
check "text form, two models: total" stdout_matches '^ +476 +2  total$'

# A folder with a model, a link to it, a link loop and a file that is not a model.
mkdir -p "$tmp/corpus/sub"
ln -s "$real/silero_vad.onnx" "$tmp/corpus/sub/vad.onnx"
ln -s "$tmp/corpus" "$tmp/corpus/sub/loop"
ln -s "$tmp/corpus/sub" "$tmp/corpus/again"
printf 'not a model\n' >"$tmp/corpus/notes.txt"
run ops --json "$tmp/corpus"
check "symbolic link loop: exits 0" status_is 0
check "symbolic link loop: counted once" json_is models 1
check "symbolic link loop: total" json_is total 5

# A file named on the command line, twice, and again through a link inside a named folder.
run ops --json "$real/silero_vad.onnx" "$real/silero_vad.onnx" "$tmp/corpus"
check "file named and in folder: exits 0" status_is 0
check "file named and in folder: counted once" json_is models 1
check "file named and in folder: total" json_is total 5

# Many folders with links to one file: the set of seen files and folders grows past its start.
mkdir -p "$tmp/many"
for i in $(seq 1 40); do
    mkdir "$tmp/many/d$i"
    ln -s "$real/silero_vad.onnx" "$tmp/many/d$i/vad.onnx"
done
run ops --json "$tmp/many" "$tmp/many/d7"
check "40 links to one file: counted once" json_is models 1
check "40 links to one file: total" json_is total 5

# One broken model among good ones: listed, the rest still counted, exit 1.
printf 'garbage that is not protobuf' >"$tmp/corpus/broken.onnx"
run ops --json "$tmp/corpus"
check "broken model: exits 1" status_is 1
check "broken model: one error line" stderr_lines_are 1
check "broken model: the line names it" stderr_matches "^qscope: $tmp/corpus/broken.onnx: "
check "broken model: the others counted" json_is models 1
check "broken model: listed as failed" json_is failed.0 "$tmp/corpus/broken.onnx"

mkdir "$tmp/empty"
run ops "$tmp/empty"
check "folder without models exits 1" status_is 1
check "folder without models message" stderr_is "qscope: $tmp/empty: no .onnx files found"

finish
