"""The cloud PROVIDER=asg is tested against, on 127.0.0.1 only.

* moto_server with request authentication on (tests/fakes/moto_fixture.py, started through
  tests/fakes/moto_server_arns.py). The deployer is an IAM user whose only policy is
  deploy/iam-policy-asg.json; Auto Scaling, ELBv2 and EC2 calls go to moto, so their
  signatures and permissions are really checked, Auto Scaling group calls against the group's
  ARN with the policy's tag conditions evaluated.
* Seeded inside the fixture's unauthenticated window: a VPC with two subnets; a launch
  template ``web-template`` (a moto AMI); an internet-facing ALB with target group
  ``web-main`` (HTTP:80, health check on /, deregistration delay DEREGISTRATION_DELAY s)
  behind a listener on port 80 and ``web-preview`` behind a listener on port 8080; the blue
  Auto Scaling group ``web`` (GROUP) with 2 instances from the template, attached to
  web-main and not tagged ``bluegreen:group`` (the provider adopts it on its first deployment).
* The CodeDeploy fake (tests/fakes/ec2_codedeploy_fake.py): a deployment targets the
  instances running in moto that carry its tag filter when it is created, one deployment per
  deployment group at a time, and fails when a target stops running before it is over.
* CodePipeline's PutJobSuccessResult and PutJobFailureResult are the same fake's: ``jobs``
  (tests/fakes/codepipeline_action.py) registers a job and reads the results it was sent.
* The world observes and acts with an operator role of its own (moto_fixture's temporary
  credentials, allowed all of EC2, Auto Scaling and ELBv2), never with the deployer's keys.

What moto 5.2.1 does for what the provider relies on (each checked by tests/asg/world_test.py
through boto3 with the deployer's keys, unless it says otherwise):

* CreateAutoScalingGroup launches DesiredCapacity instances at once, every one InService and
  Healthy in the answer to the next DescribeAutoScalingGroups (no Pending), running in EC2 and
  carrying the group's PropagateAtLaunch tags (plus aws:autoscaling:groupName). With
  TargetGroupARNs its instances are registered in those target groups at once.
* AttachLoadBalancerTargetGroups registers the group's instances at once;
  DetachLoadBalancerTargetGroups deregisters them at once: they leave DescribeTargetHealth's
  list (no ``draining``: moto keeps no deregistration delay), and asked about by id they are
  ``unused`` (Target.NotRegistered).
* DescribeTargetHealth says ``healthy`` for every registered running instance, at once (never
  ``initial``), whatever the health check; a registered instance stopped through EC2 is
  ``unused`` with reason Target.InvalidState ("Target is in the stopped state"). moto never
  says ``unhealthy``, ``initial`` or ``unavailable`` for an instance. A registered instance
  that is terminated while registered (DeleteAutoScalingGroup with ForceDelete) stays listed
  ``healthy``: moto does not deregister it, so a provider must detach before it deletes.
* DescribeTargetGroupAttributes gives deregistration_delay.timeout_seconds as set.
* DescribeAutoScalingGroups supports Filters Name=tag:<key> (moto's code also has tag-key and
  tag-value, not checked here) and AutoScalingGroupNames.
* DeleteAutoScalingGroup with ForceDelete removes the group at once (no "Delete in progress")
  and terminates its instances (``terminated`` in EC2 at once).
* DescribeInstanceStatus answers ``ok`` for system and instance status of a running instance
  at once (IncludeAllInstances for a stopped one: state ``stopped``, statuses
  ``not-applicable``).
* IAM: every call the deployer makes is evaluated; one its policy lacks is denied
  (AccessDenied, HTTP 403). moto itself checks each action against the resource ``*`` and
  passes every condition: a statement scoped to an ARN never allows, and a condition never
  denies. moto_server_arns.py corrects that for Auto Scaling calls that name a group and for
  EC2 tagging; for everything else (ELBv2, EC2 Describe*, IAM) only Resource ``*`` statements
  are tested here. What Auto Scaling itself asks of the caller when it launches
  (ec2:RunInstances, ec2:CreateTags at launch, iam:PassRole, the service-linked role) moto
  does not check: those statements are written from the AWS documentation only.

moto's recorder writes down every request it receives (deployer_requests reads the
deployer's): what a test cannot see in the cloud's state afterwards, such as a group detached
and attached again, or a create refused because it was made twice.

Knobs: ``stop_instance`` (EC2 stops it: its target health turns ``unused``/InvalidState, its
status checks stop passing, CodeDeploy loses it), ``start_instance`` (running again: healthy),
``terminate_instance``; the CodeDeploy fake's scripts (``self.aws``, see aws_fake.py).
"""
import base64
import json
import os
import shutil
import sys
import tempfile
import urllib.parse

import boto3
from botocore.config import Config

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "fakes"))

import fake_server  # noqa: E402
from codepipeline_action import CodePipelineJobs  # noqa: E402
from ec2_codedeploy_fake import OneActiveDeploymentAwsFake  # noqa: E402
from moto_fixture import MotoFixture  # noqa: E402

REGION = "us-east-1"
GROUP = "web"  # the blue group, named like the service (GROUP_ID)
APP, DEPLOYMENT_GROUP = "web-app", "web-dg"
TAG = "GreenIdentifier"
GROUP_TAG = "bluegreen:group"
GREEN_OF_TAG = "bluegreen:green-of"
LAUNCH_TEMPLATE = "web-template"
IMAGE = "ami-12c6146b"  # one of moto's AMIs
MAIN, PREVIEW = "web-main", "web-preview"
DEREGISTRATION_DELAY = 5
BLUE_CAPACITY = 2
POLICY_FILE = os.path.join(ROOT, "deploy", "iam-policy-asg.json")

# What the world's own operator (and CodeDeploy's service role) may do.
OPERATOR_POLICY = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": ["ec2:*", "autoscaling:*", "elasticloadbalancing:*"],
     "Resource": "*"}]}


class AsgWorld:
    """moto and the CodeDeploy fake, started once; reset() between tests."""

    def __init__(self, policy=None):
        self.tmp = tempfile.mkdtemp(prefix="bluegreen-asg-world-")
        if policy is None:
            with open(POLICY_FILE) as f:
                policy = json.load(f)
        self.policy = policy
        self.seeded = {}
        self.record = os.path.join(self.tmp, "moto-requests.jsonl")
        self.moto = MotoFixture(policy=self.policy, role_policy=OPERATOR_POLICY,
                                setup=self._seed, log=os.path.join(self.tmp, "moto.log"),
                                env={"MOTO_ENABLE_RECORDING": "true",
                                     "MOTO_RECORDER_FILEPATH": self.record})
        self.aws_server = None

    # --- lifecycle -------------------------------------------------------------------------
    def start(self):
        self.moto.start()
        user = self.moto.user
        self.aws = OneActiveDeploymentAwsFake(
            credentials=[(user["access_key_id"], user["secret_access_key"], None)],
            region=REGION, groups=[(APP, DEPLOYMENT_GROUP)])
        self.ec2 = self.operator("ec2")
        self.autoscaling = self.operator("autoscaling")
        self.elbv2 = self.operator("elbv2")
        self.aws.ec2 = self.ec2
        self.aws_server = fake_server.serve(self.aws)
        self.jobs = CodePipelineJobs(self.aws)
        return self

    def stop(self):
        try:
            if self.aws_server:
                self.aws_server.shutdown()
                self.aws_server.server_close()
        finally:
            self.moto.stop()
            shutil.rmtree(self.tmp, ignore_errors=True)

    def reset(self):
        """Forgets the CodeDeploy fake's deployments and scripts (moto keeps its state)."""
        self.aws.reset()
        self.aws.after_create = None

    def _seed(self, fixture):
        ec2 = fixture.client("ec2", who="admin")
        elbv2 = fixture.client("elbv2", who="admin")
        vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{n}.0/24",
                                     AvailabilityZone=f"{REGION}{zone}")["Subnet"]["SubnetId"]
                   for n, zone in ((1, "a"), (2, "b"))]
        template = ec2.create_launch_template(
            LaunchTemplateName=LAUNCH_TEMPLATE,
            LaunchTemplateData={"ImageId": IMAGE, "InstanceType": "t3.micro"},
        )["LaunchTemplate"]
        balancer = elbv2.create_load_balancer(Name="web-alb", Subnets=subnets,
                                              Scheme="internet-facing", Type="application",
                                              )["LoadBalancers"][0]["LoadBalancerArn"]
        target_groups = {}
        for name, port in ((MAIN, 80), (PREVIEW, 8080)):
            arn = elbv2.create_target_group(
                Name=name, Protocol="HTTP", Port=80, VpcId=vpc, TargetType="instance",
                HealthCheckProtocol="HTTP", HealthCheckPath="/", HealthCheckIntervalSeconds=5,
                HealthyThresholdCount=2)["TargetGroups"][0]["TargetGroupArn"]
            elbv2.modify_target_group_attributes(TargetGroupArn=arn, Attributes=[
                {"Key": "deregistration_delay.timeout_seconds",
                 "Value": str(DEREGISTRATION_DELAY)}])
            elbv2.create_listener(LoadBalancerArn=balancer, Protocol="HTTP", Port=port,
                                  DefaultActions=[{"Type": "forward", "TargetGroupArn": arn}])
            target_groups[name] = arn
        fixture.client("autoscaling", who="admin").create_auto_scaling_group(
            AutoScalingGroupName=GROUP, MinSize=BLUE_CAPACITY, MaxSize=BLUE_CAPACITY * 2,
            DesiredCapacity=BLUE_CAPACITY,
            LaunchTemplate={"LaunchTemplateId": template["LaunchTemplateId"],
                            "Version": "$Default"},
            VPCZoneIdentifier=",".join(subnets), TargetGroupARNs=[target_groups[MAIN]],
            Tags=[{"Key": "service", "Value": "web", "PropagateAtLaunch": True}])
        self.seeded = {"vpc": vpc, "subnets": subnets, "load_balancer": balancer,
                       "launch_template_id": template["LaunchTemplateId"],
                       "target_groups": target_groups}

    def seed_service(self, name, capacity=BLUE_CAPACITY):
        """A service of its own, so that tests sharing the world do not meet: target groups
        ``<name>-main`` and ``<name>-preview`` (as web-main and web-preview) behind rules of
        the ALB's two listeners that forward host ``<name>.example.test`` to them, and the blue
        group `name` from the launch template attached to ``<name>-main``, not tagged
        ``bluegreen:group``. Made by the operator, as seeded services are; the target groups
        are known by name to target_group_arn, groups and target_health from then on.
        Returns the target group names (main, preview)."""
        listeners = {l["Port"]: l["ListenerArn"] for l in self.elbv2.describe_listeners(
            LoadBalancerArn=self.seeded["load_balancer"])["Listeners"]}
        self._rules = getattr(self, "_rules", 0) + 1
        main, preview = f"{name}-main", f"{name}-preview"
        for target_group, port in ((main, 80), (preview, 8080)):
            arn = self.elbv2.create_target_group(
                Name=target_group, Protocol="HTTP", Port=80, VpcId=self.seeded["vpc"],
                TargetType="instance", HealthCheckProtocol="HTTP", HealthCheckPath="/",
                HealthCheckIntervalSeconds=5, HealthyThresholdCount=2,
            )["TargetGroups"][0]["TargetGroupArn"]
            self.elbv2.modify_target_group_attributes(TargetGroupArn=arn, Attributes=[
                {"Key": "deregistration_delay.timeout_seconds",
                 "Value": str(DEREGISTRATION_DELAY)}])
            self.elbv2.create_rule(
                ListenerArn=listeners[port], Priority=self._rules,
                Conditions=[{"Field": "host-header",
                             "HostHeaderConfig": {"Values": [f"{name}.example.test"]}}],
                Actions=[{"Type": "forward", "TargetGroupArn": arn}])
            self.seeded["target_groups"][target_group] = arn
        self.autoscaling.create_auto_scaling_group(
            AutoScalingGroupName=name, MinSize=capacity, MaxSize=capacity * 2,
            DesiredCapacity=capacity,
            LaunchTemplate={"LaunchTemplateId": self.seeded["launch_template_id"],
                            "Version": "$Default"},
            VPCZoneIdentifier=",".join(self.seeded["subnets"]),
            TargetGroupARNs=[self.target_group_arn(main)],
            Tags=[{"Key": "service", "Value": name, "PropagateAtLaunch": True}])
        return main, preview

    # --- clients and environment -----------------------------------------------------------
    def operator(self, service):
        """A boto3 client of the world's own operator (not limited by the deployer's policy)."""
        return self.moto.client(service, who="temporary")

    def deployer(self, service, endpoint=None):
        """A boto3 client with the deployer's keys: what bluegreen is allowed. CodeDeploy's
        goes to the CodeDeploy fake, unless `endpoint` names another (moto's, to ask its IAM)."""
        if service == "codedeploy" and endpoint is None:
            endpoint = self.url()
        if endpoint is None:
            return self.moto.client(service, who="user")
        user = self.moto.user
        return boto3.client(service, endpoint_url=endpoint, region_name=REGION,
                            aws_access_key_id=user["access_key_id"],
                            aws_secret_access_key=user["secret_access_key"],
                            config=Config(retries={"max_attempts": 1}))

    def url(self):
        return f"http://127.0.0.1:{self.aws_server.server_address[1]}"

    def cloud_env(self, extra=None):
        """The environment a bluegreen process needs to reach this world as the deployer."""
        env = self.moto.user_env(self.tmp)
        env.update({
            "AWS_ENDPOINT_URL_AUTO_SCALING": self.moto.endpoint,
            "AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2": self.moto.endpoint,
            "AWS_ENDPOINT_URL_CODEDEPLOY": self.url(),
            "AWS_ENDPOINT_URL_CODEPIPELINE": self.url(),
            "BLUEGREEN_POLL_SECONDS": "0.05",
        })
        env.update(extra or {})
        return {k: v for k, v in env.items() if v is not None}

    @staticmethod
    def parameters(**overrides):
        """The deployment's parameters for PROVIDER=asg; a None value leaves the key out."""
        params = {"PROVIDER": "asg", "GROUP_ID": GROUP, "APP_NAME": APP,
                  "DEPLOYMENT_GROUP": DEPLOYMENT_GROUP, "TIMEOUT": "120",
                  "S3_BUCKET": "artifacts", "S3_KEY": "web/web.zip", "S3_BUNDLE": "zip"}
        params.update(overrides)
        return {k: v for k, v in params.items() if v is not None}

    # --- what there is ---------------------------------------------------------------------
    def target_group_arn(self, name):
        return self.seeded["target_groups"][name]

    def groups(self, names=None):
        """{group name: {"tags": {key: value}, "instances": {id: (lifecycle, health)},
        "target_groups": [target group names], "desired": n, "launch_template": id}} of every
        group (or of those of `names`)."""
        kwargs = {"AutoScalingGroupNames": list(names)} if names else {}
        by_arn = {arn: name for name, arn in self.seeded["target_groups"].items()}
        groups = {}
        for page in self.autoscaling.get_paginator("describe_auto_scaling_groups").paginate(
                **kwargs):
            for group in page["AutoScalingGroups"]:
                groups[group["AutoScalingGroupName"]] = {
                    "tags": {t["Key"]: t["Value"] for t in group.get("Tags", [])},
                    "instances": {i["InstanceId"]: (i["LifecycleState"], i["HealthStatus"])
                                  for i in group.get("Instances", [])},
                    "target_groups": sorted(by_arn.get(a, a)
                                            for a in group.get("TargetGroupARNs", [])),
                    "desired": group["DesiredCapacity"],
                    "launch_template": group.get("LaunchTemplate", {}).get("LaunchTemplateId"),
                }
        return groups

    def group_instances(self, name=GROUP):
        """The ids of the instances of group `name` ([] when there is no such group)."""
        group = self.groups([name]).get(name)
        return sorted(group["instances"]) if group else []

    def target_health(self, target_group=MAIN, ids=None):
        """{instance id: (state, reason)} of the targets moto lists for target group
        `target_group` (a name of the world's or an ARN); with `ids`, of those ids asked
        about by name (moto lists deregistered targets only so)."""
        arn = self.seeded["target_groups"].get(target_group, target_group)
        kwargs = {"Targets": [{"Id": i} for i in ids]} if ids else {}
        answer = self.elbv2.describe_target_health(TargetGroupArn=arn, **kwargs)
        return {d["Target"]["Id"]: (d["TargetHealth"]["State"],
                                    d["TargetHealth"].get("Reason", ""))
                for d in answer["TargetHealthDescriptions"]}

    def tagged_instances(self, value, key=TAG):
        """{instance id: EC2 state} of every instance carrying tag key=value."""
        reservations = self.ec2.describe_instances(
            Filters=[{"Name": f"tag:{key}", "Values": [value]}])["Reservations"]
        return {i["InstanceId"]: i["State"]["Name"] for r in reservations for i in r["Instances"]}

    def instance_states(self, ids):
        """{instance id: EC2 state} of `ids`."""
        reservations = self.ec2.describe_instances(InstanceIds=list(ids))["Reservations"]
        return {i["InstanceId"]: i["State"]["Name"] for r in reservations for i in r["Instances"]}

    def deployments(self):
        """The CodeDeploy fake's deployments in creation order: [{"id", "request" (the
        CreateDeployment body), "targets" (instance ids), "status"}]."""
        with self.aws._lock:
            return [{"id": d["id"], "request": d["request"], "targets": list(d["targets"]),
                     "status": self.aws._status(d)} for d in self.aws.deployments.values()]

    def deployer_requests(self, action):
        """The parameters ({name: value}) of every request `action` (e.g.
        "DetachLoadBalancerTargetGroups") the deployer sent moto, in order, from moto's
        recorder (which writes each request down as it arrives, before it is authorised)."""
        key = f"Credential={self.moto.user['access_key_id']}/"
        found = []
        with open(self.record) as f:
            for line in f:
                entry = json.loads(line)
                authorization = {k.lower(): v for k, v in entry["headers"].items()}.get(
                    "authorization", "")
                if key not in authorization:
                    continue
                body = entry.get("body") or ""
                if entry.get("body_encoded"):
                    body = base64.b64decode(body).decode(errors="replace")
                params = {k: v[0] for k, v in urllib.parse.parse_qs(body).items()}
                if params.get("Action") == action:
                    found.append(params)
        return found

    def aws_calls(self, operation=None):
        with self.aws._lock:
            calls = list(self.aws.calls)
        return [c for c in calls if operation is None or c["operation"] == operation]

    # --- knobs -----------------------------------------------------------------------------
    def stop_instance(self, instance_id):
        """EC2 stops the instance: moto reports it ``unused`` (Target.InvalidState) in every
        target group it is registered in, its status checks no longer pass, and a CodeDeploy
        deployment that targets it fails (its agent is gone). Auto Scaling keeps it InService."""
        self.ec2.stop_instances(InstanceIds=[instance_id])

    def start_instance(self, instance_id):
        """The stopped instance runs again: ``healthy`` again where it is registered."""
        self.ec2.start_instances(InstanceIds=[instance_id])

    def terminate_instance(self, instance_id):
        """EC2 terminates the instance (as an interruption or an operator would)."""
        self.ec2.terminate_instances(InstanceIds=[instance_id])


def start_world(policy=None):
    """A started AsgWorld (stopped again if starting it fails)."""
    world = AsgWorld(policy)
    try:
        world.start()
    except BaseException:
        world.stop()
        raise
    return world
