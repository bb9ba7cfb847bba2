#!/bin/bash
# BeforeInstall: make sure the service can run and prepare its run and log directories.
set -euo pipefail
command -v python3 >/dev/null || { echo "hello needs python3 on PATH" >&2; exit 1; }
mkdir -p "${INSTANCE_ROOT:-}/var/run/hello" "${INSTANCE_ROOT:-}/var/log/hello"
echo "BeforeInstall for deployment ${DEPLOYMENT_ID:-?} on port ${PORT:-?}"
