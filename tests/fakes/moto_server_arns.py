#!/usr/bin/env python3
"""moto_server, with EC2 tagging and Auto Scaling group calls authorised as AWS does them.

moto checks every EC2 action against the resource "*", so a policy statement that allows
ec2:CreateTags on ``arn:aws:ec2:*:*:instance/*`` only (deploy/iam-policy.json does: the flow
tags replacement instances, nothing else) is denied, where AWS allows it. Here CreateTags and
DeleteTags are checked once per resource they name, against that resource's ARN
(``arn:<partition>:ec2:<region>:<account>:instance/i-…``, ``volume/vol-…``, …); every other
action is checked as moto does.

Auto Scaling: moto checks every call against "*" and passes every condition, so a policy that
scopes group writes to ``arn:aws:autoscaling:*:*:autoScalingGroup:*:autoScalingGroupName/*``
under tag conditions (deploy/iam-policy-asg.json does) would be denied everything, and one
that should be denied would not be. Here each call that names groups (AutoScalingGroupName,
or the ResourceId of each of its Tags) is checked once per group, against the group's ARN (a
group still to be created gets one with a new id), with the statements' conditions evaluated
(tests/fakes/iam_conditions.py) against what AWS would give them: ``aws:ResourceTag/<key>``
and ``autoscaling:ResourceTag/<key>`` (the group's tags, for a group that exists),
``aws:RequestTag/<key>`` and ``aws:TagKeys`` (the request's Tags), and
``autoscaling:TargetGroupARNs``, ``autoscaling:VPCZoneIdentifiers``,
``autoscaling:MinSize``/``MaxSize`` where the request gives them. Calls that name no group
(the Describe* calls) are checked as moto does. Arguments are moto_server's
(``-H 127.0.0.1 -p PORT``).
"""
import contextvars
import os
import sys
import uuid

from moto.autoscaling.responses import AutoScalingResponse
from moto.ec2.responses import EC2Response
from moto.iam.access_control import IAMPolicyStatement, PermissionResult
from moto.server import main

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import iam_conditions  # noqa: E402

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

# The request context of the Auto Scaling check under way (None: moto's own evaluation).
CONTEXT = contextvars.ContextVar("iam_request_context", default=None)
_statement_permits = IAMPolicyStatement.is_action_permitted


def _statement_permits_in_context(self, action, resource="*", principal=None,
                                  incoming_condition_values=None):
    context = CONTEXT.get()
    condition = self._statement.get("Condition")
    if context is None or not condition:
        return _statement_permits(self, action, resource, principal, incoming_condition_values)
    if not iam_conditions.satisfied(condition, context):
        # A statement whose condition does not hold does not apply (moto says DENIED).
        return PermissionResult.NEUTRAL
    unconditioned = IAMPolicyStatement(
        {k: v for k, v in self._statement.items() if k != "Condition"})
    return _statement_permits(unconditioned, action, resource, principal,
                              incoming_condition_values)


IAMPolicyStatement.is_action_permitted = _statement_permits_in_context

_authorize_autoscaling = AutoScalingResponse._authenticate_and_authorize_normal_action


def _request_context(self):
    context = {}
    tags = self._get_param("Tags", []) or []
    if tags:
        context["aws:TagKeys"] = [t["Key"] for t in tags]
        for tag in tags:
            context[f"aws:RequestTag/{tag['Key']}"] = tag.get("Value", "")
    arns = self._get_param("TargetGroupARNs", []) or []
    if arns:
        context["autoscaling:TargetGroupARNs"] = arns
    zones = self._get_param("VPCZoneIdentifier")
    if zones:
        context["autoscaling:VPCZoneIdentifiers"] = zones.split(",")
    for size in ("MinSize", "MaxSize"):
        if self._get_param(size) is not None:
            context[f"autoscaling:{size}"] = str(self._get_param(size))
    return context


def _authorize_autoscaling_per_group(self, resource="*"):
    names = [self._get_param("AutoScalingGroupName")] if self._get_param(
        "AutoScalingGroupName") else []
    names += [t["ResourceId"] for t in self._get_param("Tags", []) or []
              if t.get("ResourceId") and t["ResourceId"] not in names]
    if not names or self._get_action() == "DescribeAutoScalingGroups":
        return _authorize_autoscaling(self, resource)
    request = _request_context(self)
    for name in names:
        group = self.autoscaling_backend.autoscaling_groups.get(name)
        arn = group.arn if group else (
            f"arn:{self.partition}:autoscaling:{self.region}:{self.current_account}:"
            f"autoScalingGroup:{uuid.uuid4()}:autoScalingGroupName/{name}")
        context = dict(request)
        for tag in group.tags if group else []:
            context[f"aws:ResourceTag/{tag['Key']}"] = tag.get("Value", "")
            context[f"autoscaling:ResourceTag/{tag['Key']}"] = tag.get("Value", "")
        token = CONTEXT.set(context)
        try:
            _authorize_autoscaling(self, arn)
        finally:
            CONTEXT.reset(token)
    return None


AutoScalingResponse._authenticate_and_authorize_normal_action = _authorize_autoscaling_per_group

if __name__ == "__main__":
    main(sys.argv[1:])
