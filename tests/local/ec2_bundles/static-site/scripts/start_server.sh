#!/bin/bash
# ApplicationStart: serve /var/www/html on port 80 in the background.
set -euo pipefail
nohup python3 -m http.server 80 --directory /var/www/html \
  >>/var/log/static-site.log 2>&1 </dev/null &
echo $! >/var/run/httpd.pid
echo "serving /var/www/html on port 80, pid $(cat /var/run/httpd.pid)"
