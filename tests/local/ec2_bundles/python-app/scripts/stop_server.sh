#!/bin/bash
# ApplicationStop (ec2-user): stop the server whose pid start_server.sh recorded.
set -uo pipefail
pid_file=/var/run/pyapp/server.pid
[ -f "$pid_file" ] || { echo "the server is not running"; exit 0; }
pid=$(cat "$pid_file")
kill "$pid" 2>/dev/null
for _ in $(seq 1 50); do
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.2
done
kill -9 "$pid" 2>/dev/null
rm -f "$pid_file"
echo "stopped the server, pid $pid"
