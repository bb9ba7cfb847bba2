#!/bin/bash
# ValidateService (ubuntu): the app answers its health check within 30 seconds.
set -uo pipefail
for _ in $(seq 1 60); do
  if curl -fsS --max-time 2 http://localhost:3000/health; then
    exit 0
  fi
  sleep 0.5
done
echo "http://localhost:3000/health did not answer" >&2
tail -n 20 /home/ubuntu/app/app.log >&2
exit 1
