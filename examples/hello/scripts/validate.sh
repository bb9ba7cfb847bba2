#!/bin/bash
# ValidateService: the service answers /healthz within about 15 seconds.
set -uo pipefail
url="http://127.0.0.1:${PORT:-8080}/healthz"
for _ in $(seq 1 60); do
  if curl -fsS --max-time 2 "$url" >/dev/null 2>&1; then
    echo "healthy: $url"
    exit 0
  fi
  sleep 0.25
done
echo "not healthy: $url" >&2
tail -n 20 "${INSTANCE_ROOT:-}/var/log/hello/hello.log" >&2 2>/dev/null || true
exit 1
