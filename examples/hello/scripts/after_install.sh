#!/bin/bash
# AfterInstall: check what Install copied.
set -euo pipefail
app="${INSTANCE_ROOT:-}/opt/hello"
test -x "$app/server.py" || { echo "$app/server.py is missing or not executable" >&2; exit 1; }
echo "installed hello version $(cat "$app/VERSION" 2>/dev/null || echo unknown) in $app"
