#!/bin/bash
# ValidateService: the home page is served within 30 seconds.
set -uo pipefail
for _ in $(seq 1 60); do
  if curl -fsS --max-time 2 -o /dev/null http://localhost/index.html; then
    echo "http://localhost/index.html is served"
    exit 0
  fi
  sleep 0.5
done
echo "http://localhost/index.html is not served" >&2
tail -n 20 /var/log/static-site.log >&2
exit 1
