#!/bin/bash
# ApplicationStart: greeterd daemonises itself; the hook returns once its pid file exists.
set -euo pipefail
/opt/greeter/bin/greeterd --pidfile /var/run/greeterd.pid --log /var/log/greeterd.log
for _ in $(seq 1 50); do
  [ -s /var/run/greeterd.pid ] && break
  sleep 0.1
done
[ -s /var/run/greeterd.pid ] || { echo "greeterd wrote no pid file" >&2; exit 1; }
echo "greeterd runs, pid $(cat /var/run/greeterd.pid)"
