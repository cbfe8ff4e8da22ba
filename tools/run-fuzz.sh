#!/usr/bin/env bash
# Build the loader's libFuzzer target with clang-14 and run it.
#
# Usage: tools/run-fuzz.sh            fuzz for FUZZ_SECONDS (default 60)
#        tools/run-fuzz.sh FILE...    run the target once on each FILE,
#                                     e.g. a crash file to reproduce it
#
# The build lives in its own folder, FUZZ_BUILD_DIR (default build-fuzz
# in the clone), configured with CC=clang-14 and ASan+UBSan.  The corpus
# is a temporary folder seeded with samples/*.onnx and the small .onnx
# files under QSCOPE_TESTDATA (default ../shared).  It is deleted at exit,
# so no shared test data ends up in the repository.  Crash inputs are
# kept in FUZZ_BUILD_DIR/artifacts.
#
# Needs the Debian packages clang-14 and libclang-rt-14-dev.
# Prints one TAP line for the run and exits 1 when the fuzzer found a crash.
set -euo pipefail

SRC_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
FUZZ_BUILD_DIR=${FUZZ_BUILD_DIR:-$SRC_DIR/build-fuzz}
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
CLANG=${CLANG:-clang-14}
TESTDATA=${QSCOPE_TESTDATA:-$SRC_DIR/../shared}
JOBS=${JOBS:-2}

# Seeds larger than this slow every mutation down; the small conformance
# models cover the same parser paths.
SEED_MAX_BYTES=131072

say() {
    printf 'run-fuzz: %s\n' "$*" >&2
}

die() {
    say "$*"
    exit 1
}

build_target() {
    command -v "$CLANG" >/dev/null 2>&1 ||
        die "$CLANG not found: install the Debian packages clang-14 and libclang-rt-14-dev"
    if ! echo 'int LLVMFuzzerTestOneInput(const char *d, long n) { return d[0] + n; }' |
            "$CLANG" -x c -fsanitize=fuzzer -o /dev/null - 2>/dev/null; then
        die "$CLANG cannot link -fsanitize=fuzzer: install the Debian package libclang-rt-14-dev"
    fi
    [ -x "$SRC_DIR/configure" ] || (cd "$SRC_DIR" && autoreconf -fi)

    mkdir -p "$FUZZ_BUILD_DIR"
    if [ ! -f "$FUZZ_BUILD_DIR/Makefile" ]; then
        say "configuring $FUZZ_BUILD_DIR with $CLANG"
        (cd "$FUZZ_BUILD_DIR" &&
            "$SRC_DIR/configure" -q CC="$CLANG" --enable-sanitizers \
                CFLAGS="-O1 -g -fsanitize=fuzzer-no-link")
    fi
    # The generated protobuf header must exist before any loader source compiles.
    make -C "$FUZZ_BUILD_DIR" -j"$JOBS" proto/onnx.pb-c.h proto/onnx.pb-c.c
    make -C "$FUZZ_BUILD_DIR" -j"$JOBS" tests/fuzz/fuzz_loader
}

# Copy the seed models into the folder "$1".
seed_corpus() {
    local corpus=$1
    local n=0
    local file

    while IFS= read -r -d '' file; do
        n=$((n + 1))
        cp -- "$file" "$corpus/seed-$n.onnx"
    done < <(find "$SRC_DIR/samples" "$TESTDATA/models" "$TESTDATA/onnx-node-tests" \
                  "$TESTDATA/cases" -name '*.onnx' -size -"$((SEED_MAX_BYTES + 1))"c \
                  -print0 2>/dev/null)
    if [ ! -d "$TESTDATA" ]; then
        say "no shared test data at $TESTDATA: seeding from samples/ only"
    fi
    say "corpus seeded with $n models"
}

# Fill the folder "$1" with the files that external data in the seeds
# names.  The bytes are fixed (0x3f, about 0.747 as float32) so that a
# crash file reproduces.
external_data_dir() {
    local dir=$1

    head -c 65536 /dev/zero | tr '\0' '?' >"$dir/weights.bin"
    cp "$dir/weights.bin" "$dir/model.onnx.data"
}

main() {
    local bin status

    build_target
    bin=$FUZZ_BUILD_DIR/tests/fuzz/fuzz_loader
    work=$(mktemp -d "${TMPDIR:-/tmp}/qscope-fuzz.XXXXXX")
    trap 'rm -rf -- "${work:?}"' EXIT
    mkdir -p "$work/corpus" "$work/extdata" "$FUZZ_BUILD_DIR/artifacts"
    external_data_dir "$work/extdata"
    export QSCOPE_FUZZ_DIR=$work/extdata
    export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
    if [ "$#" -gt 0 ]; then
        "$bin" "$@"
        return
    fi

    seed_corpus "$work/corpus"
    say "fuzzing the loader for $FUZZ_SECONDS s; log in $FUZZ_BUILD_DIR/fuzz.log"
    status=0
    "$bin" -max_total_time="$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=4096 \
        -print_final_stats=1 -artifact_prefix="$FUZZ_BUILD_DIR/artifacts/" \
        "$work/corpus" >"$FUZZ_BUILD_DIR/fuzz.log" 2>&1 || status=$?
    grep -v -e '# Uses: ' -e 'dictionary' "$FUZZ_BUILD_DIR/fuzz.log" | tail -n 40 >&2

    echo "1..1"
    if [ "$status" -eq 0 ]; then
        echo "ok 1 - loader fuzzed for $FUZZ_SECONDS s"
    else
        say "the fuzzer stopped with status $status; inputs are in $FUZZ_BUILD_DIR/artifacts"
        echo "not ok 1 - loader fuzzed for $FUZZ_SECONDS s"
    fi
    return "$status"
}

main "$@"
