# tests/ui/lib.sh: helpers for the browser's end-to-end tests, sourced by
# each tests/ui/*-test script.
#
# A test starts qscope inside its own tmux server (a private socket, killed
# at exit), types keys with send-keys and reads the screen with
# capture-pane.  The environment is pinned: TERM, TZ, the locale and the
# window size are set by each test, never inherited.
#
# TAP: ok/not_ok/skip print one result each; finish prints the plan.
#
#   start W H [VAR=VALUE...] -- ARGS...   run qscope ARGS in a W x H window
#   keys KEY...                           tmux send-keys (tmux key names)
#   type_text TEXT                        send TEXT literally
#   wait_for TEXT [SECONDS]               wait until the screen shows TEXT
#   wait_gone TEXT [SECONDS]              wait until it no longer does
#   screen                                print the screen
#   exit_status [SECONDS]                 wait for qscope to end; print its status
#
# Environment from make check: QSCOPE_BIN, QSCOPE_SRCDIR, QSCOPE_TESTDATA.

set -u

QSCOPE_BIN=${QSCOPE_BIN:-$(pwd)/qscope}
QSCOPE_SRCDIR=${QSCOPE_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
QSCOPE_TESTDATA=${QSCOPE_TESTDATA:-$QSCOPE_SRCDIR/../shared}
SAMPLES=$QSCOPE_SRCDIR/samples
REAL_REC=$QSCOPE_TESTDATA/models/real/ch_PP-OCRv4_rec_infer.onnx

export TZ=UTC LC_ALL=C.UTF-8 LANG=C.UTF-8
unset NO_COLOR QSCOPE_SCRIPT QSCOPE_NO_DISPLAY QSCOPE_TRACE QSCOPE_GNUPLOT

tap_count=0
tap_failed=0
WORK=$(mktemp -d "${TMPDIR:-/tmp}/qscope-ui.XXXXXX")
SOCKET_BASE=qscope-ui-$$
SOCKET=$SOCKET_BASE-0
SOCKETS=0
SESSION=t

cleanup() {
    local i
    for ((i = 0; i <= SOCKETS; i++)); do
        tmux -L "$SOCKET_BASE-$i" kill-server >/dev/null 2>&1
    done
    chmod -R u+w "$WORK" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT

ok() {
    tap_count=$((tap_count + 1))
    echo "ok $tap_count - $1"
}

not_ok() {
    tap_count=$((tap_count + 1))
    tap_failed=$((tap_failed + 1))
    echo "not ok $tap_count - $1"
    if [ -n "${2:-}" ]; then
        printf '%s\n' "$2" | sed 's/^/# /'
    fi
}

skip() {
    tap_count=$((tap_count + 1))
    echo "ok $tap_count # SKIP $1: $2"
}

# check NAME COMMAND...: ok when the command succeeds; the screen is shown when not.
check() {
    local name=$1
    shift
    if "$@"; then
        ok "$name"
    else
        not_ok "$name" "$(screen 2>/dev/null)"
    fi
}

finish() {
    echo "1..$tap_count"
    exit 0
}

# Skip every planned test with "reason" and end: for missing tools.
skip_all() {
    echo "1..0 # SKIP $1"
    exit 0
}

need_tmux() {
    command -v tmux >/dev/null 2>&1 || skip_all "tmux is not installed"
    [ -x "$QSCOPE_BIN" ] || skip_all "qscope is not built at $QSCOPE_BIN"
    # tmux needs pseudo-terminals, which a bare chroot may lack.
    if ! tmux -L "$SOCKET_BASE-probe" -f /dev/null new-session -d -s probe "sleep 5" 2>/dev/null; then
        skip_all "tmux cannot start a session here (no pseudo-terminals?)"
    fi
    tmux -L "$SOCKET_BASE-probe" kill-server >/dev/null 2>&1
}

start() {
    local width=$1 height=$2 envs=() arg
    shift 2
    while [ "$#" -gt 0 ] && [ "$1" != -- ]; do
        envs+=("$1")
        shift
    done
    shift
    local command="env TERM=xterm-256color TZ=UTC"
    for arg in "${envs[@]+"${envs[@]}"}"; do
        command+=" $(printf '%q' "$arg")"
    done
    command+=" $(printf '%q' "$QSCOPE_BIN")"
    for arg in "$@"; do
        command+=" $(printf '%q' "$arg")"
    done
    # Each run gets a server of its own: a server still shutting down
    # could take a new session with it.
    tmux -L "$SOCKET" kill-server >/dev/null 2>&1
    SOCKETS=$((SOCKETS + 1))
    SOCKET=$SOCKET_BASE-$SOCKETS
    tmux -L "$SOCKET" -f /dev/null new-session -d -s "$SESSION" -x "$width" -y "$height" \
        -c "$WORK" "$command; echo qscope-exit=\$?; sleep 600"
    tmux -L "$SOCKET" set-option -t "$SESSION" remain-on-exit on >/dev/null 2>&1
}

keys() {
    tmux -L "$SOCKET" send-keys -t "$SESSION" "$@"
}

type_text() {
    tmux -L "$SOCKET" send-keys -t "$SESSION" -l "$1"
}

screen() {
    tmux -L "$SOCKET" capture-pane -p -t "$SESSION"
}

# The screen with its colour escapes.
screen_escapes() {
    tmux -L "$SOCKET" capture-pane -p -e -t "$SESSION"
}

wait_for() {
    local text=$1 limit=${2:-10} i
    for ((i = 0; i < limit * 10; i++)); do
        if screen 2>/dev/null | grep -qF -- "$text"; then
            return 0
        fi
        sleep 0.1
    done
    return 1
}

wait_gone() {
    local text=$1 limit=${2:-10} i
    for ((i = 0; i < limit * 10; i++)); do
        if ! screen 2>/dev/null | grep -qF -- "$text"; then
            return 0
        fi
        sleep 0.1
    done
    return 1
}

# Wait for the screen to show a line matching the basic regular expression "$1".
wait_match() {
    local pattern=$1 limit=${2:-10} i
    for ((i = 0; i < limit * 10; i++)); do
        if screen 2>/dev/null | grep -q -- "$pattern"; then
            return 0
        fi
        sleep 0.1
    done
    return 1
}

exit_status() {
    wait_for qscope-exit= "${1:-10}" || return 1
    screen | sed -n 's/.*qscope-exit=\([0-9]*\).*/\1/p' | tail -n 1
}

# Run a `:` command in the browser.
command_line() {
    keys :
    type_text "$1"
    keys Enter
}

# A field of one layer in `qscope quant --json` output: json_field FIELD < output
json_field() {
    sed -n "s/.*\"$1\": \\([^,}]*\\).*/\\1/p" | head -n 1
}
