#!/bin/bash
# AfterInstall (ubuntu): install exactly what package-lock.json names. The dependencies ship
# in vendor/ as tarballs, so the instance needs no registry.
set -euo pipefail
cd /home/ubuntu/app
npm ci --offline --omit=dev --no-audit --no-fund
