#!/bin/bash
# AfterInstall: greeterd was installed executable with its configuration.
set -euo pipefail
test -x /opt/greeter/bin/greeterd || { echo "greeterd is not executable" >&2; exit 1; }
test -f /opt/greeter/VERSION || { echo "/opt/greeter/VERSION is missing" >&2; exit 1; }
echo "greeter $(cat /opt/greeter/VERSION) installed"
