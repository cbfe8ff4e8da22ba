#!/usr/bin/env bash
# qscope graph: nodes in order with their values' types, subgraph nodes
# under their parent with their scope.
. "$(dirname -- "$0")/lib.sh"

tiny_if=$(sample tiny_if)
if [ -n "$tiny_if" ]; then
    run graph "$tiny_if"
    check "tiny_if: exits 0" status_is 0
    check "tiny_if: whole text" stdout_is "$(cat <<'TEXT'
0  ReduceSum  sum       (x:fp32[1,8]) -> (sum.out)
1  Greater    positive  (sum.out, threshold:fp32[]) -> (cond)
2  If         select    (cond) -> (y:fp32[1,4])
  select/then_branch/  (2 nodes)
    0  Constant  then_const   () -> (W_then:fp32[8,4])
    1  MatMul    then_matmul  (x:fp32[1,8], W_then:fp32[8,4]) -> (y_then:fp32[1,4])
  select/else_branch/  (2 nodes)
    0  Constant  else_const   () -> (W_else:fp32[8,4])
    1  MatMul    else_matmul  (x:fp32[1,8], W_else:fp32[8,4]) -> (y_else:fp32[1,4])
TEXT
)"
    run graph --json "$tiny_if"
    check "tiny_if JSON: 7 nodes, the last" json_is nodes.6.name else_matmul
    check "tiny_if JSON: scope of a branch node" json_is nodes.6.scope select/else_branch/
    check "tiny_if JSON: depth" json_is nodes.6.depth 1
    check "tiny_if JSON: input shape" json_is nodes.6.inputs.1.shape '[8,4]'
    check "tiny_if JSON: undeclared type is null" json_is nodes.0.outputs.0.elem_type null
    check "tiny_if JSON: subgraphs of If" json_is nodes.2.subgraphs \
        '["select/then_branch/","select/else_branch/"]'
else
    skip "graph on tiny_if" "samples/tiny_if.onnx not generated yet"
fi

if have_testdata; then
    silero=$TESTDATA/models/real/silero_vad.onnx
    run graph "$silero"
    check "silero_vad: exits 0" status_is 0
    check "silero_vad: If at the top level" stdout_matches '^2  If +If_0 +\(Equal_0_C\) -> '
    check "silero_vad: else branch scope" stdout_matches '^  If_0/else_branch/  \(113 nodes\)$'
    check "silero_vad: then branch scope" stdout_matches '^  If_0/then_branch/  \([0-9]+ nodes\)$'
    check "silero_vad: nested If scope" stdout_matches '^      If_0/else_branch/.+/(then|else)_branch/'
    check "silero_vad: branch node indented" stdout_matches '^      0  Constant +#0 +\(\) -> '
    check "silero_vad: 689 node lines" \
        test "$(grep -c -E '^ *[0-9]+  ' "$out_file")" -eq 689

    run graph --csv "$silero"
    check "silero_vad CSV: 689 rows and a header" test "$(wc -l <"$out_file")" -eq 690
    check "silero_vad CSV: a branch row" stdout_matches '^If_0/else_branch/,0,Constant,#0,,'
else
    skip "graph on silero_vad" "QSCOPE_TESTDATA not set or has no models/"
fi

# A hand-made model (protobuf bytes) with one Relu whose name is the
# invalid UTF-8 byte 0xff followed by the control character 0x01.
printf '\x08\x08\x3a\x1f\x0a\x10\x0a\x01x\x12\x01y\x1a\x02\xff\x01\x22\x04Relu\x12\x01g' \
    >"$tmp/bad-name.onnx"
printf '\x5a\x03\x0a\x01x\x62\x03\x0a\x01y\x42\x02\x10\x11' >>"$tmp/bad-name.onnx"
run graph "$tmp/bad-name.onnx"
check "bad name: exits 0" status_is 0
check "bad name: text escapes and replaces" stdout_is '0  Relu  \xff?  (x) -> (y)'
run graph --json "$tmp/bad-name.onnx"
check "bad name: JSON is valid UTF-8" json_is nodes.0.op Relu
check "bad name: JSON escapes" json_is nodes.0.name $'\\xff\x01'
run graph --csv "$tmp/bad-name.onnx"
check "bad name: CSV escapes and quotes" \
    stdout_is "$(printf 'scope,index,op,name,inputs,outputs\n,0,Relu,"\\xff\001",x,y')"

# Graph input x (fp32), output y: the parts of a hand-made graph after its nodes.
graph_tail='\x12\x01g\x5a\x09\x0a\x01x\x12\x04\x0a\x02\x08\x01\x62\x03\x0a\x01y'

# Write the model of the node bytes in file $1 to file $2.
model_of_nodes() {
    { cat -- "$1"; printf "$graph_tail"; } >"$tmp/graph-body"
    { printf '\x08\x08\x42\x02\x10\x11'; pb_field 0x3a "$tmp/graph-body"; } >"$2"
}

# C1 control characters (U+009B acts as ESC [ on some terminals) are
# replaced on screen and escaped in JSON, like C0 ones.
printf '\x0a\x01x\x12\x01y\x1a\x06\xc2\x9b2J\xc2\x85\x22\x04Relu' >"$tmp/c1-node"
{ pb_field 0x0a "$tmp/c1-node"; } >"$tmp/c1-nodes"
model_of_nodes "$tmp/c1-nodes" "$tmp/c1.onnx"
run graph "$tmp/c1.onnx"
check "C1 name: text replaces" stdout_is '0  Relu  ?2J?  (x:fp32) -> (y)'
run graph --json "$tmp/c1.onnx"
check "C1 name: JSON escapes" stdout_has '"name": "\u009b2J\u0085"'

# An op whose domain is not UTF-8 prints wider than its bytes: the name
# column stays aligned all the same.
printf '\x0a\x01x\x12\x01h\x1a\x01a\x22\x04Relu\x3a\x02D\x80' >"$tmp/wide-op"
printf '\x0a\x01h\x12\x01y\x1a\x01b\x22\x04Relu' >"$tmp/narrow-op"
{ pb_field 0x0a "$tmp/wide-op"; pb_field 0x0a "$tmp/narrow-op"; } >"$tmp/align-nodes"
model_of_nodes "$tmp/align-nodes" "$tmp/align.onnx"
run graph "$tmp/align.onnx"
check "escaped op: columns aligned" stdout_is "$(printf '%s\n%s' \
    '0  D\x80.Relu  a  (x:fp32) -> (h)' \
    '1  Relu        b  (h) -> (y)')"

# A Sum of 100000 inputs: its input list is built in linear time (it was
# quadratic: minutes of CPU).  The CPU limit is far above what it needs.
printf '\x0a\x01x%.0s' $(seq 100000) >"$tmp/sum-node"
printf '\x12\x01y\x22\x03Sum' >>"$tmp/sum-node"
pb_field 0x0a "$tmp/sum-node" >"$tmp/sum-nodes"
model_of_nodes "$tmp/sum-nodes" "$tmp/sum.onnx"
for format in text csv; do
    status=0
    (ulimit -t 20; exec "$QSCOPE" graph --format=$format "$tmp/sum.onnx") \
        >"$out_file" 2>"$err_file" || status=$?
    check "100000 inputs, $format: exit 0" status_is 0
    check "100000 inputs, $format: all listed" \
        test "$(grep -o 'x:fp32' "$out_file" | wc -l)" -eq 100000
done

finish
