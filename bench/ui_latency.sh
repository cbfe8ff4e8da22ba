#!/usr/bin/env bash
# How long the layer view takes to show new numbers after a key.
#
# Usage: bench/ui_latency.sh [QSCOPE] [MODEL LAYER]
#
# Drives the browser in tmux on MODEL (default: a synthetic model with one
# MatMul weight of 2048 x 2048 = 4.19M parameters, written with
# /usr/bin/python3 and onnx), opens LAYER in the layer view, presses keys
# that change the format and bits (min-max ranges only), and reads the
# QSCOPE_TRACE timestamps: for each key, the time from the key to the
# trial's numbers being shown.  The target is 50 ms for layers up to 4M
# parameters.  Not a test: it prints numbers and exits 0.
set -euo pipefail

QSCOPE=${1:-./qscope}
MODEL=${2:-}
LAYER=${3:-W}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/qscope-latency.XXXXXX")
SOCKET=qscope-latency-$$
trap 'tmux -L "$SOCKET" kill-server 2>/dev/null; rm -rf "$WORK"' EXIT

if [ -z "$MODEL" ]; then
    MODEL=$WORK/matmul_4m.onnx
    /usr/bin/python3 - "$MODEL" <<'PY'
import sys
import numpy as np
import onnx
from onnx import helper, numpy_helper, TensorProto

rng = np.random.default_rng(7)
w = rng.standard_normal((2048, 2048)).astype(np.float32)
graph = helper.make_graph(
    [helper.make_node("MatMul", ["x", "W"], ["y"], name="matmul")],
    "latency",
    [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2048])],
    [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2048])],
    [numpy_helper.from_array(w, "W")])
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
onnx.save(model, sys.argv[1])
PY
fi

wait_for() {
    for _ in $(seq 1 300); do
        tmux -L "$SOCKET" capture-pane -p -t b | grep -qF -- "$1" && return 0
        sleep 0.1
    done
    echo "timed out waiting for: $1" >&2
    tmux -L "$SOCKET" capture-pane -p -t b >&2
    return 1
}

tmux -L "$SOCKET" -f /dev/null new-session -d -s b -x 120 -y 40 \
    "env TERM=xterm-256color QSCOPE_TRACE=$WORK/trace $QSCOPE $MODEL; sleep 60"
wait_for "1/"
tmux -L "$SOCKET" send-keys -t b : "layer $LAYER" Enter
wait_for "MSE "
sleep 1
# int8 per channel -> int7 ... int2, then the other formats and back.
for key in b b b b b b B B B B B B f f f F F F; do
    tmux -L "$SOCKET" send-keys -t b "$key"
    sleep 0.4
done
tmux -L "$SOCKET" send-keys -t b q
sleep 0.5

echo "model: $MODEL, layer: $LAYER"
grep "shown .* ms after the key" "$WORK/trace" | tail -n 18 |
    sed 's/.*trial \([^ ]*\) of .* shown \([0-9.]*\) ms.*/\1 \2/' |
    awk '{ printf "  %-28s %7.1f ms\n", $1, $2; sum += $2; if ($2 > max) max = $2; n++ }
         END { if (n) printf "keys: %d  mean %.1f ms  worst %.1f ms  (target 50 ms)\n", n, sum / n, max }'
