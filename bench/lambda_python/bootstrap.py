#!/usr/bin/env python3
"""The Python 3 side of the Lambda comparison in bench/run: a custom-runtime function with the
imports of the Python function bluegreen replaces (boto3 and requests) and the same Runtime API
loop as bluegreen's bootstrap (GET next, handle, POST response or error).

Its handler makes one call of each kind the Elastigroup flow makes (SSM for the Spot token, EC2,
the Spot REST API through requests, CodeDeploy, and the CodePipeline job result), through the
endpoints the bench's fakes provide in the environment. It is a lower bound of the original
function's work and memory: it polls nothing and keeps no state.
"""
import json
import os
import urllib.request

import boto3
import requests

API = f"http://{os.environ['AWS_LAMBDA_RUNTIME_API']}/2018-06-01/runtime"
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def client(service, variable):
    return boto3.client(service, region_name=os.environ.get("AWS_REGION"),
                        endpoint_url=os.environ.get(variable))


def handle(event):
    job = event["CodePipeline.job"]
    params = json.loads(job["data"]["actionConfiguration"]["configuration"]["UserParameters"])
    seen = {}
    try:
        token = client("ssm", "AWS_ENDPOINT_URL_SSM").get_parameter(
            Name="/spot/api-token", WithDecryption=True)["Parameter"]["Value"]
    except Exception as error:  # the comparison needs the call made, not its answer
        token, seen["ssm"] = params.get("API_TOKEN", ""), type(error).__name__
    try:
        client("ec2", "AWS_ENDPOINT_URL_EC2").describe_instances(MaxResults=5)
    except Exception as error:
        seen["ec2"] = type(error).__name__
    answer = requests.get(f"{os.environ['SPOT_API_URL']}/aws/ec2/group/{params['GROUP_ID']}",
                          params={"accountId": params.get("ACCOUNT_ID", "")},
                          headers={"Authorization": f"Bearer {token}"}, timeout=10)
    seen["spot"] = answer.status_code
    try:
        client("codedeploy", "AWS_ENDPOINT_URL_CODEDEPLOY").get_deployment_group(
            applicationName=params["APP_NAME"], deploymentGroupName=params["DEPLOYMENT_GROUP"])
    except Exception as error:
        seen["codedeploy"] = type(error).__name__
    client("codepipeline", "AWS_ENDPOINT_URL_CODEPIPELINE").put_job_success_result(
        jobId=job["id"])
    return {"seen": seen}


def main():
    while True:
        with _opener.open(f"{API}/invocation/next") as answer:
            request_id = answer.headers["Lambda-Runtime-Aws-Request-Id"]
            event = json.loads(answer.read())
        try:
            body, path = json.dumps(handle(event)).encode(), f"{API}/invocation/{request_id}/response"
        except Exception as error:
            body = json.dumps({"errorType": type(error).__name__, "errorMessage": str(error)}).encode()
            path = f"{API}/invocation/{request_id}/error"
        _opener.open(urllib.request.Request(path, data=body, method="POST")).read()


if __name__ == "__main__":
    main()
