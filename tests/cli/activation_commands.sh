#!/usr/bin/env bash
# qscope calibrate, eval and sensitivity: the .qstats file and its checks,
# inputs rejected before anything runs, and end-to-end error on the
# samples.  On the PaddleOCR direction classifier from the shared test
# data, an all-int8 per-channel plan keeps the output cosine above 0.99,
# and an int4 sensitivity ranking has only finite numbers.  Also: plan
# --auto --sensitivity on a ranking, output files that are inputs of the
# command, and the "exact" flags of infinite errors.
. "$(dirname -- "$0")/lib.sh"

# True when the number printed for PATH in the JSON output is finite and above LIMIT.
json_above() {
    local value
    value=$("$JSON_CHECK" get "$out_file" "$1") || return 1
    awk -v v="$value" -v limit="$2" 'BEGIN { exit !(v ~ /^-?[0-9]/ && v + 0 > limit + 0) }'
}

# json_is_file FILE PATH VALUE: the value at PATH of a JSON file.
json_is_file() { [ "$("$JSON_CHECK" get "$1" "$2")" = "$3" ]; }

# plan_config_is FILE KEY CONFIG: layer KEY of plan FILE has CONFIG (keys
# may hold dots, which json_check get cannot address).
plan_config_is() {
    "$JSON_CHECK" get "$1" layers | grep -q -F "\"$2\":{\"config\":\"$3\""
}

# True when every number field of layer object N of a sensitivity ranking is finite.
layer_numbers_finite() {
    local object field
    object=$("$JSON_CHECK" get "$out_file" "layers.$1") || return 1
    for field in weight_sqnr_db output_sqnr_db output_mse output_sse cosine max_abs_diff \
        top1_agreement; do
        if ! printf '%s' "$object" | grep -q -E "\"$field\": ?-?[0-9]"; then
            echo "# layers.$1.$field is not a number: $object"
            return 1
        fi
    done
}

cnn=$(sample tiny_cnn)
transformer=$(sample tiny_transformer)
if [ -n "$cnn" ] && [ -n "$transformer" ]; then
    cnn_data=${cnn%.onnx}
    stats=$tmp/cnn.qstats

    run calibrate "$cnn" --data "$cnn_data" -o "$stats"
    check "calibrate: exits 0" status_is 0
    cp "$stats" "$out_file"
    check "calibrate: format" json_is format qscope-qstats
    check "calibrate: version" json_is version 1
    check "calibrate: one sample" json_is samples 1
    check "calibrate: graph input first" json_is tensors.0.name image
    check "calibrate: histogram bins" json_is histogram_bins 2048
    check "calibrate: layer input axis" json_is layer_inputs.0.axis 1
    check "calibrate: layer input channels" json_is layer_inputs.0.channels 3

    run calibrate "$cnn" --data "$cnn_data" -o "$stats"
    check "calibrate: existing file refused" status_is 3
    check "calibrate: says --force" stderr_has "already exists"
    run calibrate "$cnn" --data "$cnn_data" -o "$stats" --force
    check "calibrate: --force replaces" status_is 0

    run calibrate "$cnn" --input "image=$(dirname -- "$transformer")/tiny_transformer/test_data_set_0/input_0.pb" \
        -o "$tmp/wrong.qstats"
    check "wrong rank: exits 1" status_is 1
    check "wrong rank: names the input" stderr_has "input 'image' has rank 3, the model expects 4"
    check "wrong rank: nothing written" test ! -e "$tmp/wrong.qstats"
    run calibrate "$cnn" --random 2 --shape image=1x3x16x16 -o "$tmp/wrong.qstats"
    check "wrong shape: exits 1" status_is 1
    check "wrong shape: names the input" stderr_has "input 'image' 16 in dim 2"
    run calibrate "$cnn" --input "nope=$tmp/x.npy"
    check "unknown input: usage error" status_is 2
    check "unknown input: lists the inputs" stderr_has "its run inputs: 'image'"
    run calibrate "$cnn"
    check "no inputs: usage error" status_is 2
    run calibrate "$cnn" --data "$cnn_data" --random 3
    check "two input sources: usage error" status_is 2
    run calibrate "$cnn" --random 3 -o "$tmp/random.qstats"
    check "random samples: exits 0" status_is 0
    check "random samples: counted" stdout_has "3 samples"

    run calibrate "$cnn" --data "$cnn_data" -o "$tmp/trial.qstats" --act int16:tensor:sym --json
    check "activation trial: exits 0" status_is 0
    check "activation trial: one row per activation" json_is 13.name probs
    check "activation trial: static scale" json_is 0.zero_point 0
    int16_fine=0
    for ((i = 0; i < 14; i++)); do
        json_above "$i.sqnr_db" 60 || int16_fine=1
    done
    check "activation trial: int16 above 60 dB everywhere" test "$int16_fine" -eq 0
    run calibrate "$cnn" --data "$cnn_data" -o "$tmp/trial.qstats" --force --act int8:token:sym \
        --json
    check "activation trial per token: exits 0" status_is 0
    check "activation trial per token: one value per token is exact" json_is 10.exact true

    run plan --set '*=int8:channel' "$cnn" -o "$tmp/cnn-plan.json"
    run eval "$cnn" --plan "$tmp/cnn-plan.json" --data "$cnn_data" --json --trace
    check "eval: exits 0" status_is 0
    check "eval: output name" json_is outputs.0.name probs
    check "eval: cosine above 0.999" json_above outputs.0.cosine 0.999
    check "eval: top-1 agrees" json_is outputs.0.top1_agreement 1.0
    check "eval: every layer read" json_is weights.layers_read 4
    check "eval: trace in graph order" json_is trace.0.op Conv
    run eval "$cnn" --plan "$tmp/cnn-plan.json" --data "$cnn_data" --act int8:tensor:asym:entropy \
        --qstats "$stats" --json
    check "eval with activations: exits 0" status_is 0
    check "eval with activations: tensors" json_is activation_tensors 4
    check "eval with activations: cosine above 0.9" json_above outputs.0.cosine 0.9
    run eval "$cnn" --plan "$tmp/cnn-plan.json" --data "$cnn_data" --act int8
    check "static activations without --qstats: usage error" status_is 2
    run eval "$cnn" --data "$cnn_data"
    check "eval without --plan: usage error" status_is 2

    run calibrate "$transformer" --data "${transformer%.onnx}" -o "$tmp/other.qstats"
    run eval "$cnn" --plan "$tmp/cnn-plan.json" --data "$cnn_data" --act int8 \
        --qstats "$tmp/other.qstats"
    check "statistics of another model: exits 1" status_is 1
    check "statistics of another model: says so" stderr_has "made for another model"

    run sensitivity "$cnn" --data "$cnn_data" --json
    check "sensitivity: exits 0" status_is 0
    check "sensitivity: format" json_is format qscope-sensitivity
    check "sensitivity: default configuration" json_is config int8:channel:sym:minmax
    check "sensitivity: four layers" json_is layers.3.rank 4
    check "sensitivity: numbers finite" layer_numbers_finite 0
    run sensitivity "$cnn" --data "$cnn_data" --layer 'op:Gemm'
    check "sensitivity --layer: exits 0" status_is 0
    check "sensitivity --layer: one row" stdout_matches '^ +1  fc\.weight'
    run sensitivity "$cnn" --data "$cnn_data" --config int9
    check "sensitivity: bad configuration is a usage error" status_is 2

    # plan --auto --sensitivity.  conv1.weight is large (a folded
    # BatchNormalization scales it to 179) but shows least at the output
    # (about 76 dB there against 44 dB in the weight), so its factor is
    # the smallest by orders of magnitude.  Weighed by weight error alone,
    # the 5800-byte budget (all int8 takes 6008) keeps conv1 at int8 and
    # moves two small layers to int4; weighed by the ranking, conv1 goes.
    ranking=$tmp/cnn-ranking.json
    run sensitivity "$cnn" --random 2 --json -o "$ranking"
    check "sensitivity ranking for plan: exits 0" status_is 0
    auto=(plan --auto 5800B --candidates int8:channel,int4:channel "$cnn")
    run "${auto[@]}" -o "$tmp/plain-plan.json"
    check "plan --auto without sensitivity: exits 0" status_is 0
    run "${auto[@]}" --sensitivity "$ranking" -o "$tmp/weighed-plan.json"
    check "plan --auto --sensitivity: exits 0" status_is 0
    check "plain plan: conv1 stays int8" \
        plan_config_is "$tmp/plain-plan.json" conv1.weight int8:channel:sym:minmax
    check "plain plan: dwconv goes to int4" \
        plan_config_is "$tmp/plain-plan.json" dwconv.weight int4:channel:asym:minmax
    check "plain plan: within the budget" \
        test "$("$JSON_CHECK" get "$tmp/plain-plan.json" totals.planned_bytes)" -le 5800
    check "weighed plan: conv1 goes to int4" \
        plan_config_is "$tmp/weighed-plan.json" conv1.weight int4:channel:asym:minmax
    check "weighed plan: the output-sensitive dwconv stays int8" \
        plan_config_is "$tmp/weighed-plan.json" dwconv.weight int8:channel:sym:minmax
    check "weighed plan: within the budget" \
        test "$("$JSON_CHECK" get "$tmp/weighed-plan.json" totals.planned_bytes)" -le 5800
    check "weighed plan: names the ranking" \
        json_is_file "$tmp/weighed-plan.json" method.sensitivity "$ranking"
    run plan --check "$tmp/weighed-plan.json" "$cnn"
    check "weighed plan: stores raw weight errors (--check matches)" status_is 0
    run plan --sensitivity "$ranking" --set '*=int8' "$cnn"
    check "plan --sensitivity without --auto: usage error" status_is 2
    run "${auto[@]}" --sensitivity "$tmp/cnn-plan.json"
    check "plan --sensitivity with a plan file: exits 1" status_is 1
    check "plan --sensitivity with a plan file: says so" stderr_has "not a sensitivity ranking"
    run "${auto[@]}" --sensitivity "$ranking" -o "$ranking" --force
    check "plan -o the ranking it reads: refused" status_is 3
    check "plan -o the ranking it reads: left alone" json_is_file "$ranking" format \
        qscope-sensitivity

    # An output file that is one of the inputs is never replaced.  Copies
    # in $tmp stand in for the samples, so that a failure cannot damage them.
    cp "$cnn" "$tmp/cnn-copy.onnx"
    cp "$cnn_data/test_data_set_0/input_0.pb" "$tmp/cnn-input.pb"
    cp "$tmp/cnn-plan.json" "$tmp/cnn-plan-copy.json"
    run calibrate "$tmp/cnn-copy.onnx" --data "$cnn_data" -o "$tmp/cnn-copy.onnx" --force
    check "calibrate -o the model: refused even with --force" status_is 3
    check "calibrate -o the model: says it is an input" stderr_has "is the input"
    check "calibrate -o the model: model intact" cmp -s "$cnn" "$tmp/cnn-copy.onnx"
    run eval "$cnn" --plan "$tmp/cnn-plan-copy.json" --data "$cnn_data" \
        -o "$tmp/cnn-plan-copy.json" --force
    check "eval -o its plan: refused" status_is 3
    check "eval -o its plan: plan intact" cmp -s "$tmp/cnn-plan.json" "$tmp/cnn-plan-copy.json"
    run sensitivity "$cnn" --input "image=$tmp/cnn-input.pb" -o "$tmp/cnn-input.pb" --force
    check "sensitivity -o its --input file: refused" status_is 3
    check "sensitivity -o its --input file: input intact" \
        cmp -s "$cnn_data/test_data_set_0/input_0.pb" "$tmp/cnn-input.pb"
else
    skip "activation commands on the samples" "samples/*.onnx not generated yet"
fi

# ovf.onnx: y = MatMul(x, W), x float [1, 2], W [2, 2] = {1e5, -1e5, 1,
# 0.5}.  fp16 turns 1e5 into infinity, so the weight error is infinite:
# its SQNR is null, and "exact" (a zero error) must be false.
printf '\x0a\x01x\x0a\x01W\x12\x01y\x1a\x02mm\x22\x06MatMul' >"$tmp/mm-node"
printf '\x08\x02\x08\x02\x10\x01\x42\x01W\x4a\x10\x00\x50\xc3\x47\x00\x50\xc3\xc7' >"$tmp/w-init"
printf '\x00\x00\x80\x3f\x00\x00\x00\x3f' >>"$tmp/w-init"
printf '\x0a\x01x\x12\x0e\x0a\x0c\x08\x01\x12\x08\x0a\x02\x08\x01\x0a\x02\x08\x02' >"$tmp/x-info"
{ pb_field 0x0a "$tmp/mm-node"; printf '\x12\x01g'; pb_field 0x2a "$tmp/w-init"
  pb_field 0x5a "$tmp/x-info"; printf '\x62\x03\x0a\x01y'; } >"$tmp/ovf-graph"
{ printf '\x08\x08\x42\x02\x10\x11'; pb_field 0x3a "$tmp/ovf-graph"; } >"$tmp/ovf.onnx"

run sensitivity "$tmp/ovf.onnx" --random 2 --config fp16 --json
check "sensitivity, infinite weight error: exits 0" status_is 0
check "sensitivity, infinite weight error: SQNR null" json_is layers.0.weight_sqnr_db null
check "sensitivity, infinite weight error: not exact" json_is layers.0.weight_exact false
run plan --set W=fp16 -o "$tmp/ovf-plan.json" "$tmp/ovf.onnx"
run eval "$tmp/ovf.onnx" --plan "$tmp/ovf-plan.json" --random 2 --json
check "eval, infinite weight error: exits 0" status_is 0
check "eval, infinite weight error: SQNR null" json_is weights.sqnr_db null
check "eval, infinite weight error: not exact" json_is weights.exact false

# x = {FLT_MAX, 1} as a .npy file: the int8 activation trial of x may
# overflow to an infinite error; whatever its SQNR, "exact" is false.
header="{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2), }"
while [ $(( (11 + ${#header}) % 64 )) -ne 0 ]; do header="$header "; done
{ printf '\x93NUMPY\x01\x00'; printf "\\x$(printf %02x $((${#header} + 1)))\\x00"
  printf '%s\n' "$header"; printf '\xff\xff\x7f\x7f\x00\x00\x80\x3f'; } >"$tmp/flt-max.npy"
run calibrate "$tmp/ovf.onnx" --input "x=$tmp/flt-max.npy" -o "$tmp/ovf.qstats" \
    --act int8:tensor:sym --json
check "calibrate, FLT_MAX activation: exits 0" status_is 0
check "calibrate, FLT_MAX activation: input row" json_is 0.name x
check "calibrate, FLT_MAX activation: not exact" json_is 0.exact false

if have_testdata; then
    cls=$TESTDATA/models/real/ch_ppocr_mobile_v2.0_cls_infer
    run plan --set '*=int8:channel' "$cls.onnx" -o "$tmp/cls-plan.json"
    run eval "$cls.onnx" --plan "$tmp/cls-plan.json" --data "$cls" --json
    check "ppocr cls int8 eval: exits 0" status_is 0
    check "ppocr cls int8 eval: every layer quantized" json_is weights.layers_read 54
    check "ppocr cls int8 eval: cosine above 0.99" json_above outputs.0.cosine 0.99

    run sensitivity "$cls.onnx" --data "$cls" --config int4:channel:sym --json
    check "ppocr cls int4 sensitivity: exits 0" status_is 0
    check "ppocr cls int4 sensitivity: configuration" json_is config int4:channel:sym:minmax
    count=$("$JSON_CHECK" get "$out_file" layers | grep -o '"rank"' | wc -l)
    check "ppocr cls int4 sensitivity: 54 layers" test "$count" -eq 54
    all_finite=0
    for ((i = 0; i < count; i++)); do
        layer_numbers_finite "$i" || all_finite=1
    done
    check "ppocr cls int4 sensitivity: every number finite" test "$all_finite" -eq 0
    run sensitivity "$cls.onnx" --data "$cls" --config int4:channel:sym
    check "ppocr cls int4 sensitivity text: no nan or inf" \
        eval '! grep -q -i -w -E "nan|inf" "$out_file"'

    run calibrate "$TESTDATA/onnx-node-tests/test_bernoulli/model.onnx" --random 1 \
        -o "$tmp/bernoulli.qstats"
    check "missing op: exits 5" status_is 5
    check "missing op: named with its node" stderr_has "op Bernoulli cannot be run"
else
    skip "activation commands on the shared models" "QSCOPE_TESTDATA is not set or has no models"
fi

finish
