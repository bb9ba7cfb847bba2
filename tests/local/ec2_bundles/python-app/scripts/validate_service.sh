#!/bin/bash
# ValidateService (ec2-user): the server answers its health check within 30 seconds.
set -uo pipefail
for _ in $(seq 1 60); do
  if curl -fsS --max-time 2 http://localhost:8080/health; then
    exit 0
  fi
  sleep 0.5
done
echo "http://localhost:8080/health did not answer" >&2
tail -n 20 /home/ec2-user/app/server.log >&2
exit 1
