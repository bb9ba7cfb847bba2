#!/bin/bash
# ApplicationStop (ubuntu): stop the app whose pid application_start.sh recorded.
set -uo pipefail
pid_file=/var/run/node-app/app.pid
[ -f "$pid_file" ] || { echo "app.js is not running"; exit 0; }
pid=$(cat "$pid_file")
kill "$pid" 2>/dev/null
for _ in $(seq 1 50); do
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.2
done
kill -9 "$pid" 2>/dev/null
rm -f "$pid_file"
echo "stopped app.js, pid $pid"
