#!/bin/bash
# ApplicationStart (ec2-user): start the server in the background and record its pid.
set -euo pipefail
cd /home/ec2-user/app
nohup python3 /home/ec2-user/app/server.py >>/home/ec2-user/app/server.log 2>&1 </dev/null &
echo $! >/var/run/pyapp/server.pid
echo "started the server, pid $(cat /var/run/pyapp/server.pid)"
