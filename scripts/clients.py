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

import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from scripts import settings

if TYPE_CHECKING:
    from botocore.config import Config
    from botocore.exceptions import ClientError
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_iam import IAMClient
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sts import STSClient

    from environments import Environment


def endpoint_for(env: Environment) -> str | None:
    return settings.AWS_ENDPOINT_URL.read() or env.endpoint_url


# moto accepts any credentials. A local environment gets these when none are configured,
# so a command against the sandbox (`local up`) needs no set-up; they are never used for an
# environment without a local endpoint, so they cannot reach AWS.
_LOCAL_KEY = "test"


def _client(service: str, env: Environment, config: Config | None = None) -> Any:
    """boto3's client for `service`; a local environment without credentials gets moto's."""
    import boto3

    local = env.is_local and not settings.aws_credentials_configured()
    return boto3.client(  # type: ignore[call-overload]
        service,
        region_name=env.region,
        endpoint_url=endpoint_for(env),
        config=config,
        aws_access_key_id=_LOCAL_KEY if local else None,
        aws_secret_access_key=_LOCAL_KEY if local else None,
    )


def s3_client(env: Environment) -> S3Client:
    from botocore.config import Config

    config = Config(s3={"addressing_style": "path"}) if endpoint_for(env) else None
    client: S3Client = _client("s3", env, config)
    return client


def lambda_client(
    env: Environment, *, read_timeout: float = 60.0, connect_timeout: float = 10.0
) -> LambdaClient:
    from botocore.config import Config

    # Retries (mode, attempts) stay boto3's standard settings (AWS_RETRY_MODE, ...).
    config = Config(read_timeout=read_timeout, connect_timeout=connect_timeout)
    client: LambdaClient = _client("lambda", env, config)
    return client


def invoke_client(env: Environment, *, read_timeout: float) -> LambdaClient:
    """For hooks and smoke checks: one attempt (a retried invocation runs a migration
    twice) and a read timeout that outlasts the function's own timeout."""
    import boto3
    from botocore.config import Config

    config = Config(read_timeout=read_timeout, retries={"total_max_attempts": 1})
    return boto3.client(
        "lambda", region_name=env.region, endpoint_url=endpoint_for(env), config=config
    )


def sts_client(env: Environment) -> STSClient:
    client: STSClient = _client("sts", env)
    return client


def logs_client(env: Environment) -> Any:
    """CloudWatch Logs (typed Any: the project installs no stubs for it)."""
    import boto3

    return boto3.client("logs", region_name=env.region, endpoint_url=endpoint_for(env))


def cloudwatch_client(env: Environment) -> CloudWatchClient:
    client: CloudWatchClient = _client("cloudwatch", env)
    return client


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


_CREDENTIALS_FIX = (
    "set AWS_PROFILE (after `aws sso login`), or run where a role is assumed (CI's OIDC "
    "role); for a local moto server set AWS_ENDPOINT_URL=http://127.0.0.1:5000 with any "
    "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
)


def explain_aws_error(err: Exception, environ: Mapping[str, str] | None = None) -> tuple[str, int]:
    """One line naming the fix for an AWS error that escaped a command, and its exit code:
    2 when the setup is wrong (credentials, endpoint), 1 otherwise."""
    name = type(err).__name__
    endpoint = settings.AWS_ENDPOINT_URL.read(environ)
    if name in {"NoCredentialsError", "PartialCredentialsError", "NoAuthTokenError"}:
        return f"no AWS credentials: {_CREDENTIALS_FIX}", 2
    if name in {"EndpointConnectionError", "ConnectTimeoutError"}:
        where = f"AWS_ENDPOINT_URL={endpoint}" if endpoint else "the AWS endpoint"
        return (
            f"cannot reach {where} ({err}): check the network"
            + (
                ", or start the local server (moto) first"
                if endpoint
                else " and AWS_DEFAULT_REGION"
            ),
            2,
        )
    if name in {"ProfileNotFound", "SSOTokenLoadError", "UnauthorizedSSOTokenError"}:
        return f"{err}: check AWS_PROFILE, then run `aws sso login`", 2
    code = ""
    response = getattr(err, "response", None)
    if isinstance(response, dict):
        code = str(response.get("Error", {}).get("Code", ""))
    if code in {"ExpiredToken", "ExpiredTokenException", "RequestExpired"}:
        return f"AWS credentials expired ({code}): refresh them (`aws sso login`) and re-run", 2
    if code in {"InvalidClientTokenId", "UnrecognizedClientException", "SignatureDoesNotMatch"}:
        return f"AWS rejected the credentials ({code}): {_CREDENTIALS_FIX}", 2
    if code in {"AccessDenied", "AccessDeniedException"}:
        return (
            f"access denied ({err}): the role in use lacks this permission; the deployer "
            "policy the stack creates grants what deploy, rollback and prune need",
            1,
        )
    return f"AWS call failed: {err}", 1


def iam_client(env: Environment) -> IAMClient:
    client: IAMClient = _client("iam", env)
    return client


def configured_endpoint() -> str | None:
    """`AWS_ENDPOINT_URL`, when a run talks to another endpoint than AWS (a moto rehearsal)."""
    return settings.AWS_ENDPOINT_URL.read() or None


# What discover reads: Lambda and what invokes it or belongs to it.
DISCOVERY_SERVICES = ("lambda", "iam", "logs", "events", "apigateway", "apigatewayv2")


def discovery_clients(region: str | None) -> dict[str, Any]:
    """One client per service discover reads, at `region` (None: boto3's own default)."""
    import boto3

    session = boto3.session.Session(region_name=region)
    if session.region_name is None:
        from scripts.errors import BadInputError

        raise BadInputError("no AWS region: pass --region or set AWS_DEFAULT_REGION")
    endpoint = configured_endpoint()
    return {
        service: session.client(service, endpoint_url=endpoint)  # type: ignore[call-overload]
        for service in DISCOVERY_SERVICES
    }


def service_clients(env: Environment, services: tuple[str, ...]) -> dict[str, Any]:
    """One client per service at the environment's region and endpoint."""
    return {service: _client(service, env) for service in services}
