#!/bin/bash
# ApplicationStart: start the service in the background, detached from this hook, and record
# its pid. The service listens on $PORT.
set -euo pipefail
root="${INSTANCE_ROOT:-}"
app="$root/opt/hello"
pid_file="$root/var/run/hello/hello.pid"
log_file="$root/var/log/hello/hello.log"
port="${PORT:-8080}"  # bluegreen gives each instance its own port
# An instance with its own network (ISOLATION=namespaces, or EC2) is reached from outside it.
host=127.0.0.1
[ "${BLUEGREEN_ISOLATION:-none}" = namespaces ] && host=0.0.0.0
cd "$app"
setsid nohup python3 "$app/server.py" --host "$host" --port "$port" >>"$log_file" 2>&1 </dev/null &
echo $! >"$pid_file"
echo "started hello (pid $(cat "$pid_file")) on $host:$port"
