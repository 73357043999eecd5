"""boto3 clients for an environment, from boto3's standard settings.

Endpoint, credentials and retries come from the usual places (`AWS_ENDPOINT_URL`,
profiles, `AWS_RETRY_MODE`...), so pointing a run at a local server needs no flag. A
local environment (`env.endpoint_url`) uses its endpoint unless `AWS_ENDPOINT_URL` says
otherwise. With a custom endpoint S3 is addressed path-style: `bucket.127.0.0.1` does
not resolve.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import boto3
from botocore.config import Config

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_s3 import S3Client

    from environments import Environment


def endpoint_for(env: Environment) -> str | None:
    configured = os.environ.get("AWS_ENDPOINT_URL")
    if configured:
        return configured
    return env.endpoint_url


def s3_client(env: Environment) -> S3Client:
    endpoint = endpoint_for(env)
    config = Config(s3={"addressing_style": "path"}) if endpoint else None
    return boto3.client("s3", region_name=env.region, endpoint_url=endpoint, config=config)


def lambda_client(env: Environment) -> LambdaClient:
    return boto3.client("lambda", region_name=env.region, endpoint_url=endpoint_for(env))
