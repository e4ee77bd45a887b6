#!/usr/bin/env bash
# stop.sh STATE_DIR — stops the VM that boot.sh started, by the pid in
# STATE_DIR/pid: SIGTERM, then SIGKILL after 5 s. Idempotent.
set -euo pipefail
state=${1:?usage: stop.sh STATE_DIR}
[ -e "$state/pid" ] || exit 0
state=$(cd "$state" && pwd)  # boot.sh recorded the absolute path
pid=$(cat "$state/pid")
# Only signal the process if it is the QEMU we started.
if [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "-pidfile $state/pid"; then
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -9 "$pid" 2>/dev/null || true
fi
rm -f "$state/pid"
