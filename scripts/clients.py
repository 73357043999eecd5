"""boto3 clients for an environment, from boto3's standard settings, and botocore's errors.

Endpoint, credentials and retries come from the usual places (`AWS_ENDPOINT_URL`,
profiles, `AWS_RETRY_MODE`...), so pointing a run at a local server needs no flag. A
local environment (`env.endpoint_url`) uses its endpoint unless `AWS_ENDPOINT_URL` says
otherwise. With a custom endpoint S3 is addressed path-style: `bucket.127.0.0.1` does
not resolve.

boto3 and botocore are imported here on first use, not at module level: importing them
costs ~0.65 s, more than everything else a cache hit on a local store does. Modules that
always talk to AWS (deploy, rollback, prune, pipeline) import botocore directly; the ones
a local build runs (store, cli) resolve its errors through here. Code that catches a
botocore error has made a client call first (the only way such an error arises), so by
then botocore is loaded and resolving the class costs a dictionary lookup.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from botocore.exceptions import ClientError
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_s3 import S3Client

    from environments import Environment


def endpoint_for(env: Environment) -> str | None:
    configured = os.environ.get("AWS_ENDPOINT_URL")
    if configured:
        return configured
    return env.endpoint_url


def s3_client(env: Environment) -> S3Client:
    import boto3
    from botocore.config import Config

    endpoint = endpoint_for(env)
    config = Config(s3={"addressing_style": "path"}) if endpoint else None
    return boto3.client("s3", region_name=env.region, endpoint_url=endpoint, config=config)


def lambda_client(
    env: Environment, *, read_timeout: float = 60.0, connect_timeout: float = 10.0
) -> LambdaClient:
    import boto3
    from botocore.config import Config

    # Retries (mode, attempts) stay boto3's standard settings (AWS_RETRY_MODE, ...).
    config = Config(read_timeout=read_timeout, connect_timeout=connect_timeout)
    return boto3.client(
        "lambda", region_name=env.region, endpoint_url=endpoint_for(env), config=config
    )


def cloudwatch_client(env: Environment) -> CloudWatchClient:
    import boto3

    return boto3.client("cloudwatch", region_name=env.region, endpoint_url=endpoint_for(env))


def client_error() -> type[ClientError]:
    """botocore's `ClientError`, for `except client_error() as err:` after a client call."""
    from botocore.exceptions import ClientError

    return ClientError


def raised_aws_errors() -> tuple[type[Exception], ...]:
    """botocore's error bases for a catch-all, without importing botocore.

    Empty when botocore was never imported: then none of its errors can be in flight, and
    `except ()` matches nothing.
    """
    module = sys.modules.get("botocore.exceptions")
    if module is None:
        return ()
    return (module.ClientError, module.BotoCoreError)
