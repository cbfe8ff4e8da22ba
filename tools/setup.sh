#!/usr/bin/env bash
# Install the Debian packages qscope needs, then configure and build it
# in build/ (an out-of-tree build inside the clone).
#
# Usage: tools/setup.sh [--deps-only] [EXTRA_PACKAGE...]
#
# Safe to run again: packages already installed are not touched,
# configure runs only when build/Makefile is missing, and make rebuilds
# only what changed.  Run it as a normal user with sudo (the script calls
# sudo for apt-get alone, so build/ stays yours) or as root.
#
#   --deps-only      install the packages, do not build
#   EXTRA_PACKAGE    further Debian packages to install (CI adds its tools)
#
# Environment: BUILD_DIR (default: build in the clone), CONFIGURE_FLAGS
# (passed to configure on the first run), JOBS (default: nproc).
set -euo pipefail

# Build and test dependencies, one Debian package each.
PACKAGES=(
    build-essential autoconf automake pkg-config
    protobuf-c-compiler libprotobuf-c-dev
    libncurses-dev libjansson-dev libcmocka-dev libopenblas-dev nettle-dev
    gnuplot-nox      # plots; looked up at run time, stubbed in tests
    tmux             # the TUI tests drive qscope inside tmux
    groff-base       # the man page check in make check
)

SRC_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$SRC_DIR/build}
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}

say() {
    printf 'setup: %s\n' "$*" >&2
}

die() {
    say "$*"
    exit 1
}

# Print the packages among "$@" that dpkg does not list as installed.
missing_packages() {
    local pkg status

    for pkg in "$@"; do
        status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
        if [ "$status" != installed ]; then
            printf '%s\n' "$pkg"
        fi
    done
}

# Run a command as root: directly when we are root, else through sudo.
as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        die "installing packages needs root: run this script as root or install sudo"
    fi
}

install_packages() {
    local missing

    command -v dpkg-query >/dev/null 2>&1 ||
        die "dpkg-query not found: this script installs packages on Debian 12 (bookworm) only"
    mapfile -t missing < <(missing_packages "$@")
    if [ "${#missing[@]}" -eq 0 ]; then
        say "all ${#} packages are installed"
        return
    fi

    say "installing ${missing[*]}"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
    as_root env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -q --no-install-recommends "${missing[@]}"
}

# Regenerate configure and Makefile.in when they are missing or older than
# their sources.  Once a build exists, its Makefile also does this by itself.
bootstrap() {
    local newer=""

    if [ -x "$SRC_DIR/configure" ] && [ -f "$SRC_DIR/Makefile.in" ]; then
        newer=$(cd "$SRC_DIR" && find configure.ac Makefile.am ./*/*.am ./*/*/*.am \
                    -newer Makefile.in -print -quit 2>/dev/null || true)
        [ -z "$newer" ] && return
    fi
    say "running autoreconf"
    (cd "$SRC_DIR" && autoreconf -fi)
}

configure_and_build() {
    mkdir -p "$BUILD_DIR"
    if [ ! -f "$BUILD_DIR/Makefile" ]; then
        say "configuring in $BUILD_DIR"
        # shellcheck disable=SC2086 # CONFIGURE_FLAGS is a word list on purpose
        (cd "$BUILD_DIR" && "$SRC_DIR/configure" -q ${CONFIGURE_FLAGS:-})
    fi
    say "building with $JOBS jobs"
    make -C "$BUILD_DIR" -j"$JOBS"
}

main() {
    local deps_only=0
    local extra=()

    while [ "$#" -gt 0 ]; do
        case $1 in
        --deps-only) deps_only=1 ;;
        -h|--help) sed -n '2,17s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; exit 0 ;;
        -*) die "unknown option '$1' (see tools/setup.sh --help)" ;;
        *) extra+=("$1") ;;
        esac
        shift
    done

    install_packages "${PACKAGES[@]}" "${extra[@]}"
    if [ "$deps_only" -eq 1 ]; then
        return
    fi
    bootstrap
    configure_and_build
}

main "$@"
