#!/bin/bash
# BeforeInstall (root): node and npm are on the AMI; ubuntu gets a run directory.
set -euo pipefail
command -v node >/dev/null || { echo "node is not installed" >&2; exit 1; }
command -v npm >/dev/null || { echo "npm is not installed" >&2; exit 1; }
mkdir -p /var/run/node-app
chown ubuntu:ubuntu /var/run/node-app
