#!/bin/bash
# ApplicationStop: stop the web server start_server.sh started.
set -uo pipefail
[ -f /var/run/httpd.pid ] || { echo "the web server is not running"; exit 0; }
pid=$(cat /var/run/httpd.pid)
kill "$pid" 2>/dev/null
for _ in $(seq 1 50); do
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.2
done
kill -9 "$pid" 2>/dev/null
rm -f /var/run/httpd.pid
echo "stopped the web server, pid $pid"
