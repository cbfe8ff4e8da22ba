#!/usr/bin/env bash
# qscope info on the sample models and silero_vad: the values were
# checked against the onnx Python package reading the same files (the
# quantizable weights as the constants read by Conv, Gemm, MatMul,
# Gather and LSTM weight inputs).
# Also: numbers keep '.' as the decimal point under a German locale.
. "$(dirname -- "$0")/lib.sh"

# info_json_checks NAME MODEL PATH=VALUE...: one check per PATH of the JSON form.
info_json_checks() {
    local name=$1 model=$2 pair
    shift 2
    run info --json "$model"
    check "$name: exits 0" status_is 0
    for pair in "$@"; do
        check "$name: ${pair%%=*}" json_is "${pair%%=*}" "${pair#*=}"
    done
}

tiny_cnn=$(sample tiny_cnn)
if [ -n "$tiny_cnn" ]; then
    info_json_checks tiny_cnn "$tiny_cnn" \
        ir_version=8 opsets.0.domain= opsets.0.version=17 producer_name=qscope-samples \
        inputs.0.name=image inputs.0.elem_type=FLOAT 'inputs.0.shape=[1,3,32,32]' \
        outputs.0.name=probs 'outputs.0.shape=[1,10]' nodes=13 nodes_with_subgraphs=13 \
        subgraphs=0 constants.tensors=16 constants.bytes=23720 \
        constants.by_type.0.elem_type=FLOAT weights.tensors=16 weights.parameters=5930 \
        weights.quantizable=4 weights.quantizable_parameters=5648 weights.faulty=0 \
        'metadata=[]'
    run info "$tiny_cnn"
    check "tiny_cnn text: input" stdout_matches '^  image +fp32\[1,3,32,32\]$'
    check "tiny_cnn text: constants" stdout_has "constants: 16 tensors, 23720 bytes (23.2 KiB)"
    check "tiny_cnn text: weights" stdout_matches '^weights: 16 tensors, 5930 parameters$'
    check "tiny_cnn text: quantizable weights" stdout_matches \
        '^  quantizable: 4 tensors, 5648 parameters$'
else
    skip "info on tiny_cnn" "samples/tiny_cnn.onnx not generated yet"
fi

tiny_transformer=$(sample tiny_transformer)
if [ -n "$tiny_transformer" ]; then
    info_json_checks tiny_transformer "$tiny_transformer" \
        inputs.0.name=x 'inputs.0.shape=[1,16,64]' outputs.0.name=y nodes=33 \
        constants.tensors=22 constants.bytes=200008 \
        constants.by_type.0.elem_type=FLOAT constants.by_type.0.bytes=199952 \
        constants.by_type.1.elem_type=INT64 constants.by_type.1.tensors=2 \
        constants.by_type.1.bytes=56 weights.tensors=20 weights.parameters=49988 \
        weights.quantizable=6 weights.quantizable_parameters=49152

    # A locale whose decimal point is a comma, made on the fly when not installed.
    if ! LC_ALL=de_DE.UTF-8 locale decimal_point 2>/dev/null | grep -q ','; then
        mkdir -p "$tmp/locale"
        localedef -i de_DE -f UTF-8 "$tmp/locale/de_DE.UTF-8" >/dev/null 2>&1 &&
            export LOCPATH=$tmp/locale
    fi
    if LC_ALL=de_DE.UTF-8 locale decimal_point 2>/dev/null | grep -q ','; then
        status=0
        LC_ALL=de_DE.UTF-8 "$QSCOPE" info "$tiny_transformer" >"$out_file" 2>"$err_file" ||
            status=$?
        check "de_DE locale: exits 0" status_is 0
        check "de_DE locale: '.' as decimal point" stdout_has "200008 bytes (195.3 KiB)"
    else
        skip "de_DE locale keeps '.'" "no de_DE.UTF-8 locale and localedef could not make one"
    fi
else
    skip "info on tiny_transformer" "samples/tiny_transformer.onnx not generated yet"
    skip "de_DE locale keeps '.'" "samples/tiny_transformer.onnx not generated yet"
fi

if have_testdata; then
    silero=$TESTDATA/models/real/silero_vad.onnx
    info_json_checks silero_vad "$silero" \
        ir_version=8 opsets.0.version=16 producer_name=spox \
        inputs.0.name=input 'inputs.0.shape=[null,null]' \
        inputs.1.name=state 'inputs.1.shape=[2,null,128]' \
        inputs.2.name=sr inputs.2.elem_type=INT64 'inputs.2.shape=[]' \
        outputs.1.name=stateN nodes=5 nodes_with_subgraphs=689 subgraphs=50 \
        constants.tensors=345 constants.bytes=2183656 \
        constants.by_type.0.elem_type=FLOAT constants.by_type.0.tensors=36 \
        constants.by_type.1.elem_type=INT64 constants.by_type.1.tensors=309 \
        weights.tensors=34 weights.parameters=545286 weights.quantizable=12 \
        weights.quantizable_parameters=280320

    run info "$silero"
    check "silero_vad text: nodes" stdout_matches '^nodes +5 in the main graph, 689 with subgraphs$'
    check "silero_vad text: unknown dims as ?" stdout_matches '^  state +fp32\[2,\?,128\]$'
    check "silero_vad text: scalar input" stdout_matches '^  sr +int64\[\]$'

    run info --csv "$silero"
    check "silero_vad CSV: header" test "$(head -n 1 "$out_file")" = "key,value"
    check "silero_vad CSV: a nested key" stdout_has "inputs.1.shape.2,128"

    run info "$TESTDATA/models/real/ch_PP-OCRv4_rec_infer.onnx"
    check "symbolic dims by name" \
        stdout_matches '^  x +fp32\[p2o\.DynamicDimension\.0,3,48,p2o\.DynamicDimension\.1\]$'

    run "$silero"
    check "qscope MODEL prints info for now" stdout_matches '^nodes +5 in the main graph'
    run "$TESTDATA/models/real"
    check "qscope DIR prints ops for now" stdout_matches '^ +[0-9]+ +4  total$'
else
    skip "info on silero_vad" "QSCOPE_TESTDATA not set or has no models/"
fi

# 100000 opset imports: the opsets line is built in linear time (it was
# quadratic: minutes of CPU).  The CPU limit is far above what it needs.
printf '\x42\x02\x10\x11' >"$tmp/opsets"
printf '\x42\x05\x0a\x01d\x10\x01%.0s' $(seq 100000) >>"$tmp/opsets"
printf '\x0a\x01x\x12\x01y\x22\x04Relu' >"$tmp/relu-node"
{ pb_field 0x0a "$tmp/relu-node"; printf '\x12\x01g\x5a\x03\x0a\x01x\x62\x03\x0a\x01y'; } \
    >"$tmp/relu-graph"
{ printf '\x08\x08'; cat "$tmp/opsets"; pb_field 0x3a "$tmp/relu-graph"; } >"$tmp/opsets.onnx"
status=0
(ulimit -t 20; exec "$QSCOPE" info "$tmp/opsets.onnx") >"$out_file" 2>"$err_file" || status=$?
check "100000 opsets: exit 0" status_is 0
check "100000 opsets: all listed" test "$(grep -o ', d 1' "$out_file" | wc -l)" -eq 100000

finish
