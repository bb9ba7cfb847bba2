#!/bin/bash
# ValidateService: the daemon named in the pid file lives and answers on port 80.
set -uo pipefail
pid=$(cat /var/run/greeterd.pid 2>/dev/null) || { echo "no pid file" >&2; exit 1; }
for _ in $(seq 1 60); do
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "greeterd (pid $pid) died" >&2
    tail -n 20 /var/log/greeterd.log >&2
    exit 1
  fi
  if curl -fsS --max-time 2 http://localhost/healthz; then
    exit 0
  fi
  sleep 0.5
done
echo "http://localhost/healthz did not answer" >&2
exit 1
