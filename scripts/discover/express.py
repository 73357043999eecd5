"""The estate's facts as one `Environment`: what adopting it takes, with no change.

Estate-wide choices, each from what AWS holds:
- names: `--prefix P-ENV-` makes `name_prefix` P and each function's short name the rest;
  any other prefix keeps each function's real name (`function_name`).
- the alias: the one alias name the functions carry (a second name is a gap); a function
  that has it adopts it.
- the deps layer: a layer named `<name_prefix>-<env>-deps`, or any `*-deps` layer (its name
  goes to `foreign_deps_layers`). A zip function with it is `package = "shared"`; one
  without it is `"own"` when others have it, and `"shared"` when none does (an estate of
  fat packages before the migration: every function moves onto the layer).
- runtime, architecture, log retention: the most common value; a function that differs
  in runtime or architecture is a gap (the model says them per environment), in
  retention an override.
- tags: those every function has in common become the environment's.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace

from environments.adoption import Adopt
from environments.function import FunctionConfig
from environments.model import Environment, StateBackend, UnmanagedFunction
from scripts.callers import bypassing
from scripts.discover import express_function as fx
from scripts.discover.facts import EstateFacts, FunctionFacts, Gap

# The placeholders a remote state needs: the file names them, a person fills them in.
STATE_BUCKET_PLACEHOLDER = "fill-in-terraform-state-bucket"


@dataclass(frozen=True, kw_only=True)
class Discovered:
    env: Environment | None
    gaps: tuple[Gap, ...]
    notes: tuple[str, ...]
    # Per function: the callers that invoke the unqualified function (bypass the alias).
    bypass: dict[str, list[str]]


def _common(values: Sequence[str], default: str) -> str:
    return Counter(values).most_common(1)[0][0] if values else default


def _short(name: str, prefix: str) -> str:
    return name.removeprefix(prefix).strip("-_").lower().replace("_", "-") or name.lower()


def _layers(facts: FunctionFacts) -> list[tuple[str, str]]:
    """(layer name, version ARN) of every layer on the function."""
    arns = [str(layer["Arn"]) for layer in facts.configuration.get("Layers") or []]
    return [(arn.split(":")[6], arn) for arn in arns]


def _is_deps(name: str, own: str) -> bool:
    return name == own or name.endswith("-deps")


@dataclass(frozen=True, kw_only=True)
class _Estate:
    """The estate-wide choices (module docstring) every function is expressed against."""

    env_name: str
    prefix: str
    name_prefix: str
    alias: str
    runtime: str
    architecture: str
    retention: int
    tags: dict[str, str]
    # Functions carrying the deps layer (any name): `shared`; empty: every one is.
    with_deps: frozenset[str]

    @property
    def own_layer(self) -> str:
        return f"{self.name_prefix}-{self.env_name}-deps"


def _estate(
    estate: EstateFacts, zips: list[FunctionFacts], env_name: str, alias: str | None
) -> tuple[_Estate, list[Gap]]:
    marker = f"-{env_name}-"
    name_prefix = estate.prefix[: -len(marker)] if estate.prefix.endswith(marker) else "bluemoxon"
    names = sorted({str(a["Name"]) for f in zips for a in f.aliases})
    chosen = alias or (names[0] if names else "live")
    gaps = [
        Gap(
            resource=f"alias {extra}",
            attribute="name",
            reason=f"a second alias name besides {chosen!r}: one per environment (--alias picks)",
        )
        for extra in names
        if extra != chosen
    ]
    retention = Counter(
        int(f.log_group.get("retentionInDays") or 0) for f in zips if f.log_group is not None
    )
    tags = dict(zips[0].tags) if zips else {}
    for f in zips[1:]:
        tags = {k: v for k, v in tags.items() if f.tags.get(k) == v}
    own = f"{name_prefix}-{env_name}-deps"
    found = _Estate(
        env_name=env_name,
        prefix=estate.prefix,
        name_prefix=name_prefix,
        alias=chosen,
        runtime=_common([str(f.configuration.get("Runtime")) for f in zips], "python3.12"),
        architecture=_common([_arch(f) for f in zips], "x86_64"),
        retention=retention.most_common(1)[0][0] if retention else 30,
        tags=tags,
        with_deps=frozenset(f.name for f in zips if any(_is_deps(n, own) for n, _ in _layers(f))),
    )
    return found, gaps


def _arch(facts: FunctionFacts) -> str:
    return str((facts.configuration.get("Architectures") or ["x86_64"])[0])


def _function(facts: FunctionFacts, e: _Estate, out: fx.Expressed) -> FunctionConfig:
    config = facts.configuration
    where = f"function {facts.name}"
    for key, value, wanted in (
        ("Runtime", config.get("Runtime"), e.runtime),
        ("Architectures", _arch(facts), e.architecture),
    ):
        if value != wanted:
            out.gap(where, key, f"{value}; the environment's is {wanted} (one per environment)")
    fx.unexpressible(facts, out)
    role, created = fx.role_of(facts, out)
    for alias in facts.aliases:
        if alias["Name"] == e.alias and (alias.get("RoutingConfig") or {}).get(
            "AdditionalVersionWeights"
        ):
            out.gap(f"alias {facts.name}:{e.alias}", "RoutingConfig", "weighted: finish it first")
    short = _short(facts.name, e.prefix)
    default_group = f"/aws/lambda/{facts.name}"
    group = str((facts.log_group or {}).get("logGroupName", default_group))
    days = int((facts.log_group or {}).get("retentionInDays") or 0)
    storage = int((config.get("EphemeralStorage") or {}).get("Size", 512))
    layers = _layers(facts)
    return FunctionConfig(
        name=short,
        function_name="" if facts.name == f"{e.name_prefix}-{e.env_name}-{short}" else facts.name,
        handler=str(config.get("Handler", "")),
        description=str(config.get("Description") or ""),
        memory_mb=int(config.get("MemorySize", 128)),
        timeout_s=int(config.get("Timeout", 3)),
        environment=dict((config.get("Environment") or {}).get("Variables") or {}),
        extra_layers=tuple(arn for n, arn in layers if not _is_deps(n, e.own_layer)),
        role=role,
        vpc=fx.vpc_of(config),
        tracing=str((config.get("TracingConfig") or {}).get("Mode", "PassThrough")),
        reserved_concurrency=facts.reserved_concurrency,
        ephemeral_storage_mb=storage if storage != 512 else None,
        dead_letter_target_arn=(config.get("DeadLetterConfig") or {}).get("TargetArn"),
        tags={k: v for k, v in facts.tags.items() if k not in e.tags},
        log_retention_days=(
            days if facts.log_group and group == default_group and days != e.retention else None
        ),
        existing_log_group=group if group != default_group else None,
        triggers=(
            *fx.sqs_triggers(facts, e.alias, out),
            *fx.schedule_triggers(facts, e.alias, out),
            *fx.permissions(facts, e.alias, out),
        ),
        adopt=Adopt(
            log_group=facts.log_group is not None and group == default_group,
            role=created,
            alias=any(a["Name"] == e.alias for a in facts.aliases),
        ),
        package="shared" if facts.name in e.with_deps or not e.with_deps else "own",
        provisioned_concurrency=fx.provisioned(facts, e.alias, out),
        async_invoke=fx.async_invoke(facts),
        external_callers=fx.external_callers(facts, e.alias, out),
    )


def express(
    estate: EstateFacts,
    *,
    env_name: str,
    state: str,
    endpoint: str | None,
    alias: str | None = None,
) -> Discovered:
    """The environment that adopts `estate` unchanged, or every gap that prevents it."""
    notes = [f"not read at this endpoint: {u}" for u in estate.unsupported]
    zips = [f for f in estate.functions if f.package_type == "Zip"]
    e, gaps = _estate(estate, zips, env_name, alias)
    gaps = [*estate.gaps, *gaps]
    if endpoint is None:
        # Against AWS itself an unanswered read is not a rehearsal's missing feature.
        gaps += [Gap(resource="aws", attribute=u, reason="unread") for u in estate.unsupported]
    functions, bypass, foreign = [], {}, set()
    for facts in zips:
        out = fx.Expressed()
        foreign |= {n for n, _ in _layers(facts) if _is_deps(n, e.own_layer) and n != e.own_layer}
        try:
            function = _function(facts, e, out)
            functions.append(function)
            bypass[facts.name] = [c.line() for c in bypassing(function)]
        except ValueError as err:
            out.gap(f"function {facts.name}", "configuration", str(err))
        gaps += out.gaps
        notes += out.notes
    if gaps:
        return Discovered(env=None, gaps=tuple(gaps), notes=tuple(notes), bypass=bypass)
    try:
        env = Environment(
            name=env_name,
            region=estate.region,
            name_prefix=e.name_prefix,
            runtime=e.runtime,
            architecture=e.architecture,
            functions=tuple(functions),
            alias_name=e.alias,
            adopt=True,
            tags=e.tags,
            log_retention_days=e.retention,
            state_backend=None if state == "local" else _placeholder_backend(env_name, estate),
            endpoint_url=endpoint,
            unmanaged_functions=tuple(
                UnmanagedFunction(name=f.name, reason=f"{f.package_type} package: left alone")
                for f in estate.functions
                if f.package_type != "Zip"
            ),
            foreign_deps_layers=tuple(sorted(foreign)),
        )
    except ValueError as err:
        gap = Gap(resource=f"environment {env_name}", attribute="configuration", reason=str(err))
        return Discovered(env=None, gaps=(gap,), notes=tuple(notes), bypass=bypass)
    if endpoint:
        # The local rehearsal's provider mirror holds hashicorp/aws 5.100.
        env = replace(env, provider_version="~> 5.100")
    return Discovered(env=env, gaps=(), notes=tuple(notes), bypass=bypass)


def _placeholder_backend(env_name: str, estate: EstateFacts) -> StateBackend:
    return StateBackend(
        bucket=STATE_BUCKET_PLACEHOLDER,
        key=f"lambda-layers/{env_name}.tfstate",
        region=estate.region,
    )
