#!/bin/bash
# ApplicationStop: stop the service started by start.sh, if it runs.
set -uo pipefail
pid_file="${INSTANCE_ROOT:-}/var/run/hello/hello.pid"
[ -f "$pid_file" ] || { echo "hello is not running"; exit 0; }
pid=$(cat "$pid_file")
if kill "$pid" 2>/dev/null; then
  for _ in $(seq 1 40); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.25
  done
  kill -9 "$pid" 2>/dev/null || true
fi
rm -f "$pid_file"
echo "stopped hello (pid $pid)"
