#!/usr/bin/env python3
"""Signs requests with botocore's own SigV4 signers, as a reference for bluegreen's signer.

Usage: botocore_sign.py REQUESTS.jsonl

Each input line is one request:
  {"method": "GET", "url": "https://host/path?query", "headers": [["Name", "value"], ...],
   "body_base64": "...", "service": "codedeploy", "region": "us-east-1",
   "amz_date": "20150830T123600Z", "access_key_id": "...", "secret_access_key": "...",
   "session_token": "..." or null, "s3": false}
For each, one output line (same order):
  {"canonical_request": "...", "string_to_sign": "...", "signature": "<hex>",
   "authorization": "AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=..."}

It runs the same steps as SigV4Auth.add_auth / S3SigV4Auth.add_auth, with the timestamp
taken from the input instead of the clock.
"""
import base64
import json
import sys

import botocore.auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials


def sign(case):
    request = AWSRequest(method=case["method"], url=case["url"],
                         data=base64.b64decode(case["body_base64"]))
    for name, value in case["headers"]:
        request.headers[name] = value  # HTTPHeaders appends: repeated names stay repeated
    credentials = Credentials(case["access_key_id"], case["secret_access_key"],
                              case.get("session_token"))
    signer_class = botocore.auth.S3SigV4Auth if case["s3"] else botocore.auth.SigV4Auth
    signer = signer_class(credentials, case["service"], case["region"])
    request.context["timestamp"] = case["amz_date"]
    signer._modify_request_before_signing(request)
    canonical_request = signer.canonical_request(request)
    string_to_sign = signer.string_to_sign(request, canonical_request)
    signature = signer.signature(string_to_sign, request)
    signer._inject_signature_to_request(request, signature)
    return {"canonical_request": canonical_request, "string_to_sign": string_to_sign,
            "signature": signature, "authorization": request.headers["Authorization"]}


def main():
    with open(sys.argv[1], encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                print(json.dumps(sign(json.loads(line))), flush=True)


if __name__ == "__main__":
    main()
