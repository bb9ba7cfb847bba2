#!/bin/bash
# ApplicationStop: stop greeterd by its pid file.
set -uo pipefail
[ -f /var/run/greeterd.pid ] || { echo "greeterd is not running"; exit 0; }
pid=$(cat /var/run/greeterd.pid)
kill -TERM "$pid" 2>/dev/null
for _ in $(seq 1 50); do
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.2
done
kill -KILL "$pid" 2>/dev/null
rm -f /var/run/greeterd.pid
echo "stopped greeterd, pid $pid"
