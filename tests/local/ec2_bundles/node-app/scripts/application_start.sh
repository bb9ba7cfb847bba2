#!/bin/bash
# ApplicationStart (ubuntu): start app.js in the background and record its pid.
set -euo pipefail
cd /home/ubuntu/app
nohup node app.js >>/home/ubuntu/app/app.log 2>&1 </dev/null &
echo $! >/var/run/node-app/app.pid
echo "started app.js, pid $(cat /var/run/node-app/app.pid)"
