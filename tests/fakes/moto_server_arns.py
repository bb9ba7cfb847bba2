#!/usr/bin/env python3
"""moto_server, with EC2 tagging authorised against the tagged resources' ARNs, as AWS does.

moto checks every EC2 action against the resource "*", so a policy statement that allows
ec2:CreateTags on ``arn:aws:ec2:*:*:instance/*`` only (deploy/iam-policy.json does: the flow
tags replacement instances, nothing else) is denied, where AWS allows it. Here CreateTags and
DeleteTags are checked once per resource they name, against that resource's ARN
(``arn:<partition>:ec2:<region>:<account>:instance/i-…``, ``volume/vol-…``, …); every other
action is checked as moto does. Arguments are moto_server's (``-H 127.0.0.1 -p PORT``).
"""
import sys

from moto.ec2.responses import EC2Response
from moto.server import main

TAGGING = {"CreateTags", "DeleteTags"}
# The ARN resource type of each kind of EC2 id this fake knows (by its prefix).
RESOURCE_TYPES = {"i": "instance", "vol": "volume", "snap": "snapshot", "sg": "security-group",
                  "subnet": "subnet", "vpc": "vpc", "eni": "network-interface",
                  "ami": "image", "igw": "internet-gateway", "rtb": "route-table",
                  "lt": "launch-template", "eipalloc": "elastic-ip"}

_authorize = EC2Response._authenticate_and_authorize_normal_action


def _resource_arn(response, resource_id):
    kind = RESOURCE_TYPES.get(resource_id.partition("-")[0])
    if kind is None:
        return "*"
    account = "" if kind in ("image", "snapshot") else response.current_account
    return f"arn:{response.partition}:ec2:{response.region}:{account}:{kind}/{resource_id}"


def _authorize_per_resource(self, resource="*"):
    if self._get_action() not in TAGGING:
        return _authorize(self, resource)
    ids = [values[0] for key, values in self.querystring.items()
           if key.startswith("ResourceId.")]
    for resource_id in ids or ["*"]:
        _authorize(self, _resource_arn(self, resource_id) if resource_id != "*" else "*")
    return None


EC2Response._authenticate_and_authorize_normal_action = _authorize_per_resource

if __name__ == "__main__":
    main(sys.argv[1:])
