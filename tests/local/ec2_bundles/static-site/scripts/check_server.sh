#!/bin/bash
# BeforeInstall: the web server (python3's http.server) is on the AMI.
set -euo pipefail
command -v python3 >/dev/null || { echo "python3 is not installed" >&2; exit 1; }
