#!/usr/bin/env bash
# Start, stop or inspect a private pcscd with the vsmartcard vpcd reader, for demos and CI.
#
#   scripts/pcscd-vpcd.sh start    # stops a package-started pcscd (by its pid file), starts ours
#   scripts/pcscd-vpcd.sh status
#   scripts/pcscd-vpcd.sh stop
#
# It uses the same directory and reader.conf as the Rust test harness (crates/pcsc-harness), so tests and
# a demo share one pcscd: readers "OQS vpcd 0 00 00" (TCP 40100) and "OQS vpcd 0 00 01" (TCP 40101).
# Insert a virtual card with:  oqs-virtual-card serve --profile card-0001.toml --port 40100
# (vpcd 3.3 supports one reader.conf entry per pcscd, so there are exactly two readers.)
# Needs: apt-get install -y --no-install-recommends pcscd vsmartcard-vpcd
set -euo pipefail

DIR="${OQS_PCSC_HARNESS_DIR:-${TMPDIR:-/tmp}/oqs-pcsc-harness}"
CONF="$DIR/reader.conf.d"
PIDFILE="$DIR/pcscd.pid"
SYSTEM_PIDFILE=/run/pcscd/pcscd.pid
PORT=40100
DRIVER=/usr/lib/pcsc/drivers/serial/libifdvpcd.so

running_pid() {
    [[ -f "$PIDFILE" ]] || return 1
    local pid
    pid="$(cat "$PIDFILE")"
    [[ -r "/proc/$pid/cmdline" ]] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "$CONF" && echo "$pid"
}

wait_gone() {
    local pid=$1 i
    for i in $(seq 1 100); do
        [[ -d "/proc/$pid" ]] || return 0
        sleep 0.05
    done
    kill -KILL "$pid" 2>/dev/null || true
}

start() {
    mkdir -p "$CONF"
    exec 9>"$DIR/setup.lock"
    flock 9
    if pid="$(running_pid)"; then
        echo "pcscd already running (pid $pid)"
        return 0
    fi
    [[ -e "$DRIVER" ]] || { echo "missing $DRIVER: install vsmartcard-vpcd" >&2; exit 1; }
    if [[ -f "$SYSTEM_PIDFILE" ]]; then
        sys="$(cat "$SYSTEM_PIDFILE")"
        if [[ -d "/proc/$sys" ]]; then
            echo "stopping the package-started pcscd (pid $sys)"
            kill "$sys" && wait_gone "$sys"
        fi
    fi
    printf 'FRIENDLYNAME "OQS vpcd 0"\nDEVICENAME /dev/null:0x%04X\nLIBPATH %s\nCHANNELID 0x%04X\n\n' \
        "$PORT" "$DRIVER" "$PORT" >"$CONF/vpcd"
    # 9>&-: pcscd must not inherit (and hold forever) the setup lock.
    setsid pcscd -f -a -c "$CONF" >"$DIR/pcscd.log" 2>&1 </dev/null 9>&- &
    echo $! >"$PIDFILE"
    for _ in $(seq 1 150); do
        if ss -ltn 2>/dev/null | grep -q ":$((PORT + 1)) "; then
            echo "pcscd started (pid $(cat "$PIDFILE")); vpcd readers on TCP $PORT and $((PORT + 1))"
            return 0
        fi
        sleep 0.1
    done
    echo "pcscd did not open the vpcd ports; log:" >&2
    cat "$DIR/pcscd.log" >&2
    exit 1
}

stop() {
    mkdir -p "$DIR"
    exec 9>"$DIR/setup.lock"
    flock 9
    if pid="$(running_pid)"; then
        kill "$pid" && wait_gone "$pid"
        echo "pcscd stopped"
    else
        echo "pcscd not running"
    fi
}

status() {
    if pid="$(running_pid)"; then
        echo "running (pid $pid), config $CONF"
    else
        echo "not running"
        return 3
    fi
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status) status ;;
    *) echo "usage: $0 {start|stop|status}" >&2; exit 2 ;;
esac
