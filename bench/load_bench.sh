#!/usr/bin/env bash
# Loader benchmark: time `qscope info` on a model with 1 GiB of float32
# weights, stored in the .onnx file and in an external data file, next to
# Python's onnx.load on the same files in the same run.
#
# Usage: bench/load_bench.sh          (or make bench-load in a build folder)
#
# Environment:
#   QSCOPE_BIN   the qscope program (default: ./qscope)
#   BENCH_DIR    where the models go; kept when given, so that later runs
#                skip generating them (default: a temporary folder in
#                /tmp, deleted at exit)
#   BENCH_LAYERS 64 MiB layers to generate (default 16, i.e. 1 GiB)
#   BENCH_RUNS   runs per measurement; the median is shown (default 3)
#
# Needs /usr/bin/python3 with Debian's python3-onnx and python3-numpy, and
# /usr/bin/time (Debian package time).  Uses about 2.1 GB of disk and, for
# onnx.load, a few GB of memory.  The files are in the page cache when
# timed (they were just written or read), for both tools alike.
set -euo pipefail

HERE=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
QSCOPE_BIN=${QSCOPE_BIN:-./qscope}
BENCH_LAYERS=${BENCH_LAYERS:-16}
BENCH_RUNS=${BENCH_RUNS:-3}
PYTHON=/usr/bin/python3

die() {
    printf 'load_bench: %s\n' "$*" >&2
    exit 1
}

check_tools() {
    [ -x "$QSCOPE_BIN" ] || die "qscope not found at $QSCOPE_BIN: build it or set QSCOPE_BIN"
    [ -x /usr/bin/time ] || die "/usr/bin/time not found: install the Debian package time"
    "$PYTHON" -c 'import onnx, numpy' 2>/dev/null ||
        die "$PYTHON cannot import onnx and numpy: install python3-onnx and python3-numpy"
}

# Run "$@" BENCH_RUNS times under /usr/bin/time -v and print the median
# "WALL_SECONDS RSS_KIB".  Fails when the command fails.
measure() {
    local out=$WORK/time.txt
    local walls=() rsses=() i wall rss start end

    for ((i = 0; i < BENCH_RUNS; i++)); do
        # time -v reports wall time in steps of 10 ms only: take it from the clock.
        start=$(date +%s%N)
        /usr/bin/time -v -o "$out" "$@" >/dev/null 2>"$WORK/stderr.txt" || {
            cat "$WORK/stderr.txt" >&2
            die "failed: $*"
        }
        end=$(date +%s%N)
        wall=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.4f", (b - a) / 1e9 }')
        rss=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$out")
        walls+=("$wall")
        rsses+=("$rss")
    done
    printf '%s %s\n' "$(median "${walls[@]}")" "$(median "${rsses[@]}")"
}

median() {
    printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

# Print one table row for model "$1" and tool "$2", and remember the
# numbers as RESULT[MODEL_TOOL].
row() {
    local model=$1 tool=$2 wall=$3 rss=$4

    printf '%-10s %-14s %10.3f %12.1f\n' "$model" "$tool" "$wall" \
        "$(awk -v k="$rss" 'BEGIN { print k / 1024 }')"
    RESULT[${model}_${tool%%[ .]*}]="$wall $rss"
}

ratio_line() {
    local kind=$1 q p

    read -r -a q <<<"${RESULT[${kind}_qscope]}"
    read -r -a p <<<"${RESULT[${kind}_onnx]}"
    awk -v kind="$kind" -v qw="${q[0]}" -v qr="${q[1]}" -v pw="${p[0]}" -v pr="${p[1]}" 'BEGIN {
        printf "%-10s onnx.load / qscope info: wall time %.1fx, peak RSS %.1fx\n", kind,
               pw / qw, pr / qr }'
}

main() {
    local kind model result
    declare -gA RESULT

    check_tools
    if [ -n "${BENCH_DIR:-}" ]; then
        WORK=$BENCH_DIR
        mkdir -p "$WORK"
    else
        WORK=$(mktemp -d /tmp/qscope-load-bench.XXXXXX)
        trap 'rm -rf -- "$WORK"' EXIT
    fi
    if [ ! -f "$WORK/external/weights.bin" ] || [ ! -f "$WORK/embedded/model.onnx" ]; then
        echo "generating $BENCH_LAYERS layers of 4096 x 4096 float32 in $WORK ..."
        "$PYTHON" "$HERE/load_bench_gen.py" "$WORK" "$BENCH_LAYERS"
    fi
    du -sh "$WORK/embedded" "$WORK/external"

    echo "median of $BENCH_RUNS runs, files in the page cache"
    printf '%-10s %-14s %10s %12s\n' model tool 'wall s' 'peak RSS MiB'
    # What every onnx.load row below includes: starting Python and importing onnx.
    result=$(measure "$PYTHON" -c 'import onnx')
    row python "import onnx" $result
    for kind in embedded external; do
        model=$WORK/$kind/model.onnx
        result=$(measure "$QSCOPE_BIN" info "$model")
        row "$kind" "qscope info" $result
        result=$(measure "$PYTHON" -c 'import sys, onnx; onnx.load(sys.argv[1])' "$model")
        row "$kind" "onnx.load" $result
    done
    for kind in embedded external; do
        ratio_line "$kind"
    done
}

main "$@"
