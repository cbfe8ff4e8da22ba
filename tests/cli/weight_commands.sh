#!/usr/bin/env bash
# qscope stats, quant, compare and plan on hand-made models, the samples,
# the shared cases and the real models: every Conv, ConvTranspose and
# MatMul layer of the real models compared with finite numbers, plans
# written, checked and refused, and the exit statuses of the conventions.
. "$(dirname -- "$0")/lib.sh"

# Expected quantizable layers of each real model, from the onnx Python
# package: nodes of these types whose weight input is a constant.
real_models="ch_PP-OCRv4_det_infer:64 ch_PP-OCRv4_rec_infer:47 ch_ppocr_mobile_v2.0_cls_infer:54 silero_vad:12"

# compare_rows FILE BITS: the rows of Conv, ConvTranspose and MatMul
# layers at BITS in a compare CSV.
compare_rows() {
    awk -F, -v bits="$2" 'NR > 1 && $1 != "(total)" && $4 == bits &&
        ($2 == "Conv" || $2 == "ConvTranspose" || $2 == "MatMul")' "$1"
}

# rows_finite FILE BITS: true when every such row has six plain numbers
# (SQNR and bytes of the three granularities), no "inf", "nan" or empty.
rows_finite() {
    compare_rows "$1" "$2" | awk -F, '{
        for (i = 6; i <= 11; i++)
            if ($i !~ /^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$/) {
                print "# bad field " i ": " $0
                bad = 1
            }
    } END { exit bad }'
}

# json_is_file FILE PATH VALUE: the value at PATH of a JSON file.
json_is_file() { [ "$("$JSON_CHECK" get "$1" "$2")" = "$3" ]; }

# --- hand-made models and the samples (no shared test data needed) ---

# huge.onnx: y = MatMul(x, W), W [2, 2] = {1e5, -1e5, 1, 0.5}; fp16 cannot
# hold 1e5, so an fp16 trial has an infinite error.
printf '\x0a\x01x\x0a\x01W\x12\x01y\x1a\x02mm\x22\x06MatMul' >"$tmp/mm-node"
printf '\x08\x02\x08\x02\x10\x01\x42\x01W\x4a\x10\x00\x50\xc3\x47\x00\x50\xc3\xc7' >"$tmp/w-init"
printf '\x00\x00\x80\x3f\x00\x00\x00\x3f' >>"$tmp/w-init"
{ pb_field 0x0a "$tmp/mm-node"; printf '\x12\x01g'; pb_field 0x2a "$tmp/w-init"
  printf '\x5a\x03\x0a\x01x\x62\x03\x0a\x01y'; } >"$tmp/huge-graph"
{ printf '\x08\x08\x42\x02\x10\x11'; pb_field 0x3a "$tmp/huge-graph"; } >"$tmp/huge.onnx"

run quant --json --config fp16 "$tmp/huge.onnx"
check "quant: an overflowing fp16 trial exits 0" status_is 0
check "quant: its SQNR is null" json_is layers.0.sqnr_db null
check "quant: an infinite error is not called exact" json_is layers.0.exact false
check "quant: the note says the error is infinite" \
    json_is layers.0.note "the error is infinite: a value overflows the format"
check "quant: the total is not exact either" json_is total.exact false

run plan --set W=fp16 -o "$tmp/huge-plan.json" "$tmp/huge.onnx"
check "plan: a layer with an infinite error is written" status_is 0
run plan --check "$tmp/huge-plan.json" "$tmp/huge.onnx"
check "plan --check: the plan written with null errors reads back and matches" status_is 0
run plan --auto 60% --candidates fp16,int8:tensor --json "$tmp/huge.onnx"
check "plan --auto: an infinite error does not break the search" status_is 0
check "plan --auto: the finite candidate wins" json_is layers.W.config int8:tensor:sym:minmax

# extreme.onnx: y = MatMul(x, W) with W [1, 1] = FLT_MAX, and
# wide.onnx the same with W [2, 1] = {3e38, -3e38}.
# json_between PATH LO HI: the number at PATH lies in [LO, HI].
json_between() {
    local value
    value=$("$JSON_CHECK" get "$out_file" "$1") || return 1
    awk -v v="$value" -v lo="$2" -v hi="$3" 'BEGIN { exit !(v ~ /^-?[0-9]/ && v >= lo && v <= hi) }'
}
make_matmul_model() {    # make_matmul_model NAME DIMS_AND_DATA_BYTES
    printf "$2" >"$tmp/$1-init"
    { pb_field 0x0a "$tmp/mm-node"; printf '\x12\x01g'; pb_field 0x2a "$tmp/$1-init"
      printf '\x5a\x03\x0a\x01x\x62\x03\x0a\x01y'; } >"$tmp/$1-graph"
    { printf '\x08\x08\x42\x02\x10\x11'; pb_field 0x3a "$tmp/$1-graph"; } >"$tmp/$1.onnx"
}
make_matmul_model extreme '\x08\x01\x08\x01\x10\x01\x42\x01W\x4a\x04\xff\xff\x7f\x7f'
make_matmul_model wide '\x08\x02\x08\x01\x10\x01\x42\x01W\x4a\x08\xe6\xb1\x61\x7f\xe6\xb1\x61\xff'
for config in int8:tensor:sym int16:tensor:sym; do
    run quant --json --config "$config" "$tmp/extreme.onnx"
    check "quant $config of FLT_MAX: exits 0" status_is 0
    check "quant $config of FLT_MAX: dequantizes exactly" json_is layers.0.exact true
    check "quant $config of FLT_MAX: no error" json_is layers.0.max_abs_err 0.0
done
# The range 6e38 passes FLT_MAX: scale 6e38 / 255 = 2.353e36, each end
# half a step off (1.18e36), SQNR 10 log10(2 * 9e76 / (2 * 1.384e72)) = 48.13 dB.
run quant --json --config int8:tensor:asym "$tmp/wide.onnx"
check "quant asym of +-3e38: exits 0" status_is 0
check "quant asym of +-3e38: SQNR 48.13 dB" json_between layers.0.sqnr_db 48.12 48.14
check "quant asym of +-3e38: max error half a step" \
    json_between layers.0.max_abs_err 1.17e36 1.19e36

# nan.onnx: W [2, 1] = {NaN, NaN}.  With no finite weight there is no
# error to measure: the plan says so as quant does, never "exact".
make_matmul_model nan '\x08\x02\x08\x01\x10\x01\x42\x01W\x4a\x08\x00\x00\xc0\x7f\x00\x00\xc0\x7f'
run quant --json --config int8 "$tmp/nan.onnx"
check "quant of all-NaN weights: not exact" json_is layers.0.exact false
check "quant of all-NaN weights: the note" stdout_has "no finite values to measure"
run plan --set W=int8 --json "$tmp/nan.onnx"
check "plan of all-NaN weights: exits 0" status_is 0
check "plan of all-NaN weights: not exact" json_is layers.W.exact false
check "plan of all-NaN weights: SQNR null" json_is layers.W.sqnr_db null
check "plan of all-NaN weights: squared error null" json_is layers.W.sse null
check "plan of all-NaN weights: flagged" json_is layers.W.no_finite_values true
check "plan of all-NaN weights: the note" json_is layers.W.note "no finite values to measure"
run plan --set W=int8 -o "$tmp/nan-plan.json" "$tmp/nan.onnx"
check "plan of all-NaN weights: written" status_is 0
run plan --check "$tmp/nan-plan.json" "$tmp/nan.onnx"
check "plan --check of all-NaN weights: reads back and matches" status_is 0

# bn.onnx: y = BatchNormalization(Conv(x, Wc)) with variance -1, which
# the model turns into NaN: the weight is not folded, with a warning.
printf '\x0a\x01x\x0a\x02Wc\x12\x01c\x1a\x04conv\x22\x04Conv' >"$tmp/conv-node"
printf '\x0a\x01c\x0a\x01s\x0a\x01b\x0a\x01m\x0a\x01v\x12\x01y\x1a\x02bn' >"$tmp/bn-node"
printf '\x22\x12BatchNormalization' >>"$tmp/bn-node"
printf '\x08\x01\x08\x01\x08\x01\x08\x02\x10\x01\x42\x02Wc\x4a\x08' >"$tmp/wc-init"
printf '\x00\x00\x80\x3f\x00\x00\x00\x40' >>"$tmp/wc-init"
for p in s:3f800000 b:00000000 m:00000000 v:bf800000; do
    name=${p%%:*}
    hex=${p#*:}
    printf "\\x08\\x01\\x10\\x01\\x42\\x01$name\\x4a\\x04\\x${hex:6:2}\\x${hex:4:2}\\x${hex:2:2}\\x${hex:0:2}" \
        >"$tmp/$name-init"
done
{ pb_field 0x0a "$tmp/conv-node"; pb_field 0x0a "$tmp/bn-node"; printf '\x12\x01g'
  for name in wc s b m v; do pb_field 0x2a "$tmp/$name-init"; done
  printf '\x5a\x03\x0a\x01x\x62\x03\x0a\x01y'; } >"$tmp/bn-graph"
{ printf '\x08\x08\x42\x02\x10\x11'; pb_field 0x3a "$tmp/bn-graph"; } >"$tmp/bn.onnx"

run stats --csv "$tmp/bn.onnx"
check "stats: a BatchNormalization with a negative variance exits 0" status_is 0
check "stats: it is not folded, and the warning says why" \
    stderr_has "BatchNormalization 'bn' is not folded into 'Wc': channel 0 has scale 1, variance -1"
check "stats: the weight keeps its own values" stdout_matches '^Wc,Conv,"\[1, 1, 1, 2\]",2,fp32,1,2,2,'

tiny_cnn=$(sample tiny_cnn)
tiny_transformer=$(sample tiny_transformer)
if [ -n "$tiny_cnn" ] && [ -n "$tiny_transformer" ]; then
    run quant --json --layer conv2.weight "$tiny_cnn"
    note="BatchNormalization folded; 1 channel without a usable scale"
    note="$note (all zero, subnormal or not finite): scale 1.0, quantized to 0"
    check "quant: the dead channel 21 of conv2.weight is flagged in the note" \
        json_is layers.0.note "$note"
    # nf4:b64 on the depthwise 3x3 kernel (group axis of length 1) would
    # cost 36 bits per weight, more than float32, so --auto never picks it.
    run plan --auto 1000bpw --json "$tiny_cnn"
    check "plan --auto 1000bpw: exits 0" status_is 0
    check "plan --auto: no layer larger than float32" \
        awk '/"bits_per_weight":/ { v = $0; sub(/.*"bits_per_weight": /, "", v)
             if (v + 0 > 32) bad = 1 } END { exit bad }' "$out_file"
    # fp16 group scales round up, so int16 g128 keeps every absmax and
    # stays within a tenth of a dB of fp32 scales (96.9 dB).
    run quant --json --config int16:g128 "$tiny_cnn"
    half=$("$JSON_CHECK" get "$out_file" total.sqnr_db)
    run quant --json --config int16:g128:scale=fp32 "$tiny_cnn"
    full=$("$JSON_CHECK" get "$out_file" total.sqnr_db)
    check "quant int16:g128: fp16 scales cost under 0.5 dB" \
        awk -v h="$half" -v f="$full" 'BEGIN { exit !(h ~ /^[0-9]/ && f - h < 0.5) }'
    run quant --csv --config int4:g64 --layer mlp.fc1.weight "$tiny_transformer"
    check "quant: the dead column 137 of mlp.fc1.weight is one flagged group" \
        stdout_matches '^mlp.fc1.weight,.*"1 group without a usable scale'
    # The outlier input rows 7, 29 and 50 of attn.q.weight show along axis 0.
    run stats --csv --axis 0 --layer attn.q.weight "$tiny_transformer"
    check "stats --axis 0: one row per input row" [ "$(wc -l <"$out_file")" -eq 65 ]
    check "stats --axis 0: row 7 holds the largest magnitude" \
        stdout_matches '^7,-1.04531[0-9]*,1.92011547[0-9]*,1.92011547[0-9]*,'
    run stats --csv --axis 0 "$tiny_transformer"
    check "stats --axis 0: the spread of attn.q.weight rows is 53.7" \
        stdout_matches '^attn.q.weight,MatMul,.*,53.7[0-9]*,64,0,0,0,'
    run stats --axis 64 "$tiny_transformer"
    check "stats --axis 64 is a usage error" status_is 2
    run stats --csv --axis 3 --layer fc.weight "$tiny_cnn"
    check "stats --axis beyond the rank: one channel" \
        stdout_matches '^0,.*,320,$'
    # --force never replaces an input of the command.
    cp "$tiny_cnn" "$tmp/self.onnx"
    run plan --auto 50% -o "$tmp/self.onnx" --force "$tmp/self.onnx"
    check "plan -o MODEL --force: output not written" status_is 3
    check "plan -o MODEL --force: the message says it is the input" \
        stderr_has "is the input '$tmp/self.onnx' of this command"
    check "plan -o MODEL --force: the model is intact" cmp -s "$tmp/self.onnx" "$tiny_cnn"
    run stats -o "$tmp/self.onnx" --force "$tmp/self.onnx"
    check "stats -o MODEL --force: output not written" status_is 3
    run plan --auto 50% -o "$tmp/self-plan.json" "$tmp/self.onnx"
    run plan --check "$tmp/self-plan.json" -o "$tmp/self-plan.json" --force "$tmp/self.onnx"
    check "plan --check PLAN -o PLAN --force: output not written" status_is 3
    run quant --plan "$tmp/self-plan.json" -o "$tmp/self-plan.json" --force "$tmp/self.onnx"
    check "quant --plan PLAN -o PLAN --force: output not written" status_is 3
    run compare --bits 8,4, "$tiny_cnn"
    check "compare: a trailing comma in --bits is a usage error" status_is 2
    run compare --bits 8,8 "$tiny_cnn"
    check "compare: a width given twice is a usage error" status_is 2
    check "compare: the message names the repeated width" stderr_has "8 is given twice"
    run plan --set '=int8' "$tiny_cnn"
    check "plan --set: an empty pattern is a usage error" status_is 2
    check "plan --set: the message says the pattern is empty" \
        stderr_has "invalid --set '=int8': the pattern before '=' is empty"
    run plan --check "$tmp" "$tiny_cnn"
    check "plan --check: a folder is invalid input" status_is 1
    check "plan --check: the message says it is a folder" stderr_has "is a folder, not a plan file"
    run plan --auto 1bpw --pin fc.weight "$tiny_cnn"
    check "plan --auto: a budget too small is a usage error" status_is 2
    check "plan --auto: the message gives the budget in bits per weight" \
        stderr_has "the budget of 706 bytes (1.000 bits per weight) is below the smallest plan"
    check "plan --auto: the message gives the smallest plan in bits per weight" \
        stderr_has "the candidates allow, 5216 bytes (7.388 bits per weight);"
    check "plan --auto: the message gives the bytes of the pinned layer" \
        stderr_has "; 1 pinned layer takes 1280 bytes of it"
else
    skip "weight commands on the samples" "samples/tiny_cnn.onnx is missing"
fi

if ! have_testdata; then
    skip "weight commands" "QSCOPE_TESTDATA is not set"
    finish
    exit 0
fi

cases=$TESTDATA/cases
models=$TESTDATA/models/real

# --- compare on every real model ---
for entry in $real_models; do
    name=${entry%%:*}
    want=${entry#*:}
    run compare --csv "$models/$name.onnx"
    check "compare $name: exits 0" status_is 0
    cp "$out_file" "$tmp/compare.csv"
    for bits in 8 4; do
        rows=$(compare_rows "$tmp/compare.csv" "$bits" | wc -l)
        check "compare $name: $want layers at $bits bits (got $rows)" [ "$rows" -eq "$want" ]
        check "compare $name: finite numbers at $bits bits" rows_finite "$tmp/compare.csv" "$bits"
    done
    check "compare $name: totals for 8 and 4 bits" \
        [ "$(grep -c '^(total),' "$tmp/compare.csv")" -eq 2 ]
    check "compare $name: no progress bar when stderr is not a terminal" \
        [ ! -s "$err_file" ]
done

# Per-channel beats per-tensor at 4 bits on the model total of rec.
run compare --json --bits 4 "$models/ch_PP-OCRv4_rec_infer.onnx"
check "compare rec json: one total" json_is totals.0.bits 4
tensor_db=$("$JSON_CHECK" get "$out_file" totals.0.tensor_sqnr_db)
channel_db=$("$JSON_CHECK" get "$out_file" totals.0.channel_sqnr_db)
check "compare rec json: channel total $channel_db dB above tensor $tensor_db dB" \
    awk -v t="$tensor_db" -v c="$channel_db" 'BEGIN { exit !(c > t + 5) }'

run compare --bits 3,9 "$models/silero_vad.onnx"
check "compare: --bits 9 is a usage error" status_is 2
run compare --group-size 0 "$models/silero_vad.onnx"
check "compare: --group-size 0 is a usage error" status_is 2

# --- stats ---
run stats --csv "$cases/12-zero-constant-channels/model.onnx" --layer W
check "stats one layer: exits 0" status_is 0
check "stats one layer: channel 1 all-zero" stdout_matches '^1,0,0,0,0,18,all-zero$'
check "stats one layer: channel 3 subnormal-only" stdout_matches '^3,.*,subnormal-only$'
check "stats one layer: channel 2 constant" stdout_matches '^2,0.5,0.5,0.5,0.5,18,$'

run stats --json "$cases/08-constant-node-weights/model.onnx" --layer mmW --bins 8
check "stats json: histogram of 8 bins" \
    [ "$("$JSON_CHECK" get "$out_file" histogram.counts | tr -cd ',' | wc -c)" -eq 7 ]
check "stats json: layer absmax" json_is layer.absmax 2.4862148761749268

run stats "$cases/19-zero-size-tensor/model.onnx" --all
check "stats --all: empty layers noted" stdout_matches '^Wz +MatMul +\[4, 0\] +0 .*empty'
run stats "$cases/19-zero-size-tensor/model.onnx"
check "stats: auxiliary layers hidden without --all" sh -c "! grep -q '^E ' '$out_file'"

run stats --layer 'nothing*' "$cases/08-constant-node-weights/model.onnx"
check "stats: a pattern matching nothing is a usage error" status_is 2
check "stats: the message names the pattern" stderr_has "no quantizable layer matches 'nothing*'"

run stats "$cases/21-dequantize-default-axis/model.onnx"
check "stats: invalid DequantizeLinear exits 1" status_is 1
check "stats: the message names node, axis and sizes" \
    stderr_has "DequantizeLinear 'dq_conv_no_axis': scale has 3 entries, but axis 1 (the default) of the input has size 2"
run stats --keep-going "$cases/21-dequantize-default-axis/model.onnx"
check "stats --keep-going: exits 0" status_is 0
check "stats --keep-going: W_mm listed" stdout_matches '^W_mm +MatMul'

# --- quant ---
run quant --json --config int8:channel:sym "$cases/08-constant-node-weights/model.onnx"
check "quant json: exits 0" status_is 0
check "quant json: total of both weights" json_is total.params 92
check "quant json: payload bytes" json_is total.payload_bytes 92
check "quant json: scale bytes" json_is total.scale_bytes 36
check "quant json: conv layer first" json_is layers.0.key convW
run quant --config int9 "$cases/08-constant-node-weights/model.onnx"
check "quant: invalid configuration is a usage error" status_is 2

# --- plan ---
rec=$models/ch_PP-OCRv4_rec_infer.onnx
plan=$tmp/plan.json
run plan --auto 4.5bpw -o "$plan" --json "$rec"
check "plan --auto: exits 0" status_is 0
check "plan --auto: plan written" [ -s "$plan" ]
bpw=$("$JSON_CHECK" get "$out_file" total.bits_per_weight)
check "plan --auto: budget of 4.5 bits per weight honoured ($bpw)" \
    awk -v b="$bpw" 'BEGIN { exit !(b <= 4.5 && b > 4.2) }'
check "plan file: model name" json_is_file "$plan" model.file ch_PP-OCRv4_rec_infer.onnx

run plan --check "$plan" "$rec"
check "plan --check: exits 0 on the same model" status_is 0
check "plan --check: every layer ok" sh -c "! grep -q differs '$out_file'"

run plan --auto 4.5bpw -o "$plan" "$rec"
check "plan: an existing file is not replaced without --force" status_is 3
run plan --auto 25% -o "$plan" --force "$rec"
check "plan --force: replaced" status_is 0

sed 's/"sse": \([0-9]\)/"sse": 1\1/' "$plan" >"$tmp/edited.json"
run plan --check "$tmp/edited.json" "$rec"
check "plan --check: edited numbers exit 4" status_is 4
check "plan --check: the message names a layer" stderr_matches "layer '[^']+' \(.*\): squared error"

run plan --check "$plan" "$models/ch_ppocr_mobile_v2.0_cls_infer.onnx"
check "plan --check: another model is invalid for the plan" status_is 1
check "plan --check: unknown layer named" stderr_matches "layer '[^']+' is not in the model"

run plan --set 'op:MatMul=int4:g32' --set 'conv2d_1*=float' --set 'op:Conv=int8' \
    -o "$tmp/set.json" "$rec"
check "plan --set: exits 0" status_is 0
check "plan --set: MatMul layers int4 g32" json_is_file "$tmp/set.json" \
    method.kind set
check "plan --set: the later pattern wins" sh -c \
    "grep -q '\"conv2d_10.w_0\": {\"config\": \"int8:channel:sym:minmax\"' '$tmp/set.json'"
check "plan --set: int4 g32 on linear_85.w_0" sh -c \
    "grep -q '\"linear_85.w_0\": {\"config\": \"int4:g32:asym:minmax\"' '$tmp/set.json'"

run plan --from "$tmp/set.json" --pin 'op:MatMul' --auto 6bpw -o "$tmp/from.json" "$rec"
check "plan --from --pin --auto: exits 0" status_is 0
check "plan --from --pin: pinned MatMul keeps int4 g32" sh -c \
    "grep -q '\"linear_85.w_0\": {\"config\": \"int4:g32:asym:minmax\", \"pinned\": true' '$tmp/from.json'"

run plan --auto 0.5bpw "$rec"
check "plan: an impossible budget is a usage error" status_is 2
check "plan: the message gives the smallest plan" stderr_has "below the smallest plan"
run plan --auto 4.5 "$rec"
check "plan: a budget without unit is a usage error" status_is 2
run plan "$rec"
check "plan: no mode is a usage error" status_is 2
run plan --set 'nothing=int8' "$rec"
check "plan --set: unknown layer is a usage error" status_is 2

printf '{"format": "qscope-plan", "version": 1, "colour": 2, "layers": {}}\n' >"$tmp/bad.json"
run plan --check "$tmp/bad.json" "$rec"
check "plan --check: unknown key is invalid input" status_is 1
check "plan --check: the message names the key" stderr_has "unknown key 'colour'"

# Greedy and exact agree within 3% on a small model.
silero=$models/silero_vad.onnx
run plan --auto 30% --json -o "$tmp/g.json" "$silero"
greedy=$("$JSON_CHECK" get "$out_file" total.sse)
run plan --auto 30% --search exact --json -o "$tmp/e.json" "$silero"
exact=$("$JSON_CHECK" get "$out_file" total.sse)
check "plan: greedy $greedy within 3% of exact $exact on silero_vad" \
    awk -v g="$greedy" -v e="$exact" 'BEGIN { exit !(e <= g * 1.000001 && g <= e * 1.03) }'

finish
