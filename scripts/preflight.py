"""Checks before building or releasing: each failure one line naming the fix, before any
work that would have found it later (a whole build, then the upload; a lock wait).

- the store: the bucket exists and takes our writes (`Store.check_writable`);
- the credentials: for the environment's account, when it names one (STS
  GetCallerIdentity, which needs no permission);
- the deploy lock: free, for commands that take it and will not wait
  (`release_args.check_lock_free`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from scripts.errors import BadInputError
from scripts.store import Store, check_writable

if TYPE_CHECKING:
    from mypy_boto3_sts import STSClient

    from environments import Environment


def check_account(env: Environment, sts: Callable[[], STSClient]) -> None:
    """The credentials in use belong to the environment's account (when it names one)."""
    if env.account_id is None:
        return
    found = sts().get_caller_identity()
    if found["Account"] != env.account_id:
        raise BadInputError(
            f"the AWS credentials are for account {found['Account']} ({found['Arn']}), "
            f"{env.name} is in account {env.account_id}: switch AWS_PROFILE or assume "
            f"{env.name}'s deploy role"
        )


def check(env: Environment, store: Store, *, sts: Callable[[], STSClient] | None) -> None:
    """The account (when `sts` is given: a local directory store needs no credentials),
    then the store. The lock is checked by the release commands (`release_args`), so the
    build commands never import the release modules."""
    if sts is not None:
        check_account(env, sts)
    check_writable(store)
