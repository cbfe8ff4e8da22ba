#!/usr/bin/env bash
# Interpreter benchmark: time qscope's interpreter (bench/interp_bench) and
# onnxruntime (the npm package onnxruntime-node, bench/interp_bench_ort.mjs)
# in the same run.  The models are PP-OCRv4 text detection at 1x3x640x640
# and recognition at 1x3x48x320, each on one and two threads.  qscope's
# output must agree with onnxruntime's.
#
# Usage: bench/interp_bench.sh        (or make bench-interp in a build folder)
#
# Environment:
#   INTERP_BENCH     the benchmark program (default: ./bench/interp_bench)
#   QSCOPE_TESTDATA  shared test data (default: ../shared beside the source tree)
#   BENCH_CACHE      where onnxruntime-node is installed with npm
#                    (default: ${XDG_CACHE_HOME:-$HOME/.cache}/qscope-bench)
#   ORT_VERSION      onnxruntime-node version (default 1.31.1; when the
#                    registry lacks it, the newest 1.x is taken)
#   BENCH_MODELS     models to run, from "det rec" (default both)
#   BENCH_THREADS    thread counts (default "1 2")
#   BENCH_ORT_OPT    onnxruntime graph optimization levels to time; the
#                    first one's output is the reference (default "all disabled")
#   BENCH_WARMUP     untimed runs per measurement (default 3)
#   BENCH_RUNS       timed runs per measurement; the median is shown (default 10)
#
# Needs node and npm (Debian packages nodejs and npm) and /usr/bin/python3
# with numpy and onnx (python3-numpy, python3-onnx) to turn the test inputs
# into .npy files.  npm install runs with --ignore-scripts: the package
# ships its CPU binding for Linux x64 and arm64, and its install script
# only downloads the optional CUDA binaries.
#
# Exit status: 0; 1 when a tool is missing or a run fails; 4 when an
# output differs from onnxruntime's beyond rtol 1e-3, atol 1e-4.
set -euo pipefail

HERE=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
SRCDIR=$(dirname -- "$HERE")
INTERP_BENCH=${INTERP_BENCH:-./bench/interp_bench}
QSCOPE_TESTDATA=${QSCOPE_TESTDATA:-$SRCDIR/../shared}
BENCH_CACHE=${BENCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/qscope-bench}
ORT_VERSION=${ORT_VERSION:-1.31.1}
BENCH_MODELS=${BENCH_MODELS:-det rec}
BENCH_THREADS=${BENCH_THREADS:-1 2}
BENCH_ORT_OPT=${BENCH_ORT_OPT:-all disabled}
BENCH_WARMUP=${BENCH_WARMUP:-3}
BENCH_RUNS=${BENCH_RUNS:-10}
PYTHON=/usr/bin/python3
RTOL=1e-3
ATOL=1e-4

# Model file stem and input shape of each benchmark model.
declare -A MODEL_NAME=([det]=ch_PP-OCRv4_det_infer [rec]=ch_PP-OCRv4_rec_infer)
declare -A MODEL_SHAPE=([det]=1,3,640,640 [rec]=1,3,48,320)

die() {
    printf 'interp_bench: %s\n' "$*" >&2
    exit 1
}

check_tools() {
    [ -x "$INTERP_BENCH" ] ||
        die "benchmark program not found at $INTERP_BENCH: run make in a build folder or set INTERP_BENCH"
    command -v node >/dev/null || die "node not found: install the Debian package nodejs"
    command -v npm >/dev/null || die "npm not found: install the Debian package npm"
    "$PYTHON" -c 'import onnx, numpy' 2>/dev/null ||
        die "$PYTHON cannot import onnx and numpy: install python3-onnx and python3-numpy"
    [ -d "$QSCOPE_TESTDATA/models/real" ] ||
        die "no models at $QSCOPE_TESTDATA/models/real: set QSCOPE_TESTDATA to the shared test data"
}

ort_package() {
    printf '%s/node_modules/onnxruntime-node' "$BENCH_CACHE"
}

installed_ort_version() {
    local json
    json="$(ort_package)/package.json"
    [ -f "$json" ] && node -e 'console.log(require(process.argv[1]).version)' "$json"
    return 0
}

# Install onnxruntime-node into BENCH_CACHE unless the requested version is there already.
install_ort() {
    local spec=onnxruntime-node@$ORT_VERSION answer

    [ "$(installed_ort_version)" = "$ORT_VERSION" ] && return 0
    # npm view fails with E404 for a version the registry lacks, and prints
    # nothing for a range that matches no version.
    if ! answer=$(npm view "$spec" version 2>&1) && ! grep -q E404 <<<"$answer"; then
        printf '%s\n' "$answer" >&2
        die "npm view $spec failed: is the npm registry reachable?"
    fi
    if [ -z "$answer" ] || grep -q E404 <<<"$answer"; then
        echo "onnxruntime-node $ORT_VERSION is not in the registry: installing the newest 1.x" >&2
        spec=onnxruntime-node@1
    fi
    mkdir -p "$BENCH_CACHE"
    echo "installing $spec into $BENCH_CACHE ..." >&2
    npm install --prefix "$BENCH_CACHE" --ignore-scripts --no-audit --no-fund "$spec" >&2 ||
        die "npm install $spec failed"
}

# The npm tarball must contain the native binding: with --ignore-scripts
# nothing else is downloaded.
check_ort_binding() {
    local arch dir

    case $(uname -m) in
    x86_64) arch=x64 ;;
    aarch64) arch=arm64 ;;
    *) die "onnxruntime-node ships no binding for $(uname -m)" ;;
    esac
    dir="$(ort_package)/bin/napi-v6/linux/$arch"
    [ -f "$dir/onnxruntime_binding.node" ] && [ -f "$dir/libonnxruntime.so.1" ] ||
        die "onnxruntime-node $(installed_ort_version) has no linux/$arch binding in its npm" \
            "package ($dir): its install script would download it, which this benchmark does not run"
}

# Write test_data_set_0/input_0.pb of model "$1" as "$2" (.npy), resized
# by nearest neighbour to the benchmark shape when it differs, so that the
# input is a real image.  Prints the file, the shape and whether it was resized.
prepare_input() {
    local model=$1 out=$2
    local dir=$QSCOPE_TESTDATA/models/real/${MODEL_NAME[$model]}/test_data_set_0

    "$PYTHON" - "$dir/input_0.pb" "$out" "${MODEL_SHAPE[$model]}" <<'EOF'
import sys
import numpy as np
import onnx
from onnx import numpy_helper

src, out, shape = sys.argv[1], sys.argv[2], tuple(int(d) for d in sys.argv[3].split(","))
proto = onnx.TensorProto()
with open(src, "rb") as f:
    proto.ParseFromString(f.read())
x = numpy_helper.to_array(proto).astype(np.float32)
if x.ndim != 4 or x.shape[:2] != shape[:2]:
    sys.exit(f"{src}: shape {x.shape}, expected N and C of {shape}")
note = "as is"
if x.shape != shape:
    rows = np.arange(shape[2]) * x.shape[2] // shape[2]
    cols = np.arange(shape[3]) * x.shape[3] // shape[3]
    x = np.ascontiguousarray(x[:, :, rows][:, :, :, cols])
    note = "resized by nearest neighbour from " + "x".join(map(str, proto.dims))
np.save(out, x)
print(f"{src}: {'x'.join(map(str, x.shape))} ({note})")
EOF
}

# Print the value of key "$2" in the "KEY VALUE" lines of file "$1".
value_of() {
    awk -v k="$2" '$1 == k { print $2; found = 1 } END { if (!found) print "-" }' "$1"
}

ratio() {
    awk -v a="$1" -v b="$2" 'BEGIN {
        if (a == "-" || b == "-" || b == 0) print "-"; else printf "%.2f", a / b }'
}

run_ort() {
    local model=$1 threads=$2 opt=$3 log=$4 output=$5

    node "$HERE/interp_bench_ort.mjs" --ort-dir "$BENCH_CACHE" --threads "$threads" \
        --opt "$opt" --warmup "$BENCH_WARMUP" --runs "$BENCH_RUNS" --output "$output" \
        "$QSCOPE_TESTDATA/models/real/${MODEL_NAME[$model]}.onnx" "$WORK/$model.npy" >"$log" ||
        die "onnxruntime failed on $model with $threads threads, optimizations $opt"
}

# Run qscope on "$1" with "$2" threads against reference "$4"; its lines
# go to "$3".  Returns 4 when the outputs disagree.
run_qscope() {
    local model=$1 threads=$2 log=$3 reference=$4 status=0

    "$INTERP_BENCH" --threads "$threads" --warmup "$BENCH_WARMUP" --runs "$BENCH_RUNS" \
        --reference "$reference" --rtol "$RTOL" --atol "$ATOL" \
        "$QSCOPE_TESTDATA/models/real/${MODEL_NAME[$model]}.onnx" "$WORK/$model.npy" \
        >"$log" || status=$?
    [ "$status" -eq 0 ] || [ "$status" -eq 4 ] ||
        die "qscope failed on $model with $threads threads (exit status $status)"
    return "$status"
}

# Print the column names, "$1" being the unit: ms or cpu.
print_header() {
    local opt

    printf '%-5s %7s %10s' model threads "qscope $1"
    for opt in $BENCH_ORT_OPT; do
        printf ' %16s %6s' "ort $opt $1" ratio
    done
}

# Print one row of the table of "$1" (median_ms or cpu_ms) for model "$2"
# at "$3" threads, from the numbers that bench_row stored.
print_row() {
    local key=$1 model=$2 threads=$3 opt q

    q=${RESULT[qscope_${key}_${model}_$threads]}
    printf '%-5s %7s %10s' "$model" "$threads" "$q"
    for opt in $BENCH_ORT_OPT; do
        printf ' %16s %6s' "${RESULT[ort-${opt}_${key}_${model}_$threads]}" \
            "$(ratio "$q" "${RESULT[ort-${opt}_${key}_${model}_$threads]}")"
    done
}

# Store the wall and CPU medians of log "$1" as RESULT[TOOL_KEY_MODEL_THREADS].
store_times() {
    local log=$1 tool=$2 model=$3 threads=$4 key

    for key in median_ms cpu_ms; do
        RESULT[${tool}_${key}_${model}_$threads]=$(value_of "$log" "$key")
    done
}

# Time one model at one thread count with every tool and print the row of
# the wall-time table.  Returns 4 when qscope disagrees with onnxruntime.
bench_row() {
    local model=$1 threads=$2 opt ref="" qlog=$WORK/qscope.log agree=yes status=0

    for opt in $BENCH_ORT_OPT; do
        run_ort "$model" "$threads" "$opt" "$WORK/ort.log" "$WORK/$model.ort-$opt.npy"
        store_times "$WORK/ort.log" "ort-$opt" "$model" "$threads"
        [ -n "$ref" ] || ref=$WORK/$model.ort-$opt.npy
    done
    run_qscope "$model" "$threads" "$qlog" "$ref" || { status=$?; agree=NO; }
    store_times "$qlog" qscope "$model" "$threads"

    print_row median_ms "$model" "$threads"
    printf ' %12s %s\n' "$(value_of "$qlog" max_abs_diff)" "$agree"
    if [ "$agree" = NO ]; then
        echo "    $(value_of "$qlog" mismatches) of $(value_of "$qlog" elements) elements" \
            "beyond rtol $RTOL, atol $ATOL" >&2
    fi
    return "$status"
}

# One line per model on the two targets: within 2x of onnxruntime on one
# thread, and faster on two threads than on one.
print_targets() {
    local model first_opt=${BENCH_ORT_OPT%% *}

    for model in $BENCH_MODELS; do
        [ -n "${RESULT[qscope_median_ms_${model}_1]:-}" ] || continue
        [ -n "${RESULT[qscope_median_ms_${model}_2]:-}" ] || continue
        awk -v m="$model" -v q1="${RESULT[qscope_median_ms_${model}_1]}" \
            -v q2="${RESULT[qscope_median_ms_${model}_2]}" \
            -v o1="${RESULT[ort-${first_opt}_median_ms_${model}_1]}" -v opt="$first_opt" 'BEGIN {
            printf "%s: 1 thread takes %.2fx onnxruntime %s (target: at most 2x, %s); ", m,
                   q1 / o1, opt, q1 <= 2 * o1 ? "met" : "NOT met"
            printf "2 threads give a %.2fx speed-up over 1 (target: above 1x, %s)\n", q1 / q2,
                   q2 < q1 ? "met" : "NOT met" }'
    done
}

# The CPU time of the whole process per run: on a busy machine the
# one-thread rows come closer to the idle wall time than the wall medians.
print_cpu_table() {
    local model threads

    echo
    echo "CPU time per run, every thread of the process (onnxruntime's idle workers spin):"
    print_header cpu
    echo
    for model in $BENCH_MODELS; do
        for threads in $BENCH_THREADS; do
            print_row cpu_ms "$model" "$threads"
            echo
        done
    done
}

print_setup() {
    echo "onnxruntime-node $(installed_ort_version) (CPU provider, sequential, inter-op threads 1)"
    echo "qscope $(git -C "$SRCDIR" describe --always --dirty 2>/dev/null || echo '(no git)')," \
        "$(nproc) cores, $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)," \
        "load average $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "median of $BENCH_RUNS runs after $BENCH_WARMUP warm-up runs; ratio = qscope / onnxruntime;" \
        "max |diff| against onnxruntime ${BENCH_ORT_OPT%% *}"
}

main() {
    local model threads status=0
    declare -gA RESULT

    check_tools
    install_ort
    check_ort_binding
    WORK=$(mktemp -d /tmp/qscope-interp-bench.XXXXXX)
    trap 'rm -rf -- "$WORK"' EXIT
    for model in $BENCH_MODELS; do
        [ -n "${MODEL_NAME[$model]:-}" ] || die "unknown model $model in BENCH_MODELS (det, rec)"
        prepare_input "$model" "$WORK/$model.npy"
    done

    print_setup
    print_header ms
    printf ' %12s %s\n' 'max |diff|' agree
    for model in $BENCH_MODELS; do
        for threads in $BENCH_THREADS; do
            bench_row "$model" "$threads" || status=$?
        done
    done
    print_cpu_table
    echo
    print_targets
    return "$status"
}

main "$@"
