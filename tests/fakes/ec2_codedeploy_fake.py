"""CodeDeploy with an EC2 (moto) behind it: the CodeDeploy fake (aws_fake.py) resolving a
deployment's targets by tag among the instances running in moto, as the real service does.
Used by the Lambda action's world (tests/lambda/cloud_world.py) and the Auto Scaling world
(tests/asg/asg_world.py)."""
import aws_fake


# The tag filter types of CodeDeploy's targetInstances, as EC2 DescribeInstances filters.
TAG_FILTER_TYPES = {"KEY_AND_VALUE": lambda k, v: {"Name": f"tag:{k}", "Values": [v]},
                    "KEY_ONLY": lambda k, v: {"Name": "tag-key", "Values": [k]},
                    "VALUE_ONLY": lambda k, v: {"Name": "tag-value", "Values": [v]}}
# What CodeDeploy says when a deployment's tag filters match no running instance.
NO_INSTANCES = {"code": "NO_INSTANCES", "message": (
    "The deployment failed because no instances were found for your deployment group. Check "
    "your deployment group settings to make sure the tags for your Amazon EC2 instances or Auto "
    "Scaling groups correctly identify the instances you want to deploy to, and then try again.")}
# What this fake says when a target stopped running while its deployment ran (its agent went
# with it). Real CodeDeploy may only notice at the lifecycle event's timeout; the fake at once.
TARGET_LOST = {"code": "HEALTH_CONSTRAINTS", "message": (
    "The overall deployment failed because too many individual instances failed deployment, "
    "too few healthy instances are available for deployment, or some instances in your "
    "deployment group are experiencing problems.")}
TARGET_LOST_EVENT = "BeforeInstall"  # the first event the fake has not done while InProgress


class OneActiveDeploymentAwsFake(aws_fake.AwsFake):
    """CodeDeploy with an EC2 (moto) behind it.

    * One deployment per deployment group at a time (DeploymentLimitExceededException).
    * CreateDeployment targets what CodeDeploy would: the instances running in EC2 now that
      carry one of its ``targetInstances.tagFilters`` (looked up in moto with ``ec2``, a client
      that may describe every instance). When none does, the deployment fails (NO_INSTANCES).
    * A target that stops running (terminated, shutting down, stopped) while its deployment
      is not over fails the deployment: its agent stops answering, so its lifecycle event
      ``BeforeInstall`` fails (error code AgentLost) and the rest of the fleet is left as it
      is. A script with ``"lost_target": "finished"`` says the lost target had finished its
      part before it went (CodeDeployDefault.OneAtATime deploys one instance after the
      other): the deployment goes on as scripted.

    ``after_create``, when set, is called once a deployment is created, before the answer goes
    out (with the fake's lock held)."""

    after_create = None
    ec2 = None  # a boto3 EC2 client that may describe every instance, set by the world

    def codedeploy_CreateDeployment(self, body):
        for deployment in self.deployments.values():
            request = deployment["request"]
            if (request["applicationName"], request["deploymentGroupName"]) == \
                    (body.get("applicationName"), body.get("deploymentGroupName")) and \
                    self._status(deployment) not in ("Succeeded", "Failed", "Stopped"):
                raise aws_fake.AwsFailure(
                    400, "DeploymentLimitExceededException",
                    f"The Deployment Group '{body.get('deploymentGroupName')}' already has an "
                    f"active Deployment '{deployment['id']}'")
        answer = super().codedeploy_CreateDeployment(body)
        deployment = self.deployments[answer["deploymentId"]]
        if not deployment["targets"]:
            self._end_failed(deployment, NO_INSTANCES)
        if self.after_create:
            self.after_create()
        return answer

    def _targets_of(self, body):
        filters = body.get("targetInstances", {}).get("tagFilters", [])
        targets = []
        for tag in filters:
            make = TAG_FILTER_TYPES.get(tag.get("Type"), TAG_FILTER_TYPES["KEY_AND_VALUE"])
            reservations = self.ec2.describe_instances(Filters=[
                make(tag.get("Key"), tag.get("Value")),
                {"Name": "instance-state-name", "Values": ["running"]}])["Reservations"]
            targets += [i["InstanceId"] for r in reservations for i in r["Instances"]
                        if i["InstanceId"] not in targets]
        return sorted(targets)

    def _end_failed(self, deployment, error_information, script=None):
        """Ends `deployment` Failed from its next read on, with CodeDeploy's errorInformation."""
        deployment["script"] = dict(script or deployment["script"], outcome="fail")
        deployment["script"].pop("seconds", None)
        deployment["steps"], deployment["step"] = ["Failed"], 0
        deployment["error_information"] = error_information

    def _notice_lost_targets(self, deployment):
        if deployment["stopped"] or deployment.get("error_information") or \
                deployment["script"].get("lost_target") == "finished" or \
                self._status(deployment) in ("Succeeded", "Failed", "Stopped"):
            return
        reservations = self.ec2.describe_instances(Filters=[
            {"Name": "instance-id", "Values": deployment["targets"]}])["Reservations"]
        lost = sorted(i["InstanceId"] for r in reservations for i in r["Instances"]
                      if i["State"]["Name"] not in ("pending", "running"))
        if lost:
            self._end_failed(deployment, TARGET_LOST, dict(
                deployment["script"], failing_target=lost[0], failing_event=TARGET_LOST_EVENT,
                error_code="AgentLost", script="",
                message=f"The CodeDeploy agent on {lost[0]} stopped answering: the instance is "
                        "no longer running", log_tail=""))

    def codedeploy_GetDeployment(self, body):
        deployment = self._deployment(body["deploymentId"])
        self._notice_lost_targets(deployment)
        answer = super().codedeploy_GetDeployment(body)
        info = answer["deploymentInfo"]
        if deployment.get("error_information") and info["status"] == "Failed":
            info["errorInformation"] = dict(deployment["error_information"])
        return answer

    def codedeploy_BatchGetDeploymentTargets(self, body):
        self._notice_lost_targets(self._deployment(body["deploymentId"]))
        return super().codedeploy_BatchGetDeploymentTargets(body)
