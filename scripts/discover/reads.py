"""Read every function under a prefix, with what belongs to it, through the AWS APIs.

Each read goes through `Reader.call`, which sorts a failure three ways: the thing is not
there (ResourceNotFoundException, NoSuchEntity: an answer, "none"), the endpoint does not
implement the operation (a local rehearsal on moto answers 404 without an AWS error code:
said in the output, not fatal), or anything else (access denied, throttled for good): a
gap naming the resource and what could not be read, so nothing is written from a partial
picture.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any, TypeVar

from botocore.exceptions import ClientError

from scripts.discover.callers import api_callers, invoke_grants, rule_targets, url_callers
from scripts.discover.facts import (
    EstateFacts,
    FunctionFacts,
    Gap,
    RoleFacts,
    function_name_of,
    qualifier_of,
)

T = TypeVar("T")
_ABSENT = frozenset({"ResourceNotFoundException", "NoSuchEntity", "NoSuchEntityException"})
# What an endpoint that lacks an operation answers (moto: a bare 404 page).
_UNIMPLEMENTED = frozenset({"404", "NotImplemented", "UnknownOperationException", "InvalidAction"})

Clients = Mapping[str, Any]


class Reader:
    """The clients, and what went wrong so far (gaps, unsupported operations)."""

    def __init__(self, clients: Clients) -> None:
        self.clients = clients
        self.gaps: list[Gap] = []
        self.unsupported: set[str] = set()

    def call(self, resource: str, what: str, read: Callable[..., T], **kwargs: Any) -> T | None:
        """`read(**kwargs)`, or None when the thing is absent or cannot be read (a gap)."""
        try:
            return read(**kwargs)
        except ClientError as err:
            code = str(err.response.get("Error", {}).get("Code", ""))
            operation = getattr(err, "operation_name", what)
            if code in _ABSENT:
                return None
            if code in _UNIMPLEMENTED:
                self.unsupported.add(f"{operation} (read as none: the endpoint lacks it)")
                return None
            self.gaps.append(Gap(resource=resource, attribute=what, reason=f"cannot read: {err}"))
            return None

    def pages(
        self, resource: str, what: str, client: Any, operation: str, key: str, **kwargs: Any
    ) -> list[Any]:
        """Every page of a paginated read, joined ([] when absent or unreadable)."""
        return (
            self.call(resource, what, _pages, client=client, operation=operation, key=key, **kwargs)
            or []
        )


def _pages(*, client: Any, operation: str, key: str, **kwargs: Any) -> list[Any]:
    found: list[Any] = []
    for page in client.get_paginator(operation).paginate(**kwargs):
        found.extend(page.get(key, []))
    return found


def read_estate(clients: Clients, *, prefix: str, region: str) -> EstateFacts:
    """Every function whose name starts with `prefix`, and everything discover reads."""
    reader = Reader(clients)
    lam = clients["lambda"]
    every = reader.pages("lambda", "ListFunctions", lam, "list_functions", "Functions")
    every = every or []
    roles_used: dict[str, list[str]] = {}
    for config in every:
        roles_used.setdefault(str(config.get("Role", "")), []).append(str(config["FunctionName"]))
    names = sorted(str(c["FunctionName"]) for c in every if c["FunctionName"].startswith(prefix))
    targets = rule_targets(reader, set(names))
    mappings = _mappings(reader, set(names))
    callers = api_callers(reader, set(names))
    functions = tuple(
        _function(
            reader,
            name,
            roles_used=roles_used,
            targets=targets.get(name, ()),
            callers=callers.get(name, ()),
            mappings=mappings.get(name, ()),
        )
        for name in names
    )
    read = [f for f in functions if f is not None]
    grants = invoke_grants(read)
    return EstateFacts(
        region=region,
        prefix=prefix,
        functions=tuple(replace(f, callers=(*f.callers, *grants.get(f.name, ()))) for f in read),
        gaps=tuple(reader.gaps),
        unsupported=tuple(sorted(reader.unsupported)),
    )


def _function(
    reader: Reader,
    name: str,
    *,
    roles_used: Mapping[str, list[str]],
    targets: tuple[Any, ...],
    callers: tuple[Any, ...],
    mappings: tuple[Mapping[str, Any], ...],
) -> FunctionFacts | None:
    lam = reader.clients["lambda"]
    where = f"function {name}"
    got = reader.call(where, "GetFunction", lam.get_function, FunctionName=name)
    if got is None:
        return None
    configuration = got["Configuration"]
    concurrency = got.get("Concurrency") or {}
    aliases = (
        reader.pages(where, "aliases", lam, "list_aliases", "Aliases", FunctionName=name) or []
    )
    qualifiers: list[str | None] = [None, *(str(a["Name"]) for a in aliases)]
    versions = (
        reader.pages(
            where, "versions", lam, "list_versions_by_function", "Versions", FunctionName=name
        )
        or []
    )
    return FunctionFacts(
        name=name,
        configuration=configuration,
        tags=dict(got.get("Tags") or {}),
        reserved_concurrency=concurrency.get("ReservedConcurrentExecutions"),
        aliases=tuple(aliases),
        versions=tuple(str(v["Version"]) for v in versions if v["Version"] != "$LATEST"),
        statements=_statements(reader, name, qualifiers),
        mappings=mappings,
        rule_targets=targets,
        log_group=_log_group(reader, name, configuration),
        role=_role(reader, str(configuration.get("Role", "")), roles_used),
        provisioned=tuple(
            reader.pages(
                where,
                "provisioned concurrency",
                lam,
                "list_provisioned_concurrency_configs",
                "ProvisionedConcurrencyConfigs",
                FunctionName=name,
            )
            or ()
        ),
        async_invoke=_async_invoke(reader, name, qualifiers),
        callers=(*callers, *url_callers(reader, name, qualifiers)),
    )


def _statements(
    reader: Reader, name: str, qualifiers: list[str | None]
) -> tuple[tuple[str | None, Mapping[str, Any]], ...]:
    """Every statement of the function's and each alias's resource policy, by qualifier."""
    lam = reader.clients["lambda"]
    seen: dict[tuple[str | None, str], Mapping[str, Any]] = {}
    for qualifier in qualifiers:
        kwargs = {"FunctionName": name, **({"Qualifier": qualifier} if qualifier else {})}
        got = reader.call(
            f"function {name}",
            f"policy ({qualifier or 'unqualified'})",
            lam.get_policy,
            **kwargs,
        )
        if got is None:
            continue
        for statement in json.loads(got["Policy"]).get("Statement", []):
            # The qualifier a statement guards is the one in its Resource.
            owner = qualifier_of(str(statement.get("Resource", "")))
            seen[(owner, str(statement.get("Sid", "")))] = statement
    return tuple(
        (q, s) for (q, _), s in sorted(seen.items(), key=lambda i: (i[0][0] or "", i[0][1]))
    )


def _mappings(reader: Reader, names: set[str]) -> dict[str, tuple[Mapping[str, Any], ...]]:
    """Per function name, its event source mappings (to the function, a version or an
    alias). One listing of the region's mappings, matched by the function in each
    FunctionArn: a listing by function name finds only mappings made with that same
    spelling on some endpoints (moto), and misses those on an alias."""
    lam = reader.clients["lambda"]
    found: dict[str, list[Mapping[str, Any]]] = {}
    every = reader.pages(
        "lambda",
        "ListEventSourceMappings",
        lam,
        "list_event_source_mappings",
        "EventSourceMappings",
    )
    for mapping in sorted(every, key=lambda m: str(m["UUID"])):
        name = function_name_of(str(mapping.get("FunctionArn", "")))
        if name in names:
            found.setdefault(name, []).append(mapping)
    return {k: tuple(v) for k, v in found.items()}


def _log_group(
    reader: Reader, name: str, configuration: Mapping[str, Any]
) -> Mapping[str, Any] | None:
    logs = reader.clients["logs"]
    wanted = (configuration.get("LoggingConfig") or {}).get("LogGroup") or f"/aws/lambda/{name}"
    groups = (
        reader.pages(
            f"function {name}",
            "log group",
            logs,
            "describe_log_groups",
            "logGroups",
            logGroupNamePrefix=wanted,
        )
        or []
    )
    return next((g for g in groups if g.get("logGroupName") == wanted), None)


def _role(reader: Reader, arn: str, roles_used: Mapping[str, list[str]]) -> RoleFacts | None:
    iam = reader.clients["iam"]
    name = arn.rsplit("/", 1)[-1]
    where = f"role {name}"
    got = reader.call(where, "GetRole", iam.get_role, RoleName=name)
    if got is None:
        return None
    role = got["Role"]
    inline: dict[str, str] = {}
    for policy in (
        reader.pages(
            where, "inline policies", iam, "list_role_policies", "PolicyNames", RoleName=name
        )
        or []
    ):
        document = reader.call(
            where,
            f"inline policy {policy}",
            iam.get_role_policy,
            RoleName=name,
            PolicyName=policy,
        )
        if document is not None:
            inline[str(policy)] = _json_text(document["PolicyDocument"])
    attached = (
        reader.pages(
            where,
            "attached policies",
            iam,
            "list_attached_role_policies",
            "AttachedPolicies",
            RoleName=name,
        )
        or []
    )
    return RoleFacts(
        name=name,
        arn=arn,
        path=str(role.get("Path", "/")),
        inline=inline,
        attached=tuple(sorted(str(p["PolicyArn"]) for p in attached)),
        used_by=tuple(sorted(roles_used.get(arn, ()))),
        tags={str(t["Key"]): str(t["Value"]) for t in role.get("Tags", [])},
        assume_role_document=_json_text(role.get("AssumeRolePolicyDocument", {})),
    )


def _json_text(document: Any) -> str:
    """A policy document as compact JSON text: boto3 decodes IAM's URL-encoded JSON into a
    dict, and the configuration keeps documents as text."""
    if isinstance(document, str):
        document = json.loads(document)
    return json.dumps(document, sort_keys=True, separators=(",", ":"))


def _async_invoke(
    reader: Reader, name: str, qualifiers: list[str | None]
) -> Mapping[str, Any] | None:
    lam = reader.clients["lambda"]
    found: Mapping[str, Any] | None = None
    for qualifier in qualifiers:
        kwargs = {"FunctionName": name, **({"Qualifier": qualifier} if qualifier else {})}
        got = reader.call(
            f"function {name}",
            f"async invoke config ({qualifier or 'unqualified'})",
            lam.get_function_event_invoke_config,
            **kwargs,
        )
        if got is not None and qualifier is None:
            found = got
        elif got is not None:
            reader.gaps.append(
                Gap(
                    resource=f"function {name}:{qualifier}",
                    attribute="event invoke config",
                    reason="set on an alias; the configuration says it for the function only",
                )
            )
    return found
