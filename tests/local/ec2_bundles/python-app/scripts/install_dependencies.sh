#!/bin/bash
# BeforeInstall (root): the runtime the app needs, and a run directory ec2-user may write.
set -euo pipefail
command -v python3 >/dev/null || { echo "python3 is not installed" >&2; exit 1; }
command -v curl >/dev/null || { echo "curl is not installed" >&2; exit 1; }
mkdir -p /var/run/pyapp
chown ec2-user:ec2-user /var/run/pyapp
